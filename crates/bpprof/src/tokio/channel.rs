//! Instrumented bounded async channels: a thin layer over `tokio::sync::mpsc`. The non-blocking
//! path (a send that finds room, a receive that finds a message, a poll that is ready at once)
//! reads no clock: it counts the record and goes on. Only a send that finds the queue full
//! (backpressured) or a receive that finds it empty (idle) begins a wait, which the poll that
//! completes it ends. Threads use the blocking variants, so that one job graph can mix async
//! tasks and threads.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll};

use bpprof_format::EndpointRole;
use tokio::sync::mpsc;

use super::{SendError, TryRecvError, TrySendError};
use crate::channel::{account_record, block, register_probe};
use crate::clock;
use crate::probe::{ChannelInfo, ChannelProbe};
use crate::subtask::AsyncWait;

/// What the recorder reads of an async channel.
struct Shared<T> {
    info: ChannelInfo,
    /// A sender that does not keep the channel open, for reading its fill level.
    probe: mpsc::WeakSender<T>,
}

impl<T: Send> ChannelProbe for Shared<T> {
    fn info(&self) -> &ChannelInfo {
        &self.info
    }

    fn len(&self) -> Option<usize> {
        let tx = self.probe.upgrade()?;
        Some(tx.max_capacity() - tx.capacity())
    }
}

/// Creates an instrumented bounded async channel holding at most `capacity` messages (at least
/// 1), named `name` in outputs (for example `"parse->enrich"`; `""` for none). Multi-producer,
/// single-consumer, as `tokio::sync::mpsc`.
pub fn channel<T: Send + 'static>(name: &str, capacity: usize) -> (Sender<T>, Receiver<T>) {
    let capacity = capacity.max(1);
    let (tx, rx) = mpsc::channel(capacity);
    let shared = register_probe(|id| Shared {
        info: ChannelInfo::new(id, name, capacity, false),
        probe: tx.downgrade(),
    });
    (
        Sender {
            tx,
            shared: Arc::clone(&shared),
        },
        Receiver {
            rx,
            shared,
            waiting: None,
        },
    )
}

/// A wait on one end of an async channel, from the poll that found it blocked to the poll that
/// completes it. It borrows nothing, so that a receiver can keep it between polls; its owner
/// ends it with [`Waiting::finish`], also when the future is cancelled (the owners' `Drop`).
struct Waiting {
    role: EndpointRole,
    wait: AsyncWait,
}

impl Waiting {
    /// The calling subtask begins to wait on the `role` end of `info`. One clock read.
    fn begin(info: &ChannelInfo, role: EndpointRole) -> Waiting {
        let now = clock::now_ns();
        let state = info.begin_wait(role, now);
        Waiting {
            role,
            wait: AsyncWait::begin(state, info.site(role), now),
        }
    }

    /// A sender found the queue of `info` full: it waits for room.
    fn for_room(info: &ChannelInfo) -> Waiting {
        info.saw_full.store(true, Ordering::Relaxed);
        Waiting::begin(info, EndpointRole::Sender)
    }

    /// Ends the wait on `info`; `proceeded` when it got a record (or room).
    fn finish(self, info: &ChannelInfo, proceeded: bool) {
        self.wait.end(info.end_wait(self.role, proceeded));
    }
}

/// A send's wait for room, ended when the send completes or is cancelled.
struct SendWait<'a> {
    info: &'a ChannelInfo,
    waiting: Option<Waiting>,
}

impl SendWait<'_> {
    #[inline]
    fn finish(&mut self, proceeded: bool) {
        if let Some(waiting) = self.waiting.take() {
            waiting.finish(self.info, proceeded);
        }
    }
}

impl Drop for SendWait<'_> {
    #[inline]
    fn drop(&mut self) {
        self.finish(false);
    }
}

/// The sending end of an instrumented async channel. Cloning it adds a producer.
pub struct Sender<T: Send + 'static> {
    tx: mpsc::Sender<T>,
    shared: Arc<Shared<T>>,
}

