//! Seven job graphs in one binary, each built so that one task is the bottleneck: the suite
//! `tests/topologies.rs` (and `scripts/verdict-rates.sh`) checks that `bpprof locate` names it,
//! with and without contended CPUs.
//!
//! ```sh
//! BPPROF_OUT=diamond.bpprof cargo run --release --example topologies -- --shape diamond
//! bpprof locate diamond.bpprof
//! ```
//!
//! `--shape NAME` (required) picks the job graph; `--seconds N` (or `BPPROF_EXAMPLE_SECONDS`)
//! sets how long the sources run (default 4); `--contention` (or `BPPROF_EXAMPLE_CONTENTION=1`)
//! also starts one unregistered thread per CPU that burns CPU until the pipeline has ended, so
//! the pipeline runs on a machine whose CPUs are all contended (its threads wait for a CPU).
//!
//! In every shape the slow stage costs [`SLOW_ROUNDS`] rounds of [`burn`] per record and every
//! other stage at most [`CHEAP_ROUNDS`] (a hundredth of it): without contention the bottleneck is
//! unambiguous. Channels hold [`CAPACITY`] records and are named `from->to`.
//!
//! **`three-stage`**: Source(1) -> Transform(1) -> Sink(1). Transform's `transform_record` is the
//! slow work, so Transform is busy all the time, the Source is backpressured on the full
//! `source->transform` queue and the Sink is idle: the bottleneck is Transform (kind `cpu`,
//! subtask 0).
//!
//! **`fan-out`**: Source(1) broadcasts every record to SinkFast(1) and SinkSlow(1) through
//! `source->sink-fast` and `source->sink-slow`. SinkSlow's `slow_sink_record` is the slow work:
//! the Source blocks on SinkSlow's full queue, so it can feed SinkFast only at SinkSlow's rate and
//! SinkFast is mostly idle. The bottleneck is SinkSlow (`cpu`); the idle SinkFast below the
//! backpressured Source is not an exchange bottleneck, since a busy task downstream of the Source
//! explains its backpressure.
//!
//! **`fan-in`**: SourceA(1) and SourceB(1), each with its own channel into Merge(1), which takes
//! from whichever input has a record (`try_recv` on each in turn; when both are empty, a 1 ms
//! `recv_timeout` on one of them, alternating) and sends to Sink(1). Merge's `merge_record` is the
//! slow work: both sources are backpressured on full queues and the bottleneck is Merge (`cpu`).
//!
//! **`join-alternating`**: SourceA(1, cheap) and SourceB(1, `generate_b_record` is the slow work)
//! each feed Join(1) through their own channel; Join strictly alternates `recv` from A and from B
//! (a zip), does cheap work and sends to Sink(1). SourceB limits the job: it is busy all the time,
//! and Join waits for it (idle). SourceA, whose records Join takes only at SourceB's rate, is
//! backpressured with a full `source-a->join` queue. The bottleneck is SourceB (`cpu`), a source
//! with no upstream; the idle Join below the backpressured SourceA is *not* a slow exchange
//! SourceA -> Join: that queue is full, and Join waits on its other input.
//!
//! **`union`**: SourceA(1) and SourceB(1) both send into one shared channel
//! `sources->sink`, read by Sink(1), whose `slow_sink_record` is the slow work. Both sources are
//! backpressured; the bottleneck is the Sink (`cpu`).
//!
//! **`diamond`**: Source(1) broadcasts every record to Left(1, cheap) and Right(1,
//! `right_record` is the slow work); both feed Join(1) through their own channels, Join
//! alternates `recv` from Left and from Right and sends to Sink(1). The Source is backpressured
//! on Right's full queue, Left on its full queue into Join (Join waits for Right), and Join is
//! mostly idle. The bottleneck is Right (`cpu`).
//!
//! **`pool-skew`**: logical subtasks on a thread pool. Dispatcher(1) cuts records into batches of
//! [`BATCH`] and sends jobs `(logical index, batch)` for the [`SCORE`] logical subtasks of task
//! Score into one job channel `dispatcher->score`; logical subtask 2 gets three times as many
//! batches as each of the others (indices cycle through [`POOL_CYCLE`]). A pool of
//! [`POOL_THREADS`] worker threads (fewer threads than logical subtasks) takes a job while not
//! registered, registers as `Score#index` for that job (`bpprof::register`, then
//! `count_records_in`), scores the batch (`score_record` per record, the slow work), sends the
//! batch of results to Sink(1) as one message and drops the registration. The pool is busy all the time and the
//! Dispatcher is backpressured; Score#2 processes half of all records, three times as many as
//! each sibling, so over wall time it is about three times as busy: the bottleneck is Score, kind
//! `skew`, subtask 2. (An accounting that measures each registration only over the time it held a
//! thread sees every logical subtask busy all of its time, and no skew.)

