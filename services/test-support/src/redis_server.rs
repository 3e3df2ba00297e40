//! A `redis-server` child process owned by one test.

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// Asks the kernel for a free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("no free port on 127.0.0.1")
}

/// A running redis-server; killed when dropped.
pub struct RedisServer {
    port: u16,
    dir: PathBuf,
    extra_args: Vec<String>,
    /// Set for a sentinel: it runs from this (writable) config file.
    sentinel_config: Option<PathBuf>,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts a fresh server on a free port and waits until it answers.
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// Starts a server with extra command-line arguments (e.g. `--cluster-enabled yes`).
    pub fn start_with(extra_args: &[&str]) -> Self {
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("redis-test-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("creating the redis work dir");
        let mut server = Self {
            port,
            dir,
            extra_args: extra_args.iter().map(|s| (*s).to_owned()).collect(),
            sentinel_config: None,
            child: None,
        };
        server
            .spawn()
            .expect("starting redis-server (is it installed?)");
        server
    }

    /// Starts `redis-server <config> --sentinel` (the config names `port`); `dir` is removed
    /// when dropped.
    pub fn start_sentinel(port: u16, dir: PathBuf, config: PathBuf) -> Self {
        let mut server = Self {
            port,
            dir,
            extra_args: Vec::new(),
            sentinel_config: Some(config),
            child: None,
        };
        server.spawn().expect("starting redis-server --sentinel");
        server
    }

    /// The process id, while running.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills the server (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        // Wait until the port is really closed.
        let deadline = Instant::now() + Duration::from_secs(5);
        while TcpStream::connect(("127.0.0.1", self.port)).is_ok() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the server answering without closing its connections (SIGSTOP), as a server
    /// frozen by its host would; [`RedisServer::unpause`] lets it go on.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// Lets a paused server go on (SIGCONT).
    pub fn unpause(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        let pid = self.pid().expect("the server runs").to_string();
        let sent = Command::new("kill")
            .args([signal, &pid])
            .status()
            .expect("running kill");
        assert!(sent.success(), "kill {signal} {pid}");
    }

    /// Starts the server again on the same port (empty: nothing is persisted).
    pub fn restart(&mut self) {
        self.kill();
        self.spawn().expect("restarting redis-server");
    }

    /// Runs `redis-cli` against this server and returns its trimmed output.
    pub fn cli(&self, args: &[&str]) -> String {
        cli_on(self.port, args)
    }

    fn spawn(&mut self) -> anyhow::Result<()> {
        let child = match &self.sentinel_config {
            Some(config) => Command::new("redis-server")
                .arg(config)
                .arg("--sentinel")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn(),
            None => self.spawn_server(),
        }
        .context("spawning redis-server")?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if self.cli(&["PING"]) == "PONG" {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("redis-server on port {} did not answer PING", self.port);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn spawn_server(&self) -> std::io::Result<Child> {
        Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                &self.dir.to_string_lossy(),
            ])
            .args(&self.extra_args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Runs `redis-cli` against the server on `port` (on loopback) and returns its trimmed
/// output; for threads that do not hold the [`RedisServer`].
pub fn cli_on(port: u16, args: &[&str]) -> String {
    let output = Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(args)
        .output()
        .expect("running redis-cli");
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}
