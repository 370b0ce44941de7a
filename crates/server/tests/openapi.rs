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

/// Follows a local `$ref` (`#/components/...`) to what it names.
fn resolve<'a>(doc: &'a Value, v: &'a Value) -> &'a Value {
    match v.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let target = doc
                .pointer(r.trim_start_matches('#'))
                .unwrap_or_else(|| panic!("$ref {r} names nothing in openapi.json"));
            resolve(doc, target)
        }
        None => v,
    }
}

/// The document's own consistency, beyond what the OpenAPI 3.1 schema can say (the schema is
/// checked by `scripts/schemathesis.sh` with openapi-spec-validator): every path template
/// variable is a declared path parameter and every path parameter is in the template, every
/// error answer is the JSON error body, operation ids are unique, and each operation's security
/// says what its route's access is.
#[test]
fn the_openapi_document_is_consistent_with_itself_and_the_access_table() {
    let doc: Value = serde_json::from_str(tanji_server::OPENAPI).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let mut ids = BTreeSet::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        let template: BTreeSet<String> = path
            .split('/')
            .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
            .map(str::to_string)
            .collect();
        for (method, op) in ops.as_object().unwrap() {
            let at = format!("{} {path}", method.to_uppercase());
            let id = op["operationId"]
                .as_str()
                .unwrap_or_else(|| panic!("{at}: no operationId"));
            assert!(ids.insert(id.to_string()), "{at}: operationId {id} twice");
            let declared: BTreeSet<String> = op
                .get("parameters")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|p| resolve(&doc, p))
                .filter(|p| p["in"] == "path")
                .map(|p| p["name"].as_str().unwrap().to_string())
                .collect();
            assert_eq!(declared, template, "{at}: path parameters");
            for (status, answer) in op["responses"].as_object().unwrap() {
                let code: u16 = status.parse().unwrap();
                let answer = resolve(&doc, answer);
                if code >= 400 {
                    assert_eq!(
                        answer["content"]["application/json"]["schema"]["$ref"],
                        "#/components/schemas/Error",
                        "{at}: {status} is not the JSON error body"
                    );
                } else {
                    assert!(
                        answer.get("content").is_some() || code == 303 || code == 304,
                        "{at}: {status} has no content type"
                    );
                }
            }
            assert!(op["responses"].get("401").is_some(), "{at}: 401 not listed");
        }
    }
}

#[tokio::test]
async fn each_route_s_security_in_the_document_is_its_access() {
    use tanji_server::Access;
    let fx = fixture(2, 1);
    let srv = start(fx.path(), config(&fx)).await;
    let doc: Value = serde_json::from_str(tanji_server::OPENAPI).unwrap();
    for r in &srv.routes {
        let op = &doc["paths"][r.path.replace("{*", "{")][r.method.to_lowercase()];
        let roles: Vec<String> = op["security"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|req| match req.get("bearer") {
                Some(scopes) => scopes
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|s| s.as_str().unwrap().to_string())
                    .collect(),
                None => vec!["anyone".to_string()],
            })
            .collect();
        let want: &[&str] = match r.access {
            Access::Public | Access::Device => &["anyone"],
            Access::AllData => &["operator", "auditor"],
            Access::Enterprise => &["operator", "auditor", "enterprise"],
            Access::Operator => &["operator"],
            Access::Admin => &["admin"],
        };
        assert_eq!(roles, want, "{} {}: security", r.method, r.path);
    }
    srv.stop().await;
}
