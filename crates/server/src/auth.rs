//! Access control: bearer tokens with roles.
//!
//! A request may carry `Authorization: Bearer <token>`. The server knows tokens only by their
//! SHA-256 (the `[[tokens]]` of the config), each with a [`Role`]:
//!
//! - `operator`: everything, including writes;
//! - `auditor`: reads everything, writes nothing;
//! - `enterprise:<id>`: reads its own enterprise's data only;
//! - `admin`: the operator of operators of a deployment of many parks: creates and lists
//!   parks (`/parks`) and nothing inside any park ([`crate::parks`]).
//!
//! A token belongs to one park: a token of park A is unknown (401) on every route of park B.
//!
//! Devices carry no token: their records are signed, and the signature is the authentication.
//! A request without a token is anonymous and sees only public routes (the checkpoint, hash
//! tiles, proofs — none of which reveal meter data) and the upload route. An unknown token is
//! refused with 401 on every route, so a typo never silently downgrades a caller to anonymous.
//!
//! Every route declares its [`crate::routes::Access`]; [`authenticate`] runs before every
//! route and puts the [`Caller`] into the request, and a per-route layer enforces the route's
//! access. Routes about one enterprise check [`Caller::may_read_enterprise`] themselves.

use std::collections::HashMap;

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;
use rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha256};

use crate::config::TokenConfig;
use crate::{ApiError, AppState};

/// What a token allows.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Role {
    /// Everything.
    Operator,
    /// Read-only, everything.
    Auditor,
    /// Read-only, one enterprise's data.
    Enterprise(String),
    /// Creates and lists the parks of a deployment; nothing inside a park.
    Admin,
}

impl Role {
    /// Parses `operator`, `auditor` or `enterprise:<id>`.
    pub fn parse(s: &str) -> Result<Role, String> {
        match s {
            "operator" => Ok(Role::Operator),
            "auditor" => Ok(Role::Auditor),
            "admin" => Ok(Role::Admin),
            _ => match s.strip_prefix("enterprise:") {
                Some(id) if !id.is_empty() && !id.contains(char::is_whitespace) => {
                    Ok(Role::Enterprise(id.to_string()))
                }
                _ => Err(format!(
                    "role {s:?}: use operator, auditor or enterprise:<id> (e.g. enterprise:e-0001) for a park, admin for a deployment"
                )),
            },
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Role::Operator => f.write_str("operator"),
            Role::Auditor => f.write_str("auditor"),
            Role::Enterprise(id) => write!(f, "enterprise:{id}"),
            Role::Admin => f.write_str("admin"),
        }
    }
}

/// Who is asking: a token's role and name, or nobody (a device or the public).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Caller {
    /// The token's role; `None` for a request without a token.
    pub role: Option<Role>,
    /// The token's configured name, for logs.
    pub name: Option<String>,
    /// The token's id: the first 16 hex digits of its SHA-256 (what per-caller limits count
    /// by); `None` without a token.
    pub id: Option<String>,
}

impl Caller {
    /// Whether the caller may read data of enterprise `id`: operators and auditors may read
    /// every enterprise, an enterprise token only its own, anonymous callers none.
    pub fn may_read_enterprise(&self, id: &str) -> bool {
        match &self.role {
            Some(Role::Operator | Role::Auditor) => true,
            Some(Role::Enterprise(own)) => own == id,
            Some(Role::Admin) | None => false,
        }
    }

    /// Whether the caller may read every enterprise's data (operator or auditor).
    pub fn may_read_all(&self) -> bool {
        matches!(self.role, Some(Role::Operator | Role::Auditor))
    }

    /// Whether the caller is an operator.
    pub fn is_operator(&self) -> bool {
        matches!(self.role, Some(Role::Operator))
    }

    /// Whether the caller is a deployment's admin.
    pub fn is_admin(&self) -> bool {
        matches!(self.role, Some(Role::Admin))
    }

    /// Whether the caller presented a valid token.
    pub fn is_authenticated(&self) -> bool {
        self.role.is_some()
    }

