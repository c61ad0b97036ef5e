//! Git I/O with gix (blocking: call it from `spawn_blocking`): list the remote's refs,
//! fetch only what changed into a per-object bare cache, and read a commit's tree.
//!
//! Runtime requirements: SSH goes through the `ssh` program and `file://` through
//! `git-upload-pack`. Host keys are always verified against the Secret's `known_hosts`.

use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gix::bstr::ByteSlice;
use gix::remote::Direction;

use crate::reference::{self, RefPlan, RemoteRef, Resolved};

/// Credentials and trust material from the GitRepository's Secret.
#[derive(Clone, Default)]
pub struct Auth {
    /// HTTPS basic auth.
    pub basic: Option<(String, String)>,
    /// HTTPS bearer token.
    pub bearer_token: Option<String>,
    /// PEM CA bundle trusted for HTTPS.
    pub ca_pem: Option<Vec<u8>>,
    /// SSH private key.
    pub ssh_identity: Option<Vec<u8>>,
    /// SSH `known_hosts` content.
    pub known_hosts: Option<Vec<u8>>,
}

impl std::fmt::Debug for Auth {
    // Never print secrets.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("basic", &self.basic.as_ref().map(|(u, _)| u))
            .field("bearer_token", &self.bearer_token.is_some())
            .field("ca_pem", &self.ca_pem.is_some())
            .field("ssh_identity", &self.ssh_identity.is_some())
            .finish_non_exhaustive()
    }
}

/// Why a Git operation failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GitError {
    /// The server refused the credentials, or the host key did not verify.
    Authentication(String),
    /// Anything else: unreachable host, missing ref, protocol error. Retried.
    Operation(String),
    /// The request itself is invalid (e.g. SSH without `known_hosts`).
    Invalid(String),
}

impl std::fmt::Display for GitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GitError::Authentication(m) | GitError::Operation(m) | GitError::Invalid(m) => {
                f.write_str(m)
            }
        }
    }
}

/// A checked-out file from the commit's tree.
#[derive(Debug, Clone)]
pub struct TreeFile {
    /// `/`-separated path.
    pub path: String,
    /// Executable bit.
    pub executable: bool,
    /// Contents.
    pub contents: Vec<u8>,
}

/// One fetch request.
pub struct FetchRequest<'a> {
    /// Repository URL.
    pub url: &'a str,
    /// What to check out.
    pub plan: &'a RefPlan,
    /// Credentials.
    pub auth: &'a Auth,
    /// Per-object cache of fetched objects (a bare repository).
    pub cache_dir: &'a Path,
    /// Network timeout.
    pub timeout: Duration,
    /// Set to abort the operation.
    pub interrupt: &'a AtomicBool,
}

/// Lists the remote's refs and resolves the plan (one handshake, no objects transferred).
///
/// # Errors
/// [`GitError`] with a message naming the URL.
pub fn resolve_remote(req: &FetchRequest<'_>) -> Result<Resolved, GitError> {
    let session = Session::open(req)?;
    if let RefPlan::Commit {
        commit,
        branch: None,
    } = req.plan
    {
        // A commit never changes: when it is cached no network round trip is needed.
        let resolved = reference::resolve(req.plan, &[]).map_err(GitError::Operation)?;
        if session.has_commit(commit) {
            return Ok(resolved);
        }
    }
    let listing = listing_refspec(req.plan);
    let refs = session.list_refs(req, &listing)?;
    reference::resolve(req.plan, &refs).map_err(GitError::Operation)
}

/// Fetches the resolved commit into the cache (shallow where the ref allows) and returns the
/// files of its tree.
///
/// # Errors
/// [`GitError`] with a message naming the URL or commit.
pub fn fetch_tree(req: &FetchRequest<'_>, resolved: &Resolved) -> Result<Vec<TreeFile>, GitError> {
    let session = Session::open(req)?;
    if !session.has_commit(&resolved.commit) {
        session.fetch(
            req,
            &reference::refspec(req.plan, resolved),
            reference::shallow(req.plan),
        )?;
    }
    if !session.has_commit(&resolved.commit) {
        return Err(GitError::Operation(format!(
            "commit {} not found in {} after fetching {}",
            resolved.commit,
            req.url,
            resolved.ref_name.as_deref().unwrap_or("all branches")
        )));
    }
    session.read_tree(&resolved.commit)
}

