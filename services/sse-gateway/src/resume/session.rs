//! Sessions in Redis: who holds a stream (owner pod), what it is subscribed to, and how far
//! it has read each channel. Any pod can load a session to take a subscribe request or a
//! reconnect; sessions outlive their stream by `RESUME_WINDOW`.
//!
//! Keys, hash-tagged by connection id so both live on one Cluster slot:
//! `sse:sess:{id}` (hash: owner, subject, createdAt, seq, cursors, log, closedAt, multi, and
//! `since:<channel>` per channel) and `sse:sess:{id}:ch` (set of channels). Each operation is
//! one round trip (a pipeline on the one slot), except adding a channel, which first reads
//! where the channel's history stands.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use fred::prelude::{Client, HashesInterface, KeysInterface, SetsInterface};
use fred::types::Value;
use fred::types::scripts::Script;
use progress_contract::history::StreamId;
use progress_contract::time::now_millis;
use uuid::Uuid;

use crate::hub::connection::Position;
use crate::resume::history::HistoryReader;

static FLUSH: LazyLock<Script> =
    LazyLock::new(|| Script::from_lua(include_str!("lua/session_flush.lua")));

fn hash_key(id: &Uuid) -> String {
    crate::keys::session(id)
}

fn set_key(id: &Uuid) -> String {
    crate::keys::session_channels(id)
}

/// A session as stored.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Session {
    pub owner: String,
    /// The token subject the stream belongs to (`AUTH_MODE=jwt`); only it may change the
    /// stream's subscriptions or resume it.
    pub subject: Option<String>,
    pub channels: HashSet<String>,
    pub seq: u64,
    pub cursors: HashMap<String, StreamId>,
    pub log: Vec<(u64, String, StreamId)>,
    /// Where each channel's history stood when it was subscribed, written at once: a pod
    /// that dies before its first position flush still leaves a point to resume from.
    pub since: HashMap<String, StreamId>,
    pub closed: bool,
    /// The stream has had several channels: its SSE ids carry no history id, and its
    /// position is the flushed one (see [`crate::hub::connection`]).
    pub multi: bool,
}

fn since_field(channel: &str) -> String {
    format!("since:{channel}")
}

/// Sessions whose expiry one refresh round trip extends.
pub const REFRESH_BATCH: usize = 500;

/// Reads and writes sessions.
#[derive(Clone)]
pub struct SessionStore {
    client: Client,
    pod: Arc<str>,
    /// How long a session is kept after its stream closes.
    window: Duration,
}

fn ttl(window: Duration) -> i64 {
    i64::try_from(window.as_secs().max(1)).unwrap_or(i64::MAX)
}

impl SessionStore {
    pub fn new(client: Client, pod: &str, window: Duration) -> Self {
        Self {
            client,
            pod: Arc::from(pod),
            window,
        }
    }

    pub fn pod(&self) -> &str {
        &self.pod
    }

    /// Records a new stream held by this pod, owned by `subject` when authentication is on.
    pub async fn create(
        &self,
        id: &Uuid,
        channels: &[String],
        subject: Option<&str>,
    ) -> Result<(), fred::error::Error> {
        let key = hash_key(id);
        let mut fields = vec![
            ("owner", self.pod.to_string()),
            ("createdAt", now_millis().to_string()),
            ("seq", "0".into()),
        ];
        if let Some(subject) = subject {
            fields.push(("subject", subject.to_owned()));
        }
        let pipeline = self.client.pipeline();
        let _: () = pipeline.hset(&key, fields).await?;
        let _: () = pipeline.expire(&key, ttl(self.window) * 2, None).await?;
        if !channels.is_empty() {
            let _: () = pipeline.sadd(set_key(id), channels.to_vec()).await?;
            let _: () = pipeline
                .expire(set_key(id), ttl(self.window) * 2, None)
                .await?;
        }
        let _: Vec<Value> = pipeline.all().await?;
        Ok(())
    }

