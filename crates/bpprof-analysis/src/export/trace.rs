//! The states of every subtask over time as a Chrome trace (the JSON trace-event format that
//! ui.perfetto.dev and chrome://tracing open; `bpprof locate --trace`).
//!
//! [`chrome_trace`] cuts the range into the windows of [`crate::timeline`] (one interval each by
//! default) and analyses each exactly as `bpprof locate` does. The trace has one process, the job,
//! with one thread per subtask (named `TASK#INDEX`, in graph order) and a first thread
//! `bottleneck`:
//!
//! * on a subtask's thread, one complete event (`"ph": "X"`) per window, named after the state it
//!   spent most of the window in (`busy`, `backpressured`, `idle`), with the three ratios as
//!   arguments;
//! * a counter (`"ph": "C"`) per subtask, named `TASK#INDEX`, with its `busy`, `backpressured` and
//!   `idle` percentages per window (stacked, they make 100);
//! * a counter per channel, `queue NAME`, with its average fill per window (messages), and one
//!   `queue NAME max` with the highest fill seen;
//! * on the `bottleneck` thread, one complete event per window naming its bottleneck task(s).
//!
//! Times are microseconds since the recording started.
//!
//! ```
//! use bpprof_analysis::export::trace::chrome_trace;
//! use bpprof_analysis::synth::{Load, Synth};
//! use bpprof_analysis::AnalysisOptions;
//!
//! let mut synth = Synth::new();
//! let source = synth.subtask("Source", 0, 1);
//! let sink = synth.subtask("Sink", 0, 1);
//! synth.channel("events", 1024, &[source], &[sink]);
//! for _ in 0..5 {
//!     synth.interval(&[(source, Load::new(0.1, 0.9)), (sink, Load::new(0.97, 0.0))]);
//! }
//! let trace = chrome_trace(&synth.recording(), &AnalysisOptions::default()).unwrap();
//! let events = trace["traceEvents"].as_array().unwrap();
//! let sink_busy = events.iter().filter(|e| e["ph"] == "X" && e["name"] == "busy").count();
//! assert_eq!(sink_busy, 4); // the first interval is skipped, as by `locate`
//! ```

use std::io::{self, Write};

use bpprof_format::Recording;
use serde_json::{json, Value};

use crate::graph::JobGraph;
use crate::locate::tasks::analyse;
use crate::range::{check_window, AnalysisError, AnalysisOptions};
use crate::report::SubtaskReport;
use crate::units::NS_PER_S;
use crate::window;

/// The process id of the job in the trace.
const PID: u32 = 1;
/// The thread id of the `bottleneck` track; subtasks follow from 2.
const BOTTLENECK_TID: u32 = 1;

/// The trace of `recording` over the range and windows of `options` (see the module docs).
pub fn chrome_trace(
    recording: &Recording,
    options: &AnalysisOptions,
) -> Result<Value, AnalysisError> {
    check_window(options)?;
    let selection = crate::range::select(recording, options)?;
    let graph = JobGraph::from_recording(recording);
    let mut events = vec![
        metadata("process_name", None, json!({ "name": job_name(recording) })),
        metadata(
            "thread_name",
            Some(BOTTLENECK_TID),
            json!({ "name": "bottleneck" }),
        ),
        metadata(
            "thread_sort_index",
            Some(BOTTLENECK_TID),
            json!({ "sort_index": 0 }),
        ),
    ];
    let mut tids = Vec::new();
    for task in &graph.tasks {
        for &index in &task.indices {
            let tid = BOTTLENECK_TID + 1 + tids.len() as u32;
            let name = format!("{}#{index}", task.name);
            events.push(metadata("thread_name", Some(tid), json!({ "name": name })));
            events.push(metadata(
                "thread_sort_index",
                Some(tid),
                json!({ "sort_index": tid }),
            ));
            tids.push(tid);
        }
    }
    for w in window::split(recording, &selection, options.window_s) {
        let ts = w.from_s * 1e6;
        let dur = (w.to_s - w.from_s) * 1e6;
        let (tasks, _, conclusion) = analyse(recording, &graph, &w);
        let subtasks = tasks.iter().flat_map(|t| &t.subtasks);
        for (subtask, &tid) in subtasks.zip(&tids) {
            events.extend(subtask_events(subtask, tid, ts, dur));
        }
        let names: Vec<&str> = conclusion
            .bottlenecks
            .iter()
            .map(|b| b.task.as_str())
            .collect();
        if !names.is_empty() {
            let args = json!({ "verdict": conclusion.verdict });
            events.push(complete(&names.join(", "), BOTTLENECK_TID, ts, dur, args));
        }
        events.extend(queue_events(recording, &graph, &w, ts));
    }
    Ok(json!({
        "traceEvents": events,
        "displayTimeUnit": "ms",
        "otherData": {
            "program": recording.meta.program,
            "host": recording.meta.host,
            "start_unix_ns": recording.meta.start_unix_ns,
            "interval_s": recording.meta.interval_ns as f64 / NS_PER_S,
            "from_s": selection.from_s,
            "to_s": selection.to_s,
        },
    }))
}

