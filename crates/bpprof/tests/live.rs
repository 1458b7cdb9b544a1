//! The live endpoint over a running pipeline: `/metrics` in the Prometheus format names the slow
//! subtask, the JSON API answers as `bpprof locate` and `bpprof flame` do, bad requests get JSON
//! errors, and the history rebuilt by the endpoint analyses exactly as the file does.

mod live_common;

use std::time::Duration;

use bpprof_analysis::{AnalysisOptions, LocateReport};
use live_common::{get, json, raw, samples, value_of, Live};

#[test]
fn the_endpoint_serves_the_running_pipeline() {
    let _one_recorder = live_common::exclusive();
    // No stack sampling here: a debug build's writer, symbolising samples on a loaded machine,
    // falls behind and merges intervals. The flame graphs have a test of their own.
    let live = Live::start(0, Duration::from_secs(3));
    let addr = live.addr();

    // /metrics: the Prometheus text format, counters per subtask, Flink's gauges, the bottleneck.
    let first = get(addr, "/metrics");
    assert_eq!(first.status, 200);
    assert!(
        first
            .header("content-type")
            .unwrap()
            .starts_with("text/plain; version=0.0.4"),
        "{}",
        first.head
    );
    let text = first.text();
    // Slow never waits; the others do (how long depends on the machine's load: waiting for a
    // CPU after a wait is busy time, and on a loaded machine that is most of theirs).
    let series = |name: &str, subtask| value_of(&text, name, subtask).unwrap();
    let busy = |subtask| series("bpprof_subtask_busy_seconds_total", subtask);
    let registered = series("bpprof_subtask_registered_seconds_total", "Slow#0");
    assert!(registered >= 2.5, "{text}");
    assert!(
        busy("Slow#0") >= 0.9 * registered && busy("Slow#0") <= registered,
        "{text}"
    );
    for other in ["Source#0", "Sink#0"] {
        assert!(busy("Slow#0") > busy(other), "{text}");
    }
    let gauge = |subtask| series("bpprof_task_busyTimeMsPerSecond", subtask);
    assert!(
        gauge("Slow#0") > 900.0 && gauge("Slow#0") <= 1000.0,
        "{text}"
    );
    let bp = |subtask| series("bpprof_task_backPressuredTimeMsPerSecond", subtask);
    assert!(
        bp("Slow#0") < 50.0 && bp("Source#0") > bp("Slow#0"),
        "Source waits for Slow: {text}"
    );
    let idle = |subtask| series("bpprof_task_idleTimeMsPerSecond", subtask);
    assert!(
        idle("Slow#0") < 50.0 && idle("Sink#0") > idle("Slow#0"),
        "Sink waits for Slow: {text}"
    );
    let sum = gauge("Sink#0") + idle("Sink#0") + bp("Sink#0");
    assert!(
        (sum - 1000.0).abs() < 1.0,
        "busy + idle + backpressured = 1000 ms/s: {sum}"
    );
    assert!(value_of(&text, "bpprof_subtask_records_in_total", "Slow#0").unwrap() > 0.0);
    let all = samples(&text);
    let bottleneck: Vec<_> = all
        .iter()
        .filter(|(name, _, _)| name == "bpprof_bottleneck_info")
        .collect();
    assert_eq!(bottleneck.len(), 1, "{text}");
    let label = |key: &str| {
        bottleneck[0]
            .1
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(label("task_name").as_deref(), Some("Slow"));
    assert_eq!(label("kind").as_deref(), Some("cpu"));
    let capacity = all.iter().find(|(name, labels, _)| {
        name == "bpprof_edge_capacity" && labels.iter().any(|(k, v)| k == "to_task" && v == "Slow")
    });
    assert_eq!(capacity.map(|c| c.2), Some(64.0), "{text}");
    let fill = all.iter().find(|(name, labels, _)| {
        name == "bpprof_edge_fill_ratio"
            && labels.iter().any(|(k, v)| k == "to_task" && v == "Slow")
    });
    assert!(
        fill.is_some_and(|f| f.2 > 0.5),
        "Slow's input queue is full: {text}"
    );

    // Counters only go up.
    std::thread::sleep(Duration::from_millis(500));
    let later = get(addr, "/metrics").text();
    let later_busy = value_of(&later, "bpprof_subtask_busy_seconds_total", "Slow#0").unwrap();
    assert!(later_busy > busy("Slow#0"), "{later}");

    // The locate report of the last two seconds, in `bpprof locate --format json`'s schema.
    let located = get(addr, "/api/v1/locate?seconds=2");
    assert_eq!(located.status, 200, "{}", located.text());
    let report: LocateReport = serde_json::from_slice(&located.body).expect("locate schema");
    assert_eq!(
        report.bottlenecks.first().map(|b| b.task.as_str()),
        Some("Slow"),
        "{}",
        located.text()
    );
    let span = |r: &LocateReport| r.recording.to_s - r.recording.from_s;
    // At least the two seconds asked for: every interval that overlaps them.
    assert!(span(&report) >= 2.0 - 1e-6, "{:?}", report.recording);
    // The range is cut at interval bounds (intervals the recorder merged are long): a longer
    // request covers more intervals.
    let longer: LocateReport =
        serde_json::from_slice(&get(addr, "/api/v1/locate?seconds=3").body).unwrap();
    assert!(longer.recording.intervals > report.recording.intervals);
    assert!(span(&longer) >= 3.0 - 1e-6);

    // The timeline, in windows of half a second.
    let timeline = json(&get(addr, "/api/v1/timeline?seconds=3&window=0.5"));
    let windows = timeline["windows"].as_array().expect("windows");
    // Windows tile the range (fewer than six when the recorder merged intervals).
    assert!(windows.len() >= 2, "{timeline}");
    for pair in windows.windows(2) {
        assert_eq!(pair[0]["to_s"], pair[1]["from_s"], "{timeline}");
    }
    let covered =
        windows.last().unwrap()["to_s"].as_f64().unwrap() - windows[0]["from_s"].as_f64().unwrap();
    assert!(covered >= 2.5, "{timeline}");
    let strip = timeline["timeline"]["strip"].as_array().expect("strip");
    assert_eq!(strip.len(), 3, "{timeline}");

    // Bad requests: a JSON error naming the problem.
    let error = |path: &str, status: u16, code: &str| {
        let response = get(addr, path);
        assert_eq!(response.status, status, "{path}: {}", response.text());
        let body = json(&response);
        assert_eq!(body["error"]["code"], code, "{path}: {body}");
        assert!(!body["error"]["message"].as_str().unwrap().is_empty());
    };
    error("/api/v1/locate?seconds=abc", 400, "bad_parameter");
    error("/api/v1/locate?seconds=-1", 400, "bad_parameter");
    error("/api/v1/locate?seconds=100000", 400, "bad_parameter");
    error("/api/v1/locate?since=3", 400, "bad_parameter");
    error("/api/v1/locate?window=0", 400, "bad_parameter");
    error("/api/v1/flame?subtask=Slow", 400, "bad_parameter");
    error("/api/v1/flame?format=png", 400, "bad_parameter");
    error("/api/v1/flame?subtask=Nope%230", 404, "unknown_subtask");
    error("/api/v1/flame?subtask=Slow%230", 404, "no_samples");
    error("/metrics?x=1", 400, "bad_parameter");
    error("/api/v2/locate", 404, "not_found");
    let post = raw(
        addr,
        b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    assert_eq!(post.status, 405);
    assert_eq!(post.header("allow").as_deref(), Some("GET"));

    // Once the run is over, the whole history analyses as the file does.
    let Live {
        server,
        recorder,
        pipeline,
        path,
        dir: _dir,
    } = live;
    pipeline.stop();
    recorder.stop().expect("stop the recorder");
    let whole = get(addr, "/api/v1/locate?seconds=300");
    assert_eq!(whole.status, 200, "{}", whole.text());
    let live_report: LocateReport = serde_json::from_slice(&whole.body).unwrap();
    let recording = bpprof_format::read_file(&path).unwrap();
    let file_report = bpprof_analysis::locate(
        &recording,
        &AnalysisOptions {
            from_s: Some(live_report.recording.from_s),
            ..AnalysisOptions::default()
        },
    )
    .unwrap();
    assert_eq!(
        live_report.recording.intervals,
        file_report.recording.intervals
    );
    assert_eq!(live_report.verdict, file_report.verdict);
    assert_eq!(live_report.tasks, file_report.tasks);
    assert_eq!(live_report.edges, file_report.edges);
    server.stop();
}

#[test]
fn the_endpoint_draws_flame_graphs_of_the_last_seconds() {
    let _one_recorder = live_common::exclusive();
    let live = Live::start(49, Duration::from_secs(2));
    let addr = live.addr();
    // Flame graphs of a chosen subtask, folded and SVG.
    let folded = get(addr, "/api/v1/flame?subtask=Slow%230&seconds=2");
    assert_eq!(folded.status, 200, "{}", folded.text());
    let lines = folded.text();
    assert!(
        lines
            .lines()
            .any(|l| l.starts_with("[busy];") && l.contains("spin_cpu")),
        "{lines}"
    );
    let svg = get(
        addr,
        "/api/v1/flame?subtask=Slow%230&format=svg&mode=on-cpu",
    );
    assert_eq!(svg.status, 200);
    assert_eq!(svg.header("content-type").as_deref(), Some("image/svg+xml"));
    assert!(svg.text().trim_end().ends_with("</svg>"));

    live.stop();
}
