//! Semantics of the instrumented channels: they must behave as crossbeam's bounded channels,
//! whether or not a recorder (which holds a probe sender of every channel) is running.

mod common;

use std::collections::HashSet;
use std::thread;
use std::time::{Duration, Instant};

use bpprof::{RecvTimeoutError, TryRecvError, TrySendError};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Runs `f` twice: without a recorder, then with one running (serialised with the other tests
/// of this binary that start one).
fn with_and_without_recorder(name: &str, f: impl Fn()) {
    let _lock = common::recorder_lock();
    f();
    let rec = common::start(name);
    f();
    rec.finish();
}

#[test]
fn fifo_order_and_capacity() {
    let (tx, rx) = bpprof::bounded::<u32>(3);
    assert_eq!((tx.capacity(), rx.capacity()), (3, 3));
    assert!(tx.is_empty() && rx.is_empty());
    for i in 0..3 {
        tx.try_send(i).unwrap();
    }
    assert!(tx.is_full());
    assert_eq!((tx.len(), rx.len()), (3, 3));
    match tx.try_send(99) {
        Err(TrySendError::Full(99)) => {}
        other => panic!("expected Full(99), got {other:?}"),
    }
    assert_eq!(rx.recv().unwrap(), 0);
    tx.send(3).unwrap();
    assert_eq!(rx.try_iter_all(), [1, 2, 3]);
    assert!(matches!(rx.try_recv(), Err(TryRecvError::Empty)));

    // Through a thread, in order.
    let (tx, rx) = bpprof::bounded::<u32>(4);
    let producer = thread::spawn(move || (0..10_000).for_each(|i| tx.send(i).unwrap()));
    let got: Vec<u32> = rx.iter().collect();
    producer.join().unwrap();
    assert_eq!(got, (0..10_000).collect::<Vec<_>>());
}

#[test]
fn a_zero_capacity_request_gives_a_capacity_of_one() {
    let (tx, rx) = bpprof::bounded::<u8>(0);
    assert_eq!(tx.capacity(), 1);
    tx.try_send(1).unwrap();
    assert!(matches!(tx.try_send(2), Err(TrySendError::Full(2))));
    assert_eq!(rx.recv().unwrap(), 1);
}

trait TryIterAll<T> {
    fn try_iter_all(&self) -> Vec<T>;
}

impl<T: Send + 'static> TryIterAll<T> for bpprof::Receiver<T> {
    fn try_iter_all(&self) -> Vec<T> {
        std::iter::from_fn(|| self.try_recv().ok()).collect()
    }
}

#[test]
fn dropping_every_receiver_makes_send_fail() {
    with_and_without_recorder("no-receivers", || {
        let (tx, rx) = bpprof::bounded::<String>(2);
        let rx2 = rx.clone();
        tx.send("a".into()).unwrap();
        drop(rx);
        tx.send("b".into()).unwrap(); // one receiver is left
        drop(rx2);
        let err = tx.send("c".into()).unwrap_err();
        assert_eq!(err.0, "c", "the message comes back");
        assert!(matches!(tx.try_send("d".into()), Err(TrySendError::Disconnected(d)) if d == "d"));

        // A sender blocked on a full queue wakes up when the last receiver goes.
        let (tx, rx) = bpprof::bounded::<u32>(1);
        tx.send(0).unwrap();
        let blocked = thread::spawn(move || {
            let _guard = bpprof::register("BlockedSender", 0, 1);
            tx.send(1).map_err(|e| e.0)
        });
        thread::sleep(ms(30));
        drop(rx);
        let result = common::join_within(blocked, Duration::from_secs(10), "blocked sender");
        assert_eq!(result, Err(1));
    });
}

