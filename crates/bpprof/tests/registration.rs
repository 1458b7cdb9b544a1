//! Registering threads as subtasks: plain, scoped and pool threads, re-registration, the guard,
//! unregistered threads, channel endpoints and short-lived subtasks, as seen in a recording.

mod common;

use std::thread;
use std::time::Duration;

use bpprof_format::{ChannelEndpoint, EndpointRole};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn guard_name_is_task_hash_index_and_tid_is_the_kernel_tid() {
    thread::spawn(|| {
        let guard = bpprof::register("Name.Check", 3, 8);
        assert_eq!(guard.name(), "Name.Check#3");
        // SAFETY: gettid has no preconditions.
        let tid = unsafe { libc::gettid() } as u32;
        assert_eq!(guard.tid(), tid);
        assert_eq!(bpprof::current_state(), Some(bpprof::State::Busy));
        drop(guard);
        assert_eq!(bpprof::current_state(), None);
    })
    .join()
    .unwrap();
}

#[test]
fn std_and_scoped_threads_register_as_separate_subtasks() {
    let _lock = common::recorder_lock();
    let rec = common::start("threads");
    let spawned: Vec<_> = (0..3)
        .map(|i| {
            thread::spawn(move || {
                let guard = bpprof::register("Spawned", i, 3);
                thread::sleep(ms(30));
                guard.tid()
            })
        })
        .collect();
    let spawned_tids: Vec<u32> = spawned.into_iter().map(|h| h.join().unwrap()).collect();
    let scoped_tids: Vec<u32> = thread::scope(|s| {
        let handles: Vec<_> = (0..2)
            .map(|i| {
                s.spawn(move || {
                    let guard = bpprof::register("Scoped", i, 2);
                    thread::sleep(ms(30));
                    guard.tid()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let recording = rec.finish();

    for (task, tids, parallelism) in [("Spawned", &spawned_tids, 3), ("Scoped", &scoped_tids, 2)] {
        let mut decls = common::declarations_of(&recording, task);
        decls.sort_by_key(|d| d.index);
        assert_eq!(decls.len(), tids.len(), "{task}: {decls:?}");
        for (i, decl) in decls.iter().enumerate() {
            assert_eq!(decl.index, i as u32);
            assert_eq!(decl.parallelism, parallelism);
            assert_eq!(decl.tid, tids[i], "{task}#{i} tid");
            common::assert_lifecycle(&recording, decl.id);
            let total = common::total_of(&recording, decl.id);
            assert!(total.wall_ns >= 30_000_000, "{task}#{i}: {total:?}");
        }
    }
    let mut ids: Vec<u32> = common::declarations(&recording)
        .iter()
        .map(|d| d.id)
        .collect();
    let n = ids.len();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), n, "subtask ids are unique");
}

#[test]
fn a_pool_thread_registers_again_as_another_subtask() {
    let _lock = common::recorder_lock();
    let rec = common::start("pool");
    let tid = thread::spawn(|| {
        let a = bpprof::register("PoolA", 0, 1);
        thread::sleep(ms(20));
        let tid = a.tid();
        drop(a);
        assert_eq!(bpprof::current_state(), None);
        let b = bpprof::register("PoolB", 1, 2);
        assert_eq!(b.name(), "PoolB#1");
        thread::sleep(ms(20));
        assert_eq!(b.tid(), tid);
        tid
    })
    .join()
    .unwrap();
    let recording = rec.finish();
    let a = common::only_declaration(&recording, "PoolA");
    let b = common::only_declaration(&recording, "PoolB");
    assert_ne!(a.id, b.id);
    assert_eq!((a.tid, b.tid), (tid, tid));
    assert_eq!((a.index, b.index), (0, 1));
    assert_eq!(b.parallelism, 2);
    assert!(b.registered_ns >= a.registered_ns + 20_000_000);
    common::assert_lifecycle(&recording, a.id);
    common::assert_lifecycle(&recording, b.id);
}

#[test]
fn registering_again_while_registered_ends_the_first_registration() {
    let _lock = common::recorder_lock();
    let rec = common::start("reregister");
    let (tx, rx) = bpprof::bounded::<u32>(4);
    thread::spawn(move || {
        let first = bpprof::register("First", 0, 1);
        tx.send(1).unwrap();
        // The tick after this proves the first registration ended while the second lives on.
        let second = bpprof::register("Second", 0, 1);
        tx.send(2).unwrap();
        thread::sleep(ms(250));
        // Dropping the stale guard must not end the current registration.
        drop(first);
        assert_eq!(bpprof::current_state(), Some(bpprof::State::Busy));
        tx.send(3).unwrap();
        thread::sleep(ms(20));
        drop(second);
        assert_eq!(bpprof::current_state(), None);
        tx.send(4).unwrap(); // unregistered: not counted
    })
    .join()
    .unwrap();
    assert_eq!(rx.iter().collect::<Vec<_>>(), [1, 2, 3, 4]);
    let recording = rec.finish();

    let first = common::only_declaration(&recording, "First");
    let second = common::only_declaration(&recording, "Second");
    assert_eq!(first.tid, second.tid);
    common::assert_lifecycle(&recording, first.id);
    common::assert_lifecycle(&recording, second.id);
    let first_total = common::total_of(&recording, first.id);
    let second_total = common::total_of(&recording, second.id);
    assert_eq!(first_total.records_out, 1);
    assert_eq!(second_total.records_out, 2);
    // The first registration ended when the second began, not when its guard dropped.
    assert!(
        first_total.wall_ns < 100_000_000,
        "first registration lasted {} ns",
        first_total.wall_ns
    );
    assert!(second_total.wall_ns >= 270_000_000, "{second_total:?}");
    let first_end = recording
        .intervals
        .iter()
        .position(|c| c.subtasks.iter().any(|s| s.id == first.id && s.ended))
        .unwrap();
    let second_end = recording
        .intervals
        .iter()
        .position(|c| c.subtasks.iter().any(|s| s.id == second.id && s.ended))
        .unwrap();
    assert!(
        first_end < second_end,
        "first ended in chunk {first_end}, second in {second_end}"
    );
}

#[test]
fn unregistered_threads_account_nothing_and_do_not_crash() {
    let _lock = common::recorder_lock();
    let rec = common::start("unregistered");
    let (tx, rx) = bpprof::bounded_named::<u32>("unregistered-channel", 1);
    let consumer = thread::spawn(move || {
        assert_eq!(bpprof::current_state(), None);
        let mut got = Vec::new();
        // Blocks on an empty queue while the producer waits on a full one.
        while let Ok(v) = rx.recv() {
            thread::sleep(ms(1));
            got.push(v);
        }
        got
    });
    assert_eq!(bpprof::current_state(), None);
    for i in 0..50 {
        tx.send(i).unwrap();
    }
    assert_eq!(bpprof::idle(|| 7), 7);
    assert_eq!(bpprof::backpressured(|| "x"), "x");
    let scope = bpprof::enter(bpprof::State::Idle);
    assert_eq!(bpprof::current_state(), None);
    drop(scope);
    bpprof::count_records_in(3);
    bpprof::count_records_out(3);
    drop(tx);
    assert_eq!(consumer.join().unwrap(), (0..50).collect::<Vec<_>>());
    let recording = rec.finish();

    let channel = recording
        .intervals
        .iter()
        .flat_map(|c| &c.declared_channels)
        .find(|c| c.name == "unregistered-channel")
        .expect("the channel is declared")
        .id;
    assert!(
        recording
            .intervals
            .iter()
            .flat_map(|c| &c.endpoints)
            .all(|e| e.channel != channel),
        "no subtask used the channel"
    );
    // Blocking was seen by the channel even though no subtask was charged for it.
    let blocked: u64 = recording
        .intervals
        .iter()
        .flat_map(|c| &c.channels)
        .filter(|c| c.id == channel)
        .map(|c| c.blocked_sends)
        .sum();
    assert!(blocked > 0, "blocked sends were counted");
}

#[test]
fn channel_endpoints_let_the_edge_be_inferred() {
    let _lock = common::recorder_lock();
    let rec = common::start("endpoints");
    let (tx, rx) = bpprof::bounded_named::<u64>("source->sink", 8);
    let source = thread::spawn(move || {
        let guard = bpprof::register("EpSource", 0, 1);
        for i in 0..100 {
            tx.send(i).unwrap();
        }
        guard.tid()
    });
    let sink = thread::spawn(move || {
        let guard = bpprof::register("EpSink", 0, 1);
        let sum: u64 = rx.iter().sum();
        (sum, guard.tid())
    });
    source.join().unwrap();
    let (sum, _) = sink.join().unwrap();
    assert_eq!(sum, 4950);
    let recording = rec.finish();

    let decl = recording
        .intervals
        .iter()
        .flat_map(|c| &c.declared_channels)
        .find(|c| c.name == "source->sink")
        .expect("channel declared")
        .clone();
    assert_eq!(decl.capacity, 8);
    let source = common::only_declaration(&recording, "EpSource");
    let sink = common::only_declaration(&recording, "EpSink");
    let mut endpoints: Vec<ChannelEndpoint> = recording
        .intervals
        .iter()
        .flat_map(|c| c.endpoints.iter().cloned())
        .filter(|e| e.channel == decl.id)
        .collect();
    endpoints.sort_by_key(|e| e.subtask);
    let mut expected = vec![
        ChannelEndpoint {
            channel: decl.id,
            subtask: source.id,
            role: EndpointRole::Sender,
        },
        ChannelEndpoint {
            channel: decl.id,
            subtask: sink.id,
            role: EndpointRole::Receiver,
        },
    ];
    expected.sort_by_key(|e| e.subtask);
    assert_eq!(endpoints, expected, "each end reported once");
    assert_eq!(common::total_of(&recording, source.id).records_out, 100);
    assert_eq!(common::total_of(&recording, sink.id).records_in, 100);
}

#[test]
fn a_subtask_that_lives_within_one_interval_still_appears_as_ended() {
    let _lock = common::recorder_lock();
    let rec = common::start("short-lived");
    // Let the first tick pass so that the subtask lives strictly between two ticks.
    thread::sleep(ms(130));
    let tid = thread::spawn(|| {
        let guard = bpprof::register("Blink", 0, 1);
        bpprof::count_records_in(5);
        guard.tid()
    })
    .join()
    .unwrap();
    let recording = rec.finish();
    let decl = common::only_declaration(&recording, "Blink");
    assert_eq!(decl.tid, tid);
    common::assert_lifecycle(&recording, decl.id);
    // Normally one entry; two if a tick happened to fall within its short life.
    let entries = common::intervals_of(&recording, decl.id);
    assert!(entries.len() <= 2, "{entries:?}");
    let total = common::total_of(&recording, decl.id);
    assert_eq!(total.records_in, 5);
    assert!(total.wall_ns < 100_000_000, "{total:?}");
    // It is declared in the first chunk that reports it.
    let chunk = recording
        .intervals
        .iter()
        .find(|c| c.subtasks.iter().any(|s| s.id == decl.id))
        .unwrap();
    assert!(chunk.declared_subtasks.iter().any(|d| d.id == decl.id));
}

#[test]
fn a_subtask_registered_before_the_recorder_started_is_declared() {
    let _lock = common::recorder_lock();
    let (registered_tx, registered_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
    let worker = thread::spawn(move || {
        let guard = bpprof::register("Early", 0, 1);
        registered_tx.send(guard.tid()).unwrap();
        bpprof::idle(|| stop_rx.recv().unwrap());
    });
    let tid = registered_rx.recv().unwrap();
    let rec = common::start("early");
    thread::sleep(ms(150));
    stop_tx.send(()).unwrap();
    worker.join().unwrap();
    let recording = rec.finish();
    let decl = common::only_declaration(&recording, "Early");
    assert_eq!(decl.tid, tid);
    assert_eq!(decl.registered_ns, 0, "registered before the recording: 0");
    common::assert_lifecycle(&recording, decl.id);
    // Every subtask that has intervals is declared, in that chunk or an earlier one.
    let mut declared = std::collections::HashSet::new();
    for chunk in &recording.intervals {
        declared.extend(chunk.declared_subtasks.iter().map(|d| d.id));
        for s in &chunk.subtasks {
            assert!(
                declared.contains(&s.id),
                "subtask {} used before declared",
                s.id
            );
        }
    }
    let total = common::total_of(&recording, decl.id);
    assert!(total.idle_ns > 100_000_000, "{total:?}");
}

#[test]
fn many_short_registrations_are_each_declared_and_ended_exactly_once() {
    let _lock = common::recorder_lock();
    let rec = common::start("churn");
    let deadline = std::time::Instant::now() + ms(1_000);
    let counts: Vec<u32> = (0..3)
        .map(|t| {
            thread::spawn(move || {
                let mut n = 0;
                while std::time::Instant::now() < deadline {
                    let guard = bpprof::register("Churn", t, 3);
                    bpprof::count_records_out(1);
                    drop(guard);
                    n += 1;
                }
                n
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| h.join().unwrap())
        .collect();
    let recording = rec.finish();
    let decls = common::declarations_of(&recording, "Churn");
    let registrations: u32 = counts.iter().sum();
    assert_eq!(
        decls.len() as u32,
        registrations,
        "one declaration per registration"
    );
    let mut ids: Vec<u32> = decls.iter().map(|d| d.id).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), decls.len(), "no subtask declared twice");
    // Each registration has one entry (it lives far less than an interval), and it is `ended`.
    let mut entries = std::collections::HashMap::<u32, Vec<bool>>::new();
    let mut records = 0;
    for s in recording.intervals.iter().flat_map(|c| &c.subtasks) {
        entries.entry(s.id).or_default().push(s.ended);
        records += s.records_out;
    }
    for id in ids {
        let ended = &entries[&id];
        assert!(
            ended.last() == Some(&true),
            "subtask {id}: ended flags {ended:?}"
        );
        assert_eq!(
            ended.iter().filter(|e| **e).count(),
            1,
            "subtask {id}: {ended:?}"
        );
    }
    assert_eq!(records, u64::from(registrations));
}
