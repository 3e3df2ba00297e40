//! loadgen: drives a real SSE server over loopback and measures it: memory per idle stream,
//! fan-out latency and CPU per delivery, connection rate and reconnect storms. It speaks to
//! our gateway or to Nchan (for side-by-side runs) with the same workloads.
//!
//! - [`target`]: what is measured, its address (loopback only), its paths.
//! - [`sources`]: client sockets bound to several loopback source addresses.
//! - [`http`]: the few bytes of HTTP/1.1 a streaming client needs (head, chunked body).
//! - [`sse`]: an incremental Server-Sent-Events parser.
//! - [`client`]: one SSE stream over a raw `TcpStream`.
//! - [`payload`]: sequenced, timestamped events of a fixed size.
//! - [`tracking`]: lost, duplicated and reordered events per stream.
//! - [`histogram`]: latency percentiles.
//! - [`procfs`]: CPU seconds and resident memory of the server and Redis processes.
//! - [`publish`]: publishing through the gateway's history script or Nchan's HTTP publisher.
//! - [`modes`]: the `idle`, `fanout` and `connect` runs.
//! - [`report`]: human-readable lines and one JSON line per run.

pub mod client;
pub mod histogram;
pub mod http;
pub mod modes;
pub mod payload;
pub mod procfs;
pub mod publish;
pub mod report;
pub mod sources;
pub mod sse;
pub mod target;
pub mod tracking;
