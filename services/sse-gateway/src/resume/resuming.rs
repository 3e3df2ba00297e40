//! A resume's take-over and its replays in one command, where every key is on one Redis node
//! (a single Redis or Sentinel's primary): the session becomes this pod's and each channel's
//! missed events are read by one script (`lua/stream_resume.lua`). On a Redis Cluster the
//! session and the histories live on different slots: the take-over and each channel's replay
//! are commands of their own, sent at once (see `Hub::resume_stream`).
//!
//! Over the scripts' own connection ([`crate::script_pipe`]) the same steps go as plain
//! commands, written together: Redis spends less on a handful of commands than on a script
//! calling them (a script's own cost was more than half of a resume's in Redis).

use std::sync::{Arc, LazyLock};

use fred::types::Value;
use fred::types::scripts::Script;
use progress_contract::history::history_key;
use uuid::Uuid;

use super::history::{REPLAY_LIMIT, Replay, replay_args};
use super::points::ResumeFrom;
use super::session::SessionStore;
use crate::script_pipe::Commands;

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
        let plain = self.take_over_and_replay_plain(id, starts).await;
        if let Some(replays) = crate::script_pipe::or_fred(plain) {
            return replays;
        }
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

/// One channel's part of a plain take-over: its commands' replies, in order.
enum Read {
    Nothing,
    /// The whole history (`XRANGE - +`, then `XINFO STREAM`).
    Whole,
    /// From a point (`XRANGE start +`, then the oldest entry).
    After,
}

impl SessionStore {
    /// [`SessionStore::take_over_and_replay`] as plain commands over the pipe; `None` when
    /// the pipe is down (nothing was sent).
    async fn take_over_and_replay_plain(
        &self,
        id: &Uuid,
        starts: &[(Arc<str>, ResumeFrom)],
    ) -> Option<Result<Vec<Replay>, fred::error::Error>> {
        let pipe = self.pipe()?;
        let [hash, set] = <[String; 2]>::try_from(self.keys(id)).ok()?;
        let [owner, ttl] = <[String; 2]>::try_from(self.take_over_args()).ok()?;
        let limit = REPLAY_LIMIT.to_string();
        let reads: Vec<(String, Option<[String; 2]>)> = starts
            .iter()
            .map(|(channel, from)| (history_key(channel), replay_args(*from)))
            .collect();
        let mut commands = Commands::for_a_stream();
        commands.push(&[b"HSET", hash.as_bytes(), b"owner", owner.as_bytes()]);
        commands.push(&[b"HDEL", hash.as_bytes(), b"closedAt"]);
        commands.push(&[b"EXPIRE", hash.as_bytes(), ttl.as_bytes()]);
        commands.push(&[b"EXPIRE", set.as_bytes(), ttl.as_bytes()]);
        let mut kinds = Vec::with_capacity(reads.len());
        for (key, range) in &reads {
            let key = key.as_bytes();
            kinds.push(match range {
                None => Read::Nothing,
                Some([_, all]) if all == "1" => {
                    commands.push(&[b"XRANGE", key, b"-", b"+", b"COUNT", limit.as_bytes()]);
                    commands.push(&[b"XINFO", b"STREAM", key]);
                    Read::Whole
                }
                Some([start, _]) => {
                    // The range before the oldest entry: a trim between the two can only make
                    // the replay look incomplete (a resync), never hide a gap.
                    let start = start.as_bytes();
                    commands.push(&[b"XRANGE", key, start, b"+", b"COUNT", limit.as_bytes()]);
                    commands.push(&[b"XRANGE", key, b"-", b"+", b"COUNT", b"1"]);
                    Read::After
                }
            });
        }
        let replies = pipe.send(&commands).await?;
        Some(replays_of(starts, &kinds, replies))
    }
}

/// The replays of a plain take-over, from its replies (the take-over's four first).
fn replays_of(
    starts: &[(Arc<str>, ResumeFrom)],
    kinds: &[Read],
    replies: Vec<Result<Value, fred::error::Error>>,
) -> Result<Vec<Replay>, fred::error::Error> {
    let mut replies = replies.into_iter();
    for _ in 0..4 {
        replies.next().unwrap_or(Ok(Value::Null))?;
    }
    let mut next = || replies.next().unwrap_or(Ok(Value::Null));
    let mut replays = Vec::with_capacity(starts.len());
    for ((_, from), kind) in starts.iter().zip(kinds) {
        let reply = match kind {
            Read::Nothing => {
                replays.push(Replay::default());
                continue;
            }
            Read::Whole => {
                let entries = next()?;
                let info = next();
                let oldest = first_id(&entries);
                match oldest {
                    None => empty_history(),
                    // Unknown (no `entries-added`, or no stream any more) counts as trimmed.
                    Some(oldest) => {
                        let trimmed = info.map_or(true, |info| ever_trimmed(&info) != Some(false));
                        replay_reply(oldest, entries, trimmed)
                    }
                }
            }
            Read::After => {
                let entries = next()?;
                match first_id(&next()?) {
                    None => empty_history(),
                    Some(oldest) => replay_reply(oldest, entries, false),
                }
            }
        };
        replays.push(Replay::from_reply(*from, reply));
    }
    Ok(replays)
}

/// The id of the first entry of an `XRANGE` reply.
fn first_id(entries: &Value) -> Option<Value> {
    let Value::Array(entries) = entries else {
        return None;
    };
    let Value::Array(entry) = entries.first()? else {
        return None;
    };
    entry.first().cloned()
}

/// The reply of the `replay()` Lua function (`lua/replay.lua`): `{oldest id, entries, ever
/// trimmed}`.
fn replay_reply(oldest: Value, entries: Value, trimmed: bool) -> Value {
    Value::Array(vec![oldest, entries, Value::Integer(i64::from(trimmed))])
}

fn empty_history() -> Value {
    replay_reply(Value::String("".into()), Value::Array(Vec::new()), false)
}

/// From an `XINFO STREAM` reply, whether entries were ever removed (as `lua/trimmed.lua`):
/// more entries were added than are there. `None` when Redis does not say.
fn ever_trimmed(info: &Value) -> Option<bool> {
    let Value::Array(fields) = info else {
        return None;
    };
    let field = |name: &str| {
        fields
            .chunks(2)
            .find(|pair| pair[0].as_str().as_deref() == Some(name))
            .and_then(|pair| pair.get(1)?.as_i64())
    };
    Some(field("entries-added")? > field("length")?)
}