mod common;

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use bpprof::{Receiver, RecvTimeoutError, Sender, TryRecvError};
use common::{before, burn, flag_or_env, run_time, start_recording, stop_recording};

/// Burn rounds per record of each shape's slow stage.
const SLOW_ROUNDS: u32 = 20_000;
/// Burn rounds per record of every other stage (at most).
const CHEAP_ROUNDS: u32 = 200;
/// Capacity of every channel, in records (jobs for `dispatcher->score`).
const CAPACITY: usize = 64;

/// Records per job of `pool-skew`.
const BATCH: usize = 64;
/// Logical parallelism of Score in `pool-skew`.
const SCORE: u32 = 4;
/// Worker threads of the `pool-skew` pool: fewer than [`SCORE`].
const POOL_THREADS: usize = 2;
/// The logical Score subtask of each job of `pool-skew`, in turn: Score#2 gets three times as
/// many batches as each of the others.
const POOL_CYCLE: [u32; 6] = [0, 1, 2, 2, 2, 3];
/// Burn rounds per record of Score in `pool-skew` (a batch costs `BATCH` times as much).
const SCORE_ROUNDS: u32 = SLOW_ROUNDS / 4;

/// Starts a shape's threads (its sources run for the given time) and adds them to the list.
type Build = fn(Duration, &mut Vec<JoinHandle<()>>);

/// The shapes, by `--shape` name.
const SHAPES: [(&str, Build); 7] = [
    ("three-stage", three_stage),
    ("fan-out", fan_out),
    ("fan-in", fan_in),
    ("join-alternating", join_alternating),
    ("union", union),
    ("diamond", diamond),
    ("pool-skew", pool_skew),
];

// ---- The work of each stage (one function each, so that flame graphs name them) ----

/// A source's work per record: makes the next record.
#[inline(never)]
fn generate_record(seq: u64) -> u64 {
    std::hint::black_box(burn(seq, CHEAP_ROUNDS))
}

/// SourceB's work per record in `join-alternating`: the slow work of that shape.
#[inline(never)]
fn generate_b_record(seq: u64) -> u64 {
    std::hint::black_box(burn(seq, SLOW_ROUNDS))
}

/// Transform's work per record in `three-stage`: the slow work of that shape.
#[inline(never)]
fn transform_record(record: u64) -> u64 {
    std::hint::black_box(burn(record, SLOW_ROUNDS))
}

/// Merge's work per record in `fan-in`: the slow work of that shape.
#[inline(never)]
fn merge_record(record: u64) -> u64 {
    std::hint::black_box(burn(record, SLOW_ROUNDS))
}

/// Left's work per record in `diamond`: cheap.
#[inline(never)]
fn left_record(record: u64) -> u64 {
    std::hint::black_box(burn(record, CHEAP_ROUNDS))
}

/// Right's work per record in `diamond`: the slow work of that shape.
#[inline(never)]
fn right_record(record: u64) -> u64 {
    std::hint::black_box(burn(record, SLOW_ROUNDS))
}

