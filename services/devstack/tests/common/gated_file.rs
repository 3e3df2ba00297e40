//! An HTTP server with one file whose answer waits until the test opens the gate: a job that
//! fetches it stays in its `fetching` stage for as long as the test needs.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::watch;

pub struct GatedFile {
    pub port: u16,
    open: watch::Sender<bool>,
    requests: Arc<AtomicUsize>,
}

impl GatedFile {
    /// Serves `body` as `text/plain` at every path of a loopback port, once the gate opens.
    pub async fn start(body: Vec<u8>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("binding");
        let port = listener.local_addr().expect("local address").port();
        let (open, gate) = watch::channel(false);
        let requests = Arc::new(AtomicUsize::new(0));
        let counter = requests.clone();
        let body = Arc::new(body);
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let mut gate = gate.clone();
                let body = body.clone();
                let counter = counter.clone();
                tokio::spawn(async move {
                    let mut request = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                        match socket.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => request.extend_from_slice(&buf[..n]),
                        }
                    }
                    counter.fetch_add(1, Ordering::SeqCst);
                    if gate.wait_for(|open| *open).await.is_err() {
                        return;
                    }
                    let head = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: text/plain; charset=utf-8\r\n\
                         content-length: {}\r\nconnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = socket.write_all(head.as_bytes()).await;
                    let _ = socket.write_all(&body).await;
                    let _ = socket.shutdown().await;
                });
            }
        });
        Self {
            port,
            open,
            requests,
        }
    }

    pub fn url(&self, name: &str) -> String {
        format!("http://127.0.0.1:{}/{name}", self.port)
    }

    /// Requests received so far (answered or waiting).
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    pub fn open(&self) {
        let _ = self.open.send(true);
    }

    /// Requests from now on wait again.
    pub fn close(&self) {
        let _ = self.open.send(false);
    }
}
