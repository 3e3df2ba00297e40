//! `GET /api/v1/openapi.json`: the OpenAPI 3.1 document of the whole HTTP API, generated at
//! build time from the handlers' annotations and the shapes in `routes/schema.rs` and
//! `routes/jobs/body.rs`.

use axum::Json;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{RefOr, Response, ResponseBuilder, content::ContentBuilder};
use utoipa::{Modify, OpenApi};

use super::schema;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "resume-progress gateway",
        description = "Live job progress over Server-Sent Events, job submission and publishing. See docs/api.md.",
        license(name = "Apache-2.0")
    ),
    paths(
        super::stream::connect,
        super::subscriptions::subscribe,
        super::subscriptions::unsubscribe,
        super::stats::stats,
        super::stats::channels,
        super::publish::broadcast,
        super::publish::send_to_connection,
        super::publish::publish_one,
        super::publish::publish_batch,
        super::jobs::add,
        super::jobs::upload,
        super::jobs::get,
        super::jobs::result,
        super::jobs::counts,
        super::jobs::workers,
        super::jobs::listing::list,
        super::jobs::control::cancel,
        super::jobs::control::retry,
        super::jobs::control::pause,
        super::jobs::control::resume,
        super::jobs::dead::list,
        super::jobs::dead::retry,
        super::jobs::dead::delete,
        document,
    ),
    components(schemas(schema::ErrorBody, schema::ChannelType)),
    modifiers(&Security, &Errors),
    tags(
        (name = "streams", description = "SSE streams and their subscriptions"),
        (name = "publishing", description = "Broadcasts, custom events, events with history"),
        (name = "jobs", description = "Job submission and state"),
        (name = "monitoring", description = "Counts and channels"),
    )
)]
pub struct ApiDoc;

/// The three places a token may come from (none of them with `AUTH_MODE=none`).
struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
        components.add_security_scheme(
            "access_token",
            SecurityScheme::ApiKey(ApiKey::Query(ApiKeyValue::new("access_token"))),
        );
        components.add_security_scheme(
            "cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new("access_token"))),
        );
        openapi.security = Some(
            ["bearer", "access_token", "cookie"]
                .into_iter()
                .map(|name| {
                    utoipa::openapi::security::SecurityRequirement::new(name, Vec::<String>::new())
                })
                .chain([utoipa::openapi::security::SecurityRequirement::default()])
                .collect(),
        );
    }
}

/// Every operation can answer with the JSON error body: 4xx for the caller's mistakes and
/// limits, 503 while draining, over the stream limit or without Redis.
struct Errors;

impl Modify for Errors {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let error = |description: &str| -> RefOr<Response> {
            RefOr::T(
                ResponseBuilder::new()
                    .description(description)
                    .content(
                        "application/json",
                        ContentBuilder::new()
                            .schema(Some(utoipa::openapi::Ref::from_schema_name("ErrorBody")))
                            .build(),
                    )
                    .build(),
            )
        };
        for item in openapi.paths.paths.values_mut() {
            for operation in [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.delete,
                &mut item.patch,
            ]
            .into_iter()
            .flatten()
            {
                let responses = &mut operation.responses.responses;
                responses.entry("4XX".to_owned()).or_insert_with(|| {
                    error("invalid request, missing rights or a limit reached (see `error.code`)")
                });
                responses
                    .entry("503".to_owned())
                    .or_insert_with(|| error("draining, too many streams on this pod, or Redis unavailable; retry after `Retry-After`"));
            }
        }
    }
}

/// This document.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "monitoring",
    security(()),
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json", body = Object))
)]
pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
