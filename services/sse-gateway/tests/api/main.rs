//! Integration tests of the gateway against a real redis-server per test.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

mod auth;
mod bad_input;
mod battery;
mod connect_limits;
mod custom_events;
mod faults;
mod helpers;
mod idle_sockets;
mod job_control;
mod jobs;
mod late_subscribers;
mod one_command;
mod openapi;
mod resume;
mod script_pipe;
mod secrets;
mod sessions;
mod slow_consumers;
mod streams;
mod subscriptions;
mod token_lifetime;
mod tokens;
