//! The HTTP accept loop. Written out (instead of `axum::serve`) for two things an SSE
//! server needs: each request carries a handle that can cut its own TCP connection (for
//! clients that stop reading), and shutdown can first end streams gracefully, then cut
//! whatever is left after a deadline.

use std::convert::Infallible;
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

use crate::routes::SocketHandle;

/// Accepts connections until `stop_accepting`; then waits for open connections to finish,
/// cutting those still open when `cut_all` is cancelled.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    stop_accepting: CancellationToken,
    cut_all: CancellationToken,
) {
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
        tracker.spawn(async move {
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
            let connection = builder.serve_connection_with_upgrades(
                TokioIo::new(socket),
                TowerToHyperService::new(service),
            );
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
        });
    }
    tracker.close();
    tracker.wait().await;
}
