//! One pipelined Redis connection for the scripts that open, resume and close streams, on a
//! single Redis node, beside the fred client.
//!
//! Through fred, each script went to its router task, was written and flushed on its own,
//! and its reply came back through a reader task and a channel: in the profile of a stream
//! opening, a quarter of the gateway's CPU. Here a caller appends its commands to one buffer,
//! and a sending task writes what has queued once the tasks ready at that moment have run:
//! the commands of a burst of streams opening or resuming share one write, and Redis reads
//! them in one go. One reader task reads the replies in order and hands each batch of
//! commands its replies together.
//!
//! While the connection is down (not connected yet, Redis restarting) [`ScriptPipe::eval`]
//! says so at once and the caller uses fred, which reconnects on its own: nothing waits on this
//! connection. A command that was sent when the connection failed fails (it may or may not
//! have run), as it would through fred. No reply for `timeout` while commands wait, and the
//! connection is dropped and made again.

mod resp;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use bytes::BytesMut;
use fred::error::{Error, ErrorKind};
use fred::prelude::Config;
use fred::types::Value;
use fred::types::config::ServerConfig;
use fred::types::scripts::Script;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::oneshot;

/// Commands waiting for a reply, at most; past that, callers use fred.
const MAX_WAITING: usize = 8192;
const FIRST_RETRY: Duration = Duration::from_millis(50);
const LAST_RETRY: Duration = Duration::from_secs(2);

type Reply = Result<Value, Error>;

/// Where and how to connect: one server, its credentials and database.
#[derive(Clone, Debug)]
struct Target {
    address: String,
    username: Option<String>,
    password: Option<String>,
    database: Option<u8>,
}

impl Target {
    /// The target of a `redis://` URL (one server, no TLS); `None` for any other deployment.
    fn from_url(url: &str) -> Option<Self> {
        if !url.starts_with("redis://") {
            return None;
        }
        let config = Config::from_url(url).ok()?;
        let ServerConfig::Centralized { server } = config.server else {
            return None;
        };
        Some(Self {
            address: format!("{}:{}", server.host, server.port),
            username: config.username,
            password: config.password,
            database: config.database,
        })
    }

    /// The commands a new connection sends first, each answered `+OK`.
    fn handshake(&self) -> Vec<u8> {
        let mut out = Vec::new();
        if let Some(password) = &self.password {
            match &self.username {
                Some(user) => {
                    resp::encode(&mut out, &[b"AUTH", user.as_bytes(), password.as_bytes()])
                }
                None => resp::encode(&mut out, &[b"AUTH", password.as_bytes()]),
            }
        }
        if let Some(database) = self.database.filter(|&db| db != 0) {
            resp::encode(&mut out, &[b"SELECT", database.to_string().as_bytes()]);
        }
        resp::encode(&mut out, &[b"CLIENT", b"SETNAME", b"sse-gateway-scripts"]);
        out
    }
}

/// Commands encoded as they are added, sent together by [`ScriptPipe::send`].
#[derive(Default)]
pub struct Commands {
    bytes: Vec<u8>,
    count: usize,
}

/// Room for the commands of a stream's open or resume on one channel (three to four hundred
/// bytes), so that encoding them does not grow the buffer step by step.
const STREAM_ROOM: usize = 512;

impl Commands {
    /// Empty, with room for the commands of a stream's open or resume.
    pub fn for_a_stream() -> Self {
        Self {
            bytes: Vec::with_capacity(STREAM_ROOM),
            count: 0,
        }
    }

    /// Adds a command (name first); returns its index among the replies.
    pub fn push(&mut self, parts: &[&[u8]]) -> usize {
        resp::encode(&mut self.bytes, parts);
        self.count += 1;
        self.count - 1
    }

    /// Adds a command of `count` arguments (name included), each then given by
    /// [`Commands::arg`]; returns its index among the replies.
    pub fn start(&mut self, count: usize) -> usize {
        resp::start(&mut self.bytes, count);
        self.count += 1;
        self.count - 1
    }

    /// The next argument of the command begun by [`Commands::start`], made of `pieces`.
    pub fn arg(&mut self, pieces: &[&[u8]]) {
        resp::arg(&mut self.bytes, pieces);
    }

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
}

