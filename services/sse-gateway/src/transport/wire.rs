//! A stream's socket, written straight from its outbox: the transport's [`Sink`].
//!
//! A stream served by the gateway's own HTTP/1 writer hands its socket, wrapped in a [`Wire`],
//! to its [`Connection`](crate::fanout::Connection) once the response head is ready. From then on a frame
//! queued while nothing is waiting is written at once by whoever queued it (the Redis
//! listener, for a fan-out): one vectored write of the shared frame bytes, no task woken, no
//! queue round trip. The stream's task steps in only when the socket is full (it waits until
//! the socket can take more) and to end the stream.
//!
//! Framing is HTTP/1.1 chunked (one chunk per batch of frames) or, for an HTTP/1.0 client,
//! the raw bytes until the connection closes.

use std::io::{self, IoSlice};

use bytes::{Buf, BytesMut};
use tokio::net::TcpStream;

pub use crate::fanout::sink::{Flushed, MAX_BATCH, Sink};

/// The bytes ending a chunked body.
const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

/// The write side of one stream's socket. The wire owns the socket while the stream is
/// written from its queue, so a delivery finds it in the queue it has locked already.
pub struct Wire {
    socket: TcpStream,
    chunked: bool,
    /// Written before anything else: the response head, then whatever a full socket refused.
    backlog: BytesMut,
    /// The backlog is the response head, not sent yet: it leaves in the same write as the
    /// first chunk (one segment to the client instead of two).
    head: bool,
    /// The end of the body is written (or in the backlog).
    finished: bool,
}

impl Wire {
    /// `head` (the response head) is written before the first frame.
    pub fn new(socket: TcpStream, head: &[u8], chunked: bool) -> Self {
        Self {
            socket,
            chunked,
            backlog: BytesMut::from(head),
            head: !head.is_empty(),
            finished: false,
        }
    }

    pub fn socket(&self) -> &TcpStream {
        &self.socket
    }

    /// The socket back, to end the response.
    pub fn into_socket(self) -> TcpStream {
        self.socket
    }

    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Nothing is waiting to be written (but the head, which goes with the next chunk) and
    /// the body goes on: a frame can be written now.
    pub fn is_ready(&self) -> bool {
        (self.backlog.is_empty() || self.head) && !self.finished
    }

    /// Writes what is left of the backlog; true once it is empty. With `more` (a chunk
    /// follows at once) the head not sent yet is left for that chunk's write.
    pub fn write_backlog(&mut self, more: bool) -> io::Result<bool> {
        if self.head && more {
            return Ok(true);
        }
        self.head = false;
        while !self.backlog.is_empty() {
            match self.socket.try_write(&self.backlog) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(written) => self.backlog.advance(written),
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(error) => return Err(error),
            }
        }
        // Nothing is kept once written: an idle stream holds no buffer.
        self.backlog = BytesMut::new();
        Ok(true)
    }

    /// Writes `parts` as one chunk (then the body's end when `last`) in one vectored write,
    /// after the head if it is not sent yet; what the socket does not take goes to the
    /// backlog. Call with an empty backlog (but the head).
    pub fn write_chunk(&mut self, parts: &[&[u8]], last: bool) -> io::Result<Flushed> {
        debug_assert!((self.backlog.is_empty() || self.head) && parts.len() <= 2 * MAX_BATCH);
        let size: usize = parts.iter().map(|p| p.len()).sum();
        let mut size_line = [0u8; 18];
        let mut slices = [IoSlice::new(&[]); 2 * MAX_BATCH + 4];
        let mut count = 0;
        let head = std::mem::take(&mut self.backlog);
        self.head = false;
        add(&head, &mut slices, &mut count);
        let framed = self.chunked && size > 0;
        let size_line = if framed {
            chunk_size_line(size, &mut size_line)
        } else {
            &[][..]
        };
        add(size_line, &mut slices, &mut count);
        for part in parts {
            add(part, &mut slices, &mut count);
        }
        if framed {
            add(b"\r\n", &mut slices, &mut count);
        }
        if last && self.chunked {
            add(LAST_CHUNK, &mut slices, &mut count);
        }
        self.finished |= last;
        let slices = &slices[..count];
        let total: usize = slices.iter().map(|s| s.len()).sum();
        // Straight to the socket: a full one answers WouldBlock, and the tokio readiness left
        // set is cleared by the next write that meets it (the backlog's).
        let written = match send(&self.socket, slices, total) {
            Ok(written) => written,
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => 0,
            Err(error) => return Err(error),
        };
        if written < total {
            let mut skip = written;
            self.backlog.reserve(total - written);
            for slice in slices {
                let take = skip.min(slice.len());
                self.backlog.extend_from_slice(&slice[take..]);
                skip -= take;
            }
            return Ok(Flushed::Blocked);
        }
        Ok(if last { Flushed::Ended } else { Flushed::Idle })
    }
}

