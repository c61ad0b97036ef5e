//! weir-remote: the [`RemoteLoader`] of `weir build kustomization` and kustomize-controller.
//! It fetches the Git repositories of Kustomize remote bases with gix (shallow, one ref, over
//! HTTPS with rustls, SSH through the `ssh` program, `file://` only when allowed) and the files
//! of HTTP(S) URLs with reqwest, into a cache directory, and hands the engine a read-only
//! [`DiskFs`] rooted at the fetched tree.
//!
//! Cache layout under [`Options::cache_dir`]: `git/<sha256(clone URL)>` is a bare repository
//! holding the fetched objects of one URL; `trees/<sha256(clone URL, commit)>` is the checked
//! out tree of one commit, written to a temporary directory and renamed into place once
//! complete, never changed afterwards. Within one loader a URL and ref is fetched once; a
//! full commit hash already in the cache is not fetched again.
//!
//! Everything is bounded ([`Limits`]): the time of each fetch (the URL's `timeout`, capped),
//! the files and bytes of a tree (checked from object headers before any blob is read), the
//! depth of its directories, and the size of a fetched file. Only directories and regular
//! files are checked out: symlinks and submodules are left out.

use std::collections::HashMap;
use std::io::Read;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gix::bstr::ByteSlice;
use gix::remote::Direction;
use sha2::{Digest, Sha256};
use weir_kustomize::remote::redact;
use weir_kustomize::{DiskFs, FileSystem, RemoteError, RemoteLoader, RepoSpec};

/// Bounds on what one loader fetches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Files and directories in one checked-out tree.
    pub max_files: u64,
    /// Bytes of the regular files of one checked-out tree.
    pub max_bytes: u64,
    /// Bytes of one file fetched from an HTTP(S) URL.
    pub max_file_bytes: u64,
    /// Directories nested in a tree.
    pub max_depth: usize,
    /// Time to establish a connection (also bounded by the URL's `timeout`).
    pub connect_timeout: Duration,
    /// The longest a fetch may take, whatever `timeout` the URL asks for.
    pub max_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_files: 20_000,
            max_bytes: 128 * 1024 * 1024,
            max_file_bytes: 16 * 1024 * 1024,
            max_depth: 64,
            connect_timeout: Duration::from_secs(15),
            max_timeout: Duration::from_secs(300),
        }
    }
}

/// How a [`GitLoader`] fetches.
#[derive(Clone, Default)]
pub struct Options {
    /// Where repositories and trees are kept (created when missing).
    pub cache_dir: PathBuf,
    /// Bounds.
    pub limits: Limits,
    /// PEM certificates trusted for HTTPS besides the system's.
    pub ca_pem: Option<Vec<u8>>,
    /// Whether `file://` repositories (on this machine) may be fetched. Off in controllers:
    /// a pushed kustomization must not read the controller's disk.
    pub allow_file_urls: bool,
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("cache_dir", &self.cache_dir)
            .field("limits", &self.limits)
            .field("ca_pem", &self.ca_pem.is_some())
            .field("allow_file_urls", &self.allow_file_urls)
            .finish()
    }
}

/// Fetches remote targets with gix and reqwest (see the crate docs). Blocking: call it from
/// a thread that may block (e.g. `spawn_blocking`).
pub struct GitLoader {
    options: Options,
    /// Trees already fetched by this loader, by clone URL and ref.
    fetched: Mutex<HashMap<(String, Option<String>), PathBuf>>,
}

impl GitLoader {
    /// A loader caching under `options.cache_dir`.
    pub fn new(options: Options) -> Self {
        // reqwest is built without a default TLS provider: rustls with ring, as elsewhere.
        let _ = rustls::crypto::ring::default_provider().install_default();
        Self {
            options,
            fetched: Mutex::new(HashMap::new()),
        }
    }

    fn timeout(&self, repo_timeout: Duration) -> Duration {
        repo_timeout.min(self.options.limits.max_timeout)
    }

