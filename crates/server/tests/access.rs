//! Access control, route by route: the table of every route the server has
//! ([`tanji_server::Server::routes`]) is walked, so a route added later is checked too.
//!
//! - an unknown or malformed token is refused (401) everywhere;
//! - without a token only public and device routes answer;
//! - an enterprise token never gets another enterprise's data: routes for all data are 403,
//!   and no answer it gets contains the other enterprise's id;
//! - an auditor reads everything but cannot use operator routes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{client, config, fixture, start, AUDITOR, ENTERPRISE_1, OPERATOR};
use tanji_server::Access;

#[tokio::test]
async fn no_route_gives_an_enterprise_another_enterprises_data() {
    let fx = fixture(3, 2);
    // Factors, so that the report-based query routes answer.
    common::publish_factors(fx.path(), 2);
    // An inputs publication named as the footprint route's example names it.
    common::publish_footprint_inputs(&fx, 2, "NAME");
    let srv = start(fx.path(), config(&fx)).await;
    let http = client();
    // Log some uploads of every enterprise.
    let body = format!(
        "[{}]",
        (0..fx.uploads.len())
            .map(|i| fx.json(i))
            .collect::<Vec<_>>()
            .join(",")
    );
    let res = http
        .post(srv.at("/api/v1/uploads"))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    let own = fx.enterprise(0);
    let other = fx.enterprise(1);
    let other_device = fx.sim.devices[1].device.clone();
    assert!(srv.routes.len() >= 9);
    for route in &srv.routes {
        if route.access == Access::Admin {
            // The deployment's routes: tests/parks.rs.
            continue;
        }
        if route.method != "GET" {
            // Writes: the device upload route needs no token; every other write is the
            // operator's, refused to everyone else before its body is read.
            if route.access != Access::Device {
                assert_eq!(route.access, Access::Operator, "{route:?}");
                for (token, status) in [
                    (None, 401),
                    (Some("tanji_not_a_token"), 401),
                    (Some(AUDITOR), 403),
                    (Some(ENTERPRISE_1), 403),
                ] {
                    let mut req = http.post(srv.at(route.example)).body("{}");
                    if let Some(t) = token {
                        req = req.bearer_auth(t);
                    }
                    let res = req.send().await.unwrap();
                    assert_eq!(res.status(), status, "{} with {token:?}", route.path);
                    let body: serde_json::Value = res.json().await.unwrap();
                    assert!(body["message"].is_string(), "{}: {body}", route.path);
                }
            }
            continue;
        }
        let url = srv.at(&route
            .example
            .replace("{enterprise}", &other)
            .replace("{other}", &other));
        let own_url = srv.at(&route
            .example
            .replace("{enterprise}", &own)
            .replace("{other}", &other));
        let get = |token: Option<&str>, url: &str| {
            let mut req = http.get(url);
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            req.send()
        };

        // An unknown token and a malformed header are refused everywhere.
        let res = get(Some("tanji_not_a_token"), &url).await.unwrap();
        assert_eq!(res.status(), 401, "{} with an unknown token", route.path);
        let res = http
            .get(&url)
            .header("authorization", "Basic abc")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401, "{} with a Basic header", route.path);

        // Anonymous: public routes only.
        let res = get(None, &url).await.unwrap();
        match route.access {
            Access::Public | Access::Device => {
                assert!(
                    res.status().is_success(),
                    "{} anonymous: {}",
                    route.path,
                    res.status()
                )
            }
            _ => assert_eq!(res.status(), 401, "{} anonymous", route.path),
        }

        // The operator reaches every route.
        let res = get(Some(OPERATOR), &url).await.unwrap();
        assert!(
            res.status().is_success(),
            "{} as operator: {}",
            route.path,
            res.status()
        );

        // The auditor reads everything except operator routes.
        let res = get(Some(AUDITOR), &url).await.unwrap();
        if route.access == Access::Operator {
            assert_eq!(res.status(), 403, "{} as auditor", route.path);
        } else {
            assert!(
                res.status().is_success(),
                "{} as auditor: {}",
                route.path,
                res.status()
            );
        }

        // Enterprise 1 asking for enterprise 2's data.
        let res = get(Some(ENTERPRISE_1), &url).await.unwrap();
        let status = res.status();
        let body = res.bytes().await.unwrap();
        let leaks = |needle: &str| body.windows(needle.len()).any(|w| w == needle.as_bytes());
        match route.access {
            Access::AllData | Access::Operator => {
                assert_eq!(status, 403, "{} as another enterprise", route.path)
            }
            _ => {
                if status.is_success() {
                    assert!(
                        !leaks(&other) && !leaks(&other_device),
                        "{} as enterprise {own} shows {other}'s data",
                        route.path
                    );
                } else {
                    assert!(
                        status == 403 || status == 404,
                        "{} as another enterprise: {status}",
                        route.path
                    );
                }
            }
        }
        // … and for its own data, enterprise routes answer.
        if route.access == Access::Enterprise {
            let res = get(Some(ENTERPRISE_1), &own_url).await.unwrap();
            assert!(
                res.status().is_success(),
                "{} for its own enterprise: {}",
                route.path,
                res.status()
            );
        }
    }
    srv.stop().await;
}

