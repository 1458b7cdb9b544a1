//! Validated registration: `try_register` refuses an inconsistent call and registers nothing,
//! `register` registers it anyway and leaves one warning in the recording; and a thread that
//! registers again (a pool thread switching subtasks) starts the new registration where the old
//! one ended.
//!
//! The registry is process-global and remembers every task's parallelism: each test uses task
//! names of its own, and holds the recorder lock.

mod common;

use std::thread;
use std::time::{Duration, Instant};

use bpprof::RegisterError;
use bpprof_format::{ReadWarning, Recording};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Runs `f` on a fresh thread (never registered) and returns its result.
fn on_fresh_thread<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    thread::spawn(f).join().expect("thread panicked")
}

/// `try_register(task, index, parallelism)` on a fresh thread: its error, after checking that
/// the thread is still unregistered.
fn refused(task: &'static str, index: u32, parallelism: u32) -> RegisterError {
    on_fresh_thread(move || {
        let err = bpprof::try_register(task, index, parallelism)
            .expect_err("an inconsistent registration is refused");
        assert_eq!(
            bpprof::current_state(),
            None,
            "a refused try_register({task:?}, {index}, {parallelism}) registered the thread"
        );
        err
    })
}

/// Stops the recorder and reads the recording without requiring it to be free of warnings.
fn finish_with_warnings(rec: common::Rec) -> Recording {
    let summary = rec.recorder.stop().expect("stop recorder");
    let recording = bpprof_format::read_file(&rec.path).expect("read recording");
    assert_eq!(recording.intervals.len() as u64, summary.chunks);
    assert!(recording.end.is_some(), "end chunk");
    common::assert_tiles(&recording.intervals);
    recording
}

/// Every runtime warning written in the recording's chunks, as (code, message), in file order.
fn chunk_warnings(recording: &Recording) -> Vec<(String, String)> {
    recording
        .intervals
        .iter()
        .flat_map(|c| &c.warnings)
        .map(|w| (w.code.clone(), w.message.clone()))
        .collect()
}

/// The reader's runtime warnings, as messages, in order.
fn read_runtime_warnings(recording: &Recording) -> Vec<String> {
    recording
        .warnings
        .iter()
        .map(|w| match w {
            ReadWarning::Runtime { code, message } => {
                assert_eq!(code, "registration", "{w:?}");
                assert_eq!(
                    w.to_string(),
                    *message,
                    "a runtime warning reads as its message"
                );
                message.clone()
            }
            other => panic!("unexpected reader warning {other:?}"),
        })
        .collect()
}

