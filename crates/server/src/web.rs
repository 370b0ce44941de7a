//! The dashboard: the files of `web/` (plain HTML, CSS and JavaScript modules, and the vendored
//! Apache ECharts), embedded in the binary at build time and served under `/dashboard/`. No
//! Node build is involved; a test checks that every file of `web/` is embedded.

use std::collections::HashMap;
use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use sha2::{Digest, Sha256};

use crate::{Access, ApiError, ApiRouter, RouteInfo};

/// One embedded file.
struct Asset {
    path: &'static str,
    mime: &'static str,
    bytes: &'static [u8],
}

macro_rules! asset {
    ($path:literal, $mime:expr) => {
        Asset {
            path: $path,
            mime: $mime,
            bytes: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../web/", $path)),
        }
    };
}

const JS: &str = "text/javascript; charset=utf-8";
const TEXT: &str = "text/plain; charset=utf-8";

/// Every file the dashboard needs, and the licences of what it bundles.
static ASSETS: &[Asset] = &[
    asset!("index.html", "text/html; charset=utf-8"),
    asset!("style.css", "text/css; charset=utf-8"),
    asset!("app.js", JS),
    asset!("api.js", JS),
    asset!("charts.js", JS),
    asset!("dom.js", JS),
    asset!("i18n.js", JS),
    asset!("views/park.js", JS),
    asset!("views/enterprise.js", JS),
    asset!("views/advice.js", JS),
    asset!("views/outcomes.js", JS),
    asset!("vendor/README.md", "text/markdown; charset=utf-8"),
    asset!("vendor/echarts/echarts.min.js", JS),
    asset!("vendor/echarts/LICENSE", TEXT),
    asset!("vendor/echarts/NOTICE", TEXT),
    asset!("vendor/echarts/LICENSE-zrender", TEXT),
    asset!("vendor/echarts/LICENSE-d3", TEXT),
];

/// Entity tags (quoted hex SHA-256 prefix) by path, computed once.
static ETAGS: LazyLock<HashMap<&'static str, String>> = LazyLock::new(|| {
    ASSETS
        .iter()
        .map(|a| {
            let h = Sha256::digest(a.bytes);
            (a.path, format!("\"{}\"", hex::encode(&h[..12])))
        })
        .collect()
});

fn serve(path: &str, headers: &HeaderMap) -> Response {
    let Some(a) = ASSETS.iter().find(|a| a.path == path) else {
        return ApiError::not_found(format!(
            "no dashboard file {path:?}; the dashboard is at /dashboard/"
        ))
        .into_response();
    };
    let etag = ETAGS.get(a.path).cloned().unwrap_or_default();
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let mut res = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (StatusCode::OK, a.bytes).into_response()
    };
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(a.mime));
    // Revalidate every time (cheap with the ETag), so a new server version is never mixed
    // with old cached modules.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    res
}

async fn index(headers: HeaderMap) -> Response {
    serve("index.html", &headers)
}

async fn file(Path(path): Path<String>, headers: HeaderMap) -> Response {
    serve(&path, &headers)
}

/// Adds the dashboard routes to `r`: `/` and `/dashboard` redirect to `/dashboard/`, which
/// serves `index.html`; `/dashboard/{file}` serves the other files.
pub fn routes(r: ApiRouter) -> ApiRouter {
    let public = |path: &'static str, summary: &'static str, example: &'static str| RouteInfo {
        method: "GET",
        path,
        access: Access::Public,
        summary,
        example,
    };
    r.route(
        public("/", "Redirects to the dashboard", "/"),
        get(|| async { Redirect::to("/dashboard/") }),
    )
    .route(
        public("/dashboard", "Redirects to the dashboard", "/dashboard"),
        get(|| async { Redirect::to("/dashboard/") }),
    )
    .route(
        public(
            "/dashboard/",
            "The dashboard (HTML; its data comes from /api/v1 with the token entered in it)",
            "/dashboard/",
        ),
        get(index),
    )
    .route(
        public(
            "/dashboard/{*path}",
            "A dashboard file (JavaScript module, style sheet, vendored ECharts and its licences)",
            "/dashboard/app.js",
        ),
        get(file),
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn files(dir: &std::path::Path, base: &std::path::Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                files(&p, base, out);
            } else {
                out.push(
                    p.strip_prefix(base)
                        .unwrap()
                        .to_string_lossy()
                        .replace('\\', "/"),
                );
            }
        }
    }

    #[test]
    fn every_file_of_web_is_embedded_with_its_bytes() {
        let base = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../web");
        let mut on_disk = Vec::new();
        files(&base, &base, &mut on_disk);
        on_disk.sort();
        let mut embedded: Vec<String> = ASSETS.iter().map(|a| a.path.to_string()).collect();
        embedded.sort();
        assert_eq!(on_disk, embedded, "web/ and ASSETS in web.rs differ");
        for a in ASSETS {
            assert_eq!(
                a.bytes,
                std::fs::read(base.join(a.path)).unwrap(),
                "{}",
                a.path
            );
            assert_eq!(a.mime == JS, a.path.ends_with(".js"), "{}", a.path);
        }
    }

    #[test]
    fn vendored_echarts_is_the_recorded_release() {
        let a = ASSETS
            .iter()
            .find(|a| a.path == "vendor/echarts/echarts.min.js")
            .unwrap();
        let sha = hex::encode(Sha256::digest(a.bytes));
        assert_eq!(
            sha,
            "b66b25aeb4df84e33199dc21694014d336d222cbd9deb0e5a7c14bd6aa0d0fd0"
        );
        let readme = ASSETS
            .iter()
            .find(|a| a.path == "vendor/README.md")
            .unwrap();
        let readme = std::str::from_utf8(readme.bytes).unwrap();
        assert!(
            readme.contains(&sha),
            "web/vendor/README.md must record {sha}"
        );
        assert!(readme.contains("6.1.0") && readme.contains("Apache License 2.0"));
        let licence = ASSETS
            .iter()
            .find(|a| a.path == "vendor/echarts/LICENSE")
            .unwrap();
        assert!(std::str::from_utf8(licence.bytes)
            .unwrap()
            .contains("Apache License"));
        assert!(a
            .bytes
            .starts_with(b"\n/*\n* Licensed to the Apache Software Foundation"));
    }
}
