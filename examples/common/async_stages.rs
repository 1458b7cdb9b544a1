//! Helpers of the async examples: a runtime with two workers, one instrumented channel per
//! downstream subtask, and round-robin sends.

use bpprof::tokio::{channel, Receiver, Sender};

/// Capacity of every channel of the async examples.
pub const CAPACITY: usize = 256;

/// A multi-thread tokio runtime with two workers (the CPUs of the machines these examples are
/// tested on), timers and I/O enabled.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// One channel per subtask of `task`, named `FROM->TASK#i`.
pub fn channels_into<T: Send + 'static>(
    from: &str,
    task: &str,
    n: u32,
) -> (Vec<Sender<T>>, Vec<Receiver<T>>) {
    (0..n)
        .map(|i| channel::<T>(&format!("{from}->{task}#{i}"), CAPACITY))
        .unzip()
}

/// Sends `record` to the next of `outputs`, round-robin; false once a receiver is gone.
pub async fn send_round_robin<T: Send + 'static>(
    outputs: &[Sender<T>],
    next: &mut usize,
    record: T,
) -> bool {
    let output = &outputs[*next % outputs.len()];
    *next += 1;
    output.send(record).await.is_ok()
}