#[test]
fn dropping_every_sender_ends_recv_and_iter() {
    with_and_without_recorder("no-senders", || {
        let (tx, rx) = bpprof::bounded::<u32>(8);
        let tx2 = tx.clone();
        tx.send(1).unwrap();
        tx2.send(2).unwrap();
        drop(tx);
        tx2.send(3).unwrap(); // a clone keeps the channel open
        drop(tx2);
        // Queued messages are still delivered, then the channel reports the disconnection.
        assert_eq!(rx.iter().collect::<Vec<_>>(), [1, 2, 3]);
        assert!(rx.recv().is_err());
        assert!(matches!(rx.try_recv(), Err(TryRecvError::Disconnected)));
        assert!(matches!(
            rx.recv_timeout(ms(10)),
            Err(RecvTimeoutError::Disconnected)
        ));
        assert_eq!((&rx).into_iter().count(), 0);

        // A receiver blocked on an empty queue (for longer than a recorder interval, so that
        // the recorder samples the channel meanwhile) wakes up when the last sender goes.
        let (tx, rx) = bpprof::bounded::<u32>(1);
        let tx2 = tx.clone();
        let blocked = thread::spawn(move || {
            let _guard = bpprof::register("BlockedReceiver", 0, 1);
            let got: Vec<u32> = rx.iter().collect();
            (got, rx.recv().is_err())
        });
        tx.send(7).unwrap();
        thread::sleep(ms(150));
        drop(tx);
        thread::sleep(ms(20));
        drop(tx2);
        let (got, disconnected) =
            common::join_within(blocked, Duration::from_secs(10), "blocked receiver");
        assert_eq!(got, [7]);
        assert!(disconnected);
    });
}

#[test]
fn the_last_sender_dropped_by_another_thread_ends_iteration() {
    with_and_without_recorder("senders-elsewhere", || {
        let (tx, rx) = bpprof::bounded::<u32>(2);
        let senders: Vec<_> = (0..4)
            .map(|i| {
                let tx = tx.clone();
                thread::spawn(move || {
                    let _guard = bpprof::register("ClonedSender", i, 4);
                    for j in 0..100 {
                        tx.send(i * 1000 + j).unwrap();
                    }
                })
            })
            .collect();
        drop(tx);
        let consumer = thread::spawn(move || rx.iter().count());
        for s in senders {
            s.join().unwrap();
        }
        assert_eq!(
            common::join_within(consumer, Duration::from_secs(10), "consumer"),
            400
        );
    });
}

#[test]
fn recv_timeout_waits_then_times_out_or_delivers() {
    let (tx, rx) = bpprof::bounded::<u32>(1);
    let t = Instant::now();
    assert!(matches!(
        rx.recv_timeout(ms(50)),
        Err(RecvTimeoutError::Timeout)
    ));
    assert!(t.elapsed() >= ms(50), "gave up after {:?}", t.elapsed());
    let sender = thread::spawn(move || {
        thread::sleep(ms(20));
        tx.send(5).unwrap();
        tx
    });
    assert_eq!(rx.recv_timeout(Duration::from_secs(10)).unwrap(), 5);
    let tx = sender.join().unwrap();
    tx.send(6).unwrap();
    assert_eq!(
        rx.recv_timeout(ms(1)).unwrap(),
        6,
        "a queued message comes at once"
    );
}

#[test]
fn recv_timeout_counts_as_idle_and_try_calls_count_records() {
    let _lock = common::recorder_lock();
    let rec = common::start("timeouts");
    let (tx, rx) = bpprof::bounded::<u32>(1);
    thread::spawn(move || {
        let _guard = bpprof::register("TimeoutUser", 0, 1);
        let t = Instant::now();
        assert!(rx.recv_timeout(ms(60)).is_err());
        let waited = t.elapsed().as_nanos() as u64;
        tx.try_send(1).unwrap();
        assert!(matches!(tx.try_send(2), Err(TrySendError::Full(2))));
        assert_eq!(rx.try_recv().unwrap(), 1);
        assert!(matches!(rx.try_recv(), Err(TryRecvError::Empty)));
        waited
    })
    .join()
    .map(|waited| {
        let recording = rec.finish();
        let decl = common::only_declaration(&recording, "TimeoutUser");
        let total = common::total_of(&recording, decl.id);
        assert!(
            total.idle_ns <= waited && waited - total.idle_ns < 2_000_000,
            "idle {} ns vs waited {waited} ns",
            total.idle_ns
        );
        // Failed try calls count nothing.
        assert_eq!((total.records_in, total.records_out), (1, 1));
    })
    .unwrap();
}

