//! `bpprof serve REC`: the live page over a recording, in a real headless Chromium driven by
//! chromedriver (see `browser/mod.rs`): a click on a subtask shows its flame graph, a bottleneck
//! that moves shows in the timeline strip, the time slider changes the range shown; and the
//! 64-subtask page's render time (docs/performance.md). Plus the errors: a bad recording and a
//! busy port are one line and exit code 2.

mod browser;
mod common;

use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::Duration;

use bpprof_analysis::synth::{Load, Synth};
use bpprof_format::SampleState;
use browser::Browser;
use common::{assert_one_error_line, bpprof, chain, command};
use serde_json::{json, Value};

/// Source -> Window -> Check -> Sink, 60 intervals of 1 s. For the first 30 s Window is the
/// bottleneck throughout; then the bottleneck moves, in turns of 4 s: Check, Window, Check ...
/// Window's and Check's stack samples name their own functions.
fn moving_bottleneck() -> Synth {
    let mut synth = Synth::new();
    let [source, window, check, sink] = chain(
        &mut synth,
        ["Source", "Window", "Check", "Sink"],
        &["sw", "wc", "cs"],
        100,
    );
    for i in 0..60 {
        let check_turn = i >= 30 && (i / 4) % 2 == 0;
        synth.sample(
            window,
            SampleState::Busy,
            true,
            &["main", "window_aggregate"],
            if check_turn { 5 } else { 90 },
        );
        synth.sample(
            check,
            SampleState::Busy,
            true,
            &["main", "check_rules"],
            if check_turn { 90 } else { 5 },
        );
        if check_turn {
            synth.interval(&[
                (source, Load::new(0.05, 0.9)),
                (window, Load::new(0.1, 0.85)),
                (check, Load::new(0.97, 0.0)),
                (sink, Load::new(0.2, 0.0)),
            ]);
        } else {
            synth.interval(&[
                (source, Load::new(0.1, 0.85)),
                (window, Load::new(0.96, 0.0)),
                (check, Load::new(0.05, 0.0)),
                (sink, Load::new(0.02, 0.0)),
            ]);
        }
    }
    synth
}

/// `bpprof serve REC --address 127.0.0.1:0` running, and the address its line on stderr gives.
struct Serve {
    child: Child,
    addr: SocketAddr,
}

impl Serve {
    fn start(recording: &Path) -> Serve {
        let mut child = command(&[
            "serve",
            recording.to_str().unwrap(),
            "--address",
            "127.0.0.1:0",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start bpprof serve");
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        stderr.read_line(&mut line).expect("bpprof serve's line");
        let addr = line
            .split("http://")
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("no address in: {line}"));
        assert!(line.starts_with("bpprof: serving '"), "{line}");
        // Keep draining stderr so that the server never blocks on it.
        std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
        Serve { child, addr }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `GET path` with `Connection: close`: status and body.
fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    std::io::Write::write_all(
        &mut stream,
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).expect("a response");
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_owned();
    (status, body)
}

/// The timeline strip as the page drew it: (task, cells) per row.
fn strip(browser: &Browser) -> Vec<(String, String)> {
    let rows = browser.run(
        "return [...document.querySelectorAll('#timeline .row')].map((r) => [r.dataset.task, r.dataset.cells, r.querySelectorAll('span.c-bottleneck').length])",
        json!([]),
    );
    rows.as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let cells = r[1].as_str().unwrap().to_owned();
            // The cells drawn red are the bottleneck windows of the data.
            assert_eq!(
                r[2].as_u64().unwrap() as usize,
                cells.matches('*').count(),
                "{r}"
            );
            (r[0].as_str().unwrap().to_owned(), cells)
        })
        .collect()
}

fn row<'a>(strip: &'a [(String, String)], task: &str) -> &'a str {
    &strip
        .iter()
        .find(|(t, _)| t == task)
        .unwrap_or_else(|| panic!("no row {task} in {strip:?}"))
        .1
}

/// Waits until the page has drawn the range ending at `to` (the slider's value, or the end).
fn wait_drawn(browser: &Browser, what: &str) -> Value {
    browser.wait_for(
        what,
        Duration::from_secs(120),
        "const b = document.body.dataset; return b.drawnMs ? [Number(b.drawnMs), b.drawnTo, document.getElementById('verdict').textContent, Number(document.getElementById('status').dataset.to)] : null",
    )
}

