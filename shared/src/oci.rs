//! The OCI registry client every Weir part shares: OCIRepository and OCI HelmRepositories in
//! source-controller, `weir push artifact` and `weir pull artifact` in the CLI.
//!
//! The registry protocol (the `/v2/` API, token and basic authentication, chunked uploads) is
//! the `oci-client` crate's; this module adds what Weir needs on top of it:
//!
//! - **References**: [`OciUrl`] (`oci://<host>[:port]/<repository>`, what an OCIRepository's
//!   `spec.url` holds: no tag, no digest) and [`OciReference`] (the same with `:<tag>` or
//!   `@sha256:<hex>`, what the CLI takes), checked with the distribution spec's grammar so that
//!   a bad URL fails before any request, with a message naming the input.
//! - **One TLS stack**: rustls with ring, trusting [`TrustRoots`](crate::tls::TrustRoots) plus a
//!   Secret's `ca.crt` ([`RegistryOptions::ca_pem`]); plain HTTP only when
//!   [`RegistryOptions::insecure`] says so.
//! - **Bounded downloads**: [`RegistryClient::pull_blob`] refuses a layer whose declared size is
//!   over the limit before asking for it, stops reading as soon as the body would exceed it, and
//!   verifies the `sha256` digest of what it read.
//! - **Typed errors** ([`OciError`]): authentication failures are told apart from missing
//!   content and from transport failures by HTTP status and by the registry's error codes, never
//!   by searching message text (which carries user input such as ports and tags).
//! - **Flux's artifact format** ([`Artifact::flux`]): an OCI image manifest with config media
//!   type [`FLUX_CONFIG_MEDIA_TYPE`], one [`FLUX_CONTENT_MEDIA_TYPE`] layer and the
//!   `org.opencontainers.image.{created,source,revision}` annotations, as `flux push artifact`
//!   writes it; Helm charts as `helm push` writes them ([`Artifact::helm_chart`]).
//!
//! # Limits and timeouts
//!
//! | what | bound |
//! |---|---|
//! | one operation (all its requests, bodies included) | [`RegistryOptions::timeout`], default [`DEFAULT_TIMEOUT`] |
//! | one blob | the caller's `max_bytes` ([`RegistryClient::pull_blob`]) |
//! | buffer reserved up front for a blob | [`crate::fetch::MAX_PREALLOCATION`] |
//! | tags listed | [`MAX_TAGS`], fetched [`TAG_PAGE_SIZE`] at a time |
//!
//! Manifests are read whole by `oci-client` and are bounded only by the operation's timeout.
//!
//! # Not supported
//!
//! Client certificates (mutual TLS): `oci-client` 0.18 builds its own HTTP client and has no
//! option for a client identity, so [`RegistryClient::new`] refuses
//! [`RegistryOptions::client_identity`] with [`OciError::Unsupported`] rather than connect
//! without it. Docker `identitytoken` credentials (an OAuth2 refresh token) are refused the
//! same way by [`RegistryAuth::from_docker_config_json`].

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use base64::Engine as _;
use futures::StreamExt as _;
use oci_client::client::{Certificate, CertificateEncoding, ClientConfig, ClientProtocol};
use oci_client::errors::{DigestError, OciDistributionError, OciErrorCode};
use oci_client::manifest::{OciDescriptor, OciImageManifest};
use oci_client::{Reference, RegistryOperation};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;
use sha2::{Digest as _, Sha256};

/// Media type of an OCI image manifest.
pub const OCI_MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
/// Media type of a Docker image manifest (schema 2), accepted when resolving.
pub const DOCKER_MANIFEST_MEDIA_TYPE: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Media type of an OCI image index (a multi-platform image).
pub const OCI_INDEX_MEDIA_TYPE: &str = "application/vnd.oci.image.index.v1+json";
/// Media type of a Docker manifest list (a multi-platform image).
pub const DOCKER_MANIFEST_LIST_MEDIA_TYPE: &str =
    "application/vnd.docker.distribution.manifest.list.v2+json";

/// Config media type of a Flux artifact (`flux push artifact`).
pub const FLUX_CONFIG_MEDIA_TYPE: &str = "application/vnd.cncf.flux.config.v1+json";
/// Layer media type of a Flux artifact: a gzip tar of the pushed files.
pub const FLUX_CONTENT_MEDIA_TYPE: &str = "application/vnd.cncf.flux.content.v1.tar+gzip";
/// Config media type of a Helm chart (`helm push`): `Chart.yaml` as JSON.
pub const HELM_CONFIG_MEDIA_TYPE: &str = "application/vnd.cncf.helm.config.v1+json";
/// Layer media type of a Helm chart's packaged `.tgz`.
pub const HELM_CHART_CONTENT_MEDIA_TYPE: &str =
    "application/vnd.cncf.helm.chart.content.v1.tar+gzip";
/// Layer media type of a Helm chart's provenance (`.prov`) file.
pub const HELM_PROVENANCE_MEDIA_TYPE: &str = "application/vnd.cncf.helm.chart.provenance.v1.prov";

/// Manifest annotation: when the artifact was built (RFC 3339, UTC, whole seconds).
pub const ANNOTATION_CREATED: &str = "org.opencontainers.image.created";
/// Manifest annotation: where the content comes from (for example a Git URL).
pub const ANNOTATION_SOURCE: &str = "org.opencontainers.image.source";
/// Manifest annotation: the source revision (for example `main@sha1:<hex>`).
pub const ANNOTATION_REVISION: &str = "org.opencontainers.image.revision";

/// Default of [`RegistryOptions::timeout`]: OCIRepository's default `spec.timeout`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
/// Tags asked for per page when listing.
pub const TAG_PAGE_SIZE: usize = 1000;
/// At most this many tags are listed; a repository with more is refused.
pub const MAX_TAGS: usize = 100_000;

/// The manifest media types [`RegistryClient::resolve`] asks for.
const ACCEPTED_MANIFESTS: [&str; 4] = [
    OCI_MANIFEST_MEDIA_TYPE,
    DOCKER_MANIFEST_MEDIA_TYPE,
    OCI_INDEX_MEDIA_TYPE,
    DOCKER_MANIFEST_LIST_MEDIA_TYPE,
];

/// Why a registry operation failed. Every message names the reference it was about
/// (`oci://<registry>/<repository>[:tag|@digest]`) and never contains credentials.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OciError {
    /// The URL, tag or digest is malformed: nothing was requested.
    #[error("invalid OCI reference {input:?}: {reason}")]
    InvalidReference {
        /// What was given.
        input: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The options cannot make a client (for example a `ca.crt` without a certificate).
    #[error("invalid registry options: {message}")]
    InvalidOptions {
        /// What is wrong.
        message: String,
    },
    /// Something Weir's OCI client cannot do (see the module docs).
    #[error("{feature} is not supported by Weir's OCI client")]
    Unsupported {
        /// What was asked for.
        feature: String,
    },
    /// The registry refused the credentials (HTTP 401/403, or the `UNAUTHORIZED`/`DENIED`
    /// error codes), or the token exchange failed.
    #[error("authentication to {reference} failed: {message}")]
    Authentication {
        /// The reference.
        reference: String,
        /// The HTTP status, when there was one.
        status: Option<u16>,
        /// What the registry said.
        message: String,
    },
    /// The repository, tag, manifest or blob does not exist (HTTP 404 or the `*_UNKNOWN`
    /// error codes).
    #[error("{reference} not found: {message}")]
    NotFound {
        /// The reference.
        reference: String,
        /// What the registry said.
        message: String,
    },
    /// The registry could not be reached or the connection failed (DNS, TCP, TLS, timeout).
    #[error("{reference}: {message}")]
    Transport {
        /// The reference.
        reference: String,
        /// What failed.
        message: String,
    },
    /// The registry answered with another error (a 5xx, or a 4xx that is not about
    /// credentials or missing content).
    #[error("{reference}: registry error{}: {message}", status.map(|s| format!(" (HTTP {s})")).unwrap_or_default())]
    Registry {
        /// The reference.
        reference: String,
        /// The HTTP status, when known.
        status: Option<u16>,
        /// What the registry said.
        message: String,
    },
    /// The manifest is not valid JSON or lacks required fields.
    #[error("{reference}: invalid manifest: {message}")]
    InvalidManifest {
        /// The reference.
        reference: String,
        /// What is wrong.
        message: String,
    },
    /// The manifest is an image index (manifest list) of several platforms, not one artifact.
    #[error(
        "{reference} is an image index ({media_type}), not a single artifact manifest: select one \
         of its manifests by digest"
    )]
    ImageIndex {
        /// The reference.
        reference: String,
        /// The index media type.
        media_type: String,
    },
    /// A manifest or layer has another media type than the one needed.
    #[error("{reference}: media type {found:?} is not the expected {expected}")]
    UnexpectedMediaType {
        /// The reference.
        reference: String,
        /// The media type found.
        found: String,
        /// The media type(s) accepted.
        expected: String,
    },
    /// The bytes do not hash to the digest the manifest (or reference) names.
    #[error("{reference}: content has digest {actual}, expected {expected}: refusing to use it")]
    DigestMismatch {
        /// The reference.
        reference: String,
        /// The digest asked for.
        expected: String,
        /// What the bytes hash to (or the digest the registry announced).
        actual: String,
    },
    /// The content is larger than the limit.
    #[error(
        "{reference}: {what} is larger than the {limit} limit{}",
        size.map(|s| format!(" ({s})")).unwrap_or_default()
    )]
    TooLarge {
        /// The reference.
        reference: String,
        /// What is too large (`layer sha256:...`, `tag list`).
        what: String,
        /// The limit (bytes, or tags for a tag list).
        limit: u64,
        /// The declared size, when it was known before reading.
        size: Option<u64>,
    },
}

