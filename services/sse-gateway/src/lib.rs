//! sse-gateway: holds Server-Sent-Events streams and fans Redis pub/sub events out to them.
//!
//! - [`config`]: environment variables.
//! - [`app`]: build (connect, bind) and run (serve, drain, stop).
//! - [`drain`]: graceful drain on SIGTERM and maximum stream age.
//! - [`server`]: the accept loop, with per-connection cut handles.
//! - [`routes`]: the public HTTP API.
//! - [`auth`]: tokens, the caller's identity and rights.
//! - [`access`]: who may use which channel and job.
//! - [`limits`]: streams per pod and subject, subscriptions per stream, POST rate, headers.
//! - [`hub`]: local streams, channel routing, refcounted Redis subscriptions, control.
//! - [`session`]: sessions in Redis (owner, subscriptions, positions) and resume points.
//! - [`history`]: reading channel history for replays.
//! - [`first_delivery`]: what a new subscription gets before live events (a job's story so
//!   far, a queue's counts, a worker's status).
//! - [`cluster`]: cluster-wide counts.
//! - [`redis_listener`]: pub/sub messages and reconnects into the hub.
//! - [`frame`]: SSE framing and payload checks.
//! - [`last_event_id`]: the resume point a reconnecting client sends.
//! - [`keys`]: the gateway's own Redis key and channel names.
//! - [`error`]: the JSON error body every failure returns.
//! - [`metrics`]: metric names.
pub mod access;
pub mod app;
pub mod auth;
pub mod cluster;
pub mod config;
pub mod drain;
pub mod error;
pub mod fanout;
pub mod frame;
pub mod hub;
pub mod keys;
pub mod limits;
pub mod metrics;
pub mod redis_listener;
pub mod resume;
pub mod routes;
pub mod transport;

pub use app::Application;
pub use config::GatewayConfig;
