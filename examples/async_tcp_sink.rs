//! A slow sink doing real async I/O: Source(1) -> Format(2) -> Sink(1), tokio tasks on a runtime
//! with two workers. Sink writes every record as a line to a loopback TCP connection whose
//! reader (a plain thread, the "remote service") takes 4 KiB every 5 ms. Sink is pending on the
//! socket most of the time: busy, but neither polled nor waiting to be polled, so `bpprof
//! locate` names it as an off-CPU bottleneck.
//!
//! ```sh
//! BPPROF_OUT=tcp.bpprof cargo run --release --example async_tcp_sink
//! bpprof locate tcp.bpprof
//! ```
//!
//! `--seconds N` (or `BPPROF_EXAMPLE_SECONDS`) sets how long the source runs (default 8).

mod common;

use std::io::Read;
use std::net::{Ipv4Addr, TcpListener};
use std::time::{Duration, Instant};

use bpprof::tokio::{channel, spawn_subtask};
use common::async_stages::{channels_into, runtime, send_round_robin, CAPACITY};
use common::{before, burn, run_time, start_recording, stop_recording};
use tokio::io::AsyncWriteExt;

const FORMAT: u32 = 2;

/// Socket buffers of the connection, bytes: small, so that the slow reader is felt at once.
const SOCKET_BUFFER: u32 = 16 * 1024;

/// Formatting: a little CPU work per record, then the line to send.
#[inline(never)]
fn format_record(record: u64) -> String {
    format!("{record:016x} {:016x}\n", burn(record, 300))
}

/// The remote service: reads 4 KiB every 5 ms until the connection closes; returns the bytes.
fn slow_reader(listener: TcpListener) -> u64 {
    let (mut stream, _) = listener.accept().expect("accept");
    let mut buffer = [0u8; 4096];
    let mut total = 0u64;
    loop {
        match stream.read(&mut buffer) {
            Ok(0) | Err(_) => return total,
            Ok(n) => total += n as u64,
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn main() {
    let run_for = run_time(8.0);
    let recording = start_recording();
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind a loopback port");
    let address = listener.local_addr().expect("local address");
    let reader = std::thread::spawn(move || slow_reader(listener));
    let written = runtime().block_on(async move {
        let (to_format, format_in) = channels_into::<u64>("source", "format", FORMAT);
        let (to_sink, mut sink_in) = channel::<String>("format->sink", CAPACITY);
        let mut tasks = vec![spawn_subtask("Source", 0, 1, async move {
            let deadline = Instant::now() + run_for;
            let (mut line, mut next) = (0u64, 0usize);
            while before(deadline) {
                line += 1;
                if !send_round_robin(&to_format, &mut next, line).await {
                    break;
                }
            }
        })];
        for (i, mut input) in format_in.into_iter().enumerate() {
            let output = to_sink.clone();
            tasks.push(spawn_subtask("Format", i as u32, FORMAT, async move {
                while let Some(record) = input.recv().await {
                    if output.send(format_record(record)).await.is_err() {
                        break;
                    }
                }
            }));
        }
        drop(to_sink);
        let sink = spawn_subtask("Sink", 0, 1, async move {
            let socket = tokio::net::TcpSocket::new_v4().expect("socket");
            socket
                .set_send_buffer_size(SOCKET_BUFFER)
                .expect("send buffer size");
            let mut stream = socket.connect(address).await.expect("connect");
            let mut written = 0u64;
            while let Some(line) = sink_in.recv().await {
                stream.write_all(line.as_bytes()).await.expect("write");
                written += line.len() as u64;
            }
            stream.shutdown().await.expect("shutdown");
            written
        });
        for task in tasks {
            task.await.expect("pipeline task panicked");
        }
        sink.await.expect("sink panicked")
    });
    let read = reader.join().expect("reader panicked");
    assert_eq!(read, written, "the reader got every byte");
    println!("async_tcp_sink: done ({written} bytes)");
    stop_recording(recording);
}