impl OciError {
    /// Whether retrying the same request later may succeed (transport failures, registry-side
    /// errors): the others need a change of the spec, the credentials or the content.
    pub fn is_transient(&self) -> bool {
        match self {
            OciError::Transport { .. } => true,
            OciError::Registry { status, .. } => status.is_none_or(|s| s >= 500 || s == 429),
            _ => false,
        }
    }
}

fn invalid(input: &str, reason: impl Into<String>) -> OciError {
    OciError::InvalidReference {
        input: input.to_string(),
        reason: reason.into(),
    }
}

/// An OCI repository: `oci://<host>[:port]/<repository>`, the form of an OCIRepository's
/// `spec.url` (no tag, no digest: those are selected separately).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct OciUrl {
    registry: String,
    repository: String,
}

/// Which manifest of a repository: a tag or a `sha256:` digest.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Selector {
    /// A tag (`[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`).
    Tag(String),
    /// A manifest digest, `sha256:<64 lowercase hex>`.
    Digest(String),
}

/// A repository with an optional tag or digest: `oci://<host>/<repository>[:tag|@digest]`, the
/// form the CLI takes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct OciReference {
    /// The repository.
    pub url: OciUrl,
    /// The tag or digest, when the reference names one.
    pub selector: Option<Selector>,
}

impl OciUrl {
    /// Parses `oci://<host>[:port]/<repository>`.
    ///
    /// # Errors
    /// [`OciError::InvalidReference`] naming the input: no `oci://` prefix, no repository, a
    /// malformed host or repository name, or a tag or digest (select those with
    /// [`Selector`]).
    pub fn parse(input: &str) -> Result<Self, OciError> {
        let (url, selector) = split_reference(input)?;
        match selector {
            None => Ok(url),
            Some(Selector::Tag(tag)) => Err(invalid(
                input,
                format!(
                    "the URL must not contain a tag (found \":{tag}\"): select it with ref.tag"
                ),
            )),
            Some(Selector::Digest(digest)) => Err(invalid(
                input,
                format!(
                    "the URL must not contain a digest (found \"@{digest}\"): select it with ref.digest"
                ),
            )),
        }
    }

    /// The registry host, with its port when the URL has one (`ghcr.io`, `127.0.0.1:5000`).
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// The repository path inside the registry (`org/app`).
    pub fn repository(&self) -> &str {
        &self.repository
    }

    /// This repository with `selector`.
    pub fn with(&self, selector: Selector) -> OciReference {
        OciReference {
            url: self.clone(),
            selector: Some(selector),
        }
    }

    fn reference(&self, selector: &Selector) -> Reference {
        match selector {
            Selector::Tag(tag) => {
                Reference::with_tag(self.registry.clone(), self.repository.clone(), tag.clone())
            }
            Selector::Digest(digest) => Reference::with_digest(
                self.registry.clone(),
                self.repository.clone(),
                digest.clone(),
            ),
        }
    }
}

impl fmt::Display for OciUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "oci://{}/{}", self.registry, self.repository)
    }
}

impl Selector {
    /// Checks the tag or digest against the distribution spec's grammar.
    ///
    /// # Errors
    /// [`OciError::InvalidReference`] naming it.
    pub fn validate(&self) -> Result<(), OciError> {
        match self {
            Selector::Tag(tag) => check_tag(tag).map_err(|r| invalid(tag, r)),
            Selector::Digest(digest) => check_digest(digest).map_err(|r| invalid(digest, r)),
        }
    }
}

impl fmt::Display for Selector {
    /// `:<tag>` or `@<digest>`, as they follow a repository.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Selector::Tag(tag) => write!(f, ":{tag}"),
            Selector::Digest(digest) => write!(f, "@{digest}"),
        }
    }
}

impl OciReference {
    /// Parses `oci://<host>[:port]/<repository>[:<tag>|@sha256:<hex>]`.
    ///
    /// # Errors
    /// [`OciError::InvalidReference`] naming the input.
    pub fn parse(input: &str) -> Result<Self, OciError> {
        let (url, selector) = split_reference(input)?;
        Ok(OciReference { url, selector })
    }
}

impl fmt::Display for OciReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.url)?;
        if let Some(s) = &self.selector {
            write!(f, "{s}")?;
        }
        Ok(())
    }
}

/// Splits and checks `oci://host/repo[:tag|@digest]`.
fn split_reference(input: &str) -> Result<(OciUrl, Option<Selector>), OciError> {
    let Some(rest) = input.strip_prefix("oci://") else {
        return Err(invalid(
            input,
            "must start with oci:// (oci://<host>[:port]/<repository>)",
        ));
    };
    let Some((host, path)) = rest.split_once('/') else {
        return Err(invalid(
            input,
            "no repository after the host (oci://<host>[:port]/<repository>)",
        ));
    };
    check_host(host).map_err(|r| invalid(input, r))?;
    let (name, selector) = match path.split_once('@') {
        Some((name, digest)) => (name, Some(Selector::Digest(digest.to_string()))),
        None => {
            // A tag follows a ':' in the last path component (the host's port is not here).
            let last = path.rfind('/').map_or(0, |i| i + 1);
            match path[last..].find(':') {
                Some(i) => (
                    &path[..last + i],
                    Some(Selector::Tag(path[last + i + 1..].to_string())),
                ),
                None => (path, None),
            }
        }
    };
    check_repository(name).map_err(|r| invalid(input, r))?;
    if let Some(s) = &selector {
        match s {
            Selector::Tag(t) => check_tag(t),
            Selector::Digest(d) => check_digest(d),
        }
        .map_err(|r| invalid(input, r))?;
    }
    Ok((
        OciUrl {
            registry: host.to_string(),
            repository: name.to_string(),
        },
        selector,
    ))
}

/// `host[:port]`, `[ipv6][:port]`.
fn check_host(host: &str) -> Result<(), String> {
    if host.is_empty() {
        return Err("the host is empty".into());
    }
    let (name, port) = if let Some(v6) = host.strip_prefix('[') {
        let Some((addr, rest)) = v6.split_once(']') else {
            return Err(format!("host {host:?} has an unclosed '['"));
        };
        if addr.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(format!("host {host:?} is not a valid IPv6 address"));
        }
        match rest {
            "" => (None, None),
            _ => match rest.strip_prefix(':') {
                Some(p) => (None, Some(p)),
                None => return Err(format!("host {host:?}: expected ':<port>' after ']'")),
            },
        }
    } else {
        match host.split_once(':') {
            Some((n, p)) => (Some(n), Some(p)),
            None => (Some(host), None),
        }
    };
    if let Some(name) = name {
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        };
        if !name.split('.').all(label_ok) {
            return Err(format!(
                "host {name:?} is not a valid host name (letters, digits, '-' and '.')"
            ));
        }
    }
    if let Some(port) = port
        && (port.is_empty()
            || !port.bytes().all(|b| b.is_ascii_digit())
            || port.parse::<u16>().map_or(true, |p| p == 0))
    {
        return Err(format!("port {port:?} is not a number from 1 to 65535"));
    }
    Ok(())
}

/// Path components `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*` separated by `/`.
fn check_repository(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("the repository is empty".into());
    }
    if name.len() > 255 {
        return Err(format!(
            "the repository is {} characters long (at most 255)",
            name.len()
        ));
    }
    for component in name.split('/') {
        if !valid_component(component) {
            return Err(format!(
                "repository {name:?}: component {component:?} must be lowercase letters and \
                 digits, separated by '.', '_', '__' or dashes"
            ));
        }
    }
    Ok(())
}

