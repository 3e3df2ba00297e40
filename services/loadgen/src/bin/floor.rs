//! The least a stream's open can cost on tokio, as a yardstick for the gateway's (see
//! `bench/floor.sh`): accept, one task per connection, read the request head, write a 200
//! head and one event, wait for the client to leave. No Redis, no routing, no checks.
//! `floor ADDR` (loopback only).
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

const HEAD: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\nconnection: close\r\ntransfer-encoding: chunked\r\n\r\n";

async fn serve(mut socket: TcpStream) {
    let mut buf = Vec::with_capacity(1024);
    loop {
        if socket.read_buf(&mut buf).await.unwrap_or(0) == 0 {
            return;
        }
        if buf.windows(4).any(|w| w == b"\r\n\r\n") {
            break;
        }
    }
    let event = b"retry: 1000\nevent: connected\ndata: {\"connectionId\":\"0\"}\n\n";
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(HEAD);
    out.extend_from_slice(format!("{:x}\r\n", event.len()).as_bytes());
    out.extend_from_slice(event);
    out.extend_from_slice(b"\r\n");
    if socket.write_all(&out).await.is_err() {
        return;
    }
    drop(buf);
    let mut sink = [0u8; 64];
    while let Ok(n) = socket.read(&mut sink).await {
        if n == 0 {
            return;
        }
    }
}

/// As deep as the gateway's accept queue: a full queue costs its clients a second each.
const BACKLOG: u32 = 8192;

fn main() -> std::io::Result<()> {
    let addr: std::net::SocketAddr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:7070".into())
        .parse()
        .map_err(std::io::Error::other)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let socket = TcpSocket::new_v4()?;
        socket.set_reuseaddr(true)?;
        socket.bind(addr)?;
        let listener = socket.listen(BACKLOG)?;
        loop {
            match listener.accept().await {
                Ok((socket, _)) => {
                    tokio::spawn(serve(socket));
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    })
}
