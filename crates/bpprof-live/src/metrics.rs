//! `/metrics`: the history as Prometheus series.
//!
//! - Cumulative counters per logical subtask (`bpprof_subtask_*_seconds_total`, records), so that
//!   Prometheus computes ratios over any range: `rate(busy) / rate(registered)`.
//! - Flink's gauges over the last window, under Flink's names and units with Flink's labels
//!   (`bpprof_task_busyTimeMsPerSecond{job_name, task_name, subtask_index}`): a Flink dashboard's
//!   query ports over by replacing the prefix `flink_taskmanager_job_task_` with `bpprof_task_`.
//! - Per edge: capacity and fill over the last window.
//! - The bottleneck over the last window (`bpprof_bottleneck_info`, value 1).
//!
//! The labels are `job_name` (not `job`, which Prometheus sets to the scrape job), `task_name`,
//! `subtask_index` and `subtask` (`Enrich#2`).

use bpprof_analysis::{BottleneckKind, LocateReport};

use crate::exposition::{Exposition, Kind};
use crate::totals::{SubtaskTotals, Totals};

/// The counters of a logical subtask: name, help, value.
type Counter = (
    &'static str,
    &'static str,
    fn(&SubtaskTotals) -> Option<f64>,
);

const NS: f64 = 1e9;

const COUNTERS: [Counter; 8] = [
    ("bpprof_subtask_registered_seconds_total", "Wall time the subtask was registered, seconds (the base of its ratios).", |t| Some(t.wall_ns as f64 / NS)),
    ("bpprof_subtask_busy_seconds_total", "Busy time: registered, neither idle nor backpressured, seconds.", |t| Some(t.busy_ns as f64 / NS)),
    ("bpprof_subtask_idle_seconds_total", "Idle time: blocked waiting for input, seconds.", |t| Some(t.idle_ns as f64 / NS)),
    ("bpprof_subtask_backpressured_seconds_total", "Backpressured time: blocked waiting for output capacity, seconds.", |t| Some(t.backpressured_ns as f64 / NS)),
    ("bpprof_subtask_cpu_wait_seconds_total", "Time runnable but waiting for a CPU (the kernel's run-queue time), seconds; absent where the kernel does not say.", |t| t.cpu_wait_ns.map(|ns| ns as f64 / NS)),
    ("bpprof_subtask_on_cpu_seconds_total", "CPU time outside blocking waits, seconds.", |t| Some(t.on_cpu_ns as f64 / NS)),
    ("bpprof_subtask_records_in_total", "Records received.", |t| Some(t.records_in as f64)),
    ("bpprof_subtask_records_out_total", "Records sent.", |t| Some(t.records_out as f64)),
];

/// Flink's per-subtask gauges: name, help, the report's ratio.
type FlinkGauge = (
    &'static str,
    &'static str,
    fn(&bpprof_analysis::SubtaskReport) -> Option<f64>,
);

const FLINK_GAUGES: [FlinkGauge; 3] = [
    ("bpprof_task_busyTimeMsPerSecond", "Flink's busyTimeMsPerSecond over the last window: busy milliseconds per second (NaN when unknown).", |s| s.busy),
    ("bpprof_task_idleTimeMsPerSecond", "Flink's idleTimeMsPerSecond over the last window: idle milliseconds per second.", |s| s.idle),
    ("bpprof_task_backPressuredTimeMsPerSecond", "Flink's backPressuredTimeMsPerSecond over the last window: backpressured milliseconds per second.", |s| s.backpressured),
];

/// What one scrape shows, gathered by the endpoint from its history.
#[derive(Debug, Default)]
pub(crate) struct Scrape {
    /// The `job_name` label.
    pub(crate) job: String,
    /// The cumulative counters.
    pub(crate) totals: Totals,
    /// The analysis of the last window, `None` before there is one.
    pub(crate) report: Option<LocateReport>,
    /// End of the newest interval, seconds since the recording started.
    pub(crate) recorded_s: f64,
    /// The range of the window gauges, seconds.
    pub(crate) window_s: f64,
    /// Seconds of intervals the history holds.
    pub(crate) history_s: f64,
    /// Estimated bytes of the history.
    pub(crate) history_bytes: f64,
    /// Declarations the history did not keep.
    pub(crate) dropped_declarations: f64,
}

/// The document for one scrape.
pub(crate) fn render(scrape: &Scrape) -> String {
    let job = scrape.job.as_str();
    let mut doc = Exposition::default();
    counters(&mut doc, job, &scrape.totals);
    if let Some(report) = &scrape.report {
        gauges(&mut doc, job, report);
        edges(&mut doc, job, report);
        bottlenecks(&mut doc, job, report);
    }
    live(&mut doc, scrape);
    doc.finish()
}

