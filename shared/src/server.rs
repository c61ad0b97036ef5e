//! The health and metrics HTTP endpoints: `/healthz` (the process is alive), `/readyz` (it
//! can serve: for a controller, it reached the API server), and `/metrics`; and the hardened
//! HTTP serving loop every Weir server uses ([`serve_hardened`]: these probes and the artifact
//! server of [`crate::storage`]).
//!
//! Anyone who can reach a port can send arbitrary HTTP, so a client cannot hold a connection or
//! a request for long, and a flood of connections cannot exhaust memory or file descriptors.
//!
//! # Limits (see [`ServerLimits`])
//!
//! | limit | default | enforced |
//! |---|---|---|
//! | `header_read_timeout` | [`DEFAULT_HEADER_READ_TIMEOUT`] (10 s) | from accept to the end of the request head (a silent or half-sent request is disconnected) |
//! | `request_timeout` | [`DEFAULT_REQUEST_TIMEOUT`] (30 s) | from the request head to the response head; answered `408` |
//! | `max_connections` | [`DEFAULT_MAX_CONNECTIONS`] (256) | open connections per server; connections past it are closed at once |
//! | `max_connection_lifetime` | [`DEFAULT_MAX_CONNECTION_LIFETIME`] (10 min) | a whole connection, response body included (slow readers) |
//! | `shutdown_grace` | [`DEFAULT_SHUTDOWN_GRACE`] (5 s) | how long in-flight connections may finish after shutdown |
//!
//! Keep-alive is off: one request per connection, so an idle client never holds a
//! connection past its response, and shutdown never waits for idle pooled connections.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tower::ServiceExt as _;

use crate::metrics::Metrics;

/// Default of [`ServerLimits::header_read_timeout`].
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Default of [`ServerLimits::request_timeout`].
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Default of [`ServerLimits::max_connections`].
pub const DEFAULT_MAX_CONNECTIONS: usize = 256;
/// Default of [`ServerLimits::max_connection_lifetime`].
pub const DEFAULT_MAX_CONNECTION_LIFETIME: Duration = Duration::from_secs(600);
/// Default of [`ServerLimits::shutdown_grace`].
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// What one client may cost a server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerLimits {
    /// Time from accepting a connection to having read the whole request head.
    pub header_read_timeout: Duration,
    /// Time from the request head to the response head.
    pub request_timeout: Duration,
    /// Open connections; more are closed as soon as they are accepted.
    pub max_connections: usize,
    /// Time a connection may stay open, response body included.
    pub max_connection_lifetime: Duration,
    /// Time in-flight connections get to finish once shutdown is requested.
    pub shutdown_grace: Duration,
}

impl Default for ServerLimits {
    fn default() -> Self {
        Self {
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_connection_lifetime: DEFAULT_MAX_CONNECTION_LIFETIME,
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
        }
    }
}

/// Shared readiness flag, set once the controller has started.
#[derive(Clone, Default)]
pub struct Readiness(Arc<AtomicBool>);

impl Readiness {
    /// Marks the process ready.
    pub fn set_ready(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
    fn is_ready(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// Binds a listener, failing with the address in the message.
///
/// # Errors
/// When the address is in use or not allowed.
pub async fn bind(addr: SocketAddr, what: &str) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("binding {what} address {addr}: {e}"))
}

/// Serves `/healthz`, `/readyz` and `/metrics` on a bound listener until `shutdown` resolves,
/// with the default [`ServerLimits`].
///
/// # Errors
/// Server failures.
pub async fn serve_probes(
    listener: tokio::net::TcpListener,
    metrics: Metrics,
    readiness: Readiness,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    serve_probes_with(
        listener,
        metrics,
        readiness,
        shutdown,
        &ServerLimits::default(),
    )
    .await
}

/// [`serve_probes`] with explicit limits.
///
/// # Errors
/// Server failures.
pub async fn serve_probes_with(
    listener: tokio::net::TcpListener,
    metrics: Metrics,
    readiness: Readiness,
    shutdown: impl Future<Output = ()> + Send + 'static,
    limits: &ServerLimits,
) -> anyhow::Result<()> {
    let app = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/readyz",
            get(|State(r): State<Readiness>| async move {
                if r.is_ready() {
                    (StatusCode::OK, "ok")
                } else {
                    (StatusCode::SERVICE_UNAVAILABLE, "not ready")
                }
            }),
        )
        .with_state(readiness)
        .route("/metrics", get(move || async move { metrics.encode() }));
    serve_hardened(listener, app, shutdown, limits).await
}

/// Serves `router` on a bound listener until `shutdown` resolves, within `limits` (see the
/// module docs). After shutdown, in-flight connections get
/// [`ServerLimits::shutdown_grace`] to finish; then this returns regardless.
///
/// # Errors
/// None at the moment: accept failures (for example, out of file descriptors) are logged and
/// retried.
pub async fn serve_hardened(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    limits: &ServerLimits,
) -> anyhow::Result<()> {
    let max = limits.max_connections.clamp(1, Semaphore::MAX_PERMITS);
    let permits = Arc::new(Semaphore::new(max));
    let (close_tx, close_rx) = watch::channel(false);
    let shutdown = std::pin::pin!(shutdown);
    let mut shutdown = shutdown;
    loop {
        let stream = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            tracing::debug!(max, "connection limit reached; closing a new connection");
            drop(stream);
            continue;
        };
        tokio::spawn(serve_connection(
            stream,
            router.clone(),
            limits.clone(),
            close_rx.clone(),
            permit,
        ));
    }
    drop(listener);
    let _ = close_tx.send(true);
    let all = u32::try_from(max).unwrap_or(u32::MAX);
    if tokio::time::timeout(limits.shutdown_grace, permits.acquire_many(all))
        .await
        .is_err()
    {
        tracing::debug!("connections still open after the shutdown grace period; leaving them");
    }
    Ok(())
}