    /// The session, or `None` when unknown or expired.
    pub async fn load(&self, id: &Uuid) -> Result<Option<Session>, fred::error::Error> {
        let pipeline = self.client.pipeline();
        let _: () = pipeline.hgetall(hash_key(id)).await?;
        let _: () = pipeline.smembers(set_key(id)).await?;
        let (hash, channels): (HashMap<String, String>, HashSet<String>) =
            match <[Value; 2]>::try_from(pipeline.all::<Vec<Value>>().await?) {
                Ok([hash, channels]) => (hash.convert()?, channels.convert()?),
                Err(_) => return Ok(None),
            };
        let Some(owner) = hash.get("owner").cloned() else {
            return Ok(None);
        };
        let cursors: HashMap<String, String> = hash
            .get("cursors")
            .and_then(|c| serde_json::from_str(c).ok())
            .unwrap_or_default();
        let log: Vec<(u64, String, String)> = hash
            .get("log")
            .and_then(|l| serde_json::from_str(l).ok())
            .unwrap_or_default();
        let since = hash
            .iter()
            .filter_map(|(field, id)| {
                Some((
                    field.strip_prefix("since:")?.to_owned(),
                    StreamId::parse(id)?,
                ))
            })
            .collect();
        Ok(Some(Session {
            since,
            owner,
            subject: hash.get("subject").cloned(),
            channels,
            seq: hash.get("seq").and_then(|s| s.parse().ok()).unwrap_or(0),
            cursors: cursors
                .into_iter()
                .filter_map(|(c, id)| Some((c, StreamId::parse(&id)?)))
                .collect(),
            log: log
                .into_iter()
                .filter_map(|(n, c, id)| Some((n, c, StreamId::parse(&id)?)))
                .collect(),
            closed: hash.contains_key("closedAt"),
            multi: hash.contains_key("multi"),
        }))
    }

    /// The subject a session belongs to: `None` when there is no such session,
    /// `Some(None)` when it has no subject (opened without authentication).
    pub async fn subject(&self, id: &Uuid) -> Result<Option<Option<String>>, fred::error::Error> {
        let (owner, subject): (Option<String>, Option<String>) = self
            .client
            .hmget(hash_key(id), vec!["owner", "subject"])
            .await?;
        Ok(owner.map(|_| subject))
    }

    /// Makes this pod the owner (a reconnect landed here).
    pub async fn take_over(&self, id: &Uuid) -> Result<(), fred::error::Error> {
        let key = hash_key(id);
        let pipeline = self.client.pipeline();
        let _: () = pipeline
            .hset(&key, [("owner", self.pod.to_string())])
            .await?;
        let _: () = pipeline.hdel(&key, "closedAt").await?;
        let _: () = pipeline.expire(&key, ttl(self.window) * 2, None).await?;
        let _: () = pipeline
            .expire(set_key(id), ttl(self.window) * 2, None)
            .await?;
        let _: Vec<Value> = pipeline.all().await?;
        Ok(())
    }

    /// Adds `channel`, records where its history stands now (see [`Session::since`]) and
    /// returns that point; `multi` marks the stream as having several channels (for good).
    pub async fn add_channel(
        &self,
        id: &Uuid,
        channel: &str,
        multi: bool,
    ) -> Result<StreamId, fred::error::Error> {
        let start = HistoryReader::new(self.client.clone())
            .latest(channel)
            .await?
            .unwrap_or(StreamId::ZERO);
        self.add_channels(id, &[(channel.to_owned(), start)], multi)
            .await?;
        Ok(start)
    }

    /// Adds `channels`, each with the point a resume replays after until a position is
    /// flushed (see [`Session::since`]), in one round trip; `multi` marks the stream as having
    /// several channels (for good).
    pub async fn add_channels(
        &self,
        id: &Uuid,
        channels: &[(String, StreamId)],
        multi: bool,
    ) -> Result<(), fred::error::Error> {
        if channels.is_empty() {
            return Ok(());
        }
        let mut fields: Vec<(String, String)> = channels
            .iter()
            .map(|(channel, since)| (since_field(channel), since.to_string()))
            .collect();
        if multi {
            fields.push(("multi".to_owned(), "1".to_owned()));
        }
        let names: Vec<&str> = channels
            .iter()
            .map(|(channel, _)| channel.as_str())
            .collect();
        let pipeline = self.client.pipeline();
        let _: () = pipeline.sadd(set_key(id), names).await?;
        let _: () = pipeline
            .expire(set_key(id), ttl(self.window) * 2, None)
            .await?;
        let _: () = pipeline.hset(hash_key(id), fields).await?;
        let _: Vec<Value> = pipeline.all().await?;
        Ok(())
    }

    pub async fn remove_channel(&self, id: &Uuid, channel: &str) -> Result<(), fred::error::Error> {
        let pipeline = self.client.pipeline();
        let _: () = pipeline.srem(set_key(id), channel).await?;
        let _: () = pipeline.hdel(hash_key(id), since_field(channel)).await?;
        let _: Vec<Value> = pipeline.all().await?;
        Ok(())
    }