    /// The checked-out tree of `repo`, fetching what is missing.
    fn tree(&self, repo: &RepoSpec) -> Result<PathBuf, RemoteError> {
        let url = repo.clone_url.as_str();
        let shown = repo.display();
        if url.len() > 4096 || repo.reference.as_ref().is_some_and(|r| r.len() > 1024) {
            return Err(RemoteError::Refused(format!(
                "{shown}: URL or ref too long"
            )));
        }
        if strip_ci(url, "file://").is_some() && !self.options.allow_file_urls {
            return Err(RemoteError::Refused(format!(
                "{shown}: file:// repositories are not fetched here"
            )));
        }
        let cache = &self.options.cache_dir;
        let git_dir = cache.join("git").join(digest(&[url]));
        let session = Session::open(&git_dir).map_err(|e| fetch_failed(&shown, &e))?;
        let pinned = repo
            .reference
            .as_deref()
            .filter(|r| r.len() == 40 && r.bytes().all(|b| b.is_ascii_hexdigit()))
            .and_then(|r| gix::ObjectId::from_hex(r.as_bytes()).ok())
            .filter(|id| session.commit_of(*id).is_some());
        let commit = match pinned {
            Some(id) => id,
            None => session.fetch(repo, &shown, self.timeout(repo.timeout), &self.options)?,
        };
        let tree_dir = cache
            .join("trees")
            .join(digest(&[url, &commit.to_string()]));
        if !tree_dir.is_dir() {
            session.checkout(commit, &tree_dir, &self.options.limits, &shown)?;
        }
        Ok(tree_dir)
    }
}

impl RemoteLoader for GitLoader {
    fn repository(&self, repo: &RepoSpec) -> Result<Box<dyn FileSystem>, RemoteError> {
        let key = (repo.clone_url.clone(), repo.reference.clone());
        let known = self.fetched.lock().map_or(None, |m| m.get(&key).cloned());
        let dir = match known {
            Some(d) => d,
            None => {
                let d = self.tree(repo)?;
                if let Ok(mut m) = self.fetched.lock() {
                    m.insert(key, d.clone());
                }
                d
            }
        };
        let fs = DiskFs::new(&dir).map_err(|e| {
            RemoteError::Fetch(format!("{}: opening the fetched tree: {e}", repo.display()))
        })?;
        Ok(Box::new(fs))
    }

    fn file(&self, url: &str) -> Result<Vec<u8>, RemoteError> {
        let shown = redact(url);
        let limits = &self.options.limits;
        let parsed = reqwest::Url::parse(url)
            .map_err(|e| RemoteError::Refused(format!("{shown:?} is not a valid URL: {e}")))?;
        let timeout = self.timeout(weir_kustomize::remote::DEFAULT_TIMEOUT);
        let mut builder = reqwest::blocking::Client::builder()
            .timeout(timeout)
            .connect_timeout(limits.connect_timeout.min(timeout))
            .redirect(reqwest::redirect::Policy::limited(5));
        if let Some(pem) = &self.options.ca_pem {
            let certs = reqwest::Certificate::from_pem_bundle(pem).map_err(|e| {
                RemoteError::Refused(format!("the CA bundle is not valid PEM: {e}"))
            })?;
            builder = builder.tls_certs_merge(certs);
        }
        let client = builder
            .build()
            .map_err(|e| RemoteError::Fetch(format!("GET {shown}: {e}")))?;
        let mut request = client.get(parsed.clone());
        if !parsed.username().is_empty() {
            let user = percent_decode(parsed.username());
            let password = parsed.password().map(percent_decode);
            let mut bare = parsed.clone();
            let _ = bare.set_username("");
            let _ = bare.set_password(None);
            request = client.get(bare).basic_auth(user, password);
        }
        let response = request
            .send()
            .map_err(|e| RemoteError::Fetch(format!("GET {shown}: {}", chain(&e))))?;
        let status = response.status();
        if !status.is_success() {
            return Err(RemoteError::Status {
                status: status.as_u16(),
                message: format!("GET {shown}: HTTP status {status}"),
            });
        }
        let mut body = Vec::new();
        response
            .take(limits.max_file_bytes.saturating_add(1))
            .read_to_end(&mut body)
            .map_err(|e| RemoteError::Fetch(format!("GET {shown}: reading the body: {e}")))?;
        if body.len() as u64 > limits.max_file_bytes {
            return Err(RemoteError::Limit(format!(
                "GET {shown}: the file is larger than {} bytes (max_file_bytes)",
                limits.max_file_bytes
            )));
        }
        Ok(body)
    }
}

/// Hex SHA-256 of `parts`, each followed by a NUL.
fn digest(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0]);
    }
    hex::encode(h.finalize())
}

