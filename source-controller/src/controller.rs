//! The GitRepository reconciler: a short driver over named steps.
//!
//! `finalizer → suspended? → validate → credentials → resolve → fetch → package → store →
//! summarise Ready → one status patch → requeue`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::Api;
use kube::{Resource, ResourceExt};
use weir_api::conditions::reasons;
use weir_api::meta::Artifact;
use weir_api::source::conditions::{reasons as source_reasons, types as source_types};
use weir_api::source::{
    DEFAULT_GIT_TIMEOUT, GitRepository, GitRepositorySpec, GitRepositoryStatus,
};
use weir_shared::conditions::{self, Setter};
use weir_shared::driver::{Reconciler, Runtime};
use weir_shared::events::Severity;
use weir_shared::reconcile::{ConditionSet, Requeue};
use weir_shared::storage::Storage;
use weir_shared::{ReconcileError, duration};

use crate::git::{self, Auth, FetchRequest, GitError};
use crate::limits::{ARTIFACT_TOO_LARGE, Limits};
use crate::package;
use crate::reference::{self, RefPlan};

/// The kind this controller reconciles.
pub const KIND: &str = "GitRepository";
/// Field manager and event reporter name.
pub const CONTROLLER_NAME: &str = "source-controller";

/// Process-wide settings of the reconciler.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Accept `file://` URLs (local development only).
    pub allow_file_urls: bool,
    /// How many artifacts to keep per object.
    pub artifact_retention: usize,
    /// Where per-object Git caches live.
    pub git_cache_root: PathBuf,
    /// Budget of one commit's tree and artifact.
    pub limits: Limits,
}

/// Everything a reconcile needs.
pub struct Context {
    /// Client, events, metrics, backoff.
    pub runtime: Runtime,
    /// Artifact storage.
    pub storage: Storage,
    /// Settings.
    pub settings: Settings,
}

impl Reconciler for Context {
    type Object = GitRepository;
    type Status = GitRepositoryStatus;
    const KIND: &'static str = KIND;
    const CONDITIONS: ConditionSet = ConditionSet {
        owned: &[
            source_types::ARTIFACT_IN_STORAGE,
            source_types::FETCH_FAILED,
        ],
        summarized: &[
            source_types::FETCH_FAILED,
            source_types::ARTIFACT_IN_STORAGE,
        ],
        negative: &[source_types::FETCH_FAILED],
    };

    fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    fn status(obj: &GitRepository) -> Option<&GitRepositoryStatus> {
        obj.status.as_ref()
    }

    fn suspended(obj: &GitRepository) -> bool {
        obj.spec.suspend
    }

    fn requeue(obj: &GitRepository) -> Result<Requeue, ReconcileError> {
        Requeue::from_spec(&obj.spec.interval, None)
    }

    async fn run_steps(
        &self,
        obj: &GitRepository,
        status: &mut GitRepositoryStatus,
        setter: Setter,
    ) -> Result<String, ReconcileError> {
        let spec = validate(&obj.spec, self.settings.allow_file_urls)?;
        let auth = load_credentials(obj, self).await?;
        let fetched = fetch(obj, self, &spec, auth, status, setter).await?;
        let Some(tree) = fetched.tree else {
            return Ok(format!(
                "stored artifact for revision '{}'",
                fetched.resolved.revision
            ));
        };
        let written = package(obj, self, tree, status, setter).await?;
        store(obj, self, status, &fetched.resolved, written, setter).await
    }

    fn event_metadata(status: &GitRepositoryStatus) -> BTreeMap<String, String> {
        crate::artifact::revision_metadata(status.artifact.as_ref())
    }

    async fn cleanup(&self, obj: &GitRepository) -> Result<(), ReconcileError> {
        cleanup(obj, self).await
    }
}

/// A spec checked for what the API server's schema cannot express.
#[derive(Debug, PartialEq)]
pub struct ValidSpec {
    /// What to check out.
    pub plan: RefPlan,
    /// Git operation timeout.
    pub timeout: Duration,
}

