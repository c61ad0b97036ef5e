//! Git I/O with gix (blocking: call it from `spawn_blocking`): list the remote's refs,
//! fetch only what changed into a per-object bare cache, and read a commit's tree.
//!
//! Runtime requirements: SSH goes through the `ssh` program and `file://` through
//! `git-upload-pack`. Host keys are always verified against the Secret's `known_hosts`.

use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gix::bstr::ByteSlice;
use gix::remote::Direction;

use crate::limits::{
    Limits, MAX_NAME_BYTES, MAX_SOURCEIGNORE_BYTES, MAX_TREE_DEPTH, MAX_TREE_ENTRY_BYTES,
};
use crate::reference::{self, RefPlan, RemoteRef, Resolved};
use crate::sourceignore::SOURCEIGNORE;

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
    /// The commit exceeds a budget of [`Limits`]. Retried: a new commit can fix it.
    Limit(String),
}

impl std::fmt::Display for GitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GitError::Authentication(m)
            | GitError::Operation(m)
            | GitError::Invalid(m)
            | GitError::Limit(m) => f.write_str(m),
        }
    }
}

/// A commit's tree, walked within [`Limits`]: entries in archive order (Git's tree order, depth
/// first, each directory before its contents) and the `.sourceignore` files. Blobs are not
/// read; [`CommitTree::blobs`] reads them one at a time. It can be sent to another thread
/// (gix repositories cannot: the cache is opened again there).
pub struct CommitTree {
    /// The Git cache the tree was read from.
    repo_dir: PathBuf,
    /// The commit, hex.
    pub commit: String,
    /// Directories and regular files; symlinks and submodules are left out.
    pub entries: Vec<TreeEntry>,
    /// `(directory, contents)` of every regular file named `.sourceignore` (directory empty
    /// for the root).
    pub sourceignores: Vec<(String, String)>,
}

/// One directory or regular file of a [`CommitTree`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeEntry {
    /// Number of directories above it (0 at the root). The path of an entry is the names of
    /// the nearest preceding directories at depths `0..depth`, then its name.
    pub depth: usize,
    /// File or directory name (UTF-8, no `/`).
    pub name: String,
    /// What it is.
    pub kind: EntryKind,
}

/// See [`TreeEntry`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// A directory.
    Dir,
    /// A regular file.
    File {
        /// Blob id.
        id: gix::ObjectId,
        /// Executable bit.
        executable: bool,
    },
}

impl CommitTree {
    /// A reader of this tree's blobs for the current thread.
    ///
    /// # Errors
    /// The Git cache cannot be opened.
    pub fn blobs(&self) -> Result<Blobs, GitError> {
        let repo = gix::open_opts(&self.repo_dir, gix::open::Options::isolated()).map_err(|e| {
            GitError::Operation(format!(
                "opening Git cache {}: {e}",
                self.repo_dir.display()
            ))
        })?;
        Ok(Blobs { repo })
    }
}

/// Reads the blobs of a [`CommitTree`].
pub struct Blobs {
    repo: gix::Repository,
}

impl Blobs {
    /// The size of a blob, read from its object header (the blob is not read).
    ///
    /// # Errors
    /// A missing or unreadable object.
    pub fn blob_size(&self, id: gix::ObjectId) -> Result<u64, GitError> {
        self.repo
            .find_header(id)
            .map(|h| h.size())
            .map_err(|e| GitError::Operation(format!("reading blob {id}: {e}")))
    }

    /// Reads one blob whole.
    ///
    /// # Errors
    /// A missing or unreadable object.
    pub fn read_blob(&self, id: gix::ObjectId) -> Result<Vec<u8>, GitError> {
        self.repo
            .find_blob(id)
            .map(|mut b| b.take_data())
            .map_err(|e| GitError::Operation(format!("reading blob {id}: {e}")))
    }
}

