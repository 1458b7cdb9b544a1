//! Problems the recorded program's runtime found (an inconsistent registration, ...) are kept in
//! the recording, and `bpprof locate` prints each once, as a warning, without failing.

mod common;

use bpprof_analysis::synth::{Load, Synth};
use bpprof_analysis::LocateReport;
use bpprof_format::{RecordingWriter, RuntimeWarning};
use common::{bpprof, code, source_task_sink, text};

const OUT_OF_RANGE: &str = "bpprof::register(\"Enrich\", 4, 4): index 4 is not below the \
                            parallelism 4; indices run from 0 to 3";
const CHANGED: &str = "bpprof::register(\"Sink\", 1, 3): Sink was registered with parallelism 2 \
                       before; pass the same parallelism for every subtask of a task";

fn registration(message: &str) -> RuntimeWarning {
    RuntimeWarning {
        code: "registration".to_owned(),
        message: message.to_owned(),
    }
}

/// Source -> Enrich -> Sink with Enrich the bottleneck, whose runtime warned about two
/// registrations, one of them in two intervals (a pool thread repeating the call).
fn recording_with_warnings(path: &std::path::Path) {
    let mut synth = Synth::new();
    let (source, enrich, sink) =
        source_task_sink(&mut synth, "Enrich", 2, ["raw", "enriched"], 100);
    for _ in 0..6 {
        synth.interval(&[
            (source, Load::new(0.2, 0.75).records(0, 400)),
            (enrich[0], Load::new(0.96, 0.0).records(200, 200)),
            (enrich[1], Load::new(0.95, 0.0).records(200, 200)),
            (sink, Load::new(0.3, 0.0).records(400, 0)),
        ]);
    }
    let mut recording = synth.recording();
    recording.intervals[0]
        .warnings
        .push(registration(OUT_OF_RANGE));
    recording.intervals[2].warnings.push(registration(CHANGED));
    recording.intervals[4]
        .warnings
        .push(registration(OUT_OF_RANGE));

    let file = std::fs::File::create(path).expect("create the recording");
    let mut writer = RecordingWriter::new(file, &recording.meta).expect("write meta");
    for chunk in &recording.intervals {
        writer.write_interval(chunk).expect("write interval");
    }
    writer
        .finish(recording.end.as_ref().expect("end chunk"))
        .expect("finish");
}

#[test]
fn locate_prints_each_runtime_warning_once_on_stderr_and_still_succeeds() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("warned.bpprof");
    recording_with_warnings(&path);
    let arg = path.to_str().expect("utf-8 temporary path");

    let output = bpprof(&["locate", arg]);
    let stderr = text(&output.stderr);
    assert_eq!(code(&output), 0, "stderr: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("bpprof::register("))
        .collect();
    assert_eq!(
        warnings,
        [
            format!("warning: {OUT_OF_RANGE}"),
            format!("warning: {CHANGED}")
        ],
        "each runtime warning once, in the order first written: {stderr}"
    );
    let stdout = text(&output.stdout);
    assert!(
        stdout.starts_with("Enrich is the bottleneck"),
        "the analysis runs as usual: {stdout}"
    );
    assert!(
        !stdout.contains("bpprof::register("),
        "warnings go to stderr, not into the report: {stdout}"
    );

    let output = bpprof(&["locate", arg, "--format", "json"]);
    assert_eq!(code(&output), 0, "stderr: {}", text(&output.stderr));
    let report: LocateReport = serde_json::from_slice(&output.stdout).expect("valid report JSON");
    assert_eq!(
        report.recording.warnings,
        [OUT_OF_RANGE, CHANGED],
        "the JSON report lists the runtime warnings"
    );
}