/// A packing failure: an invalid `spec.ignore` stalls (the spec must change); an invalid
/// `.sourceignore` in the commit or files over `--artifact-max-bytes` are retried (a new
/// commit fixes them without touching the spec).
fn pack_error(e: package::PackError) -> ReconcileError {
    use crate::sourceignore::IgnoreError;
    let err = match &e {
        package::PackError::Ignore(IgnoreError::Spec(m)) => {
            ReconcileError::stalled(reasons::INVALID_SPEC, m.clone())
        }
        package::PackError::Ignore(IgnoreError::Commit(m)) => ReconcileError::transient(
            source_reasons::IGNORE_RULES_INVALID,
            format!("{m}: fix the pattern in a new commit"),
        ),
        package::PackError::Limit(m) => ReconcileError::transient(ARTIFACT_TOO_LARGE, m.clone()),
        package::PackError::Git(m) => {
            ReconcileError::transient(source_reasons::GIT_OPERATION_FAILED, m.clone())
        }
        package::PackError::Archive(_) => {
            ReconcileError::transient(reasons::ARTIFACT_FAILED, e.to_string())
        }
    };
    err.with_cause(e)
}

/// Validates URL, ref, interval, timeout and `spec.ignore`. Sets no condition; failures stall.
///
/// # Errors
/// Stalled with `URLInvalid` or `InvalidSpec`, naming the offending value.
pub fn validate(
    spec: &GitRepositorySpec,
    allow_file_urls: bool,
) -> Result<ValidSpec, ReconcileError> {
    validate_url(&spec.url, allow_file_urls)
        .map_err(|m| ReconcileError::stalled(reasons::URL_INVALID, m))?;
    let plan = reference::plan(spec.reference.as_ref())
        .map_err(|m| ReconcileError::stalled(reasons::INVALID_SPEC, m))?;
    duration::parse(&spec.interval).map_err(|m| {
        ReconcileError::stalled(reasons::INVALID_SPEC, format!("spec.interval: {m}"))
    })?;
    let timeout =
        duration::parse(spec.timeout.as_deref().unwrap_or(DEFAULT_GIT_TIMEOUT)).map_err(|m| {
            ReconcileError::stalled(reasons::INVALID_SPEC, format!("spec.timeout: {m}"))
        })?;
    if let Some(ignore) = spec.ignore.as_deref() {
        crate::sourceignore::IgnoreRules::new(&[], Some(ignore))
            .map_err(|e| ReconcileError::stalled(reasons::INVALID_SPEC, e.to_string()))?;
    }
    Ok(ValidSpec { plan, timeout })
}

fn validate_url(raw: &str, allow_file_urls: bool) -> Result<(), String> {
    // gix must accept it too: it is stricter than the WHATWG parser (e.g. `https:///x`).
    gix::url::parse(gix::bstr::BStr::new(raw)).map_err(|e| format!("invalid URL {raw:?}: {e}"))?;
    if git::is_ssh(raw) && !raw.contains("://") {
        return Ok(());
    }
    let parsed = url::Url::parse(raw).map_err(|e| format!("invalid URL {raw:?}: {e}"))?;
    match parsed.scheme() {
        "https" | "http" | "ssh" => {
            if parsed.host_str().is_none_or(str::is_empty) {
                return Err(format!("URL {raw:?} has no host"));
            }
            Ok(())
        }
        "file" if allow_file_urls => Ok(()),
        "file" => Err(format!(
            "URL {raw:?} uses file://, which is refused unless the controller runs with --allow-file-urls"
        )),
        other => Err(format!(
            "URL {raw:?} has unsupported scheme {other:?}: use https, http or ssh"
        )),
    }
}

