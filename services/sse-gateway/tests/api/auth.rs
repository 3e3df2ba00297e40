//! `AUTH_MODE=jwt`: where tokens come from, which keys verify them, and who owns what —
//! streams belong to their subject, jobs to their organisation, the rest needs a role.

use jsonwebtoken::Algorithm;
use reqwest::Method;
use serde_json::{Value, json};
use test_support::SseClient;

use crate::helpers::{WAIT, spawn_app_with};
use crate::tokens::{
    AUDIENCE, ISSUER, claims, fixture, jwt, sign, sign_with_pem, spawn_jwt_app, token,
};

fn add_body(job_id: &str, org: Option<&str>) -> Value {
    let mut body = json!({
        "queueName": "resume-analysis", "jobName": "analyze-resume",
        "data": {"resumeId": "r-1", "fileUrl": "https://example.com/cv.pdf"},
        "opts": {"jobId": job_id},
    });
    if let Some(org) = org {
        body["data"]["organisationId"] = json!(org);
    }
    body
}

#[tokio::test]
async fn a_token_is_read_from_the_header_the_query_or_a_cookie() {
    let app = spawn_jwt_app().await;
    let alice = token("alice", Some("org-1"), &[]);
    let url = app.url("/api/v1/sse/connect");

    let response = app.http.get(&url).send().await.unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unauthorized");

    let (_header, _) = app.connect_as("", &alice).await;
    let mut query = SseClient::connect(&format!("{url}?access_token={alice}"))
        .await
        .unwrap();
    assert_eq!(query.next_event(WAIT).await.unwrap().event, "connected");
    let cookie = format!("theme=dark; access_token={alice}");
    let mut cookie = SseClient::connect_with(&url, &[("cookie", &cookie)])
        .await
        .unwrap();
    assert_eq!(cookie.next_event(WAIT).await.unwrap().event, "connected");

    // A header that is not a Bearer token is not silently ignored in favour of the others.
    let response = app
        .http
        .get(format!("{url}?access_token={alice}"))
        .header("authorization", "Basic YWxpY2U6cHc=")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(
        response.headers()["www-authenticate"],
        "Bearer error=\"invalid_token\""
    );
}

#[tokio::test]
async fn rs256_and_es256_keys_from_a_pem_file_or_a_jwks_file_verify_tokens() {
    let jwks = fixture("jwks.json");
    let app = spawn_app_with(|c| {
        jwt(c);
        c.auth.jwt_secret = None;
        c.auth.jwt_jwks_file = Some(jwks);
    })
    .await;
    let claims = claims("alice", Some("org-1"), &["monitor"]);
    let rs = sign_with_pem(Algorithm::RS256, Some("rsa-1"), "rsa-private.pem", &claims);
    let es = sign_with_pem(Algorithm::ES256, Some("ec-1"), "ec-private.pem", &claims);
    for good in [&rs, &es] {
        let (status, body) = app.get_as("/api/v1/sse/stats", good).await;
        assert_eq!(status, 200, "{body}");
    }
    // The EC key's kid on an RSA signature, an HS256 token, and an unknown kid: refused.
    let wrong_kid = sign_with_pem(Algorithm::RS256, Some("ec-1"), "rsa-private.pem", &claims);
    let unknown_kid = sign_with_pem(Algorithm::ES256, Some("ec-9"), "ec-private.pem", &claims);
    for bad in [&wrong_kid, &unknown_kid, &sign(&claims)] {
        let (status, body) = app.get_as("/api/v1/sse/stats", bad).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (401, Some("invalid_token")),
            "{body}"
        );
    }

    let pem = fixture("ec-public.pem");
    let app = spawn_app_with(|c| {
        jwt(c);
        c.auth.jwt_secret = None;
        c.auth.jwt_public_key_file = Some(pem);
    })
    .await;
    let es = sign_with_pem(Algorithm::ES256, None, "ec-private.pem", &claims);
    assert_eq!(app.get_as("/api/v1/sse/stats", &es).await.0, 200);
    assert_eq!(app.get_as("/api/v1/sse/stats", &rs).await.0, 401);
}

#[tokio::test]
async fn a_gateway_with_jwt_mode_and_no_key_does_not_start() {
    let redis = test_support::RedisServer::start();
    let mut config = sse_gateway::GatewayConfig::local(redis.url());
    jwt(&mut config);
    config.auth.jwt_secret = None;
    let error = sse_gateway::Application::build(config).await.err().unwrap();
    assert!(format!("{error:#}").contains("needs a key"), "{error:#}");
    let mut config = sse_gateway::GatewayConfig::local(redis.url());
    jwt(&mut config);
    config.auth.jwt_secret = Some("short".into());
    assert!(sse_gateway::Application::build(config).await.is_err());
}