    /// Writes a position; `closed` starts the resume window. Returns false when another pod
    /// owns the session now, or it has expired (nothing written).
    pub async fn flush(
        &self,
        id: &Uuid,
        position: &Position,
        closed: bool,
    ) -> Result<bool, fred::error::Error> {
        let cursors: HashMap<&str, String> = position
            .cursors
            .iter()
            .map(|(c, id)| (&**c, id.to_string()))
            .collect();
        let log: Vec<(u64, &str, String)> = position
            .log
            .iter()
            .map(|(n, c, id)| (*n, &**c, id.to_string()))
            .collect();
        let window = if closed {
            ttl(self.window)
        } else {
            ttl(self.window) * 2
        };
        let written: i64 = FLUSH
            .evalsha_with_reload(
                &self.client,
                vec![hash_key(id), set_key(id)],
                vec![
                    self.pod.to_string(),
                    window.to_string(),
                    position.seq.to_string(),
                    serde_json::to_string(&cursors).unwrap_or_default(),
                    serde_json::to_string(&log).unwrap_or_default(),
                    if closed { "1" } else { "0" }.to_owned(),
                    now_millis().to_string(),
                ],
            )
            .await?;
        Ok(written == 1)
    }

    /// Loads the position script into Redis ahead of its first use.
    pub async fn load_scripts(&self) -> Result<(), fred::error::Error> {
        FLUSH.load(&self.client).await
    }

    /// Keeps open sessions alive, [`REFRESH_BATCH`] sessions per round trip: a pod with
    /// many streams never queues tens of thousands of commands at once on the connection
    /// that its resumes and subscriptions share.
    pub async fn refresh(&self, ids: &[Uuid]) -> Result<(), fred::error::Error> {
        for batch in ids.chunks(REFRESH_BATCH) {
            let pipeline = self.client.pipeline();
            for id in batch {
                let _: () = pipeline
                    .expire(hash_key(id), ttl(self.window) * 2, None)
                    .await?;
                let _: () = pipeline
                    .expire(set_key(id), ttl(self.window) * 2, None)
                    .await?;
            }
            let _: Vec<fred::types::Value> = pipeline.all().await?;
        }
        Ok(())
    }
}

/// Where to resume one channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResumeFrom {
    /// Replay events after this id.
    After(StreamId),
    /// Replay from this id on (it was not received).
    Including(StreamId),
    /// Nothing is known: replay nothing (live only).
    Live,
}

