//! Where a stream starts again: sessions in Redis, channel history, what a new subscription
//! gets first, and the one routine that queues a stream's channels from given positions ahead
//! of their live events.
//!
//! - [`session`]: sessions in Redis (owner, subscriptions, positions) and resume points.
//! - [`history`]: reading channel history for replays.
//! - [`first_delivery`]: what a new subscription gets before live events (a job's story so
//!   far, a queue's counts, a worker's status).
//! - [`last_event_id`]: the resume point a reconnecting client sends.

pub mod first_delivery;
pub mod history;
pub mod last_event_id;
pub mod session;
