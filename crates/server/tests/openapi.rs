//! `/openapi.json` documents exactly the routes the server has.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;

use common::{client, config, fixture, start};
use serde_json::Value;

#[tokio::test]
async fn the_openapi_document_lists_every_route_and_no_other() {
    let fx = fixture(2, 1);
    let srv = start(fx.path(), config(&fx)).await;
    let served: Value = client()
        .get(srv.at("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let doc: Value = serde_json::from_str(tanji_server::OPENAPI).unwrap();
    assert_eq!(served, doc);
    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, ops)| {
            ops.as_object()
                .unwrap()
                .keys()
                .map(move |m| (m.to_uppercase(), path.clone()))
        })
        .collect();
    // axum's catch-all `{*rest}` is OpenAPI's `{rest}`.
    let routed: BTreeSet<(String, String)> = srv
        .routes
        .iter()
        .map(|r| (r.method.to_string(), r.path.replace("{*", "{")))
        .collect();
    assert_eq!(srv.routes.len(), routed.len(), "a route is declared twice");
    let missing: Vec<_> = routed.difference(&documented).collect();
    let extra: Vec<_> = documented.difference(&routed).collect();
    assert!(
        missing.is_empty(),
        "routes missing from openapi.json: {missing:?}"
    );
    assert!(
        extra.is_empty(),
        "openapi.json documents routes the server lacks: {extra:?}"
    );
    srv.stop().await;
}
