//! The fetcher against real HTTP servers on loopback addresses.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use safe_fetch::{FetchError, FetchPolicy, SafeFetcher};

#[derive(Clone)]
struct Target(String);

async fn server(ip: [u8; 4], target: &str) -> SocketAddr {
    let app = Router::new()
        .route(
            "/cv.pdf",
            get(|| async {
                (
                    [
                        (header::CONTENT_TYPE, "application/pdf"),
                        (
                            header::CONTENT_DISPOSITION,
                            "attachment; filename=\"jane.pdf\"",
                        ),
                    ],
                    "%PDF-1.4 test",
                )
            }),
        )
        .route("/plain/resume.txt", get(|| async { "plain text" }))
        .route("/big", get(|| async { vec![b'x'; 4096] }))
        .route(
            "/big-chunked",
            get(|| async {
                let chunks = (0..8).map(|_| Ok::<_, std::io::Error>(vec![b'y'; 1024]));
                Body::from_stream(futures::stream::iter(chunks))
            }),
        )
        .route(
            "/endless",
            get(|| async {
                let chunks =
                    futures::stream::repeat_with(|| Ok::<_, std::io::Error>(vec![b'z'; 512]));
                Body::from_stream(chunks)
            }),
        )
        .route(
            "/hop/{n}",
            get(|Path(n): Path<u32>| async move {
                let next = match n {
                    0 => "/cv.pdf".to_owned(),
                    n => format!("/hop/{}", n - 1),
                };
                (StatusCode::FOUND, [(header::LOCATION, next)]).into_response()
            }),
        )
        .route("/missing", get(|| async { StatusCode::NOT_FOUND }))
        .route("/down", get(|| async { StatusCode::SERVICE_UNAVAILABLE }))
        .route(
            "/hang",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                "late"
            }),
        )
        .route(
            "/redirect",
            get(|State(Target(to)): State<Target>| async move {
                (StatusCode::FOUND, [(header::LOCATION, to)]).into_response()
            }),
        )
        .route(
            "/loop",
            get(|| async { (StatusCode::FOUND, [(header::LOCATION, "/loop")]).into_response() }),
        )
        .with_state(Target(target.to_owned()));
    let listener = tokio::net::TcpListener::bind(SocketAddr::from((ip, 0)))
        .await
        .unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

/// A hand-written HTTP/1.1 responder on 127.0.0.1: reads the request head, writes `response`
/// (possibly nothing) and then keeps the connection open without another byte.
async fn raw_server(response: &'static [u8]) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                if socket.write_all(response).await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_secs(60)).await;
            });
        }
    });
    addr
}

/// Loopback tests answer in milliseconds; the generous total timeout keeps them steady on a
/// busy machine and makes "returned fast" assertions meaningful.
fn fetcher(allow: &[&str]) -> SafeFetcher {
    SafeFetcher::new(FetchPolicy {
        allow_hosts: allow.iter().map(|s| (*s).to_owned()).collect(),
        max_bytes: 2048,
        timeout: Duration::from_secs(5),
        ..FetchPolicy::default()
    })
    .unwrap()
}

fn quick_fetcher(allow: &[&str]) -> SafeFetcher {
    SafeFetcher::new(FetchPolicy {
        allow_hosts: allow.iter().map(|s| (*s).to_owned()).collect(),
        max_bytes: 2048,
        timeout: Duration::from_millis(300),
        ..FetchPolicy::default()
    })
    .unwrap()
}

#[tokio::test]
async fn fetches_from_an_allow_listed_host() {
    let addr = server([127, 0, 0, 1], "").await;
    let fetched = fetcher(&["127.0.0.1"])
        .fetch(&format!("http://{addr}/cv.pdf"))
        .await
        .unwrap();
    assert_eq!(&fetched.bytes[..], b"%PDF-1.4 test");
    assert_eq!(fetched.content_type.as_deref(), Some("application/pdf"));
    assert_eq!(fetched.file_name.as_deref(), Some("jane.pdf"));
    let plain = fetcher(&["127.0.0.1"])
        .fetch(&format!("http://{addr}/plain/resume.txt"))
        .await
        .unwrap();
    assert_eq!(plain.file_name.as_deref(), Some("resume.txt"));
    assert_eq!(&plain.bytes[..], b"plain text");
}

