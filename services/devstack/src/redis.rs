//! Finds a Redis to use: `REDIS_URL` when it answers, otherwise a `redis-server` started on a
//! free port for the lifetime of this process.

use std::net::{TcpListener, TcpStream, ToSocketAddrs};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// A Redis the stack can use; stops the server it started when dropped.
pub struct LocalRedis {
    pub url: String,
    child: Option<Child>,
}

impl Drop for LocalRedis {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn answers(url: &str) -> bool {
    let rest = url.split("://").nth(1).unwrap_or(url);
    let host_port = rest.rsplit('@').next().unwrap_or(rest);
    let host_port = host_port.split('/').next().unwrap_or(host_port);
    let Ok(mut addrs) = host_port.to_socket_addrs() else {
        return false;
    };
    addrs.any(|addr| TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_ok())
}

/// Uses `url` if something listens there; otherwise starts `redis-server`.
pub fn find_or_start(url: &str) -> anyhow::Result<LocalRedis> {
    if answers(url) {
        tracing::info!(redis = %service_runtime::redis::redact(url), "using the Redis at REDIS_URL");
        return Ok(LocalRedis {
            url: url.to_owned(),
            child: None,
        });
    }
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .context("finding a free port")?
        .port();
    let child = Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn();
    let child = match child {
        Ok(child) => child,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => bail!(
            "no Redis answers at {url} and redis-server is not installed.\n\
             Install it (Debian/Ubuntu: sudo apt-get install -y redis-server; macOS: brew install redis)\n\
             or point REDIS_URL at a running Redis."
        ),
        Err(error) => return Err(error).context("starting redis-server"),
    };
    let redis = LocalRedis {
        url: format!("redis://127.0.0.1:{port}"),
        child: Some(child),
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while !answers(&redis.url) {
        if Instant::now() > deadline {
            bail!("redis-server did not start on port {port}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    tracing::info!(redis = %redis.url, "started a local redis-server (stopped on exit)");
    Ok(redis)
}
