//! The HTTP accept loop. Written out (instead of `axum::serve`) for what an SSE server
//! needs: each request carries a handle that can cut its own TCP connection (for clients that
//! stop reading); shutdown can first end streams gracefully, then cut whatever is left after a
//! deadline; a connection that opens with a stream request is served without hyper's
//! per-connection buffers ([`stream_http1`]); and the accept queue is deep enough for a
//! reconnect storm.

mod stream_http1;

use std::convert::Infallible;
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

use crate::routes::SocketHandle;

/// Connections the kernel queues before they are accepted (it caps this at
/// `net.core.somaxconn`). tokio listens with 128: thousands of clients reconnecting at once
/// (a pod drained, a network blip) overflow that, and each dropped SYN costs its client a
/// one-second retransmission.
pub const ACCEPT_BACKLOG: i32 = 8192;

/// Accepts connections until `stop_accepting`; then waits for open connections to finish,
/// cutting those still open when `cut_all` is cancelled.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    stop_accepting: CancellationToken,
    cut_all: CancellationToken,
) {
    // Listening again on a listening socket only changes its backlog.
    if let Err(error) = socket2::SockRef::from(&listener).listen(ACCEPT_BACKLOG) {
        tracing::warn!(%error, "could not deepen the accept queue");
    }
    let tracker = TaskTracker::new();
    loop {
        let accepted = tokio::select! {
            () = stop_accepting.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let (socket, _peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                // EMFILE and friends: back off instead of spinning.
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = socket.set_nodelay(true);
        let router = router.clone();
        let socket_token = cut_all.child_token();
        let graceful = stop_accepting.clone();
        tracker.spawn(connection(socket, router, socket_token, graceful));
    }
    tracker.close();
    tracker.wait().await;
}

/// Serves one connection: a first request that opens a stream by the lean path, anything
/// else by hyper (HTTP/1.1 keep-alive, HTTP/2, upgrades).
async fn connection(
    socket: TcpStream,
    router: Router,
    socket_token: CancellationToken,
    graceful: CancellationToken,
) {
    let is_stream = tokio::select! {
        first = stream_http1::starts_with_stream_request(&socket) => first,
        () = socket_token.cancelled() => return,
        () = graceful.cancelled() => return,
    };
    match is_stream {
        Ok(true) => {
            let handle = SocketHandle(socket_token.clone());
            tokio::select! {
                () = stream_http1::serve(socket, router, handle) => {}
                () = socket_token.cancelled() => {}
            }
        }
        // Boxed, so a stream's task is not as large as hyper's connection state.
        Ok(false) => Box::pin(with_hyper(socket, router, socket_token, graceful)).await,
        Err(_) => {}
    }
}

async fn with_hyper(
    socket: TcpStream,
    router: Router,
    socket_token: CancellationToken,
    graceful: CancellationToken,
) {
    let handle = SocketHandle(socket_token.clone());
    let service = tower::service_fn(move |mut request: Request<hyper::body::Incoming>| {
        request.extensions_mut().insert(handle.clone());
        let router = router.clone();
        async move {
            let response = router.oneshot(request.map(axum::body::Body::new)).await;
            Ok::<_, Infallible>(response.unwrap_or_else(|never| match never {}))
        }
    });
    let builder = Builder::new(TokioExecutor::new());
    let connection = builder
        .serve_connection_with_upgrades(TokioIo::new(socket), TowerToHyperService::new(service));
    tokio::pin!(connection);
    tokio::select! {
        _ = connection.as_mut() => return,
        () = socket_token.cancelled() => return,
        () = graceful.cancelled() => connection.as_mut().graceful_shutdown(),
    }
    tokio::select! {
        _ = connection.as_mut() => {},
        () = socket_token.cancelled() => {},
    }
}