#[tokio::test]
async fn a_stream_belongs_to_its_subject_on_every_pod() {
    let app = spawn_jwt_app().await;
    let (second, _stop) = app.second_gateway_with(jwt).await;
    let alice = token("alice", Some("org-1"), &["monitor"]);
    let bob = token("bob", Some("org-1"), &["monitor"]);
    let (mut stream, id) = app.connect_as("", &alice).await;

    for base in [app.base.as_str(), second.as_str()] {
        for action in ["subscribe", "unsubscribe"] {
            let url = format!("{base}/api/v1/sse/{id}/{action}/queue/resume-analysis");
            let response = app.http.post(&url).bearer_auth(&bob).send().await.unwrap();
            assert_eq!(response.status(), 403, "{action} on {base}");
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["error"]["code"], "connection_forbidden");
        }
    }
    let members = app
        .redis
        .cli(&["SMEMBERS", &format!("sse:sess:{{{id}}}:ch")]);
    assert!(members.trim().is_empty(), "bob changed nothing: {members}");

    // Alice can, on either pod (the second forwards to the owner).
    let (status, body) = app
        .post_as(
            &format!("/api/v1/sse/{id}/subscribe/queue/resume-analysis"),
            &alice,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    stream.next_named("subscribed", WAIT).await.unwrap();
    let response = app
        .http
        .post(format!("{second}/api/v1/sse/{id}/subscribe/worker/w-1"))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        stream.next_named("subscribed", WAIT).await.unwrap().json()["channel"],
        "worker:w-1"
    );

    // Bob cannot take the stream over by resuming it with its Last-Event-ID.
    let response = app
        .http
        .get(app.url(&format!("/api/v1/sse/connect?lastEventId={id}:0")))
        .bearer_auth(&bob)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let (mut resumed, resumed_id) = app
        .connect_as(&format!("?lastEventId={id}:0"), &alice)
        .await;
    assert_eq!(resumed_id, id, "alice resumes her own stream");
    drop(
        resumed
            .next_event(std::time::Duration::from_millis(10))
            .await,
    );
}

#[tokio::test]
async fn a_job_is_seen_only_by_its_organisation() {
    let app = spawn_jwt_app().await;
    let one = token("alice", Some("org-1"), &[]);
    let two = token("mallory", Some("org-2"), &[]);

    // The organisation comes from the token; a body naming another is refused.
    let (status, body) = app
        .post_json(
            "/api/v1/queue/add",
            &add_body("job-a", Some("org-2")),
            Some(&one),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("organisation_mismatch"))
    );
    let (status, body) = app
        .post_json("/api/v1/queue/add", &add_body("job-a", None), Some(&one))
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, job) = app.get_as("/api/v1/jobs/job-a", &one).await;
    assert_eq!(
        (status, job["organisationId"].as_str()),
        (200, Some("org-1"))
    );

    // Another organisation can neither read, watch, resubmit nor watch it at connect.
    let (status, body) = app.get_as("/api/v1/jobs/job-a", &two).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("organisation_mismatch"))
    );
    let (_stream, id) = app.connect_as("", &two).await;
    let (status, body) = app
        .post_as(&format!("/api/v1/sse/{id}/subscribe/job/job-a"), &two)
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("organisation_mismatch"))
    );
    let (status, body) = app
        .post_json("/api/v1/queue/add", &add_body("job-a", None), Some(&two))
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("job_id_taken"))
    );
    let (status, _) = app
        .send(
            Method::GET,
            "/api/v1/sse/connect?jobs=job-a",
            Some(&two),
            None,
        )
        .await;
    assert_eq!(status, 403);

    // Watching a job before it exists claims its id: another organisation cannot add it.
    let (mut watcher, _) = app.connect_as("?jobs=job-b", &two).await;
    let (status, body) = app
        .post_json("/api/v1/queue/add", &add_body("job-b", None), Some(&one))
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("job_id_taken"))
    );
    let (status, body) = app
        .post_json("/api/v1/queue/add", &add_body("job-b", None), Some(&two))
        .await;
    assert_eq!(status, 201, "{body}");
    let update = watcher.next_named("job_update", WAIT).await.unwrap();
    assert_eq!(update.json()["jobId"], "job-b");

    // A token without an organisation cannot touch jobs at all.
    let nobody = token("svc", None, &["monitor"]);
    let (status, body) = app.get_as("/api/v1/jobs/job-a", &nobody).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("organisation_required"))
    );
}

