//! A small HTTP file server for the worker to fetch from, with failure modes.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

type Stored = std::collections::HashMap<String, (Vec<u8>, &'static str)>;

#[derive(Clone, Default)]
pub struct Files {
    files: Arc<std::sync::Mutex<Stored>>,
    /// Requests per path seen so far.
    pub hits: Arc<std::sync::Mutex<std::collections::HashMap<String, usize>>>,
    slow_count: Arc<AtomicUsize>,
    slow_delay: Arc<std::sync::Mutex<Duration>>,
    redirect_to: Arc<std::sync::Mutex<String>>,
}

pub struct FileServer {
    pub addr: SocketAddr,
    pub files: Files,
}

impl FileServer {
    /// Serves on `ip`:0.
    pub async fn start(ip: [u8; 4]) -> Self {
        let files = Files::default();
        let app = Router::new()
            .route("/files/{name}", get(serve))
            .route(
                "/unavailable/{name}",
                get(|| async { StatusCode::SERVICE_UNAVAILABLE }),
            )
            .route("/slow/{name}", get(slow))
            .route("/redirect", get(redirect))
            .with_state(files.clone());
        let listener = tokio::net::TcpListener::bind(SocketAddr::from((ip, 0)))
            .await
            .unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { addr, files }
    }

    pub fn put(&self, name: &str, bytes: Vec<u8>, content_type: &'static str) {
        self.files
            .files
            .lock()
            .unwrap()
            .insert(name.to_owned(), (bytes, content_type));
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn redirect_to(&self, target: &str) {
        *self.files.redirect_to.lock().unwrap() = target.to_owned();
    }

    /// The next `n` requests to `/slow/*` wait `delay` before answering.
    pub fn make_slow(&self, n: usize, delay: Duration) {
        *self.files.slow_delay.lock().unwrap() = delay;
        self.files.slow_count.store(n, Ordering::SeqCst);
    }

    pub fn hits(&self, path: &str) -> usize {
        self.files
            .hits
            .lock()
            .unwrap()
            .get(path)
            .copied()
            .unwrap_or(0)
    }
}

fn file(files: &Files, name: &str) -> Response {
    match files.files.lock().unwrap().get(name) {
        Some((bytes, content_type)) => {
            let mut headers = HeaderMap::new();
            headers.insert(header::CONTENT_TYPE, content_type.parse().unwrap());
            (headers, bytes.clone()).into_response()
        }
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn serve(State(files): State<Files>, Path(name): Path<String>) -> Response {
    *files
        .hits
        .lock()
        .unwrap()
        .entry(format!("/files/{name}"))
        .or_default() += 1;
    file(&files, &name)
}

async fn slow(State(files): State<Files>, Path(name): Path<String>) -> Response {
    *files
        .hits
        .lock()
        .unwrap()
        .entry(format!("/slow/{name}"))
        .or_default() += 1;
    let slow = files
        .slow_count
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    if slow {
        let delay = *files.slow_delay.lock().unwrap();
        tokio::time::sleep(delay).await;
    }
    file(&files, &name)
}

async fn redirect(State(files): State<Files>) -> Response {
    let target = files.redirect_to.lock().unwrap().clone();
    (StatusCode::FOUND, [(header::LOCATION, target)]).into_response()
}
