//! The bad-input battery: a table of malformed, oversized, hostile and unauthorised requests
//! across every endpoint, each answered with its exact status and error code, by a gateway
//! that stays healthy and leaves Redis exactly as it was. The limits (streams per subject and
//! per pod, subscriptions per stream, the POST rate) close it, each after its own set-up.

use std::time::Duration;

use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use reqwest::Method;
use serde_json::{Value, json};
use test_support::SseClient;

use crate::helpers::{TestApp, spawn_app_with};
use crate::tokens::{claims, jwt, now, sign, token};

/// Limits small enough to reach in a test.
const MAX_CONNECTIONS: usize = 8;
const STREAMS_PER_SUBJECT: usize = 2;
const SUBSCRIPTIONS: usize = 3;
const BURST: u32 = 40;

enum Body {
    None,
    Json(Value),
    Raw(&'static str, Vec<u8>),
    Form(Vec<(&'static str, Part)>),
}

enum Part {
    Text(&'static str),
    File(Vec<u8>),
}

struct Case {
    name: &'static str,
    method: Method,
    path: String,
    token: Option<String>,
    headers: Vec<(&'static str, String)>,
    body: Body,
    status: u16,
    code: &'static str,
}

fn case(name: &'static str, method: Method, path: impl Into<String>) -> Case {
    Case {
        name,
        method,
        path: path.into(),
        token: None,
        headers: Vec::new(),
        body: Body::None,
        status: 0,
        code: "",
    }
}

impl Case {
    fn token(mut self, token: &str) -> Self {
        self.token = Some(token.to_owned());
        self
    }
    fn json(mut self, body: Value) -> Self {
        self.body = Body::Json(body);
        self
    }
    fn raw(mut self, content_type: &'static str, body: impl Into<Vec<u8>>) -> Self {
        self.body = Body::Raw(content_type, body.into());
        self
    }
    fn form(mut self, parts: Vec<(&'static str, Part)>) -> Self {
        self.body = Body::Form(parts);
        self
    }
    fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
    fn expect(mut self, status: u16, code: &'static str) -> Self {
        self.status = status;
        self.code = code;
        self
    }
}

/// Tokens of the cast, and the state they own.
struct Cast {
    alice: String,
    bob: String,
    mallory: String,
    monitor: String,
    publisher: String,
    orgless: String,
    alice_stream: String,
}

fn add_body(job_id: &str) -> Value {
    json!({"queueName": "resume-analysis", "jobName": "analyze-resume",
           "data": {"resumeId": "r-1", "fileUrl": "https://example.com/cv.pdf"},
           "opts": {"jobId": job_id}})
}

fn forged_tokens() -> Vec<(&'static str, String, &'static str)> {
    let mut expired = claims("alice", Some("org-1"), &[]);
    expired["exp"] = json!(now() - 3600);
    let mut early = claims("alice", Some("org-1"), &[]);
    early["nbf"] = json!(now() + 3600);
    let mut audience = claims("alice", Some("org-1"), &[]);
    audience["aud"] = json!("another-service");
    let mut issuer = claims("alice", Some("org-1"), &[]);
    issuer["iss"] = json!("https://evil.test");
    let forged = encode(
        &Header::new(Algorithm::HS256),
        &claims("alice", Some("org-1"), &["monitor", "publisher"]),
        &EncodingKey::from_secret(b"not-the-gateway-secret-not-the-gateway-secret"),
    )
    .unwrap();
    // `{"alg":"none"}` with claims and no signature.
    let none = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJhbGljZSIsImV4cCI6OTk5OTk5OTk5OX0.";
    let mut no_subject = claims("alice", Some("org-1"), &[]);
    no_subject.as_object_mut().unwrap().remove("sub");
    vec![
        ("expired token", sign(&expired), "token_expired"),
        ("token not yet valid", sign(&early), "token_not_yet_valid"),
        (
            "token for another audience",
            sign(&audience),
            "invalid_token",
        ),
        ("token of another issuer", sign(&issuer), "invalid_token"),
        ("forged signature", forged, "invalid_token"),
        ("alg none", none.to_owned(), "invalid_token"),
        ("token without subject", sign(&no_subject), "invalid_token"),
        ("garbage token", "not.a.jwt".to_owned(), "invalid_token"),
        (
            "truncated token",
            sign(&claims("alice", None, &[]))[..40].to_owned(),
            "invalid_token",
        ),
    ]
}

fn cases(cast: &Cast) -> Vec<Case> {
    let Cast {
        alice,
        bob,
        mallory,
        monitor,
        publisher,
        orgless,
        alice_stream,
    } = cast;
    let stream = alice_stream;
    let unknown = uuid::Uuid::new_v4();
    let event = json!({"event": "announcement", "data": {}});
    let mut cases = vec![
        // Malformed, truncated and mistyped JSON.
        case("truncated JSON", Method::POST, "/api/v1/queue/add")
            .token(alice)
            .raw(
                "application/json",
                r#"{"queueName":"resume-analysis","data":{"#,
            )
            .expect(400, "invalid_json"),
        case("not JSON", Method::POST, "/api/v1/queue/add")
            .token(alice)
            .raw("application/json", "queueName=resume-analysis")
            .expect(400, "invalid_json"),
        case("JSON array body", Method::POST, "/api/v1/queue/add")
            .token(alice)
            .json(json!([1, 2, 3]))
            .expect(422, "invalid_fields"),
        case("wrong types", Method::POST, "/api/v1/queue/add")
            .token(alice)
            .json(json!({"queueName": 5, "jobName": [], "data": "cv.pdf"}))
            .expect(422, "invalid_fields"),
        case("not a JSON content type", Method::POST, "/api/v1/queue/add")
            .token(alice)
            .raw("text/plain", add_body("j-1").to_string())
            .expect(415, "unsupported_media_type"),
        case(
            "file URL with another scheme",
            Method::POST,
            "/api/v1/queue/add",
        )
        .token(alice)
        .json(json!({"queueName": "resume-analysis", "jobName": "a",
                         "data": {"resumeId": "r", "fileUrl": "file:///etc/passwd"}}))
        .expect(422, "invalid_fields"),
        case("traversal job id", Method::POST, "/api/v1/queue/add")
            .token(alice)
            .json(json!({"queueName": "resume-analysis", "jobName": "a",
                         "data": {"resumeId": "r", "fileUrl": "https://x.test/a.pdf"},
                         "opts": {"jobId": "../../etc/passwd"}}))
            .expect(422, "invalid_fields"),
        case("huge body", Method::POST, "/api/v1/queue/add")
            .token(alice)
            .raw(
                "application/json",
                format!(r#"{{"pad":"{}"}}"#, "x".repeat(100_000)),
            )
            .expect(413, "body_too_large"),
        case("unknown queue", Method::POST, "/api/v1/queue/add")
            .token(alice)
            .json(json!({"queueName": "nope", "jobName": "a",
                         "data": {"resumeId": "r", "fileUrl": "https://x.test/a.pdf"}}))
            .expect(404, "queue_not_found"),
        case(
            "body names another organisation",
            Method::POST,
            "/api/v1/queue/add",
        )
        .token(alice)
        .json(json!({"queueName": "resume-analysis", "jobName": "a",
                         "data": {"resumeId": "r", "fileUrl": "https://x.test/a.pdf",
                                  "organisationId": "org-2"}}))
        .expect(403, "organisation_mismatch"),
        case(
            "another organisation's job id",
            Method::POST,
            "/api/v1/queue/add",
        )
        .token(mallory)
        .json(add_body("job-a"))
        .expect(409, "job_id_taken"),
        case(
            "token without organisation adds a job",
            Method::POST,
            "/api/v1/queue/add",
        )
        .token(orgless)
        .json(add_body("job-z"))
        .expect(403, "organisation_required"),
        // Event names and bodies.
        case("truncated broadcast", Method::POST, "/api/v1/sse/broadcast")
            .token(publisher)
            .raw("application/json", r#"{"event":"a","data":"#)
            .expect(400, "invalid_json"),
        case(
            "CR/LF in an event name",
            Method::POST,
            "/api/v1/sse/broadcast",
        )
        .token(publisher)
        .json(json!({"event": "note\r\nevent: connected\r\ndata: {}", "data": {}}))
        .expect(422, "invalid_event_name"),
        case("unicode event name", Method::POST, "/api/v1/sse/broadcast")
            .token(publisher)
            .json(json!({"event": "évènement", "data": {}}))
            .expect(422, "invalid_event_name"),
        case("reserved event name", Method::POST, "/api/v1/sse/broadcast")
            .token(publisher)
            .json(json!({"event": "connected", "data": {}}))
            .expect(422, "invalid_event_name"),
        case(
            "unknown field in an event",
            Method::POST,
            "/api/v1/sse/broadcast",
        )
        .token(publisher)
        .json(json!({"event": "a", "data": {}, "id": "x\ny"}))
        .expect(422, "invalid_fields"),
        case(
            "LF in a custom event name",
            Method::POST,
            format!("/api/v1/sse/{stream}/events"),
        )
        .token(publisher)
        .json(json!({"event": "a\nb", "data": {}}))
        .expect(422, "invalid_event_name"),
        case(
            "custom event for a non-UUID",
            Method::POST,
            "/api/v1/sse/..%2F..%2Fx/events",
        )
        .token(publisher)
        .json(event.clone())
        .expect(400, "invalid_connection_id"),
        case(
            "published event not an object",
            Method::POST,
            "/api/v1/publish/job/j-1",
        )
        .token(publisher)
        .json(json!([1, 2]))
        .expect(422, "invalid_event"),
        case(
            "published event too large",
            Method::POST,
            "/api/v1/publish/job/j-1",
        )
        .token(publisher)
        .json(json!({"type": "job_update", "pad": "x".repeat(2_000)}))
        .expect(422, "invalid_event"),
        case("batch with a bad channel", Method::POST, "/api/v1/publish")
            .token(publisher)
            .json(json!({"events": [{"channel": "job:a\r\nb", "data": {}}]}))
            .expect(422, "invalid_fields"),
        case("empty batch", Method::POST, "/api/v1/publish")
            .token(publisher)
            .json(json!({"events": []}))
            .expect(422, "invalid_fields"),
        case(
            "unknown channel type",
            Method::POST,
            "/api/v1/publish/planet/mars",
        )
        .token(publisher)
        .json(json!({}))
        .expect(404, "route_not_found"),
        // Ids and names in paths and queries.
        case(
            "traversal job id",
            Method::POST,
            format!("/api/v1/sse/{stream}/subscribe/job/..%2F..%2Fetc"),
        )
        .token(alice)
        .expect(400, "invalid_name"),
        case(
            "CR/LF in a job id",
            Method::POST,
            format!("/api/v1/sse/{stream}/subscribe/job/a%0D%0Aevent:%20x"),
        )
        .token(alice)
        .expect(400, "invalid_name"),
        case(
            "unicode job id",
            Method::POST,
            format!("/api/v1/sse/{stream}/subscribe/job/%E2%9C%93"),
        )
        .token(alice)
        .expect(400, "invalid_name"),
        case(
            "job id too long",
            Method::POST,
            format!("/api/v1/sse/{stream}/subscribe/job/{}", "j".repeat(257)),
        )
        .token(alice)
        .expect(400, "invalid_name"),
        case(
            "connection id not a UUID",
            Method::POST,
            "/api/v1/sse/12345/subscribe/job/a",
        )
        .token(alice)
        .expect(400, "invalid_connection_id"),
        case(
            "unknown connection",
            Method::POST,
            format!("/api/v1/sse/{unknown}/subscribe/job/a"),
        )
        .token(alice)
        .expect(404, "connection_not_found"),
        case(
            "traversal in a job read",
            Method::GET,
            "/api/v1/jobs/..%2F..%2Fsecret",
        )
        .token(alice)
        .expect(400, "invalid_name"),
        case("unknown job", Method::GET, "/api/v1/jobs/no-such-job")
            .token(alice)
            .expect(404, "job_not_found"),
        case("unknown queue counts", Method::GET, "/api/v1/queues/nope")
            .token(monitor)
            .expect(404, "queue_not_found"),
        case(
            "LF in a job at connect",
            Method::GET,
            "/api/v1/sse/connect?jobs=a%0Ab",
        )
        .token(alice)
        .expect(400, "invalid_name"),
        case(
            "too many channels at connect",
            Method::GET,
            "/api/v1/sse/connect?jobs=a,b,c,d",
        )
        .token(alice)
        .expect(400, "too_many_channels"),
        // Authorisation.
        case("no token", Method::GET, "/api/v1/sse/stats").expect(401, "unauthorized"),
        case("no token on a stream", Method::GET, "/api/v1/sse/connect")
            .expect(401, "unauthorized"),
        case("Basic credentials", Method::GET, "/api/v1/jobs/job-a")
            .header("authorization", "Basic YWxpY2U6c2VjcmV0")
            .expect(401, "invalid_token"),
        case(
            "another organisation reads a job",
            Method::GET,
            "/api/v1/jobs/job-a",
        )
        .token(mallory)
        .expect(403, "organisation_mismatch"),
        case(
            "another organisation watches a job at connect",
            Method::GET,
            "/api/v1/sse/connect?jobs=job-a",
        )
        .token(mallory)
        .expect(403, "organisation_mismatch"),
        case(
            "someone else's connection: subscribe",
            Method::POST,
            format!("/api/v1/sse/{stream}/subscribe/job/job-a"),
        )
        .token(bob)
        .expect(403, "connection_forbidden"),
        case(
            "someone else's connection: unsubscribe",
            Method::POST,
            format!("/api/v1/sse/{stream}/unsubscribe/job/job-a"),
        )
        .token(bob)
        .expect(403, "connection_forbidden"),
        case(
            "someone else's stream resumed",
            Method::GET,
            format!("/api/v1/sse/connect?lastEventId={stream}:0"),
        )
        .token(bob)
        .expect(403, "connection_forbidden"),
        case(
            "queue channel without the role",
            Method::POST,
            format!("/api/v1/sse/{stream}/subscribe/queue/resume-analysis"),
        )
        .token(alice)
        .expect(403, "role_required"),
        case("stats without the role", Method::GET, "/api/v1/sse/stats")
            .token(alice)
            .expect(403, "role_required"),
        case(
            "broadcast without the role",
            Method::POST,
            "/api/v1/sse/broadcast",
        )
        .token(monitor)
        .json(event.clone())
        .expect(403, "role_required"),
        // Headers, methods, routes.
        case("huge header", Method::GET, "/api/v1/jobs/job-a")
            .token(alice)
            .header("x-padding", "p".repeat(20_000))
            .expect(431, "headers_too_large"),
        case("wrong method", Method::DELETE, "/api/v1/sse/stats")
            .token(monitor)
            .expect(405, "method_not_allowed"),
        case("unknown route", Method::GET, "/api/v1/../../etc/passwd")
            .expect(404, "route_not_found"),
        // Uploads.
        case(
            "upload that is not multipart",
            Method::POST,
            "/api/v1/resumes",
        )
        .token(alice)
        .json(json!({"file": "cv"}))
        .expect(400, "invalid_multipart"),
        case("upload without a file", Method::POST, "/api/v1/resumes")
            .token(alice)
            .form(vec![("resumeId", Part::Text("r-1"))])
            .expect(422, "invalid_fields"),
        case("upload too large", Method::POST, "/api/v1/resumes")
            .token(alice)
            .form(vec![("file", Part::File(vec![b'a'; 4096]))])
            .expect(413, "file_too_large"),
        case(
            "upload for another organisation",
            Method::POST,
            "/api/v1/resumes",
        )
        .token(alice)
        .form(vec![
            ("file", Part::File(b"CV".to_vec())),
            ("organisationId", Part::Text("org-2")),
        ])
        .expect(403, "organisation_mismatch"),
        case(
            "upload with a traversal job id",
            Method::POST,
            "/api/v1/resumes",
        )
        .token(alice)
        .form(vec![
            ("file", Part::File(b"CV".to_vec())),
            ("jobId", Part::Text("../x")),
        ])
        .expect(422, "invalid_fields"),
    ];
    for (name, token, code) in forged_tokens() {
        cases.push(
            case(name, Method::GET, "/api/v1/jobs/job-a")
                .token(&token)
                .expect(401, code),
        );
    }
    cases
}

async fn send(app: &TestApp, case: Case) -> reqwest::Response {
    let mut request = app.http.request(case.method, app.url(&case.path));
    if let Some(token) = &case.token {
        request = request.bearer_auth(token);
    }
    for (name, value) in case.headers {
        request = request.header(name, value);
    }
    request = match case.body {
        Body::None => request,
        Body::Json(value) => request.json(&value),
        Body::Raw(content_type, bytes) => request.header("content-type", content_type).body(bytes),
        Body::Form(parts) => {
            let mut form = reqwest::multipart::Form::new();
            for (name, part) in parts {
                form = match part {
                    Part::Text(text) => form.text(name, text),
                    Part::File(bytes) => form.part(
                        name,
                        reqwest::multipart::Part::bytes(bytes).file_name("cv.txt"),
                    ),
                };
            }
            request.multipart(form)
        }
    };
    request.send().await.expect("the gateway answers")
}

/// Every key and its serialised value (TTLs aside), except the pods' periodic counts.
fn redis_state(app: &TestApp) -> String {
    const SCRIPT: &str = "local keys = redis.call('KEYS', '*') table.sort(keys) \
        local out = {} for _, k in ipairs(keys) do if k ~= 'sse:pods' then \
        table.insert(out, k) table.insert(out, redis.call('DUMP', k)) end end return out";
    app.redis.cli(&["EVAL", SCRIPT, "0"])
}

/// Waits until background writes of earlier steps (positions flushed every 200 ms) are done.
async fn settle(app: &TestApp) {
    let mut last = redis_state(app);
    loop {
        tokio::time::sleep(Duration::from_millis(450)).await;
        let now = redis_state(app);
        if now == last {
            return;
        }
        last = now;
    }
}

async fn assert_healthy(app: &TestApp, after: &str) {
    let live = app.http.get(format!("{}/livez", app.admin)).send().await;
    assert_eq!(
        live.map(|r| r.status().as_u16()).ok(),
        Some(200),
        "alive after {after}"
    );
    assert_eq!(app.ready_status().await, 200, "ready after {after}");
}

async fn check(app: &TestApp, case: Case) {
    let (name, status, code) = (case.name, case.status, case.code);
    let before = redis_state(app);
    let response = send(app, case).await;
    let got = response.status().as_u16();
    let retry_after = response.headers().get("retry-after").cloned();
    let body: Value = response.json().await.unwrap_or_default();
    assert_eq!(
        (got, body["error"]["code"].as_str()),
        (status, Some(code)),
        "{name}: {body}"
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{name}: the error explains itself"
    );
    if status == 429 || status == 503 {
        assert!(retry_after.is_some(), "{name}: Retry-After");
    }
    assert_healthy(app, name).await;
    assert_eq!(redis_state(app), before, "{name} changed Redis");
}

async fn open(app: &TestApp, query: &str, token: &str) -> SseClient {
    app.connect_as(query, token).await.0
}

#[tokio::test]
async fn hostile_requests_get_exact_errors_and_change_nothing() {
    let app = spawn_app_with(|c| {
        jwt(c);
        c.limits.max_connections = MAX_CONNECTIONS;
        c.limits.max_streams_per_subject = STREAMS_PER_SUBJECT;
        c.limits.max_subscriptions_per_stream = SUBSCRIPTIONS;
        c.limits.rate_limit_per_second = 0.5;
        c.limits.rate_limit_burst = BURST;
        c.max_event_bytes = 1024;
        c.upload_max_bytes = 1024;
    })
    .await;
    let alice = token("alice", Some("org-1"), &[]);
    let (status, body) = app
        .post_json("/api/v1/queue/add", &add_body("job-a"), Some(&alice))
        .await;
    assert_eq!(status, 201, "{body}");
    let (_alice_stream, alice_stream) = app.connect_as("?jobs=job-a", &alice).await;
    let cast = Cast {
        alice,
        bob: token("bob", Some("org-1"), &[]),
        mallory: token("mallory", Some("org-2"), &[]),
        monitor: token("ops", Some("org-1"), &["monitor"]),
        publisher: token("backend", None, &["publisher"]),
        orgless: token("svc", None, &[]),
        alice_stream,
    };
    settle(&app).await;
    let table = cases(&cast);
    assert!(table.len() >= 60, "{} cases", table.len());
    for case in table {
        check(&app, case).await;
    }

    // Subscriptions per stream.
    let dave = token("dave", Some("org-1"), &[]);
    let (_dave_stream, dave_id) = app.connect_as("?jobs=d-1,d-2,d-3", &dave).await;
    settle(&app).await;
    check(
        &app,
        case(
            "too many subscriptions",
            Method::POST,
            format!("/api/v1/sse/{dave_id}/subscribe/job/d-4"),
        )
        .token(&dave)
        .expect(429, "too_many_subscriptions"),
    )
    .await;

    // Streams per subject (given back when a stream closes).
    let carol = token("carol", Some("org-1"), &[]);
    let first = open(&app, "", &carol).await;
    let _second = open(&app, "", &carol).await;
    settle(&app).await;
    let third = case(
        "too many streams for a subject",
        Method::GET,
        "/api/v1/sse/connect",
    )
    .token(&carol)
    .expect(429, "too_many_streams");
    check(&app, third).await;
    drop(first);
    crate::helpers::eventually("a closed stream gives its place back", || async {
        let response = app
            .http
            .get(app.url("/api/v1/sse/connect"))
            .bearer_auth(&carol)
            .send()
            .await
            .unwrap();
        response.status() == 200
    })
    .await;

    // POSTs per subject.
    let erin = token("erin", Some("org-1"), &[]);
    for n in 0..BURST {
        let (status, _) = app.post_as("/api/v1/sse/broadcast", &erin).await;
        assert_eq!(
            status, 403,
            "request {n} passes the rate limit (and lacks the role)"
        );
    }
    check(
        &app,
        case("rate limit", Method::POST, "/api/v1/sse/broadcast")
            .token(&erin)
            .json(json!({"event": "a", "data": {}}))
            .expect(429, "rate_limited"),
    )
    .await;
    assert_eq!(
        app.get_as("/api/v1/jobs/job-a", &erin).await.0,
        200,
        "GETs are not rate-limited"
    );

    // Streams per pod.
    let mut held = Vec::new();
    let mut refused = None;
    for n in 0..MAX_CONNECTIONS {
        let subject = token(&format!("user-{n}"), Some("org-1"), &[]);
        let response = app
            .http
            .get(app.url("/api/v1/sse/connect"))
            .bearer_auth(&subject)
            .send()
            .await
            .unwrap();
        if response.status() == 200 {
            held.push(response);
        } else {
            refused = Some(subject);
            break;
        }
    }
    let subject = refused.expect("the pod fills up");
    settle(&app).await;
    check(
        &app,
        case(
            "too many streams on the pod",
            Method::GET,
            "/api/v1/sse/connect",
        )
        .token(&subject)
        .expect(503, "too_many_connections"),
    )
    .await;
    assert!(held.len() < MAX_CONNECTIONS);
}

#[tokio::test]
async fn a_request_over_its_time_gets_a_json_408() {
    let app = spawn_app_with(|c| c.request_timeout = Duration::from_millis(300)).await;
    // Writes wait while Redis is paused, so the add cannot finish in time.
    app.redis.cli(&["CLIENT", "PAUSE", "2000", "WRITE"]);
    let (status, body) = app
        .post_json("/api/v1/queue/add", &add_body("slow-1"), None)
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (408, Some("request_timeout")),
        "{body}"
    );
    assert_healthy(&app, "a timed-out request").await;
}