#[tokio::test]
async fn queues_workers_stats_and_publishing_need_their_role() {
    let app = spawn_jwt_app().await;
    let plain = token("alice", Some("org-1"), &[]);
    let monitor = token("ops", Some("org-1"), &["monitor"]);
    let publisher = token("backend", None, &["publisher"]);
    let (_stream, id) = app.connect_as("", &plain).await;

    let monitored = [
        (Method::GET, "/api/v1/sse/stats".to_owned()),
        (Method::GET, "/api/v1/sse/channels".to_owned()),
        (Method::GET, "/api/v1/queues/resume-analysis".to_owned()),
        (Method::GET, "/api/v1/workers".to_owned()),
    ];
    for (method, path) in &monitored {
        let (status, body) = app.send(method.clone(), path, Some(&plain), None).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (403, Some("role_required")),
            "{path}"
        );
        let (status, body) = app.send(method.clone(), path, Some(&monitor), None).await;
        assert_eq!(status, 200, "{path}: {body}");
    }
    for channel in ["queue/resume-analysis", "worker/w-1"] {
        let (status, body) = app
            .post_as(&format!("/api/v1/sse/{id}/subscribe/{channel}"), &plain)
            .await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (403, Some("role_required"))
        );
    }
    let event = json!({"event": "announcement", "data": {"text": "hi"}});
    let published = [
        ("/api/v1/sse/broadcast".to_owned(), event.clone()),
        (format!("/api/v1/sse/{id}/events"), event),
        (
            "/api/v1/publish/job/j-1".to_owned(),
            json!({"type": "job_update", "jobId": "j-1"}),
        ),
        (
            "/api/v1/publish".to_owned(),
            json!({"events": [{"channel": "job:j-1", "data": {"type": "job_update"}}]}),
        ),
    ];
    for (path, body) in &published {
        for who in [&plain, &monitor] {
            let (status, answer) = app.post_json(path, body, Some(who)).await;
            assert_eq!(
                (status, answer["error"]["code"].as_str()),
                (403, Some("role_required")),
                "{path}"
            );
        }
        let (status, answer) = app.post_json(path, body, Some(&publisher)).await;
        assert!(status == 201 || status == 202, "{path}: {status} {answer}");
    }
}

#[tokio::test]
async fn time_issuer_audience_and_signature_are_checked() {
    let app = spawn_jwt_app().await;
    let mut cases = Vec::new();
    let mut expired = claims("alice", Some("org-1"), &[]);
    expired["exp"] = json!(crate::tokens::now() - 3600);
    cases.push((sign(&expired), "token_expired"));
    let mut early = claims("alice", Some("org-1"), &[]);
    early["nbf"] = json!(crate::tokens::now() + 3600);
    cases.push((sign(&early), "token_not_yet_valid"));
    for (field, value) in [
        ("aud", json!("someone-else")),
        ("iss", json!("https://evil.test")),
    ] {
        let mut wrong = claims("alice", Some("org-1"), &[]);
        wrong[field] = value;
        cases.push((sign(&wrong), "invalid_token"));
    }
    // Within the leeway, a just-expired token still passes.
    let mut skewed = claims("alice", Some("org-1"), &["monitor"]);
    skewed["exp"] = json!(crate::tokens::now() - 5);
    assert_eq!(app.get_as("/api/v1/sse/stats", &sign(&skewed)).await.0, 200);
    for (token, code) in cases {
        let (status, body) = app.get_as("/api/v1/sse/stats", &token).await;
        assert_eq!((status, body["error"]["code"].as_str()), (401, Some(code)));
        assert!(
            !body.to_string().contains(&token),
            "errors never echo the token"
        );
    }
    assert_eq!((ISSUER, AUDIENCE), ("https://id.test", "resume-progress"));
}

#[tokio::test]
async fn a_cookie_token_changes_something_only_from_a_named_origin() {
    let app = spawn_app_with(|c| {
        jwt(c);
        c.cors_allowed_origins = "https://app.example".into();
    })
    .await;
    let alice = token("alice", Some("org-1"), &[]);
    let cookie = format!("access_token={alice}");
    // The stream opens with the cookie from anywhere: reading needs no more.
    let mut stream = SseClient::connect_with(
        &app.url("/api/v1/sse/connect"),
        &[("cookie", &cookie), ("origin", "https://evil.example")],
    )
    .await
    .unwrap();
    let id = stream.next_event(WAIT).await.unwrap().json()["connectionId"]
        .as_str()
        .unwrap()
        .to_owned();
    let subscribe = |origin: Option<&'static str>, bearer: bool| {
        let mut request = app
            .http
            .post(app.url(&format!("/api/v1/sse/{id}/subscribe/job/csrf")));
        request = if bearer {
            request.bearer_auth(&alice)
        } else {
            request.header("cookie", &cookie)
        };
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let body: Value = response.json().await.unwrap_or_default();
            (status, body["error"]["code"].as_str().map(str::to_owned))
        }
    };
    // A third-party page (or a page that sends no Origin) cannot act with the cookie.
    for origin in [Some("https://evil.example"), None] {
        assert_eq!(
            subscribe(origin, false).await,
            (403, Some("origin_forbidden".into())),
            "origin {origin:?}"
        );
    }
    let members = app
        .redis
        .cli(&["SMEMBERS", &format!("sse:sess:{{{id}}}:ch")]);
    assert!(!members.contains("job:csrf"), "nothing changed: {members}");
    // The frontend's own origin may; so may a header token from anywhere.
    assert_eq!(subscribe(Some("https://app.example"), false).await.0, 200);
    assert_eq!(subscribe(Some("https://evil.example"), true).await.0, 200);
    stream.next_named("subscribed", WAIT).await.unwrap();
}
