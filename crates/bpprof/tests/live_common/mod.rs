//! Helpers of the live endpoint's tests: a pipeline with one slow subtask, the endpoint and a
//! recorder around it, and a minimal HTTP/1.1 client over loopback.
#![allow(dead_code)] // Each test binary uses a different subset.

#[path = "../common/mod.rs"]
mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// One recorder per process: the tests of a binary that start one hold this lock.
static ONE_RECORDER: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Serialises the tests that start a [`Live`] (a failed test does not poison it).
pub fn exclusive() -> std::sync::MutexGuard<'static, ()> {
    ONE_RECORDER.lock().unwrap_or_else(|p| p.into_inner())
}

/// Source -> Slow -> Sink; Slow burns a few milliseconds of CPU per record, so it is the
/// bottleneck, and the others wake up rarely enough to be mostly blocked even on a loaded machine.
pub struct Pipeline {
    stop: Arc<AtomicBool>,
    /// Records the sink has received.
    pub delivered: Arc<AtomicU64>,
    threads: Vec<JoinHandle<()>>,
}

impl Pipeline {
    /// Starts the three subtasks.
    pub fn start() -> Pipeline {
        let stop = Arc::new(AtomicBool::new(false));
        let delivered = Arc::new(AtomicU64::new(0));
        let (to_slow, from_source) = bpprof::bounded_named::<u64>("source->slow", 64);
        let (to_sink, from_slow) = bpprof::bounded_named::<u64>("slow->sink", 64);
        let source_stop = Arc::clone(&stop);
        let source = std::thread::spawn(move || {
            let _subtask = bpprof::register("Source", 0, 1);
            let mut i = 0u64;
            while !source_stop.load(Ordering::Relaxed) {
                i += 1;
                if to_slow.send(i).is_err() {
                    return;
                }
            }
        });
        let slow = std::thread::spawn(move || {
            let _subtask = bpprof::register("Slow", 0, 1);
            for record in from_source.iter() {
                if to_sink
                    .send(record ^ common::spin_cpu(Duration::from_millis(2)))
                    .is_err()
                {
                    return;
                }
            }
        });
        let count = Arc::clone(&delivered);
        let sink = std::thread::spawn(move || {
            let _subtask = bpprof::register("Sink", 0, 1);
            for record in from_slow.iter() {
                std::hint::black_box(record);
                count.fetch_add(1, Ordering::Relaxed);
            }
        });
        Pipeline {
            stop,
            delivered,
            threads: vec![source, slow, sink],
        }
    }

    /// Records delivered per second over `span`.
    pub fn throughput(&self, span: Duration) -> f64 {
        let before = self.delivered.load(Ordering::Relaxed);
        let start = Instant::now();
        std::thread::sleep(span);
        let after = self.delivered.load(Ordering::Relaxed);
        (after - before) as f64 / start.elapsed().as_secs_f64()
    }

    /// Stops and joins the subtasks.
    pub fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        for thread in self.threads {
            thread.join().expect("pipeline thread");
        }
    }
}

/// The endpoint on a free loopback port, a recorder and the pipeline.
pub struct Live {
    pub server: bpprof::live::LiveServer,
    pub recorder: bpprof::Recorder,
    pub pipeline: Pipeline,
    pub path: PathBuf,
    pub dir: tempfile::TempDir,
}

impl Live {
    /// Starts the recorder, sampling stacks at `sample_hz`, and the pipeline, then the endpoint, and waits until the endpoint's history
    /// holds `warm_up` of intervals.
    pub fn start(sample_hz: u32, warm_up: Duration) -> Live {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("live.bpprof");
        let recorder = bpprof::Recorder::start(
            bpprof::RecorderOptions::new(&path)
                .interval(Duration::from_millis(100))
                .sample_hz(sample_hz),
        )
        .expect("start the recorder");
        // The endpoint after the recorder has written the pipeline's declarations: it still knows
        // them, and counts from the start of the recording.
        let pipeline = Pipeline::start();
        std::thread::sleep(Duration::from_millis(500));
        let server = bpprof::live::serve(bpprof::live::LiveOptions {
            window: Duration::from_secs(2),
            ..bpprof::live::LiveOptions::new("127.0.0.1:0".parse().unwrap())
        })
        .expect("start the endpoint");
        let live = Live {
            server,
            recorder,
            pipeline,
            path,
            dir,
        };
        live.wait_for_history(warm_up);
        live
    }