#[test]
fn try_register_refuses_each_inconsistent_registration_and_registers_nothing() {
    let _lock = common::recorder_lock();
    let rec = common::start("try_register");

    assert_eq!(
        refused("", 0, 1),
        RegisterError::EmptyTask {
            index: 0,
            parallelism: 1
        }
    );
    assert_eq!(
        refused("Val.Try.Zero", 0, 0),
        RegisterError::ZeroParallelism {
            task: "Val.Try.Zero".into(),
            index: 0
        }
    );
    let err = refused("Val.Try.Range", 4, 4);
    assert_eq!(
        err,
        RegisterError::IndexOutOfRange {
            task: "Val.Try.Range".into(),
            index: 4,
            parallelism: 4
        }
    );
    assert_eq!(
        err.to_string(),
        "bpprof::register(\"Val.Try.Range\", 4, 4): index 4 is not below the parallelism 4; \
         indices run from 0 to 3"
    );
    // A refused call does not fix the task's parallelism: a consistent one with another still
    // registers.
    on_fresh_thread(|| {
        let guard = bpprof::try_register("Val.Try.Range", 1, 2).expect("consistent");
        assert_eq!(guard.name(), "Val.Try.Range#1");
        assert_eq!(bpprof::current_state(), Some(bpprof::State::Busy));
    });

    // The first registration fixes the parallelism; another one is refused, the same accepted.
    let (first_tx, first_rx) = std::sync::mpsc::channel();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let holder = thread::spawn(move || {
        let _guard = bpprof::try_register("Val.Try.Par", 0, 2).expect("first registration");
        first_tx.send(()).unwrap();
        release_rx.recv().unwrap();
    });
    first_rx.recv().unwrap();
    assert_eq!(
        refused("Val.Try.Par", 1, 3),
        RegisterError::ParallelismChanged {
            task: "Val.Try.Par".into(),
            index: 1,
            parallelism: 3,
            earlier: 2
        }
    );
    on_fresh_thread(|| drop(bpprof::try_register("Val.Try.Par", 1, 2).expect("same parallelism")));
    release_tx.send(()).unwrap();
    holder.join().unwrap();
    // Still after the first registration has ended.
    assert!(matches!(
        refused("Val.Try.Par", 0, 4),
        RegisterError::ParallelismChanged { earlier: 2, .. }
    ));

    // A declared parallelism counts as the first registration's.
    bpprof::declare_task("Val.Try.Declared", 3, false);
    let err = refused("Val.Try.Declared", 0, 4);
    assert_eq!(
        err,
        RegisterError::ParallelismChanged {
            task: "Val.Try.Declared".into(),
            index: 0,
            parallelism: 4,
            earlier: 3
        }
    );
    assert!(
        err.to_string()
            .contains("Val.Try.Declared was registered with parallelism 3 before"),
        "{err}"
    );
    on_fresh_thread(|| drop(bpprof::try_register("Val.Try.Declared", 2, 3).expect("declared")));

    // A refused call on a registered thread leaves its registration in place.
    on_fresh_thread(|| {
        let guard = bpprof::register("Val.Try.Keep", 0, 1);
        thread::sleep(ms(20));
        assert!(bpprof::try_register("Val.Try.Keep", 1, 1).is_err());
        assert!(bpprof::try_register("", 0, 1).is_err());
        assert_eq!(bpprof::current_state(), Some(bpprof::State::Busy));
        assert_eq!(guard.name(), "Val.Try.Keep#0");
        thread::sleep(ms(20));
    });

    // `common::Rec::finish` checks that the recording has no warning: refusals leave none.
    let recording = rec.finish();
    let tasks: Vec<String> = common::declarations(&recording)
        .into_iter()
        .map(|d| d.task)
        .filter(|t| t.starts_with("Val.Try.") || t.is_empty() || t == "(unnamed)")
        .collect();
    let mut expected = vec![
        "Val.Try.Range",
        "Val.Try.Par",
        "Val.Try.Par",
        "Val.Try.Declared",
        "Val.Try.Keep",
    ];
    let mut got: Vec<&str> = tasks.iter().map(String::as_str).collect();
    expected.sort_unstable();
    got.sort_unstable();
    assert_eq!(
        got, expected,
        "only the accepted registrations are recorded"
    );
    let keep = common::only_declaration(&recording, "Val.Try.Keep");
    let total = common::total_of(&recording, keep.id);
    assert!(
        total.wall_ns >= 40_000_000,
        "the registration outlived the refused calls: {total:?}"
    );
    common::assert_lifecycle(&recording, keep.id);
}