/// Reads the Secret named by `spec.secretRef`.
async fn load_credentials(obj: &GitRepository, ctx: &Context) -> Result<Auth, ReconcileError> {
    let Some(secret_ref) = &obj.spec.secret_ref else {
        return Ok(Auth::default());
    };
    let ns = obj.namespace().unwrap_or_default();
    let secrets: Api<Secret> = Api::namespaced(ctx.runtime.client.clone(), &ns);
    let secret = secrets.get_opt(&secret_ref.name).await.map_err(|e| {
        ReconcileError::transient(
            reasons::AUTHENTICATION_FAILED,
            format!("reading Secret {ns}/{}: {e}", secret_ref.name),
        )
    })?;
    let Some(secret) = secret else {
        return Err(ReconcileError::transient(
            reasons::AUTHENTICATION_FAILED,
            format!(
                "Secret {ns}/{} named by spec.secretRef not found",
                secret_ref.name
            ),
        ));
    };
    // Transient, not stalled: the fix is a change to the Secret, which does not change the
    // GitRepository, so only a retry sees it.
    let invalid = |m: String| {
        ReconcileError::transient(
            reasons::AUTHENTICATION_FAILED,
            format!("Secret {ns}/{}: {m}", secret_ref.name),
        )
    };
    let auth = auth_from_secret(&secret.data.unwrap_or_default()).map_err(invalid)?;
    if git::is_ssh(&obj.spec.url) && auth.known_hosts.is_none() {
        return Err(invalid(
            "no known_hosts key: SSH host keys are always verified, add the server's keys".into(),
        ));
    }
    Ok(auth)
}

/// Reads credentials from Secret data, Flux's key names.
///
/// # Errors
/// A message naming the key when a value is not UTF-8 or a pair is incomplete.
pub fn auth_from_secret(data: &BTreeMap<String, k8s_openapi::ByteString>) -> Result<Auth, String> {
    let text = |key: &str| -> Result<Option<String>, String> {
        data.get(key)
            .map(|v| {
                String::from_utf8(v.0.clone()).map_err(|_| format!("key {key:?} is not UTF-8"))
            })
            .transpose()
    };
    let basic = match (text("username")?, text("password")?) {
        (Some(u), Some(p)) => Some((u, p)),
        (None, None) => None,
        _ => return Err("keys \"username\" and \"password\" must be set together".into()),
    };
    Ok(Auth {
        basic,
        bearer_token: text("bearerToken")?,
        ca_pem: data.get("ca.crt").map(|v| v.0.clone()),
        ssh_identity: data.get("identity").map(|v| v.0.clone()),
        known_hosts: data.get("known_hosts").map(|v| v.0.clone()),
    })
}

struct Fetched {
    resolved: reference::Resolved,
    /// None when the revision and spec are unchanged and the artifact is still in storage.
    tree: Option<git::CommitTree>,
}

/// Resolves the ref on the remote and fetches only when something changed. Sets `FetchFailed`.
async fn fetch(
    obj: &GitRepository,
    ctx: &Context,
    spec: &ValidSpec,
    auth: Auth,
    status: &mut GitRepositoryStatus,
    setter: Setter,
) -> Result<Fetched, ReconcileError> {
    let generation = setter.generation();
    let cache_dir = ctx
        .settings
        .git_cache_root
        .join(obj.namespace().unwrap_or_default())
        .join(obj.name_any());
    let url = obj.spec.url.clone();
    let plan = spec.plan.clone();
    let timeout = spec.timeout;
    let limits = ctx.settings.limits;
    let current = status
        .artifact
        .as_ref()
        .filter(|a| ctx.storage.exists(&a.path))
        .map(|a| a.revision.clone());
    let spec_unchanged = status.observed_generation == generation;
    let interrupt = Arc::new(AtomicBool::new(false));
    let interrupt_in_task = interrupt.clone();
    let task = tokio::task::spawn_blocking(move || {
        let req = FetchRequest {
            url: &url,
            plan: &plan,
            auth: &auth,
            cache_dir: &cache_dir,
            timeout,
            interrupt: &interrupt_in_task,
        };
        let resolved = git::resolve_remote(&req)?;
        if spec_unchanged && current.as_deref() == Some(resolved.revision.as_str()) {
            return Ok(Fetched {
                resolved,
                tree: None,
            });
        }
        let tree = git::fetch_tree(&req, &resolved, &limits)?;
        Ok(Fetched {
            resolved,
            tree: Some(tree),
        })
    });
    let result = match tokio::time::timeout(timeout, task).await {
        Ok(Ok(r)) => r,
        Ok(Err(join)) => Err(GitError::Operation(format!("Git task failed: {join}"))),
        Err(_) => {
            interrupt.store(true, Ordering::SeqCst);
            Err(GitError::Operation(format!(
                "fetching {} timed out after {}",
                obj.spec.url,
                duration::format(timeout)
            )))
        }
    };
    match result {
        Ok(fetched) => {
            conditions::remove(&mut status.conditions, source_types::FETCH_FAILED);
            Ok(fetched)
        }
        Err(e) => {
            let err = match e {
                GitError::Authentication(m) => {
                    ReconcileError::transient(reasons::AUTHENTICATION_FAILED, m)
                }
                GitError::Operation(m) => {
                    ReconcileError::transient(source_reasons::GIT_OPERATION_FAILED, m)
                }
                GitError::Invalid(m) => ReconcileError::stalled(reasons::INVALID_SPEC, m),
                GitError::Limit(m) => ReconcileError::transient(ARTIFACT_TOO_LARGE, m),
            };
            setter.mark_true(
                &mut status.conditions,
                source_types::FETCH_FAILED,
                err.reason,
                err.message.clone(),
            );
            Err(err)
        }
    }
}

