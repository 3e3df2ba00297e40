//! Sessions in Redis: who holds a stream (owner pod), what it is subscribed to, and how far
//! it has read each channel. Any pod can load a session to take a subscribe request or a
//! reconnect; sessions outlive their stream by at least `RESUME_WINDOW` (a one-channel stream
//! whose client left keeps its open expiry: see `Hub::close`).
//!
//! Keys, hash-tagged by connection id so both live on one Cluster slot:
//! `sse:sess:{id}` (hash: owner, subject, createdAt, seq, cursors, log, closedAt, multi, and
//! `since:<channel>` per channel) and `sse:sess:{id}:ch` (set of channels). Each operation is
//! one round trip (a script or a pipeline on the one slot), except adding a channel, which
//! first reads where the channel's history stands. Opening, loading and taking over are one
//! script each: a reconnect storm costs Redis one command per step and stream. On one Redis
//! node, a new stream's session is written by the script that also reads its first deliveries
//! ([`super::opening`]), and a take-over goes with the replays ([`super::resuming`]).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use fred::prelude::{Client, HashesInterface, KeysInterface, SetsInterface};
use fred::types::Value;
use fred::types::scripts::Script;
use progress_contract::history::StreamId;
use progress_contract::time::now_millis;
use uuid::Uuid;

use crate::fanout::connection::Position;
use crate::resume::history::HistoryReader;
use crate::script_pipe::{Commands, ScriptPipe};

static FLUSH: LazyLock<Script> =
    LazyLock::new(|| Script::from_lua(include_str!("lua/session_flush.lua")));
static OPEN: LazyLock<Script> = LazyLock::new(|| {
    Script::from_lua(concat!(
        include_str!("lua/session_create.lua"),
        include_str!("lua/session_open.lua")
    ))
});
static TAKE: LazyLock<Script> = LazyLock::new(|| {
    Script::from_lua(concat!(
        include_str!("lua/take_over.lua"),
        include_str!("lua/session_take.lua")
    ))
});
static LOAD: LazyLock<Script> =
    LazyLock::new(|| Script::from_lua(include_str!("lua/session_load.lua")));

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
    /// position is the flushed one (see [`crate::fanout::connection`]).
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
    /// The scripts' own connection, on one plain Redis server (see [`crate::script_pipe`]).
    pipe: Option<ScriptPipe>,
    pod: Arc<str>,
    /// How long a session is kept after its stream closes.
    window: Duration,
}

/// A Lua script's yes or no.
pub fn flag(on: bool) -> String {
    if on { "1" } else { "0" }.to_owned()
}

fn ttl(window: Duration) -> i64 {
    i64::try_from(window.as_secs().max(1)).unwrap_or(i64::MAX)
}

impl SessionStore {
    pub fn new(client: Client, pod: &str, window: Duration) -> Self {
        Self {
            client,
            pipe: None,
            pod: Arc::from(pod),
            window,
        }
    }

    /// Runs the session and stream scripts over `pipe` while it is connected.
    pub fn with_pipe(mut self, pipe: Option<ScriptPipe>) -> Self {
        self.pipe = pipe;
        self
    }

    /// The scripts' own connection, if there is one.
    pub fn pipe(&self) -> Option<&ScriptPipe> {
        self.pipe.as_ref()
    }

    /// Runs `script`: over the pipe when it is up, else through fred.
    pub async fn eval(
        &self,
        script: &Script,
        keys: Vec<String>,
        args: Vec<String>,
    ) -> Result<Value, fred::error::Error> {
        if let Some(pipe) = &self.pipe
            && let Some(reply) = pipe.eval(script, &keys, &args).await
        {
            return reply;
        }
        // Boxed: the Redis client's command future is kilobytes, and every caller's future
        // (a stream's open and resume among them) would carry and move that room although
        // this way is taken only without the pipe.
        Box::pin(script.evalsha_with_reload(&self.client, keys, args)).await
    }

    pub fn pod(&self) -> &str {
        &self.pod
    }

    /// Records a new stream held by this pod, owned by `subject` when authentication is on,
    /// with its first `channels`, each with the point a resume replays after until a position
    /// is flushed (see [`Session::since`]); `multi` marks it as having several channels.
    pub async fn open(
        &self,
        id: &Uuid,
        channels: &[(String, StreamId)],
        subject: Option<&str>,
        multi: bool,
    ) -> Result<(), fred::error::Error> {
        let mut args = self.creation_args(subject, multi, channels.len() * 2);
        for (channel, since) in channels {
            args.push(channel.clone());
            args.push(since.to_string());
        }
        self.eval(&OPEN, self.keys(id), args).await?;
        Ok(())
    }