fn valid_component(c: &str) -> bool {
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let bytes = c.as_bytes();
    let mut i = 0;
    loop {
        let start = i;
        while i < bytes.len() && alnum(bytes[i]) {
            i += 1;
        }
        if i == start {
            return false;
        }
        if i == bytes.len() {
            return true;
        }
        let sep = i;
        while i < bytes.len() && !alnum(bytes[i]) {
            i += 1;
        }
        let sep = &c[sep..i];
        let ok = matches!(sep, "." | "_" | "__") || sep.bytes().all(|b| b == b'-');
        if !ok || i == bytes.len() {
            return false;
        }
    }
}

fn check_tag(tag: &str) -> Result<(), String> {
    let ok = !tag.is_empty()
        && tag.len() <= 128
        && tag
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
        && !tag.starts_with(['.', '-']);
    if ok {
        Ok(())
    } else {
        Err(format!(
            "tag {tag:?} must be 1 to 128 letters, digits, '_', '.' or '-', not starting with '.' \
             or '-'"
        ))
    }
}

fn check_digest(digest: &str) -> Result<(), String> {
    match digest.strip_prefix("sha256:") {
        Some(hex)
            if hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) =>
        {
            Ok(())
        }
        _ => Err(format!(
            "digest {digest:?} must be sha256:<64 lowercase hex digits>"
        )),
    }
}

/// How to authenticate to a registry.
#[derive(Clone, PartialEq, Eq, Default)]
pub enum RegistryAuth {
    /// No credentials (a registry that also hands out anonymous tokens works too).
    #[default]
    Anonymous,
    /// A user name and password, sent with HTTP basic authentication or exchanged for a token,
    /// as the registry asks.
    Basic {
        /// The user name.
        username: String,
        /// The password or access token.
        password: String,
    },
    /// A registry token sent as `Authorization: Bearer` (Docker's `registrytoken`, or
    /// `--creds <token>`).
    Bearer {
        /// The token.
        token: String,
    },
}

impl fmt::Debug for RegistryAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RegistryAuth::Anonymous => f.write_str("Anonymous"),
            RegistryAuth::Basic { username, .. } => f
                .debug_struct("Basic")
                .field("username", username)
                .field("password", &"<redacted>")
                .finish(),
            RegistryAuth::Bearer { .. } => f
                .debug_struct("Bearer")
                .field("token", &"<redacted>")
                .finish(),
        }
    }
}

/// One `auths` entry of a Docker config file.
#[derive(serde::Deserialize, Default)]
struct DockerAuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    identitytoken: Option<String>,
    #[serde(default)]
    registrytoken: Option<String>,
}

#[derive(serde::Deserialize)]
struct DockerConfig {
    auths: Option<BTreeMap<String, DockerAuthEntry>>,
}

/// Docker Hub's names: any of them finds credentials stored under another.
const DOCKER_HUB: [&str; 3] = ["docker.io", "index.docker.io", "registry-1.docker.io"];

/// The host an `auths` key names, as Docker reads it: without `http://`/`https://` and
/// without a path; Docker Hub's names are one.
fn auth_key_host(key: &str) -> String {
    let key = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    let host = key
        .split('/')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    if DOCKER_HUB.contains(&host.as_str()) {
        "index.docker.io".to_string()
    } else {
        host
    }
}

impl RegistryAuth {
    /// The credentials for `registry` (`host[:port]`) in the `.dockerconfigjson` of a
    /// `kubernetes.io/dockerconfigjson` Secret: [`RegistryAuth::find_in_docker_config`], where
    /// a missing entry is an error (the Secret was given for this registry).
    ///
    /// # Errors
    /// Those of [`RegistryAuth::find_in_docker_config`], and no entry for `registry` (naming
    /// the hosts there are).
    pub fn from_docker_config_json(bytes: &[u8], registry: &str) -> Result<Self, String> {
        let auths = docker_auths(bytes)?;
        match find_docker_entry(&auths, registry) {
            Some(entry) => entry_auth(entry, registry),
            None => {
                let hosts: Vec<_> = auths.keys().map(String::as_str).collect();
                Err(format!(
                    "the Docker config has no credentials for {registry} (it has: {})",
                    if hosts.is_empty() {
                        "none".to_string()
                    } else {
                        hosts.join(", ")
                    }
                ))
            }
        }
    }

    /// The credentials for `registry` (`host[:port]`) in a Docker config file (a Secret's
    /// `.dockerconfigjson`, or `~/.docker/config.json`), `None` when it has no entry for it.
    ///
    /// The entry is found as Docker finds it: a key equal to `registry` first, else a key whose
    /// host is `registry` once `http://`, `https://` and any path are taken off (so
    /// `https://ghcr.io/v1/` serves `ghcr.io`); `docker.io`, `index.docker.io` and
    /// `registry-1.docker.io` all find Docker Hub's `https://index.docker.io/v1/`. In the entry,
    /// `auth` (base64 of `user:password`) wins over `username`/`password`, as with Docker;
    /// `registrytoken` is used as a bearer token. Credential helpers (`credsStore`,
    /// `credHelpers`) are not run.
    ///
    /// # Errors
    /// Invalid JSON, no `auths`, an undecodable `auth`, an `identitytoken`, or an entry without
    /// credentials. Messages never contain the secret values.
    pub fn find_in_docker_config(bytes: &[u8], registry: &str) -> Result<Option<Self>, String> {
        let auths = docker_auths(bytes)?;
        find_docker_entry(&auths, registry)
            .map(|entry| entry_auth(entry, registry))
            .transpose()
    }

    fn to_client(&self) -> oci_client::secrets::RegistryAuth {
        match self {
            RegistryAuth::Anonymous => oci_client::secrets::RegistryAuth::Anonymous,
            RegistryAuth::Basic { username, password } => {
                oci_client::secrets::RegistryAuth::Basic(username.clone(), password.clone())
            }
            RegistryAuth::Bearer { token } => {
                oci_client::secrets::RegistryAuth::Bearer(token.clone())
            }
        }
    }
}

/// The `auths` object of a Docker config file.
fn docker_auths(bytes: &[u8]) -> Result<BTreeMap<String, DockerAuthEntry>, String> {
    // Only the position: serde's message may quote a value, and values are secrets.
    let config: DockerConfig = serde_json::from_slice(bytes).map_err(|e| {
        let what = match e.classify() {
            serde_json::error::Category::Data => "has a value of the wrong type",
            _ => "is not valid JSON",
        };
        format!(
            "the Docker config {what} (line {}, column {})",
            e.line(),
            e.column()
        )
    })?;
    config
        .auths
        .ok_or_else(|| "the Docker config has no \"auths\" object".to_string())
}

/// The entry for `registry`: the exact key, else the first key naming the same host.
fn find_docker_entry<'a>(
    auths: &'a BTreeMap<String, DockerAuthEntry>,
    registry: &str,
) -> Option<&'a DockerAuthEntry> {
    let wanted = auth_key_host(registry);
    auths.get(registry).or_else(|| {
        auths
            .iter()
            .find(|(key, _)| auth_key_host(key) == wanted)
            .map(|(_, e)| e)
    })
}

/// The credentials of one entry.
fn entry_auth(entry: &DockerAuthEntry, registry: &str) -> Result<RegistryAuth, String> {
    if let Some(auth) = entry.auth.as_deref().filter(|a| !a.is_empty()) {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(auth.trim())
            .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(auth.trim()))
            .map_err(|_| format!("the \"auth\" of {registry} is not valid base64"))?;
        let decoded = String::from_utf8(decoded)
            .map_err(|_| format!("the \"auth\" of {registry} is not UTF-8"))?;
        let Some((username, password)) = decoded.split_once(':') else {
            return Err(format!(
                "the \"auth\" of {registry} is not base64 of <username>:<password>"
            ));
        };
        return Ok(RegistryAuth::Basic {
            username: username.to_string(),
            password: password.trim_matches('\0').to_string(),
        });
    }
    if let Some(token) = entry.registrytoken.as_deref().filter(|t| !t.is_empty()) {
        return Ok(RegistryAuth::Bearer {
            token: token.to_string(),
        });
    }
    if entry
        .identitytoken
        .as_deref()
        .is_some_and(|t| !t.is_empty())
    {
        return Err(format!(
            "the credentials of {registry} are an identitytoken (an OAuth2 refresh token), \
                 which Weir's OCI client does not support: use a username and password or token"
        ));
    }
    match (&entry.username, &entry.password) {
        (Some(u), Some(p)) if !u.is_empty() => Ok(RegistryAuth::Basic {
            username: u.clone(),
            password: p.clone(),
        }),
        _ => Err(format!(
            "the Docker config entry for {registry} has neither \"auth\" nor \"username\" and \
                 \"password\""
        )),
    }
}

