//! `bpprof plan` on real recordings of the examples, where the truth is in the examples' code:
//! `slow_operator --slowdown 2` spends 5/8 of Enrich's work in `score_record`, and `slow_sink`'s
//! Sink sleeps 200 µs per record with little CPU.

mod support;

use std::ffi::OsStr;
use std::path::Path;

use bpprof_analysis::plan::PlanReport;
use support::{bpprof, example, exclusive, text};

const SECONDS: &str = "3";
const INTERVAL_MS: u64 = 250;

/// Records example `name` with `env` set, then runs `bpprof plan REC ARGS --format json`.
fn plan(name: &str, env: &[(&str, &str)], args: &[&str]) -> PlanReport {
    let dir = tempfile::tempdir().expect("temp dir");
    let rec = dir.path().join(format!("{name}.bpprof"));
    {
        let _only_pipeline = exclusive();
        let mut cmd = example(name, &rec, INTERVAL_MS);
        cmd.env("BPPROF_EXAMPLE_SECONDS", SECONDS);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let output = cmd.output().expect("run the example");
        assert!(output.status.success(), "{}", text(&output.stderr));
    }
    run_plan(&rec, args)
}

fn run_plan(rec: &Path, args: &[&str]) -> PlanReport {
    let mut all: Vec<&OsStr> = vec!["plan".as_ref(), rec.as_os_str()];
    all.extend(args.iter().map(OsStr::new));
    all.extend(["--format", "json"].map(OsStr::new));
    let output = bpprof(&all);
    assert!(output.status.success(), "{}", text(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("a bpprof.plan document")
}

#[test]
fn a_speedup_finds_the_share_of_the_slowed_function_in_a_real_recording() {
    let report = plan(
        "slow_operator",
        &[("BPPROF_EXAMPLE_SLOWDOWN", "2")],
        &[
            "--speedup",
            "slow_operator::score_record=5x",
            "--target",
            "1M",
        ],
    );
    let scenario = report.scenario.as_ref().expect("a scenario");
    let effect = &scenario.speedups[0].tasks;
    let enrich = effect
        .iter()
        .find(|t| t.task == "Enrich")
        .expect("Enrich's samples hold score_record");
    // 50,000 of Enrich's 80,000 burn rounds per record are score_record's: 62.5%.
    assert!(
        (0.5..0.75).contains(&enrich.share),
        "share {} of {} samples",
        enrich.share,
        enrich.samples
    );
    // 5x faster: 1 - 0.625 + 0.125 = half the CPU per record, and a faster job.
    let ratio = enrich.cpu_us_after / enrich.cpu_us_before;
    assert!((0.4..0.6).contains(&ratio), "{ratio}");
    assert!(
        scenario.prediction.throughput_per_s > 1.3 * report.baseline.throughput_per_s,
        "{:?} vs {:?}",
        scenario.prediction,
        report.baseline
    );
    // Enrich is busy all the time: the plan never takes a subtask from it.
    let target = report.target.as_ref().expect("a target plan");
    let enrich = target
        .parallelism
        .iter()
        .find(|p| p.task == "Enrich")
        .expect("Enrich planned");
    assert!(enrich.to >= enrich.from, "{enrich:?}");
}

#[test]
fn an_off_cpu_sink_is_modelled_as_time_that_needs_no_cpu() {
    // `--cpus 2`: the budget does not depend on what other processes took during the run.
    let report = plan(
        "slow_sink",
        &[],
        &["--set", "Sink.parallelism=2", "--cpus", "2"],
    );
    let sink = report
        .tasks
        .iter()
        .find(|t| t.task == "Sink")
        .expect("Sink modelled");
    // 200 µs of sleep per record, a few µs of CPU.
    assert!(sink.service_us >= 200.0, "{sink:?}");
    assert!(sink.cpu_us < 0.5 * sink.service_us, "{sink:?}");
    assert_eq!(report.baseline.limit.task.as_deref(), Some("Sink"));
    let scenario = report.scenario.as_ref().expect("a scenario");
    assert!(scenario.prediction.throughput_per_s > report.baseline.throughput_per_s);
}

#[test]
fn a_cpu_bound_chain_is_advised_what_the_cpus_carry_and_runs_with_the_advice() {
    // Chain (Parse -> Filter -> Enrich in one thread) is CPU work, its Filter drops 1 in 8. On a
    // budget of 2 CPUs, 1M records/s cannot be carried: the advice is the CPUs' limit, with the
    // Chain subtasks that fill them, and Chain's cost per record named as what must drop.
    let report = plan("chain", &[], &["--target", "1M", "--cpus", "2"]);
    let share = |name: &str| {
        report
            .tasks
            .iter()
            .find(|t| t.task == name)
            .unwrap_or_else(|| panic!("{name} modelled: {:?}", report.tasks))
            .share
    };
    // The Filter's 7/8 reaches the Sink, measured from its own records.
    assert!((0.8..0.95).contains(&share("Sink")), "{}", share("Sink"));
    let target = report.target.as_ref().expect("a target plan");
    assert!(!target.feasible, "{target:?}");
    assert_eq!(
        target.cost_cut.as_ref().map(|c| c.task.as_str()),
        Some("Chain")
    );
    let chain = target
        .parallelism
        .iter()
        .find(|p| p.task == "Chain")
        .expect("Chain planned");
    // One subtask per CPU (a third when its little off-CPU time rounds the need up).
    assert_eq!(chain.from, 1);
    assert!((2..=3).contains(&chain.to), "{chain:?}");
    assert_eq!(
        target.prediction.limit.task, None,
        "{:?}",
        target.prediction
    );
    // The example takes the advice.
    let advice = format!("Chain={}", chain.to);
    let advised = plan("chain", &[("BPPROF_EXAMPLE_PARALLELISM", &advice)], &[]);
    let run = advised
        .tasks
        .iter()
        .find(|t| t.task == "Chain")
        .expect("Chain modelled");
    assert_eq!(run.parallelism, chain.to, "{run:?}");
}
