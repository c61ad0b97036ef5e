//! HTTP access to a Helm chart repository: one client per reconcile with the repository's
//! TLS material and basic credentials, bounded downloads, and typed failures classified from
//! status codes and reqwest's error kinds (never from message text).

use std::time::Duration;

use crate::credentials::TlsMaterial;

/// How long connecting may take, within the overall timeout.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// Why a download from a chart repository failed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HttpError {
    /// HTTP 401 or 403: the credentials are missing or wrong.
    #[error("{what} {url}: HTTP {status}: check the credentials in spec.secretRef")]
    Authentication {
        /// What was downloaded.
        what: String,
        /// The URL, without credentials.
        url: String,
        /// The status code.
        status: u16,
    },
    /// Any other non-success status.
    #[error("{what} {url}: HTTP {status}")]
    Status {
        /// What was downloaded.
        what: String,
        /// The URL.
        url: String,
        /// The status code.
        status: u16,
    },
    /// The body is over the size limit.
    #[error("{what} {url} is larger than the {limit} byte limit ({flag})")]
    TooLarge {
        /// What was downloaded.
        what: String,
        /// The URL.
        url: String,
        /// The limit in bytes.
        limit: u64,
        /// The flag that sets it.
        flag: &'static str,
    },
    /// Connecting, TLS, or reading failed, or the timeout passed.
    #[error("{what} {url}: {message}")]
    Transport {
        /// What was downloaded.
        what: String,
        /// The URL.
        url: String,
        /// reqwest's message with its causes.
        message: String,
    },
}

impl HttpError {
    /// Whether the failure is about credentials.
    #[must_use]
    pub fn is_authentication(&self) -> bool {
        matches!(self, Self::Authentication { .. })
    }
}

/// A client for one repository.
pub struct RepoClient {
    http: reqwest::Client,
    origin: String,
    basic: Option<(String, String)>,
    pass_credentials: bool,
    timeout: Duration,
}

/// `scheme://host:port` of a URL, with the scheme's default port made explicit.
fn origin(url: &url::Url) -> String {
    format!(
        "{}://{}:{}",
        url.scheme(),
        url.host_str().unwrap_or_default(),
        url.port_or_known_default().unwrap_or_default()
    )
}

