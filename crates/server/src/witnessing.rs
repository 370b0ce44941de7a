//! Witnessing: every new checkpoint of the log is submitted to the configured witnesses
//! (c2sp.org/tlog-witness `add-checkpoint`, with a consistency proof from the size each last
//! cosigned); their cosignatures are checked against the configured keys, kept in the store next
//! to the checkpoint, and `/checkpoint` serves the note with them.
//!
//! Configured in the server's TOML as
//!
//! ```toml
//! [[witness]]
//! name = "w1"
//! url = "http://witness.example:8090"
//! vkey = "witness.example/w1+1234abcd+BK…"
//! ```
//!
//! A witness that is down or refuses is logged and tried again at the next checkpoint (or
//! after [`RETRY`] when the log is idle); it never delays ingest.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Deserialize;
use tanji_ledger::{consistency_proof, CosignatureVerifier};
use tanji_park::{with_cosignatures, witness_id};
use tanji_store::{AnyStore, Store, StoreAt};
use tanji_witness::WitnessClient;
use tokio::task::JoinHandle;

use crate::{AppState, Head};

/// How long an idle log waits before asking a witness that failed again.
pub const RETRY: Duration = Duration::from_secs(10);

/// One `[[witness]]` entry of the configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WitnessConfig {
    /// A short name for logs.
    pub name: String,
    /// The witness's submission prefix (`/add-checkpoint` is appended).
    pub url: String,
    /// The witness's verifier key (`name+hex key ID+base64(0x04 || key)`).
    pub vkey: String,
}

impl WitnessConfig {
    /// The parsed key.
    pub fn key(&self) -> Result<CosignatureVerifier, String> {
        self.vkey
            .parse()
            .map_err(|e| format!("witness {:?}: vkey: {e}", self.name))
    }
}

/// Checks the `[[witness]]` entries: keys parse, URLs are http(s), names and keys are unique.
pub fn check(witnesses: &[WitnessConfig]) -> Result<(), String> {
    let mut seen = HashMap::new();
    for (i, w) in witnesses.iter().enumerate() {
        let key = w.key().map_err(|e| format!("witness[{i}]: {e}"))?;
        if !(w.url.starts_with("http://") || w.url.starts_with("https://")) {
            return Err(format!(
                "witness[{i}] {:?}: url {:?} must start with http:// or https://",
                w.name, w.url
            ));
        }
        if let Some(j) = seen.insert(witness_id(&key), i) {
            return Err(format!("witness[{i}] has the same key as witness[{j}]"));
        }
    }
    Ok(())
}

struct Witnessing {
    state: AppState,
    store: Arc<Mutex<AnyStore>>,
    clients: Vec<(String, WitnessClient)>,
    /// The size each witness last cosigned, as this server knows it.
    sizes: Vec<u64>,
}

/// Starts witnessing in the background if witnesses are configured (`None` otherwise). The
/// task ends when the sequencer stops publishing heads.
pub fn start(state: AppState, db: StoreAt) -> Option<JoinHandle<()>> {
    let configured = state.config().witness.clone();
    if configured.is_empty() {
        return None;
    }
    Some(tokio::spawn(async move {
        let store = match tokio::task::spawn_blocking(move || db.open()).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                tracing::error!("witnessing disabled: opening the store: {e}");
                return;
            }
            Err(e) => {
                tracing::error!("witnessing disabled: {e}");
                return;
            }
        };
        let mut clients = Vec::new();
        let mut sizes = Vec::new();
        for w in &configured {
            // `Config::check` parsed every key already.
            let Ok(key) = w.key() else { continue };
            let id = witness_id(&key);
            sizes.push(crate::reader::blocking(|| {
                store.latest_cosigned(Some(&id)).ok().flatten().unwrap_or(0)
            }));
            clients.push((w.name.clone(), WitnessClient::new(w.url.clone(), key)));
        }
        let mut w = Witnessing {
            state,
            store: Arc::new(Mutex::new(store)),
            clients,
            sizes,
        };
        w.run().await;
    }))
}

impl Witnessing {
    async fn run(&mut self) {
        let mut heads = self.state.sequencer().subscribe();
        loop {
            let head = heads.borrow_and_update().clone();
            let complete = self.round(&head).await;
            tokio::select! {
                changed = heads.changed() => if changed.is_err() { return },
                () = tokio::time::sleep(RETRY), if !complete => {}
            }
        }
    }

    /// Asks every witness that has not cosigned `head` yet; keeps and serves what they return.
    /// Returns whether all of them have cosigned it.
    async fn round(&mut self, head: &Head) -> bool {
        let mut lines = Vec::new();
        for (i, (name, client)) in self.clients.iter().enumerate() {
            if self.sizes[i] == head.size && head.size > 0 {
                continue;
            }
            let store = self.store.clone();
            let prove = move |from: u64, to: u64| {
                let store = store
                    .lock()
                    .map_err(|_| "store lock poisoned".to_string())?;
                crate::reader::blocking(|| consistency_proof(&*store, from, to))
                    .map_err(|e| e.to_string())
            };
            match client.submit(&head.checkpoint, self.sizes[i], prove).await {
                Ok(c) => {
                    tracing::info!(witness = %name, size = head.size, old = c.old_size, "cosigned");
                    lines.push((witness_id(client.key()), c.line));
                }
                Err(e) => tracing::warn!(witness = %name, size = head.size, "not cosigned: {e}"),
            }
        }
        let size = head.size;
        let got: Vec<String> = lines.iter().map(|(id, _)| id.clone()).collect();
        let witnesses: Vec<CosignatureVerifier> =
            self.clients.iter().map(|(_, c)| c.key().clone()).collect();
        let lines: Vec<String> = lines.into_iter().map(|(_, line)| line).collect();
        // Through the sequencer: the park's seal binds every cosignature it keeps.
        let kept = if lines.is_empty() {
            let store = self.store.clone();
            tokio::task::spawn_blocking(move || {
                let store = store
                    .lock()
                    .map_err(|_| "store lock poisoned".to_string())?;
                store.cosignatures(size).map_err(|e| e.to_string())
            })
            .await
            .map_err(|e| e.to_string())
            .and_then(|r| r)
        } else {
            self.state
                .sequencer()
                .cosign(size, lines, witnesses)
                .await
                .map_err(|e| e.to_string())
        };
        match kept {
            Ok(all) => {
                for (i, (_, client)) in self.clients.iter().enumerate() {
                    if got.contains(&witness_id(client.key())) {
                        self.sizes[i] = size;
                    }
                }
                if !all.is_empty() {
                    self.state
                        .set_cosigned_checkpoint(size, &with_cosignatures(&head.checkpoint, &all));
                }
            }
            Err(e) => tracing::error!(size, "keeping cosignatures failed: {e}"),
        }
        self.sizes.iter().all(|s| *s == size)
    }
}
