//! The accounting against ground truth measured by the test itself: a registered thread runs
//! phases of known kinds (on-CPU work, off-CPU work, idle and backpressure scopes, a real blocked
//! `recv` and a real blocked `send`) for about two seconds under a 100 ms recorder, and the
//! recording's totals must match what the thread measured around each phase.

mod common;

use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use common::{spin_cpu, thread_cpu_ns};

/// Ratios must match the truth within this many percentage points.
const TOLERANCE_PP: f64 = 3.0;
const RUN: Duration = Duration::from_secs(2);

#[derive(Debug, Default)]
struct Truth {
    total_ns: u64,
    idle_ns: u64,
    backpressured_ns: u64,
    /// CPU time used by the spin phases (thread CPU clock).
    spin_cpu_ns: u64,
    /// CPU time of the thread over its whole registration.
    thread_cpu_ns: u64,
    max_idle_ns: u64,
    max_backpressured_ns: u64,
    received: u64,
    sent: u64,
    cycles: u64,
}

impl Truth {
    fn idle(&mut self, d: Duration) {
        let ns = d.as_nanos() as u64;
        self.idle_ns += ns;
        self.max_idle_ns = self.max_idle_ns.max(ns);
    }
    fn backpressured(&mut self, d: Duration) {
        let ns = d.as_nanos() as u64;
        self.backpressured_ns += ns;
        self.max_backpressured_ns = self.max_backpressured_ns.max(ns);
    }
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn pct(part: u64, whole: u64) -> f64 {
    100.0 * part as f64 / whole as f64
}

fn assert_close(what: &str, measured: f64, truth: f64) {
    eprintln!("{what}: truth {truth:.2}%, measured {measured:.2}%");
    assert!(
        (measured - truth).abs() <= TOLERANCE_PP,
        "{what}: measured {measured:.2}% vs truth {truth:.2}% (tolerance {TOLERANCE_PP} pp)"
    );
}

/// A maximum stall must match the longest phase: within 2 ms or 5 %, whichever is larger.
fn assert_stall_close(what: &str, measured: u64, truth: u64) {
    eprintln!("{what}: truth {truth} ns, measured {measured} ns");
    let tolerance = (truth / 20).max(2_000_000);
    assert!(
        measured.abs_diff(truth) <= tolerance,
        "{what}: measured {measured} ns vs truth {truth} ns"
    );
}

#[test]
fn busy_idle_backpressured_and_cpu_shares_match_ground_truth() {
    let _lock = common::recorder_lock();
    let rec = common::start("accuracy");

    // Input: a feeder sends one message `delay` after each request, so the worker's recv blocks.
    let (input_tx, input_rx) = bpprof::bounded_named::<u64>("feeder->worker", 4);
    let (feed_req_tx, feed_req_rx) = mpsc::channel::<Duration>();
    let feeder = thread::spawn(move || {
        let mut n = 0;
        for delay in feed_req_rx {
            thread::sleep(delay);
            input_tx.send(n).unwrap();
            n += 1;
        }
        n
    });
    // Output: capacity 1 and kept full, so the worker's send blocks until the drainer, asked to
    // take one message after `delay`, makes room.
    let (output_tx, output_rx) = bpprof::bounded_named::<u64>("worker->drainer", 1);
    let (drain_req_tx, drain_req_rx) = mpsc::channel::<Duration>();
    let drainer = thread::spawn(move || {
        let mut n = 0;
        for delay in drain_req_rx {
            thread::sleep(delay);
            output_rx.recv().unwrap();
            n += 1;
        }
        n + output_rx.iter().count() as u64
    });

    let worker = thread::spawn(move || {
        let mut truth = Truth::default();
        let guard = bpprof::register("Worker", 0, 1);
        let started = Instant::now();
        let cpu_start = thread_cpu_ns();

        output_tx.send(u64::MAX).unwrap(); // fills the queue: no blocking
        truth.sent += 1;
        let mut cycle = 0u64;
        while started.elapsed() < RUN {
            // Busy on CPU: measured by the thread's CPU clock, whatever the wall time it takes.
            truth.spin_cpu_ns += spin_cpu(ms(20));

            // Busy off CPU: sleeping outside any scope.
            thread::sleep(ms(12));

            // Idle in a scope, of varying length (the longest is the idle maximum).
            let idle_len = ms(8 + (cycle % 4) * 4);
            let t = Instant::now();
            bpprof::idle(|| thread::sleep(idle_len));
            truth.idle(t.elapsed());

            // Backpressured in a scope.
            let t = Instant::now();
            bpprof::backpressured(|| thread::sleep(ms(10)));
            truth.backpressured(t.elapsed());

            // Idle in a real recv: the feeder sends 15 ms after the request.
            feed_req_tx.send(ms(15)).unwrap();
            let t = Instant::now();
            input_rx.recv().unwrap();
            truth.idle(t.elapsed());
            truth.received += 1;

            // Backpressured in a real send into the full queue: the drainer makes room after 8 ms.
            drain_req_tx.send(ms(8)).unwrap();
            let t = Instant::now();
            output_tx.send(cycle).unwrap();
            truth.backpressured(t.elapsed());
            truth.sent += 1;

            cycle += 1;
        }
        truth.cycles = cycle;
        truth.thread_cpu_ns = thread_cpu_ns() - cpu_start;
        truth.total_ns = started.elapsed().as_nanos() as u64;
        let id_name = guard.name();
        drop(guard);
        (truth, id_name)
    });

    let (truth, name) = common::join_within(worker, Duration::from_secs(60), "worker");
    assert_eq!(name, "Worker#0");
    let fed = common::join_within(feeder, Duration::from_secs(10), "feeder");
    let drained = common::join_within(drainer, Duration::from_secs(10), "drainer");
    assert_eq!(fed, truth.received);
    assert_eq!(drained, truth.sent);
    let recording = rec.finish();

    let decl = common::only_declaration(&recording, "Worker");
    common::assert_lifecycle(&recording, decl.id);
    let m = common::total_of(&recording, decl.id);
    eprintln!("cycles: {}; truth: {truth:?}", truth.cycles);
    eprintln!("measured: {m:?}");
    assert!(
        recording.intervals.len() >= 5,
        "{} intervals",
        recording.intervals.len()
    );

    // The wall time is the registration: the truth plus the few microseconds around it.
    assert!(
        m.wall_ns >= truth.total_ns && m.wall_ns - truth.total_ns < 5_000_000,
        "wall {} ns vs truth {} ns",
        m.wall_ns,
        truth.total_ns
    );

    let busy_truth = truth.total_ns - truth.idle_ns - truth.backpressured_ns;
    assert_close(
        "busy share",
        pct(m.busy_ns(), m.wall_ns),
        pct(busy_truth, truth.total_ns),
    );
    assert_close(
        "idle share",
        pct(m.idle_ns, m.wall_ns),
        pct(truth.idle_ns, truth.total_ns),
    );
    assert_close(
        "backpressured share",
        pct(m.backpressured_ns, m.wall_ns),
        pct(truth.backpressured_ns, truth.total_ns),
    );
    assert_close(
        "on-CPU share of busy",
        pct(m.cpu_ns, m.busy_ns()),
        pct(truth.spin_cpu_ns, busy_truth),
    );
    // The thread's CPU clock over the registration: what the recorder read, to within the CPU the
    // thread used between registering and the first reading of the test's clock (and at the end).
    assert!(
        m.cpu_ns.abs_diff(truth.thread_cpu_ns) < 5_000_000,
        "cpu {} ns vs thread clock {} ns",
        m.cpu_ns,
        truth.thread_cpu_ns
    );

    assert_eq!(m.records_in, truth.received, "records_in");
    assert_eq!(m.records_out, truth.sent, "records_out");
    assert_stall_close("max idle stall", m.max_idle_stall_ns, truth.max_idle_ns);
    assert_stall_close(
        "max backpressure stall",
        m.max_backpressure_stall_ns,
        truth.max_backpressured_ns,
    );
}

#[test]
fn a_long_stall_is_counted_in_every_interval_it_spans() {
    let _lock = common::recorder_lock();
    let rec = common::start("long-stall");
    let worker = thread::spawn(|| {
        let _guard = bpprof::register("Staller", 0, 1);
        let t = Instant::now();
        bpprof::backpressured(|| thread::sleep(ms(550)));
        t.elapsed().as_nanos() as u64
    });
    let stall = common::join_within(worker, Duration::from_secs(30), "staller");
    let recording = rec.finish();
    let decl = common::only_declaration(&recording, "Staller");
    let entries = common::intervals_of(&recording, decl.id);
    // The stall spans several whole 100 ms intervals; each shows it up to its own end.
    let full: Vec<_> = entries[1..entries.len() - 1].to_vec();
    assert!(full.len() >= 2, "entries: {entries:?}");
    let mut previous_max = 0;
    for s in &full {
        assert!(
            s.wall_ns - s.backpressured_ns < 1_000_000,
            "an interval inside the stall is not all backpressured: {s:?}"
        );
        assert_eq!(s.idle_ns, 0);
        assert!(
            s.max_backpressure_stall_ns > previous_max,
            "ongoing stall length must grow: {entries:?}"
        );
        previous_max = s.max_backpressure_stall_ns;
    }
    let total = common::total_of(&recording, decl.id);
    assert!(total.backpressured_ns.abs_diff(stall) < 1_000_000);
    assert_stall_close("the whole stall", total.max_backpressure_stall_ns, stall);
}

#[test]
fn nested_scopes_count_once_as_the_outermost() {
    let _lock = common::recorder_lock();
    let rec = common::start("nested");
    let (tx, rx) = bpprof::bounded::<u32>(1);
    tx.send(0).unwrap();
    let worker = thread::spawn(move || {
        let _guard = bpprof::register("Nester", 0, 1);
        let (drain_tx, drain_rx) = mpsc::channel::<()>();
        let drainer = thread::spawn(move || {
            drain_rx.recv().unwrap();
            thread::sleep(ms(60));
            rx.recv().unwrap();
            rx
        });
        let t = Instant::now();
        bpprof::idle(|| {
            assert_eq!(bpprof::current_state(), Some(bpprof::State::Idle));
            bpprof::backpressured(|| thread::sleep(ms(40)));
            assert_eq!(bpprof::current_state(), Some(bpprof::State::Idle));
            drain_tx.send(()).unwrap();
            tx.send(1).unwrap(); // blocks on the full queue: stays idle
        });
        let idle = t.elapsed().as_nanos() as u64;
        assert_eq!(bpprof::current_state(), Some(bpprof::State::Busy));
        drainer.join().unwrap();
        idle
    });
    let idle = common::join_within(worker, Duration::from_secs(30), "nester");
    let recording = rec.finish();
    let decl = common::only_declaration(&recording, "Nester");
    let total = common::total_of(&recording, decl.id);
    assert_eq!(total.backpressured_ns, 0, "{total:?}");
    assert!(
        total.idle_ns.abs_diff(idle) < 1_000_000,
        "{total:?} vs {idle}"
    );
    assert_eq!(total.records_out, 1);
}
