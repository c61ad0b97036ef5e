//! An HTTPS Git server for tests: `git http-backend` (CGI) behind a TLS listener whose
//! certificate is issued by a CA generated for the test, enforcing HTTP basic auth.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

use crate::tls_server::{Handler, TlsIdentity, accept_loop, basic_auth, reply, unauthorized};

/// A running HTTPS Git server; stops when dropped.
pub struct GitHttpsServer {
    /// `https://<host>:<port>`.
    pub base_url: String,
    /// PEM of the CA that issued the server certificate (the Secret's `ca.crt`).
    pub ca_pem: String,
    /// Accepted user name.
    pub username: String,
    /// Accepted password.
    pub password: String,
    /// Accepted bearer token (alternative to basic auth).
    pub bearer_token: String,
    task: tokio::task::JoinHandle<()>,
}

impl GitHttpsServer {
    /// Serves the repositories under `root` (URL path = folder name) on 127.0.0.1.
    pub async fn start(root: &Path) -> Self {
        Self::start_on(root, "127.0.0.1").await
    }

    /// Serves on `host` (an IP address, also in the certificate): the node IP for servers
    /// that Pods must reach.
    pub async fn start_on(root: &Path, host: &str) -> Self {
        let identity = TlsIdentity::generate(host);
        let listener = TcpListener::bind((host, 0))
            .await
            .unwrap_or_else(|e| panic!("bind: {e}"));
        let addr: SocketAddr = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("addr: {e}"));
        let (username, password) = ("weir".to_string(), format!("pw-{}", crate::random_id()));
        let bearer_token = format!("token-{}", crate::random_id());
        let accepted = Arc::new([
            basic_auth(&username, &password),
            format!("Bearer {bearer_token}"),
        ]);
        let root = root.to_path_buf();
        let handler: Handler = Arc::new(move |req| {
            let root = root.clone();
            let accepted = accepted.clone();
            Box::pin(async move { handle(req, &root, &accepted[..]).await })
        });
        let task = tokio::spawn(accept_loop(listener, Some(identity.acceptor), handler));
        Self {
            base_url: format!("https://{addr}"),
            ca_pem: identity.ca_pem,
            username,
            password,
            bearer_token,
            task,
        }
    }

    /// The clone URL of repository `name`.
    pub fn url(&self, name: &str) -> String {
        format!("{}/{name}", self.base_url)
    }
}

impl Drop for GitHttpsServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn handle(
    req: Request<Incoming>,
    root: &PathBuf,
    accepted: &[String],
) -> Response<Full<Bytes>> {
    let given = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let authorized = accepted.iter().any(|a| a == given);
    if !authorized {
        return unauthorized("git");
    }
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let (method, path, query) = (
        req.method().to_string(),
        req.uri().path().to_string(),
        req.uri().query().unwrap_or_default().to_string(),
    );
    let (content_type, git_protocol, encoding) = (
        header("content-type"),
        header("git-protocol"),
        header("content-encoding"),
    );
    let Ok(body) = req.into_body().collect().await.map(|b| b.to_bytes()) else {
        return reply(StatusCode::BAD_REQUEST, "bad body\n");
    };
    let child = tokio::process::Command::new("git")
        .arg("http-backend")
        .env("GIT_PROJECT_ROOT", root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("REQUEST_METHOD", method)
        .env("PATH_INFO", path)
        .env("QUERY_STRING", query)
        .env("CONTENT_TYPE", content_type)
        .env("CONTENT_LENGTH", body.len().to_string())
        .env("GIT_PROTOCOL", git_protocol)
        .env("HTTP_CONTENT_ENCODING", encoding)
        .env("REMOTE_USER", "weir")
        .env("REMOTE_ADDR", "127.0.0.1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn();
    let Ok(mut child) = child else {
        return reply(StatusCode::INTERNAL_SERVER_ERROR, "cannot run git\n");
    };
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(&body).await;
    }
    let Ok(out) = child.wait_with_output().await else {
        return reply(StatusCode::INTERNAL_SERVER_ERROR, "git failed\n");
    };
    cgi_response(&out.stdout)
}

/// Turns CGI output (headers, blank line, body) into an HTTP response.
fn cgi_response(raw: &[u8]) -> Response<Full<Bytes>> {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| (i, 4))
        .or_else(|| raw.windows(2).position(|w| w == b"\n\n").map(|i| (i, 2)));
    let Some((end, sep)) = split else {
        return reply(StatusCode::BAD_GATEWAY, "bad CGI output\n");
    };
    let head = String::from_utf8_lossy(&raw[..end]).to_string();
    let mut response = Response::new(Full::new(Bytes::copy_from_slice(&raw[end + sep..])));
    for line in head.lines() {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("status") {
            let code = value
                .split_whitespace()
                .next()
                .and_then(|c| c.parse().ok())
                .unwrap_or(500);
            *response.status_mut() =
                StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        } else if let (Ok(n), Ok(v)) = (
            hyper::header::HeaderName::from_bytes(name.as_bytes()),
            hyper::header::HeaderValue::from_str(value),
        ) {
            response.headers_mut().append(n, v);
        }
    }
    response
}