/// A join's work per pair of records: combines them, cheaply.
#[inline(never)]
fn join_records(a: u64, b: u64) -> u64 {
    std::hint::black_box(burn(a ^ b.rotate_left(17), CHEAP_ROUNDS))
}

/// Score's work per record in `pool-skew`: the slow work of that shape.
#[inline(never)]
fn score_record(index: u32, record: u64) -> u64 {
    std::hint::black_box(burn(record ^ u64::from(index), SCORE_ROUNDS))
}

/// A cheap sink's work per record: folds it into a checksum.
#[inline(never)]
fn sink_record(acc: u64, record: u64) -> u64 {
    acc.wrapping_mul(31)
        .wrapping_add(burn(record, CHEAP_ROUNDS / 2))
}

/// A slow sink's work per record (`fan-out`'s SinkSlow, `union`'s Sink).
#[inline(never)]
fn slow_sink_record(acc: u64, record: u64) -> u64 {
    acc.wrapping_mul(31).wrapping_add(burn(record, SLOW_ROUNDS))
}

/// Contention: burns CPU, unregistered, until `stop`.
#[inline(never)]
fn contend(seed: u64, stop: &AtomicBool) -> u64 {
    let mut x = seed;
    while !stop.load(Ordering::Relaxed) {
        x = std::hint::black_box(burn(x, 100_000));
    }
    x
}

// ---- Building blocks ----

/// Spawns subtask `task#0` (parallelism 1) running `f`.
fn spawn_subtask(
    task: &'static str,
    threads: &mut Vec<JoinHandle<()>>,
    f: impl FnOnce() + Send + 'static,
) {
    threads.push(thread::spawn(move || {
        let _subtask = bpprof::register(task, 0, 1);
        f();
    }));
}

/// Spawns a source `task` that makes records with `make` until `run_for` has passed and sends
/// each to every output (a broadcast when there are several); stops early when an output is gone.
fn spawn_source(
    task: &'static str,
    run_for: Duration,
    make: fn(u64) -> u64,
    outputs: Vec<Sender<u64>>,
    threads: &mut Vec<JoinHandle<()>>,
) {
    spawn_subtask(task, threads, move || {
        let deadline = Instant::now() + run_for;
        let mut seq = 0u64;
        while before(deadline) {
            seq += 1;
            let record = make(seq);
            if outputs.iter().any(|out| out.send(record).is_err()) {
                break;
            }
        }
    });
}

/// Spawns `task`, which applies `f` to every record of `input` and sends the result to `output`.
fn spawn_map(
    task: &'static str,
    input: Receiver<u64>,
    output: Sender<u64>,
    f: fn(u64) -> u64,
    threads: &mut Vec<JoinHandle<()>>,
) {
    spawn_subtask(task, threads, move || {
        for record in input.iter() {
            if output.send(f(record)).is_err() {
                break;
            }
        }
    });
}

/// Spawns a sink `task` that folds every record of `input` with `fold`.
fn spawn_fold_sink(
    task: &'static str,
    input: Receiver<u64>,
    fold: fn(u64, u64) -> u64,
    threads: &mut Vec<JoinHandle<()>>,
) {
    spawn_subtask(task, threads, move || {
        let checksum = input.iter().fold(0, fold);
        std::hint::black_box(checksum);
    });
}

/// Spawns a join `task` that strictly alternates one record from `first` and one from `second`
/// (a zip), combines them and sends the result to `output`, until either input ends.
fn spawn_zip_join(
    task: &'static str,
    first: Receiver<u64>,
    second: Receiver<u64>,
    output: Sender<u64>,
    threads: &mut Vec<JoinHandle<()>>,
) {
    spawn_subtask(task, threads, move || {
        while let (Ok(a), Ok(b)) = (first.recv(), second.recv()) {
            if output.send(join_records(a, b)).is_err() {
                break;
            }
        }
    });
}