#[tokio::test]
async fn token_roles_parse_and_new_tokens_authenticate() {
    use tanji_server::{Role, Tokens};
    assert_eq!(Role::parse("operator").unwrap(), Role::Operator);
    assert_eq!(Role::parse("auditor").unwrap(), Role::Auditor);
    assert_eq!(
        Role::parse("enterprise:e-0007").unwrap(),
        Role::Enterprise("e-0007".into())
    );
    for bad in ["", "root", "enterprise:", "enterprise: x", "Operator"] {
        assert!(Role::parse(bad)
            .unwrap_err()
            .contains("operator, auditor or enterprise:<id>"));
    }
    let (token, hash) = tanji_server::auth::new_token();
    assert!(token.starts_with("tanji_") && token.len() == 6 + 43);
    let cfg = tanji_server::Config::parse(
        &format!("[[tokens]]\nsha256 = \"{hash}\"\nrole = \"enterprise:e-0007\"\n"),
        "t",
    )
    .unwrap();
    let tokens = Tokens::from_config(&cfg.tokens).unwrap();
    let header = format!("Bearer {token}");
    let caller = tokens.caller(Some(header.as_bytes())).unwrap();
    assert!(caller.may_read_enterprise("e-0007"));
    assert!(!caller.may_read_enterprise("e-0008"));
    assert!(!caller.may_read_all());
    assert!(tokens.caller(Some(b"Bearer tanji_other")).is_err());
    assert!(!tokens.caller(None).unwrap().is_authenticated());
    // A config with a bad role or hash is refused by name.
    let err = tanji_server::Config::parse(
        "[[tokens]]\nsha256 = \"00\"\nrole = \"operator\"\n",
        "c.toml",
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("c.toml") && err.contains("tokens[0].sha256"),
        "{err}"
    );
    let err = tanji_server::Config::parse(
        &format!("[[tokens]]\nsha256 = \"{hash}\"\nrole = \"superuser\"\n"),
        "c.toml",
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("tokens[0].role"), "{err}");
    let err = tanji_server::Config::parse("[batch]\nwindow = 3\n", "c.toml")
        .unwrap_err()
        .to_string();
    assert!(err.contains("window"), "{err}");
}

/// A token for an enterprise that is not (or no longer, or not yet) registered gets a plain
/// "not found" on every route about its enterprise: the message never lists the enterprises
/// that are registered, nor their devices or meters, since the token may read none of them.
#[tokio::test]
async fn an_unregistered_enterprise_token_sees_no_enterprise_id_in_errors() {
    let fx = fixture(3, 1);
    common::publish_factors(fx.path(), 1);
    let mut cfg = config(&fx);
    let stranger_token = "tanji_test_unregistered_enterprise";
    let stranger = "e-not-registered";
    cfg.tokens.push(tanji_server::config::TokenConfig {
        name: Some("stranger".into()),
        sha256: hex::encode(tanji_server::auth::token_hash(stranger_token)),
        role: format!("enterprise:{stranger}"),
        park: None,
    });
    let srv = start(fx.path(), cfg).await;
    common::post_uploads(&srv, &fx, 0..fx.uploads.len()).await;
    let http = client();

    let secrets: Vec<String> = (0..3)
        .map(|i| fx.enterprise(i))
        .chain(fx.sim.devices.iter().map(|d| d.device.clone()))
        .collect();
    let mut checked = 0;
    for route in &srv.routes {
        if route.method != "GET" || route.access != Access::Enterprise {
            continue;
        }
        let url = srv.at(&route
            .example
            .replace("{enterprise}", stranger)
            .replace("{other}", stranger));
        let res = http
            .get(&url)
            .bearer_auth(stranger_token)
            .send()
            .await
            .unwrap();
        let status = res.status();
        let body = res.text().await.unwrap();
        assert!(
            status == 404 || status == 403 || status.is_success(),
            "{} as an unregistered enterprise: {status} {body}",
            route.path
        );
        for secret in &secrets {
            assert!(
                !body.contains(secret.as_str()),
                "{} as an unregistered enterprise shows {secret:?}: {body}",
                route.path
            );
        }
        checked += 1;
    }
    assert!(checked >= 4, "only {checked} enterprise routes");
    srv.stop().await;
}
