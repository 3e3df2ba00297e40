//! What every service process of the product needs, in one place so the gateway and the
//! worker start, report and stop the same way.
//!
//! - [`config`]: shared environment settings (`REDIS_URL`, `LOG_FORMAT`) and duration parsing.
//! - [`redis`]: fred clients with a reconnect policy and command timeouts.
//! - [`telemetry`]: tracing subscriber set-up (`RUST_LOG`, JSON or pretty lines).
//! - [`metrics`]: the process-wide Prometheus recorder, its upkeep and scrape-time sources.
//! - [`process`]: the standard `process_*` metrics, read from `/proc` at scrape time.
//! - [`admin`]: the admin HTTP server (`/livez`, `/readyz`, `/metrics`).
//! - [`shutdown`]: SIGTERM/SIGINT into a cancellation token.

pub mod admin;
pub mod config;
pub mod metrics;
pub mod process;
pub mod redis;
pub mod sentinel;
pub mod shutdown;
pub mod telemetry;
