//! Limits on what one caller can make the server do (`docs/api.md`, "Limits"):
//!
//! - [`check_period`]: the longest report period by role (`reports.enterprise_max_days`,
//!   `reports.max_days`);
//! - [`BuildQueue`]: report builds waiting or running, per caller (429) and in all (503);
//! - [`Refusals`]: a peer whose uploads keep being refused is slowed (429) for the rest of the
//!   window.
//!
//! Every refusal is an [`ApiError`] (the JSON error body) with `Retry-After` computed from what
//! the server measured: the mean report build time, or what is left of the refusal window.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::StatusCode;

use tanji_units::time::{rfc3339, DAY_S};

use crate::config::ReportsConfig;
use crate::{ApiError, Caller};

/// Refuses (400 `period_too_long`) a report period longer than `caller`'s role may ask for:
/// `reports.max_days` for operators and auditors, `reports.enterprise_max_days` for
/// enterprise tokens. `None` (all data of the scope) is bounded by the data itself.
pub fn check_period(
    caller: &Caller,
    period: Option<(i64, i64)>,
    limits: &ReportsConfig,
) -> Result<(), ApiError> {
    let Some((start, end)) = period else {
        return Ok(());
    };
    let (max_days, setting, who) = if caller.may_read_all() {
        (
            limits.max_days,
            "reports.max_days",
            "an operator or auditor",
        )
    } else {
        (
            limits.enterprise_max_days,
            "reports.enterprise_max_days",
            "an enterprise token",
        )
    };
    let seconds = end.saturating_sub(start);
    if seconds <= i64::from(max_days) * DAY_S {
        return Ok(());
    }
    let days = (seconds + DAY_S - 1) / DAY_S;
    Err(ApiError::new(
        StatusCode::BAD_REQUEST,
        "period_too_long",
        format!(
            "the period from {} to {} spans {days} days; {who} may ask for at most {max_days} days ({setting}): ask for a shorter period, e.g. one year at a time",
            rfc3339(start),
            rfc3339(end),
        ),
    ))
}

#[derive(Debug, Default)]
struct Counts {
    total: usize,
    by_caller: HashMap<String, usize>,
    /// Mean build time so far (seconds) and how many builds it is over.
    mean_s: f64,
    builds: u64,
}

/// Report builds waiting or running, counted per caller and in all.
#[derive(Debug, Default, Clone)]
pub struct BuildQueue {
    counts: Arc<Mutex<Counts>>,
}

/// A place in the [`BuildQueue`]; given back when dropped.
#[derive(Debug)]
pub struct BuildPermit {
    counts: Arc<Mutex<Counts>>,
    caller: String,
    started: Instant,
}

impl BuildQueue {
    /// A place for one build for `caller`, or 429 (the caller has `builds_per_caller` builds
    /// waiting or running) or 503 (`builds_total` in all), each with `Retry-After` from the
    /// mean build time measured so far.
    pub fn enter(&self, caller: &Caller, limits: &ReportsConfig) -> Result<BuildPermit, ApiError> {
        let key = caller_key(caller);
        let mut c = self
            .counts
            .lock()
            .map_err(|_| ApiError::internal("the report queue lock is poisoned"))?;
        let mine = c.by_caller.get(&key).copied().unwrap_or(0);
        let retry = |ahead: usize| {
            // The builds ahead, at the mean time of one (1 s before any was measured).
            let mean = if c.builds == 0 { 1.0 } else { c.mean_s };
            (mean * ahead as f64).ceil().max(1.0) as u64
        };
        if mine >= limits.builds_per_caller {
            return Err(ApiError::too_many_requests(
                retry(mine),
                format!(
                    "{} has {mine} report builds waiting or running, the most one caller may have (reports.builds_per_caller); retry when one is done",
                    who(caller)
                ),
            ));
        }
        if c.total >= limits.builds_total {
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                format!(
                    "{} report builds are waiting or running, the most the server takes (reports.builds_total); retry shortly",
                    c.total
                ),
            )
            .retry_after(retry(c.total)));
        }
        c.total += 1;
        *c.by_caller.entry(key.clone()).or_default() += 1;
        Ok(BuildPermit {
            counts: Arc::clone(&self.counts),
            caller: key,
            started: Instant::now(),
        })
    }
}

impl BuildPermit {
    /// Whose build this is (a token's id, or a role): the background thread takes builds in
    /// turn by it.
    pub fn owner(&self) -> &str {
        &self.caller
    }
}

impl Drop for BuildPermit {
    fn drop(&mut self) {
        let took = self.started.elapsed().as_secs_f64();
        if let Ok(mut c) = self.counts.lock() {
            c.total = c.total.saturating_sub(1);
            if let Some(n) = c.by_caller.get_mut(&self.caller) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    c.by_caller.remove(&self.caller);
                }
            }
            c.builds += 1;
            c.mean_s += (took - c.mean_s) / c.builds as f64;
        }
    }
}

/// What per-caller limits count by: the token (its id), else the role.
fn caller_key(caller: &Caller) -> String {
    match (&caller.id, &caller.role) {
        (Some(id), _) => id.clone(),
        (None, Some(role)) => role.to_string(),
        (None, None) => "anonymous".into(),
    }
}

/// A caller as named in messages: its role and token name.
fn who(caller: &Caller) -> String {
    match (&caller.role, &caller.name) {
        (Some(role), Some(name)) => format!("this token ({role}, {name:?})"),
        (Some(role), None) => format!("this token ({role})"),
        (None, _) => "this caller".into(),
    }
}

/// Peers with more than this many windows kept are pruned of finished ones.
const PRUNE_AT: usize = 4096;

