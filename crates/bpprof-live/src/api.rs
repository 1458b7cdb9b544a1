//! What the endpoint answers: one function per path, each a [`Reply`]. The analysis is
//! `bpprof-analysis`'s own ([`bpprof_analysis::locate`], [`flame::fold`]) run on the history's
//! last seconds rebuilt as a recording, so the JSON is the schema of `bpprof locate --format json`.
//! Every range ends at the newest interval, or at `to` when the request says so (the page's time
//! slider over a recording).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bpprof_analysis::flame::{
    self, FlameError, FlameOptions, Mode as FlameMode, Selection, SvgOptions,
};
use bpprof_analysis::picture;
use bpprof_analysis::{AnalysisError, AnalysisOptions, LocateReport};
use serde_json::json;

use crate::exposition;
use crate::history::{History, Range};
use crate::metrics;
use crate::query::{BadRequest, Query};
use crate::source::Source;

/// The live page: self-contained HTML and script that read this endpoint's `/api/v1` only.
const PAGE: &str = include_str!("page.html");

/// Default range of the JSON routes, seconds (what Flink's flame graphs cover, too).
const DEFAULT_SECONDS: f64 = 30.0;
/// Default range of the job graph, seconds: what the live page redraws every second.
const GRAPH_SECONDS: f64 = 10.0;

/// A response: status, content type and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reply {
    /// HTTP status code.
    pub(crate) status: u16,
    /// `Content-Type`.
    pub(crate) content_type: &'static str,
    /// The body.
    pub(crate) body: Vec<u8>,
}

impl Reply {
    fn ok(content_type: &'static str, body: Vec<u8>) -> Reply {
        Reply {
            status: 200,
            content_type,
            body,
        }
    }

    fn json(value: &serde_json::Value) -> Reply {
        // Serialising a JSON value to memory does not fail.
        Reply::ok(JSON, serde_json::to_vec_pretty(value).unwrap_or_default())
    }

    fn report(report: &LocateReport) -> Reply {
        // The analysis' own types serialise to memory without failing.
        Reply::ok(JSON, serde_json::to_vec_pretty(report).unwrap_or_default())
    }

    /// A JSON error: `{"error": {"status", "code", "message"}}`.
    pub(crate) fn error(status: u16, code: &str, message: impl Into<String>) -> Reply {
        Reply {
            status,
            content_type: JSON,
            body: serde_json::to_vec_pretty(&json!({
                "error": { "status": status, "code": code, "message": message.into() }
            }))
            .unwrap_or_default(),
        }
    }
}

const JSON: &str = "application/json";

impl From<BadRequest> for Reply {
    fn from(bad: BadRequest) -> Reply {
        Reply::error(400, "bad_parameter", bad.0)
    }
}

impl From<AnalysisError> for Reply {
    fn from(e: AnalysisError) -> Reply {
        match e {
            AnalysisError::NoIntervals => Reply::error(
                503,
                "no_data",
                format!("{e}; try again when the recorder has written a few intervals"),
            ),
            // Waiting does not help: the range asked for lies outside what is held.
            AnalysisError::EmptyRange { .. } => {
                Reply::error(404, "no_data_in_range", e.to_string())
            }
            AnalysisError::InvalidRange { .. } | AnalysisError::InvalidWindow { .. } => {
                Reply::error(400, "bad_parameter", e.to_string())
            }
        }
    }
}

impl From<FlameError> for Reply {
    fn from(e: FlameError) -> Reply {
        match e {
            FlameError::Analysis(e) => e.into(),
            FlameError::BadSubtaskName { .. } => Reply::error(400, "bad_parameter", e.to_string()),
            FlameError::UnknownSubtask { .. }
            | FlameError::UnknownTask { .. }
            | FlameError::UnknownOperator { .. } => {
                Reply::error(404, "unknown_subtask", e.to_string())
            }
            FlameError::NoBottleneck { .. } => Reply::error(404, "no_bottleneck", e.to_string()),
            FlameError::NoSamples { .. } => Reply::error(404, "no_samples", e.to_string()),
        }
    }
}

