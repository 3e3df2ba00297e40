//! Shared by the devstack tests: the built binaries, process inspection through /proc,
//! readiness waits, and a file server whose answer the test releases.

#![allow(dead_code)]

pub mod gated_file;
pub mod gateway;
pub mod processes;
pub mod worker;

use std::net::TcpStream;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// `target/<profile>/`, where cargo put this package's binary and the workspace's others.
pub fn bin_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_devstack"))
        .parent()
        .expect("the devstack binary has a directory")
        .to_path_buf()
}

/// The target directory (`target/`), for artifacts.
pub fn target_dir() -> PathBuf {
    bin_dir()
        .parent()
        .expect("the profile directory has a parent")
        .to_path_buf()
}

/// Another service's binary from the same build; a clear failure when it was not built.
pub fn service_binary(name: &str) -> PathBuf {
    let path = bin_dir().join(name);
    assert!(
        path.exists(),
        "{} is not built: run the tests for the whole workspace (bash scripts/test.sh, or \
         cargo nextest run --workspace --all-features), or build it first with \
         cargo build -p {name} --all-features",
        path.display()
    );
    path
}

pub fn port_open(port: u16) -> bool {
    TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(200)).is_ok()
}

/// `count` consecutive ports that are free now (devstack's workers take the ports after the
/// gateway's admin port).
pub fn free_port_run(count: u16) -> u16 {
    for _ in 0..100 {
        let first = test_support::free_port();
        if first.checked_add(count).is_none() {
            continue;
        }
        let all_free = (first..first + count)
            .all(|port| std::net::TcpListener::bind(("127.0.0.1", port)).is_ok());
        if all_free {
            return first;
        }
    }
    panic!("no run of {count} free ports on 127.0.0.1");
}

/// Waits until `GET http://127.0.0.1:{admin}/readyz` answers 200.
pub async fn wait_ready(admin: u16, limit: Duration) {
    let http = reqwest::Client::new();
    let deadline = Instant::now() + limit;
    loop {
        let ready = http
            .get(format!("http://127.0.0.1:{admin}/readyz"))
            .timeout(Duration::from_secs(1))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        if ready {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "nothing became ready on admin port {admin} within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
