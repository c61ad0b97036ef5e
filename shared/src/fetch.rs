//! Downloading artifacts: HTTP GET with a size limit, `sha256:` digest verification before
//! anything is unpacked, then a safe untar into a fresh directory.

use std::path::Path;
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::untar;

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

/// Downloads `url` (at most `max_bytes`), checks it hashes to `digest` (`sha256:<hex>`) and
/// unpacks it into `dest`, which must not exist yet. Returns the unpacked size in bytes.
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
    let download = |message: String| FetchError::Download {
        url: url.to_string(),
        message,
    };
    let mut resp = http
        .get(url)
        .timeout(Duration::from_secs(120))
        .send()
        .await
        .map_err(|e| download(e.to_string()))?;
    if !resp.status().is_success() {
        return Err(download(format!("HTTP {}", resp.status())));
    }
    let mut bytes = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| download(e.to_string()))? {
        bytes.extend_from_slice(&chunk);
        if bytes.len() as u64 > limits.max_archive_bytes {
            return Err(download(format!(
                "artifact is larger than the {} byte limit",
                limits.max_archive_bytes
            )));
        }
    }
    let actual = format!("sha256:{}", hex::encode(Sha256::digest(&bytes)));
    if actual != digest {
        return Err(FetchError::DigestMismatch {
            url: url.to_string(),
            expected: digest.to_string(),
            actual,
        });
    }
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