impl<T: Send + 'static> Sender<T> {
    /// Sends `value`, waiting while the queue is full; the time waiting is backpressured time.
    /// Fails when the receiver is gone. Cancel-safe: a cancelled send sends nothing and ends its
    /// wait.
    pub async fn send(&self, value: T) -> Result<(), SendError<T>> {
        let info = &self.shared.info;
        // tokio's cooperative budget makes a busy task yield, as tokio's own channels do; then a
        // queue with room takes the record at once, reading no clock.
        tokio::task::coop::consume_budget().await;
        let permit = match self.tx.try_reserve() {
            Ok(permit) => permit,
            Err(TrySendError::Closed(())) => return Err(SendError(value)),
            Err(TrySendError::Full(())) => match self.reserve_waiting().await {
                Some(permit) => permit,
                None => return Err(SendError(value)),
            },
        };
        info.note_ready_for(EndpointRole::Receiver);
        permit.send(value);
        account_record(info, EndpointRole::Sender);
        Ok(())
    }

    /// Reserves room in a queue found full: a reservation pending on it begins a wait, which
    /// ends when it completes or is cancelled. `None` when the receiver is gone.
    async fn reserve_waiting(&self) -> Option<mpsc::Permit<'_, T>> {
        let info = &self.shared.info;
        let mut reserve = std::pin::pin!(self.tx.reserve());
        let mut wait = SendWait {
            info,
            waiting: None,
        };
        let reserved = std::future::poll_fn(|cx| {
            let poll = reserve.as_mut().poll(cx);
            if poll.is_pending() && wait.waiting.is_none() && self.tx.capacity() == 0 {
                wait.waiting = Some(Waiting::for_room(info));
            }
            poll
        })
        .await;
        wait.finish(reserved.is_ok());
        reserved.ok()
    }

    /// Sends `value` if there is room now, without waiting.
    pub fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        let info = &self.shared.info;
        info.note_ready_for(EndpointRole::Receiver);
        self.tx.try_send(value)?;
        account_record(info, EndpointRole::Sender);
        Ok(())
    }

    /// Sends `value` from a thread (not from async code), blocking while the queue is full; the
    /// time blocked is the calling thread's backpressured time.
    ///
    /// # Panics
    /// When called from async code, as `tokio::sync::mpsc::Sender::blocking_send` does.
    pub fn blocking_send(&self, value: T) -> Result<(), SendError<T>> {
        let info = &self.shared.info;
        info.note_ready_for(EndpointRole::Receiver);
        match self.tx.try_send(value) {
            Ok(()) => {}
            Err(TrySendError::Closed(value)) => return Err(SendError(value)),
            Err(TrySendError::Full(value)) => {
                info.saw_full.store(true, Ordering::Relaxed);
                let wait = block(info, EndpointRole::Sender);
                let sent = self.tx.blocking_send(value);
                wait.finish(sent.is_ok());
                sent?;
            }
        }
        account_record(info, EndpointRole::Sender);
        Ok(())
    }

    /// The channel's capacity.
    pub fn capacity(&self) -> usize {
        self.shared.info.capacity
    }

    /// Messages queued now (including room reserved by sends in progress).
    pub fn len(&self) -> usize {
        self.tx.max_capacity() - self.tx.capacity()
    }

    /// True when no message is queued.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True when the receiver is gone.
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }
}

impl<T: Send + 'static> Sender<T> {
    /// This sender as a `futures_sink::Sink` (for `StreamExt::forward` and the like), with the
    /// same accounting: a `poll_ready` pending on a full queue is backpressured time.
    pub fn into_sink(self) -> SinkSender<T> {
        SinkSender {
            inner: tokio_util::sync::PollSender::new(self.tx),
            shared: self.shared,
            waiting: None,
        }
    }
}

/// An instrumented async channel's sending end as a `futures_sink::Sink`; see
/// [`Sender::into_sink`]. Its error is the channel's closing (the value is dropped).
pub struct SinkSender<T: Send + 'static> {
    inner: tokio_util::sync::PollSender<T>,
    shared: Arc<Shared<T>>,
    /// The wait of a `poll_ready` that found the queue full, until one is ready.
    waiting: Option<Waiting>,
}

impl<T: Send + 'static> futures_sink::Sink<T> for SinkSender<T> {
    type Error = SendError<()>;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        let this = self.get_mut();
        match this.inner.poll_reserve(cx) {
            Poll::Ready(ready) => {
                if let Some(waiting) = this.waiting.take() {
                    waiting.finish(&this.shared.info, ready.is_ok());
                }
                Poll::Ready(ready.map_err(|_| SendError(())))
            }
            Poll::Pending => {
                let full = this.inner.get_ref().is_some_and(|tx| tx.capacity() == 0);
                if this.waiting.is_none() && full {
                    this.waiting = Some(Waiting::for_room(&this.shared.info));
                }
                Poll::Pending
            }
        }
    }

    fn start_send(self: Pin<&mut Self>, item: T) -> Result<(), Self::Error> {
        let this = self.get_mut();
        this.shared.info.note_ready_for(EndpointRole::Receiver);
        this.inner.send_item(item).map_err(|_| SendError(()))?;
        account_record(&this.shared.info, EndpointRole::Sender);
        Ok(())
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.get_mut().inner.close();
        Poll::Ready(Ok(()))
    }
}

impl<T: Send + 'static> Drop for SinkSender<T> {
    fn drop(&mut self) {
        if let Some(waiting) = self.waiting.take() {
            waiting.finish(&self.shared.info, false);
        }
    }
}