impl RepoClient {
    /// A client for the repository at `repo_url`.
    ///
    /// # Errors
    /// A message when the URL or the TLS material cannot be used.
    pub fn new(
        repo_url: &str,
        basic: Option<(String, String)>,
        tls: &TlsMaterial,
        pass_credentials: bool,
        timeout: Duration,
    ) -> Result<Self, String> {
        let parsed =
            url::Url::parse(repo_url).map_err(|e| format!("invalid URL {repo_url:?}: {e}"))?;
        let mut extra = Vec::new();
        if let Some(pem) = &tls.ca_pem {
            extra = reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|e| format!("ca.crt is not a PEM certificate bundle: {e}"))?;
            if extra.is_empty() {
                return Err("ca.crt holds no PEM certificate".into());
            }
        }
        let mut builder = weir_shared::tls::client_builder()
            .connect_timeout(CONNECT_TIMEOUT.min(timeout))
            .redirect(reqwest::redirect::Policy::limited(5));
        for cert in extra {
            builder = builder.add_root_certificate(cert);
        }
        if let Some((cert, key)) = &tls.identity {
            let mut pem = cert.clone();
            pem.push(b'\n');
            pem.extend_from_slice(key);
            let identity = reqwest::Identity::from_pem(&pem)
                .map_err(|e| format!("tls.crt/tls.key are not a PEM certificate and key: {e}"))?;
            builder = builder.identity(identity);
        }
        let http = builder
            .build()
            .map_err(|e| format!("building the HTTP client: {}", error_chain(&e)))?;
        Ok(Self {
            http,
            origin: origin(&parsed),
            basic,
            pass_credentials,
            timeout,
        })
    }

    /// Downloads `url` (at most `limit` bytes; `flag` names the limit in the error). Basic
    /// credentials go only to the repository's own origin unless `passCredentials` is set, as
    /// Helm does.
    ///
    /// # Errors
    /// [`HttpError`].
    pub async fn get(
        &self,
        url: &str,
        what: &str,
        limit: u64,
        flag: &'static str,
    ) -> Result<Vec<u8>, HttpError> {
        let transport = |message: String| HttpError::Transport {
            what: what.to_string(),
            url: url.to_string(),
            message,
        };
        let parsed = url::Url::parse(url).map_err(|e| transport(format!("invalid URL: {e}")))?;
        let mut request = self.http.get(parsed.clone()).timeout(self.timeout);
        if let Some((user, pass)) = &self.basic
            && (self.pass_credentials || origin(&parsed) == self.origin)
        {
            request = request.basic_auth(user, Some(pass));
        }
        let mut resp = request.send().await.map_err(|e| {
            if e.is_timeout() {
                transport(format!(
                    "timed out after {} (spec.timeout)",
                    weir_shared::duration::format(self.timeout)
                ))
            } else {
                transport(error_chain(&e))
            }
        })?;
        let status = resp.status();
        if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
            return Err(HttpError::Authentication {
                what: what.to_string(),
                url: url.to_string(),
                status: status.as_u16(),
            });
        }
        if !status.is_success() {
            return Err(HttpError::Status {
                what: what.to_string(),
                url: url.to_string(),
                status: status.as_u16(),
            });
        }
        let too_large = || HttpError::TooLarge {
            what: what.to_string(),
            url: url.to_string(),
            limit,
            flag,
        };
        if resp.content_length().is_some_and(|n| n > limit) {
            return Err(too_large());
        }
        let reserve = resp
            .content_length()
            .unwrap_or(0)
            .min(weir_shared::fetch::MAX_PREALLOCATION)
            .min(limit);
        let mut body = Vec::with_capacity(usize::try_from(reserve).unwrap_or(0));
        loop {
            let chunk = resp.chunk().await.map_err(|e| {
                if e.is_timeout() {
                    transport(format!(
                        "timed out after {} (spec.timeout)",
                        weir_shared::duration::format(self.timeout)
                    ))
                } else {
                    transport(error_chain(&e))
                }
            })?;
            let Some(chunk) = chunk else { break };
            if (body.len() + chunk.len()) as u64 > limit {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

/// An error and its causes, `a: b: c`, so TLS and DNS failures say what actually failed.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_make_default_ports_explicit() {
        let o = |u: &str| origin(&url::Url::parse(u).expect("url"));
        assert_eq!(o("https://h/x"), o("https://h:443/y"));
        assert_ne!(o("https://h/x"), o("http://h/x"));
        assert_ne!(o("https://h:8443/x"), o("https://h/x"));
    }

    #[tokio::test]
    async fn credentials_stay_on_the_repository_origin_and_status_codes_are_typed() {
        weir_shared::install_crypto_provider();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        // Answers 401 without an Authorization header, 200 with one, 404 for /missing.
        tokio::spawn(async move {
            use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
            loop {
                let Ok((mut conn, _)) = listener.accept().await else {
                    return;
                };
                let mut buf = vec![0u8; 4096];
                let n = conn.read(&mut buf).await.unwrap_or(0);
                let req = String::from_utf8_lossy(&buf[..n]).to_ascii_lowercase();
                let reply: &[u8] = if req.starts_with("get /missing") {
                    b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n"
                } else if req.contains("authorization: basic") {
                    b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"
                } else {
                    b"HTTP/1.1 401 Unauthorized\r\ncontent-length: 0\r\n\r\n"
                };
                let _ = conn.write_all(reply).await;
            }
        });
        let tls = TlsMaterial::default();
        let creds = Some(("u".to_string(), "p".to_string()));
        let base = format!("http://{addr}");
        let own = RepoClient::new(&base, creds.clone(), &tls, false, Duration::from_secs(5))
            .expect("client");
        let body = own
            .get(&format!("{base}/index.yaml"), "index", 100, "--x")
            .await;
        assert_eq!(body, Ok(b"ok".to_vec()));
        let err = own
            .get(&format!("{base}/missing"), "chart", 100, "--x")
            .await
            .expect_err("404");
        assert!(
            matches!(err, HttpError::Status { status: 404, .. }),
            "{err}"
        );
        let err = own
            .get(
                &format!("{base}/index.yaml"),
                "index",
                1,
                "--helm-index-max-size",
            )
            .await
            .expect_err("over the limit");
        assert!(err.to_string().contains("--helm-index-max-size"), "{err}");
        // The same server under another origin name: no credentials unless passCredentials.
        let other = format!("http://localhost:{}", addr.port());
        let err = own
            .get(&format!("{other}/c.tgz"), "chart", 100, "--x")
            .await
            .expect_err("no credentials sent");
        assert!(err.is_authentication(), "{err}");
        let passing =
            RepoClient::new(&base, creds, &tls, true, Duration::from_secs(5)).expect("client");
        let body = passing
            .get(&format!("{other}/c.tgz"), "chart", 100, "--x")
            .await;
        assert_eq!(body, Ok(b"ok".to_vec()));
    }
}
