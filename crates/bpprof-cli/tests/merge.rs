//! `bpprof merge`: recordings of the two ends of a link, made by two processes, merged into one
//! job graph in which `bpprof locate` finds the exchange bottleneck.

mod common;

use bpprof_analysis::synth::{Load, Synth};
use bpprof_analysis::{BottleneckKind, LocateReport};
use common::{assert_error, bpprof, error_line, text};

const LINK: &str = "Producer->Consumer";
const START: u64 = 1_700_000_000_000_000_000;

/// One end of the link: `task` (two subtasks) writing into it (`sender`) or reading from it.
fn end(task: &str, sender: bool, start_unix_ns: u64) -> Synth {
    let mut synth = Synth::new();
    synth.start_unix_ns(start_unix_ns);
    let subtasks: Vec<u32> = (0..2).map(|i| synth.subtask(task, i, 2)).collect();
    let link = if sender {
        synth.link(LINK, 64, &subtasks, &[])
    } else {
        synth.link(LINK, 64, &[], &subtasks)
    };
    for _ in 0..6 {
        let load = if sender {
            synth.blocked(link, 100, 0);
            Load::new(0.04, 0.94).records(0, 50)
        } else {
            synth.blocked(link, 0, 100);
            Load::new(0.06, 0.0).records(50, 0)
        };
        let loads: Vec<(u32, Load)> = subtasks.iter().map(|&s| (s, load)).collect();
        synth.interval(&loads);
    }
    synth
}

#[test]
fn merged_recordings_locate_the_exchange() {
    let dir = tempfile::tempdir().expect("temp dir");
    let a = dir.path().join("a.bpprof");
    let b = dir.path().join("b.bpprof");
    let job = dir.path().join("job.bpprof");
    end("Producer", true, START)
        .write_file(&a)
        .expect("write a");
    end("Consumer", false, START + 250_000_000)
        .write_file(&b)
        .expect("write b");
    let (a, b, job) = (
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        job.to_str().unwrap(),
    );

    let merged = bpprof(&["merge", a, b, "-o", job]);
    assert!(merged.status.success(), "{}", text(&merged.stderr));
    assert_eq!(
        text(&merged.stderr),
        format!("merged 2 recordings (6 intervals) into {job}\n")
    );
    assert_eq!(text(&merged.stdout), "");

    let json = bpprof(&["locate", job, "--format", "json"]);
    assert!(json.status.success(), "{}", text(&json.stderr));
    let report: LocateReport = serde_json::from_slice(&json.stdout).expect("locate JSON");
    let [bottleneck] = report.bottlenecks.as_slice() else {
        panic!("expected one bottleneck: {:#?}", report.bottlenecks);
    };
    assert_eq!(bottleneck.kind, BottleneckKind::Exchange);
    assert_eq!(bottleneck.task, "Producer");
    assert_eq!(bottleneck.downstream.as_deref(), Some("Consumer"));
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON");
    assert_eq!(value["bottlenecks"][0]["kind"], "exchange");
    assert_eq!(value["bottlenecks"][0]["downstream"], "Consumer");

    let human = bpprof(&["locate", job]);
    assert!(human.status.success(), "{}", text(&human.stderr));
    let first = text(&human.stdout)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned();
    assert!(
        first.starts_with("The exchange Producer -> Consumer is the bottleneck"),
        "{}",
        text(&human.stdout)
    );
    // The whole report of the merged job: both processes' tasks and the link between them.
    insta::assert_snapshot!(text(&human.stdout));
}

#[test]
fn merge_errors_take_one_line_and_exit_2() {
    let dir = tempfile::tempdir().expect("temp dir");
    let a = dir.path().join("a.bpprof");
    end("Producer", true, START)
        .write_file(&a)
        .expect("write a");
    let missing = dir.path().join("missing.bpprof");
    let out = dir.path().join("job.bpprof");
    let run = bpprof(&[
        "merge",
        a.to_str().unwrap(),
        missing.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_error(&run, "cannot read recording");
    let line = error_line(&run);
    assert!(line.starts_with("error: cannot read recording"), "{line}");
    assert!(!out.exists());

    let one = bpprof(&["merge", a.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    assert_eq!(one.status.code(), Some(2), "{}", text(&one.stderr));
    assert_eq!(text(&one.stderr).lines().count(), 1);
}