#[test]
fn the_page_over_a_recording_clicks_slides_and_shows_the_bottleneck_moving() {
    let Some(browser) = Browser::start(
        "the_page_over_a_recording_clicks_slides_and_shows_the_bottleneck_moving",
        1200,
        1400,
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("moving.bpprof");
    moving_bottleneck().write_file(&path).unwrap();
    let serve = Serve::start(&path);

    // The page, served by `bpprof serve` as the runtime serves it.
    let (status, page) = get(serve.addr, "/");
    assert_eq!(status, 200);
    assert!(page.contains("id=\"slider\"") && !page.contains("https://"));
    let (_, status) = get(serve.addr, "/api/v1/status");
    let status: Value = serde_json::from_str(&status).unwrap();
    assert_eq!(status["mode"]["kind"], "recording", "{status}");

    browser.open(&serve.url("/"));
    let drawn = wait_drawn(&browser, "the page drew the end of the recording");
    // The slider starts at the end: the last 10 s, in which Check and Window take turns.
    assert_eq!(drawn[1], "60", "{drawn}");
    assert!((drawn[3].as_f64().unwrap() - 60.0).abs() < 1e-6, "{drawn}");
    let slider_shown = browser.run(
        "return getComputedStyle(document.getElementById('time')).display",
        json!([]),
    );
    assert_eq!(slider_shown, "block");

    // The timeline strip: a bottleneck that moves. Window's row is red through the first half,
    // then Check's and Window's rows take turns (2 s per column, turns of 4 s).
    let cells = strip(&browser);
    let (window, check) = (row(&cells, "Window"), row(&cells, "Check"));
    assert_eq!(window.len(), 30, "{cells:?}");
    assert!(window[..15].chars().all(|c| c == '*'), "{cells:?}");
    assert!(!check[..15].contains('*'), "{cells:?}");
    let turns = |cells: &str| {
        cells.as_bytes()[15..]
            .windows(2)
            .filter(|w| (w[0] == b'*') != (w[1] == b'*'))
            .count()
    };
    assert!(turns(check) >= 4, "Check's turns: {cells:?}");
    assert!(turns(window) >= 4, "Window's turns: {cells:?}");
    for (second_half_window, second_half_check) in window[15..].chars().zip(check[15..].chars()) {
        assert!(
            second_half_window == '*' || second_half_check == '*',
            "a column without a bottleneck: {cells:?}"
        );
    }
    let moving = browser.run(
        "return document.getElementById('moving').textContent",
        json!([]),
    );
    let moving = moving.as_str().unwrap();
    assert!(
        moving.starts_with("The bottleneck moves:")
            && moving.contains("Window")
            && moving.contains("Check"),
        "{moving}"
    );

    // A click on Check's subtask bar in the job graph shows Check's flame graph.
    browser.click("#graph g.subtask[data-subtask='Check#0']");
    let flame = browser.wait_for(
        "the flame graph of Check#0 after the click",
        Duration::from_secs(60),
        "const f = document.querySelector('#flame iframe'); const d = f && f.contentDocument; return d && d.documentElement && d.documentElement.outerHTML.includes('check_rules') ? [f.getAttribute('src'), d.documentElement.outerHTML, location.hash, document.getElementById('flame-title').textContent] : null",
    );
    assert_eq!(
        flame[0], "/api/v1/flame?format=svg&seconds=30&subtask=Check%230&to=60",
        "{flame}"
    );
    let svg = flame[1].as_str().unwrap();
    assert!(svg.contains("<svg"), "inferno's SVG in the frame");
    assert_eq!(flame[2], "#to=60&subtask=Check%230");
    assert!(flame[3]
        .as_str()
        .unwrap()
        .starts_with("Flame graph of Check#0"));

    // The slider: a click on its middle moves the end of the range to about 30 s, where Window
    // was the bottleneck throughout; everything is redrawn for that range.
    browser.click("#slider");
    let drawn = browser.wait_for(
        "the range after the slider moved",
        Duration::from_secs(120),
        "const b = document.body.dataset; const to = Number(document.getElementById('status').dataset.to); return b.drawnTo !== '60' && to < 59 ? [Number(b.drawnTo), to, document.getElementById('verdict').textContent] : null",
    );
    let to = drawn[0].as_f64().unwrap();
    assert!((20.0..=40.0).contains(&to), "the slider's middle: {drawn}");
    // The report covers the 10 s before the slider's time (the analysis' own range).
    let shown_to = drawn[1].as_f64().unwrap();
    assert!((shown_to - to).abs() <= 1.0, "{drawn}");
    let verdict = browser.wait_for(
        "the verdict of the earlier range",
        Duration::from_secs(60),
        "const v = document.getElementById('verdict').textContent; return v.startsWith('Window is the bottleneck') ? v : null",
    );
    assert!(verdict
        .as_str()
        .unwrap()
        .starts_with("Window is the bottleneck"));
    let cells = strip(&browser);
    assert!(
        !row(&cells, "Check").contains('*'),
        "before 30 s Check was never the bottleneck: {cells:?}"
    );
    // The flame graph follows the range; the address keeps both.
    let hash = browser.run("return location.hash", json!([]));
    assert_eq!(hash, format!("#to={to}&subtask=Check%230"));
    browser.wait_for(
        "the flame graph over the new range",
        Duration::from_secs(60),
        &format!("const f = document.querySelector('#flame iframe'); return f && f.getAttribute('src').endsWith('&to={to}')"),
    );

    // The Home key takes the slider to its start.
    browser.keys("#slider", "\u{E011}");
    let start = browser.wait_for(
        "the range after Home",
        Duration::from_secs(120),
        "const b = document.body.dataset; return Number(b.drawnTo) <= 1.0 ? Number(document.getElementById('status').dataset.to) : null",
    );
    assert!(start.as_f64().unwrap() <= 2.0, "{start}");
    // A shared address opens on the same moment and subtask.
    browser.open("about:blank");
    browser.open(&serve.url("/#to=20&subtask=Window%230"));
    let shared = browser.wait_for(
        "the page opened from a shared address",
        Duration::from_secs(120),
        "const b = document.body.dataset; const f = document.querySelector('#flame iframe'); return b.drawnMs && f ? [b.drawnTo, document.getElementById('slider').value, f.getAttribute('src'), document.getElementById('verdict').textContent] : null",
    );
    assert_eq!(shared[0], "20", "{shared}");
    assert_eq!(shared[1], "20", "{shared}");
    assert_eq!(
        shared[2], "/api/v1/flame?format=svg&seconds=30&subtask=Window%230&to=20",
        "{shared}"
    );
    assert!(shared[3]
        .as_str()
        .unwrap()
        .starts_with("Window is the bottleneck"));
    if let Ok(dir) = std::env::var("BPPROF_SCREENSHOT_DIR") {
        browser.keys("#slider", "\u{E010}"); // End
        wait_drawn(&browser, "the end again");
        std::fs::write(Path::new(&dir).join("serve.png"), browser.screenshot()).unwrap();
    }
}

/// 16 parallel subtasks in each of 4 tasks, the last task the bottleneck, over two minutes of
/// 100 ms intervals (what the live endpoint keeps and the page's strip asks for: 1,200
/// intervals), written to `path`. `Synth` makes 1 s intervals: every time is divided by 10.
fn sixty_four_subtasks(path: &Path) {
    let mut synth = Synth::new();
    let tasks = ["Source", "Parse", "Enrich", "Sink"];
    let ids: Vec<Vec<u32>> = tasks
        .iter()
        .map(|t| (0..16).map(|i| synth.subtask(t, i, 16)).collect())
        .collect();
    for pair in ids.windows(2) {
        synth.channel("", 100, &pair[0], &pair[1]);
    }
    for _ in 0..1200 {
        let mut loads = Vec::new();
        for (n, task) in ids.iter().enumerate() {
            for &s in task {
                synth.sample(s, SampleState::Busy, true, &["main", tasks[n]], 10);
                loads.push((
                    s,
                    if n == 3 {
                        Load::new(0.95, 0.0)
                    } else {
                        Load::new(0.1, 0.85)
                    },
                ));
            }
        }
        synth.interval(&loads);
    }
    let mut recording = synth.recording();
    let tenth = |ns: &mut u64| *ns /= 10;
    recording.meta.interval_ns /= 10;
    for interval in &mut recording.intervals {
        tenth(&mut interval.start_ns);
        tenth(&mut interval.end_ns);
        for s in &mut interval.subtasks {
            for ns in [
                &mut s.wall_ns,
                &mut s.idle_ns,
                &mut s.backpressured_ns,
                &mut s.cpu_ns,
                &mut s.max_idle_stall_ns,
                &mut s.max_backpressure_stall_ns,
            ] {
                tenth(ns);
            }
            if let Some(ns) = s.runqueue_ns.as_mut() {
                tenth(ns);
            }
        }
        for w in &mut interval.waits {
            tenth(&mut w.wait_ns);
        }
        for b in &mut interval.blocking {
            tenth(&mut b.wake_ns);
            tenth(&mut b.blocked_cpu_ns);
        }
    }
    for samples in &mut recording.samples {
        tenth(&mut samples.start_ns);
        tenth(&mut samples.end_ns);
    }
    let file = std::fs::File::create(path).unwrap();
    let mut writer = bpprof_format::RecordingWriter::new(file, &recording.meta).unwrap();
    for interval in &recording.intervals {
        writer.write_interval(interval).unwrap();
        for samples in recording.samples.iter().filter(|s| s.seq == interval.seq) {
            writer.write_samples(samples).unwrap();
        }
    }
    let end = recording.intervals.last().unwrap().end_ns;
    writer
        .finish(&bpprof_format::EndChunk {
            end_ns: end,
            chunks: recording.intervals.len() as u64,
            coalesced_intervals: 0,
        })
        .unwrap();
}

/// The time from the start of the page's load until it has drawn the verdict, the job graph,
/// the back-pressure tab and the timeline once (`data-drawn-ms`, set by the page's script), with
/// 64 subtasks. Printed for docs/performance.md; asserted only loosely (a loaded 2-core machine,
/// a debug build): the number is measured in a release build.
#[test]
fn a_page_of_64_subtasks_renders() {
    let Some(browser) = Browser::start("a_page_of_64_subtasks_renders", 1200, 1400) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wide.bpprof");
    sixty_four_subtasks(&path);
    let serve = Serve::start(&path);
    let mut times = Vec::new();
    for round in 0..3 {
        // A new address each time (no cached document), the same server (its reply cache warm
        // after the first round, as for the second viewer of a live page).
        browser.open("about:blank");
        browser.open(&serve.url(&format!("/#round={round}")));
        let drawn = wait_drawn(&browser, "the 64-subtask page drew");
        let bars = browser.run(
            "return document.querySelectorAll('#graph g.subtask').length",
            json!([]),
        );
        assert_eq!(bars, 64, "one bar per subtask");
        let rows = browser.run(
            "return document.querySelectorAll('#backpressure tr').length",
            json!([]),
        );
        assert_eq!(rows, 17, "the bottleneck's 16 subtasks and a header");
        let columns = browser.run(
            "return document.querySelector('#timeline .row').dataset.cells.length",
            json!([]),
        );
        assert_eq!(columns, 60, "two minutes in 2 s columns");
        times.push(drawn[0].as_f64().unwrap());
    }
    eprintln!("64 subtasks: drawn after {times:?} ms (first load, then with the reply cache warm)");
    assert!(
        times.iter().all(|&t| t < 60_000.0),
        "{times:?} ms: far beyond the target of 1 s"
    );
}

#[test]
fn a_bad_recording_is_one_error_line_and_exit_code_2() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.bpprof");
    std::fs::write(&bad, b"not a recording at all").unwrap();
    let output = bpprof(&["serve", bad.to_str().unwrap(), "--address", "127.0.0.1:0"]);
    assert_one_error_line(&output, "is not a bpprof recording");
    let missing = dir.path().join("missing.bpprof");
    let output = bpprof(&["serve", missing.to_str().unwrap()]);
    assert_one_error_line(&output, "cannot read recording");
    let output = bpprof(&[
        "serve",
        bad.to_str().unwrap(),
        "--address",
        "example.com:80",
    ]);
    assert_one_error_line(&output, "not a port or an IP address");
}