#[test]
fn register_registers_inconsistent_calls_anyway_and_leaves_one_warning_for_each() {
    let _lock = common::recorder_lock();
    let rec = common::start("register_warns");
    let register_on_fresh_thread = |task: &'static str, index: u32, parallelism: u32| {
        on_fresh_thread(move || {
            let guard = bpprof::register(task, index, parallelism);
            assert_eq!(
                bpprof::current_state(),
                Some(bpprof::State::Busy),
                "register({task:?}, {index}, {parallelism}) registers anyway"
            );
            thread::sleep(ms(5));
            guard.name()
        })
    };
    assert_eq!(register_on_fresh_thread("", 0, 1), "(unnamed)#0");
    assert_eq!(
        register_on_fresh_thread("Val.Warn.Zero", 0, 0),
        "Val.Warn.Zero#0"
    );
    // The same inconsistent call twice, in one interval: one warning.
    assert_eq!(
        register_on_fresh_thread("Val.Warn.Enrich", 4, 4),
        "Val.Warn.Enrich#4"
    );
    assert_eq!(
        register_on_fresh_thread("Val.Warn.Enrich", 4, 4),
        "Val.Warn.Enrich#4"
    );
    assert_eq!(
        register_on_fresh_thread("Val.Warn.Changed", 0, 2),
        "Val.Warn.Changed#0"
    );
    assert_eq!(
        register_on_fresh_thread("Val.Warn.Changed", 1, 3),
        "Val.Warn.Changed#1"
    );
    let recording = finish_with_warnings(rec);

    let expected = [
        "bpprof::register(\"\", 0, 1): the task name is empty; give the task a name",
        "bpprof::register(\"Val.Warn.Zero\", 0, 0): the parallelism is 0; pass the number of \
         subtasks of Val.Warn.Zero",
        "bpprof::register(\"Val.Warn.Enrich\", 4, 4): index 4 is not below the parallelism 4; \
         indices run from 0 to 3",
        "bpprof::register(\"Val.Warn.Changed\", 1, 3): Val.Warn.Changed was registered with \
         parallelism 2 before; pass the same parallelism for every subtask of a task",
    ];
    let written = chunk_warnings(&recording);
    assert_eq!(
        written.len(),
        expected.len(),
        "one warning per distinct problem: {written:#?}"
    );
    for message in expected {
        assert_eq!(
            written.iter().filter(|(_, m)| m == message).count(),
            1,
            "{message:?} in {written:#?}"
        );
    }
    assert!(written.iter().all(|(code, _)| code == "registration"));
    let read = read_runtime_warnings(&recording);
    assert_eq!(read.len(), expected.len(), "{read:#?}");
    for message in expected {
        assert!(
            read.iter().any(|m| m == message),
            "{message:?} in {read:#?}"
        );
    }

    // Registered under a name and parallelism that keep the data readable.
    let unnamed = common::only_declaration(&recording, "(unnamed)");
    assert_eq!((unnamed.index, unnamed.parallelism), (0, 1));
    assert!(common::declarations_of(&recording, "").is_empty());
    let zero = common::only_declaration(&recording, "Val.Warn.Zero");
    assert_eq!((zero.index, zero.parallelism), (0, 1));
    let enrich = common::declarations_of(&recording, "Val.Warn.Enrich");
    assert_eq!(enrich.len(), 2, "{enrich:?}");
    for decl in &enrich {
        assert_eq!(
            (decl.index, decl.parallelism),
            (4, 5),
            "raised to index + 1"
        );
        common::assert_lifecycle(&recording, decl.id);
    }
    let mut changed = common::declarations_of(&recording, "Val.Warn.Changed");
    changed.sort_by_key(|d| d.index);
    let changed: Vec<(u32, u32)> = changed.iter().map(|d| (d.index, d.parallelism)).collect();
    assert_eq!(changed, [(0, 2), (1, 3)], "each as registered");
}

#[test]
fn the_same_inconsistent_registration_repeated_for_several_intervals_reads_as_one_warning() {
    let _lock = common::recorder_lock();
    let rec = common::start("repeated_warning");
    let registrations = on_fresh_thread(|| {
        let start = Instant::now();
        let mut guard = None;
        let mut n = 0;
        // About four 100 ms intervals.
        while start.elapsed() < ms(400) {
            guard = Some(bpprof::register("Val.Repeat", 3, 3));
            n += 1;
            thread::sleep(ms(20));
        }
        drop(guard);
        n
    });
    let recording = finish_with_warnings(rec);

    let message = "bpprof::register(\"Val.Repeat\", 3, 3): index 3 is not below the parallelism \
                   3; indices run from 0 to 2";
    assert_eq!(read_runtime_warnings(&recording), [message]);
    let written = chunk_warnings(&recording);
    println!(
        "{registrations} registrations, {} chunks, the warning written in {} of them",
        recording.intervals.len(),
        written.len()
    );
    assert!(
        !written.is_empty() && written.iter().all(|(_, m)| m == message),
        "{written:#?}"
    );
    for chunk in &recording.intervals {
        assert!(
            chunk.warnings.len() <= 1,
            "chunk {}: {:?}",
            chunk.seq,
            chunk.warnings
        );
    }
    assert_eq!(
        common::declarations_of(&recording, "Val.Repeat").len(),
        registrations
    );
}

