//! A real Prometheus server scrapes the live endpoint of a running example every second; what it
//! stored names the slow subtask, and its busy ratios agree with `bpprof locate` on the recording
//! of the same run within 2 points.
//!
//! Needs Debian's `prometheus` (`.ci/deps.d/20-prometheus.sh` installs it). Without it the test
//! fails under `CI=true` and says loudly that it skipped otherwise. `BPPROF_PROMETHEUS_SECONDS`
//! sets how long the example runs (default 15; `scripts/live-prometheus.sh` runs a minute).

#[path = "../crates/bpprof/tests/live_common/mod.rs"]
mod live_common;
mod support;

use std::collections::BTreeMap;
use std::io::Write;
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bpprof_analysis::AnalysisOptions;
use live_common::{get, json};
use serde_json::Value;

/// Kills the child (Prometheus) when the test ends, passed or not.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn prometheus_scrapes_the_endpoint_and_agrees_with_locate() {
    let Some(prometheus) = find_prometheus() else {
        let message = "prometheus is not installed (apt-get install prometheus, or .ci/deps.d/20-prometheus.sh)";
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{message}: CI=true requires the real Prometheus test to run");
        }
        // Straight to stderr, past the test harness's capture, so that the skip is seen.
        let _ = writeln!(
            std::io::stderr(),
            "\n!!!!! SKIPPED prometheus_scrapes_the_endpoint_and_agrees_with_locate: {message} !!!!!\n"
        );
        return;
    };
    let seconds: f64 = std::env::var("BPPROF_PROMETHEUS_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(15.0);
    let _pipeline = support::exclusive();
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("live.bpprof");

    // Prometheus on a free loopback port, scraping the endpoint's (free) port every second from
    // before the example starts.
    let target = free_port();
    let web = free_port();
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: bpprof\n    static_configs:\n      - targets: ['{target}']\n"
        ),
    )
    .unwrap();
    let server = Killed(
        Command::new(&prometheus)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("tsdb").display()
            ))
            .arg(format!("--web.listen-address={web}"))
            .arg("--log.level=warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start prometheus"),
    );
    wait_until(Duration::from_secs(30), "prometheus is ready", || {
        std::net::TcpStream::connect(web).is_ok() && get(web, "/-/ready").status == 200
    });

    // The example, with the endpoint on that port. Stack sampling off: the test is about the
    // metrics, and a debug build's writer would lag symbolising stacks.
    let output = support::example("slow_operator", &rec, 100)
        .env("BPPROF_EXAMPLE_SECONDS", seconds.to_string())
        .env("BPPROF_HTTP", target.to_string())
        .env("BPPROF_JOB", "slow")
        .env("BPPROF_SAMPLE_HZ", "0")
        .output()
        .expect("run the example");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the example failed: {}\n{stderr}",
        output.status
    );
    assert!(
        stderr.contains(&format!("bpprof: live metrics on http://{target}/metrics")),
        "{stderr}"
    );

    // What Prometheus ingested.
    let names = query(web, "/api/v1/label/__name__/values", &[]);
    let names: Vec<&str> = names
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for expected in [
        "bpprof_subtask_busy_seconds_total",
        "bpprof_subtask_idle_seconds_total",
        "bpprof_subtask_backpressured_seconds_total",
        "bpprof_subtask_on_cpu_seconds_total",
        "bpprof_subtask_records_in_total",
        "bpprof_task_busyTimeMsPerSecond",
        "bpprof_task_backPressuredTimeMsPerSecond",
        "bpprof_edge_capacity",
        "bpprof_edge_fill_ratio",
        "bpprof_bottleneck_info",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} not ingested: {names:?}"
        );
    }
    let end = now_s();
    let range = format!("{}s", (seconds * 2.0 + 60.0) as u64);

    // A busy-ratio query names a subtask of the slow task, and so does the bottleneck series.
    let ratio = format!(
        "topk(1, increase(bpprof_subtask_busy_seconds_total{{job_name=\"slow\"}}[{range}]) / increase(bpprof_subtask_registered_seconds_total{{job_name=\"slow\"}}[{range}]))"
    );
    let top = query(web, "/api/v1/query", &[("query", &ratio), ("time", &end)]);
    let busiest = top[0]["metric"]["task_name"].as_str().unwrap_or_default();
    assert_eq!(busiest, "Enrich", "{top}");
    let info = query(
        web,
        "/api/v1/query",
        &[
            (
                "query",
                &format!("count by (task_name) (last_over_time(bpprof_bottleneck_info[{range}]))"),
            ),
            ("time", &end),
        ],
    );
    let named: Vec<&str> = info
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["metric"]["task_name"].as_str())
        .collect();
    assert!(named.contains(&"Enrich"), "{info}");

    // The stored counters against `bpprof locate` over the same intervals: the first and last
    // scrapes' `bpprof_live_recorded_seconds` give the range.
    let raw = |name: &str| -> BTreeMap<String, Vec<(f64, f64)>> {
        let series = query(
            web,
            "/api/v1/query",
            &[("query", &format!("{name}[{range}]")), ("time", &end)],
        );
        series
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                let key = s["metric"]["subtask"].as_str().unwrap_or("").to_owned();
                let values = s["values"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| {
                        (
                            v[0].as_f64().unwrap(),
                            v[1].as_str().unwrap().parse().unwrap(),
                        )
                    })
                    .collect();
                (key, values)
            })
            .collect()
    };
    let recorded = &raw("bpprof_live_recorded_seconds")[""];
    let busy = raw("bpprof_subtask_busy_seconds_total");
    let wall = raw("bpprof_subtask_registered_seconds_total");
    // From the first scrape after the first interval to the last scrape.
    let first = recorded
        .iter()
        .position(|&(_, s)| s > 0.0)
        .expect("a scrape with data");
    let (t0, from_s) = recorded[first];
    let (t1, to_s) = *recorded.last().unwrap();
    // Prometheus's target discovery takes up to 5 s before the first scrape.
    assert!(
        recorded.len() - first >= 5 && to_s - from_s >= seconds * 0.4,
        "Prometheus stored {} scrapes, {from_s}..{to_s} s of a {seconds} s run",
        recorded.len() - first
    );
    let at = |values: &[(f64, f64)], t: f64| values.iter().find(|v| v.0 == t).map(|v| v.1);
    let recording = bpprof_format::read_file(&rec).expect("read the recording");
    // Both bounds are interval ends: the intervals between them are those whose midpoints lie in
    // [from_s, to_s), the ones the counters' increase covers.
    let report = bpprof_analysis::locate(
        &recording,
        &AnalysisOptions {
            from_s: Some(from_s),
            to_s: Some(to_s),
            window_s: None,
        },
    )
    .unwrap();
    let mut compared = 0;
    let mut table = String::new();
    for task in &report.tasks {
        for s in &task.subtasks {
            let (Some(busy), Some(wall)) = (busy.get(&s.name), wall.get(&s.name)) else {
                panic!("{} not stored by Prometheus", s.name);
            };
            let stored = (at(busy, t1).unwrap() - at(busy, t0).unwrap())
                / (at(wall, t1).unwrap() - at(wall, t0).unwrap());
            let located = s.busy.expect("busy known");
            table.push_str(&format!(
                "{:<10} prometheus {:5.1} %  locate {:5.1} %\n",
                s.name,
                stored * 100.0,
                located * 100.0
            ));
            assert!(
                (stored - located).abs() <= 0.02,
                "busy ratios differ by more than 2 points:\n{table}"
            );
            compared += 1;
        }
    }
    assert_eq!(compared, 8, "{table}");
    eprintln!(
        "prometheus stored {} scrapes over {:.1} s of recording:\n{table}",
        recorded.len(),
        to_s - from_s
    );
    let last = |name: &str| {
        let q = format!("max_over_time({name}[{range}])");
        let v = query(web, "/api/v1/query", &[("query", &q), ("time", &end)]);
        v[0]["value"][1]
            .as_str()
            .and_then(|x| x.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    eprintln!(
        "history: at most {:.0} KiB for {:.1} s of intervals",
        last("bpprof_live_history_bytes") / 1024.0,
        last("bpprof_live_history_seconds")
    );
    drop(server);
}

/// The `prometheus` binary on the PATH (Debian installs it in /usr/bin).
fn find_prometheus() -> Option<std::path::PathBuf> {
    std::env::var_os("PATH")?
        .to_string_lossy()
        .split(':')
        .map(|dir| Path::new(dir).join("prometheus"))
        .find(|p| p.is_file())
}

/// A loopback address with a port free right now.
fn free_port() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
}

fn now_s() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    format!("{:.3}", now.as_secs_f64())
}

fn wait_until(limit: Duration, what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !ready() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// `GET path?params` on Prometheus's HTTP API; returns `data` (the `result` of a query).
fn query(web: SocketAddr, path: &str, params: &[(&str, &str)]) -> Value {
    let query: Vec<String> = params
        .iter()
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect();
    let response = get(web, &format!("{path}?{}", query.join("&")));
    let body = json(&response);
    assert_eq!(body["status"], "success", "{path} {params:?}: {body}");
    let data = body["data"].clone();
    if data.get("result").is_some() {
        data["result"].clone()
    } else {
        data
    }
}

/// Percent-encodes a query value.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            b => format!("%{b:02X}"),
        })
        .collect()
}
