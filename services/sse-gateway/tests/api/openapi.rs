//! `GET /api/v1/openapi.json` documents every route of the router, needs no token, and is
//! OpenAPI 3.1.

use crate::helpers::spawn_app;
use crate::tokens::spawn_jwt_app;

const ROUTES: [(&str, &str); 24] = [
    ("get", "/api/v1/sse/connect"),
    ("get", "/api/v1/sse/stats"),
    ("get", "/api/v1/sse/channels"),
    ("post", "/api/v1/sse/broadcast"),
    ("post", "/api/v1/sse/{connectionId}/events"),
    ("post", "/api/v1/sse/{connectionId}/subscribe/{kind}/{id}"),
    ("post", "/api/v1/sse/{connectionId}/unsubscribe/{kind}/{id}"),
    ("post", "/api/v1/publish"),
    ("post", "/api/v1/publish/{kind}/{id}"),
    ("post", "/api/v1/queue/add"),
    ("post", "/api/v1/resumes"),
    ("get", "/api/v1/jobs/{jobId}"),
    ("get", "/api/v1/jobs/{jobId}/result"),
    ("get", "/api/v1/queues/{queueName}"),
    ("get", "/api/v1/workers"),
    ("get", "/api/v1/openapi.json"),
    ("get", "/api/v1/jobs"),
    ("delete", "/api/v1/jobs/{jobId}"),
    ("post", "/api/v1/jobs/{jobId}/retry"),
    ("post", "/api/v1/queues/{queueName}/pause"),
    ("post", "/api/v1/queues/{queueName}/resume"),
    ("get", "/api/v1/queues/{queueName}/dead"),
    ("post", "/api/v1/queues/{queueName}/dead/retry"),
    ("delete", "/api/v1/queues/{queueName}/dead/{jobId}"),
];

#[tokio::test]
async fn the_document_covers_every_route_and_needs_no_token() {
    let app = spawn_jwt_app().await;
    let (status, doc) = app.get_json("/api/v1/openapi.json").await;
    assert_eq!(status, 200);
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    let paths = doc["paths"].as_object().unwrap();
    for (method, path) in ROUTES {
        let operation = &paths[path][method];
        assert!(operation.is_object(), "{method} {path} is documented");
        assert!(
            operation["responses"]["4XX"].is_object(),
            "{method} {path} documents its errors"
        );
    }
    let distinct: std::collections::BTreeSet<&str> = ROUTES.iter().map(|(_, path)| *path).collect();
    assert_eq!(paths.len(), distinct.len(), "no undocumented extra path");
    let schemes = doc["components"]["securitySchemes"].as_object().unwrap();
    assert!(schemes.contains_key("bearer") && schemes.contains_key("access_token"));
    let mut refs = Vec::new();
    collect_refs(&doc, &mut refs);
    for reference in refs {
        let name = reference.trim_start_matches("#/components/schemas/");
        assert!(
            doc["components"]["schemas"][name].is_object(),
            "{reference} resolves"
        );
    }
    let none = spawn_app().await;
    assert_eq!(none.get_json("/api/v1/openapi.json").await.1, doc);
}

fn collect_refs(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, value) in map {
                match (key.as_str(), value.as_str()) {
                    ("$ref", Some(reference)) => out.push(reference.to_owned()),
                    _ => collect_refs(value, out),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}