/// How to reach a registry.
#[derive(Clone, Debug)]
pub struct RegistryOptions {
    /// Plain HTTP instead of HTTPS (OCIRepository's `spec.insecure`,
    /// `--insecure-registry`).
    pub insecure: bool,
    /// PEM certificates trusted besides [`TrustRoots`](crate::tls::TrustRoots) (a Secret's
    /// `ca.crt`).
    pub ca_pem: Option<Vec<u8>>,
    /// A client certificate and key in PEM (a Secret's `tls.crt` and `tls.key`): not supported
    /// (see the module docs); setting it makes [`RegistryClient::new`] fail.
    pub client_identity: Option<(Vec<u8>, Vec<u8>)>,
    /// How long one operation may take, every request and body included.
    pub timeout: Duration,
    /// The credentials.
    pub auth: RegistryAuth,
}

impl Default for RegistryOptions {
    fn default() -> Self {
        Self {
            insecure: false,
            ca_pem: None,
            client_identity: None,
            timeout: DEFAULT_TIMEOUT,
            auth: RegistryAuth::Anonymous,
        }
    }
}

/// A content descriptor of a manifest: its config or one of its layers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Descriptor {
    /// The media type.
    pub media_type: String,
    /// The digest (`sha256:<hex>` for anything Weir can download).
    pub digest: String,
    /// The declared size in bytes.
    pub size: u64,
    /// The descriptor's annotations.
    pub annotations: BTreeMap<String, String>,
}

/// A manifest found by [`RegistryClient::resolve`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolvedManifest {
    /// The manifest's digest, `sha256:<hex>` of its bytes.
    pub digest: String,
    /// Its media type ([`OCI_MANIFEST_MEDIA_TYPE`] or [`DOCKER_MANIFEST_MEDIA_TYPE`]).
    pub media_type: String,
    /// Its `artifactType`, when set.
    pub artifact_type: Option<String>,
    /// The config descriptor.
    pub config: Descriptor,
    /// The layers, in order.
    pub layers: Vec<Descriptor>,
    /// The manifest's annotations.
    pub annotations: BTreeMap<String, String>,
}

/// One layer to push.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArtifactLayer {
    /// Its media type.
    pub media_type: String,
    /// Its bytes (never empty).
    pub data: Vec<u8>,
}

/// An artifact to push: a config blob, layers and manifest annotations.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Artifact {
    /// The config's media type.
    pub config_media_type: String,
    /// The config's bytes.
    pub config: Vec<u8>,
    /// The layers, in order.
    pub layers: Vec<ArtifactLayer>,
    /// The manifest's annotations.
    pub annotations: BTreeMap<String, String>,
}

impl Artifact {
    /// A Flux artifact, as `flux push artifact` writes it: config media type
    /// [`FLUX_CONFIG_MEDIA_TYPE`], one [`FLUX_CONTENT_MEDIA_TYPE`] layer holding
    /// `content_tar_gz`, and `annotations` on the manifest (set [`ANNOTATION_CREATED`],
    /// [`ANNOTATION_SOURCE`] and [`ANNOTATION_REVISION`], see [`created_now`]). Flux's consumers
    /// never read the config; Weir's is the empty JSON object `{}`.
    pub fn flux(content_tar_gz: Vec<u8>, annotations: BTreeMap<String, String>) -> Self {
        Artifact {
            config_media_type: FLUX_CONFIG_MEDIA_TYPE.to_string(),
            config: b"{}".to_vec(),
            layers: vec![ArtifactLayer {
                media_type: FLUX_CONTENT_MEDIA_TYPE.to_string(),
                data: content_tar_gz,
            }],
            annotations,
        }
    }

    /// A Helm chart, as `helm push` writes it: config media type [`HELM_CONFIG_MEDIA_TYPE`]
    /// holding `chart_json` (the chart's `Chart.yaml` as JSON), the packaged chart as a
    /// [`HELM_CHART_CONTENT_MEDIA_TYPE`] layer, then its provenance file, if any, as a
    /// [`HELM_PROVENANCE_MEDIA_TYPE`] layer.
    pub fn helm_chart(
        chart_json: Vec<u8>,
        chart_tgz: Vec<u8>,
        provenance: Option<Vec<u8>>,
        annotations: BTreeMap<String, String>,
    ) -> Self {
        let mut layers = vec![ArtifactLayer {
            media_type: HELM_CHART_CONTENT_MEDIA_TYPE.to_string(),
            data: chart_tgz,
        }];
        if let Some(prov) = provenance {
            layers.push(ArtifactLayer {
                media_type: HELM_PROVENANCE_MEDIA_TYPE.to_string(),
                data: prov,
            });
        }
        Artifact {
            config_media_type: HELM_CONFIG_MEDIA_TYPE.to_string(),
            config: chart_json,
            layers,
            annotations,
        }
    }

    /// The OCI image manifest of this artifact and its digest: exactly the bytes
    /// [`RegistryClient::push_artifact`] uploads.
    pub fn manifest(&self) -> (Vec<u8>, String) {
        let descriptor = |media_type: &str, data: &[u8]| OciDescriptor {
            media_type: media_type.to_string(),
            digest: sha256_digest(data),
            size: i64::try_from(data.len()).unwrap_or(i64::MAX),
            urls: None,
            annotations: None,
            artifact_type: None,
        };
        let manifest = OciImageManifest {
            schema_version: 2,
            media_type: Some(OCI_MANIFEST_MEDIA_TYPE.to_string()),
            config: descriptor(&self.config_media_type, &self.config),
            layers: self
                .layers
                .iter()
                .map(|l| descriptor(&l.media_type, &l.data))
                .collect(),
            subject: None,
            artifact_type: None,
            annotations: (!self.annotations.is_empty()).then(|| self.annotations.clone()),
        };
        // Serialising plain strings, numbers and maps cannot fail.
        let bytes = serde_json::to_vec(&manifest).unwrap_or_default();
        let digest = sha256_digest(&bytes);
        (bytes, digest)
    }
}