/// Builds `/`-separated paths of [`TreeEntry`]s while iterating them in order.
#[derive(Default)]
pub struct PathStack {
    dirs: Vec<String>,
}

impl PathStack {
    /// The path of `entry`, which must follow the previously given entries. Directories stay on
    /// the stack for the entries below them.
    pub fn path_of(&mut self, entry: &TreeEntry) -> String {
        self.dirs.truncate(entry.depth);
        let mut path = String::new();
        for dir in &self.dirs {
            path.push_str(dir);
            path.push('/');
        }
        path.push_str(&entry.name);
        if entry.kind == EntryKind::Dir {
            self.dirs.push(entry.name.clone());
        }
        path
    }
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

/// Fetches the resolved commit into the cache (shallow where the ref allows) and walks its
/// tree within `limits` (see [`CommitTree`]).
///
/// # Errors
/// [`GitError`] with a message naming the URL or commit; [`GitError::Limit`] naming the
/// limit and how far the walk got.
pub fn fetch_tree(
    req: &FetchRequest<'_>,
    resolved: &Resolved,
    limits: &Limits,
) -> Result<CommitTree, GitError> {
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
    session.walk_tree(&resolved.commit, limits, req.interrupt)
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

    /// Reduces a gix error to the typed facts that decide its class (see [`Failure`]) and
    /// classifies it. `challenge` is what the credentials callback of this connection saw.
    fn error(&self, url: &str, err: &gix::Error, challenge: &Challenge) -> GitError {
        let scheme = gix::url::parse(url.as_bytes().as_bstr()).map(|u| u.scheme);
        let failure = if self.ssh_files.is_some() {
            Failure::Ssh {
                stderr: self.ssh_stderr(),
            }
        } else if let Ok(gix::url::Scheme::Http | gix::url::Scheme::Https) = scheme {
            Failure::Http {
                status: http_status(err, challenge),
            }
        } else {
            Failure::Other
        };
        classify(url, &failure, &format!("{err:?}").replace("\\\"", "\""))
    }

    /// The lines `ssh` printed on stderr, without blank lines. gix never sees them: the
    /// `ssh` command redirects them into a file of the session.
    fn ssh_stderr(&self) -> Vec<String> {
        self.ssh_files
            .as_ref()
            .and_then(|d| std::fs::read_to_string(d.path().join(SSH_STDERR)).ok())
            .map(|s| {
                s.lines()
                    .filter(|l| !l.trim().is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
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
        let challenge = Challenge::default();
        let conn = connect(&self.repo, &remote, req, &challenge)
            .map_err(|e| self.error(req.url, &e, &challenge))?;
        let (map, _) = conn
            .ref_map(
                gix::progress::Discard,
                gix::remote::ref_map::Options::default(),
            )
            .map_err(|e| self.error(req.url, &e, &challenge))?;
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
        let challenge = Challenge::default();
        let conn = connect(&self.repo, &remote, req, &challenge)
            .map_err(|e| self.error(req.url, &e, &challenge))?;
        let mut prepare = conn
            .prepare_fetch(
                gix::progress::Discard,
                gix::remote::ref_map::Options::default(),
            )
            .map_err(|e| self.error(req.url, &e, &challenge))?;
        if shallow {
            prepare =
                prepare.with_shallow(gix::remote::fetch::Shallow::DepthAtRemote(NonZeroU32::MIN));
        }
        prepare
            .receive(gix::progress::Discard, req.interrupt)
            .map_err(|e| self.error(req.url, &e, &challenge))?;
        Ok(())
    }

    /// Walks the commit's tree depth first with an explicit stack (never recursion), within
    /// `limits`: every entry of every tree read counts towards `max_files` as soon as the tree
    /// is read, a tree is refused from its header before being read when it could not fit,
    /// the depth is bounded by [`MAX_TREE_DEPTH`], and `.sourceignore` files by
    /// [`MAX_SOURCEIGNORE_BYTES`]. No other blob is read.
    fn walk_tree(
        self,
        commit_hex: &str,
        limits: &Limits,
        interrupt: &AtomicBool,
    ) -> Result<CommitTree, GitError> {
        let op = |e: &dyn std::fmt::Display| {
            GitError::Operation(format!("reading commit {commit_hex}: {e}"))
        };
        let id = gix::ObjectId::from_hex(commit_hex.as_bytes()).map_err(|e| op(&e))?;
        let root = self
            .repo
            .find_commit(id)
            .map_err(|e| op(&e))?
            .tree_id()
            .map_err(|e| op(&e))?
            .detach();
        let mut walk = Walk {
            repo: &self.repo,
            commit: commit_hex,
            limits,
            visited: 0,
        };
        let mut entries = Vec::new();
        let mut sourceignores = Vec::new();
        let mut stack = vec![walk.read_tree(root, "")?.into_iter()];
        // Names of the directories of the frames above the root frame.
        let mut dirs: Vec<String> = Vec::new();
        while let Some(frame) = stack.last_mut() {
            if interrupt.load(Ordering::Relaxed) {
                return Err(op(&"interrupted"));
            }
            let Some(child) = frame.next() else {
                stack.pop();
                dirs.pop();
                continue;
            };
            let depth = dirs.len();
            let path = || {
                let mut p = dirs.join("/");
                if !p.is_empty() {
                    p.push('/');
                }
                p.push_str(&child.name);
                p
            };
            let kind = match child.mode.kind() {
                gix::object::tree::EntryKind::Tree => {
                    if depth + 1 > MAX_TREE_DEPTH {
                        return Err(GitError::Limit(format!(
                            "commit {commit_hex} nests directories more than {MAX_TREE_DEPTH} \
                             deep, at {:?}",
                            path()
                        )));
                    }
                    let children = walk.read_tree(child.id, &path())?;
                    entries.push(TreeEntry {
                        depth,
                        name: child.name.clone(),
                        kind: EntryKind::Dir,
                    });
                    stack.push(children.into_iter());
                    dirs.push(child.name);
                    continue;
                }
                gix::object::tree::EntryKind::Blob => EntryKind::File {
                    id: child.id,
                    executable: false,
                },
                gix::object::tree::EntryKind::BlobExecutable => EntryKind::File {
                    id: child.id,
                    executable: true,
                },
                // Only regular files: symlinks and submodules never enter an artifact.
                _ => continue,
            };
            if child.name == SOURCEIGNORE {
                sourceignores.push((dirs.join("/"), walk.read_sourceignore(child.id, &path())?));
            }
            entries.push(TreeEntry {
                depth,
                name: child.name,
                kind,
            });
        }
        Ok(CommitTree {
            repo_dir: self.repo.git_dir().to_path_buf(),
            commit: commit_hex.to_string(),
            entries,
            sourceignores,
        })
    }
}

/// An entry of a tree being walked.
struct Child {
    mode: gix::objs::tree::EntryMode,
    name: String,
    id: gix::ObjectId,
}

/// The budget of one walk.
struct Walk<'a> {
    repo: &'a gix::Repository,
    commit: &'a str,
    limits: &'a Limits,
    /// Entries of the trees read so far.
    visited: u64,
}

impl Walk<'_> {
    /// Reads one tree object at `path`, counting its entries and checking their names and order.
    fn read_tree(&mut self, id: gix::ObjectId, path: &str) -> Result<Vec<Child>, GitError> {
        let shown = if path.is_empty() { "/" } else { path };
        let op = |e: &dyn std::fmt::Display| {
            GitError::Operation(format!(
                "reading tree {shown:?} of commit {}: {e}",
                self.commit
            ))
        };
        let header = self.repo.find_header(id).map_err(|e| op(&e))?;
        if header.kind() != gix::object::Kind::Tree {
            return Err(op(&format!(
                "object {id} is a {}, not a tree",
                header.kind()
            )));
        }
        let room = self.limits.max_files.saturating_sub(self.visited);
        if header.size() > room.saturating_mul(MAX_TREE_ENTRY_BYTES) {
            // Too large to hold at most `room` entries: refused without being read.
            return Err(GitError::Limit(self.limits.files_exceeded(
                self.commit,
                self.limits.max_files.saturating_add(1),
                shown,
            )));
        }
        let object = self.repo.find_object(id).map_err(|e| op(&e))?;
        let mut children: Vec<Child> = Vec::new();
        let mut previous: Option<gix::objs::tree::EntryRef<'_>> = None;
        for entry in gix::objs::TreeRefIter::from_bytes(&object.data, self.repo.object_hash()) {
            let entry = entry.map_err(|e| op(&e))?;
            self.visited += 1;
            let name = entry
                .filename
                .to_str()
                .map_err(|_| op(&format!("an entry name is not UTF-8: {:?}", entry.filename)))?;
            if self.visited > self.limits.max_files {
                let child = if path.is_empty() {
                    name.to_string()
                } else {
                    format!("{path}/{name}")
                };
                return Err(GitError::Limit(self.limits.files_exceeded(
                    self.commit,
                    self.visited,
                    &child,
                )));
            }
            if name.is_empty() || name == "." || name == ".." || name.contains(['/', '\0', '\\']) {
                return Err(op(&format!("invalid entry name {name:?}")));
            }
            if name.len() > MAX_NAME_BYTES {
                return Err(GitError::Limit(format!(
                    "commit {} has a name longer than {MAX_NAME_BYTES} bytes in {shown:?}",
                    self.commit
                )));
            }
            // Archive order relies on Git's canonical tree order; a crafted tree that breaks
            // it (or repeats a name) is refused.
            if previous.is_some_and(|p| p >= entry) {
                return Err(op(&format!(
                    "entry {name:?} is out of order or repeated: the tree is corrupt"
                )));
            }
            previous = Some(entry);
            children.push(Child {
                mode: entry.mode,
                name: name.to_string(),
                id: entry.oid.to_owned(),
            });
        }
        Ok(children)
    }

    fn read_sourceignore(&self, id: gix::ObjectId, path: &str) -> Result<String, GitError> {
        let op = |e: &dyn std::fmt::Display| {
            GitError::Operation(format!("reading {path:?} of commit {}: {e}", self.commit))
        };
        let size = self.repo.find_header(id).map_err(|e| op(&e))?.size();
        if size > MAX_SOURCEIGNORE_BYTES {
            return Err(GitError::Limit(format!(
                "{path} of commit {} is {}, more than the {} an ignore file may have",
                self.commit,
                crate::limits::format_size(size),
                crate::limits::format_size(MAX_SOURCEIGNORE_BYTES)
            )));
        }
        let blob = self.repo.find_blob(id).map_err(|e| op(&e))?;
        Ok(String::from_utf8_lossy(&blob.data).into_owned())
    }
}

fn connect<'r>(
    repo: &'r gix::Repository,
    remote: &'r gix::Remote<'r>,
    req: &FetchRequest<'_>,
    challenge: &Challenge,
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
    let refused = Arc::clone(&challenge.0);
    // gix asks for credentials only when the HTTP server answered 401, and erases them when
    // the server answered 401 again: both are recorded, as the error gix then returns carries
    // no status when there were no credentials to offer.
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
            None => {
                refused.store(true, Ordering::Relaxed);
                Ok(None)
            }
        },
        gix::credentials::helper::Action::Erase(_) => {
            refused.store(true, Ordering::Relaxed);
            Ok(None)
        }
        gix::credentials::helper::Action::Store(_) => Ok(None),
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
            let extra = match &ca {
                Some(pem) => reqwest::Certificate::from_pem_bundle(pem).map_err(|e| {
                    gix::error::ErrorExt::raise_erased(gix::error::message!(
                        "ca.crt is not a valid PEM certificate bundle: {e}"
                    ))
                })?,
                None => Vec::new(),
            };
            // The process's roots plus the Secret's ca.crt: never fails for lack of system
            // roots, so plain HTTP and own-CA servers work from a FROM-scratch image.
            Ok(weir_shared::tls::trust_blocking(
                builder.timeout(timeout),
                extra,
            ))
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

/// What the credentials callback of one connection saw: set when the HTTP server answered
/// 401 and the Secret had no credentials to offer, or the server refused the ones offered.
#[derive(Default)]
struct Challenge(Arc<AtomicBool>);

/// The facts about a failed Git operation that decide its class. They come from typed errors,
/// HTTP status codes and the fixed phrases of `ssh`, never from text that contains user input
/// (URL, host, user, port): a repository named `app-401` or a random port 40175 must not turn
/// a TLS error into an authentication failure.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Failure {
    /// An HTTP(S) remote. `status` is the HTTP status it answered with, `None` when no answer
    /// came (connection refused, TLS handshake failed, timeout).
    Http { status: Option<u16> },
    /// An SSH remote: the lines the `ssh` program printed on stderr.
    Ssh { stderr: Vec<String> },
    /// Anything else: `file://`, a local problem.
    Other,
}