impl<T: Send + 'static> std::fmt::Debug for SinkSender<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SinkSender")
            .field("channel", &self.shared.info.name)
            .finish()
    }
}

impl<T: Send + 'static> Clone for Sender<T> {
    fn clone(&self) -> Self {
        Sender {
            tx: self.tx.clone(),
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<T: Send + 'static> std::fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sender")
            .field("channel", &self.shared.info.name)
            .field("len", &self.len())
            .finish()
    }
}

/// The receiving end of an instrumented async channel. It is also a `Stream` of the messages.
pub struct Receiver<T: Send + 'static> {
    rx: mpsc::Receiver<T>,
    shared: Arc<Shared<T>>,
    /// The wait of a receive that found the queue empty, until a poll completes it.
    waiting: Option<Waiting>,
}

impl<T: Send + 'static> Receiver<T> {
    /// Receives a message, waiting while the queue is empty; the time waiting is idle time.
    /// `None` once the queue is empty and every sender is gone. Cancel-safe: a cancelled receive
    /// takes no message and ends its wait.
    pub async fn recv(&mut self) -> Option<T> {
        struct Recv<'a, T: Send + 'static>(&'a mut Receiver<T>);
        impl<T: Send + 'static> Drop for Recv<'_, T> {
            fn drop(&mut self) {
                // Cancelled (or done): a wait left open would count the task idle while it runs.
                self.0.end_wait(false);
            }
        }
        let recv = Recv(self);
        std::future::poll_fn(|cx| recv.0.poll_recv(cx)).await
    }

    /// Polls for the next message (the `Stream` and `recv` path): a message queued now is taken
    /// without reading a clock; a poll pending on an empty queue begins a wait that the poll
    /// receiving a message ends. tokio's cooperative budget applies, as to its own channels.
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        // A sender waits only when the queue is full: this receive frees room for it.
        self.shared.info.note_ready_for(EndpointRole::Sender);
        match self.rx.poll_recv(cx) {
            Poll::Ready(value) => {
                self.end_wait(value.is_some());
                if value.is_some() {
                    account_record(&self.shared.info, EndpointRole::Receiver);
                }
                Poll::Ready(value)
            }
            Poll::Pending => {
                // Pending on an empty queue is a wait; pending with records queued is tokio's
                // cooperative budget making the task yield: busy (scheduled) time.
                if self.waiting.is_none() && self.rx.is_empty() {
                    self.waiting = Some(Waiting::begin(&self.shared.info, EndpointRole::Receiver));
                }
                Poll::Pending
            }
        }
    }

    /// Ends the wait of a receive, if one is open; `proceeded` when it got a message.
    fn end_wait(&mut self, proceeded: bool) {
        if let Some(waiting) = self.waiting.take() {
            waiting.finish(&self.shared.info, proceeded);
        }
    }

    /// Receives a message if one is queued now, without waiting.
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        let info = &self.shared.info;
        info.note_ready_for(EndpointRole::Sender);
        let value = self.rx.try_recv()?;
        account_record(info, EndpointRole::Receiver);
        Ok(value)
    }

    /// Receives a message from a thread (not from async code), blocking while the queue is
    /// empty; the time blocked is the calling thread's idle time.
    ///
    /// # Panics
    /// When called from async code, as `tokio::sync::mpsc::Receiver::blocking_recv` does.
    pub fn blocking_recv(&mut self) -> Option<T> {
        let shared = Arc::clone(&self.shared);
        let info = &shared.info;
        info.note_ready_for(EndpointRole::Sender);
        let value = match self.rx.try_recv() {
            Ok(value) => value,
            Err(TryRecvError::Disconnected) => return None,
            Err(TryRecvError::Empty) => {
                let wait = block(info, EndpointRole::Receiver);
                let got = self.rx.blocking_recv();
                wait.finish(got.is_some());
                got?
            }
        };
        account_record(info, EndpointRole::Receiver);
        Some(value)
    }

    /// The channel's capacity.
    pub fn capacity(&self) -> usize {
        self.shared.info.capacity
    }

    /// Messages queued now.
    pub fn len(&self) -> usize {
        self.rx.len()
    }

    /// True when no message is queued.
    pub fn is_empty(&self) -> bool {
        self.rx.is_empty()
    }
}

impl<T: Send + 'static> Drop for Receiver<T> {
    fn drop(&mut self) {
        self.end_wait(false);
    }
}

impl<T: Send + 'static> futures_core::Stream for Receiver<T> {
    type Item = T;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        self.get_mut().poll_recv(cx)
    }
}

impl<T: Send + 'static> std::fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receiver")
            .field("channel", &self.shared.info.name)
            .field("len", &self.rx.len())
            .finish()
    }
}
