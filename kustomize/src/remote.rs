//! Remote targets: `resources`, `bases` and `components` entries that name a Git repository
//! (`https://github.com/org/repo//path?ref=v1`, `git@github.com:org/repo.git//path`,
//! `ssh://...`, `github.com/org/repo/path`, `git::https://...`) or an HTTP(S) URL of a single
//! file, recognised as Kustomize v5 recognises them.
//!
//! The engine stays pure: parsing happens here, fetching behind the [`RemoteLoader`] trait the
//! caller passes in (Weir's is `weir-remote`, with gix). A fetched repository comes back as a
//! read-only [`FileSystem`] rooted at the repository, and the remote kustomization is built
//! confined to it, like a local one to its root. Remote kustomizations may name remote
//! targets in turn, at most [`MAX_REMOTE_DEPTH`] deep and [`MAX_REMOTES`] per build.

use std::cell::Cell;
use std::time::Duration;

use crate::fs::FileSystem;

/// Remote kustomizations nested inside each other (a remote base whose base is remote, ...)
/// more deeply than this fail the build.
pub const MAX_REMOTE_DEPTH: usize = 5;

/// Remote entries (Git repositories and file URLs, repeats counted) one build may load.
pub const MAX_REMOTES: usize = 100;

/// Kustomize's fetch timeout when the URL gives no `timeout`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(27);

/// The largest `timeout` a URL may ask for; longer ones are cut to it.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(600);

/// What a remote entry names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A Git repository (and a directory in it).
    Git(RepoSpec),
    /// An `http://` or `https://` URL: a file when it answers with one, otherwise (as in
    /// Kustomize) the Git repository `repo` when the URL also reads as one.
    Http {
        /// The URL as written.
        url: String,
        /// The URL read as a Git repository, when it reads as one.
        repo: Option<RepoSpec>,
    },
}

/// A Git repository, a directory in it and how to fetch it.
#[derive(Clone, PartialEq, Eq)]
pub struct RepoSpec {
    /// What `git clone` is given: scheme, user, host and repository path
    /// (`https://github.com/org/repo`, `git@github.com:org/repo.git`).
    pub clone_url: String,
    /// The kustomization's directory in the repository, `/`-separated; empty for the root.
    pub path: String,
    /// The `ref` (or `version`) query parameter: a branch, tag or full commit hash. `None`
    /// fetches the remote's `HEAD`.
    pub reference: Option<String>,
    /// The `timeout` query parameter (default [`DEFAULT_TIMEOUT`], at most [`MAX_TIMEOUT`]).
    pub timeout: Duration,
    /// The `submodules` query parameter (default true).
    pub submodules: bool,
}

impl std::fmt::Debug for RepoSpec {
    // The clone URL may hold a password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RepoSpec")
            .field("clone_url", &redact(&self.clone_url))
            .field("path", &self.path)
            .field("reference", &self.reference)
            .field("timeout", &self.timeout)
            .field("submodules", &self.submodules)
            .finish()
    }
}

impl RepoSpec {
    /// How the repository is named in messages: the clone URL without its password, and the
    /// ref.
    pub fn display(&self) -> String {
        match &self.reference {
            Some(r) => format!("{}?ref={r}", redact(&self.clone_url)),
            None => redact(&self.clone_url),
        }
    }
}

/// Why a remote target could not be fetched. Messages name the URL (without its password);
/// the variant is the typed fact callers decide on, never the text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RemoteError {
    /// The HTTP(S) server answered with this status.
    #[error("{message}")]
    Status {
        /// The HTTP status code.
        status: u16,
        /// What happened, naming the URL.
        message: String,
    },
    /// The server refused the credentials (or asked for some and none were given).
    #[error("{0}")]
    Authentication(String),
    /// The repository has no such ref.
    #[error("{0}")]
    RefNotFound(String),
    /// The fetched tree or file exceeds a limit of the loader.
    #[error("{0}")]
    Limit(String),
    /// The loader does not fetch this kind of target (e.g. `file://` in a controller).
    #[error("{0}")]
    Refused(String),
    /// Anything else: unreachable host, TLS failure, timeout, protocol error.
    #[error("{0}")]
    Fetch(String),
}