/// The HTTP status a failed operation got, from gix's typed errors: a 401 is gix's
/// `AuthenticationRequired` (or a [`Challenge`] when there were no credentials to offer, where
/// gix keeps no typed cause); any other status is on the `reqwest::Error` gix keeps as a cause.
fn http_status(err: &gix::Error, challenge: &Challenge) -> Option<u16> {
    use gix::protocol::transport::client::AuthenticationRequired;
    if challenge.0.load(Ordering::Relaxed)
        || err.downcast_any_ref::<AuthenticationRequired>().is_some()
    {
        return Some(401);
    }
    err.iter_errors()
        .find_map(|e| e.downcast_ref::<reqwest::Error>()?.status())
        .map(|s| s.as_u16())
}

/// Sorts a failure into authentication or other failure, with a message that names the URL.
/// `detail` (the error's text, which may contain anything) only goes into the message.
fn classify(url: &str, failure: &Failure, detail: &str) -> GitError {
    let (refused, text) = match failure {
        Failure::Http { status } => (matches!(status, Some(401 | 403)), detail.to_string()),
        Failure::Ssh { stderr } => {
            // The decisive lines first, so that they survive the message's length limit.
            let (decisive, rest): (Vec<&str>, Vec<&str>) = stderr
                .iter()
                .map(String::as_str)
                .filter(|l| !ssh_noise(l))
                .partition(|l| ssh_refusal(l));
            let said = [decisive.as_slice(), rest.as_slice()].concat().join(" ");
            let text = if said.is_empty() {
                detail.to_string()
            } else {
                format!("ssh: {said}; {detail}")
            };
            (!decisive.is_empty(), text)
        }
        Failure::Other => (false, detail.to_string()),
    };
    let text = one_line(&text);
    if refused {
        GitError::Authentication(format!("authentication to {url} failed: {text}"))
    } else {
        GitError::Operation(format!("fetching {url} failed: {text}"))
    }
}

