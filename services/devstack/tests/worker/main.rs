//! End-to-end tests of the worker with a real redis-server, a real gateway and real files
//! (whole-system tests: they live here, above both services, not in either one).
#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

mod analysis;
mod cancel;
#[path = "../common/mod.rs"]
mod common;
mod control;
mod corpus;
mod failures;
mod files;
mod helpers;
mod hostile;
mod resilience;
mod schedule;