/// Fetches remote targets for a build. Implementations bound what they fetch (time, bytes,
/// files) and return trees that cannot be written through.
pub trait RemoteLoader {
    /// The tree of `repo` at its ref, rooted at the repository's root (not at `repo.path`).
    ///
    /// # Errors
    /// See [`RemoteError`].
    fn repository(&self, repo: &RepoSpec) -> Result<Box<dyn FileSystem>, RemoteError>;

    /// The body of the HTTP(S) `url` (a 2xx answer).
    ///
    /// # Errors
    /// [`RemoteError::Status`] for any other answer; see [`RemoteError`].
    fn file(&self, url: &str) -> Result<Vec<u8>, RemoteError>;
}

/// Reads `entry` as a remote target: `None` for a local path, an error for an entry that
/// looks remote but is malformed (a path leaving the repository, an unsupported scheme).
///
/// # Errors
/// A remote-looking entry that names no repository.
pub fn parse(entry: &str) -> Option<Result<Target, String>> {
    let lower = entry.get(..8).unwrap_or(entry).to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        return Some(Ok(Target::Http {
            url: entry.to_string(),
            repo: parse_repo(entry).ok().flatten(),
        }));
    }
    match parse_repo(entry) {
        Ok(Some(repo)) => Some(Ok(Target::Git(repo))),
        Err(e) => Some(Err(e)),
        Ok(None) if entry.contains("://") => Some(Err(
            "unsupported URL scheme (use https://, http://, ssh:// or file://)".to_string(),
        )),
        Ok(None) => None,
    }
}

/// Reads `entry` as a Git repository spec as Kustomize v5 does: `Ok(None)` when it has no
/// scheme, user or GitHub host (a local path).
///
/// # Errors
/// An entry that is remote but names no repository path or leaves the repository.
pub fn parse_repo(entry: &str) -> Result<Option<RepoSpec>, String> {
    if entry.starts_with('/') {
        return Ok(None);
    }
    let (rest, query) = entry.split_once('?').unwrap_or((entry, ""));
    let (reference, timeout, submodules) = parse_query(query);
    let rest = strip_prefix_ci(rest, "git::").unwrap_or(rest);
    let (scheme, rest) = ["ssh://", "https://", "http://", "file://"]
        .iter()
        .find_map(|s| strip_prefix_ci(rest, s).map(|r| (*s, r)))
        .unwrap_or(("", rest));
    let (user, rest) = split_user(rest);
    let github = strip_prefix_ci(rest, "github.com/").is_some()
        || strip_prefix_ci(rest, "github.com:").is_some();
    let scp = scheme.is_empty() && (!user.is_empty() || github);
    if scheme.is_empty() && !scp {
        return Ok(None);
    }
    let (mut scheme, mut user, mut host, path) = if scheme == "file://" {
        (scheme, "", String::new(), format!("{user}{rest}"))
    } else {
        let slash = rest.find('/');
        let colon = rest.find(':').filter(|c| *c > 0);
        let sep = match (slash, colon) {
            (s, Some(c)) if scp && s.is_none_or(|s| c < s) => Some(c),
            (s, _) => s,
        };
        match sep {
            Some(i) => (
                scheme,
                user,
                rest[..=i].to_string(),
                rest[i + 1..].to_string(),
            ),
            None => (scheme, user, rest.to_string(), String::new()),
        }
    };
    if github {
        if scheme == "ssh://" || !user.is_empty() {
            scheme = "";
            host = "github.com:".to_string();
        } else {
            (scheme, user) = ("https://", "");
            host = "github.com/".to_string();
        }
    }
    if host.is_empty() && scheme != "file://" {
        return Err("the URL has no host".to_string());
    }
    let (repo, dir) = split_repo_path(&path, scheme == "file://")
        .ok_or_else(|| "the URL names no repository (org/repo)".to_string())?;
    if repo.is_empty() {
        return Err("the URL names no repository (org/repo)".to_string());
    }
    let dir = dir.trim_start_matches('/');
    if leaves_repo(dir) {
        return Err("the path leaves the repository".to_string());
    }
    Ok(Some(RepoSpec {
        clone_url: format!("{scheme}{user}{host}{repo}"),
        path: dir.trim_end_matches('/').to_string(),
        reference,
        timeout,
        submodules,
    }))
}

