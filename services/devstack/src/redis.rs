//! Finds a Redis to use: `REDIS_URL` when it answers, otherwise a `redis-server` started on a
//! free port for the lifetime of this process (installed first if the machine lacks it).
//!
//! The server it starts runs in a process group of its own, so a Ctrl-C in the terminal
//! (which signals the whole foreground group) reaches only devstack: Redis stays up while
//! the gateway and workers shut down cleanly, and is stopped last.

use std::net::{TcpListener, TcpStream, ToSocketAddrs};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// A Redis the stack can use; stops the server it started when dropped.
pub struct LocalRedis {
    pub url: String,
    child: Mutex<Option<Child>>,
}

impl LocalRedis {
    /// Whether this process started the server (and so stops it).
    pub fn started_here(&self) -> bool {
        self.child.lock().is_ok_and(|child| child.is_some())
    }

    /// Stops the server this process started (nothing for a Redis found at `REDIS_URL`).
    pub fn stop(&self) {
        let child = self.child.lock().ok().and_then(|mut child| child.take());
        if let Some(mut child) = child {
            let _ = child.kill();
            let _ = child.wait();
            tracing::info!(redis = %self.url, "stopped the local redis-server");
        }
    }
}

impl Drop for LocalRedis {
    fn drop(&mut self) {
        self.stop();
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

/// `redis-server` on `port`, in a process group of its own.
fn spawn(port: u16) -> std::io::Result<Child> {
    Command::new("redis-server")
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
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .process_group(0)
        .spawn()
}

/// Uses `url` if something listens there; otherwise starts `redis-server`, installing it
/// first when it is missing (see [`crate::install`]).
pub fn find_or_start(url: &str) -> anyhow::Result<LocalRedis> {
    if answers(url) {
        tracing::info!(redis = %service_runtime::redis::redact(url), "using the Redis at REDIS_URL");
        return Ok(LocalRedis {
            url: url.to_owned(),
            child: Mutex::new(None),
        });
    }
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .context("finding a free port")?
        .port();
    let child = match spawn(port) {
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            crate::install::redis_server(&service_runtime::redis::redact(url))?;
            spawn(port)
        }
        spawned => spawned,
    };
    let child = child.context("starting redis-server")?;
    let redis = LocalRedis {
        url: format!("redis://127.0.0.1:{port}"),
        child: Mutex::new(Some(child)),
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while !answers(&redis.url) {
        let exited = redis
            .child
            .lock()
            .ok()
            .and_then(|mut child| child.as_mut().and_then(|c| c.try_wait().ok().flatten()));
        if let Some(status) = exited {
            bail!("redis-server exited at start ({status}); its messages are above");
        }
        if Instant::now() > deadline {
            bail!("redis-server did not start on port {port}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    tracing::info!(redis = %redis.url, "no Redis at REDIS_URL: started a local redis-server (stopped on exit)");
    Ok(redis)
}
