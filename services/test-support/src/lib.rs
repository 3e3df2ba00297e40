//! Helpers for integration tests: a real `redis-server` on a free port that a test can kill
//! and restart, free ports, an SSE client built on a real SSE parser, a reconnecting
//! EventSource-like client, and a readiness-aware load balancer.

pub mod proxy;
pub mod redis_cluster;
pub mod redis_server;
pub mod resuming;
pub mod sse;

pub use redis_cluster::{RedisCluster, RedisSentinel};
pub use redis_server::{RedisServer, free_port};
pub use sse::{SseClient, SseEvent};