fn strip_ci<'s>(s: &'s str, prefix: &str) -> Option<&'s str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = (bytes[i] == b'%')
            .then(|| s.get(i + 1..i + 3))
            .flatten()
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match hex {
            Some(b) => {
                out.push(b);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// An error and its causes on one line.
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    one_line(&out)
}

fn one_line(s: &str) -> String {
    let flat: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.len() > 600 {
        let mut end = 600;
        while !flat.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}…", &flat[..end])
    } else {
        flat
    }
}

fn fetch_failed(shown: &str, e: &dyn std::fmt::Display) -> RemoteError {
    RemoteError::Fetch(format!(
        "fetching {shown} failed: {}",
        one_line(&e.to_string())
    ))
}

/// A bare repository of the cache.
struct Session {
    repo: gix::Repository,
}

impl Session {
    fn open(git_dir: &Path) -> Result<Self, String> {
        let repo = if git_dir.join("HEAD").exists() {
            gix::open_opts(git_dir, gix::open::Options::isolated())
                .map_err(|e| format!("opening cache {}: {e}", git_dir.display()))?
        } else {
            std::fs::create_dir_all(git_dir)
                .map_err(|e| format!("creating cache {}: {e}", git_dir.display()))?;
            gix::ThreadSafeRepository::init_opts(
                git_dir,
                gix::create::Kind::Bare,
                gix::create::Options::default(),
                gix::open::Options::isolated(),
            )
            .map_err(|e| format!("initialising cache {}: {e}", git_dir.display()))?
            .to_thread_local()
        };
        Ok(Self { repo })
    }

    /// The commit `id` is or points to (an annotated tag), when it is in the cache.
    fn commit_of(&self, id: gix::ObjectId) -> Option<gix::ObjectId> {
        let object = self.repo.find_object(id).ok()?;
        object.peel_to_commit().ok().map(|c| c.id)
    }

    /// Fetches the ref of `repo` (its `HEAD` when it names none), shallow, within `timeout`;
    /// the commit it resolves to.
    fn fetch(
        &self,
        repo: &RepoSpec,
        shown: &str,
        timeout: Duration,
        options: &Options,
    ) -> Result<gix::ObjectId, RemoteError> {
        let url = repo.clone_url.as_str();
        let refspec = repo.reference.as_deref().unwrap_or("HEAD");
        if refspec.starts_with(['-', '+', '^', ':']) || refspec.contains(['*', ' ', '\0']) {
            return Err(RemoteError::Refused(format!(
                "{shown}: {refspec:?} is not a branch, tag or commit"
            )));
        }
        let mut repo_handle = self.repo.clone();
        if is_ssh(url) {
            // Never prompt: a build has no terminal.
            let mut config = repo_handle.config_snapshot_mut();
            config
                .set_value(
                    &gix::config::tree::Core::SSH_COMMAND,
                    format!(
                        "ssh -o BatchMode=yes -o ConnectTimeout={}",
                        options.limits.connect_timeout.min(timeout).as_secs().max(1)
                    )
                    .as_str(),
                )
                .map_err(|e| fetch_failed(shown, &e))?;
            config.commit().map_err(|e| fetch_failed(shown, &e))?;
        }
        let remote = repo_handle
            .remote_at(url)
            .map_err(|e| RemoteError::Refused(format!("{shown}: invalid Git URL: {e}")))?
            .with_fetch_tags(gix::remote::fetch::Tags::None)
            .with_refspecs([refspec], Direction::Fetch)
            .map_err(|e| RemoteError::Refused(format!("{shown}: invalid ref {refspec:?}: {e}")))?;
        let password = reqwest::Url::parse(url)
            .ok()
            .and_then(|u| u.password().map(percent_decode))
            .filter(|p| !p.is_empty());
        let interrupt = Arc::new(AtomicBool::new(false));
        let _watchdog = Watchdog::start(timeout, Arc::clone(&interrupt));
        let challenge = Arc::new(AtomicBool::new(false));
        let conn = connect(&repo_handle, &remote, url, timeout, options, &challenge)
            .map_err(|e| classify(shown, password.as_deref(), &e, &challenge, &interrupt))?;
        let prepare = conn
            .prepare_fetch(
                gix::progress::Discard,
                gix::remote::ref_map::Options::default(),
            )
            .map_err(|e| classify(shown, password.as_deref(), &e, &challenge, &interrupt))?;
        let wanted = prepare
            .ref_map()
            .mappings
            .iter()
            .find_map(|m| match &m.remote {
                gix::remote::fetch::refmap::Source::Ref(r) => {
                    let (_, target, peeled) = r.unpack();
                    peeled.or(target).map(ToOwned::to_owned)
                }
                gix::remote::fetch::refmap::Source::ObjectId(id) => Some(*id),
            });
        let Some(wanted) = wanted else {
            return Err(RemoteError::RefNotFound(format!(
                "fetching {shown} failed: the repository has no ref {refspec:?}"
            )));
        };
        if self.commit_of(wanted).is_none() {
            prepare
                .with_shallow(gix::remote::fetch::Shallow::DepthAtRemote(NonZeroU32::MIN))
                .receive(gix::progress::Discard, &interrupt)
                .map_err(|e| classify(shown, password.as_deref(), &e, &challenge, &interrupt))?;
        }
        self.commit_of(wanted).ok_or_else(|| {
            RemoteError::RefNotFound(format!(
                "fetching {shown} failed: {refspec:?} ({wanted}) is not a commit"
            ))
        })
    }