#[tokio::test]
async fn private_and_loopback_addresses_are_refused() {
    let addr = server([127, 0, 0, 1], "").await;
    let strict = fetcher(&[]);
    let started = Instant::now();
    for url in [
        format!("http://{addr}/cv.pdf"),
        "http://169.254.169.254/latest/meta-data/".to_owned(),
        format!("http://[::ffff:127.0.0.1]:{}/cv.pdf", addr.port()),
        "http://10.1.2.3/x".to_owned(),
        "http://[::1]/x".to_owned(),
        "http://0.0.0.0/x".to_owned(),
    ] {
        let error = strict.fetch(&url).await.unwrap_err();
        assert!(
            matches!(error, FetchError::ForbiddenAddress { .. }),
            "{url}: {error:?}"
        );
        assert!(!error.is_retryable());
    }
    assert!(
        started.elapsed() < Duration::from_millis(400),
        "refused without network traffic"
    );
    // A name that resolves to loopback is refused by the resolver.
    let error = strict
        .fetch(&format!("http://localhost:{}/cv.pdf", addr.port()))
        .await
        .unwrap_err();
    assert!(
        matches!(error, FetchError::ForbiddenAddress { ref host, .. } if host == "localhost"),
        "{error:?}"
    );
    let error = strict
        .fetch("http://metadata.google.internal/computeMetadata/v1/")
        .await
        .unwrap_err();
    assert_eq!(
        error,
        FetchError::HostNotAllowed("metadata.google.internal".into())
    );
}

#[tokio::test]
async fn other_schemes_and_credentials_are_refused() {
    let strict = fetcher(&[]);
    for (url, scheme) in [
        ("file:///etc/passwd", "file"),
        ("ftp://example.com/cv.pdf", "ftp"),
        ("gopher://x/", "gopher"),
        ("data:text/plain,hello", "data"),
        ("javascript:alert(1)", "javascript"),
        ("FILE:///etc/passwd", "file"),
    ] {
        assert_eq!(
            strict.fetch(url).await.unwrap_err(),
            FetchError::SchemeNotAllowed(scheme.into())
        );
    }
    assert!(matches!(
        strict
            .fetch("http://user:pw@example.com/")
            .await
            .unwrap_err(),
        FetchError::InvalidUrl(_)
    ));
    assert!(matches!(
        strict.fetch("not a url").await.unwrap_err(),
        FetchError::InvalidUrl(_)
    ));
}

#[tokio::test]
async fn redirects_are_checked_hop_by_hop() {
    let inner = server([127, 0, 0, 1], "").await;
    let outer = server([127, 0, 0, 2], &format!("http://{inner}/cv.pdf")).await;
    // 127.0.0.2 is allowed, its redirect target 127.0.0.1 is not.
    let error = fetcher(&["127.0.0.2"])
        .fetch(&format!("http://{outer}/redirect"))
        .await
        .unwrap_err();
    assert!(
        matches!(error, FetchError::ForbiddenAddress { ip, .. } if ip.to_string() == "127.0.0.1"),
        "{error:?}"
    );
    // With both allowed the redirect is followed.
    let fetched = fetcher(&["127.0.0.2", "127.0.0.1"])
        .fetch(&format!("http://{outer}/redirect"))
        .await
        .unwrap();
    assert_eq!(&fetched.bytes[..], b"%PDF-1.4 test");
    assert!(fetched.final_url.ends_with("/cv.pdf"));

    let to_file = server([127, 0, 0, 3], "file:///etc/passwd").await;
    let error = fetcher(&["127.0.0.3"])
        .fetch(&format!("http://{to_file}/redirect"))
        .await
        .unwrap_err();
    assert_eq!(error, FetchError::SchemeNotAllowed("file".into()));

    let error = fetcher(&["127.0.0.1"])
        .fetch(&format!("http://{inner}/loop"))
        .await
        .unwrap_err();
    assert_eq!(error, FetchError::TooManyRedirects(3));
}

#[tokio::test]
async fn redirect_limit_counts_hops() {
    let addr = server([127, 0, 0, 1], "").await;
    let f = fetcher(&["127.0.0.1"]);
    // /hop/2 → /hop/1 → /hop/0 → /cv.pdf: three redirects, the default limit.
    let fetched = f.fetch(&format!("http://{addr}/hop/2")).await.unwrap();
    assert_eq!(fetched.final_url, format!("http://{addr}/cv.pdf"));
    assert_eq!(fetched.file_name.as_deref(), Some("jane.pdf"));
    let error = f.fetch(&format!("http://{addr}/hop/3")).await.unwrap_err();
    assert_eq!(error, FetchError::TooManyRedirects(3));
    assert!(!error.is_retryable());
}