#[test]
fn many_producers_many_consumers_deliver_every_message_exactly_once() {
    let _lock = common::recorder_lock();
    let rec = common::start("mpmc");
    const PRODUCERS: u32 = 4;
    const CONSUMERS: u32 = 3;
    const EACH: u32 = 20_000;
    let (tx, rx) = bpprof::bounded_named::<u32>("mpmc", 16);
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let tx = tx.clone();
            thread::spawn(move || {
                let _guard = bpprof::register("Producer", p, PRODUCERS);
                for i in 0..EACH {
                    tx.send(p * EACH + i).unwrap();
                }
            })
        })
        .collect();
    drop(tx);
    let consumers: Vec<_> = (0..CONSUMERS)
        .map(|c| {
            let rx = rx.clone();
            thread::spawn(move || {
                let _guard = bpprof::register("Consumer", c, CONSUMERS);
                let mut got = Vec::new();
                let mut last_per_producer = [None::<u32>; PRODUCERS as usize];
                for v in rx.iter() {
                    // Each producer's messages arrive in order at any one consumer.
                    let p = (v / EACH) as usize;
                    assert!(last_per_producer[p].is_none_or(|last| last < v));
                    last_per_producer[p] = Some(v);
                    got.push(v);
                }
                got
            })
        })
        .collect();
    drop(rx);
    for p in producers {
        common::join_within(p, Duration::from_secs(60), "producer");
    }
    let mut seen = HashSet::new();
    let mut total = 0;
    for c in consumers {
        for v in common::join_within(c, Duration::from_secs(60), "consumer") {
            assert!(seen.insert(v), "{v} delivered twice");
            total += 1;
        }
    }
    assert_eq!(total, PRODUCERS * EACH);
    assert_eq!(seen.len() as u32, PRODUCERS * EACH);

    let recording = rec.finish();
    let sum = |task: &str, f: fn(&bpprof_format::SubtaskInterval) -> u64| -> u64 {
        common::declarations_of(&recording, task)
            .iter()
            .map(|d| f(&common::total_of(&recording, d.id)))
            .sum()
    };
    assert_eq!(
        sum("Producer", |s| s.records_out),
        u64::from(PRODUCERS * EACH)
    );
    assert_eq!(
        sum("Consumer", |s| s.records_in),
        u64::from(PRODUCERS * EACH)
    );
}

#[test]
fn a_dropped_channel_is_reported_until_its_last_interval_is_written_and_then_forgotten() {
    let _lock = common::recorder_lock();
    let rec = common::start("dropped-channel");
    let (kept_tx, kept_rx) = bpprof::bounded_named::<u32>("kept", 4);
    let (tx, rx) = bpprof::bounded_named::<u32>("dropped", 4);
    tx.send(1).unwrap();
    assert_eq!(rx.recv().unwrap(), 1);
    // Two intervals with both channels, then the second is dropped and the recorder writes at
    // least five more (100 ms each).
    thread::sleep(ms(250));
    drop((tx, rx));
    thread::sleep(ms(600));
    kept_tx.send(2).unwrap();
    assert_eq!(kept_rx.recv().unwrap(), 2);
    let recording = rec.finish();

    let id_of = |name: &str| {
        recording
            .intervals
            .iter()
            .flat_map(|i| &i.declared_channels)
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("channel {name} is declared"))
            .id
    };
    let (kept, dropped) = (id_of("kept"), id_of("dropped"));
    let listing = |id: u32| -> Vec<u64> {
        recording
            .intervals
            .iter()
            .filter(|i| i.channels.iter().any(|c| c.id == id))
            .map(|i| i.seq)
            .collect()
    };
    let (with_kept, with_dropped) = (listing(kept), listing(dropped));
    let last = recording.intervals.last().unwrap().seq;
    assert_eq!(
        with_kept.len(),
        recording.intervals.len(),
        "a live channel is in every interval"
    );
    assert!(
        !with_dropped.is_empty(),
        "the dropped channel's intervals before the drop are written"
    );
    // The interval in which it was dropped still reports it (its last counts), the next ones
    // do not: the registry forgot it.
    let last_with_dropped = *with_dropped.last().unwrap();
    assert!(
        last_with_dropped + 3 <= last,
        "the dropped channel is still reported in interval {last_with_dropped} of 0..={last}: {with_dropped:?}"
    );
    assert_eq!(
        with_dropped,
        (with_dropped[0]..=last_with_dropped).collect::<Vec<_>>(),
        "reported in consecutive intervals up to its drop"
    );
}