    /// Writes the tree of `commit` to `dest` within `limits`: into a temporary directory
    /// next to it, renamed into place when complete.
    fn checkout(
        &self,
        commit: gix::ObjectId,
        dest: &Path,
        limits: &Limits,
        shown: &str,
    ) -> Result<(), RemoteError> {
        let op = |e: &dyn std::fmt::Display| fetch_failed(shown, e);
        let parent = dest.parent().unwrap_or(dest);
        std::fs::create_dir_all(parent).map_err(|e| op(&e))?;
        let tmp = tempfile::Builder::new()
            .prefix(".checkout-")
            .tempdir_in(parent)
            .map_err(|e| op(&e))?;
        let root = self
            .repo
            .find_commit(commit)
            .map_err(|e| op(&e))?
            .tree_id()
            .map_err(|e| op(&e))?
            .detach();
        let (mut files, mut bytes) = (0u64, 0u64);
        let mut stack = vec![(root, tmp.path().to_path_buf(), 0usize)];
        while let Some((tree_id, dir, depth)) = stack.pop() {
            let header = self.repo.find_header(tree_id).map_err(|e| op(&e))?;
            let room = limits.max_files.saturating_sub(files);
            // A tree entry takes at least 22 bytes (mode, space, one-byte name, NUL, id).
            if header.size() / 22 > room {
                return Err(too_many(shown, limits));
            }
            let tree = self.repo.find_object(tree_id).map_err(|e| op(&e))?;
            for entry in gix::objs::TreeRefIter::from_bytes(&tree.data, self.repo.object_hash()) {
                let entry = entry.map_err(|e| op(&e))?;
                files += 1;
                if files > limits.max_files {
                    return Err(too_many(shown, limits));
                }
                let name = entry
                    .filename
                    .to_str()
                    .map_err(|_| op(&"a file name is not UTF-8"))?;
                if name.is_empty()
                    || name == "."
                    || name == ".."
                    || name.eq_ignore_ascii_case(".git")
                    || name.contains(['/', '\\', '\0'])
                {
                    return Err(op(&format!("invalid file name {name:?} in the tree")));
                }
                let path = dir.join(name);
                match entry.mode.kind() {
                    gix::object::tree::EntryKind::Tree => {
                        if depth + 1 > limits.max_depth {
                            return Err(RemoteError::Limit(format!(
                                "{shown}: directories nested more than {} deep (max_depth)",
                                limits.max_depth
                            )));
                        }
                        std::fs::create_dir(&path).map_err(|e| op(&e))?;
                        stack.push((entry.oid.to_owned(), path, depth + 1));
                    }
                    gix::object::tree::EntryKind::Blob
                    | gix::object::tree::EntryKind::BlobExecutable => {
                        let id = entry.oid.to_owned();
                        let size = self.repo.find_header(id).map_err(|e| op(&e))?.size();
                        bytes = bytes.saturating_add(size);
                        if bytes > limits.max_bytes {
                            return Err(RemoteError::Limit(format!(
                                "{shown}: the tree is larger than {} bytes (max_bytes)",
                                limits.max_bytes
                            )));
                        }
                        let blob = self.repo.find_blob(id).map_err(|e| op(&e))?;
                        std::fs::write(&path, &blob.data).map_err(|e| op(&e))?;
                    }
                    // Symlinks and submodules are not checked out.
                    _ => {}
                }
            }
        }
        let tmp = tmp.keep();
        match std::fs::rename(&tmp, dest) {
            Ok(()) => Ok(()),
            // Another fetch put the same commit in place first: the trees are the same.
            Err(_) if dest.is_dir() => {
                let _ = std::fs::remove_dir_all(&tmp);
                Ok(())
            }
            Err(e) => {
                let _ = std::fs::remove_dir_all(&tmp);
                Err(op(&e))
            }
        }
    }
}