#[test]
fn a_pool_thread_switching_subtasks_loses_no_time_between_registrations() {
    let _lock = common::recorder_lock();
    let rec = common::start("pool_switch");
    let (registrations, span_ns, thread_cpu_ns) = on_fresh_thread(|| {
        let cpu_before = common::thread_cpu_ns();
        let start = Instant::now();
        let mut guard = None;
        let mut n = 0u32;
        while start.elapsed() < ms(1_000) {
            // Ends the previous registration (its guard is dropped right after, a no-op).
            guard = Some(bpprof::register("Val.Pool", n % 4, 4));
            n += 1;
            let job = Instant::now();
            while job.elapsed() < ms(1) {
                std::hint::spin_loop();
            }
        }
        drop(guard);
        let span = start.elapsed().as_nanos() as u64;
        (n, span, common::thread_cpu_ns() - cpu_before)
    });
    let recording = rec.finish();

    let mut decls = common::declarations_of(&recording, "Val.Pool");
    assert_eq!(
        decls.len(),
        registrations as usize,
        "every registration is recorded"
    );
    decls.sort_by_key(|d| d.registered_ns);
    for (i, decl) in decls.iter().enumerate() {
        assert_eq!(decl.index, i as u32 % 4, "registration {i}: {decl:?}");
    }
    let totals: Vec<_> = decls
        .iter()
        .map(|d| common::total_of(&recording, d.id))
        .collect();
    for (i, pair) in decls.windows(2).enumerate() {
        let end = pair[0].registered_ns + totals[i].wall_ns;
        assert_eq!(
            pair[1].registered_ns,
            end,
            "registration {} starts where registration {i} ended",
            i + 1
        );
    }
    for total in &totals {
        assert!(total.ended, "{total:?}");
    }
    let wall: u64 = totals.iter().map(|t| t.wall_ns).sum();
    println!("{registrations} registrations: walls {wall} ns of a {span_ns} ns span");
    assert!(
        wall <= span_ns && wall * 100 >= span_ns * 97,
        "the registrations' walls add up to {wall} ns, the thread switched for {span_ns} ns"
    );
    let cpu: u64 = totals.iter().map(|t| t.cpu_ns).sum();
    assert!(
        cpu <= thread_cpu_ns && cpu * 100 >= thread_cpu_ns * 95,
        "the registrations' CPU adds up to {cpu} ns, the thread used {thread_cpu_ns} ns"
    );
    let idle: u64 = totals.iter().map(|t| t.idle_ns + t.backpressured_ns).sum();
    assert_eq!(idle, 0, "the pool thread never waited");
}

/// A thread that exits with its guard forgotten is deregistered by its thread-local's destructor:
/// its subtask ends with the thread instead of staying "busy 100%" for the rest of the recording.
#[test]
fn a_forgotten_guard_ends_its_subtask_when_the_thread_exits() {
    let _lock = common::recorder_lock();
    let rec = common::start("forgotten_guard");
    let worker = thread::spawn(|| {
        std::mem::forget(bpprof::register("Forgotten.Guard", 0, 1));
        thread::sleep(ms(30));
    });
    worker.join().unwrap();
    // Long enough after the thread's exit for several intervals (100 ms each).
    thread::sleep(ms(350));
    let recording = rec.finish();
    let id = common::only_declaration(&recording, "Forgotten.Guard").id;
    let entries: Vec<_> = recording
        .intervals
        .iter()
        .flat_map(|i| i.subtasks.iter().filter(|s| s.id == id))
        .collect();
    assert!(
        entries.last().is_some_and(|s| s.ended),
        "the subtask did not end with its thread: {entries:?}"
    );
    let total = common::total_of(&recording, id);
    assert!(
        total.wall_ns < 200_000_000,
        "the subtask was accounted {} ns, though its thread lived about 30 ms",
        total.wall_ns
    );
}
