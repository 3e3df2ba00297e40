//! A round-robin TCP load balancer for tests: it forwards each connection to the next
//! backend whose `/readyz` answered 200 at the last check (every 100 ms), like a Service
//! with readiness probes.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

#[derive(Clone, Debug)]
struct Backend {
    http: SocketAddr,
    admin: SocketAddr,
    ready: bool,
}

/// The balancer; stops when dropped.
pub struct LoadBalancer {
    pub addr: SocketAddr,
    backends: Arc<Mutex<Vec<Backend>>>,
    tasks: Vec<JoinHandle<()>>,
}

async fn is_ready(admin: SocketAddr) -> bool {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .expect("http client");
    client
        .get(format!("http://{admin}/readyz"))
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
}

impl LoadBalancer {
    /// Balances over `(http, admin)` address pairs.
    pub async fn start(backends: Vec<(SocketAddr, SocketAddr)>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding the balancer");
        let addr = listener.local_addr().expect("balancer address");
        let backends = Arc::new(Mutex::new(
            backends
                .into_iter()
                .map(|(http, admin)| Backend {
                    http,
                    admin,
                    ready: true,
                })
                .collect::<Vec<_>>(),
        ));
        let checker = {
            let backends = backends.clone();
            tokio::spawn(async move {
                loop {
                    let snapshot: Vec<Backend> = backends.lock().expect("lock").clone();
                    for (i, backend) in snapshot.iter().enumerate() {
                        let ready = is_ready(backend.admin).await;
                        if let Some(b) = backends.lock().expect("lock").get_mut(i) {
                            b.ready = ready;
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            })
        };
        let next = Arc::new(AtomicUsize::new(0));
        let acceptor = {
            let backends = backends.clone();
            tokio::spawn(async move {
                while let Ok((inbound, _)) = listener.accept().await {
                    let backends = backends.clone();
                    let next = next.clone();
                    tokio::spawn(async move {
                        let candidates: Vec<Backend> = backends.lock().expect("lock").clone();
                        let ready: Vec<&Backend> = candidates.iter().filter(|b| b.ready).collect();
                        let pool: Vec<&Backend> = if ready.is_empty() {
                            candidates.iter().collect()
                        } else {
                            ready
                        };
                        let start = next.fetch_add(1, Ordering::Relaxed);
                        for k in 0..pool.len() {
                            let backend = pool[(start + k) % pool.len()];
                            if let Ok(mut outbound) = TcpStream::connect(backend.http).await {
                                let mut inbound = inbound;
                                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound)
                                    .await;
                                return;
                            }
                        }
                    });
                }
            })
        };
        Self {
            addr,
            backends,
            tasks: vec![checker, acceptor],
        }
    }

    /// How many backends passed their last readiness check.
    pub fn ready_backends(&self) -> usize {
        self.backends
            .lock()
            .expect("lock")
            .iter()
            .filter(|b| b.ready)
            .count()
    }
}

impl Drop for LoadBalancer {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}
