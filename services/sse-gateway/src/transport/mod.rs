//! The transport: sockets and HTTP/1. It owns each `TcpStream`, and drains a stream's outbox
//! through the [`crate::fanout::Sink`] it implements ([`wire`]); socket options are set in
//! [`socket`] only.
//!
//! The accept loop here is written out (instead of `axum::serve`) for what an SSE server
//! needs: each request carries a handle that can cut its own TCP connection (for clients that
//! stop reading); shutdown can first end streams gracefully, then cut whatever is left after a
//! deadline; a connection that opens with a stream request is served without hyper's
//! per-connection buffers (`stream_http1.rs`); and the accept queue is deep enough for a
//! reconnect storm.

mod admission;
mod rewind;
pub mod socket;
mod stream_http1;
pub mod wire;

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

pub use admission::{Admission, Cut, Pending, SocketLimits};

/// The peer address of the TCP connection a request arrived on (set by the server).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerAddr(pub std::net::IpAddr);

/// Publishes the socket-closing counter at zero for every reason (see
/// [`crate::metrics::describe`]).
pub fn describe() {
    for cut in Cut::ALL {
        metrics::counter!(crate::metrics::SOCKETS_CLOSED, "reason" => cut.as_str()).increment(0);
    }
}

/// Where a request came from: its connection's cut handle and its TCP peer (as `accept`
/// returned it: no system call per connection to ask again), put in every request's
/// extensions.
#[derive(Clone)]
pub struct Origin {
    pub handle: SocketHandle,
    pub peer: PeerAddr,
}

impl Origin {
    pub fn mark<B>(&self, request: &mut Request<B>) {
        request.extensions_mut().insert(self.handle.clone());
        request.extensions_mut().insert(self.peer);
    }
}

/// What serves a stream request read by the lean path (`stream_http1.rs`): the stream
/// route's own steps, called directly, without a router's matching and services.
pub type StreamService = Arc<
    dyn Fn(Request) -> futures::future::BoxFuture<'static, axum::response::Response> + Send + Sync,
>;

/// Cancelling it closes the TCP connection a request arrived on (set by the server).
#[derive(Clone, Debug)]
pub struct SocketHandle(pub CancellationToken);

/// Connections the kernel queues before they are accepted (it caps this at
/// `net.core.somaxconn`). tokio listens with 128: thousands of clients reconnecting at once
/// (a pod drained, a network blip) overflow that, and each dropped SYN costs its client a
/// one-second retransmission.
pub const ACCEPT_BACKLOG: i32 = 8192;

/// Accepts connections until `stop_accepting`; then waits for open connections to finish,
/// cutting those still open when `cut_all` is cancelled. Sockets that are not streams yet are
/// bounded by `admission` (see `admission.rs`). A connection opening with a stream request is
/// served by `streams` (see `stream_http1.rs`), any other by `router`.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    streams: StreamService,
    admission: Admission,
    stop_accepting: CancellationToken,
    cut_all: CancellationToken,
) {
    socket::prepare_listener(&listener, ACCEPT_BACKLOG);
    let tracker = TaskTracker::new();
    loop {
        let accepted = tokio::select! {
            () = stop_accepting.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let (socket, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                // EMFILE and friends: back off instead of spinning.
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        // Over the limit of sockets waiting for a request: closed at once.
        let Some(pending) = admission.admit() else {
            continue;
        };
        let routers = (router.clone(), streams.clone());
        let socket_token = cut_all.child_token();
        let graceful = stop_accepting.clone();
        let header_timeout = admission.header_read_timeout();
        // Boxed: a stream's task holds a pointer while its request is read, then nothing.
        let origin = Box::new(Origin {
            handle: SocketHandle(socket_token.clone()),
            peer: PeerAddr(peer.ip()),
        });
        tracker.spawn(connection(
            socket,
            routers,
            origin,
            graceful,
            pending,
            header_timeout,
        ));
    }
    tracker.close();
    tracker.wait().await;
}

/// Serves one connection: a first request that opens a stream by the lean path, anything
/// else by hyper (HTTP/1.1 keep-alive, HTTP/2, upgrades). The first request head must be
/// complete by `pending.deadline`.
async fn connection(
    mut socket: TcpStream,
    (router, streams): (Router, StreamService),
    origin: Box<Origin>,
    graceful: CancellationToken,
    pending: Pending,
    header_timeout: Duration,
) {
    let socket_token = origin.handle.0.clone();
    let first = tokio::select! {
        first = stream_http1::first_bytes(&mut socket) => first,
        () = tokio::time::sleep_until(pending.deadline) => return Cut::HeaderTimeout.count(),
        () = socket_token.cancelled() => return,
        () = graceful.cancelled() => return,
    };
    match first {
        Ok(first) if first.is_empty() => {}
        Ok(first) if stream_http1::is_stream_request(&first) => {
            drop(router);
            let head = Box::new(stream_http1::Head { first, pending });
            tokio::select! {
                () = stream_http1::serve(socket, head, streams, origin) => {}
                () = socket_token.cancelled() => {}
            }
        }
        // Boxed, so a stream's task is not as large as hyper's connection state.
        Ok(first) => {
            let socket = rewind::Rewind::new(first.freeze(), socket);
            let limits = (pending, header_timeout);
            Box::pin(with_hyper(socket, router, origin, graceful, limits)).await;
        }
        Err(_) => {}
    }
}

async fn with_hyper(
    socket: rewind::Rewind,
    router: Router,
    origin: Box<Origin>,
    graceful: CancellationToken,
    (pending, header_timeout): (Pending, Duration),
) {
    let socket_token = origin.handle.0.clone();
    let deadline = pending.deadline;
    // Given back when the first request head has arrived.
    let pending = Arc::new(Mutex::new(Some(pending)));
    let waiting = pending.clone();
    let service = tower::service_fn(move |mut request: Request<hyper::body::Incoming>| {
        waiting
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        origin.mark(&mut request);
        let router = router.clone();
        async move {
            let response = router.oneshot(request.map(axum::body::Body::new)).await;
            Ok::<_, Infallible>(response.unwrap_or_else(|never| match never {}))
        }
    });
    let first_head_late = async {
        tokio::time::sleep_until(deadline).await;
        let still_waiting = pending
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .is_some();
        if !still_waiting {
            std::future::pending::<()>().await;
        }
    };
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
    let connection = builder
        .serve_connection_with_upgrades(TokioIo::new(socket), TowerToHyperService::new(service));
    tokio::pin!(connection);
    tokio::select! {
        ended = connection.as_mut() => return count_timeout(ended),
        () = first_head_late => return Cut::HeaderTimeout.count(),
        () = socket_token.cancelled() => return,
        () = graceful.cancelled() => connection.as_mut().graceful_shutdown(),
    }
    tokio::select! {
        _ = connection.as_mut() => {},
        () = socket_token.cancelled() => {},
    }
}

/// Counts a keep-alive connection hyper closed for a late request head.
fn count_timeout(ended: Result<(), Box<dyn std::error::Error + Send + Sync>>) {
    if let Err(error) = ended
        && error
            .downcast_ref::<hyper::Error>()
            .is_some_and(hyper::Error::is_timeout)
    {
        Cut::HeaderTimeout.count();
    }
}