// ---- The shapes ----

/// Source(1) -> Transform(1, slow) -> Sink(1).
fn three_stage(run_for: Duration, threads: &mut Vec<JoinHandle<()>>) {
    let (to_transform, transform_in) = bpprof::bounded_named("source->transform", CAPACITY);
    let (to_sink, sink_in) = bpprof::bounded_named("transform->sink", CAPACITY);
    spawn_source(
        "Source",
        run_for,
        generate_record,
        vec![to_transform],
        threads,
    );
    spawn_map(
        "Transform",
        transform_in,
        to_sink,
        transform_record,
        threads,
    );
    spawn_fold_sink("Sink", sink_in, sink_record, threads);
}

/// Source(1) broadcasts to SinkFast(1) and SinkSlow(1, slow).
fn fan_out(run_for: Duration, threads: &mut Vec<JoinHandle<()>>) {
    let (to_fast, fast_in) = bpprof::bounded_named("source->sink-fast", CAPACITY);
    let (to_slow, slow_in) = bpprof::bounded_named("source->sink-slow", CAPACITY);
    spawn_source(
        "Source",
        run_for,
        generate_record,
        vec![to_fast, to_slow],
        threads,
    );
    spawn_fold_sink("SinkFast", fast_in, sink_record, threads);
    spawn_fold_sink("SinkSlow", slow_in, slow_sink_record, threads);
}

/// SourceA(1) and SourceB(1) -> Merge(1, slow; takes from whichever input has a record) -> Sink(1).
fn fan_in(run_for: Duration, threads: &mut Vec<JoinHandle<()>>) {
    let (to_merge_a, merge_in_a) = bpprof::bounded_named("source-a->merge", CAPACITY);
    let (to_merge_b, merge_in_b) = bpprof::bounded_named("source-b->merge", CAPACITY);
    let (to_sink, sink_in) = bpprof::bounded_named("merge->sink", CAPACITY);
    spawn_source(
        "SourceA",
        run_for,
        generate_record,
        vec![to_merge_a],
        threads,
    );
    spawn_source(
        "SourceB",
        run_for,
        generate_record,
        vec![to_merge_b],
        threads,
    );
    spawn_subtask("Merge", threads, move || {
        merge_loop([merge_in_a, merge_in_b], to_sink)
    });
    spawn_fold_sink("Sink", sink_in, sink_record, threads);
}