/// The artifact's path in storage for a commit.
fn artifact_path(obj: &GitRepository, commit: &str) -> String {
    let dir = Storage::object_dir(KIND, &obj.namespace().unwrap_or_default(), &obj.name_any());
    format!("{dir}/{commit}.tar.gz")
}

/// Applies the ignore rules and `--artifact-max-bytes`, and streams the commit's files into
/// the artifact file in storage. A budget exceeded sets `FetchFailed=True` with
/// `ArtifactTooLarge`; `status.artifact` is untouched, so the previous artifact keeps serving.
async fn package(
    obj: &GitRepository,
    ctx: &Context,
    tree: git::CommitTree,
    status: &mut GitRepositoryStatus,
    setter: Setter,
) -> Result<weir_shared::storage::StoredArtifact, ReconcileError> {
    let path = artifact_path(obj, &tree.commit);
    let storage = ctx.storage.clone();
    let limits = ctx.settings.limits;
    let ignore = obj.spec.ignore.clone();
    let path_in_task = path.clone();
    let result = tokio::task::spawn_blocking(move || {
        package::pack_to_storage(
            &tree,
            ignore.as_deref(),
            &limits,
            &storage,
            &path_in_task,
            &AtomicBool::new(false),
        )
    })
    .await
    .map_err(|e| {
        ReconcileError::transient(
            reasons::ARTIFACT_FAILED,
            format!("writing artifact {path}: {e}"),
        )
    })?;
    result.map_err(|e| {
        let err = pack_error(e);
        if err.reason == ARTIFACT_TOO_LARGE {
            setter.mark_true(
                &mut status.conditions,
                source_types::FETCH_FAILED,
                err.reason,
                err.message.clone(),
            );
        }
        err
    })
}

/// Records the written artifact in `status.artifact`, garbage-collects old artifacts and
/// emits `NewArtifact` when the revision changed. Sets `ArtifactInStorage`.
async fn store(
    obj: &GitRepository,
    ctx: &Context,
    status: &mut GitRepositoryStatus,
    resolved: &reference::Resolved,
    written: weir_shared::storage::StoredArtifact,
    setter: Setter,
) -> Result<String, ReconcileError> {
    let ns = obj.namespace().unwrap_or_default();
    let dir = Storage::object_dir(KIND, &ns, &obj.name_any());
    let path = written.path.clone();
    let revision_changed = status
        .artifact
        .as_ref()
        .is_none_or(|a| a.revision != resolved.revision);
    let digest_changed = status
        .artifact
        .as_ref()
        .is_none_or(|a| a.digest != written.digest);
    let now = Timestamp::now();
    if digest_changed || status.artifact.as_ref().is_some_and(|a| a.path != path) {
        status.artifact = Some(Artifact {
            url: ctx.storage.url_for(&written.path),
            path: written.path.clone(),
            revision: resolved.revision.clone(),
            digest: written.digest.clone(),
            size: i64::try_from(written.size).ok(),
            last_update_time: Time(now),
            metadata: BTreeMap::new(),
        });
    }
    let message = format!("stored artifact for revision '{}'", resolved.revision);
    setter.mark_true(
        &mut status.conditions,
        source_types::ARTIFACT_IN_STORAGE,
        reasons::SUCCEEDED,
        message.clone(),
    );
    crate::artifact::collect_garbage(&ctx.storage, &dir, &path, ctx.settings.artifact_retention);
    if revision_changed {
        let meta = crate::artifact::revision_metadata(status.artifact.as_ref());
        ctx.runtime
            .recorder
            .publish(
                &obj.object_ref(&()),
                Severity::Info,
                source_reasons::NEW_ARTIFACT,
                &format!("stored artifact for commit '{}'", resolved.commit),
                meta,
            )
            .await;
    }
    Ok(message)
}