#[test]
fn a_busy_port_is_one_error_line_and_exit_code_2() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("moving.bpprof");
    moving_bottleneck().write_file(&path).unwrap();
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let output = bpprof(&["serve", path.to_str().unwrap(), "--address", &address]);
    assert_one_error_line(&output, &format!("cannot listen on {address}"));
}

#[test]
fn serve_binds_loopback_unless_told_otherwise_and_is_read_only() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("moving.bpprof");
    moving_bottleneck().write_file(&path).unwrap();
    let serve = Serve::start(&path);
    assert!(serve.addr.ip().is_loopback(), "{}", serve.addr);
    // Only GET, only the fixed paths: no file is served, whatever the path.
    for path in [
        "/../../etc/passwd",
        "/moving.bpprof",
        "/api/v1/../../etc/passwd",
    ] {
        let (status, body) = get(serve.addr, path);
        assert_eq!(status, 404, "{path}: {body}");
        assert!(!body.contains("root:"), "{path}: {body}");
    }
    let mut stream = TcpStream::connect(serve.addr).unwrap();
    std::io::Write::write_all(
        &mut stream,
        b"POST /api/v1/locate HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
    )
    .unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).unwrap();
    assert!(reply.starts_with("HTTP/1.1 405"), "{reply}");
    // A range anywhere in the recording; `to` out of range is refused.
    let (status, body) = get(serve.addr, "/api/v1/locate?seconds=10&to=20");
    assert_eq!(status, 200, "{body}");
    let report: Value = serde_json::from_str(&body).unwrap();
    assert!((report["recording"]["to_s"].as_f64().unwrap() - 20.0).abs() < 1e-6);
    assert!(report["verdict"]
        .as_str()
        .unwrap()
        .starts_with("Window is the bottleneck"));
    let (status, _) = get(serve.addr, "/api/v1/locate?to=-3");
    assert_eq!(status, 400);
}
