//! A resume's take-over and its replays in one command, where every key is on one Redis node
//! (a single Redis or Sentinel's primary): the session becomes this pod's and each channel's
//! missed events are read by one script (`lua/stream_resume.lua`). On a Redis Cluster the
//! session and the histories live on different slots: the take-over and each channel's replay
//! are commands of their own, sent at once (see `Hub::resume_stream`).

use std::sync::{Arc, LazyLock};

use fred::types::Value;
use fred::types::scripts::Script;
use progress_contract::history::history_key;
use uuid::Uuid;

use super::history::{REPLAY_LIMIT, Replay, replay_args};
use super::points::ResumeFrom;
use super::session::SessionStore;

/// The script taking a session over with its replays.
pub const RESUME_LUA: &str = concat!(
    include_str!("lua/take_over.lua"),
    include_str!("lua/trimmed.lua"),
    include_str!("lua/replay.lua"),
    include_str!("lua/stream_resume.lua")
);
static RESUME: LazyLock<Script> = LazyLock::new(|| Script::from_lua(RESUME_LUA));

/// Loads the script into Redis ahead of its first use.
pub async fn load_script(client: &fred::prelude::Client) -> Result<(), fred::error::Error> {
    RESUME.load(client).await
}

impl SessionStore {
    /// Makes this pod the owner of session `id` and reads what each channel missed from its
    /// point, in one command. Returns one replay per channel, in order.
    pub async fn take_over_and_replay(
        &self,
        id: &Uuid,
        starts: &[(Arc<str>, ResumeFrom)],
    ) -> Result<Vec<Replay>, fred::error::Error> {
        let mut keys = self.keys(id);
        let mut args = self.take_over_args();
        args.push(REPLAY_LIMIT.to_string());
        // Channels with nothing to replay are left out of the command.
        let mut read = Vec::with_capacity(starts.len());
        for (channel, from) in starts {
            let Some(range) = replay_args(*from) else {
                read.push(false);
                continue;
            };
            read.push(true);
            keys.push(history_key(channel));
            args.extend(range);
        }
        let reply = self.eval(&RESUME, keys, args).await?;
        let mut replies = match reply {
            Value::Array(replies) => replies.into_iter(),
            _ => Vec::new().into_iter(),
        };
        Ok(starts
            .iter()
            .zip(read)
            .map(|((_, from), read)| match read {
                true => Replay::from_reply(*from, replies.next().unwrap_or(Value::Null)),
                false => Replay::default(),
            })
            .collect())
    }
}