#[tokio::test]
async fn redirects_to_metadata_and_local_names_are_refused() {
    let to_metadata = server([127, 0, 0, 4], "http://169.254.169.254/latest/meta-data/").await;
    let started = Instant::now();
    let error = fetcher(&["127.0.0.4"])
        .fetch(&format!("http://{to_metadata}/redirect"))
        .await
        .unwrap_err();
    assert!(
        matches!(error, FetchError::ForbiddenAddress { ip, .. } if ip.to_string() == "169.254.169.254"),
        "{error:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "no connection attempted"
    );

    let inner = server([127, 0, 0, 1], "").await;
    let to_localhost = server(
        [127, 0, 0, 5],
        &format!("http://localhost:{}/cv.pdf", inner.port()),
    )
    .await;
    let error = fetcher(&["127.0.0.5"])
        .fetch(&format!("http://{to_localhost}/redirect"))
        .await
        .unwrap_err();
    assert!(
        matches!(error, FetchError::ForbiddenAddress { ref host, .. } if host == "localhost"),
        "{error:?}"
    );
}

#[tokio::test]
async fn size_time_and_status_limits() {
    let addr = server([127, 0, 0, 1], "").await;
    let f = fetcher(&["127.0.0.1"]);
    assert_eq!(
        f.fetch(&format!("http://{addr}/big")).await.unwrap_err(),
        FetchError::TooLarge { limit: 2048 }
    );
    assert_eq!(
        f.fetch(&format!("http://{addr}/big-chunked"))
            .await
            .unwrap_err(),
        FetchError::TooLarge { limit: 2048 }
    );
    // An endless chunked body is cut off once it passes the limit.
    assert_eq!(
        f.fetch(&format!("http://{addr}/endless"))
            .await
            .unwrap_err(),
        FetchError::TooLarge { limit: 2048 }
    );
    let missing = f
        .fetch(&format!("http://{addr}/missing"))
        .await
        .unwrap_err();
    assert_eq!(missing, FetchError::Status(404));
    assert!(!missing.is_retryable());
    let down = f.fetch(&format!("http://{addr}/down")).await.unwrap_err();
    assert_eq!(down, FetchError::Status(503));
    assert!(down.is_retryable());
}

#[tokio::test]
async fn oversized_content_length_is_refused_before_the_body() {
    // Declares 1 MB, sends three bytes and stalls: only the Content-Length check can answer
    // before the timeout.
    let addr = raw_server(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1000000\r\n\r\nabc",
    )
    .await;
    let error = quick_fetcher(&["127.0.0.1"])
        .fetch(&format!("http://{addr}/cv.txt"))
        .await
        .unwrap_err();
    assert_eq!(error, FetchError::TooLarge { limit: 2048 });
    assert!(!error.is_retryable());
}

#[tokio::test]
async fn a_server_that_never_answers_times_out() {
    let silent = raw_server(b"").await;
    let started = Instant::now();
    let error = quick_fetcher(&["127.0.0.1"])
        .fetch(&format!("http://{silent}/cv.pdf"))
        .await
        .unwrap_err();
    let elapsed = started.elapsed();
    assert_eq!(error, FetchError::Timeout);
    assert!(error.is_retryable());
    assert!(elapsed >= Duration::from_millis(300), "{elapsed:?}");
    assert!(elapsed < Duration::from_millis(1500), "{elapsed:?}");

    // Headers sent, body stalls: the limit covers the whole download, not just the headers.
    let stalling = raw_server(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc").await;
    let error = quick_fetcher(&["127.0.0.1"])
        .fetch(&format!("http://{stalling}/cv.pdf"))
        .await
        .unwrap_err();
    assert_eq!(error, FetchError::Timeout);

    // An axum handler that sleeps.
    let addr = server([127, 0, 0, 1], "").await;
    let error = quick_fetcher(&["127.0.0.1"])
        .fetch(&format!("http://{addr}/hang"))
        .await
        .unwrap_err();
    assert_eq!(error, FetchError::Timeout);
}

#[tokio::test]
async fn only_hosts_limits_fetching_to_a_list() {
    let addr = server([127, 0, 0, 1], "").await;
    let f = SafeFetcher::new(FetchPolicy {
        allow_hosts: vec!["127.0.0.1".into()],
        host_allowlist_only: true,
        only_hosts: vec!["files.internal".into()],
        ..FetchPolicy::default()
    })
    .unwrap();
    let error = f.fetch(&format!("http://{addr}/cv.pdf")).await.unwrap_err();
    assert_eq!(error, FetchError::HostNotAllowed("127.0.0.1".into()));
}