fn listing_refspec(plan: &RefPlan) -> String {
    match plan {
        RefPlan::Branch(b)
        | RefPlan::Commit {
            branch: Some(b), ..
        } => format!("refs/heads/{b}"),
        RefPlan::Tag(t) => format!("refs/tags/{t}"),
        RefPlan::Semver(_) => "refs/tags/*:refs/tags/*".to_string(),
        RefPlan::Name(n) => n.clone(),
        RefPlan::Commit { branch: None, .. } => "refs/heads/*:refs/remotes/origin/*".to_string(),
    }
}

struct Session {
    repo: gix::Repository,
    /// Key files and the captured stderr of `ssh`, removed when the session ends.
    ssh_files: Option<tempfile::TempDir>,
}

impl Session {
    fn open(req: &FetchRequest<'_>) -> Result<Self, GitError> {
        let cache = req.cache_dir;
        let op = |what: &str, e: &dyn std::fmt::Display| {
            GitError::Operation(format!("{what} {}: {e}", cache.display()))
        };
        let mut repo = if cache.join("HEAD").exists() {
            gix::open_opts(cache, gix::open::Options::isolated())
                .map_err(|e| op("opening Git cache", &e))?
        } else {
            std::fs::create_dir_all(cache).map_err(|e| op("creating Git cache", &e))?;
            gix::ThreadSafeRepository::init_opts(
                cache,
                gix::create::Kind::Bare,
                gix::create::Options::default(),
                gix::open::Options::isolated(),
            )
            .map_err(|e| op("initialising Git cache", &e))?
            .to_thread_local()
        };
        let mut ssh_files = None;
        if is_ssh(req.url) {
            let known_hosts = req.auth.known_hosts.as_ref().ok_or_else(|| {
                GitError::Invalid("the Secret must have a known_hosts key for SSH URLs: host keys are always verified".into())
            })?;
            let dir = tempfile::tempdir().map_err(|e| op("creating SSH key folder", &e))?;
            let kh_path = write_private(dir.path(), "known_hosts", known_hosts)
                .map_err(|e| op("writing known_hosts", &e))?;
            // ssh's stderr says why a connection failed (host key, refused key); gix does not
            // surface it, so it is captured and added to the error.
            let err_path = dir.path().join(SSH_STDERR);
            let mut command = format!(
                "ssh 2>>{} -o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile={} -o GlobalKnownHostsFile=/dev/null -o ConnectTimeout={} -F /dev/null",
                shell_quote(&err_path),
                shell_quote(&kh_path),
                req.timeout.as_secs().max(1)
            );
            if let Some(identity) = &req.auth.ssh_identity {
                let mut key = identity.clone();
                if !key.ends_with(b"\n") {
                    key.push(b'\n');
                }
                let id_path = write_private(dir.path(), "identity", &key)
                    .map_err(|e| op("writing SSH identity", &e))?;
                command.push_str(&format!(
                    " -o IdentitiesOnly=yes -i {}",
                    shell_quote(&id_path)
                ));
            }
            let mut config = repo.config_snapshot_mut();
            config
                .set_value(&gix::config::tree::Core::SSH_COMMAND, command.as_str())
                .map_err(|e| op("configuring ssh for", &e))?;
            config.commit().map_err(|e| op("configuring ssh for", &e))?;
            ssh_files = Some(dir);
        }
        Ok(Self { repo, ssh_files })
    }

