//! A real resume-worker process on a free admin port, killed when dropped; fetches from
//! loopback are allowed (for the tests' own file servers).

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use test_support::free_port;

use super::{service_binary, wait_ready};

pub struct Worker(Child);

impl Worker {
    /// Starts it as `worker_id` and waits until it is ready.
    pub async fn start(redis: &str, worker_id: &str) -> Self {
        let admin = free_port();
        let child = Command::new(service_binary("resume-worker"))
            .env("REDIS_URL", redis)
            .env("ADMIN_ADDR", format!("127.0.0.1:{admin}"))
            .env("WORKER_ID", worker_id)
            .env("WORKER_HEARTBEAT", "1s")
            .env("QUEUE_UPDATE_INTERVAL", "200ms")
            .env("FETCH_ALLOW_HOSTS", "127.0.0.1")
            .env("FETCH_TIMEOUT", "30s")
            .env("LOG_FORMAT", "json")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("starting resume-worker");
        wait_ready(admin, Duration::from_secs(20)).await;
        Self(child)
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