/// Now as `org.opencontainers.image.created` holds it: RFC 3339 in UTC, whole seconds
/// (`2024-05-01T12:00:00Z`), as Flux writes it.
pub fn created_now() -> String {
    k8s_openapi::jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// A client for one registry configuration; cheap to clone, reuse it for the requests of a
/// reconcile so that tokens are fetched once.
#[derive(Clone)]
pub struct RegistryClient {
    client: oci_client::Client,
    auth: oci_client::secrets::RegistryAuth,
    timeout: Duration,
}

impl fmt::Debug for RegistryClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistryClient")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl RegistryClient {
    /// A client for `options`.
    ///
    /// # Errors
    /// [`OciError::InvalidOptions`] for a `ca_pem` without a usable certificate,
    /// [`OciError::Unsupported`] for a client identity.
    pub fn new(options: &RegistryOptions) -> Result<Self, OciError> {
        crate::install_crypto_provider();
        if options.client_identity.is_some() {
            return Err(OciError::Unsupported {
                feature: "TLS client certificate authentication (tls.crt/tls.key)".to_string(),
            });
        }
        let mut roots: Vec<Certificate> = crate::tls::TrustRoots::get()
            .certificates()
            .iter()
            .map(|c| Certificate {
                encoding: CertificateEncoding::Der,
                data: c.to_vec(),
            })
            .collect();
        if let Some(pem) = &options.ca_pem {
            let extra = ca_certificates(pem)?;
            roots.extend(extra.into_iter().map(|data| Certificate {
                encoding: CertificateEncoding::Der,
                data,
            }));
        }
        let config = ClientConfig {
            protocol: if options.insecure {
                ClientProtocol::Http
            } else {
                ClientProtocol::Https
            },
            tls_certs_only: roots,
            // An index is a typed error of `resolve`, never silently narrowed to a platform.
            platform_resolver: None,
            connect_timeout: Some(options.timeout),
            read_timeout: Some(options.timeout),
            user_agent: concat!("weir/", env!("CARGO_PKG_VERSION")),
            ..ClientConfig::default()
        };
        let client =
            oci_client::Client::try_from(config).map_err(|e| OciError::InvalidOptions {
                message: format!("building the HTTP client: {}", error_chain(&e)),
            })?;
        Ok(RegistryClient {
            client,
            auth: options.auth.to_client(),
            timeout: options.timeout,
        })
    }

    /// Every tag of the repository, in the registry's order, following pagination.
    ///
    /// # Errors
    /// [`OciError`]; [`OciError::TooLarge`] past [`MAX_TAGS`].
    pub async fn list_tags(&self, url: &OciUrl) -> Result<Vec<String>, OciError> {
        let name = url.to_string();
        let reference = url.reference(&Selector::Tag("latest".to_string()));
        self.timed(&name, async {
            let mut tags: Vec<String> = Vec::new();
            let mut last: Option<String> = None;
            loop {
                let page = self
                    .client
                    .list_tags(&reference, &self.auth, Some(TAG_PAGE_SIZE), last.as_deref())
                    .await
                    .map_err(|e| classify(&name, e))?;
                let count = page.tags.len();
                let next = page.tags.last().cloned();
                tags.extend(page.tags);
                if tags.len() > MAX_TAGS {
                    return Err(OciError::TooLarge {
                        reference: name.clone(),
                        what: "tag list".to_string(),
                        limit: MAX_TAGS as u64,
                        size: None,
                    });
                }
                // A short page is the last one; a registry that ignores `last` would repeat it.
                if count < TAG_PAGE_SIZE || next.is_none() || next == last {
                    return Ok(tags);
                }
                last = next;
            }
        })
        .await
    }

    /// The manifest `selector` names, with its digest, config, layers and annotations.
    ///
    /// # Errors
    /// [`OciError`]: [`OciError::ImageIndex`] for a multi-platform index,
    /// [`OciError::UnexpectedMediaType`] for any other kind of manifest,
    /// [`OciError::InvalidManifest`] for one that does not parse, and
    /// [`OciError::DigestMismatch`] when a digest selector does not match the bytes served.
    pub async fn resolve(
        &self,
        url: &OciUrl,
        selector: &Selector,
    ) -> Result<ResolvedManifest, OciError> {
        selector.validate()?;
        let name = url.with(selector.clone()).to_string();
        let reference = url.reference(selector);
        let (body, _) = self
            .timed(&name, async {
                self.client
                    .pull_manifest_raw(&reference, &self.auth, &ACCEPTED_MANIFESTS)
                    .await
                    .map_err(|e| classify(&name, e))
            })
            .await?;
        parse_manifest(&name, &body)
    }

    /// Downloads the blob `layer` describes: refused before any request when its declared
    /// size is over `max_bytes`, refused as soon as more than `max_bytes` arrive, and verified
    /// against its `sha256` digest.
    ///
    /// # Errors
    /// [`OciError::TooLarge`], [`OciError::DigestMismatch`],
    /// [`OciError::InvalidManifest`] for a digest that is not `sha256:<hex>`, and transport
    /// and registry errors.
    pub async fn pull_blob(
        &self,
        url: &OciUrl,
        layer: &Descriptor,
        max_bytes: u64,
    ) -> Result<Vec<u8>, OciError> {
        let name = format!("{url}@{}", layer.digest);
        let mut blob = BoundedBlob::new(&name, &layer.digest, layer.size, max_bytes)?;
        let reference = url.reference(&Selector::Digest(layer.digest.clone()));
        self.timed(&name, async {
            self.client
                .store_auth_if_needed(reference.resolve_registry(), &self.auth)
                .await;
            let descriptor = OciDescriptor {
                media_type: layer.media_type.clone(),
                digest: layer.digest.clone(),
                size: i64::try_from(layer.size).unwrap_or(i64::MAX),
                ..OciDescriptor::default()
            };
            let mut stream = self
                .client
                .pull_blob_stream(&reference, &descriptor)
                .await
                .map_err(|e| classify(&name, e))?;
            blob.announce(stream.content_length)?;
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(|e| classify_io(&name, e))?;
                blob.push(&chunk)?;
            }
            blob.finish()
        })
        .await
    }

    /// Pushes `artifact` to `url` and tags it `tag`: every blob the registry lacks, then the
    /// manifest. Returns the manifest's digest (`sha256:<hex>`).
    ///
    /// # Errors
    /// [`OciError::InvalidReference`] for a bad tag, [`OciError::InvalidOptions`] for an
    /// empty layer, and [`OciError`]s of the registry.
    pub async fn push_artifact(
        &self,
        url: &OciUrl,
        tag: &str,
        artifact: &Artifact,
    ) -> Result<String, OciError> {
        let selector = Selector::Tag(tag.to_string());
        selector.validate()?;
        if artifact.layers.iter().any(|l| l.data.is_empty()) {
            return Err(OciError::InvalidOptions {
                message: "an artifact layer is empty".to_string(),
            });
        }
        let name = url.with(selector.clone()).to_string();
        let reference = url.reference(&selector);
        let (manifest, digest) = artifact.manifest();
        self.timed(&name, async {
            self.client
                .auth(&reference, &self.auth, RegistryOperation::Push)
                .await
                .map_err(|e| classify(&name, e))?;
            let blobs = artifact
                .layers
                .iter()
                .map(|l| l.data.as_slice())
                .chain(std::iter::once(artifact.config.as_slice()));
            for data in blobs {
                let blob_digest = sha256_digest(data);
                let exists = self
                    .client
                    .blob_exists(&reference, &blob_digest)
                    .await
                    .map_err(|e| classify(&name, e))?;
                if !exists {
                    self.client
                        .push_blob(&reference, data.to_vec(), &blob_digest)
                        .await
                        .map_err(|e| classify(&name, e))?;
                }
            }
            let content_type = http_header_value(OCI_MANIFEST_MEDIA_TYPE);
            self.client
                .push_manifest_raw(&reference, manifest, content_type)
                .await
                .map_err(|e| classify(&name, e))?;
            Ok(digest)
        })
        .await
    }

    /// Runs `op` within the operation timeout.
    async fn timed<T>(
        &self,
        name: &str,
        op: impl Future<Output = Result<T, OciError>>,
    ) -> Result<T, OciError> {
        match tokio::time::timeout(self.timeout, op).await {
            Ok(result) => result,
            Err(_) => Err(OciError::Transport {
                reference: name.to_string(),
                message: format!("timed out after {}", crate::duration::format(self.timeout)),
            }),
        }
    }
}

fn http_header_value(value: &'static str) -> reqwest::header::HeaderValue {
    reqwest::header::HeaderValue::from_static(value)
}

/// The DER certificates of a PEM bundle.
fn ca_certificates(pem: &[u8]) -> Result<Vec<Vec<u8>>, OciError> {
    let mut certs = Vec::new();
    for cert in CertificateDer::pem_slice_iter(pem) {
        let cert = cert.map_err(|e| OciError::InvalidOptions {
            message: format!("the CA certificates (ca.crt) are not valid PEM: {e}"),
        })?;
        certs.push(cert.to_vec());
    }
    if certs.is_empty() {
        return Err(OciError::InvalidOptions {
            message: "the CA certificates (ca.crt) contain no PEM certificate".to_string(),
        });
    }
    Ok(certs)
}

/// Parses a manifest body: an OCI or Docker image manifest, else a typed error.
fn parse_manifest(name: &str, body: &[u8]) -> Result<ResolvedManifest, OciError> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Kind {
        schema_version: Option<i64>,
        media_type: Option<String>,
        manifests: Option<serde_json::Value>,
    }
    let bad = |message: String| OciError::InvalidManifest {
        reference: name.to_string(),
        message,
    };
    let kind: Kind =
        serde_json::from_slice(body).map_err(|e| bad(format!("not a JSON manifest: {e}")))?;
    let media_type = match (kind.media_type, kind.manifests.is_some()) {
        (Some(m), _) => m,
        (None, true) => OCI_INDEX_MEDIA_TYPE.to_string(),
        (None, false) => OCI_MANIFEST_MEDIA_TYPE.to_string(),
    };
    if media_type == OCI_INDEX_MEDIA_TYPE || media_type == DOCKER_MANIFEST_LIST_MEDIA_TYPE {
        return Err(OciError::ImageIndex {
            reference: name.to_string(),
            media_type,
        });
    }
    if media_type != OCI_MANIFEST_MEDIA_TYPE && media_type != DOCKER_MANIFEST_MEDIA_TYPE {
        return Err(OciError::UnexpectedMediaType {
            reference: name.to_string(),
            found: media_type,
            expected: format!("{OCI_MANIFEST_MEDIA_TYPE} or {DOCKER_MANIFEST_MEDIA_TYPE}"),
        });
    }
    if kind.schema_version != Some(2) {
        return Err(bad(format!(
            "schemaVersion is {}, expected 2",
            kind.schema_version
                .map_or_else(|| "missing".to_string(), |v| v.to_string())
        )));
    }
    let manifest: OciImageManifest =
        serde_json::from_slice(body).map_err(|e| bad(e.to_string()))?;
    let descriptor = |d: OciDescriptor| -> Result<Descriptor, OciError> {
        let size =
            u64::try_from(d.size).map_err(|_| bad(format!("{} has a negative size", d.digest)))?;
        Ok(Descriptor {
            media_type: d.media_type,
            digest: d.digest,
            size,
            annotations: d.annotations.unwrap_or_default(),
        })
    };
    Ok(ResolvedManifest {
        digest: sha256_digest(body),
        media_type,
        artifact_type: manifest.artifact_type,
        config: descriptor(manifest.config)?,
        layers: manifest
            .layers
            .into_iter()
            .map(descriptor)
            .collect::<Result<_, _>>()?,
        annotations: manifest.annotations.unwrap_or_default(),
    })
}