fn counters(doc: &mut Exposition, job: &str, totals: &Totals) {
    for (name, help, value) in COUNTERS {
        doc.family(name, Kind::Counter, help);
        for (task, index, t) in totals.subtasks() {
            let Some(value) = value(t) else { continue };
            let index_text = index.to_string();
            let subtask = format!("{task}#{index}");
            doc.sample(
                name,
                &subtask_labels(job, task, &index_text, &subtask),
                value,
            );
        }
    }
}

fn subtask_labels<'a>(
    job: &'a str,
    task: &'a str,
    index: &'a str,
    subtask: &'a str,
) -> [(&'static str, &'a str); 4] {
    [
        ("job_name", job),
        ("task_name", task),
        ("subtask_index", index),
        ("subtask", subtask),
    ]
}

fn gauges(doc: &mut Exposition, job: &str, report: &LocateReport) {
    for (name, help, ratio) in FLINK_GAUGES {
        doc.family(name, Kind::Gauge, help);
        for task in &report.tasks {
            for s in &task.subtasks {
                let index = s.index.to_string();
                let value = ratio(s).map_or(f64::NAN, |r| r * 1000.0);
                doc.sample(
                    name,
                    &subtask_labels(job, &task.name, &index, &s.name),
                    value,
                );
            }
        }
    }
}

fn edges(doc: &mut Exposition, job: &str, report: &LocateReport) {
    type EdgeValue = fn(&bpprof_analysis::EdgeReport) -> Option<f64>;
    let families: [(&str, &str, EdgeValue); 4] = [
        ("bpprof_edge_capacity", "Capacity of the queues of the edge, records.", |e| e.capacity.map(|c| c as f64)),
        ("bpprof_edge_fill", "Average number of records queued on the edge over the last window.", |e| e.avg_fill),
        ("bpprof_edge_fill_ratio", "Average fill of the edge's queues over the last window, 0..1 (Flink's inPoolUsage of the receiving side).", |e| e.fill_ratio),
        ("bpprof_edge_max_fill", "Highest fill of one of the edge's queues over the last window, records.", |e| e.max_fill.map(|m| m as f64)),
    ];
    for (name, help, value) in families {
        doc.family(name, Kind::Gauge, help);
        for edge in &report.edges {
            let Some(value) = value(edge) else { continue };
            let channel = edge.channel.as_deref().unwrap_or("");
            let labels = [
                ("job_name", job),
                ("from_task", edge.from.as_str()),
                ("to_task", edge.to.as_str()),
                ("channel", channel),
            ];
            doc.sample(name, &labels, value);
        }
    }
}

fn bottlenecks(doc: &mut Exposition, job: &str, report: &LocateReport) {
    doc.family(
        "bpprof_bottleneck_info",
        Kind::Gauge,
        "The bottleneck over the last window (1 per bottleneck; none when there is none): its task, first subtask to look at, and kind.",
    );
    for b in &report.bottlenecks {
        let index = b.subtasks.first().map(u32::to_string).unwrap_or_default();
        let subtask = b
            .subtasks
            .first()
            .map(|i| format!("{}#{i}", b.task))
            .unwrap_or_default();
        let kind = kind_name(b.kind);
        let labels = [
            ("job_name", job),
            ("task_name", b.task.as_str()),
            ("subtask_index", index.as_str()),
            ("subtask", subtask.as_str()),
            ("kind", kind.as_str()),
        ];
        doc.sample("bpprof_bottleneck_info", &labels, 1.0);
    }
}

/// The kind as `bpprof locate --format json` spells it (its serde name).
fn kind_name(kind: BottleneckKind) -> String {
    serde_json::to_value(kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn live(doc: &mut Exposition, scrape: &Scrape) {
    let families = [
        (
            "bpprof_live_recorded_seconds",
            Kind::Gauge,
            "End of the newest interval the counters include, seconds since the recording started (what bpprof locate --to takes).",
            scrape.recorded_s,
        ),
        (
            "bpprof_live_window_seconds",
            Kind::Gauge,
            "The range of the window gauges, seconds.",
            scrape.window_s,
        ),
        (
            "bpprof_live_history_seconds",
            Kind::Gauge,
            "Seconds of intervals the endpoint's history holds.",
            scrape.history_s,
        ),
        (
            "bpprof_live_history_bytes",
            Kind::Gauge,
            "Estimated bytes of the endpoint's history.",
            scrape.history_bytes,
        ),
        (
            "bpprof_live_dropped_declarations_total",
            Kind::Counter,
            "Declarations the history did not keep (beyond its cap).",
            scrape.dropped_declarations,
        ),
    ];
    for (name, kind, help, value) in families {
        doc.family(name, kind, help);
        doc.sample(name, &[], value);
    }
}
