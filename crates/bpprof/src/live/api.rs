//! What the endpoint answers: one function per path, each a [`Reply`]. The analysis is
//! `bpprof-analysis`'s own ([`bpprof_analysis::locate`], [`flame::fold`]) run on the history's
//! last seconds rebuilt as a recording, so the JSON is the schema of `bpprof locate --format json`.

use std::collections::VecDeque;
use std::sync::Mutex;

use bpprof_analysis::flame::{self, FlameError, FlameOptions, Mode, Selection, SvgOptions};
use bpprof_analysis::picture;
use bpprof_analysis::{AnalysisError, AnalysisOptions, LocateReport};
use serde_json::json;

use super::query::{BadRequest, Query};
use super::shared::with_history;
use super::{exposition, metrics, LiveOptions};

/// The live page: self-contained HTML and script that read this endpoint's `/api/v1` only.
const PAGE: &str = include_str!("page.html");

/// Default range of the JSON routes, seconds (what Flink's flame graphs cover, too).
const DEFAULT_SECONDS: f64 = 30.0;
/// Default range of the job graph, seconds: what the live page redraws every second.
const GRAPH_SECONDS: f64 = 10.0;

/// The history's last `seconds`; an error when it holds no interval yet.
fn last(seconds: f64) -> Result<super::history::Range, AnalysisError> {
    with_history(|h| h.last(seconds))
        .flatten()
        .filter(|r| !r.is_empty())
        .ok_or(AnalysisError::NoIntervals)
}

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
            AnalysisError::NoIntervals | AnalysisError::EmptyRange { .. } => Reply::error(
                503,
                "no_data",
                format!("{e}; try again when the recorder has written a few intervals"),
            ),
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

/// The endpoint's settings and its one cache: the last replies, by request and newest interval.
#[derive(Debug)]
pub(crate) struct Endpoint {
    /// The options it was started with.
    pub(crate) options: LiveOptions,
    /// Up to [`REPLY_CACHE`] successful replies: the newest interval's sequence number when each
    /// was computed, the request (`path?query`), the reply.
    replies: Mutex<VecDeque<(u64, String, Reply)>>,
}

impl Endpoint {
    /// An endpoint with `options`.
    pub(crate) fn new(options: LiveOptions) -> Self {
        Endpoint {
            options,
            replies: Mutex::new(VecDeque::with_capacity(REPLY_CACHE)),
        }
    }

    /// The answer to `GET path?query`: from the cache when nothing was recorded since it was
    /// computed.
    pub(crate) fn get(&self, path: &str, query: Option<&str>) -> Reply {
        let newest = with_history(|h| h.newest_seq()).flatten();
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

    /// `bpprof locate` over the last `seconds`, windows of `window_s` for its timeline; without
    /// the stack samples (and so without the note on stacks cut short) unless `samples`.
    fn report(
        &self,
        seconds: f64,
        window_s: Option<f64>,
        samples: bool,
    ) -> Result<LocateReport, Reply> {
        let range = last(seconds)?;
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
        self.report(self.options.window.as_secs_f64(), None, false)
            .ok()
    }

    fn metrics(&self, query: Option<&str>) -> Result<Reply, Reply> {
        Query::parse(query, &[])?;
        let text = metrics::render(self);
        Ok(Reply::ok(exposition::CONTENT_TYPE, text.into_bytes()))
    }

    fn window_param(&self, query: &Query) -> Result<Option<f64>, BadRequest> {
        query
            .get("window")
            .map(|_| query.seconds("window", 1.0, self.max_seconds()))
            .transpose()
    }

    fn locate(&self, query: Option<&str>) -> Result<Reply, Reply> {
        let query = Query::parse(query, &["seconds", "window"])?;
        let seconds = query.seconds("seconds", DEFAULT_SECONDS, self.max_seconds())?;
        let report = self.report(seconds, self.window_param(&query)?, true)?;
        Ok(Reply::report(&report))
    }

    fn timeline(&self, query: Option<&str>) -> Result<Reply, Reply> {
        let query = Query::parse(query, &["seconds", "window"])?;
        let seconds = query.seconds("seconds", self.max_seconds(), self.max_seconds())?;
        let report = self.report(seconds, self.window_param(&query)?, false)?;
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
        let query = Query::parse(query, &["subtask", "seconds", "format", "mode"])?;
        let seconds = query.seconds("seconds", DEFAULT_SECONDS, self.max_seconds())?;
        let format = query.choice("format", &["folded", "svg"])?;
        let mode = match query.choice("mode", &["mixed", "on-cpu", "off-cpu"])? {
            "on-cpu" => Mode::OnCpu,
            "off-cpu" => Mode::OffCpu,
            _ => Mode::Mixed,
        };
        let selection = match query.get("subtask") {
            Some(name) => Selection::parse_subtask(name)?,
            None => Selection::Bottleneck,
        };
        let range = last(seconds)?;
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
        let query = Query::parse(query, &["seconds"])?;
        let seconds = query.seconds("seconds", GRAPH_SECONDS, self.max_seconds())?;
        let report = self.report(seconds, None, false)?;
        let mut body = Vec::new();
        picture::render_job_svg(&report, &mut body)
            .map_err(|e| Reply::error(500, "render_failed", e.to_string()))?;
        Ok(Reply::ok("image/svg+xml", body))
    }

    fn status(&self, query: Option<&str>) -> Result<Reply, Reply> {
        Query::parse(query, &[])?;
        let status = with_history(|h| {
            json!({
                "recording": true,
                "newest_seq": h.newest_seq(),
                "history_s": h.covered_s(),
                "history_bytes": h.bytes(),
                "dropped_declarations": h.dropped_declarations(),
            })
        })
        .unwrap_or_else(|| json!({ "recording": false }));
        Ok(Reply::json(&json!({
            "limits": {
                "history_s": self.max_seconds(),
                "history_bytes": self.options.history_bytes,
                "window_s": self.options.window.as_secs_f64(),
            },
            "status": status,
        })))
    }
}