/// Refusals per peer in fixed windows: after `max` refusals within a window, the peer's
/// uploads are refused (429) until the window ends. A peer is an address for HTTP and a device
/// topic for MQTT.
#[derive(Debug)]
pub struct Refusals<K = IpAddr> {
    max: u32,
    window: Duration,
    /// What a peer is, for messages: "address", "device topic".
    kind: &'static str,
    peers: Mutex<HashMap<K, (Instant, u32)>>,
}

impl<K: Eq + std::hash::Hash + std::fmt::Display + Clone> Refusals<K> {
    /// At most `max` refusals per peer (a `kind`, as messages name it) per `window`.
    pub fn new(max: u32, window: Duration, kind: &'static str) -> Refusals<K> {
        Refusals {
            max,
            window,
            kind,
            peers: Mutex::new(HashMap::new()),
        }
    }

    /// 429 if `peer` has used up its refusals of the current window.
    pub fn check(&self, peer: &K) -> Result<(), ApiError> {
        let Ok(peers) = self.peers.lock() else {
            return Ok(());
        };
        match peers.get(peer) {
            Some((start, n)) if *n >= self.max && start.elapsed() < self.window => {
                let left = self.window.saturating_sub(start.elapsed());
                Err(ApiError::too_many_requests(
                    left.as_secs_f64().ceil() as u64,
                    format!(
                        "{n} uploads or records from {peer} were refused in the last {} s, the most one {} may have refused (http.refusals_per_window); fix the records (see the rejection codes) and retry in {} s",
                        self.window.as_secs(),
                        self.kind,
                        left.as_secs_f64().ceil() as u64
                    ),
                ))
            }
            _ => Ok(()),
        }
    }

    /// Counts `n` refusals of `peer`.
    pub fn add(&self, peer: &K, n: u32) {
        if n == 0 {
            return;
        }
        let Ok(mut peers) = self.peers.lock() else {
            return;
        };
        if peers.len() >= PRUNE_AT {
            let window = self.window;
            peers.retain(|_, (start, _)| start.elapsed() < window);
        }
        let entry = peers.entry(peer.clone()).or_insert((Instant::now(), 0));
        if entry.0.elapsed() >= self.window {
            *entry = (Instant::now(), 0);
        }
        entry.1 = entry.1.saturating_add(n);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::auth::Role;

    fn enterprise(id: &str, token: &str) -> Caller {
        Caller {
            role: Some(Role::Enterprise(id.into())),
            name: None,
            id: Some(token.into()),
        }
    }

    #[test]
    fn a_period_longer_than_the_role_may_ask_is_refused_naming_the_limit() {
        let limits = ReportsConfig::default();
        let e = enterprise("e-1", "t1");
        let year = Some((0, 366 * DAY_S));
        assert!(check_period(&e, year, &limits).is_ok());
        let err = check_period(&e, Some((0, 367 * DAY_S)), &limits).unwrap_err();
        assert_eq!(err.status, StatusCode::BAD_REQUEST);
        assert_eq!(err.body.error, "period_too_long");
        assert!(
            err.body.message.contains("366 days"),
            "{}",
            err.body.message
        );
        assert!(err.body.message.contains("reports.enterprise_max_days"));
        let op = Caller {
            role: Some(Role::Operator),
            name: None,
            id: Some("op".into()),
        };
        assert!(check_period(&op, Some((0, 367 * DAY_S)), &limits).is_ok());
        assert!(check_period(&op, Some((0, 3661 * DAY_S)), &limits).is_err());
    }

    #[test]
    fn builds_are_bounded_per_caller_and_in_all_and_given_back() {
        let limits = ReportsConfig {
            builds_per_caller: 2,
            builds_total: 3,
            ..ReportsConfig::default()
        };
        let q = BuildQueue::default();
        let (a, b) = (enterprise("e-1", "a"), enterprise("e-2", "b"));
        let a1 = q.enter(&a, &limits).unwrap();
        let _a2 = q.enter(&a, &limits).unwrap();
        let over = q.enter(&a, &limits).unwrap_err();
        assert_eq!(over.status, StatusCode::TOO_MANY_REQUESTS);
        assert!(over.retry_after_s.is_some());
        let _b1 = q.enter(&b, &limits).unwrap();
        let full = q.enter(&b, &limits).unwrap_err();
        assert_eq!(full.status, StatusCode::SERVICE_UNAVAILABLE);
        drop(a1);
        assert!(q.enter(&b, &limits).is_ok());
    }

    #[test]
    fn a_peer_is_slowed_after_its_refusals_and_others_are_not() {
        let r = Refusals::new(3, Duration::from_secs(3600), "address");
        let (bad, good): (IpAddr, IpAddr) =
            ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        r.add(&bad, 2);
        assert!(r.check(&bad).is_ok());
        r.add(&bad, 1);
        let e = r.check(&bad).unwrap_err();
        assert_eq!(e.status, StatusCode::TOO_MANY_REQUESTS);
        assert!(e.retry_after_s.unwrap() > 0);
        assert!(e.body.message.contains("the most one address may have"));
        assert!(r.check(&good).is_ok());
        // Device topics (MQTT) are peers too.
        let topics: Refusals<String> = Refusals::new(1, Duration::from_secs(60), "device topic");
        topics.add(&"tanji/p/d-1/up".to_string(), 1);
        let e = topics.check(&"tanji/p/d-1/up".to_string()).unwrap_err();
        assert!(
            e.body.message.contains("one device topic may"),
            "{}",
            e.body.message
        );
        assert!(topics.check(&"tanji/p/d-2/up".to_string()).is_ok());
    }
}
