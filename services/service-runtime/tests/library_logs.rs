//! Records that libraries write through the `log` crate (the Redis client logs every frame
//! it reads at trace level) are dropped where they are logged unless `RUST_LOG` wants them.
//!
//! Logging is set up once per process, so each case runs in a child process of this test
//! binary with its own `RUST_LOG`.

use std::process::Command;
use std::time::Duration;

use service_runtime::config::LogFormat;

/// Set in a child: the `log` level the child must end up with.
const EXPECTED: &str = "LIBRARY_LOGS_EXPECTED";
const NAME: &str = "library_records_below_rust_log_are_dropped_where_they_are_logged";

#[test]
fn library_records_below_rust_log_are_dropped_where_they_are_logged() {
    if let Ok(expected) = std::env::var(EXPECTED) {
        return child(&expected);
    }
    for (rust_log, expected) in [
        ("warn", "warn"),
        ("error", "error"),
        ("info,fred=trace", "trace"),
    ] {
        let status = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", NAME, "--nocapture", "--test-threads=1"])
            .env("RUST_LOG", rust_log)
            .env(EXPECTED, expected)
            .status()
            .unwrap();
        assert!(status.success(), "RUST_LOG={rust_log}: the child failed");
    }
}

fn child(expected: &str) {
    let expected: log::LevelFilter = expected.parse().expect("a log level");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let telemetry =
            service_runtime::telemetry::init("library-logs-test", LogFormat::Json, "info");
        assert_eq!(log::max_level(), expected);
        let trace_wanted = expected == log::LevelFilter::Trace;
        assert_eq!(
            log::log_enabled!(target: "fred::router", log::Level::Trace),
            trace_wanted
        );
        assert!(log::log_enabled!(target: "fred::router", log::Level::Error));
        telemetry.shutdown(Duration::from_secs(1)).await;
    });
}