/// Merge's loop: `try_recv` on each open input in turn; when none had a record, waits up to 1 ms
/// on one of them (alternating which); ends when every input has ended or the output is gone.
fn merge_loop(inputs: [Receiver<u64>; 2], output: Sender<u64>) {
    let mut open = [true; 2];
    let mut wait_on = 0;
    while open.contains(&true) {
        let mut got = false;
        for (i, input) in inputs.iter().enumerate() {
            if !open[i] {
                continue;
            }
            match input.try_recv() {
                Ok(record) => {
                    got = true;
                    if output.send(merge_record(record)).is_err() {
                        return;
                    }
                }
                Err(TryRecvError::Empty) => {}
                Err(TryRecvError::Disconnected) => open[i] = false,
            }
        }
        if got || !open.contains(&true) {
            continue;
        }
        // Both inputs empty: a short blocking wait (idle) on one open input, alternating.
        if !open[wait_on] {
            wait_on ^= 1;
        }
        match inputs[wait_on].recv_timeout(Duration::from_millis(1)) {
            Ok(record) => {
                if output.send(merge_record(record)).is_err() {
                    return;
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => open[wait_on] = false,
        }
        wait_on ^= 1;
    }
}

/// SourceA(1, cheap) and SourceB(1, slow) -> Join(1, zip) -> Sink(1).
fn join_alternating(run_for: Duration, threads: &mut Vec<JoinHandle<()>>) {
    let (to_join_a, join_in_a) = bpprof::bounded_named("source-a->join", CAPACITY);
    let (to_join_b, join_in_b) = bpprof::bounded_named("source-b->join", CAPACITY);
    let (to_sink, sink_in) = bpprof::bounded_named("join->sink", CAPACITY);
    spawn_source(
        "SourceA",
        run_for,
        generate_record,
        vec![to_join_a],
        threads,
    );
    spawn_source(
        "SourceB",
        run_for,
        generate_b_record,
        vec![to_join_b],
        threads,
    );
    spawn_zip_join("Join", join_in_a, join_in_b, to_sink, threads);
    spawn_fold_sink("Sink", sink_in, sink_record, threads);
}

/// SourceA(1) and SourceB(1) -> one shared channel -> Sink(1, slow).
fn union(run_for: Duration, threads: &mut Vec<JoinHandle<()>>) {
    let (to_sink, sink_in) = bpprof::bounded_named("sources->sink", CAPACITY);
    spawn_source(
        "SourceA",
        run_for,
        generate_record,
        vec![to_sink.clone()],
        threads,
    );
    spawn_source("SourceB", run_for, generate_record, vec![to_sink], threads);
    spawn_fold_sink("Sink", sink_in, slow_sink_record, threads);
}

/// Source(1) broadcasts to Left(1, cheap) and Right(1, slow) -> Join(1, zip) -> Sink(1).
fn diamond(run_for: Duration, threads: &mut Vec<JoinHandle<()>>) {
    let (to_left, left_in) = bpprof::bounded_named("source->left", CAPACITY);
    let (to_right, right_in) = bpprof::bounded_named("source->right", CAPACITY);
    let (left_to_join, join_in_left) = bpprof::bounded_named("left->join", CAPACITY);
    let (right_to_join, join_in_right) = bpprof::bounded_named("right->join", CAPACITY);
    let (to_sink, sink_in) = bpprof::bounded_named("join->sink", CAPACITY);
    spawn_source(
        "Source",
        run_for,
        generate_record,
        vec![to_left, to_right],
        threads,
    );
    spawn_map("Left", left_in, left_to_join, left_record, threads);
    spawn_map("Right", right_in, right_to_join, right_record, threads);
    spawn_zip_join("Join", join_in_left, join_in_right, to_sink, threads);
    spawn_fold_sink("Sink", sink_in, sink_record, threads);
}

/// Dispatcher(1) -> jobs for Score(4 logical subtasks, skewed to #2) on a pool of 2 threads ->
/// Sink(1).
fn pool_skew(run_for: Duration, threads: &mut Vec<JoinHandle<()>>) {
    // Score's parallelism is known before every logical subtask has run a job; the edge is
    // inferred from the job channel (the pool threads receive while registered), declared here
    // only to give its partitioning.
    bpprof::declare_task("Score", SCORE, false);
    bpprof::declare_edge("Dispatcher", "Score", "rebalance");
    let (to_pool, pool_in) =
        bpprof::bounded_named::<(u32, Vec<u64>)>("dispatcher->score", CAPACITY / 8);
    let (to_sink, sink_in) = bpprof::bounded_named::<Vec<u64>>("score->sink", CAPACITY / 8);
    spawn_subtask("Dispatcher", threads, move || {
        let deadline = Instant::now() + run_for;
        let mut seq = 0u64;
        for &index in POOL_CYCLE.iter().cycle() {
            if !before(deadline) {
                break;
            }
            let batch = make_batch(&mut seq);
            if to_pool.send((index, batch)).is_err() {
                break;
            }
            // The channel counts one record per job; the job carries BATCH.
            bpprof::count_records_out(BATCH as u64 - 1);
        }
    });
    for _ in 0..POOL_THREADS {
        let (jobs, output) = (pool_in.clone(), to_sink.clone());
        threads.push(thread::spawn(move || pool_worker(&jobs, &output)));
    }
    drop((pool_in, to_sink));
    spawn_subtask("Sink", threads, move || {
        let mut checksum = 0;
        for results in sink_in.iter() {
            // The channel counts one record per batch of results.
            bpprof::count_records_in(results.len().saturating_sub(1) as u64);
            checksum = results.into_iter().fold(checksum, sink_record);
        }
        std::hint::black_box(checksum);
    });
}

/// The Dispatcher's work per job: cuts the next [`BATCH`] records.
#[inline(never)]
fn make_batch(seq: &mut u64) -> Vec<u64> {
    (0..BATCH)
        .map(|_| {
            *seq += 1;
            generate_record(*seq)
        })
        .collect()
}

/// A pool thread: takes a job, runs it as logical subtask `Score#index`, repeats.
///
/// The pool pattern (see `docs/runtime.md`): the thread stays registered as the logical subtask
/// of its last job while it waits for the next one, and registers as the next job's subtask as
/// soon as it has it (which ends the earlier registration). So no time of the thread goes
/// unaccounted: waiting for a job is idle time of the subtask it last ran, and the job channel's
/// receiving end is Score's, which makes the Dispatcher -> Score edge and its waits visible.
fn pool_worker(jobs: &Receiver<(u32, Vec<u64>)>, output: &Sender<Vec<u64>>) {
    let mut subtask = None;
    while let Ok((index, batch)) = jobs.recv() {
        // The receive that took the job counted one record for the subtask that waited for it
        // (none before the first job); count the rest of the batch for the job's own subtask.
        let counted = u64::from(subtask.is_some());
        subtask = Some(bpprof::register("Score", index, SCORE));
        let records = batch.len() as u64;
        bpprof::count_records_in(records - counted);
        let results = batch.into_iter().map(|r| score_record(index, r)).collect();
        // One message per batch: a send per record would keep the Sink thread runnable (and
        // Score waiting for it) on a machine whose CPUs the two pool threads already fill.
        if output.send(results).is_err() {
            return;
        }
        bpprof::count_records_out(records.saturating_sub(1));
    }
}

// ---- main ----

/// `--contention` or `BPPROF_EXAMPLE_CONTENTION=1`.
fn contention() -> bool {
    std::env::args().skip(1).any(|a| a == "--contention")
        || std::env::var("BPPROF_EXAMPLE_CONTENTION").is_ok_and(|v| v == "1")
}

fn main() -> ExitCode {
    let names = || SHAPES.map(|(name, _)| name).join(", ");
    let build = match flag_or_env("--shape", "BPPROF_EXAMPLE_SHAPE") {
        None => {
            eprintln!("error: --shape NAME is required (one of {})", names());
            return ExitCode::from(2);
        }
        Some(shape) => match SHAPES.iter().find(|(name, _)| *name == shape) {
            Some((_, build)) => *build,
            None => {
                eprintln!("error: unknown shape {shape:?} (one of {})", names());
                return ExitCode::from(2);
            }
        },
    };
    let run_for = run_time(4.0);
    let recording = start_recording();

    let stop = Arc::new(AtomicBool::new(false));
    let contenders: Vec<JoinHandle<u64>> = if contention() {
        let cpus = thread::available_parallelism().map_or(1, |n| n.get());
        (0..cpus as u64)
            .map(|i| {
                let stop = Arc::clone(&stop);
                thread::spawn(move || contend(i + 1, &stop))
            })
            .collect()
    } else {
        Vec::new()
    };

    let mut threads = Vec::new();
    build(run_for, &mut threads);
    for t in threads {
        t.join().expect("pipeline thread panicked");
    }
    stop.store(true, Ordering::Relaxed);
    for c in contenders {
        std::hint::black_box(c.join().expect("contention thread panicked"));
    }
    println!("topologies: done");
    stop_recording(recording);
    ExitCode::SUCCESS
}
