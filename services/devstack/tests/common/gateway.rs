//! A real sse-gateway process on free ports that a test can kill (SIGKILL, as a crash or an
//! evicted pod) and start again on the same ports.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use test_support::free_port;

use super::{port_open, service_binary, wait_ready};

pub struct Gateway {
    redis: String,
    env: Vec<(String, String)>,
    pub http: u16,
    pub admin: u16,
    child: Option<Child>,
}

impl Gateway {
    /// Starts it with test settings, plus `env` (which wins).
    pub async fn start(redis: &str, env: &[(&str, &str)]) -> Self {
        let mut gateway = Self {
            redis: redis.into(),
            env: env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            http: free_port(),
            admin: free_port(),
            child: None,
        };
        gateway.spawn().await;
        gateway
    }

    /// Starts the process (again, on the same ports) and waits until it is ready.
    pub async fn spawn(&mut self) {
        let child = Command::new(service_binary("sse-gateway"))
            .env("REDIS_URL", &self.redis)
            .env("HTTP_ADDR", format!("127.0.0.1:{}", self.http))
            .env("ADMIN_ADDR", format!("127.0.0.1:{}", self.admin))
            .env("POD_NAME", "browser-test-gateway")
            .env("SSE_RETRY", "500ms")
            .env("CURSOR_FLUSH_INTERVAL", "100ms")
            .env("QUEUE_UPDATE_INTERVAL", "200ms")
            .env("DRAIN_DELAY", "0s")
            .env("DRAIN_WINDOW", "300ms")
            .env("SHUTDOWN_TIMEOUT", "5s")
            .env("LOG_FORMAT", "json")
            .env("RUST_LOG", "warn")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("starting sse-gateway");
        self.child = Some(child);
        wait_ready(self.admin, Duration::from_secs(20)).await;
    }

    /// SIGKILL, as a crash or an evicted pod; returns once the port is closed.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while port_open(self.http) {
            assert!(Instant::now() < deadline, "the gateway port stayed open");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.http)
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
