//! Instrumented links: a write is backpressure, a read is idle time, both ends are recorded as
//! the endpoints of one channel, and the fill level is the one the user reports.

mod common;

use std::thread;
use std::time::Duration;

use bpprof_format::EndpointRole;

#[test]
fn writes_and_reads_are_accounted_and_recorded_as_one_channel() {
    let _lock = common::recorder_lock();
    let rec = common::start("link");
    let link = bpprof::link("Writer->Reader", 8);
    assert_eq!((link.name(), link.capacity()), ("Writer->Reader", 8));
    let writer = {
        let link = link.clone();
        thread::spawn(move || {
            let _subtask = bpprof::register("Writer", 0, 1);
            for _ in 0..5 {
                let n = link.write(|| {
                    assert_eq!(bpprof::current_state(), Some(bpprof::State::Backpressured));
                    thread::sleep(Duration::from_millis(40));
                    7
                });
                assert_eq!(n, 7);
            }
            link.set_fill(Some(8));
            thread::sleep(Duration::from_millis(250));
        })
    };
    let reader = {
        let link = link.clone();
        thread::spawn(move || {
            let _subtask = bpprof::register("Reader", 0, 1);
            for _ in 0..4 {
                link.read(|| {
                    assert_eq!(bpprof::current_state(), Some(bpprof::State::Idle));
                    thread::sleep(Duration::from_millis(50));
                });
            }
        })
    };
    writer.join().unwrap();
    reader.join().unwrap();
    drop(link);
    let recording = rec.finish();

    let channels: Vec<_> = recording
        .intervals
        .iter()
        .flat_map(|i| &i.declared_channels)
        .collect();
    assert_eq!(channels.len(), 1, "{channels:?}");
    assert_eq!(
        (channels[0].name.as_str(), channels[0].capacity),
        ("Writer->Reader", 8)
    );
    let ends: Vec<EndpointRole> = recording
        .intervals
        .iter()
        .flat_map(|i| i.endpoints.iter().map(|e| e.role))
        .collect();
    assert!(ends.contains(&EndpointRole::Sender) && ends.contains(&EndpointRole::Receiver));

    let task_of = |id: u32| {
        common::declarations(&recording)
            .into_iter()
            .find(|d| d.id == id)
            .map(|d| d.task)
    };
    let (mut backpressured, mut idle, mut out, mut into) = (0, 0, 0, 0);
    for s in recording.intervals.iter().flat_map(|i| &i.subtasks) {
        match task_of(s.id).as_deref() {
            Some("Writer") => {
                backpressured += s.backpressured_ns;
                out += s.records_out;
            }
            Some("Reader") => {
                idle += s.idle_ns;
                into += s.records_in;
            }
            _ => {}
        }
    }
    assert_eq!((out, into), (5, 4));
    assert!(
        backpressured >= 190_000_000,
        "{backpressured} ns backpressured"
    );
    assert!(idle >= 190_000_000, "{idle} ns idle");

    let c = recording.intervals.iter().flat_map(|i| &i.channels);
    let (sends, recvs) = c.fold((0, 0), |(s, r), c| {
        (s + c.blocked_sends, r + c.blocked_recvs)
    });
    assert_eq!((sends, recvs), (5, 4));
    let max_fill = recording
        .intervals
        .iter()
        .flat_map(|i| &i.channels)
        .map(|c| c.max_fill)
        .max();
    assert_eq!(max_fill, Some(8), "the reported fill is sampled");
}

#[test]
fn a_link_outside_a_subtask_runs_its_closures() {
    // Not while the other test records: its recording would declare this link too.
    let _lock = common::recorder_lock();
    let link = bpprof::link("", 0);
    assert_eq!(link.capacity(), 1);
    assert_eq!(link.write(|| 1) + link.read(|| 2), 3);
    link.set_fill(None);
}
