//! Downloading artifacts: HTTP GET with a size limit, `sha256:` digest verification before
//! anything is unpacked, then a safe untar into a fresh directory.
//!
//! # Limits
//!
//! | limit | default | enforced |
//! |---|---|---|
//! | download size ([`untar::Limits::max_archive_bytes`]) | 100 MiB | a larger `Content-Length` is refused before the body is read; the body is refused as soon as it would exceed it |
//! | buffer reserved up front | [`MAX_PREALLOCATION`] (8 MiB) | never more than this is reserved from a `Content-Length`, whatever the server claims |
//! | whole download | [`DOWNLOAD_TIMEOUT`] (120 s) | request and body together |
//! | unpacking | see [`crate::untar`] | every decompressed byte counted |

use std::path::Path;
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::untar;

/// How long one artifact download may take, body included.
pub const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(120);

/// At most this much is reserved up front from a server's `Content-Length`; the buffer grows
/// with the bytes actually received after that.
pub const MAX_PREALLOCATION: u64 = 8 << 20;

/// Why an artifact could not be fetched.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FetchError {
    /// Network or HTTP failure: retry.
    #[error("downloading {url}: {message}")]
    Download {
        /// The URL.
        url: String,
        /// What failed.
        message: String,
    },
    /// The bytes do not hash to the expected digest: the artifact was tampered with or is
    /// being replaced.
    #[error("artifact {url} has digest {actual}, expected {expected}: refusing to use it")]
    DigestMismatch {
        /// The URL.
        url: String,
        /// `status.artifact.digest`.
        expected: String,
        /// What the bytes hash to.
        actual: String,
    },
    /// The archive is unsafe or malformed.
    #[error("unpacking {url}: {message}")]
    Unpack {
        /// The URL.
        url: String,
        /// What is wrong.
        message: String,
    },
}

/// Downloads `url` (at most `limits.max_archive_bytes`), checks it hashes to `digest`
/// (`sha256:<hex>`) and unpacks it into `dest`, which must not exist yet. Returns the unpacked
/// size in bytes.
///
/// # Errors
/// [`FetchError`].
pub async fn fetch_and_unpack(
    http: &reqwest::Client,
    url: &str,
    digest: &str,
    dest: &Path,
    limits: untar::Limits,
) -> Result<u64, FetchError> {
    let bytes = download(http, url, digest, limits.max_archive_bytes).await?;
    let dest = dest.to_path_buf();
    let result = tokio::task::spawn_blocking(move || untar::unpack(&bytes, &dest, limits)).await;
    match result {
        Ok(Ok(size)) => Ok(size),
        Ok(Err(m)) => Err(FetchError::Unpack {
            url: url.to_string(),
            message: m,
        }),
        Err(e) => Err(FetchError::Unpack {
            url: url.to_string(),
            message: e.to_string(),
        }),
    }
}

/// Downloads `url` (at most `max_bytes`, within [`DOWNLOAD_TIMEOUT`]) and checks it hashes to
/// `digest` (`sha256:<hex>`): the bytes are returned only when they are the artifact the
/// source announced.
///
/// # Errors
/// [`FetchError::Download`] or [`FetchError::DigestMismatch`].
pub async fn download(
    http: &reqwest::Client,
    url: &str,
    digest: &str,
    max_bytes: u64,
) -> Result<Vec<u8>, FetchError> {
    let download = |message: String| FetchError::Download {
        url: url.to_string(),
        message,
    };
    let mut resp = http
        .get(url)
        .timeout(DOWNLOAD_TIMEOUT)
        .send()
        .await
        .map_err(|e| download(e.to_string()))?;
    if !resp.status().is_success() {
        return Err(download(format!("HTTP {}", resp.status())));
    }
    let too_large = || {
        download(format!(
            "artifact is larger than the {max_bytes} byte limit (max_archive_bytes)"
        ))
    };
    let announced = resp.content_length();
    if announced.is_some_and(|n| n > max_bytes) {
        return Err(too_large());
    }
    let reserve = announced.unwrap_or(0).min(MAX_PREALLOCATION).min(max_bytes);
    let mut bytes = Vec::with_capacity(usize::try_from(reserve).unwrap_or(0));
    while let Some(chunk) = resp.chunk().await.map_err(|e| download(e.to_string()))? {
        if (bytes.len() + chunk.len()) as u64 > max_bytes {
            return Err(too_large());
        }
        bytes.extend_from_slice(&chunk);
    }
    let actual = format!("sha256:{}", hex::encode(Sha256::digest(&bytes)));
    if actual != digest {
        return Err(FetchError::DigestMismatch {
            url: url.to_string(),
            expected: digest.to_string(),
            actual,
        });
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    #[tokio::test]
    async fn an_announced_oversize_body_is_refused_before_it_is_read() {
        crate::install_crypto_provider();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        // Claims 200 MiB, then sends nothing more and keeps the connection open.
        tokio::spawn(async move {
            let (mut conn, _) = listener.accept().await.expect("accept");
            let mut buf = [0u8; 1024];
            let _ = conn.read(&mut buf).await;
            let _ = conn
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 209715200\r\n\r\n")
                .await;
            tokio::time::sleep(Duration::from_secs(60)).await;
        });
        let dir = tempfile::tempdir().expect("tempdir");
        let started = Instant::now();
        let (http, url) = (reqwest::Client::new(), format!("http://{addr}/a.tar.gz"));
        let (digest, dest) = (format!("sha256:{}", "0".repeat(64)), dir.path().join("out"));
        let err = fetch_and_unpack(&http, &url, &digest, &dest, untar::Limits::default());
        let err = tokio::time::timeout(Duration::from_secs(5), err)
            .await
            .expect("refused at once")
            .expect_err("oversize");
        assert!(started.elapsed() < Duration::from_secs(2));
        assert!(err.to_string().contains("max_archive_bytes"), "{err}");
    }
}
