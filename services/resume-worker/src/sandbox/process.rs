//! One parse child as the worker sees it: its pipes, the end of its stderr, and the
//! request/reply exchange of one document.

use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::task::JoinHandle;

use super::CHILD_ARG;
use super::child::ChildLimits;

/// Most of a child's stderr kept to explain how it ended.
const STDERR_BYTES: usize = 8 * 1024;

/// Why an exchange brought no reply.
pub enum NoReply {
    /// The child stopped (or closed its pipes): ask it how with [`ParseChild::ended`].
    Ended,
    /// The reply passed the limit.
    TooLong,
}

/// A running parse child. Dropping it kills the process.
pub struct ParseChild {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    stderr: Arc<Mutex<Vec<u8>>>,
    stderr_reader: JoinHandle<()>,
    /// Documents answered so far.
    pub served: u32,
}

impl ParseChild {
    pub fn spawn(program: &Path, limits: ChildLimits) -> std::io::Result<Self> {
        let mut child = Command::new(program)
            .arg(CHILD_ARG)
            .args(limits.to_args())
            .env_clear()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()?;
        let missing = || std::io::Error::other("the child has no pipes");
        let stdin = child.stdin.take().ok_or_else(missing)?;
        let stdout = child.stdout.take().ok_or_else(missing)?;
        let mut stderr_pipe = child.stderr.take().ok_or_else(missing)?;
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let kept = stderr.clone();
        // Always drained, so a child that writes much never blocks; the last bytes are kept.
        let stderr_reader = tokio::spawn(async move {
            let mut buffer = vec![0u8; 4096];
            while let Ok(n) = stderr_pipe.read(&mut buffer).await {
                if n == 0 {
                    break;
                }
                if let Ok(mut kept) = kept.lock() {
                    kept.extend_from_slice(&buffer[..n]);
                    let excess = kept.len().saturating_sub(STDERR_BYTES);
                    kept.drain(..excess);
                }
            }
        });
        Ok(Self {
            child,
            stdin,
            stdout: BufReader::new(stdout),
            stderr,
            stderr_reader,
            served: 0,
        })
    }

    /// Sends one document (`header` is its JSON header line) and reads the reply line, of at
    /// most `limit` bytes.
    pub async fn exchange(
        &mut self,
        header: &[u8],
        document: &[u8],
        limit: u64,
    ) -> Result<Vec<u8>, NoReply> {
        let written = async {
            self.stdin.write_all(header).await?;
            self.stdin.write_all(document).await?;
            self.stdin.flush().await
        };
        // A child that dies while reading breaks the pipe.
        written.await.map_err(|_| NoReply::Ended)?;
        let mut reply = Vec::new();
        let read = (&mut self.stdout)
            .take(limit + 1)
            .read_until(b'\n', &mut reply)
            .await
            .map_err(|_| NoReply::Ended)?;
        if reply.last() == Some(&b'\n') {
            reply.pop();
            self.served += 1;
            return Ok(reply);
        }
        if read as u64 > limit {
            return Err(NoReply::TooLong);
        }
        Err(NoReply::Ended)
    }

    /// Kills the child and waits until it is gone (no zombie left behind): for a parse that
    /// is abandoned while it runs.
    pub async fn stop(mut self) {
        if let Err(error) = self.child.kill().await {
            tracing::warn!(%error, "stopping a document reader failed");
        }
    }

    /// Waits (briefly) for a child that stopped, and returns how it ended and the end of
    /// its stderr.
    pub async fn ended(mut self) -> (Option<ExitStatus>, Vec<u8>) {
        let status = tokio::time::timeout(Duration::from_secs(2), self.child.wait())
            .await
            .ok()
            .and_then(Result::ok);
        let _ = tokio::time::timeout(Duration::from_millis(500), &mut self.stderr_reader).await;
        let stderr = self.stderr.lock().map(|s| s.clone()).unwrap_or_default();
        (status, stderr)
    }
}

impl Drop for ParseChild {
    fn drop(&mut self) {
        self.stderr_reader.abort();
    }
}
