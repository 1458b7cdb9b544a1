//! `bpprof locate --trace`: the Chrome trace (ui.perfetto.dev, chrome://tracing) of the subtasks'
//! states over time, parsed back and compared with what `locate` says about each interval.

mod common;

use std::collections::BTreeMap;

use bpprof_analysis::synth::{Load, Synth};
use bpprof_analysis::LocateReport;
use common::{assert_one_error_line, bpprof, text, Fixture};
use serde_json::Value;

const INTERVALS: u64 = 9;

/// Source -> Work (2 subtasks) -> Sink, with a bottleneck that moves from Work to Sink half-way
/// and queue fills that change every interval.
fn pipeline() -> Synth {
    let mut synth = Synth::new();
    let source = synth.subtask("Source", 0, 1);
    let work0 = synth.subtask("Work", 0, 2);
    let work1 = synth.subtask("Work", 1, 2);
    let sink = synth.subtask("Sink", 0, 1);
    let input = synth.channel("input", 100, &[source], &[work0, work1]);
    let output = synth.channel("output", 50, &[work0, work1], &[sink]);
    for i in 0..INTERVALS {
        synth.fill(input, 10 * i, 10 * i + 5);
        synth.fill(output, 40 - 4 * i, 50);
        let step = i as f64 / 100.0;
        if i < 5 {
            synth.interval(&[
                (source, Load::new(0.1, 0.85)),
                (work0, Load::new(0.9 - step, 0.0)),
                (work1, Load::new(0.85, 0.0)),
                (sink, Load::new(0.2, 0.0)),
            ]);
        } else {
            synth.interval(&[
                (source, Load::new(0.1, 0.85)),
                (work0, Load::new(0.2, 0.7)),
                (work1, Load::new(0.15 + step, 0.75)),
                (sink, Load::new(0.95, 0.0)),
            ]);
        }
    }
    synth
}

fn trace(rec: &str) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("trace.json");
    let out = bpprof(&["locate", rec, "--trace", path.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("wrote trace to"), "{stderr}");
    // The report still goes to stdout.
    assert!(
        text(&out.stdout).contains("bottleneck"),
        "{}",
        text(&out.stdout)
    );
    serde_json::from_slice(&std::fs::read(&path).unwrap()).expect("the trace is JSON")
}

fn events(trace: &Value) -> &[Value] {
    trace["traceEvents"].as_array().expect("traceEvents")
}

/// Thread name to thread id, from the metadata events.
fn threads(trace: &Value) -> BTreeMap<String, u64> {
    events(trace)
        .iter()
        .filter(|e| e["ph"] == "M" && e["name"] == "thread_name")
        .map(|e| {
            let name = e["args"]["name"].as_str().unwrap().to_owned();
            (name, e["tid"].as_u64().unwrap())
        })
        .collect()
}

