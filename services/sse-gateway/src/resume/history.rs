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

static STORY: LazyLock<Script> =
    LazyLock::new(|| Script::from_lua(include_str!("lua/history_story.lua")));

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

    async fn range(
        &self,
        key: &str,
        start: String,
        end: &str,
        count: usize,
    ) -> Result<Vec<(StreamId, String)>, fred::error::Error> {
        let args: Vec<Value> = vec![
            key.into(),
            start.into(),
            end.into(),
            "COUNT".into(),
            (count as i64).into(),
        ];
        let value: Value = self
            .client
            .custom(
                CustomCommand::new_static("XRANGE", ClusterHash::FirstKey, false),
                args,
            )
            .await?;
        Ok(entries(value))
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
        let Value::Array(mut parts) = value else {
            return Ok(Story::default());
        };
        let events = if parts.len() == 3 {
            entries(parts.pop().unwrap_or(Value::Null))
        } else {
            Vec::new()
        };
        let flag = |value: Option<&Value>| value.and_then(Value::as_i64) == Some(1);
        Ok(Story {
            exists: flag(parts.first()),
            complete: flag(parts.get(1)),
            events,
        })
    }

    /// Loads the story script into Redis ahead of its first use.
    pub async fn load_scripts(&self) -> Result<(), fred::error::Error> {
        STORY.load(&self.client).await
    }

    /// Events of `channel` from `from` on, and whether some were lost to retention.
    pub async fn replay(
        &self,
        channel: &str,
        from: ResumeFrom,
    ) -> Result<Replay, fred::error::Error> {
        let key = history_key(channel);
        if from == ResumeFrom::After(StreamId::ZERO) {
            return self.replay_all(&key).await;
        }
        let (start, boundary, inclusive) = match from {
            ResumeFrom::Live => return Ok(Replay::default()),
            // Nothing can follow the largest id (Redis refuses an interval starting after it);
            // a client may send it in its Last-Event-ID.
            ResumeFrom::After(id) if id == StreamId::MAX => return Ok(Replay::default()),
            ResumeFrom::After(id) => (format!("({id}"), id, false),
            ResumeFrom::Including(id) => (id.to_string(), id, true),
        };
        let oldest = self
            .range(&key, "-".into(), "+", 1)
            .await?
            .into_iter()
            .next();
        let gap = match oldest {
            None => true,
            Some((oldest, _)) => {
                if inclusive {
                    oldest > boundary
                } else {
                    oldest > boundary && !is_next(boundary, oldest)
                }
            }
        };
        let events = if oldest.is_some() {
            self.range(&key, start, "+", REPLAY_LIMIT).await?
        } else {
            Vec::new()
        };
        Ok(Replay { events, gap })
    }
}

impl HistoryReader {
    /// Everything in the history (the stream subscribed before the channel had any); events
    /// were lost only if the history was ever trimmed.
    async fn replay_all(&self, key: &str) -> Result<Replay, fred::error::Error> {
        let events = self.range(key, "-".into(), "+", REPLAY_LIMIT).await?;
        let gap = !events.is_empty() && self.ever_trimmed(key).await?;
        Ok(Replay { events, gap })
    }

    /// Whether entries were ever removed from `key` (`entries-added` above `length`, Redis
    /// 7); unknown counts as yes, so a client refetches rather than misses something.
    async fn ever_trimmed(&self, key: &str) -> Result<bool, fred::error::Error> {
        let info: Value = self
            .client
            .custom(
                CustomCommand::new_static("XINFO", ClusterHash::Offset(1), false),
                vec![Value::from("STREAM"), Value::from(key)],
            )
            .await?;
        let fields = match info {
            Value::Array(items) => items,
            Value::Map(map) => map
                .inner()
                .into_iter()
                .flat_map(|(k, v)| [Value::from(k), v])
                .collect(),
            _ => return Ok(true),
        };
        // Trimming does not move `max-deleted-entry-id` (only XDEL does): entries ever added
        // beyond those still there were trimmed or deleted.
        let number = |name: &str| {
            fields
                .chunks(2)
                .find(|pair| pair[0].as_string().as_deref() == Some(name))
                .and_then(|pair| pair.get(1)?.as_i64())
        };
        Ok(match (number("entries-added"), number("length")) {
            (Some(added), Some(length)) => added > length,
            _ => true,
        })
    }
}

/// True when `next` directly follows `id` in the same millisecond.
fn is_next(id: StreamId, next: StreamId) -> bool {
    next.ms == id.ms && next.seq == id.seq + 1
}
