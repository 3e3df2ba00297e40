#![doc = include_str!("map.md")]

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
pub mod memory;
pub mod metrics;
pub mod queues;
pub mod redis_listener;
pub mod resume;
pub mod routes;
pub mod script_pipe;
pub mod state;
pub mod transport;

pub use app::Application;
pub use config::GatewayConfig;