fn json_report(rec: &str, args: &[&str]) -> LocateReport {
    let out = bpprof(&[&["locate", rec, "--format", "json"], args].concat());
    assert!(out.status.success(), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn trace_has_one_named_track_per_subtask_in_one_job_process() {
    let rec = Fixture::new("run.bpprof", &pipeline().bytes());
    let trace = trace(rec.arg());
    let process: Vec<&Value> = events(&trace)
        .iter()
        .filter(|e| e["ph"] == "M" && e["name"] == "process_name")
        .collect();
    assert_eq!(process.len(), 1);
    assert_eq!(process[0]["args"]["name"], "job synthetic on test");
    let threads = threads(&trace);
    let names: Vec<&str> = threads.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        ["Sink#0", "Source#0", "Work#0", "Work#1", "bottleneck"]
    );
    let ids: std::collections::BTreeSet<u64> = threads.values().copied().collect();
    assert_eq!(ids.len(), threads.len(), "one thread id each");
    // Every event is of the job's process.
    assert!(events(&trace).iter().all(|e| e["pid"] == 1));
}

#[test]
fn trace_states_per_interval_match_locate_on_that_interval() {
    let rec = Fixture::new("run.bpprof", &pipeline().bytes());
    let trace = trace(rec.arg());
    let threads = threads(&trace);
    // The range of `locate`: every interval but the first.
    for n in 1..INTERVALS {
        let (from, to) = (n as f64, (n + 1) as f64);
        let report = json_report(
            rec.arg(),
            &["--from", &from.to_string(), "--to", &to.to_string()],
        );
        for task in &report.tasks {
            for subtask in &task.subtasks {
                let tid = threads[&subtask.name];
                let slices: Vec<&Value> = events(&trace)
                    .iter()
                    .filter(|e| e["ph"] == "X" && e["tid"] == tid && e["ts"] == from * 1e6)
                    .collect();
                assert_eq!(slices.len(), 1, "{} at {from} s", subtask.name);
                let slice = slices[0];
                assert_eq!(slice["dur"], 1e6);
                let states = [
                    ("busy", subtask.busy.unwrap()),
                    ("backpressured", subtask.backpressured.unwrap()),
                    ("idle", subtask.idle.unwrap()),
                ];
                for (state, ratio) in states {
                    let got = slice["args"][state].as_f64().unwrap();
                    assert!(
                        (got - ratio).abs() < 1e-9,
                        "{} {state}: {got} vs {ratio}",
                        subtask.name
                    );
                }
                let most = states.iter().max_by(|a, b| a.1.total_cmp(&b.1)).unwrap().0;
                assert_eq!(slice["name"], most, "{} at {from} s", subtask.name);

                let counter: Vec<&Value> = events(&trace)
                    .iter()
                    .filter(|e| e["ph"] == "C" && e["name"] == subtask.name.as_str())
                    .filter(|e| e["ts"] == from * 1e6)
                    .collect();
                assert_eq!(counter.len(), 1);
                let busy = counter[0]["args"]["busy"].as_f64().unwrap();
                assert!((busy - states[0].1 * 100.0).abs() < 1e-9);
                let sum: f64 = ["busy", "backpressured", "idle"]
                    .iter()
                    .map(|s| counter[0]["args"][s].as_f64().unwrap())
                    .sum();
                assert!((sum - 100.0).abs() < 1e-6, "{sum}");
            }
        }
    }
}

#[test]
fn trace_queue_fills_and_bottleneck_per_interval() {
    let rec = Fixture::new("run.bpprof", &pipeline().bytes());
    let trace = trace(rec.arg());
    let counter = |name: &str| -> Vec<(f64, f64)> {
        events(&trace)
            .iter()
            .filter(|e| e["ph"] == "C" && e["name"] == name)
            .map(|e| {
                let ts = e["ts"].as_f64().unwrap() / 1e6;
                (ts, e["args"]["messages"].as_f64().unwrap())
            })
            .collect()
    };
    let input: Vec<(f64, f64)> = (1..INTERVALS)
        .map(|n| (n as f64, 10.0 * n as f64))
        .collect();
    assert_eq!(counter("queue input"), input);
    let input_max: Vec<(f64, f64)> = (1..INTERVALS)
        .map(|n| (n as f64, 10.0 * n as f64 + 5.0))
        .collect();
    assert_eq!(counter("queue input max"), input_max);
    let output: Vec<(f64, f64)> = (1..INTERVALS)
        .map(|n| (n as f64, 40.0 - 4.0 * n as f64))
        .collect();
    assert_eq!(counter("queue output"), output);

    // The bottleneck track names each window's bottleneck, as `locate`'s JSON windows do.
    let report = json_report(rec.arg(), &[]);
    let bottleneck_tid = threads(&trace)["bottleneck"];
    let slices: Vec<(f64, String)> = events(&trace)
        .iter()
        .filter(|e| e["ph"] == "X" && e["tid"] == bottleneck_tid)
        .map(|e| {
            (
                e["ts"].as_f64().unwrap() / 1e6,
                e["name"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let windows: Vec<(f64, String)> = report
        .windows
        .iter()
        .filter(|w| !w.bottlenecks.is_empty())
        .map(|w| (w.from_s, w.bottlenecks.join(", ")))
        .collect();
    assert_eq!(slices, windows);
    assert!(slices.iter().any(|(_, b)| b == "Work"), "{slices:?}");
    assert!(slices.iter().any(|(_, b)| b == "Sink"), "{slices:?}");
}

#[test]
fn trace_windows_follow_window_option() {
    let rec = Fixture::new("run.bpprof", &pipeline().bytes());
    let out = bpprof(&["locate", rec.arg(), "--trace", "-", "--window", "2"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // Only the trace on stdout.
    let trace: Value = serde_json::from_slice(&out.stdout).expect("stdout is the trace alone");
    let work0 = threads(&trace)["Work#0"];
    let durations: Vec<f64> = events(&trace)
        .iter()
        .filter(|e| e["ph"] == "X" && e["tid"] == work0)
        .map(|e| e["dur"].as_f64().unwrap())
        .collect();
    assert_eq!(durations, [2e6; 4]);
}

#[test]
fn trace_output_is_refused_over_the_recording_and_with_another_stdout_output() {
    let rec = Fixture::new("run.bpprof", &pipeline().bytes());
    let out = bpprof(&["locate", rec.arg(), "--trace", rec.arg()]);
    assert_one_error_line(&out, "--trace");
    let out = bpprof(&["locate", rec.arg(), "--trace", "-", "--svg", "-"]);
    assert_one_error_line(&out, "--svg - and --trace - both write to stdout");
}
