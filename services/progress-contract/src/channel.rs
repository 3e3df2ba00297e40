//! Channel names. The three public kinds keep the original names so that any publisher that
//! only runs `PUBLISH job:123 '{…}'` reaches subscribed browsers.

use std::fmt;

/// Channel carrying broadcasts to every stream on every gateway pod.
pub const BROADCAST_CHANNEL: &str = "sse:broadcast";
/// Channel carrying custom events addressed to one connection; every pod listens and the
/// pod holding the connection delivers.
pub const CONNECTION_EVENTS_CHANNEL: &str = "sse:events";

/// Longest accepted job id, queue name or worker id.
pub const MAX_NAME_LEN: usize = 256;

/// The kinds of channel a browser can subscribe to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ChannelKind {
    Job,
    Queue,
    Worker,
}

impl ChannelKind {
    pub const ALL: [ChannelKind; 3] = [ChannelKind::Job, ChannelKind::Queue, ChannelKind::Worker];

    /// The channel prefix and the word used in URLs (`job`, `queue`, `worker`).
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelKind::Job => "job",
            ChannelKind::Queue => "queue",
            ChannelKind::Worker => "worker",
        }
    }

    /// The SSE event name under which messages of this kind reach browsers.
    pub fn event_name(self) -> &'static str {
        match self {
            ChannelKind::Job => "job_update",
            ChannelKind::Queue => "queue_update",
            ChannelKind::Worker => "worker_status",
        }
    }

    /// The JSON field naming the target in `subscribed`/`unsubscribed` events.
    pub fn id_field(self) -> &'static str {
        match self {
            ChannelKind::Job => "jobId",
            ChannelKind::Queue => "queueName",
            ChannelKind::Worker => "workerId",
        }
    }

    /// Parses the URL word (`job`, `queue`, `worker`).
    pub fn from_word(word: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == word)
    }

    /// The kind of a Redis channel name (`job:123` is a job channel), read from its prefix
    /// alone: cheap, for names already validated.
    pub fn of_name(name: &str) -> Option<Self> {
        Self::from_word(name.split_once(':')?.0)
    }
}

impl fmt::Display for ChannelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A validated, subscribable channel: a kind and an id.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Channel {
    kind: ChannelKind,
    id: String,
}

/// An identifier that cannot name a channel.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} name must be 1 to 256 characters from A-Z a-z 0-9 . _ : - (got {shown})")]
pub struct InvalidName {
    pub kind: ChannelKind,
    shown: String,
}

impl Channel {
    /// Validates `id` against `[A-Za-z0-9._:-]{1,256}`.
    pub fn new(kind: ChannelKind, id: &str) -> Result<Self, InvalidName> {
        if is_valid_name(id) {
            Ok(Self {
                kind,
                id: id.to_owned(),
            })
        } else {
            let mut shown: String = id.chars().take(40).collect();
            if shown.len() < id.len() {
                shown.push('…');
            }
            Err(InvalidName {
                kind,
                shown: format!("{shown:?}"),
            })
        }
    }

    pub fn job(id: &str) -> Result<Self, InvalidName> {
        Self::new(ChannelKind::Job, id)
    }

    pub fn queue(name: &str) -> Result<Self, InvalidName> {
        Self::new(ChannelKind::Queue, name)
    }

    pub fn worker(id: &str) -> Result<Self, InvalidName> {
        Self::new(ChannelKind::Worker, id)
    }

    /// Parses a Redis channel name such as `job:123` back into a channel.
    pub fn parse(name: &str) -> Option<Self> {
        let (prefix, id) = name.split_once(':')?;
        Self::new(ChannelKind::from_word(prefix)?, id).ok()
    }

    pub fn kind(&self) -> ChannelKind {
        self.kind
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// The Redis pub/sub channel name, e.g. `job:123`. Put together in one allocation of the
    /// right size, without the formatting machinery: a stream's open asks for it several times.
    pub fn redis_name(&self) -> String {
        crate::text::joined(&[self.kind.as_str(), ":", &self.id])
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind.as_str(), self.id)
    }
}

/// True when `name` matches `[A-Za-z0-9._:-]{1,256}`.
pub fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_the_original_design() {
        assert_eq!(Channel::job("123").unwrap().redis_name(), "job:123");
        assert_eq!(
            Channel::queue("resume-analysis").unwrap().redis_name(),
            "queue:resume-analysis"
        );
        assert_eq!(
            Channel::worker("worker-1").unwrap().redis_name(),
            "worker:worker-1"
        );
    }

    #[test]
    fn parses_back() {
        let channel = Channel::parse("job:resume-1:2").unwrap();
        assert_eq!(channel.kind(), ChannelKind::Job);
        assert_eq!(channel.id(), "resume-1:2");
        assert!(Channel::parse("nope:1").is_none());
        assert!(Channel::parse("job:").is_none());
    }

    #[test]
    fn kind_of_a_name() {
        assert_eq!(
            ChannelKind::of_name("job:resume-1:2"),
            Some(ChannelKind::Job)
        );
        assert_eq!(ChannelKind::of_name("queue:q"), Some(ChannelKind::Queue));
        assert_eq!(ChannelKind::of_name("worker:w"), Some(ChannelKind::Worker));
        assert_eq!(ChannelKind::of_name("nope:1"), None);
        assert_eq!(ChannelKind::of_name("job"), None);
    }

    #[test]
    fn validates_names() {
        assert!(Channel::job("a.b_c:d-E9").is_ok());
        assert!(Channel::job("").is_err());
        assert!(Channel::job("has space").is_err());
        assert!(Channel::job("slash/").is_err());
        assert!(Channel::job("é").is_err());
        assert!(Channel::job(&"x".repeat(256)).is_ok());
        let error = Channel::job(&"x".repeat(257)).unwrap_err();
        assert!(error.to_string().contains("job name must be"));
    }
}
