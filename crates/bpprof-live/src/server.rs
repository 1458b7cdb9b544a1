//! The HTTP server: a thread with a current-thread tokio runtime, hyper's HTTP/1 on each
//! connection, and the bounds that keep a client from costing the host more than a little:
//!
//! - at most [`MAX_CONNECTIONS`] connections at once; further ones are closed as accepted;
//! - a request's line and headers at most [`MAX_REQUEST_BYTES`] (431 beyond), sent within
//!   [`HEADER_TIMEOUT`] (slow clients are dropped); no request body (413);
//! - a connection lives at most [`CONNECTION_LIFETIME`], whatever the client reads;
//! - only `GET`, only the fixed paths of [`Endpoint::get`] (no files are served).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, ALLOW, CONTENT_LENGTH, CONTENT_TYPE, TRANSFER_ENCODING};
use hyper::service::service_fn;
use hyper::{Method, Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{oneshot, Semaphore};

use crate::api::{Endpoint, Reply};
use crate::error::Error;

/// Connections served at once.
pub const MAX_CONNECTIONS: usize = 32;
/// Longest request line plus headers, bytes (hyper's smallest buffer).
pub const MAX_REQUEST_BYTES: usize = 8192;
/// Time a client has to send a request's headers.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest a connection stays open (keep-alive included).
pub const CONNECTION_LIFETIME: Duration = Duration::from_secs(30);

/// A running server. Dropping it (or [`stop`](Self::stop)) closes the listener and every
/// connection.
#[derive(Debug)]
pub struct Server {
    local_addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops it and waits for its thread (its connections are dropped, not finished).
    pub fn stop(mut self) {
        self.shut_down();
    }

    /// Serves until the process ends (`bpprof serve`).
    pub fn wait(mut self) {
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }

    fn shut_down(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shut_down();
    }
}

/// Binds `address` now (an error if it cannot) and serves `endpoint` from a thread of its own,
/// `bpprof-http`, with a current-thread tokio runtime of its own, until the returned handle
/// drops. `on_exit` runs on that thread once the runtime and every connection are gone (or at
/// once, when the thread cannot start).
pub fn serve(
    address: SocketAddr,
    endpoint: Endpoint,
    on_exit: Box<dyn FnOnce() + Send>,
) -> Result<Server, Error> {
    let started = start(address, endpoint);
    match started {
        Ok((listener, local_addr, runtime, endpoint)) => {
            let (stop_tx, stop_rx) = oneshot::channel();
            // The hook is shared with the error path: a thread that cannot start runs it here.
            let hook = Arc::new(std::sync::Mutex::new(Some(on_exit)));
            let thread_hook = Arc::clone(&hook);
            let thread = std::thread::Builder::new()
                .name("bpprof-http".into())
                .spawn(move || {
                    runtime.block_on(accept_loop(listener, endpoint, stop_rx));
                    // Dropping the runtime drops every connection still open.
                    drop(runtime);
                    run_hook(&thread_hook);
                })
                .map_err(|e| {
                    run_hook(&hook);
                    Error::Thread(e)
                })?;
            Ok(Server {
                local_addr,
                shutdown: Some(stop_tx),
                thread: Some(thread),
            })
        }
        Err(e) => {
            on_exit();
            Err(e)
        }
    }
}

type Hook = Arc<std::sync::Mutex<Option<Box<dyn FnOnce() + Send>>>>;

fn run_hook(hook: &Hook) {
    let hook = hook.lock().unwrap_or_else(|p| p.into_inner()).take();
    if let Some(hook) = hook {
        hook();
    }
}

type Started = (
    std::net::TcpListener,
    SocketAddr,
    tokio::runtime::Runtime,
    Arc<Endpoint>,
);

/// The listener, bound and non-blocking, its address, and the runtime.
fn start(address: SocketAddr, endpoint: Endpoint) -> Result<Started, Error> {
    let bind_error = |source| Error::Bind { address, source };
    let listener = std::net::TcpListener::bind(address).map_err(bind_error)?;
    listener.set_nonblocking(true).map_err(bind_error)?;
    let local_addr = listener.local_addr().map_err(bind_error)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .map_err(Error::Thread)?;
    Ok((listener, local_addr, runtime, Arc::new(endpoint)))
}

async fn accept_loop(
    listener: std::net::TcpListener,
    endpoint: Arc<Endpoint>,
    mut stop: oneshot::Receiver<()>,
) {
    let Ok(listener) = TcpListener::from_std(listener) else {
        return;
    };
    let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let accepted = tokio::select! {
            _ = &mut stop => return,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            // Out of file descriptors, or the client gave up: pause instead of spinning.
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
            continue; // Too many connections: this one is closed as it drops.
        };
        let _ = stream.set_nodelay(true);
        let endpoint = Arc::clone(&endpoint);
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let reply = answer(&endpoint, &request);
                async move { Ok::<_, Infallible>(reply) }
            });
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .max_buf_size(MAX_REQUEST_BYTES)
                .serve_connection(TokioIo::new(stream), service);
            let _ = tokio::time::timeout(CONNECTION_LIFETIME, connection).await;
            drop(permit);
        });
    }
}

/// The response to one request.
fn answer(endpoint: &Endpoint, request: &Request<Incoming>) -> Response<Full<Bytes>> {
    let reply = if request.method() != Method::GET {
        Reply::error(
            405,
            "method_not_allowed",
            "the endpoint is read-only: use GET",
        )
    } else if has_body(request) {
        Reply::error(
            413,
            "body_not_allowed",
            "requests to the endpoint carry no body",
        )
    } else {
        // A bug in the analysis answers 500 and leaves the endpoint serving.
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            endpoint.get(request.uri().path(), request.uri().query())
        }))
        .unwrap_or_else(|_| Reply::error(500, "internal_error", "the analysis failed"))
    };
    let mut response = Response::new(Full::new(Bytes::from(reply.body)));
    *response.status_mut() = hyper::StatusCode::from_u16(reply.status)
        .unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(reply.content_type));
    headers.insert(
        hyper::header::CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    );
    if reply.status == 405 {
        headers.insert(ALLOW, HeaderValue::from_static("GET"));
    }
    response
}

fn has_body(request: &Request<Incoming>) -> bool {
    let headers = request.headers();
    headers.contains_key(TRANSFER_ENCODING)
        || headers
            .get(CONTENT_LENGTH)
            .is_some_and(|length| length.as_bytes() != b"0")
}