/// For each channel of `session`, where to resume a client whose last event was number
/// `seen` carrying history id `event` (both from `Last-Event-ID`).
///
/// A stream that only ever had one channel resumes right after `event`: exact, whatever was
/// flushed. Otherwise the log corrects cursors flushed after events the client never
/// received; a client further behind than the log reaches resumes where the channel was
/// subscribed (events may come twice, none is lost).
pub fn resume_points(
    session: &Session,
    seen: u64,
    event: Option<StreamId>,
) -> Vec<(String, ResumeFrom)> {
    let mut channels: Vec<&String> = session.channels.iter().collect();
    channels.sort();
    if let (Some(event), [channel], false) = (event, channels.as_slice(), session.multi) {
        return vec![((*channel).clone(), ResumeFrom::After(event))];
    }
    let log_start = session.log.iter().map(|(n, _, _)| *n).min();
    // The log holds every event numbered after `seen`.
    let log_covers = log_start.is_some_and(|start| start <= seen.saturating_add(1));
    channels
        .into_iter()
        .map(|channel| {
            let unreceived = session
                .log
                .iter()
                .filter(|(n, c, _)| *n > seen && c == channel);
            let first_unreceived = unreceived.map(|(_, _, id)| *id).min();
            let last_received = session
                .log
                .iter()
                .filter(|(n, c, _)| *n <= seen && c == channel)
                .map(|(_, _, id)| *id)
                .max();
            let from = match (first_unreceived, last_received) {
                (Some(_), Some(received)) => ResumeFrom::After(received),
                (Some(first), None) if log_covers => ResumeFrom::Including(first),
                (Some(first), None) => match session.since.get(channel) {
                    Some(since) if *since < first => ResumeFrom::After(*since),
                    _ => ResumeFrom::Including(first),
                },
                (None, _) => match session
                    .cursors
                    .get(channel)
                    .or_else(|| session.since.get(channel))
                {
                    Some(cursor) => ResumeFrom::After(*cursor),
                    None => ResumeFrom::Live,
                },
            };
            (channel.clone(), from)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(ms: u64) -> StreamId {
        StreamId { ms, seq: 0 }
    }

    fn session() -> Session {
        Session {
            owner: "a".into(),
            subject: None,
            channels: ["job:1".to_owned(), "job:2".to_owned(), "queue:q".to_owned()].into(),
            seq: 5,
            cursors: [("job:1".to_owned(), id(50)), ("job:2".to_owned(), id(40))].into(),
            log: vec![
                (1, "job:1".into(), id(10)),
                (2, "job:2".into(), id(20)),
                (3, "job:1".into(), id(30)),
                (4, "job:2".into(), id(40)),
                (5, "job:1".into(), id(50)),
            ],
            since: HashMap::new(),
            closed: true,
            multi: true,
        }
    }

    #[test]
    fn everything_read_resumes_at_the_cursors() {
        let points = resume_points(&session(), 5, None);
        assert_eq!(
            points,
            vec![
                ("job:1".into(), ResumeFrom::After(id(50))),
                ("job:2".into(), ResumeFrom::After(id(40))),
                ("queue:q".into(), ResumeFrom::Live),
            ]
        );
    }

    #[test]
    fn unread_tail_is_rewound_per_channel() {
        let points = resume_points(&session(), 2, None);
        assert_eq!(points[0], ("job:1".into(), ResumeFrom::After(id(10))));
        assert_eq!(points[1], ("job:2".into(), ResumeFrom::After(id(20))));
        let points = resume_points(&session(), 0, None);
        assert_eq!(points[0], ("job:1".into(), ResumeFrom::Including(id(10))));
        assert_eq!(points[1], ("job:2".into(), ResumeFrom::Including(id(20))));
    }

    #[test]
    fn a_channel_never_flushed_resumes_where_it_was_subscribed() {
        let mut session = session();
        session.since.insert("queue:q".into(), id(35));
        session.since.insert("job:1".into(), id(5));
        let points = resume_points(&session, 5, None);
        assert_eq!(points[2], ("queue:q".into(), ResumeFrom::After(id(35))));
        // A flushed cursor is newer than the subscription point and wins.
        assert_eq!(points[0], ("job:1".into(), ResumeFrom::After(id(50))));
    }

    #[test]
    fn a_client_ahead_of_the_flush_resumes_at_the_cursors() {
        let points = resume_points(&session(), 9, None);
        assert_eq!(points[0], ("job:1".into(), ResumeFrom::After(id(50))));
    }

    #[test]
    fn a_one_channel_stream_resumes_right_after_the_event_its_id_names() {
        let session = Session {
            owner: "a".into(),
            channels: ["job:1".to_owned()].into(),
            // Never flushed while open: only the subscription point is known.
            since: [("job:1".to_owned(), id(5))].into(),
            ..Default::default()
        };
        assert_eq!(
            resume_points(&session, 7, Some(id(70))),
            [("job:1".to_owned(), ResumeFrom::After(id(70)))]
        );
        assert_eq!(
            resume_points(&session, 7, None),
            [("job:1".to_owned(), ResumeFrom::After(id(5)))],
            "without the event id, from the subscription point"
        );
    }

    #[test]
    fn an_event_id_is_not_trusted_once_the_stream_had_several_channels() {
        // job:2 was added and removed again: the id's event may be job:2's.
        let session = Session {
            channels: ["job:1".to_owned()].into(),
            since: [("job:1".to_owned(), id(5))].into(),
            multi: true,
            ..Default::default()
        };
        assert_eq!(
            resume_points(&session, 7, Some(id(70))),
            [("job:1".to_owned(), ResumeFrom::After(id(5)))]
        );
    }

    #[test]
    fn a_client_behind_the_whole_log_resumes_where_it_subscribed() {
        let mut session = session();
        // The log starts at n = 3: events 1 and 2 are no longer described.
        session.log.drain(..2);
        session.since.insert("job:1".into(), id(1));
        let points = resume_points(&session, 1, None);
        assert_eq!(points[0], ("job:1".into(), ResumeFrom::After(id(1))));
        // Without a subscription point, from the oldest event the log has.
        assert_eq!(points[1], ("job:2".into(), ResumeFrom::Including(id(40))));
        // A client the log covers is rewound exactly.
        let points = resume_points(&session, 2, None);
        assert_eq!(points[0], ("job:1".into(), ResumeFrom::Including(id(30))));
    }
}
