//! A new stream's first step as plain commands over the scripts' own connection
//! ([`crate::script_pipe`]), with the same result as the script of [`super::opening`]: Redis
//! spends less on a handful of commands than on a script calling them. Two writes instead of
//! one: each channel's `XINFO STREAM` first (does its history exist, does it still reach the
//! start, its newest entry), then, sent together, the stories that reach the start
//! (`XRANGE`), the jobs' records and the session.
//!
//! Not one atomic step: an event may be added between the two writes. The stream's channels
//! are subscribed before either (their live events are held and de-duplicated by history id),
//! so such an event is delivered live, as it would be just after the script. A story that
//! was trimmed between the two (its first entry is not the one `XINFO` named) counts as not
//! reaching the start, and ends with the job's record, which the second write reads for every
//! channel.

use fred::types::Value;
use progress_contract::history::{StreamId, history_key};

use super::first_delivery::{FirstDelivery, Plan};
use super::history::REPLAY_LIMIT;
use super::opening::NewStream;
use super::session::SessionStore;
use crate::script_pipe::{Commands, lost};

/// What `XINFO STREAM` says of a channel's history.
#[derive(Debug, Default)]
struct Info {
    exists: bool,
    length: i64,
    /// `None` before Redis 7.
    entries_added: Option<i64>,
    first: Option<Value>,
    last: Option<Value>,
}

impl Info {
    fn from_reply(reply: Result<Value, fred::error::Error>) -> Result<Self, fred::error::Error> {
        let fields = match reply {
            Ok(Value::Array(fields)) => fields,
            Ok(_) => return Ok(Info::default()),
            Err(error) if error.details().contains("no such key") => return Ok(Info::default()),
            Err(error) => return Err(error),
        };
        let mut info = Info {
            exists: true,
            ..Info::default()
        };
        let mut pairs = fields.into_iter();
        while let (Some(name), Some(value)) = (pairs.next(), pairs.next()) {
            match name.as_str().as_deref() {
                Some("length") => info.length = value.as_i64().unwrap_or(0),
                Some("entries-added") => info.entries_added = value.as_i64(),
                Some("first-entry") => info.first = Some(value).filter(|v| !v.is_null()),
                Some("last-entry") => info.last = Some(value).filter(|v| !v.is_null()),
                _ => {}
            }
        }
        Ok(info)
    }

    /// As `story()` (`lua/story.lua`) decides: the history reaches the start unless it is
    /// longer than a story may be or entries were ever removed (unknown: it does).
    fn complete(&self) -> bool {
        self.length <= REPLAY_LIMIT as i64
            && self.entries_added.is_none_or(|added| added <= self.length)
    }

    fn id_of(entry: &Value) -> Option<Value> {
        match entry {
            Value::Array(parts) => parts.first().cloned(),
            _ => None,
        }
    }
}

/// One channel's part of the second write.
struct Second {
    /// Index of its `XRANGE` reply, when its story is read whole.
    range: Option<usize>,
    /// Index of its first record reply (one per queue), when records are read.
    records: Option<usize>,
}

impl FirstDelivery {
    /// [`FirstDelivery::open_stream`] as plain commands over the pipe; `None` when the pipe
    /// is down before anything was sent. Its first write only reads: when the pipe is lost
    /// before or during the second, the error says so ([`crate::script_pipe::or_fred`]).
    pub async fn open_stream_plain(
        &self,
        sessions: &SessionStore,
        stream: &NewStream<'_>,
    ) -> Option<Result<Vec<Plan>, fred::error::Error>> {
        let pipe = sessions.pipe()?;
        let keys: Vec<String> = stream
            .channels
            .iter()
            .map(|channel| history_key(&channel.redis_name()))
            .collect();
        let mut first = Commands::default();
        for key in &keys {
            first.push(&[b"XINFO", b"STREAM", key.as_bytes()]);
        }
        let mut infos = Vec::with_capacity(keys.len());
        let read = match first.is_empty() {
            true => Vec::new(),
            false => pipe.send(&first).await?,
        };
        for reply in read {
            match Info::from_reply(reply) {
                Ok(info) => infos.push(info),
                Err(error) => return Some(Err(error)),
            }
        }
        Some(self.open_second(sessions, stream, &keys, infos).await)
    }

