//! `bpprof plan`: its outputs on a synthetic recording with known costs, and its errors.

mod common;

use bpprof_analysis::plan::PlanReport;
use bpprof_analysis::synth::{Load, Synth};
use bpprof_format::SampleState;
use common::{assert_one_error_line, bpprof, code, source_task_sink, text, Fixture};

/// Source -> Work(2) -> Sink: each Work subtask costs 1 ms of CPU per record and is busy all the
/// time at 1,000 records/s, 20% of its on-CPU samples in `app::score`; Sink costs 0.25 ms.
fn recording() -> Fixture {
    let mut synth = Synth::new();
    let (source, work, sink) = source_task_sink(&mut synth, "Work", 2, ["sw", "ws"], 64);
    for _ in 0..6 {
        for &w in &work {
            synth.sample(w, SampleState::Busy, true, &["main", "app::work"], 80);
            synth.sample(
                w,
                SampleState::Busy,
                true,
                &["main", "app::work", "app::score"],
                20,
            );
        }
        synth.interval(&[
            (source, Load::new(0.01, 0.95).records(0, 2000)),
            (work[0], Load::new(1.0, 0.0).records(1000, 1000)),
            (work[1], Load::new(1.0, 0.0).records(1000, 1000)),
            (sink, Load::new(0.5, 0.0).records(2000, 0)),
        ]);
    }
    Fixture::new("work.bpprof", &synth.bytes())
}

#[test]
fn plan_json_gives_the_parallelism_for_the_target_and_what_a_speedup_buys() {
    let rec = recording();
    let out = bpprof(&[
        "plan",
        rec.arg(),
        "--target",
        "3k",
        "--speedup",
        "score=2x",
        "--format",
        "json",
    ]);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    let report: PlanReport = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report.schema, "bpprof.plan");
    assert_eq!((report.schema_version, report.schema_minor), (1, 1));
    // 4 CPUs (the synthetic machine's); Work's cost drops to 0.9 ms: 3,000 × 0.9 ms = 2.7 -> 3.
    let target = report.target.unwrap();
    let work = target
        .parallelism
        .iter()
        .find(|p| p.task == "Work")
        .unwrap();
    assert_eq!((work.from, work.to), (2, 3));
    assert!(target.feasible);
    let speedup = &report.scenario.unwrap().speedups[0].tasks[0];
    assert!((speedup.cpu_us_after - 900.0).abs() < 1e-6, "{speedup:?}");
}

#[test]
fn plan_human_output_names_the_next_limit_and_the_assumptions() {
    let rec = recording();
    let out = bpprof(&["plan", rec.arg(), "--set", "Work.parallelism=4"]);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    // Work(4) and the Sink carry 4,000 records/s, but the 4 CPUs only 4 / 1.255 ms = 3,187
    // (Source 5 µs, Work 1 ms, Sink 250 µs of CPU per record).
    assert!(
        stdout.contains(
            "With Work 2 -> 4: 2,000 records/s -> 3,187 records/s (+59.4%), limited by the CPUs"
        ),
        "{stdout}"
    );
    // The change already reaches the CPUs: no step is left.
    assert!(!stdout.contains("Steps ("), "{stdout}");
    // The whole plan: the next limit (Work's 4 subtasks at 4,000 records/s) and the assumptions.
    insta::assert_snapshot!(stdout);
}

#[test]
fn plan_refuses_bad_input_with_one_error_line() {
    let rec = recording();
    for (args, mentions) in [
        (
            vec!["--target", "fast"],
            "give a positive number of records per second",
        ),
        (
            vec!["--target", "-3"],
            "give a positive number of records per second",
        ),
        (vec!["--cpus", "0"], "give a positive number of CPUs"),
        (
            vec!["--set", "Enrich.parallelism=8"],
            "unknown task 'Enrich'; available: Source, Work, Sink",
        ),
        (vec!["--set", "Work=8"], "expected TASK.parallelism=N"),
        (vec!["--speedup", "score=fast"], "expected FUNCTION=FACTORx"),
        (
            vec!["--speedup", "scroe=2x"],
            "no on-CPU sample of any task holds a frame 'scroe'",
        ),
    ] {
        let mut all = vec!["plan", rec.arg()];
        all.extend(args);
        let out = bpprof(&all);
        assert_one_error_line(&out, mentions);
    }
    let out = bpprof(&["plan", "missing.bpprof"]);
    assert_one_error_line(&out, "cannot read recording 'missing.bpprof'");
}