impl Sink for Wire {
    fn is_ready(&self) -> bool {
        Wire::is_ready(self)
    }

    fn is_finished(&self) -> bool {
        Wire::is_finished(self)
    }

    fn write_backlog(&mut self, more: bool) -> io::Result<bool> {
        Wire::write_backlog(self, more)
    }

    fn write_chunk(&mut self, parts: &[&[u8]], last: bool) -> io::Result<Flushed> {
        Wire::write_chunk(self, parts, last)
    }

    fn poll_writable(&self, cx: &mut std::task::Context<'_>) -> std::task::Poll<io::Result<()>> {
        self.socket.poll_write_ready(cx)
    }

    fn poll_client_left(&self, cx: &mut std::task::Context<'_>) -> std::task::Poll<()> {
        client_left(cx, &self.socket)
    }

    fn end(self: Box<Self>) {
        super::socket::end_writing(&self.socket);
    }
}

/// Ready once the client has closed its side or the connection failed; bytes it sends after
/// the request are read and ignored.
pub fn client_left(cx: &mut std::task::Context<'_>, socket: &TcpStream) -> std::task::Poll<()> {
    use std::task::Poll;
    let mut scratch = [0u8; 64];
    loop {
        match socket.poll_read_ready(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Err(_)) => return Poll::Ready(()),
            Poll::Ready(Ok(())) => {}
        }
        match socket.try_read(&mut scratch) {
            Ok(0) => return Poll::Ready(()),
            Ok(_) => {}
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
            Err(_) => return Poll::Ready(()),
        }
    }
}

/// Frames up to this size are copied into one buffer and sent with `send`: the kernel's
/// plain-buffer path costs less than importing and walking an I/O vector (about 0.4 µs of
/// the 5 µs a loopback delivery costs), far more than the copy.
const CONTIGUOUS_MAX: usize = 2048;

