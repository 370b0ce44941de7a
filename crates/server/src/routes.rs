//! The table of routes: every route is added through [`ApiRouter`] with its [`Access`], so
//! the list of routes, what each one allows, the OpenAPI document and the access tests cannot
//! drift apart (`tests/access.rs` walks [`crate::Server::routes`]; `tests/openapi.rs` compares
//! it with `openapi.json`).

use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::MethodRouter;
use axum::Router;

use crate::{ApiError, AppState, Caller};

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, without a token: nothing meter-specific is revealed.
    Public,
    /// Devices, without a token: the records are signed and checked.
    Device,
    /// Operators and auditors: the route reveals every enterprise's data.
    AllData,
    /// Any valid token; the handler shows an enterprise token only its own enterprise's data
    /// (the enterprise is named in the path or query, or results are filtered).
    Enterprise,
    /// Operators only (changes the park's configuration or state).
    Operator,
    /// A deployment's admins only (creates and lists parks).
    Admin,
}

impl Access {
    /// Checks `caller` against this access; the handler does the per-enterprise checks.
    pub fn check(self, caller: &Caller) -> Result<(), ApiError> {
        match self {
            Access::Public | Access::Device => Ok(()),
            _ if !caller.is_authenticated() => Err(ApiError::unauthorized(
                "this route needs a token: send `Authorization: Bearer <token>`",
            )),
            Access::Enterprise => Ok(()),
            Access::AllData if caller.may_read_all() => Ok(()),
            Access::AllData => Err(ApiError::forbidden(
                "this route shows every enterprise's data; it needs an operator or auditor token",
            )),
            Access::Operator if caller.is_operator() => Ok(()),
            Access::Operator => Err(ApiError::forbidden("this route needs an operator token")),
            Access::Admin if caller.is_admin() => Ok(()),
            Access::Admin => Err(ApiError::forbidden(
                "this route needs an admin token (the deployment's, not a park's)",
            )),
        }
    }
}

/// One route: method, axum path pattern, access and a sentence for the API documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteInfo {
    /// `GET`, `POST`, …
    pub method: &'static str,
    /// The axum path pattern, e.g. `/tile/{level}/{*rest}`.
    pub path: &'static str,
    /// Who may call it.
    pub access: Access,
    /// What it does.
    pub summary: &'static str,
    /// A concrete URL (path and query) the access tests call; `{enterprise}` is replaced with
    /// an enterprise id and `{other}` with another enterprise's id.
    pub example: &'static str,
}

/// An axum router that records every route it is given.
#[derive(Debug)]
pub struct ApiRouter {
    router: Router<AppState>,
    routes: Vec<RouteInfo>,
}

impl Default for ApiRouter {
    fn default() -> Self {
        ApiRouter {
            router: Router::new(),
            routes: Vec::new(),
        }
    }
}

async fn enforce(access: Access, req: Request, next: Next) -> Result<Response, ApiError> {
    let caller = req
        .extensions()
        .get::<Caller>()
        .ok_or_else(|| ApiError::internal("the route is not behind the authentication layer"))?;
    access.check(caller)?;
    Ok(next.run(req).await)
}

impl ApiRouter {
    /// Adds `handler` (one method's router, e.g. `get(f)`) for `info`, behind `info.access`.
    pub fn route(mut self, info: RouteInfo, handler: MethodRouter<AppState>) -> Self {
        let access = info.access;
        let handler = handler.route_layer(middleware::from_fn(move |req, next| {
            enforce(access, req, next)
        }));
        self.router = self.router.route(info.path, handler);
        self.routes.push(info);
        self
    }

    /// Every route added, in order.
    pub fn routes(&self) -> &[RouteInfo] {
        &self.routes
    }

    /// The routes and the axum router.
    pub fn into_parts(self) -> (Router<AppState>, Vec<RouteInfo>) {
        (self.router, self.routes)
    }
}
