//! `GET /`: the demo page (`docs/sse-test.html`, embedded in the binary): upload a résumé
//! and watch it being analysed live.

use axum::response::Html;

static PAGE: &str = include_str!("../../../../docs/sse-test.html");

pub async fn page() -> Html<&'static str> {
    Html(PAGE)
}
