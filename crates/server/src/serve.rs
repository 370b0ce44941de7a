//! Serving connections: HTTP/1.1 with a header-read timeout, an idle timeout and a cap on open
//! connections, so that idle or slow clients cannot exhaust the process's file descriptors or
//! hold the server (`docs/api.md`, "Limits").
//!
//! - A request head must arrive within `http.header_read_timeout_ms` of the server starting to
//!   wait for it (hyper's header-read timer), on a new connection and between the requests of a
//!   kept-alive one: a slow-loris client is closed then.
//! - A connection on which nothing was read or written for `http.idle_timeout_ms` while no
//!   handler runs for it is closed (a client that stops reading its answer, an idle stream).
//! - At most [`connection_limit`] connections are open. At the cap the connection idle the
//!   longest (no handler running for it) is closed to make room; if every connection is busy,
//!   the new one gets a 503 `too_many_connections` and is closed at once. Clients already
//!   being served are never cut for a new one.

use std::collections::HashMap;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify, Semaphore};
use tower::ServiceExt;

/// File descriptors kept back from connections when the cap is taken from the open-file limit:
/// the store's connections (sequencer, readers, background reports), the MQTT client, the
/// witness clients, log and key files, the listener.
const FD_RESERVE: u64 = 256;

/// The cap when the open-file limit is unlimited or unknown.
const UNLIMITED_CAP: u64 = 65_536;

/// How long a new connection at the cap waits for an evicted idle one to make room.
const EVICTION_WAIT: Duration = Duration::from_millis(250);

/// What a connection refused at the cap gets before it is closed: the JSON error body.
fn refused(max: usize) -> Vec<u8> {
    let body = format!(
        "{{\"error\":\"too_many_connections\",\"message\":\"all {max} connections the server allows (http.max_connections) are busy; retry in a second\"}}"
    );
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// The process's open-file limit (soft), if known and finite.
pub fn open_file_limit() -> Option<u64> {
    #[cfg(target_os = "linux")]
    {
        rustix::process::getrlimit(rustix::process::Resource::Nofile).current
    }
    #[cfg(not(target_os = "linux"))]
    {
        None
    }
}

/// The listen backlog asked for (the kernel caps it at `net.core.somaxconn`, 4096 on current
/// Linux; tokio's own `bind` asks for 1024): a burst of devices connecting at once waits in it
/// to be accepted instead of having its connection attempts dropped, which clients retry only
/// after 1, 3, 7, 15 and 31 seconds.
pub const LISTEN_BACKLOG: u32 = 4096;

/// Listens on `addr` (`host:port`; the first of its addresses that binds) with
/// [`LISTEN_BACKLOG`].
pub async fn listen(addr: &str) -> std::io::Result<tokio::net::TcpListener> {
    let mut last = None;
    for a in tokio::net::lookup_host(addr).await? {
        let socket = if a.is_ipv4() {
            tokio::net::TcpSocket::new_v4()?
        } else {
            tokio::net::TcpSocket::new_v6()?
        };
        // As tokio's `bind`: a restarted server may listen again at once.
        #[cfg(unix)]
        socket.set_reuseaddr(true)?;
        match socket.bind(a) {
            Ok(()) => return socket.listen(LISTEN_BACKLOG),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{addr} names no address"),
        )
    }))
}

/// The connection cap: `configured` if given and below what the open-file limit allows, else
/// the open-file limit less [`FD_RESERVE`] (half the limit when the limit is small).
pub fn connection_limit(configured: Option<usize>, fd_limit: Option<u64>) -> usize {
    let by_fds = match fd_limit {
        Some(n) if n > 2 * FD_RESERVE => n - FD_RESERVE,
        Some(n) => (n / 2).max(1),
        None => UNLIMITED_CAP,
    };
    let by_fds = usize::try_from(by_fds).unwrap_or(usize::MAX);
    match configured {
        Some(c) if c > by_fds => {
            tracing::warn!(
                configured = c,
                allowed = by_fds,
                fd_limit = ?fd_limit,
                "http.max_connections is above what the open-file limit leaves; using the lower value (raise `ulimit -n` to allow more)"
            );
            by_fds
        }
        Some(c) => c,
        None => by_fds,
    }
}