/// Replies kept for reuse: a client, or many, asking again before the next interval get the same
/// bytes without new work.
const REPLY_CACHE: usize = 16;

/// What an endpoint serves: the running pipeline's last minutes, or a recording file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// The runtime's history, growing while the pipeline runs.
    Live,
    /// A recording loaded whole (`bpprof serve REC`); the page shows a time slider.
    Recording {
        /// The file's name, as the page shows it.
        name: String,
    },
}

/// Settings of an [`Endpoint`].
#[derive(Debug, Clone, PartialEq)]
pub struct EndpointOptions {
    /// The longest range a request may ask for.
    pub history: Duration,
    /// The most the source's history may take (what `/api/v1/status` reports); `None`: no limit.
    pub history_bytes: Option<usize>,
    /// The range of `/metrics`' gauges and bottleneck series.
    pub window: Duration,
    /// The `job_name` label of every series; `None`: the recorded program's name.
    pub job: Option<String>,
    /// Live or a recording.
    pub mode: Mode,
}

impl EndpointOptions {
    /// The options that browse `history`, loaded from the recording file `name`: any range of
    /// it may be asked for; the gauges cover 10 s (or the whole recording when shorter).
    pub fn recording(history: &History, name: &str) -> Self {
        let history = Duration::from_secs_f64(history.covered_s().ceil().max(1.0));
        EndpointOptions {
            history,
            history_bytes: None,
            window: Duration::from_secs(10).min(history),
            job: None,
            mode: Mode::Recording {
                name: name.to_owned(),
            },
        }
    }
}

