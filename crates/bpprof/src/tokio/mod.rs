//! Async subtasks on tokio (feature `tokio`): a future becomes subtask `index` of `task`, and
//! instrumented async channels account its waits, so that an async pipeline — or one that mixes
//! async tasks and threads — is recorded and analysed like a threaded one. See `docs/async.md`.
//!
//! ```
//! # let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).build().unwrap();
//! # runtime.block_on(async {
//! let (tx, mut rx) = bpprof::tokio::channel::<u64>("source->sink", 64);
//! let source = bpprof::tokio::spawn_subtask("Source", 0, 1, async move {
//!     for i in 0..1000 {
//!         tx.send(i).await.unwrap();
//!     }
//! });
//! let sink = bpprof::tokio::spawn_subtask("Sink", 0, 1, async move {
//!     let mut sum = 0;
//!     while let Some(i) = rx.recv().await {
//!         sum += i;
//!     }
//!     sum
//! });
//! source.await.unwrap();
//! assert_eq!(sink.await.unwrap(), 499_500);
//! # });
//! ```

mod channel;
mod wake_note;

pub use channel::{channel, Receiver, Sender, SinkSender};
pub use tokio::sync::mpsc::error::{SendError, TryRecvError, TrySendError};

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use crate::subtask::Detached;
use wake_note::WakeNote;

/// A future run as a subtask: while it is polled, it is the registration of the thread polling
/// it (any worker of a multi-thread runtime, a `current_thread` runtime, a `LocalSet`), so
/// instrumented channels and scopes inside it account to it. Its wall time, from its creation
/// until it completes or is dropped, is busy (being polled, or pending on anything that is not an
/// instrumented wait), idle (pending on an instrumented receive) or backpressured (pending on an
/// instrumented send); the time from a wake-up (of an instrumented wait, a timer, a socket, a
/// budget yield, anything) to the next poll is *scheduled* time (woken, not yet polled), counted
/// inside busy as the wake-up latency of a thread is.
///
/// Created by [`spawn_subtask`], [`spawn_local_subtask`] or [`SubtaskExt::subtask`].
#[must_use = "a subtask does nothing unless polled"]
pub struct Subtask<F> {
    detached: Detached,
    /// `None` once dropped (in `Drop`, under the subtask's registration).
    future: Option<Pin<Box<F>>>,
    /// When the subtask was woken, for its scheduled time; `waker` wakes through it.
    note: Arc<WakeNote>,
    waker: Waker,
}

impl<F: Future> Subtask<F> {
    /// Registers subtask `index` of `task` (of `parallelism`) running `future`. An inconsistent
    /// registration registers anyway with a warning in the recording, as [`crate::register`]
    /// does.
    pub fn new(task: &str, index: u32, parallelism: u32, future: F) -> Subtask<F> {
        let (note, waker) = WakeNote::new();
        Subtask {
            detached: Detached::register(task, index, parallelism),
            future: Some(Box::pin(future)),
            note,
            waker,
        }
    }
}

impl<F: Future> Future for Subtask<F> {
    type Output = F::Output;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.get_mut();
        // Without a recorder a poll only lends the registration (two thread-local stores and
        // their restore) and polls the future with the runtime's own waker, so the wrapper
        // costs no clock read and no waker registration. Switching wakers between polls is
        // safe: a future must wake the waker of its latest poll, and the note forwards to the
        // runtime's waker of the latest poll it made.
        if !crate::registry::is_recording() {
            let _lent = this.detached.lend();
            return match this.future.as_mut() {
                Some(future) => future.as_mut().poll(cx),
                None => Poll::Pending,
            };
        }
        this.poll_observed(cx)
    }
}

impl<F: Future> Subtask<F> {
    /// A poll while a recorder runs: one clock read at its start, for its timing and its
    /// scheduled time (woken, not yet polled), and the future polled with the note's waker.
    fn poll_observed(&mut self, cx: &mut Context<'_>) -> Poll<F::Output> {
        let now = crate::clock::now_ns();
        if let Some(woken_ns) = self.note.poll_begins(cx.waker()) {
            self.detached.polled_after_wake(woken_ns, now);
        }
        let _polling = self.detached.observe_poll(now);
        let Some(future) = self.future.as_mut() else {
            return Poll::Pending;
        };
        let poll = future.as_mut().poll(&mut Context::from_waker(&self.waker));
        if poll.is_pending() {
            self.note.pending();
        }
        poll
    }
}

impl<F> Drop for Subtask<F> {
    fn drop(&mut self) {
        // The future's own drop (a wait it was pending on, a channel end) runs as the subtask.
        let _lent = self.detached.lend();
        self.future = None;
    }
}

impl<F> std::fmt::Debug for Subtask<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subtask").finish_non_exhaustive()
    }
}

/// Spawns `future` on the current tokio runtime as subtask `index` of `task` (see [`Subtask`]).
///
/// # Panics
/// Outside a tokio runtime, as `tokio::spawn` does.
pub fn spawn_subtask<F>(
    task: &str,
    index: u32,
    parallelism: u32,
    future: F,
) -> tokio::task::JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    tokio::spawn(Subtask::new(task, index, parallelism, future))
}

/// Spawns a `!Send` `future` on the current `LocalSet` as subtask `index` of `task`.
///
/// # Panics
/// Outside a `LocalSet`, as `tokio::task::spawn_local` does.
pub fn spawn_local_subtask<F>(
    task: &str,
    index: u32,
    parallelism: u32,
    future: F,
) -> tokio::task::JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    tokio::task::spawn_local(Subtask::new(task, index, parallelism, future))
}

/// Makes any future a subtask: `future.subtask("Enrich", 2, 4)`.
pub trait SubtaskExt: Future + Sized {
    /// This future as subtask `index` of `task` (see [`Subtask`]).
    fn subtask(self, task: &str, index: u32, parallelism: u32) -> Subtask<Self> {
        Subtask::new(task, index, parallelism, self)
    }
}

impl<F: Future> SubtaskExt for F {}
