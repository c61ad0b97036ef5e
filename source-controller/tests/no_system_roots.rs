//! A Git fetch over plain HTTP works when the system has no CA certificate (a `FROM scratch`
//! image without a bundle): `weir-fetch-once` (the reconciler's fetch path) runs with
//! `SSL_CERT_FILE` / `SSL_CERT_DIR` pointing at an empty file and an empty folder, against
//! `git http-backend` served over plain HTTP.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use tokio::io::AsyncWriteExt;

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .current_dir(dir)
        .args(["-c", "user.name=weir", "-c", "user.email=weir@example.com"])
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("git {args:?}: {e}"));
    assert!(out.status.success(), "git {args:?}: {out:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn git_over_plain_http_works_when_the_system_has_no_roots() {
    let root = tempfile::tempdir().expect("tempdir");
    let repo = root.path().join("app.git");
    let work = root.path().join("work");
    std::fs::create_dir(&work).expect("work");
    git(&work, &["init", "-q", "-b", "main"]);
    std::fs::write(work.join("app.yaml"), "kind: ConfigMap\n").expect("file");
    git(&work, &["add", "."]);
    git(&work, &["commit", "-q", "-m", "one"]);
    git(root.path(), &["clone", "-q", "--bare", "work", "app.git"]);
    assert!(repo.join("HEAD").is_file());

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let app = axum::Router::new()
        .fallback(cgi)
        .with_state(root.path().to_path_buf());
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let (empty, certs) = (root.path().join("empty.pem"), root.path().join("certs"));
    std::fs::write(&empty, "").expect("empty bundle");
    std::fs::create_dir(&certs).expect("empty folder");
    let mut fetch = Command::new(env!("CARGO_BIN_EXE_weir-fetch-once"));
    fetch
        .args([
            "--url",
            &format!("http://{addr}/app.git"),
            "--branch",
            "main",
        ])
        .arg("--cache")
        .arg(root.path().join("cache"))
        .arg("--storage")
        .arg(root.path().join("storage"))
        .env("SSL_CERT_FILE", &empty)
        .env("SSL_CERT_DIR", &certs);
    let out = tokio::task::spawn_blocking(move || fetch.output())
        .await
        .expect("join")
        .expect("running weir-fetch-once");
    server.abort();
    let output = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "fetch failed:\n{output}");
    assert!(output.contains("main@sha1:"), "{output}");
    assert!(output.contains(" 1 files "), "{output}");
}

/// `git http-backend` as CGI for the repositories under the state folder.
async fn cgi(State(root): State<PathBuf>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let env = [
        ("REQUEST_METHOD", parts.method.to_string()),
        ("PATH_INFO", parts.uri.path().to_string()),
        (
            "QUERY_STRING",
            parts.uri.query().unwrap_or_default().to_string(),
        ),
        ("CONTENT_TYPE", header("content-type")),
        ("GIT_PROTOCOL", header("git-protocol")),
        ("HTTP_CONTENT_ENCODING", header("content-encoding")),
    ];
    let body = axum::body::to_bytes(body, 64 << 20)
        .await
        .unwrap_or_default();
    let mut child = tokio::process::Command::new("git")
        .arg("http-backend")
        .env("GIT_PROJECT_ROOT", &root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("CONTENT_LENGTH", body.len().to_string())
        .env("REMOTE_ADDR", "127.0.0.1")
        .envs(env)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("git http-backend");
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(&body).await.expect("CGI stdin");
    }
    let out = child.wait_with_output().await.expect("CGI output");
    cgi_response(&out.stdout)
}

/// Turns CGI output (headers, a blank line, the body) into a response.
fn cgi_response(raw: &[u8]) -> Response {
    let (end, sep) = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| (i, 4))
        .or_else(|| raw.windows(2).position(|w| w == b"\n\n").map(|i| (i, 2)))
        .expect("CGI headers");
    let mut response = Response::new(Body::from(Bytes::copy_from_slice(&raw[end + sep..])));
    for line in String::from_utf8_lossy(&raw[..end]).lines() {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("status") {
            let code = value.split_whitespace().next().and_then(|c| c.parse().ok());
            *response.status_mut() = StatusCode::from_u16(code.unwrap_or(500))
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        } else if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            response.headers_mut().append(n, v);
        }
    }
    response
}