    /// The endpoint's address.
    pub fn addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// Waits (at most a minute) until the history holds `seconds` of intervals.
    pub fn wait_for_history(&self, span: Duration) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let status = json(&get(self.addr(), "/api/v1/status"));
            let held = status["status"]["history_s"].as_f64().unwrap_or(0.0);
            if held >= span.as_secs_f64() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the history holds {held} s after a minute: {status}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Stops everything.
    pub fn stop(self) {
        self.pipeline.stop();
        self.recorder.stop().expect("stop the recorder");
        self.server.stop();
    }
}

/// A response: status code, head (status line and headers) and body.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub head: String,
    pub body: Vec<u8>,
}

impl Response {
    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The value of header `name` (lower case), if present.
    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
        })
    }
}

/// Sends `request` (bytes as given) and reads the response until the server closes.
pub fn raw(addr: SocketAddr, request: &[u8]) -> std::io::Result<Response> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    stream.write_all(request)?;
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes)?;
    let split = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| {
            std::io::Error::other(format!("no response head in {} bytes", bytes.len()))
        })?;
    let head = String::from_utf8_lossy(&bytes[..split]).into_owned();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line: {head}")))?;
    let mut response = Response {
        status,
        head,
        body: bytes[split + 4..].to_vec(),
    };
    if response
        .header("transfer-encoding")
        .is_some_and(|t| t.eq_ignore_ascii_case("chunked"))
    {
        response.body = dechunk(&response.body)?;
    }
    Ok(response)
}

/// Decodes a chunked body (`SIZE\r\nDATA\r\n` ... `0\r\n\r\n`).
fn dechunk(mut body: &[u8]) -> std::io::Result<Vec<u8>> {
    let bad = || std::io::Error::other("bad chunked body");
    let mut out = Vec::new();
    loop {
        let line_end = body.windows(2).position(|w| w == b"\r\n").ok_or_else(bad)?;
        let size = std::str::from_utf8(&body[..line_end]).map_err(|_| bad())?;
        let size = usize::from_str_radix(size.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|_| bad())?;
        if size == 0 {
            return Ok(out);
        }
        let data = body
            .get(line_end + 2..line_end + 2 + size)
            .ok_or_else(bad)?;
        out.extend_from_slice(data);
        body = body.get(line_end + 4 + size..).ok_or_else(bad)?;
    }
}

/// `GET path` with `Connection: close`.
pub fn get(addr: SocketAddr, path: &str) -> Response {
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    raw(addr, request.as_bytes()).unwrap_or_else(|e| panic!("GET {path}: {e}"))
}

/// The body of `response` as JSON.
pub fn json(response: &Response) -> serde_json::Value {
    serde_json::from_slice(&response.body)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", response.text()))
}

/// One sample of a Prometheus text document: name, labels, value.
pub type Sample = (String, Vec<(String, String)>, f64);

/// The samples of a Prometheus text document.
pub fn samples(text: &str) -> Vec<Sample> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').expect("sample line");
            let (name, labels) = match series.split_once('{') {
                Some((name, labels)) => (name, labels.trim_end_matches('}')),
                None => (series, ""),
            };
            let labels = labels
                .split("\",")
                .filter(|l| !l.is_empty())
                .map(|l| {
                    let (k, v) = l.split_once("=\"").expect("label");
                    (k.to_owned(), v.trim_end_matches('"').to_owned())
                })
                .collect();
            (
                name.to_owned(),
                labels,
                value.parse().expect("sample value"),
            )
        })
        .collect()
}

/// The value of series `name` whose label `subtask` is `subtask`.
pub fn value_of(text: &str, name: &str, subtask: &str) -> Option<f64> {
    samples(text).into_iter().find_map(|(n, labels, value)| {
        (n == name && labels.iter().any(|(k, v)| k == "subtask" && v == subtask)).then_some(value)
    })
}