/// The routes over one [`Source`], and its one cache: the last replies, by request and newest
/// interval.
pub struct Endpoint {
    /// The options it was started with.
    pub(crate) options: EndpointOptions,
    source: Arc<dyn Source>,
    /// Up to [`REPLY_CACHE`] successful replies: the newest interval's sequence number when each
    /// was computed, the request (`path?query`), the reply.
    replies: Mutex<VecDeque<(u64, String, Reply)>>,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl Endpoint {
    /// An endpoint with `options` over the intervals of `source`.
    pub fn new(options: EndpointOptions, source: Arc<dyn Source>) -> Self {
        Endpoint {
            options,
            source,
            replies: Mutex::new(VecDeque::with_capacity(REPLY_CACHE)),
        }
    }

    /// Runs `read` on the source's history, `None` when it has none yet.
    pub(crate) fn with_history<T>(&self, read: impl FnOnce(&History) -> T) -> Option<T> {
        crate::source::with_history(&*self.source, read)
    }

    /// The `seconds` before `to_s` (default: the newest interval's end); an error when the
    /// history holds no interval there.
    fn last(&self, seconds: f64, to_s: Option<f64>) -> Result<Range, AnalysisError> {
        self.with_history(|h| h.last(seconds, to_s))
            .flatten()
            .filter(|r| !r.is_empty())
            .ok_or(AnalysisError::NoIntervals)
    }

    /// The answer to `GET path?query`: from the cache when nothing was recorded since it was
    /// computed.
    pub(crate) fn get(&self, path: &str, query: Option<&str>) -> Reply {
        let newest = self.with_history(|h| h.newest_seq()).flatten();
        let key = format!("{path}?{}", query.unwrap_or(""));
        let mut replies = self.replies.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(seq) = newest {
            if let Some((_, _, reply)) = replies.iter().find(|(s, k, _)| *s == seq && *k == key) {
                return reply.clone();
            }
        }
        let reply = self.answer(path, query);
        if let (Some(seq), 200) = (newest, reply.status) {
            if replies.len() == REPLY_CACHE {
                replies.pop_front();
            }
            replies.push_back((seq, key, reply.clone()));
        }
        reply
    }

    fn answer(&self, path: &str, query: Option<&str>) -> Reply {
        let answer = match path {
            "/metrics" => self.metrics(query),
            "/api/v1/locate" => self.locate(query),
            "/api/v1/timeline" => self.timeline(query),
            "/api/v1/flame" => self.flame(query),
            "/api/v1/status" => self.status(query),
            "/api/v1/graph" => self.graph(query),
            "/" => Query::parse(query, &[])
                .map(|_| Reply::ok("text/html; charset=utf-8", PAGE.as_bytes().to_vec()))
                .map_err(Reply::from),
            _ => Err(Reply::error(
                404,
                "not_found",
                "no such path; the endpoint serves /metrics, /api/v1/locate, /api/v1/timeline, /api/v1/flame, /api/v1/graph, /api/v1/status and the page /",
            )),
        };
        answer.unwrap_or_else(|reply| reply)
    }

    fn max_seconds(&self) -> f64 {
        self.options.history.as_secs_f64()
    }

    /// `bpprof locate` over the `seconds` before `to_s`, windows of `window_s` for its timeline;
    /// without the stack samples (and so without the note on stacks cut short) unless `samples`.
    fn report(
        &self,
        seconds: f64,
        to_s: Option<f64>,
        window_s: Option<f64>,
        samples: bool,
    ) -> Result<LocateReport, Reply> {
        let range = self.last(seconds, to_s)?;
        let range = if samples {
            range
        } else {
            range.without_samples()
        };
        let options = AnalysisOptions {
            from_s: Some(range.from_s),
            to_s: None,
            window_s,
        };
        Ok(bpprof_analysis::locate(&range.recording(), &options)?)
    }

    /// The report over the last [`LiveOptions::window`], `None` before there is one.
    pub(crate) fn window_report(&self) -> Option<LocateReport> {
        self.report(self.options.window.as_secs_f64(), None, None, false)
            .ok()
    }

    fn metrics(&self, query: Option<&str>) -> Result<Reply, Reply> {
        Query::parse(query, &[])?;
        let mut scrape = self
            .with_history(|h| metrics::Scrape {
                job: h.meta_program(),
                totals: h.totals().clone(),
                recorded_s: h.newest_end_s(),
                history_s: h.covered_s(),
                history_bytes: h.bytes() as f64,
                dropped_declarations: h.dropped_declarations() as f64,
                ..metrics::Scrape::default()
            })
            .unwrap_or_default();
        if let Some(job) = &self.options.job {
            scrape.job.clone_from(job);
        }
        scrape.window_s = self.options.window.as_secs_f64();
        scrape.report = self.window_report();
        let text = metrics::render(&scrape);
        Ok(Reply::ok(exposition::CONTENT_TYPE, text.into_bytes()))
    }

    fn window_param(&self, query: &Query) -> Result<Option<f64>, BadRequest> {
        query
            .get("window")
            .map(|_| query.seconds("window", 1.0, self.max_seconds()))
            .transpose()
    }

    fn locate(&self, query: Option<&str>) -> Result<Reply, Reply> {
        let query = Query::parse(query, &["seconds", "window", "to"])?;
        let seconds = query.seconds("seconds", DEFAULT_SECONDS, self.max_seconds())?;
        let to = query.position("to")?;
        let report = self.report(seconds, to, self.window_param(&query)?, true)?;
        Ok(Reply::report(&report))
    }

    fn timeline(&self, query: Option<&str>) -> Result<Reply, Reply> {
        let query = Query::parse(query, &["seconds", "window", "to"])?;
        let seconds = query.seconds("seconds", self.max_seconds(), self.max_seconds())?;
        let to = query.position("to")?;
        let report = self.report(seconds, to, self.window_param(&query)?, false)?;
        Ok(Reply::json(&json!({
            "schema": report.schema,
            "schema_version": report.schema_version,
            "schema_minor": report.schema_minor,
            "recording": report.recording,
            "windows": report.windows,
            "timeline": report.timeline,
        })))
    }

    fn flame(&self, query: Option<&str>) -> Result<Reply, Reply> {
        let query = Query::parse(query, &["subtask", "seconds", "format", "mode", "to"])?;
        let seconds = query.seconds("seconds", DEFAULT_SECONDS, self.max_seconds())?;
        let to = query.position("to")?;
        let format = query.choice("format", &["folded", "svg"])?;
        let mode = match query.choice("mode", &["mixed", "on-cpu", "off-cpu"])? {
            "on-cpu" => FlameMode::OnCpu,
            "off-cpu" => FlameMode::OffCpu,
            _ => FlameMode::Mixed,
        };
        let selection = match query.get("subtask") {
            Some(name) => Selection::parse_subtask(name)?,
            None => Selection::Bottleneck,
        };
        let range = self.last(seconds, to)?;
        let options = FlameOptions {
            selection,
            mode,
            from_s: Some(range.from_s),
            ..FlameOptions::default()
        };
        let folded = flame::fold(&range.recording(), &options)?;
        let mut body = Vec::new();
        let written = if format == "svg" {
            flame::render_svg(&folded, &SvgOptions::default(), &mut body)
        } else {
            folded.write_folded(&mut body)
        };
        written.map_err(|e| Reply::error(500, "render_failed", e.to_string()))?;
        let content_type = if format == "svg" {
            "image/svg+xml"
        } else {
            "text/plain; charset=utf-8"
        };
        Ok(Reply::ok(content_type, body))
    }

    /// The job graph of the last `seconds` in Flink's colours, as `bpprof locate --svg` draws it.
    fn graph(&self, query: Option<&str>) -> Result<Reply, Reply> {
        let query = Query::parse(query, &["seconds", "to"])?;
        let seconds = query.seconds("seconds", GRAPH_SECONDS, self.max_seconds())?;
        let to = query.position("to")?;
        let report = self.report(seconds, to, None, false)?;
        let mut body = Vec::new();
        picture::render_job_svg(&report, &mut body)
            .map_err(|e| Reply::error(500, "render_failed", e.to_string()))?;
        Ok(Reply::ok("image/svg+xml", body))
    }

    fn status(&self, query: Option<&str>) -> Result<Reply, Reply> {
        Query::parse(query, &[])?;
        let status = self
            .with_history(|h| {
                json!({
                    "recording": true,
                    "newest_seq": h.newest_seq(),
                    "history_s": h.covered_s(),
                    "from_s": h.oldest_start_s(),
                    "to_s": h.newest_end_s(),
                    "history_bytes": h.bytes(),
                    "dropped_declarations": h.dropped_declarations(),
                })
            })
            .unwrap_or_else(|| json!({ "recording": false }));
        let mode = match &self.options.mode {
            Mode::Live => json!({ "kind": "live" }),
            Mode::Recording { name } => json!({ "kind": "recording", "name": name }),
        };
        Ok(Reply::json(&json!({
            "mode": mode,
            "limits": {
                "history_s": self.max_seconds(),
                "history_bytes": self.options.history_bytes,
                "window_s": self.options.window.as_secs_f64(),
            },
            "status": status,
        })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(reply: &Reply) -> serde_json::Value {
        serde_json::from_slice(&reply.body).expect("a JSON error")
    }

    #[test]
    fn no_interval_yet_is_worth_a_retry_and_a_range_outside_the_data_is_not() {
        let none = Reply::from(AnalysisError::NoIntervals);
        assert_eq!(none.status, 503);
        assert_eq!(message(&none)["error"]["code"], "no_data");

        let outside = Reply::from(AnalysisError::EmptyRange {
            from_s: 0.0,
            to_s: 5.0,
            duration_s: 300.0,
        });
        assert_eq!(outside.status, 404);
        let text = message(&outside)["error"]["message"].to_string();
        assert_eq!(message(&outside)["error"]["code"], "no_data_in_range");
        assert!(text.contains("covers 0"), "{text}");
        assert!(!text.contains("try again"), "{text}");
    }
}