/// Sends `slices` (`total` bytes) on the non-blocking socket.
fn send(socket: &TcpStream, slices: &[IoSlice<'_>], total: usize) -> io::Result<usize> {
    let socket = socket2::SockRef::from(socket);
    if slices.len() == 1 || total > CONTIGUOUS_MAX {
        return match slices {
            [one] => socket.send(one),
            _ => socket.send_vectored(slices),
        };
    }
    let mut buf = [0u8; CONTIGUOUS_MAX];
    let mut end = 0;
    for slice in slices {
        buf[end..end + slice.len()].copy_from_slice(slice);
        end += slice.len();
    }
    socket.send(&buf[..end])
}

fn add<'a>(bytes: &'a [u8], slices: &mut [IoSlice<'a>], count: &mut usize) {
    if !bytes.is_empty() {
        slices[*count] = IoSlice::new(bytes);
        *count += 1;
    }
}

/// `size` in hex followed by CRLF (a chunk's size line), in `buf`.
pub fn chunk_size_line(size: usize, buf: &mut [u8; 18]) -> &[u8] {
    let digits = (usize::BITS - size.leading_zeros()).div_ceil(4).max(1) as usize;
    for (n, byte) in buf[..digits].iter_mut().enumerate() {
        let nibble = (size >> (4 * (digits - 1 - n))) & 0xf;
        *byte = b"0123456789abcdef"[nibble];
    }
    buf[digits] = b'\r';
    buf[digits + 1] = b'\n';
    &buf[..digits + 2]
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    #[test]
    fn chunk_size_lines_are_hex() {
        let mut buf = [0u8; 18];
        assert_eq!(chunk_size_line(0, &mut buf), b"0\r\n");
        assert_eq!(chunk_size_line(10, &mut buf), b"a\r\n");
        assert_eq!(chunk_size_line(0x1f40, &mut buf), b"1f40\r\n");
        assert_eq!(
            chunk_size_line(usize::MAX, &mut buf),
            b"ffffffffffffffff\r\n"
        );
    }

    async fn pair() -> (TcpStream, TcpStream) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (server, _) = listener.accept().await.unwrap();
        (server, client)
    }

    #[tokio::test]
    async fn head_then_chunks_then_the_end() {
        let (server, mut client) = pair().await;
        let mut wire = Wire::new(server, b"HEAD\r\n\r\n", true);
        assert!(wire.write_backlog(false).unwrap());
        assert_eq!(
            wire.write_chunk(&[b"id: 1\n", b"data: x\n\n"], false)
                .unwrap(),
            Flushed::Idle
        );
        assert_eq!(wire.write_chunk(&[], true).unwrap(), Flushed::Ended);
        assert!(wire.is_finished());
        drop(wire);
        let mut received = String::new();
        client.read_to_string(&mut received).await.unwrap();
        assert_eq!(received, "HEAD\r\n\r\nf\r\nid: 1\ndata: x\n\n\r\n0\r\n\r\n");
    }

    #[tokio::test]
    async fn the_head_leaves_with_the_first_chunk() {
        let (server, mut client) = pair().await;
        let mut wire = Wire::new(server, b"HEAD\r\n\r\n", true);
        // A chunk follows: the head is not written on its own.
        assert!(wire.write_backlog(true).unwrap());
        assert!(wire.is_ready());
        let mut first = [0u8; 64];
        let early = tokio::time::timeout(
            std::time::Duration::from_millis(50),
            client.read(&mut first),
        );
        assert!(early.await.is_err(), "the head was sent alone");
        assert_eq!(
            wire.write_chunk(&[b"data: x\n\n"], false).unwrap(),
            Flushed::Idle
        );
        assert!(wire.is_ready());
        assert_eq!(wire.write_chunk(&[], true).unwrap(), Flushed::Ended);
        drop(wire);
        let mut received = String::new();
        client.read_to_string(&mut received).await.unwrap();
        assert_eq!(received, "HEAD\r\n\r\n9\r\ndata: x\n\n\r\n0\r\n\r\n");
    }

    #[tokio::test]
    async fn a_full_socket_keeps_the_rest_in_order() {
        let (server, mut client) = pair().await;
        let mut wire = Wire::new(server, b"", false);
        let big = vec![b'x'; 64 * 1024];
        let mut sent = 0;
        // Fill the socket: the rest of the last write waits in the backlog.
        while wire.write_chunk(&[&big], false).unwrap() == Flushed::Idle {
            sent += big.len();
        }
        sent += big.len();
        let reader = tokio::spawn(async move {
            let mut received = Vec::new();
            client.read_to_end(&mut received).await.unwrap();
            received
        });
        while !wire.write_backlog(false).unwrap() {
            wire.socket().writable().await.unwrap();
        }
        drop(wire);
        let received = reader.await.unwrap();
        assert_eq!(received.len(), sent);
        assert!(received.iter().all(|b| *b == b'x'));
    }

    #[tokio::test]
    async fn frames_either_side_of_the_copy_limit_arrive_whole() {
        let (server, mut client) = pair().await;
        let mut wire = Wire::new(server, b"", true);
        let mut expected = Vec::new();
        for (n, size) in [1, CONTIGUOUS_MAX - 40, CONTIGUOUS_MAX, 3 * CONTIGUOUS_MAX]
            .into_iter()
            .enumerate()
        {
            let id = format!("id: {n}\n");
            let data = vec![b'a' + n as u8; size];
            assert_eq!(
                wire.write_chunk(&[id.as_bytes(), &data], false).unwrap(),
                Flushed::Idle
            );
            expected.extend_from_slice(format!("{:x}\r\n", id.len() + size).as_bytes());
            expected.extend_from_slice(id.as_bytes());
            expected.extend_from_slice(&data);
            expected.extend_from_slice(b"\r\n");
        }
        assert_eq!(wire.write_chunk(&[], true).unwrap(), Flushed::Ended);
        expected.extend_from_slice(LAST_CHUNK);
        drop(wire);
        let mut received = Vec::new();
        client.read_to_end(&mut received).await.unwrap();
        assert_eq!(received, expected);
    }
}