/// Whether a line `ssh` printed says that the server refused the key or that the host key did
/// not verify. Each shape is OpenSSH's fixed text at a fixed place in the line (LANG=C, which
/// gix sets); the parts that hold the user, host or port are skipped by position, never searched.
fn ssh_refusal(line: &str) -> bool {
    let line = line.trim_end();
    line == "Host key verification failed."
        || line.trim_matches(|c| c == '@' || c == ' ')
            == "WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!"
        // `No ED25519 host key is known for <host> and you have requested strict checking.`
        || line
            .strip_prefix("No ")
            .and_then(|rest| rest.split_once(' '))
            .is_some_and(|(_key_type, rest)| {
                rest.starts_with("host key is known for ")
                    && rest.ends_with(" and you have requested strict checking.")
            })
        // `Host key for <host> has changed and you have requested strict checking.`
        || (line.starts_with("Host key for ")
            && line.ends_with(" has changed and you have requested strict checking."))
        || key_refused(line)
}

/// `Permission denied (publickey).`, which OpenSSH prefixes with `<user>@<host>: `. The
/// method list the server sent ends the line, so the line is read from its end, and the
/// `<user>@<host>` part is only checked to be one word.
fn key_refused(line: &str) -> bool {
    let Some((head, methods)) = line.strip_suffix(").").and_then(|l| l.rsplit_once(" (")) else {
        return false;
    };
    let methods_ok = !methods.is_empty()
        && methods
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || ",-@.".contains(c));
    let head_ok = match head.strip_suffix("Permission denied") {
        Some("") => true,
        Some(prefix) => prefix
            .strip_suffix(": ")
            .is_some_and(|who| !who.is_empty() && !who.contains(char::is_whitespace)),
        None => false,
    };
    methods_ok && head_ok
}

