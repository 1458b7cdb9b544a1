//! The sentences that explain a bottleneck, rendered from its structured evidence.

use crate::report::{Bottleneck, TaskReport};
use crate::verdict::pct;

/// "SourceB is the bottleneck: Join waits for its records 61% of the time while SourceA is
/// backpressured 65% on its other input; SourceB is busy 92%".
pub(crate) fn slowest_input(
    b: &Bottleneck,
    task: &TaskReport,
    waiting: &TaskReport,
    pressure: f64,
) -> String {
    let waited = b
        .evidence
        .iter()
        .find(|e| e.metric == "downstream_blocked")
        .map_or(0.0, |e| e.value);
    let blocked = b.edge.as_ref().map_or("", |e| e.from.as_str());
    format!(
        "{} is the bottleneck: busy {} while {} waits for its records {} of the time and {} is backpressured {} on {}'s other input: {} is held back by its slowest input",
        task.name,
        pct(task.busy.unwrap_or(0.0)),
        waiting.name,
        pct(waited),
        blocked,
        pct(pressure),
        waiting.name,
        waiting.name,
    )
}

/// "The exchange Producer -> Consumer is the bottleneck: ...".
pub(crate) fn exchange(
    _b: &Bottleneck,
    up: &TaskReport,
    down: &TaskReport,
    pressure: f64,
    waited: f64,
) -> String {
    format!(
        "The exchange {} -> {} is the bottleneck: {} is blocked writing into the link {} of the time while {} waits reading from it {}: the link between them (network, serialisation) is too slow",
        up.name,
        down.name,
        up.name,
        pct(pressure),
        down.name,
        pct(waited),
    )
}
