//! Producer(2) -> Consumer(2) through loopback TCP sockets throttled below the producers' rate:
//! neither task is slow, the exchange between them is.
//!
//! ```sh
//! BPPROF_OUT=exchange.bpprof cargo run --release --example network_exchange
//! bpprof locate exchange.bpprof
//! ```
//!
//! Every Producer subtask writes 64 KiB records into its own connection with
//! [`bpprof::Link::write`] (backpressured while the write blocks); every Consumer subtask reads
//! them with [`bpprof::Link::read`] (idle while the read blocks). The read side stands for a slow
//! network: it takes at most one record per [`LINK_DELAY`].
//!
//! `--seconds N` (or `BPPROF_EXAMPLE_SECONDS`) sets how long the pipeline runs (default 8).

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use common::{before, burn, run_time, start_recording, stop_recording};

const PARALLELISM: u32 = 2;
const RECORD_BYTES: usize = 64 * 1024;
/// The throttled link carries one record per subtask pair at most this often.
const LINK_DELAY: Duration = Duration::from_millis(20);

fn main() {
    let run_for = run_time(8.0);
    let recording = start_recording();
    let deadline = Instant::now() + run_for;
    let link = bpprof::link("Producer->Consumer", 64);
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    let addr = listener.local_addr().expect("local address");

    let mut threads = Vec::new();
    for i in 0..PARALLELISM {
        let link = link.clone();
        let mut stream = TcpStream::connect(addr).expect("connect over loopback");
        threads.push(thread::spawn(move || {
            let _subtask = bpprof::register("Producer", i, PARALLELISM);
            let mut record = vec![0u8; RECORD_BYTES];
            let mut n = u64::from(i);
            while before(deadline) {
                n = burn(n, 100);
                record[..8].copy_from_slice(&n.to_le_bytes());
                if link.write(|| stream.write_all(&record)).is_err() {
                    break;
                }
            }
        }));
    }
    for i in 0..PARALLELISM {
        let link = link.clone();
        let (mut stream, _) = listener.accept().expect("accept over loopback");
        threads.push(thread::spawn(move || {
            let _subtask = bpprof::register("Consumer", i, PARALLELISM);
            let mut record = vec![0u8; RECORD_BYTES];
            let mut checksum = 0u64;
            while before(deadline) {
                let read = link.read(|| {
                    thread::sleep(LINK_DELAY);
                    stream.read_exact(&mut record)
                });
                if read.is_err() {
                    break;
                }
                checksum = checksum.wrapping_add(record.iter().map(|&b| u64::from(b)).sum());
            }
            // Closing the connection with records unread also ends a Producer blocked writing.
            std::hint::black_box(checksum);
        }));
    }
    drop(link);
    for t in threads {
        t.join().expect("pipeline thread panicked");
    }
    println!("network_exchange: done");
    stop_recording(recording);
}
