//! The services under observation, as the built binaries, and a file server for the jobs'
//! URLs whose answers provoke the worker's retry, dead-letter and reclaim paths.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use test_support::free_port;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::WAIT;

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A workspace binary built with this test (cargo puts it next to devstack's own).
fn binary(name: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_BIN_EXE_devstack"))
        .with_file_name(name)
        .to_path_buf();
    assert!(
        path.exists(),
        "{} is not built: run the workspace's tests (bash scripts/test.sh, or cargo nextest run \
         --workspace --all-features), or cargo build --workspace --all-features first",
        path.display()
    );
    path
}

/// A running service binary; killed when dropped.
pub struct Service {
    name: String,
    child: Child,
    pub admin: u16,
    pub http: u16,
}

impl Service {
    fn spawn(binary_name: &str, name: &str, env: &[(&str, String)]) -> Self {
        let admin = free_port();
        let http = free_port();
        let mut command = Command::new(binary(binary_name));
        command
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("ADMIN_ADDR", format!("127.0.0.1:{admin}"))
            .env("HTTP_ADDR", format!("127.0.0.1:{http}"))
            .env("POD_NAME", name)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        for (key, value) in env {
            command.env(key, value);
        }
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("starting {binary_name}: {e}"));
        Self {
            name: name.to_owned(),
            child,
            admin,
            http,
        }
    }

    pub fn gateway(redis_url: &str, name: &str) -> Self {
        Self::spawn(
            "sse-gateway",
            name,
            &[
                ("REDIS_URL", redis_url.to_owned()),
                ("HEARTBEAT_INTERVAL", "1s".into()),
            ],
        )
    }

    /// A worker allowed to fetch from 127.0.0.1, taking over stopped workers' jobs after 2 s.
    pub fn worker(redis_url: &str, name: &str) -> Self {
        Self::spawn(
            "resume-worker",
            name,
            &[
                ("REDIS_URL", redis_url.to_owned()),
                ("WORKER_ID", name.to_owned()),
                ("WORKER_CONCURRENCY", "2".into()),
                ("FETCH_ALLOW_HOSTS", "127.0.0.1".into()),
                ("FETCH_TIMEOUT", "120s".into()),
                ("VISIBILITY_TIMEOUT", "2s".into()),
            ],
        )
    }

    pub fn http_base(&self) -> String {
        format!("http://127.0.0.1:{}", self.http)
    }

    pub fn metrics_url(&self) -> String {
        format!("http://127.0.0.1:{}/metrics", self.admin)
    }

    /// Waits for `/readyz` to answer 200.
    pub async fn wait_ready(&mut self) {
        let url = format!("http://127.0.0.1:{}/readyz", self.admin);
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("{} exited before it was ready: {status}", self.name);
            }
            if let Ok(response) = reqwest::get(&url).await
                && response.status().is_success()
            {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{} never became ready",
                self.name
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Kills the process at once (SIGKILL), as a crashed pod.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Default)]
struct Served {
    hits: HashMap<String, usize>,
    /// Connections answered by never answering.
    held: Vec<TcpStream>,
}

/// Serves job files: `/cv.txt` a résumé, `/unavailable.pdf` 503, `/hang.txt` nothing at all
/// the first time (the connection stays open), then the résumé.
pub struct FileServer {
    port: u16,
    served: Arc<Mutex<Served>>,
    task: tokio::task::JoinHandle<()>,
}

impl FileServer {
    pub async fn start(resume: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let served = Arc::new(Mutex::new(Served::default()));
        let state = served.clone();
        let task = tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                tokio::spawn(answer(socket, state.clone(), resume.clone()));
            }
        });
        Self { port, served, task }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub async fn wait_hits(&self, path: &str, count: usize) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let hits = self.served.lock().unwrap().hits.get(path).copied();
            if hits.unwrap_or(0) >= count {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{path} was not fetched {count} times"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for FileServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn answer(mut socket: TcpStream, served: Arc<Mutex<Served>>, resume: String) {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match socket.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let head = String::from_utf8_lossy(&head);
    let path = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
    let hit = {
        let mut served = served.lock().unwrap();
        let hits = served.hits.entry(path.clone()).or_default();
        *hits += 1;
        *hits
    };
    let (status, body) = match path.as_str() {
        "/hang.txt" if hit == 1 => {
            served.lock().unwrap().held.push(socket);
            return;
        }
        "/cv.txt" | "/hang.txt" => ("200 OK", resume),
        "/unavailable.pdf" => ("503 Service Unavailable", String::new()),
        _ => ("404 Not Found", String::new()),
    };
    let response = format!(
        "HTTP/1.1 {status}\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = socket.write_all(response.as_bytes()).await;
    let _ = socket.shutdown().await;
}