/// Lines that say nothing about the failure: the banner's frame and ssh's notes about the
/// session.
fn ssh_noise(line: &str) -> bool {
    line.chars().all(|c| c == '@')
        || line.starts_with("Warning: Permanently added ")
        || line.starts_with("Pseudo-terminal will not be allocated ")
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

#[cfg(test)]
mod tests {
    use super::*;

    fn ssh(lines: &[&str]) -> Failure {
        Failure::Ssh {
            stderr: lines.iter().map(|l| l.to_string()).collect(),
        }
    }

    fn http(status: Option<u16>) -> Failure {
        Failure::Http { status }
    }

    const MISMATCH: &[&str] = &[
        "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@",
        "@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @",
        "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@",
        "IT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY!",
        "Offending ED25519 key in /tmp/x/known_hosts:1",
        "Host key for [127.0.0.1]:40175 has changed and you have requested strict checking.",
        "Host key verification failed.",
    ];

    #[test]
    fn failures_are_classified_from_typed_facts_never_from_user_input() {
        let tls = "Transport handshake failed Caused by: 0: error sending request for url \
                   (https://git.example:40175/app-401-403.git/info/refs) 1: invalid peer \
                   certificate: UnknownIssuer";
        let refused = "Transport handshake failed Caused by: 0: error sending request for url \
                       (https://127.0.0.1:40175/app.git/info/refs) 1: tcp connect error 2: \
                       Connection refused (os error 111)";
        // (case, url, failure, detail, authentication?)
        let cases: &[(&str, &str, Failure, &str, bool)] = &[
            (
                "TLS error, URL path with 401 and 403",
                "https://git.example:40175/app-401-403.git",
                http(None),
                tls,
                false,
            ),
            (
                "TLS error, host and port with 401 and 403",
                "https://401.example:4403/repo.git",
                http(None),
                "invalid peer certificate: UnknownIssuer (401 403 authentication)",
                false,
            ),
            (
                "connection refused on port 40175",
                "https://127.0.0.1:40175/app.git",
                http(None),
                refused,
                false,
            ),
            (
                "401",
                "https://git.example/app.git",
                http(Some(401)),
                "Received HTTP status 401",
                true,
            ),
            (
                "403",
                "https://git.example/app.git",
                http(Some(403)),
                "Received HTTP status 403",
                true,
            ),
            (
                "404 of a repository named 401",
                "https://git.example/missing-401.git",
                http(Some(404)),
                "Received HTTP status 404 for https://git.example/missing-401.git",
                false,
            ),
            (
                "500",
                "https://git.example/403.git",
                http(Some(500)),
                "status 500",
                false,
            ),
            (
                "ssh refused key",
                "ssh://git@git.example/app.git",
                ssh(&["git@git.example: Permission denied (publickey)."]),
                "",
                true,
            ),
            (
                "ssh refused key, older OpenSSH",
                "ssh://git@git.example/app.git",
                ssh(&["Permission denied (publickey,keyboard-interactive)."]),
                "",
                true,
            ),
            (
                "ssh host key mismatch",
                "ssh://git@127.0.0.1:40175/app.git",
                ssh(MISMATCH),
                "",
                true,
            ),
            (
                "ssh unknown host key",
                "ssh://git@127.0.0.1:40175/app.git",
                ssh(&[
                    "No ED25519 host key is known for [127.0.0.1]:40175 and you have requested strict checking.",
                    "Host key verification failed.",
                ]),
                "",
                true,
            ),
            (
                "ssh connection refused by a host named permission-denied",
                "ssh://git@permission-denied.example/app.git",
                ssh(&[
                    "ssh: connect to host permission-denied.example port 22: Connection refused",
                ]),
                "",
                false,
            ),
            (
                "ssh unknown host named permission-denied",
                "git@permission-denied.example:app.git",
                ssh(&[
                    "ssh: Could not resolve hostname permission-denied.example: Name or service not known",
                ]),
                "",
                false,
            ),
            (
                "ssh local connect refused by the system, not the server",
                "ssh://git@git.example/app.git",
                ssh(&["ssh: connect to host git.example port 22: Permission denied"]),
                "",
                false,
            ),
            (
                "ssh closed before authenticating",
                "ssh://git@git.example:40175/app.git",
                ssh(&["Connection closed by 10.0.0.1 port 40175"]),
                "",
                false,
            ),
            (
                "ssh said nothing",
                "ssh://git@git.example/403.git",
                ssh(&[]),
                "The repository 403 was not found (Permission denied)",
                false,
            ),
            (
                "file URL",
                "file:///srv/401/permission-denied",
                Failure::Other,
                "authentication failed: 401",
                false,
            ),
        ];
        for (case, url, failure, detail, authentication) in cases {
            let got = classify(url, failure, detail);
            let (prefix, is_auth) = match &got {
                GitError::Authentication(_) => (format!("authentication to {url} failed: "), true),
                GitError::Operation(_) => (format!("fetching {url} failed: "), false),
                GitError::Invalid(_) | GitError::Limit(_) => panic!("{case}: {got:?}"),
            };
            assert_eq!(is_auth, *authentication, "{case}: {got}");
            assert!(got.to_string().starts_with(&prefix), "{case}: {got}");
        }
    }

    #[test]
    fn ssh_messages_lead_with_the_decisive_line_and_drop_the_banner_frame() {
        let got = classify("ssh://git@h/r.git", &ssh(MISMATCH), "gix detail");
        let message = got.to_string();
        assert!(
            message.starts_with(
                "authentication to ssh://git@h/r.git failed: ssh: @ WARNING: REMOTE HOST \
                 IDENTIFICATION HAS CHANGED! @ Host key for"
            ),
            "{message}"
        );
        assert!(!message.contains("@@"), "{message}");
        assert!(message.ends_with("; gix detail"), "{message}");
    }

    #[test]
    fn a_401_is_read_from_gix_typed_errors_or_from_the_credentials_callback() {
        use gix::protocol::transport::client::AuthenticationRequired;
        let denied = std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            AuthenticationRequired::default(),
        );
        let none = Challenge::default();
        assert_eq!(
            http_status(&gix::Error::from_error(denied), &none),
            Some(401)
        );

        // A local "permission denied" is no HTTP status.
        let local = std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            "401 permission denied",
        );
        assert_eq!(http_status(&gix::Error::from_error(local), &none), None);

        // No credentials to offer: gix's error has no typed cause, the callback saw the 401.
        let asked = Challenge::default();
        asked.0.store(true, Ordering::Relaxed);
        let message = std::io::Error::other("No credentials were returned at all");
        assert_eq!(
            http_status(&gix::Error::from_error(message), &asked),
            Some(401)
        );
    }
}
