//! The live endpoint under hostile clients on loopback: oversized requests, unknown paths, path
//! traversal, slow clients and 1,000 concurrent connections get bounded answers (or are closed),
//! the endpoint keeps serving afterwards, and the host pipeline keeps running with bounded memory.

mod live_common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use live_common::{get, json, raw, Live};

/// The process's resident memory, bytes.
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmRSS");
    kb * 1024
}

/// Sends `request` and returns the status, or `None` when the server closed without answering
/// (what it does to connections beyond its bounds).
fn status_of(addr: SocketAddr, request: &[u8]) -> Option<u16> {
    raw(addr, request).ok().map(|r| r.status)
}

#[test]
fn hostile_clients_leave_the_host_pipeline_unharmed() {
    // A port alone binds loopback: other interfaces need their address written out.
    let address = bpprof::live::parse_address("0").unwrap();
    assert!(address.ip().is_loopback());
    assert!(bpprof::live::LiveOptions::default()
        .address
        .ip()
        .is_loopback());

    let live = Live::start(0, Duration::from_secs(1));
    let addr = live.addr();
    let before = live.pipeline.throughput(Duration::from_secs(1));
    assert!(before > 0.0);
    let memory_before = rss();
    let delivered = || {
        live.pipeline
            .delivered
            .load(std::sync::atomic::Ordering::Relaxed)
    };

    // Oversized requests: a 64 KiB header, a 100 KiB path, a body.
    let huge_header = format!(
        "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\nConnection: close\r\n\r\n",
        "a".repeat(64 << 10)
    );
    let status = status_of(addr, huge_header.as_bytes());
    assert!(matches!(status, None | Some(431)), "{status:?}");
    let huge_path = format!(
        "GET /{} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        "a".repeat(100 << 10)
    );
    let status = status_of(addr, huge_path.as_bytes());
    assert!(matches!(status, None | Some(414) | Some(431)), "{status:?}");
    let body = b"GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\nConnection: close\r\n\r\nxxxx";
    assert_eq!(status_of(addr, body), Some(413));
    let chunked = b"GET /metrics HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
    assert_eq!(status_of(addr, chunked), Some(413));

    // Unknown paths and path traversal: JSON 404s, never a file.
    for path in [
        "/etc/passwd",
        "/../../../../etc/passwd",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/api/v1/../../../etc/passwd",
        "//etc/passwd",
        "/metrics/../../etc/passwd",
        "/api/v1/locate/..%2f..%2fetc%2fpasswd",
    ] {
        let response = get(addr, path);
        assert_eq!(response.status, 404, "{path}: {}", response.text());
        assert_eq!(json(&response)["error"]["code"], "not_found", "{path}");
        assert!(!response.text().contains("root:"), "{path}");
    }

    // A slow client that never finishes its headers is dropped after the header timeout.
    let mut slow = TcpStream::connect(addr).unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    slow.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    let started = Instant::now();
    let mut rest = Vec::new();
    let _ = slow.read_to_end(&mut rest);
    let held = started.elapsed();
    assert!(
        held >= Duration::from_secs(3) && held < Duration::from_secs(15),
        "a slow client was held {held:?}"
    );
    assert!(
        rest.is_empty() || rest.starts_with(b"HTTP/1.1 408"),
        "{}",
        String::from_utf8_lossy(&rest)
    );

    // Slow clients taking every connection slot: the endpoint serves again once they are
    // dropped (after the header timeout), and the pipeline runs meanwhile.
    let progress = delivered();
    let hogs: Vec<TcpStream> = (0..64)
        .filter_map(|_| {
            let mut s = TcpStream::connect(addr).ok()?;
            s.write_all(b"GET /metrics HTTP/1.1\r\n").ok()?;
            Some(s)
        })
        .collect();
    assert!(hogs.len() >= 32);
    std::thread::sleep(Duration::from_secs(7));
    assert_eq!(get(addr, "/metrics").status, 200);
    assert!(
        delivered() > progress,
        "the pipeline stalled behind slow clients"
    );
    drop(hogs);

    // 1,000 connections at once, each asking for /metrics: every one is answered or closed, all
    // within a bound, and the endpoint serves afterwards.
    let progress = delivered();
    let started = Instant::now();
    let clients: Vec<_> = (0..20)
        .map(|_| {
            std::thread::spawn(move || {
                let streams: Vec<TcpStream> = (0..50)
                    .filter_map(|_| {
                        let mut s = TcpStream::connect(addr).ok()?;
                        s.set_read_timeout(Some(Duration::from_secs(40))).ok()?;
                        s.write_all(
                            b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                        )
                        .ok()?;
                        Some(s)
                    })
                    .collect();
                let opened = streams.len();
                let mut answered = 0;
                for mut s in streams {
                    let mut response = Vec::new();
                    let _ = s.read_to_end(&mut response);
                    answered += usize::from(response.starts_with(b"HTTP/1.1 200"));
                }
                (opened, answered)
            })
        })
        .collect();
    let (mut opened, mut answered) = (0, 0);
    for client in clients {
        let (o, a) = client.join().unwrap();
        opened += o;
        answered += a;
    }
    let took = started.elapsed();
    assert!(opened >= 900, "only {opened} of 1000 connections opened");
    assert!(answered >= 1, "no connection was served");
    assert!(
        took < Duration::from_secs(60),
        "1000 connections took {took:?}"
    );
    assert_eq!(get(addr, "/metrics").status, 200);
    assert!(
        delivered() > progress,
        "the pipeline stalled during the flood"
    );

    // The pipeline runs as before, in bounded memory.
    let after = live.pipeline.throughput(Duration::from_secs(1));
    let grown = rss().saturating_sub(memory_before);
    eprintln!(
        "throughput {before:.0} -> {after:.0} records/s; 1000 connections: {answered} served in {took:?}; memory +{} KiB",
        grown >> 10
    );
    assert!(
        after > before * 0.25,
        "throughput {before:.0} -> {after:.0}"
    );
    assert!(grown < 64 << 20, "memory grew by {grown} bytes");
    live.stop();
}
