//! Reading channel history for replays.

use std::sync::LazyLock;

use fred::prelude::{Client, ClientLike};
use fred::types::scripts::Script;
use fred::types::{ClusterHash, CustomCommand, Value};
use progress_contract::history::{StreamId, history_key};

use crate::resume::points::ResumeFrom;

/// Events of one channel to replay.
#[derive(Debug, Default)]
pub struct Replay {
    /// (event id, event JSON as published).
    pub events: Vec<(StreamId, String)>,
    /// Events the client missed are no longer in history: it must refetch state.
    pub gap: bool,
}

/// Most events replayed per channel on one reconnect.
pub const REPLAY_LIMIT: usize = 10_000;

static STORY: LazyLock<Script> = LazyLock::new(|| {
    Script::from_lua(concat!(
        include_str!("lua/trimmed.lua"),
        include_str!("lua/story.lua"),
        include_str!("lua/history_story.lua")
    ))
});
static REPLAY: LazyLock<Script> = LazyLock::new(|| {
    Script::from_lua(concat!(
        include_str!("lua/trimmed.lua"),
        include_str!("lua/replay.lua"),
        include_str!("lua/history_replay.lua")
    ))
});

/// A channel's history from its start, for a new subscriber.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Story {
    /// Every event from the first, oldest first; only the newest when `complete` is false.
    pub events: Vec<(StreamId, String)>,
    /// The history still holds the channel's first event: nothing was trimmed (by
    /// `HISTORY_MAXLEN`) or expired (by `HISTORY_TTL`: then there is no history at all, and
    /// `exists` is false).
    pub complete: bool,
    pub exists: bool,
}

impl Story {
    /// The story from the reply of the `story()` Lua function (`lua/story.lua`):
    /// `{exists, reaches the start, entries}`; anything else is an empty story.
    pub fn from_reply(value: Value) -> Self {
        let Value::Array(mut parts) = value else {
            return Story::default();
        };
        parts.truncate(3);
        let events = if parts.len() == 3 {
            entries(parts.pop().unwrap_or(Value::Null))
        } else {
            Vec::new()
        };
        let flag = |value: Option<&Value>| value.and_then(Value::as_i64) == Some(1);
        Story {
            exists: flag(parts.first()),
            complete: flag(parts.get(1)),
            events,
        }
    }
}

#[derive(Clone)]
pub struct HistoryReader {
    client: Client,
}

fn entries(value: Value) -> Vec<(StreamId, String)> {
    let Value::Array(items) = value else {
        return Vec::new();
    };
    items
        .into_iter()
        .filter_map(|item| {
            let Value::Array(mut parts) = item else {
                return None;
            };
            let fields = parts.pop()?;
            let id = StreamId::parse(&parts.pop()?.as_string()?)?;
            let Value::Array(fields) = fields else {
                return None;
            };
            let body = fields
                .chunks(2)
                .find(|pair| pair[0].as_string().as_deref() == Some("e"))
                .and_then(|pair| pair.get(1)?.as_string())?;
            Some((id, body))
        })
        .collect()
}

impl HistoryReader {
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    /// The newest event id of `channel`, if it has history.
    pub async fn latest(&self, channel: &str) -> Result<Option<StreamId>, fred::error::Error> {
        let args: Vec<Value> = vec![
            history_key(channel).into(),
            "+".into(),
            "-".into(),
            "COUNT".into(),
            1.into(),
        ];
        let value: Value = self
            .client
            .custom(
                CustomCommand::new_static("XREVRANGE", ClusterHash::FirstKey, false),
                args,
            )
            .await?;
        Ok(entries(value).into_iter().next().map(|(id, _)| id))
    }

    /// `channel`'s story so far (one round trip).
    pub async fn story(&self, channel: &str) -> Result<Story, fred::error::Error> {
        let value: Value = STORY
            .evalsha_with_reload(
                &self.client,
                vec![history_key(channel)],
                vec![REPLAY_LIMIT.to_string()],
            )
            .await?;
        Ok(Story::from_reply(value))
    }

    /// Loads the story and replay scripts into Redis ahead of its first use.
    pub async fn load_scripts(&self) -> Result<(), fred::error::Error> {
        STORY.load(&self.client).await?;
        REPLAY.load(&self.client).await
    }

    /// Events of `channel` from `from` on, and whether some were lost to retention: one
    /// command.
    pub async fn replay(
        &self,
        channel: &str,
        from: ResumeFrom,
    ) -> Result<Replay, fred::error::Error> {
        let Some([start, all]) = replay_args(from) else {
            return Ok(Replay::default());
        };
        let reply: Value = REPLAY
            .evalsha_with_reload(
                &self.client,
                vec![history_key(channel)],
                vec![start, REPLAY_LIMIT.to_string(), all],
            )
            .await?;
        Ok(Replay::from_reply(from, reply))
    }
}

/// The `replay()` Lua function's first id and whole-history flag for a stream resuming
/// `from` (`lua/replay.lua`); `None` when nothing is to be replayed.
pub fn replay_args(from: ResumeFrom) -> Option<[String; 2]> {
    match from {
        ResumeFrom::Live => None,
        // The stream subscribed before the channel had any history: all of it.
        ResumeFrom::After(StreamId::ZERO) => Some(["-".into(), "1".into()]),
        // Nothing can follow the largest id (Redis refuses an interval starting after it);
        // a client may send it in its Last-Event-ID.
        ResumeFrom::After(StreamId::MAX) => None,
        ResumeFrom::After(id) => Some([format!("({id}"), "0".into()]),
        ResumeFrom::Including(id) => Some([id.to_string(), "0".into()]),
    }
}

impl Replay {
    /// A replay from `from` out of the `replay()` Lua function's reply,
    /// `{oldest id, entries, ever trimmed}`. Events were lost when the history no longer
    /// reaches the point: it is empty, or its oldest entry is past it; for the whole history,
    /// when any of it was ever trimmed.
    pub fn from_reply(from: ResumeFrom, reply: Value) -> Self {
        let Value::Array(mut parts) = reply else {
            return Replay::default();
        };
        let trimmed = parts.pop().and_then(|v| v.as_i64()) == Some(1);
        let events = entries(parts.pop().unwrap_or(Value::Null));
        let oldest = parts
            .pop()
            .and_then(|v| v.as_string())
            .and_then(|id| StreamId::parse(&id));
        let gap = match (from, oldest) {
            (ResumeFrom::After(StreamId::ZERO), _) => !events.is_empty() && trimmed,
            (ResumeFrom::Live, _) => false,
            (_, None) => true,
            (ResumeFrom::After(boundary), Some(oldest)) => {
                oldest > boundary && !is_next(boundary, oldest)
            }
            (ResumeFrom::Including(boundary), Some(oldest)) => oldest > boundary,
        };
        Replay { events, gap }
    }
}

/// True when `next` directly follows `id` in the same millisecond.
fn is_next(id: StreamId, next: StreamId) -> bool {
    next.ms == id.ms && next.seq == id.seq + 1
}
