//! The fetcher against real HTTP servers on loopback addresses.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::State;
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

fn fetcher(allow: &[&str]) -> SafeFetcher {
    SafeFetcher::new(FetchPolicy {
        allow_hosts: allow.iter().map(|s| (*s).to_owned()).collect(),
        max_bytes: 2048,
        timeout: Duration::from_millis(500),
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
    let started = Instant::now();
    let error = f.fetch(&format!("http://{addr}/hang")).await.unwrap_err();
    assert_eq!(error, FetchError::Timeout);
    assert!(error.is_retryable());
    assert!(started.elapsed() < Duration::from_secs(3));
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