/// A blob being downloaded: counted against its limit and hashed as it arrives.
struct BoundedBlob {
    name: String,
    expected: String,
    limit: u64,
    bytes: Vec<u8>,
    hasher: Sha256,
}

impl BoundedBlob {
    /// Refuses a digest Weir cannot verify and a declared size over `limit`.
    fn new(name: &str, digest: &str, size: u64, limit: u64) -> Result<Self, OciError> {
        check_digest(digest).map_err(|message| OciError::InvalidManifest {
            reference: name.to_string(),
            message,
        })?;
        if size > limit {
            return Err(Self::too_large(name, digest, limit, Some(size)));
        }
        let reserve = size.min(crate::fetch::MAX_PREALLOCATION);
        Ok(BoundedBlob {
            name: name.to_string(),
            expected: digest.to_string(),
            limit,
            bytes: Vec::with_capacity(usize::try_from(reserve).unwrap_or(0)),
            hasher: Sha256::new(),
        })
    }

    fn too_large(name: &str, digest: &str, limit: u64, size: Option<u64>) -> OciError {
        OciError::TooLarge {
            reference: name.to_string(),
            what: format!("blob {digest}"),
            limit,
            size,
        }
    }

    /// Refuses a `Content-Length` over the limit before the body is read.
    fn announce(&self, content_length: Option<u64>) -> Result<(), OciError> {
        match content_length {
            Some(n) if n > self.limit => Err(Self::too_large(
                &self.name,
                &self.expected,
                self.limit,
                Some(n),
            )),
            _ => Ok(()),
        }
    }

    /// Adds a chunk, refusing it when the total would pass the limit.
    fn push(&mut self, chunk: &[u8]) -> Result<(), OciError> {
        if self.bytes.len() as u64 + chunk.len() as u64 > self.limit {
            return Err(Self::too_large(
                &self.name,
                &self.expected,
                self.limit,
                None,
            ));
        }
        self.hasher.update(chunk);
        self.bytes.extend_from_slice(chunk);
        Ok(())
    }

    /// The bytes, when they hash to the expected digest.
    fn finish(self) -> Result<Vec<u8>, OciError> {
        let actual = format!("sha256:{}", hex::encode(self.hasher.finalize()));
        if actual != self.expected {
            return Err(OciError::DigestMismatch {
                reference: self.name,
                expected: self.expected,
                actual,
            });
        }
        Ok(self.bytes)
    }
}

