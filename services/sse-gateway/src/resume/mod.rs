//! Where a stream starts again, as data: sessions in Redis, resume points, channel history,
//! and what a new subscription gets first. Queueing it ahead of live events is one routine,
//! [`crate::hub::replay`], shared by resumes, first deliveries and catch-ups.
//!
//! - [`session`]: sessions in Redis (owner, subscriptions, positions).
//! - [`points`]: where a resumed stream starts again on each channel.
//! - [`history`]: reading channel history for replays.
//! - [`first_delivery`]: what a new subscription gets before live events (a job's story so
//!   far, a queue's counts, a worker's status).
//! - [`opening`]: a new stream's first deliveries and session in one command;
//!   [`opening_plain`]: the same as plain commands over the scripts' own connection.
//! - [`resuming`]: a resume's take-over and replays in one command (or plain commands over
//!   the scripts' own connection).
//! - [`last_event_id`]: the resume point a reconnecting client sends.

pub mod first_delivery;
pub mod history;
pub mod last_event_id;
pub mod opening;
pub mod opening_plain;
pub mod points;
pub mod resuming;
pub mod session;