    /// The keys of session `id`: its hash, then its channel set.
    pub fn keys(&self, id: &Uuid) -> Vec<String> {
        vec![hash_key(id), set_key(id)]
    }

    /// The arguments of `create_session()` (`lua/session_create.lua`) for a new stream held
    /// by this pod, with room for `more`.
    pub fn creation_args(&self, subject: Option<&str>, multi: bool, more: usize) -> Vec<String> {
        let mut args = Vec::with_capacity(6 + more);
        args.extend([
            self.pod.to_string(),
            now_millis().to_string(),
            (ttl(self.window) * 2).to_string(),
            flag(subject.is_some()),
            subject.unwrap_or_default().to_owned(),
            flag(multi),
        ]);
        args
    }

    /// Adds to `commands` those recording a new stream held by this pod, as
    /// `create_session()` (`lua/session_create.lua`) does: its hash (owner, `createdAt`,
    /// `seq`, `subject`, `multi`, `since:<channel>`), its channel set, and their expiry.
    pub fn push_creation(
        &self,
        commands: &mut Commands,
        id: &Uuid,
        subject: Option<&str>,
        multi: bool,
        channels: &[(String, StreamId)],
    ) {
        let (hash, set) = (hash_key(id), set_key(id));
        let ttl = (ttl(self.window) * 2).to_string();
        let created = now_millis().to_string();
        let fields = 3 + usize::from(subject.is_some()) + usize::from(multi) + channels.len();
        commands.start(2 + fields * 2);
        commands.arg(&[b"HSET"]);
        commands.arg(&[hash.as_bytes()]);
        commands.arg(&[b"owner"]);
        commands.arg(&[self.pod.as_bytes()]);
        commands.arg(&[b"createdAt"]);
        commands.arg(&[created.as_bytes()]);
        commands.arg(&[b"seq"]);
        commands.arg(&[b"0"]);
        if let Some(subject) = subject {
            commands.arg(&[b"subject"]);
            commands.arg(&[subject.as_bytes()]);
        }
        if multi {
            commands.arg(&[b"multi"]);
            commands.arg(&[b"1"]);
        }
        for (channel, since) in channels {
            commands.arg(&[b"since:", channel.as_bytes()]);
            commands.arg(&[since.to_string().as_bytes()]);
        }
        commands.push(&[b"EXPIRE", hash.as_bytes(), ttl.as_bytes()]);
        if !channels.is_empty() {
            commands.start(2 + channels.len());
            commands.arg(&[b"SADD"]);
            commands.arg(&[set.as_bytes()]);
            for (channel, _) in channels {
                commands.arg(&[channel.as_bytes()]);
            }
            commands.push(&[b"EXPIRE", set.as_bytes(), ttl.as_bytes()]);
        }
    }

    /// The arguments of `take_over()` (`lua/take_over.lua`): this pod, the session's expiry.
    pub fn take_over_args(&self) -> Vec<String> {
        vec![self.pod.to_string(), (ttl(self.window) * 2).to_string()]
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Records a stream held by this pod, owned by `subject` when authentication is on, with
    /// `channels` but no resume point for them (streams opened here use [`SessionStore::open`]).
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
        let parts: Vec<Value> = match crate::script_pipe::or_fred(self.load_plain(id).await) {
            Some(parts) => parts?,
            None => self
                .eval(&LOAD, self.keys(id), Vec::new())
                .await?
                .convert()?,
        };
        let (hash, channels): (HashMap<String, String>, HashSet<String>) =
            match <[Value; 2]>::try_from(parts) {
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

    /// The session's hash and channel set as two plain commands over the pipe (Redis spends
    /// less on them than on a script calling them); `None` when the pipe is down.
    async fn load_plain(&self, id: &Uuid) -> Option<Result<Vec<Value>, fred::error::Error>> {
        let (hash, set) = (hash_key(id), set_key(id));
        let replies = self
            .pipe
            .as_ref()?
            .run(&[
                &[b"HGETALL", hash.as_bytes()],
                &[b"SMEMBERS", set.as_bytes()],
            ])
            .await?;
        Some(replies.into_iter().collect())
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
        self.eval(&TAKE, self.keys(id), self.take_over_args())
            .await?;
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
        let written: i64 = self
            .eval(
                &FLUSH,
                self.keys(id),
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
            .await?
            .convert()?;
        Ok(written == 1)
    }

    /// Loads the session scripts into Redis ahead of their first use.
    pub async fn load_scripts(&self) -> Result<(), fred::error::Error> {
        for script in [&*FLUSH, &*OPEN, &*TAKE, &*LOAD] {
            script.load(&self.client).await?;
        }
        Ok(())
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