/// Writes `trace` as JSON, followed by a newline.
pub fn write_trace(trace: &Value, mut out: impl Write) -> io::Result<()> {
    serde_json::to_writer(&mut out, trace).map_err(io::Error::from)?;
    writeln!(out)?;
    out.flush()
}

/// `job PROGRAM on HOST`.
fn job_name(recording: &Recording) -> String {
    format!("job {} on {}", recording.meta.program, recording.meta.host)
}

/// The state slice and the state counter of one subtask in one window; nothing without data.
fn subtask_events(subtask: &SubtaskReport, tid: u32, ts: f64, dur: f64) -> Vec<Value> {
    let (Some(busy), Some(backpressured), Some(idle)) =
        (subtask.busy, subtask.backpressured, subtask.idle)
    else {
        return Vec::new();
    };
    let states = [
        ("busy", busy),
        ("backpressured", backpressured),
        ("idle", idle),
    ];
    // The first of the largest: busy wins a tie, as the flame graph's colours read.
    let (main, _) =
        states.iter().copied().fold(
            ("busy", f64::MIN),
            |best, s| if s.1 > best.1 { s } else { best },
        );
    let args = json!({ "busy": busy, "backpressured": backpressured, "idle": idle });
    let percent = json!({
        "busy": busy * 100.0,
        "backpressured": backpressured * 100.0,
        "idle": idle * 100.0,
    });
    vec![
        complete(main, tid, ts, dur, args),
        counter(&subtask.name, ts, percent),
    ]
}

/// The fill counters of every channel reported in window `w`.
fn queue_events(
    recording: &Recording,
    graph: &JobGraph,
    w: &window::Selection,
    ts: f64,
) -> Vec<Value> {
    let mut sums: Vec<(u32, window::ChannelSums)> =
        window::channel_sums(recording, w).into_iter().collect();
    sums.sort_by_key(|(id, _)| *id);
    let mut events = Vec::new();
    for (id, sum) in sums.into_iter().filter(|(_, s)| s.fill_samples > 0) {
        let name = match graph.channels.get(&id) {
            Some((name, _)) if !name.is_empty() => format!("queue {name}"),
            _ => format!("queue {id}"),
        };
        let avg = sum.fill_sum as f64 / sum.fill_samples as f64;
        events.push(counter(&name, ts, json!({ "messages": avg })));
        let max = format!("{name} max");
        events.push(counter(&max, ts, json!({ "messages": sum.max_fill })));
    }
    events
}

fn metadata(name: &str, tid: Option<u32>, args: Value) -> Value {
    let mut event = json!({ "ph": "M", "name": name, "pid": PID, "args": args });
    if let Some(tid) = tid {
        event["tid"] = json!(tid);
    }
    event
}

fn complete(name: &str, tid: u32, ts: f64, dur: f64, args: Value) -> Value {
    json!({ "ph": "X", "name": name, "pid": PID, "tid": tid, "ts": ts, "dur": dur, "args": args })
}

fn counter(name: &str, ts: f64, args: Value) -> Value {
    json!({ "ph": "C", "name": name, "pid": PID, "ts": ts, "args": args })
}
