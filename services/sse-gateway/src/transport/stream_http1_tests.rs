//! The lean HTTP/1 stream path: request heads, response heads, and a stream's task size.
use super::*;
use axum::Router;
use tower::ServiceExt;

/// Stream requests served by `router`, as the gateway's stream service serves them.
fn served_by(router: Router) -> crate::transport::StreamService {
    std::sync::Arc::new(move |request| {
        let router = router.clone();
        Box::pin(async move {
            let response = router.oneshot(request).await;
            response.unwrap_or_else(|never| match never {})
        })
    })
}
use axum::body::Bytes;
use tokio::io::AsyncWriteExt;

#[test]
fn recognises_stream_requests_only() {
    assert!(is_stream_request(
        b"GET /api/v1/sse/connect?jobs=a HTTP/1.1"
    ));
    assert!(is_stream_request(b"GET /api/v1/sse/connect HTTP/1.1"));
    assert!(
        !is_stream_request(b"GET /api/v1/sse/connect"),
        "not all there yet"
    );
    assert!(!is_stream_request(b"GET /api/v1/sse/connections HTTP/1.1"));
    assert!(!is_stream_request(b"POST /api/v1/sse/connect HTTP/1.1"));
    assert!(!is_stream_request(b"PRI * HTTP/2.0\r\n"));
}

#[test]
fn parses_heads() {
    let head = b"GET /api/v1/sse/connect?jobs=a HTTP/1.1\r\nHost: x\r\nLast-Event-ID: c:5\r\nX: 1\r\nX: 2\r\n\r\n";
    assert!(parse_head(&head[..20]).unwrap().is_none(), "partial");
    let request = parse_head(head).unwrap().unwrap();
    assert_eq!(request.uri().query(), Some("jobs=a"));
    assert_eq!(request.version(), Version::HTTP_11);
    assert_eq!(request.headers()["last-event-id"], "c:5");
    assert_eq!(request.headers().get_all("x").iter().count(), 2);
    let old = parse_head(b"GET /api/v1/sse/connect HTTP/1.0\r\n\r\n")
        .unwrap()
        .unwrap();
    assert_eq!(old.version(), Version::HTTP_10);

    let status = |bytes: &[u8]| parse_head(bytes).err().map(|e| e.into_response().status());
    assert_eq!(
        status(b"GET /api/v1/sse/connect HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"),
        Some(StatusCode::BAD_REQUEST)
    );
    assert_eq!(
        status(b"GET /api/v1/sse/connect HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"),
        Some(StatusCode::BAD_REQUEST)
    );
    assert_eq!(
        status(b"GET /api/v1/sse/connect HTTP/1.1\r\nBad Header: x\r\n\r\n"),
        Some(StatusCode::BAD_REQUEST)
    );
    let many: String = (0..=MAX_HEADERS).map(|n| format!("h{n}: v\r\n")).collect();
    let head = format!("GET /api/v1/sse/connect HTTP/1.1\r\n{many}\r\n");
    assert_eq!(
        status(head.as_bytes()),
        Some(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE)
    );
}

#[test]
fn response_heads_drop_hop_by_hop_headers() {
    let mut response = Response::new(Body::empty());
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("keep-alive"));
    let head = String::from_utf8(response_head(&response, Framing::Chunked, None)).unwrap();
    assert!(head.starts_with("HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"));
    assert!(head.contains("\r\nconnection: close\r\n"));
    assert!(!head.contains("keep-alive"));
    assert!(head.contains("\r\ndate: "));
    assert!(head.ends_with("transfer-encoding: chunked\r\n\r\n"));
    let head = String::from_utf8(response_head(&response, Framing::Length, Some(7))).unwrap();
    assert!(head.ends_with("content-length: 7\r\n\r\n"));
}

/// Reads from `client` until `text` has arrived; returns everything read.
async fn read_until(client: &mut TcpStream, text: &str) -> String {
    let mut seen = Vec::new();
    let mut buf = [0u8; 1024];
    while !String::from_utf8_lossy(&seen).contains(text) {
        let read = tokio::time::timeout(std::time::Duration::from_secs(5), client.read(&mut buf))
            .await
            .expect("the server answers")
            .unwrap();
        assert!(
            read > 0,
            "closed before {text:?}: {}",
            String::from_utf8_lossy(&seen)
        );
        seen.extend_from_slice(&buf[..read]);
    }
    String::from_utf8(seen).unwrap()
}

