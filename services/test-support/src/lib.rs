//! Helpers for integration tests: a real `redis-server` on a free port that a test can kill
//! and restart, free ports, and an SSE client built on a real SSE parser.

pub mod redis_server;
pub mod sse;

pub use redis_server::{RedisServer, free_port};
pub use sse::{SseClient, SseEvent};