fn too_many(shown: &str, limits: &Limits) -> RemoteError {
    RemoteError::Limit(format!(
        "{shown}: the tree has more than {} files and directories (max_files)",
        limits.max_files
    ))
}

/// Sets a flag when `timeout` passes, unless dropped first.
struct Watchdog {
    stop: Option<std::sync::mpsc::Sender<()>>,
}

impl Watchdog {
    fn start(timeout: Duration, flag: Arc<AtomicBool>) -> Self {
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        std::thread::spawn(move || {
            if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(timeout) {
                flag.store(true, Ordering::Relaxed);
            }
        });
        Self { stop: Some(stop) }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        // Dropping the sender wakes the thread, which then ends without setting the flag.
        self.stop.take();
    }
}

/// True for `ssh://` and scp-like `user@host:path` URLs.
fn is_ssh(url: &str) -> bool {
    strip_ci(url, "ssh://").is_some()
        || (!url.contains("://") && url.contains('@') && url.contains(':'))
}

type Connection<'r> = gix::remote::Connection<
    'r,
    'r,
    'r,
    Box<dyn gix::protocol::transport::client::blocking_io::Transport + Send>,
>;

/// Connects for fetching: credentials from the URL's user info (when the server asks), and
/// for HTTP(S) the connect timeout, total timeout and extra CA certificates.
fn connect<'r>(
    repo: &'r gix::Repository,
    remote: &'r gix::Remote<'r>,
    url: &str,
    timeout: Duration,
    options: &Options,
    challenge: &Arc<AtomicBool>,
) -> gix::Result<Connection<'r>> {
    let conn = remote.connect(Direction::Fetch)?;
    let userinfo = reqwest::Url::parse(url)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.password().is_some())
        .map(|u| {
            (
                percent_decode(u.username()),
                u.password().map(percent_decode).unwrap_or_default(),
            )
        });
    let asked = Arc::clone(challenge);
    // gix asks for credentials when the server answered 401, and erases them when it
    // answered 401 again: both are recorded, as the error then has no typed status.
    let conn = conn.with_credentials(move |action| match action {
        gix::credentials::helper::Action::Get(ctx) => match &userinfo {
            Some((username, password)) => Ok(Some(gix::credentials::protocol::Outcome {
                identity: gix::sec::identity::Account {
                    username: username.clone(),
                    password: password.clone(),
                    oauth_refresh_token: None,
                },
                next: ctx.into(),
            })),
            None => {
                asked.store(true, Ordering::Relaxed);
                Ok(None)
            }
        },
        gix::credentials::helper::Action::Erase(_) => {
            asked.store(true, Ordering::Relaxed);
            Ok(None)
        }
        gix::credentials::helper::Action::Store(_) => Ok(None),
    });
    let http = strip_ci(url, "https://").is_some() || strip_ci(url, "http://").is_some();
    if !http {
        return Ok(conn);
    }
    let mut http_options = match repo.transport_options(url, None) {
        Ok(Some(o)) => o
            .downcast::<gix::protocol::transport::client::blocking_io::http::Options>()
            .map(|b| *b)
            .unwrap_or_default(),
        _ => gix::protocol::transport::client::blocking_io::http::Options::default(),
    };
    let connect_timeout = options.limits.connect_timeout.min(timeout);
    http_options.connect_timeout = Some(connect_timeout);
    let ca = options.ca_pem.clone();
    let backend = gix::protocol::transport::client::blocking_io::http::reqwest::Options {
        configure_client: Some(Box::new(move |builder| {
            let mut builder = builder.timeout(timeout).connect_timeout(connect_timeout);
            if let Some(pem) = &ca {
                let certs = reqwest::Certificate::from_pem_bundle(pem).map_err(|e| {
                    gix::error::ErrorExt::raise_erased(gix::error::message!(
                        "the CA bundle is not valid PEM: {e}"
                    ))
                })?;
                builder = builder.tls_certs_merge(certs);
            }
            Ok(builder)
        })),
        configure_request: None,
    };
    http_options.backend = Some(Arc::new(Mutex::new(backend)));
    Ok(conn.with_transport_options(Box::new(http_options)))
}

