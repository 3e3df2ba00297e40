//! A new stream's first step in one command, where every key is on one Redis node (a single
//! Redis or Sentinel's primary): its channels' first deliveries are read and its session is
//! written, each channel with where it resumes until a position is flushed, by one script
//! (`lua/stream_open.lua`). On a Redis Cluster these keys live on different slots, and the
//! same result takes two round trips: [`FirstDelivery::read`], then the session's write
//! beside [`FirstDelivery::complete`].
//!
//! Every command is a write and a loopback round trip for the gateway, and a script call for
//! Redis: an open with a job used to take three (the story, the job's record, the session).

use std::collections::HashMap;
use std::sync::LazyLock;

use fred::types::Value;
use fred::types::scripts::Script;
use progress_contract::history::{StreamId, history_key};
use progress_contract::{Channel, ChannelKind};
use uuid::Uuid;

use super::first_delivery::{FirstDelivery, Plan};
use super::history::{REPLAY_LIMIT, Story};
use super::session::{SessionStore, flag};

/// The script opening a stream.
pub const OPEN_LUA: &str = concat!(
    include_str!("lua/trimmed.lua"),
    include_str!("lua/story.lua"),
    include_str!("lua/session_create.lua"),
    include_str!("lua/stream_open.lua")
);
static OPEN: LazyLock<Script> = LazyLock::new(|| Script::from_lua(OPEN_LUA));

/// Loads the script into Redis ahead of its first use.
pub async fn load_script(client: &fred::prelude::Client) -> Result<(), fred::error::Error> {
    OPEN.load(client).await
}

/// Whether opening a stream with `channels` fits the one script: job channels (their first
/// delivery is their history or their record), or any channel live only. A queue's counts
/// and a worker's status are read by their own modules.
pub fn fits(channels: &[Channel], replay: bool) -> bool {
    !replay || channels.iter().all(|c| c.kind() == ChannelKind::Job)
}

/// What a new stream opens with: its id, who owns it, its channels.
pub struct NewStream<'a> {
    pub id: Uuid,
    pub subject: Option<&'a str>,
    pub multi: bool,
    pub channels: &'a [Channel],
    pub replay: bool,
}

impl FirstDelivery {
    /// Reads the first deliveries of a new stream's channels and records its session, in
    /// one command; the stream's channels must [`fits`] it.
    pub async fn open_stream(
        &self,
        sessions: &SessionStore,
        stream: &NewStream<'_>,
    ) -> Result<Vec<Plan>, fred::error::Error> {
        let plain = self.open_stream_plain(sessions, stream).await;
        if let Some(plans) = crate::script_pipe::or_fred(plain) {
            return plans;
        }
        let queues = if stream.replay { self.queues() } else { &[] };
        let mut keys = sessions.keys(&stream.id);
        for channel in stream.channels {
            keys.push(history_key(&channel.redis_name()));
            keys.extend(queues.iter().map(|queue| queue.keys().job(channel.id())));
        }
        let mut args =
            sessions.creation_args(stream.subject, stream.multi, 3 + stream.channels.len());
        args.extend([
            REPLAY_LIMIT.to_string(),
            flag(stream.replay),
            queues.len().to_string(),
        ]);
        args.extend(stream.channels.iter().map(Channel::redis_name));
        let reply = sessions.eval(&OPEN, keys, args).await?;
        let Value::Array(replies) = reply else {
            return Err(unexpected());
        };
        if replies.len() != stream.channels.len() {
            return Err(unexpected());
        }
        stream
            .channels
            .iter()
            .zip(replies)
            .map(|(channel, reply)| self.plan(channel, stream.replay, reply))
            .collect()
    }

    /// One channel's plan from its part of the reply:
    /// `{exists, reaches the start, entries, record, queue holding it}`.
    pub(super) fn plan(
        &self,
        channel: &Channel,
        replay: bool,
        reply: Value,
    ) -> Result<Plan, fred::error::Error> {
        let Value::Array(mut parts) = reply else {
            return Err(unexpected());
        };
        if parts.len() != 5 {
            return Err(unexpected());
        }
        let holder = parts.pop().and_then(|v| v.as_u64()).unwrap_or(0) as usize;
        let record = parts.pop().unwrap_or(Value::Null);
        let story = Story::from_reply(Value::Array(parts));
        if !replay {
            let newest = story.events.last().map_or(StreamId::ZERO, |(id, _)| *id);
            return Ok(Plan::live_only(channel, newest));
        }
        let mut plan = Plan::from_story(channel, story);
        let record = match holder.checked_sub(1).and_then(|i| self.queues().get(i)) {
            Some(queue) => {
                let hash: HashMap<String, String> = record.convert()?;
                job_queue::JobRecord::from_hash(queue.name(), hash).map(|job| self.snapshot(&job))
            }
            None => None,
        };
        plan.complete_with(record);
        Ok(plan)
    }
}

fn unexpected() -> fred::error::Error {
    fred::error::Error::new(
        fred::error::ErrorKind::Parse,
        "unexpected reply from the stream-opening script",
    )
}