    async fn open_second(
        &self,
        sessions: &SessionStore,
        stream: &NewStream<'_>,
        keys: &[String],
        infos: Vec<Info>,
    ) -> Result<Vec<Plan>, fred::error::Error> {
        let queues = if stream.replay { self.queues() } else { &[] };
        let limit = REPLAY_LIMIT.to_string();
        let mut commands = Commands::for_a_stream();
        let mut seconds = Vec::with_capacity(infos.len());
        let mut since = Vec::with_capacity(infos.len());
        for ((channel, key), info) in stream.channels.iter().zip(keys).zip(&infos) {
            let whole = stream.replay && info.exists && info.complete();
            let range = whole.then(|| {
                commands.push(&[
                    b"XRANGE",
                    key.as_bytes(),
                    b"-",
                    b"+",
                    b"COUNT",
                    limit.as_bytes(),
                ])
            });
            // Read for every channel when replaying: a story trimmed since `XINFO` needs it.
            let records = (!queues.is_empty()).then(|| {
                let first = commands.len();
                for queue in queues {
                    let record = queue.keys().job(channel.id());
                    commands.push(&[b"HGETALL", record.as_bytes()]);
                }
                first
            });
            seconds.push(Second { range, records });
            let newest = info.last.as_ref().and_then(Info::id_of);
            let point = match (whole, newest) {
                (false, Some(id)) => id.as_str().and_then(|id| StreamId::parse(&id)),
                _ => None,
            };
            since.push((channel.redis_name(), point.unwrap_or(StreamId::ZERO)));
        }
        let session_at = commands.len();
        sessions.push_creation(
            &mut commands,
            &stream.id,
            stream.subject,
            stream.multi,
            &since,
        );
        let pipe = sessions.pipe().ok_or_else(lost)?;
        let mut replies: Vec<Option<Result<Value, fred::error::Error>>> = pipe
            .send(&commands)
            .await
            .ok_or_else(lost)?
            .into_iter()
            .map(Some)
            .collect();
        // The session's own replies: any error fails the opening.
        for reply in replies.iter_mut().skip(session_at) {
            reply.take().transpose()?;
        }
        let mut take = |at: usize| replies.get_mut(at).and_then(Option::take).transpose();
        let mut plans = Vec::with_capacity(infos.len());
        for ((channel, info), second) in stream.channels.iter().zip(infos).zip(seconds) {
            let whole = match second.range {
                Some(at) => take(at)?,
                None => None,
            };
            let mut told = story(stream.replay, info, whole);
            let (mut record, mut holder) = (Value::Array(Vec::new()), 0);
            if let Some(at) = second.records {
                for q in 0..queues.len() {
                    let found = take(at + q)?;
                    let filled = matches!(&found, Some(Value::Array(fields)) if !fields.is_empty());
                    if holder == 0 && filled {
                        record = found.unwrap_or(Value::Null);
                        holder = q as i64 + 1;
                    }
                }
            }
            told.extend([record, holder.into()]);
            plans.push(self.plan(channel, stream.replay, Value::Array(told))?);
        }
        Ok(plans)
    }
}

/// A channel's story as `story()` (`lua/story.lua`) and the opening script reply it:
/// `{exists, reaches the start, entries}`; `whole` is its `XRANGE` when it was read.
fn story(replay: bool, info: Info, whole: Option<Value>) -> Vec<Value> {
    let newest_of = |entry: Option<Value>| Value::Array(entry.into_iter().collect());
    if !replay {
        return vec![0.into(), 0.into(), newest_of(info.last)];
    }
    if !info.exists {
        return vec![0.into(), 1.into(), Value::Array(Vec::new())];
    }
    let Some(Value::Array(mut entries)) = whole else {
        return vec![1.into(), 0.into(), newest_of(info.last)];
    };
    let first_now = entries.first().and_then(Info::id_of);
    if first_now == info.first.as_ref().and_then(Info::id_of) {
        vec![1.into(), 1.into(), Value::Array(entries)]
    } else {
        vec![1.into(), 0.into(), newest_of(entries.pop())]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str) -> Value {
        Value::Array(vec![
            Value::String(id.into()),
            Value::Array(vec!["e".into(), "{}".into()]),
        ])
    }

    fn info(first: &str, last: &str) -> Info {
        Info {
            exists: true,
            length: 2,
            entries_added: Some(2),
            first: Some(entry(first)),
            last: Some(entry(last)),
        }
    }

    #[test]
    fn a_story_reaches_the_start_only_if_it_still_begins_where_xinfo_said() {
        let whole = Value::Array(vec![entry("1-0"), entry("2-0")]);
        assert_eq!(
            story(true, info("1-0", "2-0"), Some(whole)),
            vec![
                1.into(),
                1.into(),
                Value::Array(vec![entry("1-0"), entry("2-0")])
            ]
        );
        // Trimmed between the two writes: the newest entry only, as a story that does not
        // reach the start.
        let trimmed = Value::Array(vec![entry("2-0"), entry("3-0")]);
        assert_eq!(
            story(true, info("1-0", "2-0"), Some(trimmed)),
            vec![1.into(), 0.into(), Value::Array(vec![entry("3-0")])]
        );
        assert_eq!(
            story(true, Info::default(), None),
            vec![0.into(), 1.into(), Value::Array(vec![])]
        );
        assert_eq!(
            story(false, info("1-0", "2-0"), None),
            vec![0.into(), 0.into(), Value::Array(vec![entry("2-0")])]
        );
        let mut cut = info("1-0", "2-0");
        cut.entries_added = Some(5);
        assert!(!cut.complete(), "entries were removed");
        cut.entries_added = None;
        assert!(
            cut.complete(),
            "unknown counts as reaching the start, as story() says"
        );
    }
}
