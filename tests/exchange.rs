//! `examples/network_exchange`: a throttled socket between two fast tasks is reported as an
//! exchange bottleneck naming both tasks.

mod support;

use bpprof_analysis::{BottleneckKind, Level};
use support::run_and_locate;

#[test]
fn throttled_socket_is_an_exchange_bottleneck() {
    let located = run_and_locate("network_exchange", 3.0, 250).located;
    let report = &located.report;
    let [bottleneck] = report.bottlenecks.as_slice() else {
        panic!("expected one bottleneck:\n{}", located.text);
    };
    assert_eq!(
        bottleneck.kind,
        BottleneckKind::Exchange,
        "{}",
        located.text
    );
    assert_eq!(bottleneck.task, "Producer", "{}", located.text);
    assert_eq!(
        bottleneck.downstream.as_deref(),
        Some("Consumer"),
        "{}",
        located.text
    );
    assert!(
        matches!(located.task("Producer").level, Some(Level::High)),
        "{}",
        located.text
    );
    assert_eq!(located.task("Consumer").level, Some(Level::Ok));
    assert!(
        located.task("Consumer").idle.is_some_and(|i| i >= 0.5),
        "{}",
        located.text
    );
    let first = located.text.lines().next().unwrap_or_default();
    assert!(
        first.starts_with("The exchange Producer -> Consumer is the bottleneck"),
        "{}",
        located.text
    );
}