/// The timeouts and the cap.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub header_read: Duration,
    pub idle: Duration,
    pub max_connections: usize,
}

/// One open connection: when it last read or wrote, and how many handlers run for it.
#[derive(Debug)]
struct Conn {
    /// Milliseconds since [`Registry::base`] of the last byte read or written.
    last: AtomicU64,
    /// Handlers running for it.
    busy: AtomicUsize,
    /// Told to close when idle, to make room at the cap.
    evict: Notify,
}

/// The open connections.
#[derive(Debug)]
struct Registry {
    base: Instant,
    next: AtomicU64,
    conns: Mutex<HashMap<u64, Arc<Conn>>>,
}

impl Registry {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.base.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// How long `conn` has moved no byte.
    fn quiet(&self, conn: &Conn) -> Duration {
        Duration::from_millis(
            self.now_ms()
                .saturating_sub(conn.last.load(Ordering::Relaxed)),
        )
    }

    fn add(&self) -> (u64, Arc<Conn>) {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let conn = Arc::new(Conn {
            last: AtomicU64::new(self.now_ms()),
            busy: AtomicUsize::new(0),
            evict: Notify::new(),
        });
        if let Ok(mut c) = self.conns.lock() {
            c.insert(id, Arc::clone(&conn));
        }
        (id, conn)
    }

    fn remove(&self, id: u64) {
        if let Ok(mut c) = self.conns.lock() {
            c.remove(&id);
        }
    }

    /// Tells the connection idle the longest (no handler running) to close; `false` if every
    /// connection is busy.
    fn evict_idlest(&self) -> bool {
        let Ok(conns) = self.conns.lock() else {
            return false;
        };
        let idlest = conns
            .values()
            .filter(|c| c.busy.load(Ordering::Acquire) == 0)
            .min_by_key(|c| c.last.load(Ordering::Relaxed));
        match idlest {
            Some(c) => {
                c.evict.notify_one();
                true
            }
            None => false,
        }
    }
}

/// A socket that notes when it last moved a byte.
struct Watched {
    inner: TcpStream,
    conn: Arc<Conn>,
    registry: Arc<Registry>,
}

impl Watched {
    fn touch(&self) {
        self.conn
            .last
            .store(self.registry.now_ms(), Ordering::Relaxed);
    }
}

impl AsyncRead for Watched {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let r = Pin::new(&mut this.inner).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.touch();
        }
        r
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.inner).poll_write(cx, buf);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            this.touch();
        }
        r
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            this.touch();
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// Counts a running handler while it lives.
struct Busy(Arc<Conn>);