/// The pipelined connection (cheap to clone: one connection for all clones).
#[derive(Clone)]
pub struct ScriptPipe {
    shared: Arc<Shared>,
}

struct Shared {
    target: Target,
    timeout: Duration,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Bumped each time the connection is lost: work of an older connection stops.
    generation: u64,
    /// `None` while down.
    socket: Option<Arc<OwnedWriteHalf>>,
    /// Commands not written yet.
    out: Vec<u8>,
    /// A caller or the writer task is sending `out`.
    writing: bool,
    /// One per batch of commands written or waiting to be, in order.
    waiting: VecDeque<Batch>,
    /// Commands in `waiting`.
    commands: usize,
}

/// Commands queued together, answered together.
struct Batch {
    replies: Vec<Reply>,
    expected: usize,
    tell: oneshot::Sender<Vec<Reply>>,
}

impl ScriptPipe {
    /// Starts the connection for `url` (first attempt now, then in the background); `None`
    /// when the URL is not one plain Redis server (Cluster, Sentinel and TLS use fred only).
    pub async fn start(url: &str, timeout: Duration) -> Option<Self> {
        let target = Target::from_url(url)?;
        let shared = Arc::new(Shared {
            target,
            timeout,
            state: Mutex::new(State::default()),
        });
        if let Err(error) = connect(&shared, 0).await {
            tracing::warn!(%error, "the script connection to Redis failed; retrying");
            tokio::spawn(reconnect(Arc::downgrade(&shared), 0));
        }
        Some(Self { shared })
    }

    /// Whether the connection is up.
    pub fn is_connected(&self) -> bool {
        self.shared.lock().socket.is_some()
    }

    /// Runs `script` (by its hash, loading it when Redis does not have it). `None` when the
    /// connection is down or too many commands wait: nothing was sent, use fred.
    pub async fn eval(&self, script: &Script, keys: &[String], args: &[String]) -> Option<Reply> {
        let count = keys.len().to_string();
        let mut parts: Vec<&[u8]> = Vec::with_capacity(3 + keys.len() + args.len());
        parts.extend([&b"EVALSHA"[..], script.sha1().as_bytes(), count.as_bytes()]);
        parts.extend(keys.iter().map(|k| k.as_bytes()));
        parts.extend(args.iter().map(|a| a.as_bytes()));
        match self.call(&parts).await? {
            Err(error) if error.details().starts_with("NOSCRIPT") => {
                let body = script.lua()?;
                parts[0] = b"EVAL";
                parts[1] = body.as_bytes();
                self.call(&parts).await
            }
            reply => Some(reply),
        }
    }

    /// Runs `commands` back to back (one write when nothing else is being sent) and returns
    /// their replies in order. `None` when the connection is down or too many commands wait:
    /// nothing was sent, use fred. Redis runs a batch's commands one after the other, but
    /// another client's command may come between two of them.
    pub async fn run(&self, commands: &[&[&[u8]]]) -> Option<Vec<Reply>> {
        let mut batch = Commands::default();
        for parts in commands {
            batch.push(parts);
        }
        self.send(&batch).await
    }

    /// Runs `commands` as [`ScriptPipe::run`] does.
    pub async fn send(&self, commands: &Commands) -> Option<Vec<Reply>> {
        let replies = self.queue(commands)?.await;
        Some(replies.unwrap_or_else(|_| (0..commands.len()).map(|_| Err(lost())).collect()))
    }

    /// Runs one command (see [`ScriptPipe::run`]).
    async fn call(&self, parts: &[&[u8]]) -> Option<Reply> {
        self.run(&[parts]).await?.pop()
    }

