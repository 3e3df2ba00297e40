//! Publishing benchmark events the way each server's users do: through the gateway's
//! history script on its Redis (the contract crate's `Publisher`), or by HTTP POST to
//! Nchan's publisher location over a pool of keep-alive connections.

use std::sync::Arc;

use anyhow::{Context, bail};
use bytes::BytesMut;
use fred::prelude::{Builder, ClientLike, Config};
use progress_contract::Channel;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{Mutex, mpsc, oneshot};

use crate::http::{self, Framing};
use crate::target::{Endpoint, Routes};

/// One event to publish.
struct Job {
    channel: String,
    payload: String,
    done: oneshot::Sender<anyhow::Result<()>>,
}

/// Publishes to one target. Cheap to clone.
#[derive(Clone)]
pub struct Publisher(Inner);

#[derive(Clone)]
enum Inner {
    Gateway(progress_contract::Publisher),
    Nchan(mpsc::Sender<Job>),
}

impl Publisher {
    /// Publishes into the gateway's Redis at `redis_url`.
    pub async fn gateway(redis_url: &str) -> anyhow::Result<Self> {
        let config = Config::from_url(redis_url).context("REDIS URL")?;
        let client = Builder::from_config(config)
            .build()
            .context("building the Redis client")?;
        client.init().await.context("connecting to Redis")?;
        Ok(Self(Inner::Gateway(progress_contract::Publisher::new(
            client,
        ))))
    }

    /// Publishes to Nchan over `connections` keep-alive HTTP connections.
    pub fn nchan(routes: &Routes, connections: usize) -> Self {
        let (send, receive) = mpsc::channel::<Job>(connections * 64);
        let receive = Arc::new(Mutex::new(receive));
        for _ in 0..connections.max(1) {
            let receive = receive.clone();
            let routes = routes.clone();
            tokio::spawn(async move {
                let mut connection: Option<TcpStream> = None;
                loop {
                    let job = receive.lock().await.recv().await;
                    let Some(job) = job else { return };
                    let path = routes.publish_path(&job.channel);
                    let mut result = post(
                        &mut connection,
                        &routes.server,
                        &path,
                        job.payload.as_bytes(),
                    )
                    .await;
                    if result.is_err() {
                        // A keep-alive connection closed by the server: one fresh try.
                        connection = None;
                        result = post(
                            &mut connection,
                            &routes.server,
                            &path,
                            job.payload.as_bytes(),
                        )
                        .await;
                    }
                    let _ = job.done.send(result);
                }
            });
        }
        Self(Inner::Nchan(send))
    }

    /// Publishes `payload` on job channel `channel`.
    pub async fn publish(&self, channel: &str, payload: String) -> anyhow::Result<()> {
        match &self.0 {
            Inner::Gateway(publisher) => {
                let channel = Channel::job(channel)?;
                publisher.publish_event(&channel, &payload).await?;
                Ok(())
            }
            Inner::Nchan(jobs) => {
                let (done, result) = oneshot::channel();
                jobs.send(Job {
                    channel: channel.to_owned(),
                    payload,
                    done,
                })
                .await
                .context("the publisher pool stopped")?;
                result.await.context("the publisher pool stopped")?
            }
        }
    }
}

/// One POST on a keep-alive connection (opened when `connection` is empty); the response
/// body is read and dropped. Fails on a status other than 2xx.
pub async fn post(
    connection: &mut Option<TcpStream>,
    server: &Endpoint,
    path: &str,
    body: &[u8],
) -> anyhow::Result<()> {
    let socket = match connection {
        Some(socket) => socket,
        None => {
            let socket = TcpStream::connect(server.addr)
                .await
                .context("connecting")?;
            socket.set_nodelay(true)?;
            connection.insert(socket)
        }
    };
    let request = http::request(
        "POST",
        path,
        &server.host,
        &[
            ("Content-Type", "application/json"),
            ("Accept", "text/json"),
        ],
        body,
    );
    socket.write_all(&request).await?;
    let mut buf = BytesMut::with_capacity(1024);
    let head = loop {
        if let Some(head) = http::parse_head(&mut buf)? {
            break head;
        }
        if socket.read_buf(&mut buf).await? == 0 {
            bail!("connection closed");
        }
    };
    match head.framing {
        Framing::Length(length) => {
            while buf.len() < length {
                if socket.read_buf(&mut buf).await? == 0 {
                    bail!("connection closed in the body");
                }
            }
        }
        Framing::Chunked => {
            let mut chunked = http::Chunked::default();
            while !chunked.feed(&buf, &mut |_| {})? {
                buf.clear();
                if socket.read_buf(&mut buf).await? == 0 {
                    bail!("connection closed in the body");
                }
            }
        }
        Framing::Close => {
            *connection = None;
        }
    }
    if !(200..300).contains(&head.status) {
        bail!("POST {path} answered {}", head.status);
    }
    Ok(())
}