/// `s` without `prefix`, compared without regard to ASCII case.
fn strip_prefix_ci<'s>(s: &'s str, prefix: &str) -> Option<&'s str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// A leading `user@` (a letter, then letters, digits and `-`), and the rest.
fn split_user(s: &str) -> (&str, &str) {
    let Some(at) = s.find('@') else {
        return ("", s);
    };
    let name = &s[..at];
    let valid = name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if valid {
        (&s[..=at], &s[at + 1..])
    } else {
        ("", s)
    }
}

/// The repository part and the directory part of a URL path: split at Azure's `_git/<repo>`,
/// a `//`, the first `.git`, or else after `org/repo` (the whole path for `file://`).
fn split_repo_path(path: &str, file: bool) -> Option<(String, String)> {
    if let Some(i) = path.find("_git/") {
        let after = &path[i + "_git/".len()..];
        let (name, dir) = after.split_once('/').unwrap_or((after, ""));
        return Some((
            format!("{}{name}", &path[..i + "_git/".len()]),
            dir.to_string(),
        ));
    }
    if let Some(i) = path.find("//") {
        return Some((path[..i].to_string(), path[i + 2..].to_string()));
    }
    if let Some(i) = path.find(".git") {
        let end = i + ".git".len();
        return Some((path[..end].to_string(), path[end..].to_string()));
    }
    if file {
        return Some((path.to_string(), String::new()));
    }
    let mut parts = path.splitn(3, '/');
    let (org, repo) = (parts.next()?, parts.next()?);
    Some((
        format!("{org}/{repo}"),
        parts.next().unwrap_or("").to_string(),
    ))
}

/// True when the `/`-separated `dir`, cleaned, starts with `..`.
fn leaves_repo(dir: &str) -> bool {
    let mut depth = 0usize;
    for part in dir.split('/') {
        match part {
            "" | "." => {}
            ".." if depth == 0 => return true,
            ".." => depth -= 1,
            _ => depth += 1,
        }
    }
    false
}

/// `ref` (or `version`), `timeout` and `submodules` of a query string; defaults for all when
/// the query is malformed, as Go's `url.ParseQuery` failing gives.
fn parse_query(query: &str) -> (Option<String>, Duration, bool) {
    let defaults = (None, DEFAULT_TIMEOUT, true);
    let mut values: Vec<(String, String)> = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        if pair.contains(';') {
            return defaults;
        }
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let (Some(k), Some(v)) = (unescape(k), unescape(v)) else {
            return defaults;
        };
        values.push((k, v));
    }
    let get = |key: &str| {
        values
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    };
    let reference = get("ref").or_else(|| get("version")).map(str::to_string);
    let timeout = get("timeout")
        .and_then(parse_duration)
        .map_or(DEFAULT_TIMEOUT, |d| d.min(MAX_TIMEOUT));
    let submodules = get("submodules").and_then(parse_bool).unwrap_or(true);
    (reference, timeout, submodules)
}