async fn serve_connection(
    stream: TcpStream,
    router: Router,
    limits: ServerLimits,
    mut close: watch::Receiver<bool>,
    _permit: OwnedSemaphorePermit,
) {
    // A client that connects and sends nothing is dropped after the header timeout too (hyper
    // may only start its header timer on the first byte).
    let mut first = [0u8; 1];
    tokio::select! {
        peeked = tokio::time::timeout(limits.header_read_timeout, stream.peek(&mut first)) => {
            if !matches!(peeked, Ok(Ok(n)) if n > 0) {
                return;
            }
        }
        () = closed(&mut close) => return,
    }
    let request_timeout = limits.request_timeout;
    let service = hyper::service::service_fn(move |req| {
        let router = router.clone();
        async move {
            match tokio::time::timeout(request_timeout, router.oneshot(req)).await {
                Ok(Ok(response)) => Ok::<_, Infallible>(response),
                Ok(Err(never)) => match never {},
                Err(_) => Ok((StatusCode::REQUEST_TIMEOUT, "request timed out\n").into_response()),
            }
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(false);
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    let mut conn = std::pin::pin!(conn);
    tokio::select! {
        served = conn.as_mut() => {
            if let Err(e) = served {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        }
        () = closed(&mut close) => {
            conn.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(limits.shutdown_grace, conn).await;
        }
        () = tokio::time::sleep(limits.max_connection_lifetime) => {
            tracing::debug!("connection lifetime exceeded; closing it");
        }
    }
}

async fn closed(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|c| *c).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    fn limits(max_connections: usize) -> ServerLimits {
        ServerLimits {
            header_read_timeout: Duration::from_millis(500),
            request_timeout: Duration::from_millis(500),
            max_connections,
            ..ServerLimits::default()
        }
    }

    async fn start(router: Router, limits: ServerLimits) -> SocketAddr {
        crate::install_crypto_provider();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            serve_hardened(listener, router, std::future::pending(), &limits).await
        });
        addr
    }

    fn probes() -> Router {
        Router::new()
            .route("/healthz", get(|| async { "ok" }))
            .route(
                "/slow",
                get(|| async {
                    tokio::time::sleep(Duration::from_secs(60)).await;
                    "late"
                }),
            )
    }

    /// Reads until the server closes the connection; the time it took.
    async fn until_closed(conn: &mut TcpStream) -> Option<Duration> {
        let started = Instant::now();
        let mut rest = Vec::new();
        tokio::time::timeout(Duration::from_secs(5), conn.read_to_end(&mut rest))
            .await
            .ok()
            .map(|_| started.elapsed())
    }

    #[tokio::test]
    async fn half_sent_and_silent_requests_are_disconnected() {
        let addr = start(probes(), limits(16)).await;
        let mut half = TcpStream::connect(addr).await.expect("connect");
        half.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            .await
            .expect("write");
        let mut silent = TcpStream::connect(addr).await.expect("connect");
        assert!(
            until_closed(&mut half)
                .await
                .is_some_and(|d| d < Duration::from_secs(2))
        );
        assert!(
            until_closed(&mut silent)
                .await
                .is_some_and(|d| d < Duration::from_secs(2))
        );
    }

    #[tokio::test]
    async fn idle_connections_past_the_cap_do_not_wedge_the_server() {
        let addr = start(probes(), limits(4)).await;
        let mut idle = Vec::new();
        for _ in 0..4 {
            idle.push(TcpStream::connect(addr).await.expect("connect"));
        }
        // Let the server accept them.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let url = format!("http://{addr}/healthz");
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(3))
            .build()
            .expect("client");
        // Refused at once (the cap) rather than left hanging.
        let started = Instant::now();
        let refused = http.get(&url).send().await;
        assert!(refused.is_err(), "{refused:?}");
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "{:?}",
            started.elapsed()
        );
        // The idle ones are closed after the header timeout, and real requests are served.
        for conn in &mut idle {
            assert!(until_closed(conn).await.is_some());
        }
        let ok = http.get(&url).send().await.expect("served");
        assert_eq!(ok.status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn slow_handlers_time_out_and_shutdown_is_bounded() {
        crate::install_crypto_provider();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let limits = ServerLimits {
            shutdown_grace: Duration::from_millis(300),
            ..limits(4)
        };
        let server = tokio::spawn(async move {
            serve_hardened(
                listener,
                probes(),
                async {
                    let _ = rx.await;
                },
                &limits,
            )
            .await
        });
        let slow = reqwest::get(format!("http://{addr}/slow"))
            .await
            .expect("answered");
        assert_eq!(slow.status(), StatusCode::REQUEST_TIMEOUT);
        // A connection that is never used must not hold shutdown up.
        let _idle = TcpStream::connect(addr).await.expect("connect");
        let started = Instant::now();
        let _ = tx.send(());
        tokio::time::timeout(Duration::from_secs(2), server)
            .await
            .expect("shutdown finished")
            .expect("task")
            .expect("server");
        assert!(started.elapsed() < Duration::from_secs(1));
    }
}