    /// Classifies a gix error, adding what `ssh` printed.
    fn error(&self, url: &str, err: &dyn std::fmt::Debug) -> GitError {
        let ssh_said = self
            .ssh_files
            .as_ref()
            .and_then(|d| std::fs::read_to_string(d.path().join(SSH_STDERR)).ok())
            .map(|s| {
                s.lines()
                    .filter(|l| {
                        !l.trim().is_empty() && !l.starts_with("Warning: Permanently added")
                    })
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_default();
        if ssh_said.is_empty() {
            classify(url, err)
        } else {
            classify(url, &format!("ssh: {ssh_said}; {err:?}"))
        }
    }

    fn has_commit(&self, hex: &str) -> bool {
        gix::ObjectId::from_hex(hex.as_bytes())
            .ok()
            .and_then(|id| self.repo.find_object(id).ok())
            .is_some_and(|o| o.kind == gix::object::Kind::Commit)
    }

    fn remote(&self, req: &FetchRequest<'_>, refspec: &str) -> Result<gix::Remote<'_>, GitError> {
        self.repo
            .remote_at(req.url)
            .map_err(|e| GitError::Invalid(format!("invalid Git URL {:?}: {e}", req.url)))?
            .with_fetch_tags(gix::remote::fetch::Tags::None)
            .with_refspecs([refspec], Direction::Fetch)
            .map_err(|e| GitError::Invalid(format!("invalid refspec {refspec:?}: {e}")))
    }

    fn list_refs(&self, req: &FetchRequest<'_>, refspec: &str) -> Result<Vec<RemoteRef>, GitError> {
        let remote = self.remote(req, refspec)?;
        let conn = connect(&self.repo, &remote, req).map_err(|e| self.error(req.url, &e))?;
        let (map, _) = conn
            .ref_map(
                gix::progress::Discard,
                gix::remote::ref_map::Options::default(),
            )
            .map_err(|e| self.error(req.url, &e))?;
        Ok(map
            .remote_refs
            .iter()
            .filter_map(|r| {
                let (name, target, peeled) = r.unpack();
                Some(RemoteRef {
                    name: name.to_str().ok()?.to_string(),
                    target: target?.to_hex().to_string(),
                    peeled: peeled.map(|p| p.to_hex().to_string()),
                })
            })
            .collect())
    }

    fn fetch(&self, req: &FetchRequest<'_>, refspec: &str, shallow: bool) -> Result<(), GitError> {
        let remote = self.remote(req, refspec)?;
        let conn = connect(&self.repo, &remote, req).map_err(|e| self.error(req.url, &e))?;
        let mut prepare = conn
            .prepare_fetch(
                gix::progress::Discard,
                gix::remote::ref_map::Options::default(),
            )
            .map_err(|e| self.error(req.url, &e))?;
        if shallow {
            prepare =
                prepare.with_shallow(gix::remote::fetch::Shallow::DepthAtRemote(NonZeroU32::MIN));
        }
        prepare
            .receive(gix::progress::Discard, req.interrupt)
            .map_err(|e| self.error(req.url, &e))?;
        Ok(())
    }

    fn read_tree(&self, commit_hex: &str) -> Result<Vec<TreeFile>, GitError> {
        let op = |e: &dyn std::fmt::Display| {
            GitError::Operation(format!("reading commit {commit_hex}: {e}"))
        };
        let id = gix::ObjectId::from_hex(commit_hex.as_bytes()).map_err(|e| op(&e))?;
        let tree = self
            .repo
            .find_commit(id)
            .map_err(|e| op(&e))?
            .tree()
            .map_err(|e| op(&e))?;
        let mut recorder = gix::traverse::tree::Recorder::default();
        tree.traverse()
            .breadthfirst(&mut recorder)
            .map_err(|e| op(&e))?;
        let mut files = Vec::new();
        for entry in recorder.records {
            // Only regular files: symlinks and submodules never enter an artifact.
            let executable = match entry.mode.kind() {
                gix::object::tree::EntryKind::Blob => false,
                gix::object::tree::EntryKind::BlobExecutable => true,
                _ => continue,
            };
            let path = entry
                .filepath
                .to_str()
                .map_err(|_| op(&"path is not UTF-8"))?
                .to_string();
            let blob = self.repo.find_blob(entry.oid).map_err(|e| op(&e))?;
            files.push(TreeFile {
                path,
                executable,
                contents: blob.data.clone(),
            });
        }
        Ok(files)
    }
}

fn connect<'r>(
    repo: &'r gix::Repository,
    remote: &'r gix::Remote<'r>,
    req: &FetchRequest<'_>,
) -> gix::Result<
    gix::remote::Connection<
        'r,
        'r,
        'r,
        Box<dyn gix::protocol::transport::client::blocking_io::Transport + Send>,
    >,
> {
    let conn = remote.connect(Direction::Fetch)?;
    let basic = req.auth.basic.clone();
    let conn = conn.with_credentials(move |action| match action {
        gix::credentials::helper::Action::Get(ctx) => match &basic {
            Some((username, password)) => Ok(Some(gix::credentials::protocol::Outcome {
                identity: gix::sec::identity::Account {
                    username: username.clone(),
                    password: password.clone(),
                    oauth_refresh_token: None,
                },
                next: ctx.into(),
            })),
            None => Ok(None),
        },
        _ => Ok(None),
    });
    if is_ssh(req.url) || req.url.starts_with("file://") {
        return Ok(conn);
    }
    let mut options = match repo.transport_options(req.url, None) {
        Ok(Some(o)) => o
            .downcast::<gix::protocol::transport::client::blocking_io::http::Options>()
            .map(|b| *b)
            .unwrap_or_default(),
        _ => gix::protocol::transport::client::blocking_io::http::Options::default(),
    };
    options.connect_timeout = Some(req.timeout);
    if let Some(token) = &req.auth.bearer_token {
        options
            .extra_headers
            .push(format!("Authorization: Bearer {token}"));
    }
    let ca = req.auth.ca_pem.clone();
    let timeout = req.timeout;
    let backend = gix::protocol::transport::client::blocking_io::http::reqwest::Options {
        configure_client: Some(Box::new(move |builder| {
            let mut builder = builder.timeout(timeout);
            if let Some(pem) = &ca {
                let certs = reqwest::Certificate::from_pem_bundle(pem).map_err(|e| {
                    gix::error::ErrorExt::raise_erased(gix::error::message!(
                        "ca.crt is not a valid PEM certificate bundle: {e}"
                    ))
                })?;
                builder = builder.tls_certs_merge(certs);
            }
            Ok(builder)
        })),
        configure_request: None,
    };
    options.backend = Some(Arc::new(Mutex::new(backend)));
    Ok(conn.with_transport_options(Box::new(options)))
}

/// True for `ssh://` and scp-like `user@host:path` URLs.
pub fn is_ssh(url: &str) -> bool {
    url.starts_with("ssh://") || (!url.contains("://") && url.contains('@') && url.contains(':'))
}

const SSH_STDERR: &str = "ssh-stderr";

fn write_private(dir: &Path, name: &str, contents: &[u8]) -> std::io::Result<PathBuf> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let path = dir.join(name);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)?;
    f.write_all(contents)?;
    Ok(path)
}

fn shell_quote(path: &Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', r"'\''"))
}

/// Sorts a gix error into authentication or other failure, with a message that names the URL.
fn classify(url: &str, err: &dyn std::fmt::Debug) -> GitError {
    let detail = format!("{err:?}").replace("\\\"", "\"");
    let text = one_line(&detail);
    let lower = text.to_lowercase();
    let auth_markers = [
        "401",
        "403",
        "authentication",
        "permission denied",
        "host key verification failed",
        "no matching host key",
        "remote host identification has changed",
        "invalid credentials",
    ];
    if auth_markers.iter().any(|m| lower.contains(m)) {
        GitError::Authentication(format!("authentication to {url} failed: {text}"))
    } else {
        GitError::Operation(format!("fetching {url} failed: {text}"))
    }
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