struct DropFlag(Option<tokio::sync::oneshot::Sender<()>>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        if let Some(flag) = self.0.take() {
            let _ = flag.send(());
        }
    }
}

#[tokio::test]
async fn streams_without_hyper_and_serves_everything_else_with_it() {
    let (dropped, body_dropped) = tokio::sync::oneshot::channel();
    let flag = Arc::new(std::sync::Mutex::new(Some(DropFlag(Some(dropped)))));
    let stream = move || {
        let flag = flag.lock().unwrap().take();
        async move {
            let connection = Arc::new(Connection::new(
                uuid::Uuid::new_v4(),
                0,
                tokio_util::sync::CancellationToken::new(),
            ));
            let frames = crate::hub::ConnectionStream::new(connection.clone(), move |_| {
                drop(flag);
            });
            for frame in ["a", "b"] {
                let frame = Bytes::from_static(frame.as_bytes());
                connection.push(crate::hub::Item::plain(frame), 8);
            }
            let mut response = Response::new(Body::from_stream(frames));
            response.extensions_mut().insert(connection);
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/event-stream"),
            );
            response
        }
    };
    let router = Router::new()
        .route("/api/v1/sse/connect", axum::routing::get(stream))
        .route("/other", axum::routing::get(|| async { "plain" }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, cut) = (
        tokio_util::sync::CancellationToken::new(),
        tokio_util::sync::CancellationToken::new(),
    );
    let server = tokio::spawn(super::super::serve(
        listener,
        router.clone(),
        served_by(router),
        admission(),
        stop.clone(),
        cut.clone(),
    ));

    let mut client = TcpStream::connect(addr).await.unwrap();
    client
        .write_all(b"GET /api/v1/sse/connect?jobs=a HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let answer = read_until(&mut client, "2\r\nab\r\n").await;
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    assert!(
        answer.contains("content-type: text/event-stream\r\n"),
        "{answer}"
    );
    assert!(
        answer.contains("transfer-encoding: chunked\r\n"),
        "{answer}"
    );
    assert!(
        answer.ends_with("\r\n\r\n2\r\nab\r\n"),
        "head and both ready frames in one chunk: {answer}"
    );
    drop(client);
    tokio::time::timeout(std::time::Duration::from_secs(5), body_dropped)
        .await
        .expect("the stream ends when its client leaves")
        .unwrap();

    let mut client = TcpStream::connect(addr).await.unwrap();
    client
        .write_all(b"GET /other HTTP/1.1\r\nHost: x\r\n\r\nGET /other HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let answer = read_until(&mut client, "plainHTTP/1.1 200 OK").await;
    assert!(
        answer.starts_with("HTTP/1.1 200 OK\r\n"),
        "keep-alive by hyper: {answer}"
    );

    let mut client = TcpStream::connect(addr).await.unwrap();
    client
        .write_all(b"GET /api/v1/sse/connect HTTP/1.1\r\n\r\n")
        .await
        .unwrap();
    read_until(&mut client, "ab").await;
    cut.cancel();
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        client.read_to_end(&mut rest),
    )
    .await;
    assert!(closed.is_ok(), "cutting closes the connection");
    stop.cancel();
    server.await.unwrap();
}

fn admission() -> super::super::Admission {
    super::super::Admission::new(super::super::SocketLimits {
        header_read_timeout: std::time::Duration::from_secs(10),
        max_pending: 100,
    })
}

#[tokio::test]
async fn a_streams_task_stays_small() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap())
        .await
        .unwrap();
    let (socket, peer) = listener.accept().await.unwrap();
    let token = tokio_util::sync::CancellationToken::new();
    let pending = admission().admit().unwrap();
    let origin = Box::new(super::super::Origin {
        handle: crate::transport::SocketHandle(token.clone()),
        peer: super::super::PeerAddr(peer.ip()),
    });
    let task = super::super::connection(
        socket,
        (Router::new(), served_by(Router::new())),
        origin,
        token,
        pending,
        std::time::Duration::from_secs(10),
    );
    let size = std::mem::size_of_val(&task);
    // Every idle stream holds one: its size is memory per stream.
    assert!(size <= 1024, "a stream's task is {size} bytes");
    drop(client);
}