/// Percent-decoding with `+` as a space; `None` for a bad escape or non-UTF-8 result.
fn unescape(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = s.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// A positive whole number of seconds, or a positive Go duration (`90s`, `1m30s`, `1.5h`,
/// `500ms`).
fn parse_duration(s: &str) -> Option<Duration> {
    if let Ok(n) = s.parse::<u64>() {
        return (n > 0).then(|| Duration::from_secs(n));
    }
    let mut rest = s.strip_prefix('+').unwrap_or(s);
    if rest.is_empty() || rest == "0" {
        return None;
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += number * scale;
    }
    (total > 0.0 && total.is_finite()).then(|| Duration::from_secs_f64(total.min(1e9)))
}

/// Go's `strconv.ParseBool`.
fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

/// `url` with the password of its user info (`user:password@`) replaced by `***`, for
/// messages.
pub fn redact(url: &str) -> String {
    let start = url.find("://").map_or(0, |i| i + 3);
    let authority_end = url[start..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| start + i);
    let authority = &url[start..authority_end];
    match authority.rfind('@') {
        Some(at) => match authority[..at].split_once(':') {
            Some((user, _)) => format!("{}{user}:***{}", &url[..start], &url[start + at..]),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

/// The remote side of one build: the loader, what has been fetched, and where in the chain
/// of remote trees a [`crate::Loader`] is.
#[derive(Clone)]
pub(crate) struct RemoteContext<'a> {
    /// `None`: remote entries are refused.
    pub(crate) loader: Option<&'a dyn RemoteLoader>,
    /// Remote entries loaded so far by the whole build.
    pub(crate) fetched: &'a Cell<usize>,
    /// In a remote tree: how its files are named in messages, `<repo>//<path><query>`.
    pub(crate) label: Option<(String, String)>,
    /// Remote trees above this one (0 for the local tree).
    pub(crate) depth: usize,
}

impl RemoteContext<'_> {
    /// Counts one more remote entry.
    ///
    /// # Errors
    /// Past [`MAX_REMOTES`], or deeper than [`MAX_REMOTE_DEPTH`].
    pub(crate) fn admit(&self) -> Result<(), String> {
        if self.depth >= MAX_REMOTE_DEPTH {
            return Err(format!(
                "remote kustomizations are nested more than {MAX_REMOTE_DEPTH} deep \
                 (MAX_REMOTE_DEPTH)"
            ));
        }
        let n = self.fetched.get() + 1;
        self.fetched.set(n);
        if n > MAX_REMOTES {
            return Err(format!(
                "more than {MAX_REMOTES} remote bases and resources in one build (MAX_REMOTES)"
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo(entry: &str) -> RepoSpec {
        match parse(entry) {
            Some(Ok(Target::Git(r))) => r,
            Some(Ok(Target::Http { repo: Some(r), .. })) => r,
            other => panic!("{entry}: {other:?}"),
        }
    }

    #[test]
    fn remote_forms_split_into_clone_url_path_and_ref() {
        // (entry, clone URL, path, ref)
        let cases: &[(&str, &str, &str, Option<&str>)] = &[
            (
                "https://github.com/org/repo//deploy/base?ref=v1",
                "https://github.com/org/repo",
                "deploy/base",
                Some("v1"),
            ),
            (
                "github.com/org/repo/deploy?ref=main",
                "https://github.com/org/repo",
                "deploy",
                Some("main"),
            ),
            (
                "github.com/org/repo",
                "https://github.com/org/repo",
                "",
                None,
            ),
            (
                "git@github.com:org/repo.git//path",
                "git@github.com:org/repo.git",
                "path",
                None,
            ),
            (
                "ssh://git@github.com/org/repo//a/b?version=v2",
                "git@github.com:org/repo",
                "a/b",
                Some("v2"),
            ),
            (
                "ssh://git@git.example.com:2222/org/repo.git/base",
                "ssh://git@git.example.com:2222/org/repo.git",
                "base",
                None,
            ),
            (
                "https://git.example.com:8443/org/repo.git//path?ref=abc&timeout=90&submodules=false",
                "https://git.example.com:8443/org/repo.git",
                "path",
                Some("abc"),
            ),
            (
                "git::https://gitlab.com/org/repo.git//base?ref=v1&version=v2",
                "https://gitlab.com/org/repo.git",
                "base",
                Some("v1"),
            ),
            (
                "https://dev.azure.com/org/project/_git/repo/path/to?ref=main",
                "https://dev.azure.com/org/project/_git/repo",
                "path/to",
                Some("main"),
            ),
            (
                "https://user:secret@git.example.com/repo.git//base",
                "https://user:secret@git.example.com/repo.git",
                "base",
                None,
            ),
            (
                "file:///srv/repos/app.git//overlay",
                "file:///srv/repos/app.git",
                "overlay",
                None,
            ),
            ("file:///srv/repos/app", "file:///srv/repos/app", "", None),
            (
                "deploy@git.example.com:org/repo//k8s/",
                "deploy@git.example.com:org/repo",
                "k8s",
                None,
            ),
        ];
        for (entry, clone, path, reference) in cases {
            let r = repo(entry);
            assert_eq!(r.clone_url, *clone, "{entry}");
            assert_eq!(r.path, *path, "{entry}");
            assert_eq!(r.reference.as_deref(), *reference, "{entry}");
        }
    }

    #[test]
    fn query_parameters_have_kustomize_defaults() {
        let r = repo("https://example.com/org/repo.git");
        assert_eq!((r.timeout, r.submodules), (DEFAULT_TIMEOUT, true));
        let r = repo("https://example.com/org/repo.git?timeout=90&submodules=false");
        assert_eq!((r.timeout, r.submodules), (Duration::from_secs(90), false));
        let r = repo("https://example.com/org/repo.git?timeout=1m30s&submodules=0");
        assert_eq!((r.timeout, r.submodules), (Duration::from_secs(90), false));
        let r = repo("https://example.com/org/repo.git?timeout=-5&submodules=maybe");
        assert_eq!((r.timeout, r.submodules), (DEFAULT_TIMEOUT, true));
        let r = repo("https://example.com/org/repo.git?timeout=1000h");
        assert_eq!(r.timeout, MAX_TIMEOUT, "bounded");
        let r = repo("https://example.com/org/repo.git?ref=a%2Fb&timeout=%zz");
        assert_eq!(r.reference, None, "a malformed query gives the defaults");
        let r = repo("https://example.com/org/repo.git?ref=feature%2Fx");
        assert_eq!(r.reference.as_deref(), Some("feature/x"));
    }

    #[test]
    fn local_paths_are_not_remote() {
        for entry in [
            "base",
            "../base",
            "./deploy.yaml",
            "gitlab.com/org/repo",
            "/abs/path",
            "dir/with?query",
            "a:b",
        ] {
            assert!(parse(entry).is_none(), "{entry}: {:?}", parse(entry));
        }
    }

    #[test]
    fn http_urls_are_files_that_may_also_be_repositories() {
        match parse("https://raw.githubusercontent.com/org/repo/v1/deploy.yaml") {
            Some(Ok(Target::Http { url, repo: Some(r) })) => {
                assert_eq!(
                    url,
                    "https://raw.githubusercontent.com/org/repo/v1/deploy.yaml"
                );
                assert_eq!(r.clone_url, "https://raw.githubusercontent.com/org/repo");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            parse("HTTP://example.com/a.yaml"),
            Some(Ok(Target::Http { .. }))
        ));
        assert!(matches!(
            parse("https://example.com/a.yaml"),
            Some(Ok(Target::Http { repo: None, .. }))
        ));
    }

    #[test]
    fn malformed_remote_entries_are_errors_without_passwords() {
        for (entry, want) in [
            (
                "https://github.com/org/repo//../../etc",
                "leaves the repository",
            ),
            ("ftp://example.com/org/repo", "unsupported URL scheme"),
            ("git@github.com:org", "names no repository"),
            (
                "https://u:hunter2@example.com/org/repo.git//../x",
                "leaves the repository",
            ),
        ] {
            let err = match parse(entry) {
                Some(Err(e)) => e,
                Some(Ok(Target::Http { repo: None, .. })) => {
                    // An http URL that is no repository is still a file URL.
                    match parse_repo(entry) {
                        Err(e) => e,
                        other => panic!("{entry}: {other:?}"),
                    }
                }
                other => panic!("{entry}: {other:?}"),
            };
            assert!(err.contains(want), "{entry}: {err}");
            assert!(!err.contains("hunter2"), "{err}");
        }
    }

    #[test]
    fn redaction_keeps_the_user_and_drops_the_password() {
        assert_eq!(
            redact("https://weir:pw@127.0.0.1:8443/repo.git//base?ref=main"),
            "https://weir:***@127.0.0.1:8443/repo.git//base?ref=main"
        );
        assert_eq!(redact("git@github.com:org/repo"), "git@github.com:org/repo");
        assert_eq!(redact("https://example.com/a@b"), "https://example.com/a@b");
        let r = repo("https://weir:pw@example.com/repo.git?ref=v1");
        assert_eq!(r.display(), "https://weir:***@example.com/repo.git?ref=v1");
        assert!(!format!("{r:?}").contains("pw@"));
    }

    #[test]
    fn durations_read_like_go() {
        assert_eq!(parse_duration("61"), Some(Duration::from_secs(61)));
        assert_eq!(parse_duration("61s"), Some(Duration::from_secs(61)));
        assert_eq!(parse_duration("1h2m"), Some(Duration::from_secs(3720)));
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("0"), None);
        assert_eq!(parse_duration("5x"), None);
        assert_eq!(parse_duration(""), None);
    }
}
