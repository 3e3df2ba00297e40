//! The wire contract between workers, gateways and browsers. Both services depend on this
//! crate, so a channel name or an event field is defined exactly once.
//!
//! - [`channel`]: Redis pub/sub channel names (`job:{id}`, `queue:{name}`, `worker:{id}`,
//!   the gateway's broadcast and custom-event channels) and identifier validation.
//! - [`events`]: the JSON events, field for field as the original design's "Event Formats".
//! - [`failure_codes`]: the `errorCode` of a failed job that no document reader names
//!   (limits, crashes, lost workers).
//! - [`history`]: per-channel event history, `eventId` tagging, stream ids.
//! - [`incoming`]: one parsed view of a received event (validity, id, job status, trace).
//! - [`jobs`]: the résumé-analysis job payload and the default job id.
//! - [`summary`]: the bounded result summary a `completed` `job_update` carries.
//! - [`publisher`]: the publish API (`publish_job_update`, `publish_queue_update`,
//!   `publish_worker_status`, broadcasts and custom events).
//! - [`time`]: epoch-millisecond timestamps carried by every event.

pub mod channel;
pub mod events;
pub mod failure_codes;
pub mod history;
pub mod incoming;
pub mod jobs;
pub mod publisher;
pub mod summary;
mod text;
pub mod time;

pub use channel::{Channel, ChannelKind, InvalidName};
pub use events::{
    Closing, Connected, CustomEvent, Heartbeat, JobStatus, JobUpdate, QueueUpdate, Resync, Stage,
    SubscriptionChange, WorkerState, WorkerStatus,
};
pub use publisher::Publisher;