    /// Queues `commands` together and sends what is waiting unless a send is in progress.
    fn queue(&self, commands: &Commands) -> Option<oneshot::Receiver<Vec<Reply>>> {
        let mut state = self.shared.lock();
        let socket = state.socket.clone()?;
        if commands.is_empty() || state.commands + commands.len() > MAX_WAITING {
            return None;
        }
        state.out.extend_from_slice(&commands.bytes);
        let (tell, replies) = oneshot::channel();
        state.waiting.push_back(Batch {
            replies: Vec::with_capacity(commands.len()),
            expected: commands.len(),
            tell,
        });
        state.commands += commands.len();
        if !state.writing {
            state.writing = true;
            let generation = state.generation;
            drop(state);
            tokio::spawn(send(self.shared.clone(), generation, socket));
        }
        Some(replies)
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// After a batch is sent: the next one, or `None` (and no send in progress) when nothing
    /// waits or the connection changed.
    fn next_batch(&self, generation: u64, mut done: Vec<u8>) -> Option<Vec<u8>> {
        let mut state = self.lock();
        if state.generation != generation {
            return None;
        }
        if state.out.is_empty() {
            state.writing = false;
            // The buffer is kept for the next commands.
            done.clear();
            state.out = done;
            return None;
        }
        done.clear();
        Some(std::mem::replace(&mut state.out, done))
    }

    /// The connection of `generation` is lost: every waiting command fails, and a new
    /// connection is made in the background.
    fn fail(self: &Arc<Self>, generation: u64, error: &str) {
        let waiting = {
            let mut state = self.lock();
            if state.generation != generation {
                return;
            }
            state.generation += 1;
            state.socket = None;
            state.writing = false;
            state.out.clear();
            state.commands = 0;
            std::mem::take(&mut state.waiting)
        };
        tracing::warn!(
            error,
            "the script connection to Redis was lost; reconnecting"
        );
        for batch in waiting {
            let failed = (0..batch.expected).map(|_| Err(lost())).collect();
            let _ = batch.tell.send(failed);
        }
        tokio::spawn(reconnect(Arc::downgrade(self), generation + 1));
    }
}

const LOST: &str = "the connection to Redis was lost before the reply";

/// The error of a command sent when the connection failed (it may or may not have run).
pub fn lost() -> Error {
    Error::new(ErrorKind::IO, LOST)
}

/// What a way of plain commands over the pipe came to, or `None` when it is to be done again
/// through fred: the pipe was down or too busy for a later write, or lost its connection
/// with the commands in flight. Only for ways whose commands read, or write the same values
/// again when repeated (a session's load, creation and take-over): doing them twice is safe,
/// and a request is not failed for a connection Redis is still answering on another.
pub fn or_fred<T>(outcome: Option<Result<T, Error>>) -> Option<Result<T, Error>> {
    match outcome {
        Some(Err(error)) if error.kind() == &ErrorKind::IO && error.details() == LOST => {
            tracing::debug!("the scripts' connection was lost mid-way; done again through fred");
            None
        }
        outcome => outcome,
    }
}

/// Sends what is queued, and what queues meanwhile, until nothing is left. It first lets the
/// tasks ready now run: in a burst (a reconnect storm), their commands go in one write, and
/// Redis reads them in one go.
async fn send(shared: Arc<Shared>, generation: u64, socket: Arc<OwnedWriteHalf>) {
    tokio::task::yield_now().await;
    let mut batch = Vec::new();
    while let Some(next) = shared.next_batch(generation, batch) {
        batch = next;
        let mut sent = 0;
        while sent < batch.len() {
            match socket.try_write(&batch[sent..]) {
                Ok(n) => sent += n,
                Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {
                    if let Err(error) = socket.writable().await {
                        return shared.fail(generation, &error.to_string());
                    }
                }
                Err(error) => return shared.fail(generation, &error.to_string()),
            }
        }
    }
}

/// Connects, sends the handshake and waits for its replies, then takes commands; the reader
/// task serves the connection from then on.
async fn connect(shared: &Arc<Shared>, generation: u64) -> Result<(), Error> {
    let io = |error: std::io::Error| Error::new(ErrorKind::IO, error.to_string());
    let connecting = TcpStream::connect(&shared.target.address);
    let mut socket = tokio::time::timeout(shared.timeout, connecting)
        .await
        .map_err(|_| Error::new(ErrorKind::Timeout, "connecting timed out"))?
        .map_err(io)?;
    socket.set_nodelay(true).map_err(io)?;
    let handshake = shared.target.handshake();
    tokio::io::AsyncWriteExt::write_all(&mut socket, &handshake)
        .await
        .map_err(io)?;
    let mut buf = BytesMut::with_capacity(4096);
    let mut expected = handshake.iter().filter(|&&b| b == b'*').count();
    while expected > 0 {
        let read = tokio::time::timeout(shared.timeout, socket.read_buf(&mut buf))
            .await
            .map_err(|_| Error::new(ErrorKind::Timeout, "no reply to the handshake"))?
            .map_err(io)?;
        if read == 0 {
            return Err(Error::new(ErrorKind::IO, "Redis closed the connection"));
        }
        while let Some(reply) = resp::take_reply(&mut buf)
            .map_err(|_| Error::new(ErrorKind::Protocol, "malformed reply"))?
        {
            reply?;
            expected -= 1;
        }
    }
    let (read, write) = socket.into_split();
    {
        let mut state = shared.lock();
        if state.generation != generation {
            return Err(Error::new_canceled());
        }
        state.socket = Some(Arc::new(write));
    }
    tokio::spawn(read_replies(Arc::downgrade(shared), generation, read, buf));
    Ok(())
}

/// Makes the connection again, waiting longer after each failure; stops when the pipe is
/// dropped.
async fn reconnect(shared: Weak<Shared>, generation: u64) {
    let mut delay = FIRST_RETRY;
    loop {
        tokio::time::sleep(delay).await;
        let Some(shared) = shared.upgrade() else {
            return;
        };
        match connect(&shared, generation).await {
            Ok(()) => {
                tracing::info!("the script connection to Redis is back");
                return;
            }
            Err(error) if error.kind() == &ErrorKind::Canceled => return,
            Err(error) => tracing::debug!(%error, "reconnecting the script connection failed"),
        }
        delay = (delay * 2).min(LAST_RETRY);
    }
}

/// Reads replies in order and hands each to its command; ends when the connection fails or
/// the pipe is dropped.
async fn read_replies(
    shared: Weak<Shared>,
    generation: u64,
    mut socket: OwnedReadHalf,
    mut buf: BytesMut,
) {
    let mut replies = Vec::new();
    // A command queued just before a quiet period's timer fired has not waited that long:
    // only a second period without a byte while commands wait drops the connection.
    let mut quiet = false;
    loop {
        let Some(timeout) = shared.upgrade().map(|s| s.timeout) else {
            return;
        };
        let read = tokio::time::timeout(timeout, socket.read_buf(&mut buf)).await;
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let failure = match read {
            Ok(Ok(0)) => Some("Redis closed the connection".to_owned()),
            Ok(Err(error)) => Some(error.to_string()),
            Err(_) if quiet && !shared.lock().waiting.is_empty() => {
                Some(format!("no reply for {timeout:?}"))
            }
            Err(_) => {
                quiet = !shared.lock().waiting.is_empty();
                None
            }
            Ok(Ok(_)) => loop {
                quiet = false;
                match resp::take_reply(&mut buf) {
                    Ok(Some(reply)) => replies.push(reply),
                    Ok(None) => break None,
                    Err(resp::Malformed) => break Some("malformed reply".to_owned()),
                }
            },
        };
        if let Some(error) = failure {
            return shared.fail(generation, &error);
        }
        if replies.is_empty() {
            continue;
        }
        let answered = {
            let mut state = shared.lock();
            if state.generation != generation {
                return;
            }
            if state.commands < replies.len() {
                drop(state);
                return shared.fail(generation, "a reply no command waits for");
            }
            state.commands -= replies.len();
            let mut answered = Vec::new();
            for reply in replies.drain(..) {
                let Some(batch) = state.waiting.front_mut() else {
                    break;
                };
                batch.replies.push(reply);
                if batch.replies.len() == batch.expected
                    && let Some(batch) = state.waiting.pop_front()
                {
                    answered.push(batch);
                }
            }
            answered
        };
        for batch in answered {
            let _ = batch.tell.send(batch.replies);
        }
        if buf.capacity() > 64 * 1024 && buf.is_empty() {
            buf = BytesMut::with_capacity(4096);
        }
    }
}