impl Busy {
    fn new(conn: &Arc<Conn>) -> Busy {
        conn.busy.fetch_add(1, Ordering::AcqRel);
        Busy(Arc::clone(conn))
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.busy.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Serves `app` on `listener` within `limits` until `stop` turns `true`; then accepts no more
/// connections, asks every open one to finish its request and close, and returns once all
/// have closed.
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    mut stop: watch::Receiver<bool>,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let registry = Arc::new(Registry {
        base: Instant::now(),
        next: AtomicU64::new(0),
        conns: Mutex::new(HashMap::new()),
    });
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read)
        .keep_alive(true);
    tracing::info!(
        max_connections = limits.max_connections,
        header_read_timeout_ms = limits.header_read.as_millis() as u64,
        idle_timeout_ms = limits.idle.as_millis() as u64,
        "connection limits"
    );
    loop {
        let accepted = tokio::select! {
            _ = stop.wait_for(|s| *s) => break,
            a = listener.accept() => a,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Out of file descriptors or a connection reset before it was accepted: go
                // on; a short pause lets closing connections return their descriptors.
                tracing::warn!(error = %e, "accepting a connection failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let permit = match Arc::clone(&permits).try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                let room = if registry.evict_idlest() {
                    tokio::time::timeout(EVICTION_WAIT, Arc::clone(&permits).acquire_owned())
                        .await
                        .ok()
                        .and_then(Result::ok)
                } else {
                    None
                };
                match room {
                    Some(p) => p,
                    None => {
                        tracing::warn!(%peer, max = limits.max_connections, "connection refused: every allowed connection is busy");
                        let _ = stream.try_write(&refused(limits.max_connections));
                        continue;
                    }
                }
            }
        };
        let (id, conn) = registry.add();
        let io = TokioIo::new(Watched {
            inner: stream,
            conn: Arc::clone(&conn),
            registry: Arc::clone(&registry),
        });
        let app = app.clone();
        let handler_conn = Arc::clone(&conn);
        let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
            let mut req = req.map(axum::body::Body::new);
            req.extensions_mut().insert(ConnectInfo(peer));
            let busy = Busy::new(&handler_conn);
            let app = app.clone();
            async move {
                let res: Result<_, Infallible> = app.oneshot(req).await;
                drop(busy);
                res
            }
        });
        let served = http.serve_connection(io, service);
        let registry = Arc::clone(&registry);
        let mut stop = stop.clone();
        let idle = limits.idle;
        tokio::spawn(async move {
            let mut served = std::pin::pin!(served);
            let mut stopping = false;
            loop {
                // Until the connection has been quiet for `idle`; a busy one is looked at again
                // an idle period later.
                let wait = match idle.checked_sub(registry.quiet(&conn)) {
                    Some(w) if !w.is_zero() => w,
                    _ => idle,
                };
                tokio::select! {
                    r = served.as_mut() => {
                        if let Err(e) = r {
                            tracing::debug!(%peer, error = %e, "connection ended");
                        }
                        break;
                    }
                    _ = stop.wait_for(|s| *s), if !stopping => {
                        stopping = true;
                        served.as_mut().graceful_shutdown();
                    }
                    _ = tokio::time::sleep(wait) => {
                        if conn.busy.load(Ordering::Acquire) == 0 && registry.quiet(&conn) >= idle {
                            tracing::debug!(%peer, "idle connection closed");
                            break;
                        }
                    }
                    _ = conn.evict.notified() => {
                        if conn.busy.load(Ordering::Acquire) == 0 {
                            tracing::debug!(%peer, "idle connection closed to make room");
                            break;
                        }
                    }
                }
            }
            registry.remove(id);
            drop(permit);
        });
    }
    // Every connection holds a permit until it closes: all of them back means all closed.
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    let _ = permits.acquire_many(all).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_server_listens_with_a_deep_backlog_and_says_what_it_could_not_bind() {
        let l = listen("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        // The kernel holds this many connections not yet accepted (up to its own cap): more
        // than tokio's 1024 where the cap allows, and every one of them completes.
        let somaxconn: u32 = std::fs::read_to_string("/proc/sys/net/core/somaxconn")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(128);
        // Two descriptors a connection (both ends are in this process), and some to spare.
        let by_fds = open_file_limit().map_or(u64::MAX, |n| n.saturating_sub(64) / 2);
        let n = u64::from(LISTEN_BACKLOG.min(somaxconn).min(1500)).min(by_fds) as usize;
        let mut held = Vec::with_capacity(n);
        for i in 0..n {
            let c = tokio::time::timeout(
                Duration::from_secs(20),
                tokio::net::TcpStream::connect(addr),
            )
            .await
            .unwrap_or_else(|_| panic!("connection {i} of {n} not taken in 20 s"));
            held.push(c.unwrap());
        }
        drop(l);
        let taken = listen(&addr.to_string()).await;
        assert!(taken.is_ok(), "a port just closed listens again: {taken:?}");
        let err = listen("256.0.0.1:80").await.unwrap_err();
        assert!(!err.to_string().is_empty());
    }

    #[test]
    fn the_connection_cap_leaves_file_descriptors_for_the_rest() {
        assert_eq!(connection_limit(None, Some(1024)), 1024 - 256);
        assert_eq!(connection_limit(None, Some(300)), 150);
        assert_eq!(connection_limit(None, None), 65_536);
        // A configured cap is kept below what the limit leaves.
        assert_eq!(connection_limit(Some(100), Some(1024)), 100);
        assert_eq!(connection_limit(Some(5000), Some(1024)), 768);
    }
}