/// The HTTP status of a failed operation, from gix's typed errors: 401 is gix's
/// `AuthenticationRequired` (or a challenge the credentials callback saw); others are on
/// the `reqwest::Error` gix keeps as a cause.
fn http_status(err: &gix::Error, challenge: &AtomicBool) -> Option<u16> {
    use gix::protocol::transport::client::AuthenticationRequired;
    if challenge.load(Ordering::Relaxed)
        || err.downcast_any_ref::<AuthenticationRequired>().is_some()
    {
        return Some(401);
    }
    err.iter_errors()
        .find_map(|e| e.downcast_ref::<reqwest::Error>()?.status())
        .map(|s| s.as_u16())
}

/// Sorts a gix failure by typed facts only (HTTP status, the interrupt flag); the text goes
/// into the message.
fn classify(
    shown: &str,
    password: Option<&str>,
    err: &gix::Error,
    challenge: &AtomicBool,
    interrupt: &AtomicBool,
) -> RemoteError {
    let mut detail = one_line(&format!("{err:?}").replace("\\\"", "\""));
    // gix leaves credentials out of URLs in its errors; a password is masked all the same.
    if let Some(password) = password {
        detail = detail.replace(password, "***");
    }
    if interrupt.load(Ordering::Relaxed) {
        return RemoteError::Fetch(format!("fetching {shown} timed out: {detail}"));
    }
    match http_status(err, challenge) {
        Some(status @ (401 | 403)) => RemoteError::Authentication(format!(
            "authentication to {shown} failed (HTTP {status}): give credentials in the URL \
             or make the repository public"
        )),
        Some(status) => RemoteError::Status {
            status,
            message: format!("fetching {shown} failed: HTTP status {status}: {detail}"),
        },
        None => RemoteError::Fetch(format!("fetching {shown} failed: {detail}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_keys_separate_urls_and_commits() {
        assert_ne!(digest(&["a", "bc"]), digest(&["ab", "c"]));
        assert_eq!(digest(&["x"]).len(), 64);
    }

    #[test]
    fn credentials_in_urls_are_decoded() {
        assert_eq!(percent_decode("p%40ss%3Aword"), "p@ss:word");
        assert_eq!(percent_decode("100%"), "100%");
    }

    #[test]
    fn ssh_urls_are_told_from_others() {
        assert!(is_ssh("ssh://git@host/repo"));
        assert!(is_ssh("git@github.com:org/repo"));
        assert!(!is_ssh("https://user:pw@host/repo"));
        assert!(!is_ssh("file:///srv/repo"));
    }

    #[test]
    fn file_urls_are_refused_unless_allowed() -> Result<(), String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let loader = GitLoader::new(Options {
            cache_dir: dir.path().to_path_buf(),
            ..Default::default()
        });
        let repo = weir_kustomize::remote::parse_repo("file:///srv/repo")?
            .ok_or("a file URL is a repository")?;
        match loader.repository(&repo) {
            Err(RemoteError::Refused(m)) => assert!(m.contains("file://"), "{m}"),
            Err(e) => return Err(e.to_string()),
            Ok(_) => return Err("fetched".into()),
        }
        Ok(())
    }

    #[test]
    fn a_watchdog_fires_only_after_its_timeout() {
        let flag = Arc::new(AtomicBool::new(false));
        drop(Watchdog::start(Duration::from_secs(60), Arc::clone(&flag)));
        let fired = Arc::new(AtomicBool::new(false));
        let _w = Watchdog::start(Duration::from_millis(10), Arc::clone(&fired));
        std::thread::sleep(Duration::from_millis(200));
        assert!(fired.load(Ordering::Relaxed));
        assert!(!flag.load(Ordering::Relaxed));
    }
}