/// An error with its sources, `a: b: c`.
fn error_chain(e: &dyn std::error::Error) -> String {
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

/// Maps an `oci-client` error by its variant, HTTP status and registry error codes.
fn classify(name: &str, e: OciDistributionError) -> OciError {
    let reference = name.to_string();
    let auth = |status: Option<u16>, message: String| OciError::Authentication {
        reference: reference.clone(),
        status,
        message,
    };
    let by_status = |status: u16, message: String| match status {
        401 | 403 => OciError::Authentication {
            reference: reference.clone(),
            status: Some(status),
            message,
        },
        404 => OciError::NotFound {
            reference: reference.clone(),
            message,
        },
        _ => OciError::Registry {
            reference: reference.clone(),
            status: Some(status),
            message,
        },
    };
    match e {
        OciDistributionError::UnauthorizedError { url } => {
            auth(Some(401), format!("{url}: HTTP 401 Unauthorized"))
        }
        OciDistributionError::AuthenticationFailure(reason) => auth(
            None,
            format!("the token request was refused: {}", reason.trim()),
        ),
        OciDistributionError::RegistryError { envelope, url } => {
            let codes: Vec<&OciErrorCode> = envelope.errors.iter().map(|e| &e.code).collect();
            let said: Vec<String> = envelope
                .errors
                .iter()
                .map(|e| match e.message.trim() {
                    "" => format!("{:?}", e.code),
                    m => m.to_string(),
                })
                .collect();
            let message = format!("{url}: {}", said.join("; "));
            if codes
                .iter()
                .any(|c| matches!(c, OciErrorCode::Unauthorized | OciErrorCode::Denied))
            {
                auth(None, message)
            } else if codes.iter().any(|c| {
                matches!(
                    c,
                    OciErrorCode::ManifestUnknown
                        | OciErrorCode::NameUnknown
                        | OciErrorCode::BlobUnknown
                        | OciErrorCode::NotFound
                )
            }) {
                OciError::NotFound { reference, message }
            } else {
                OciError::Registry {
                    reference,
                    status: None,
                    message,
                }
            }
        }
        OciDistributionError::ServerError { code, url, message } => {
            let message = format!("{url}: HTTP {code}: {}", short(&message));
            by_status(code, message)
        }
        OciDistributionError::RequestError(err) => match err.status() {
            Some(status) => by_status(status.as_u16(), error_chain(&err)),
            None => OciError::Transport {
                reference,
                message: error_chain(&err),
            },
        },
        OciDistributionError::DigestError(DigestError::VerificationError { expected, actual }) => {
            OciError::DigestMismatch {
                reference,
                expected,
                actual,
            }
        }
        OciDistributionError::IoError(err) => classify_io(name, err),
        OciDistributionError::UnsupportedMediaTypeError(found) => OciError::UnexpectedMediaType {
            reference,
            found,
            expected: format!("{OCI_MANIFEST_MEDIA_TYPE} or {DOCKER_MANIFEST_MEDIA_TYPE}"),
        },
        OciDistributionError::JsonError(e) => OciError::Registry {
            reference,
            status: None,
            message: format!("the registry's answer is not the JSON expected: {e}"),
        },
        e @ (OciDistributionError::ManifestParsingError(_)
        | OciDistributionError::VersionedParsingError(_)
        | OciDistributionError::ManifestEncodingError(_)
        | OciDistributionError::UnsupportedSchemaVersionError(_)) => OciError::InvalidManifest {
            reference,
            message: e.to_string(),
        },
        other => OciError::Registry {
            reference,
            status: None,
            message: error_chain(&other),
        },
    }
}

/// Maps an I/O error of a body stream: a digest failure, an HTTP failure, or transport.
fn classify_io(name: &str, err: std::io::Error) -> OciError {
    if let Some(inner) = err.get_ref() {
        if let Some(DigestError::VerificationError { expected, actual }) =
            inner.downcast_ref::<DigestError>()
        {
            return OciError::DigestMismatch {
                reference: name.to_string(),
                expected: expected.clone(),
                actual: actual.clone(),
            };
        }
        if let Some(req) = inner.downcast_ref::<reqwest::Error>()
            && req.status().is_none()
        {
            return OciError::Transport {
                reference: name.to_string(),
                message: error_chain(req),
            };
        }
    }
    OciError::Transport {
        reference: name.to_string(),
        message: error_chain(&err),
    }
}

/// A registry's error body, cut to a readable length.
fn short(message: &str) -> String {
    let message = message.trim();
    match message.char_indices().nth(300) {
        Some((i, _)) => format!("{}...", &message[..i]),
        None => message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> OciUrl {
        OciUrl::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn urls_name_a_host_and_a_repository() {
        let u = url("oci://ghcr.io/org/app");
        assert_eq!((u.registry(), u.repository()), ("ghcr.io", "org/app"));
        assert_eq!(u.to_string(), "oci://ghcr.io/org/app");
        let u = url("oci://127.0.0.1:5000/a/b-c/d.e_f__g");
        assert_eq!(
            (u.registry(), u.repository()),
            ("127.0.0.1:5000", "a/b-c/d.e_f__g")
        );
        let u = url("oci://[::1]:5000/app");
        assert_eq!(u.registry(), "[::1]:5000");
        let u = url("oci://localhost/x--y");
        assert_eq!(u.repository(), "x--y");
    }

    #[test]
    fn bad_urls_are_refused_naming_the_input_and_the_reason() {
        for (input, reason) in [
            ("ghcr.io/org/app", "must start with oci://"),
            ("https://ghcr.io/org/app", "must start with oci://"),
            ("oci://ghcr.io", "no repository"),
            ("oci://ghcr.io/", "the repository is empty"),
            ("oci:///app", "the host is empty"),
            ("oci://ghcr.io/Org/app", "component \"Org\""),
            ("oci://ghcr.io/org//app", "component \"\""),
            ("oci://ghcr.io/org/app-", "component \"app-\""),
            ("oci://ghcr.io/a..b", "component \"a..b\""),
            ("oci://gh_cr.io/app", "not a valid host name"),
            ("oci://ghcr.io:0/app", "port \"0\""),
            ("oci://ghcr.io:99999/app", "port \"99999\""),
            ("oci://ghcr.io:/app", "port \"\""),
            ("oci://[zz]:1/app", "not a valid IPv6 address"),
            (
                "oci://ghcr.io/org/app:v1",
                "must not contain a tag (found \":v1\")",
            ),
            ("oci://127.0.0.1:5000/app:latest", "must not contain a tag"),
            (
                &format!("oci://ghcr.io/app@sha256:{}", "a".repeat(64)),
                "must not contain a digest",
            ),
        ] {
            let err = OciUrl::parse(input).expect_err(input).to_string();
            assert!(err.contains(&format!("{input:?}")), "{input}: {err}");
            assert!(err.contains(reason), "{input}: {err}");
        }
    }

    #[test]
    fn references_carry_an_optional_tag_or_digest() -> Result<(), OciError> {
        let r = OciReference::parse("oci://127.0.0.1:5000/org/app:v1.2.3")?;
        assert_eq!(r.url, url("oci://127.0.0.1:5000/org/app"));
        assert_eq!(r.selector, Some(Selector::Tag("v1.2.3".into())));
        assert_eq!(r.to_string(), "oci://127.0.0.1:5000/org/app:v1.2.3");
        let r = OciReference::parse("oci://127.0.0.1:5000/org/app")?;
        assert_eq!(r.selector, None);
        let digest = format!("sha256:{}", "0123456789abcdef".repeat(4));
        let r = OciReference::parse(&format!("oci://ghcr.io/app@{digest}"))?;
        assert_eq!(r.selector, Some(Selector::Digest(digest.clone())));
        assert_eq!(r.to_string(), format!("oci://ghcr.io/app@{digest}"));
        for bad in [
            "oci://ghcr.io/app:",
            "oci://ghcr.io/app:-x",
            "oci://ghcr.io/app:a/b",
            "oci://ghcr.io/app@sha256:abc",
            "oci://ghcr.io/app@sha512:abc",
            &format!("oci://ghcr.io/app:{}", "t".repeat(129)),
            &format!("oci://ghcr.io/app@sha256:{}", "A".repeat(64)),
        ] {
            assert!(OciReference::parse(bad).is_err(), "{bad}");
        }
        assert!(Selector::Tag("ok_1.0-rc".into()).validate().is_ok());
        assert!(Selector::Tag(".hidden".into()).validate().is_err());
        Ok(())
    }

    fn docker_config(auths: &str) -> Vec<u8> {
        format!("{{\"auths\":{auths}}}").into_bytes()
    }

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    fn basic(u: &str, p: &str) -> RegistryAuth {
        RegistryAuth::Basic {
            username: u.into(),
            password: p.into(),
        }
    }

    #[test]
    fn docker_config_entries_are_found_as_docker_finds_them() -> Result<(), String> {
        let config = docker_config(&format!(
            r#"{{"https://ghcr.io/v1/":{{"auth":"{}"}},"127.0.0.1:5000":{{"username":"u","password":"p:q"}},
               "https://index.docker.io/v1/":{{"auth":"{}"}},"exact.io/v2":{{"auth":"{}"}},"exact.io":{{"auth":"{}"}}}}"#,
            b64("gh:pw:with:colons"),
            b64("hub:pw"),
            b64("wrong:pw"),
            b64("right:pw"),
        ));
        let find = |host: &str| RegistryAuth::from_docker_config_json(&config, host);
        assert_eq!(find("ghcr.io")?, basic("gh", "pw:with:colons"));
        assert_eq!(find("GHCR.io")?, basic("gh", "pw:with:colons"));
        assert_eq!(find("127.0.0.1:5000")?, basic("u", "p:q"));
        for hub in DOCKER_HUB {
            assert_eq!(find(hub)?, basic("hub", "pw"), "{hub}");
        }
        // An exact key wins over one that only normalises to the host.
        assert_eq!(find("exact.io")?, basic("right", "pw"));
        // A port is part of the host.
        let err = find("127.0.0.1:5001").expect_err("other port");
        assert!(err.contains("no credentials for 127.0.0.1:5001"), "{err}");
        assert!(err.contains("https://ghcr.io/v1/"), "{err}");
        // The user's own config: no entry means anonymous, not an error.
        assert_eq!(
            RegistryAuth::find_in_docker_config(&config, "other.io")?,
            None
        );
        assert_eq!(
            RegistryAuth::find_in_docker_config(&config, "ghcr.io")?,
            Some(basic("gh", "pw:with:colons"))
        );
        Ok(())
    }

    #[test]
    fn docker_config_auth_wins_and_tokens_are_read() -> Result<(), String> {
        let config = docker_config(&format!(
            r#"{{"a.io":{{"auth":"{}","username":"x","password":"y"}},"b.io":{{"registrytoken":"tok"}},
               "c.io":{{"auth":"{}"}}}}"#,
            b64("user:pass"),
            base64::engine::general_purpose::STANDARD_NO_PAD.encode("np:pw"),
        ));
        assert_eq!(
            RegistryAuth::from_docker_config_json(&config, "a.io")?,
            basic("user", "pass")
        );
        assert_eq!(
            RegistryAuth::from_docker_config_json(&config, "b.io")?,
            RegistryAuth::Bearer {
                token: "tok".into()
            }
        );
        assert_eq!(
            RegistryAuth::from_docker_config_json(&config, "c.io")?,
            basic("np", "pw")
        );
        Ok(())
    }

    #[test]
    fn bad_docker_configs_say_what_is_wrong_without_the_secret() {
        let secret = "s3cr3t-value";
        for (config, host, expected) in [
            (b"not json".to_vec(), "a.io", "not valid JSON".to_string()),
            (
                docker_config(r#"{"a.io":{"username":"u","password":987654321}}"#),
                "a.io",
                "a value of the wrong type (line 1".to_string(),
            ),
            (b"{}".to_vec(), "a.io", "no \"auths\"".to_string()),
            (docker_config("{}"), "a.io", "(it has: none)".to_string()),
            (
                docker_config(&format!(r#"{{"a.io":{{"auth":"{secret}!"}}}}"#)),
                "a.io",
                "not valid base64".to_string(),
            ),
            (
                docker_config(&format!(r#"{{"a.io":{{"auth":"{}"}}}}"#, b64(secret))),
                "a.io",
                "not base64 of <username>:<password>".to_string(),
            ),
            (
                docker_config(&format!(r#"{{"a.io":{{"identitytoken":"{secret}"}}}}"#)),
                "a.io",
                "identitytoken".to_string(),
            ),
            (
                docker_config(&format!(r#"{{"a.io":{{"password":"{secret}"}}}}"#)),
                "a.io",
                "neither".to_string(),
            ),
        ] {
            let err = RegistryAuth::from_docker_config_json(&config, host).expect_err(&expected);
            assert!(err.contains(&expected), "{err}");
            assert!(!err.contains(secret) && !err.contains("987654321"), "{err}");
        }
    }

    #[test]
    fn credentials_are_redacted_in_debug_output() {
        let shown = format!(
            "{:?} {:?}",
            basic("me", "hunter2"),
            RegistryAuth::Bearer {
                token: "tok3n".into()
            }
        );
        assert!(shown.contains("me"), "{shown}");
        assert!(
            !shown.contains("hunter2") && !shown.contains("tok3n"),
            "{shown}"
        );
    }

    fn digest_of(b: &[u8]) -> String {
        sha256_digest(b)
    }

    #[test]
    fn blobs_over_the_limit_are_refused_before_and_while_reading() {
        let d = digest_of(b"0123456789");
        // Declared too large: refused before any request.
        let err = BoundedBlob::new("r", &d, 11, 10).err();
        assert!(
            matches!(
                err,
                Some(OciError::TooLarge {
                    limit: 10,
                    size: Some(11),
                    ..
                })
            ),
            "{err:?}"
        );
        // Announced too large.
        let blob = BoundedBlob::new("r", &d, 10, 10).expect("fits");
        assert!(matches!(
            blob.announce(Some(1 << 40)),
            Err(OciError::TooLarge {
                size: Some(1099511627776),
                ..
            })
        ));
        assert!(blob.announce(Some(10)).is_ok() && blob.announce(None).is_ok());
        // A registry that sends more than it declared is cut off at the limit.
        let mut blob = BoundedBlob::new("r", &d, 4, 10).expect("fits");
        assert!(blob.push(b"01234").is_ok());
        assert!(blob.push(b"56789").is_ok());
        let err = blob.push(b"x").err();
        assert!(
            matches!(err, Some(OciError::TooLarge { size: None, .. })),
            "{err:?}"
        );
    }

    #[test]
    fn blobs_are_verified_against_their_digest() {
        let d = digest_of(b"hello");
        let mut blob = BoundedBlob::new("oci://r/x@d", &d, 5, 100).expect("fits");
        assert!(blob.push(b"hel").is_ok() && blob.push(b"lo").is_ok());
        assert_eq!(blob.finish().ok(), Some(b"hello".to_vec()));
        let mut blob = BoundedBlob::new("oci://r/x@d", &d, 5, 100).expect("fits");
        assert!(blob.push(b"jello").is_ok());
        match blob.finish() {
            Err(OciError::DigestMismatch {
                expected, actual, ..
            }) => {
                assert_eq!(expected, d);
                assert_eq!(actual, digest_of(b"jello"));
            }
            other => panic!("{other:?}"),
        }
        // Only sha256 digests can be verified.
        let err = BoundedBlob::new("r", "sha512:abcd", 1, 10).err();
        assert!(
            matches!(err, Some(OciError::InvalidManifest { .. })),
            "{err:?}"
        );
    }

    #[test]
    fn flux_artifacts_have_flux_media_types_and_the_given_annotations() {
        let annotations = BTreeMap::from([
            (ANNOTATION_SOURCE.to_string(), "https://git/x".to_string()),
            (ANNOTATION_REVISION.to_string(), "main@sha1:abc".to_string()),
            (
                ANNOTATION_CREATED.to_string(),
                "2024-01-02T03:04:05Z".to_string(),
            ),
        ]);
        let artifact = Artifact::flux(b"layer".to_vec(), annotations.clone());
        let (bytes, digest) = artifact.manifest();
        assert_eq!(digest, digest_of(&bytes));
        let resolved = parse_manifest("r", &bytes).expect("own manifest parses");
        assert_eq!(resolved.digest, digest);
        assert_eq!(resolved.media_type, OCI_MANIFEST_MEDIA_TYPE);
        assert_eq!(resolved.config.media_type, FLUX_CONFIG_MEDIA_TYPE);
        assert_eq!(resolved.config.digest, digest_of(b"{}"));
        assert_eq!(resolved.layers.len(), 1);
        assert_eq!(resolved.layers[0].media_type, FLUX_CONTENT_MEDIA_TYPE);
        assert_eq!(resolved.layers[0].digest, digest_of(b"layer"));
        assert_eq!(resolved.layers[0].size, 5);
        assert_eq!(resolved.annotations, annotations);
        // The same artifact always gives the same manifest.
        assert_eq!(
            Artifact::flux(b"layer".to_vec(), annotations).manifest().1,
            digest
        );
        let helm = Artifact::helm_chart(
            b"{}".to_vec(),
            b"tgz".to_vec(),
            Some(b"prov".to_vec()),
            BTreeMap::new(),
        );
        let resolved = parse_manifest("r", &helm.manifest().0).expect("parses");
        assert_eq!(resolved.config.media_type, HELM_CONFIG_MEDIA_TYPE);
        let types: Vec<_> = resolved
            .layers
            .iter()
            .map(|l| l.media_type.as_str())
            .collect();
        assert_eq!(
            types,
            [HELM_CHART_CONTENT_MEDIA_TYPE, HELM_PROVENANCE_MEDIA_TYPE]
        );
        assert!(resolved.annotations.is_empty());
    }

    #[test]
    fn indexes_and_other_manifests_are_typed_errors() {
        let index = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#;
        assert!(matches!(
            parse_manifest("r", index),
            Err(OciError::ImageIndex { media_type, .. }) if media_type == OCI_INDEX_MEDIA_TYPE
        ));
        let untyped_index = br#"{"schemaVersion":2,"manifests":[]}"#;
        assert!(matches!(
            parse_manifest("r", untyped_index),
            Err(OciError::ImageIndex { .. })
        ));
        let list = format!(
            r#"{{"schemaVersion":2,"mediaType":"{DOCKER_MANIFEST_LIST_MEDIA_TYPE}","manifests":[]}}"#
        );
        assert!(matches!(
            parse_manifest("r", list.as_bytes()),
            Err(OciError::ImageIndex { .. })
        ));
        let v1 = br#"{"schemaVersion":1,"mediaType":"application/vnd.docker.distribution.manifest.v1+prettyjws"}"#;
        assert!(matches!(
            parse_manifest("r", v1),
            Err(OciError::UnexpectedMediaType { found, .. }) if found.contains("v1+prettyjws")
        ));
        assert!(matches!(
            parse_manifest("r", b"{"),
            Err(OciError::InvalidManifest { .. })
        ));
        let no_config = br#"{"schemaVersion":2,"layers":[]}"#;
        assert!(matches!(
            parse_manifest("r", no_config),
            Err(OciError::InvalidManifest { .. })
        ));
        let negative = br#"{"schemaVersion":2,"config":{"mediaType":"a","digest":"sha256:x","size":-1},"layers":[]}"#;
        assert!(matches!(
            parse_manifest("r", negative),
            Err(OciError::InvalidManifest { .. })
        ));
        let docker = format!(
            r#"{{"schemaVersion":2,"mediaType":"{DOCKER_MANIFEST_MEDIA_TYPE}","config":{{"mediaType":"c","digest":"sha256:x","size":1}},"layers":[]}}"#
        );
        assert_eq!(
            parse_manifest("r", docker.as_bytes())
                .map(|m| m.media_type)
                .ok(),
            Some(DOCKER_MANIFEST_MEDIA_TYPE.to_string())
        );
    }

    #[test]
    fn errors_are_classified_by_status_and_code_never_by_text() {
        let name = "oci://127.0.0.1:401/app:403";
        let server = |code: u16, message: &str| OciDistributionError::ServerError {
            code,
            url: "http://127.0.0.1:401/v2/app/manifests/403".into(),
            message: message.into(),
        };
        assert!(matches!(
            classify(name, server(401, "")),
            OciError::Authentication {
                status: Some(401),
                ..
            }
        ));
        assert!(matches!(
            classify(name, server(403, "denied")),
            OciError::Authentication {
                status: Some(403),
                ..
            }
        ));
        assert!(matches!(
            classify(name, server(404, "unauthorized 401")),
            OciError::NotFound { .. }
        ));
        // A port or tag that reads like a status changes nothing.
        let e = classify(name, server(500, "401 403 unauthorized"));
        assert!(
            matches!(
                e,
                OciError::Registry {
                    status: Some(500),
                    ..
                }
            ),
            "{e:?}"
        );
        assert!(e.is_transient());
        let e = classify(name, server(400, "bad"));
        assert!(!e.is_transient());
        assert!(matches!(
            classify(
                name,
                OciDistributionError::UnauthorizedError { url: "u".into() }
            ),
            OciError::Authentication {
                status: Some(401),
                ..
            }
        ));
        let envelope = |code: &str| {
            let body = format!(r#"{{"errors":[{{"code":"{code}","message":"m"}}]}}"#);
            OciDistributionError::RegistryError {
                envelope: serde_json::from_str(&body).expect("envelope"),
                url: "u".into(),
            }
        };
        assert!(matches!(
            classify(name, envelope("DENIED")),
            OciError::Authentication { .. }
        ));
        assert!(matches!(
            classify(name, envelope("UNAUTHORIZED")),
            OciError::Authentication { .. }
        ));
        for code in ["MANIFEST_UNKNOWN", "NAME_UNKNOWN", "BLOB_UNKNOWN"] {
            assert!(
                matches!(classify(name, envelope(code)), OciError::NotFound { .. }),
                "{code}"
            );
        }
        assert!(matches!(
            classify(name, envelope("SIZE_INVALID")),
            OciError::Registry { .. }
        ));
        let digest = OciDistributionError::DigestError(DigestError::VerificationError {
            expected: "sha256:a".into(),
            actual: "sha256:b".into(),
        });
        assert!(matches!(
            classify(name, digest),
            OciError::DigestMismatch { .. }
        ));
        let io = std::io::Error::other(DigestError::VerificationError {
            expected: "sha256:a".into(),
            actual: "sha256:b".into(),
        });
        assert!(matches!(
            classify_io(name, io),
            OciError::DigestMismatch { .. }
        ));
        let e = classify(
            name,
            OciDistributionError::AuthenticationFailure("no".into()),
        );
        assert!(matches!(e, OciError::Authentication { status: None, .. }));
        assert!(e.to_string().contains(name), "{e}");
    }

    #[test]
    fn a_client_identity_or_a_ca_without_certificates_is_refused() {
        let opts = RegistryOptions {
            client_identity: Some((b"cert".to_vec(), b"key".to_vec())),
            ..RegistryOptions::default()
        };
        assert!(matches!(
            RegistryClient::new(&opts),
            Err(OciError::Unsupported { .. })
        ));
        let opts = RegistryOptions {
            ca_pem: Some(b"not a certificate".to_vec()),
            ..RegistryOptions::default()
        };
        assert!(matches!(
            RegistryClient::new(&opts),
            Err(OciError::InvalidOptions { .. })
        ));
        assert!(RegistryClient::new(&RegistryOptions::default()).is_ok());
    }

    #[test]
    fn created_is_rfc3339_utc_in_whole_seconds() {
        let now = created_now();
        assert_eq!(now.len(), 20, "{now}");
        assert!(now.ends_with('Z') && now.as_bytes()[10] == b'T', "{now}");
    }
}
