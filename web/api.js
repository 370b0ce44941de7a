// Talking to the tanji server: the bearer token (kept in localStorage), JSON reads (each asks
// for the page's language, so the server's sentences come in it), report downloads, the
// public checkpoint and the live stream of new checkpoints.

import { getLang } from "./i18n.js";

const TOKEN_KEY = "tanji.token";

/** The stored token, or "". */
export function getToken() {
  return localStorage.getItem(TOKEN_KEY) || "";
}

/** Stores (or, with "", forgets) the token. */
export function setToken(token) {
  if (token) localStorage.setItem(TOKEN_KEY, token);
  else localStorage.removeItem(TOKEN_KEY);
}

function headers() {
  const token = getToken();
  return token ? { Authorization: `Bearer ${token}` } : {};
}

/** An error answer of the API: HTTP status, the server's code and message. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** GETs `path` (under /api/v1) with `params`, in the page's language, returning the parsed
 * JSON. */
export async function get(path, params = {}) {
  const url = new URL(`/api/v1${path}`, location.origin);
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== "") url.searchParams.set(k, v);
  }
  url.searchParams.set("lang", getLang());
  const res = await fetch(url, { headers: headers() });
  if (!res.ok) {
    let body = {};
    try {
      body = await res.json();
    } catch (_) {
      /* not JSON */
    }
    throw new ApiError(res.status, body.error || "http", body.message || res.statusText);
  }
  return res.json();
}

/** Downloads `path` as a file named `filename` (fetch + blob, so the token travels). */
export async function download(path, filename) {
  const res = await fetch(`/api/v1${path}`, { headers: headers() });
  if (!res.ok) throw new ApiError(res.status, "http", await res.text());
  const blob = await res.blob();
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = filename;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
}

/**
 * The log's latest checkpoint from the public `/checkpoint` (no token needed): the C2SP
 * signed note's origin, tree size and root hash (base64), and the note itself.
 */
export async function getCheckpoint() {
  const res = await fetch("/checkpoint");
  if (!res.ok) throw new ApiError(res.status, "http", await res.text());
  const note = await res.text();
  const [origin, size, root] = note.split("\n");
  const n = Number(size);
  if (!origin || !Number.isSafeInteger(n) || !root) {
    throw new ApiError(500, "checkpoint", `the served checkpoint is not a C2SP checkpoint: ${note.slice(0, 80)}`);
  }
  return { origin, size: n, root, note };
}

/**
 * Calls `onHead({size, checkpoint})` whenever the log grows: a Server-Sent Events stream read
 * with fetch (so the token can be sent), falling back to polling /status every 5 s when the
 * stream cannot be held. `onState("live" | "polling" | "offline")` reports which. Returns a
 * function that stops it.
 */
export function watchHead(onHead, onState) {
  let stopped = false;
  let controller = null;
  let pollTimer = null;

  async function poll() {
    if (stopped) return;
    try {
      if (getToken()) {
        const s = await get("/status");
        onHead({ size: s.size, checkpoint: s.checkpoint ? s.checkpoint.note : "" });
      } else {
        // Without a token the public checkpoint says how far the log has grown.
        const c = await getCheckpoint();
        onHead({ size: c.size, checkpoint: c.note });
      }
      onState("polling");
    } catch (_) {
      onState("offline");
    }
    pollTimer = setTimeout(poll, 5000);
  }

  async function stream() {
    if (!getToken()) {
      // The event stream needs a token; the public checkpoint is polled instead.
      poll();
      return;
    }
    while (!stopped) {
      controller = new AbortController();
      try {
        const res = await fetch("/api/v1/events", {
          headers: { ...headers(), Accept: "text/event-stream" },
          signal: controller.signal,
        });
        if (!res.ok || !res.body) throw new Error(`events: HTTP ${res.status}`);
        onState("live");
        const reader = res.body.getReader();
        const decoder = new TextDecoder();
        let buf = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += decoder.decode(value, { stream: true });
          let cut;
          while ((cut = buf.indexOf("\n\n")) >= 0) {
            const block = buf.slice(0, cut);
            buf = buf.slice(cut + 2);
            let event = "message";
            const data = [];
            for (const line of block.split("\n")) {
              if (line.startsWith("event:")) event = line.slice(6).trim();
              else if (line.startsWith("data:")) data.push(line.slice(5).trimStart());
            }
            if (event === "checkpoint" && data.length) {
              try {
                onHead(JSON.parse(data.join("\n")));
              } catch (_) {
                /* a malformed event is skipped */
              }
            }
          }
        }
      } catch (_) {
        if (stopped) return;
        // The stream is unavailable: poll instead, and try the stream again later.
        onState("polling");
        if (!pollTimer) poll();
        await new Promise((r) => setTimeout(r, 15_000));
        clearTimeout(pollTimer);
        pollTimer = null;
      }
    }
  }

  stream();
  return () => {
    stopped = true;
    if (controller) controller.abort();
    clearTimeout(pollTimer);
  };
}