/// Deletion: removes the object's artifacts and Git cache.
async fn cleanup(obj: &GitRepository, ctx: &Context) -> Result<(), ReconcileError> {
    let ns = obj.namespace().unwrap_or_default();
    let name = obj.name_any();
    crate::artifact::remove_all(&ctx.storage, KIND, &ns, &name)?;
    let cache = ctx.settings.git_cache_root.join(&ns).join(&name);
    if let Err(e) = std::fs::remove_dir_all(&cache)
        && e.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(error = %e, cache = %cache.display(), "removing Git cache failed");
    }
    tracing::info!(%name, %ns, "deleted artifacts");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use weir_api::source::GitRepositoryRef;

    fn spec(url: &str) -> GitRepositorySpec {
        GitRepositorySpec {
            url: url.into(),
            interval: "1m".into(),
            ..Default::default()
        }
    }

    #[test]
    fn validation_stalls_with_the_offending_value() {
        let cases = [
            (spec("ftp://example.com/repo"), "URLInvalid", "\"ftp\""),
            (spec("file:///tmp/repo"), "URLInvalid", "--allow-file-urls"),
            (spec("not a url"), "URLInvalid", "\"not a url\""),
            (
                spec("https:///repo.git"),
                "URLInvalid",
                "\"https:///repo.git\"",
            ),
            (
                GitRepositorySpec {
                    interval: "soon".into(),
                    ..spec("https://h/r")
                },
                "InvalidSpec",
                "\"soon\"",
            ),
            (
                GitRepositorySpec {
                    timeout: Some("1x".into()),
                    ..spec("https://h/r")
                },
                "InvalidSpec",
                "spec.timeout",
            ),
        ];
        for (s, reason, needle) in cases {
            let err = validate(&s, false).expect_err(needle);
            assert_eq!((err.next, err.reason), (weir_shared::Next::Stalled, reason));
            assert!(err.message.contains(needle), "{}", err.message);
        }
    }

    #[test]
    fn validation_accepts_supported_urls_and_defaults() -> Result<(), ReconcileError> {
        for url in [
            "https://h/r.git",
            "http://h:8080/r",
            "ssh://git@h:22/r",
            "git@github.com:org/repo.git",
        ] {
            validate(&spec(url), false)?;
        }
        validate(&spec("file:///tmp/repo"), true)?;
        let v = validate(
            &GitRepositorySpec {
                reference: Some(GitRepositoryRef {
                    tag: Some("v1".into()),
                    ..Default::default()
                }),
                ..spec("https://h/r")
            },
            false,
        )?;
        assert_eq!(
            v,
            ValidSpec {
                plan: RefPlan::Tag("v1".into()),
                timeout: Duration::from_secs(60)
            }
        );
        Ok(())
    }

    #[test]
    fn secret_keys_follow_flux() {
        let data = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| {
                    (
                        (*k).to_string(),
                        k8s_openapi::ByteString(v.as_bytes().to_vec()),
                    )
                })
                .collect()
        };
        let auth = auth_from_secret(&data(&[
            ("username", "u"),
            ("password", "p"),
            ("ca.crt", "PEM"),
        ]))
        .expect("valid");
        assert_eq!(auth.basic, Some(("u".into(), "p".into())));
        assert_eq!(auth.ca_pem.as_deref(), Some(b"PEM".as_slice()));
        let err = auth_from_secret(&data(&[("username", "u")])).expect_err("incomplete");
        assert!(err.contains("password"), "{err}");
    }
}
