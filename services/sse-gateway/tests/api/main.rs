//! Integration tests of the gateway against a real redis-server per test.

mod bad_input;
mod custom_events;
mod faults;
mod helpers;
mod jobs;
mod resume;
mod streams;
mod subscriptions;