    /// The enterprise of an enterprise token.
    pub fn enterprise(&self) -> Option<&str> {
        match &self.role {
            Some(Role::Enterprise(id)) => Some(id),
            _ => None,
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Caller>()
            .cloned()
            .ok_or_else(|| ApiError::internal("the route is not behind the authentication layer"))
    }
}

/// The configured tokens, by SHA-256.
#[derive(Debug, Clone, Default)]
pub struct Tokens {
    by_hash: HashMap<[u8; 32], (Role, Option<String>)>,
}

/// Parses a token hash: 64 hex digits.
pub fn parse_token_hash(s: &str) -> Result<[u8; 32], String> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(s.trim(), &mut out)
        .map_err(|_| format!("{s:?} is not 64 hex digits (the SHA-256 of a token)"))?;
    Ok(out)
}

/// The SHA-256 of a token, as the config stores it.
pub fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// A fresh random token (`tanji_` and 43 base64url characters, 256 bits) and its SHA-256 in hex.
pub fn new_token() -> (String, String) {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    let token = format!(
        "tanji_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    );
    let hash = hex::encode(token_hash(&token));
    (token, hash)
}

impl Tokens {
    /// The tokens of the config (already checked by [`crate::Config::check`]).
    pub fn from_config(tokens: &[TokenConfig]) -> Result<Tokens, String> {
        Self::select(tokens, |_| true)
    }

    /// The tokens of park `park`: every configured token that is not an admin's and names
    /// this park or none (`park = "…"` of `[[tokens]]`).
    pub fn of_park(tokens: &[TokenConfig], park: &str) -> Result<Tokens, String> {
        Self::select(tokens, |t| {
            t.role != "admin" && t.park.as_deref().is_none_or(|p| p == park)
        })
    }

    /// The admin tokens of the config.
    pub fn admins(tokens: &[TokenConfig]) -> Result<Tokens, String> {
        Self::select(tokens, |t| t.role == "admin")
    }

    fn select(
        tokens: &[TokenConfig],
        keep: impl Fn(&TokenConfig) -> bool,
    ) -> Result<Tokens, String> {
        let mut by_hash = HashMap::new();
        for (i, t) in tokens.iter().enumerate().filter(|(_, t)| keep(t)) {
            let hash = parse_token_hash(&t.sha256).map_err(|m| format!("tokens[{i}]: {m}"))?;
            let role = Role::parse(&t.role).map_err(|m| format!("tokens[{i}]: {m}"))?;
            if by_hash.insert(hash, (role, t.name.clone())).is_some() {
                return Err(format!(
                    "tokens[{i}]: the same token hash is configured twice"
                ));
            }
        }
        Ok(Tokens { by_hash })
    }

    /// Adds a token (by its clear text), e.g. for tests and the load test.
    pub fn insert(&mut self, token: &str, role: Role, name: Option<String>) {
        self.by_hash.insert(token_hash(token), (role, name));
    }

    /// The caller a request's `Authorization` header value makes.
    pub fn caller(&self, authorization: Option<&[u8]>) -> Result<Caller, ApiError> {
        let Some(value) = authorization else {
            return Ok(Caller::default());
        };
        // The scheme is case-insensitive (RFC 9110 §11.1): `Bearer`, `bearer`, `BEARER`.
        let token = std::str::from_utf8(value)
            .ok()
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                ApiError::unauthorized(
                    "the Authorization header must be `Bearer <token>`; devices send no token",
                )
            })?;
        let hash = token_hash(token);
        match self.by_hash.get(&hash) {
            Some((role, name)) => Ok(Caller {
                role: Some(role.clone()),
                name: name.clone(),
                id: Some(hex::encode(&hash[..8])),
            }),
            None => Err(ApiError::unauthorized(
                "unknown token; ask the park operator for one (`tanji token new`)",
            )),
        }
    }
}

/// Middleware run before every route: resolves the bearer token into a [`Caller`] (401 for an
/// unknown or malformed token) and stores it in the request's extensions.
pub async fn authenticate(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let header = req
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .map(|v| v.as_bytes());
    let caller = state.tokens().caller(header)?;
    req.extensions_mut().insert(caller);
    Ok(next.run(req).await)
}
