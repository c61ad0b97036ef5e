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
use kube::runtime::controller::Action;
use kube::runtime::finalizer::{self, Event as Finalizer};
use kube::{Client, Resource, ResourceExt};
use weir_api::meta::Artifact;
use weir_api::source::{
    DEFAULT_GIT_TIMEOUT, GitRepository, GitRepositorySpec, GitRepositoryStatus,
};
use weir_shared::conditions::{self, Status, reasons, types};
use weir_shared::events::{EventRecorder, Severity};
use weir_shared::metrics::Metrics;
use weir_shared::reconcile::{self, Backoff};
use weir_shared::storage::Storage;
use weir_shared::{ReconcileError, duration};

use crate::git::{self, Auth, FetchRequest, GitError};
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
    /// Requeue delay of a *waiting* error (`--requeue-dependency`).
    pub requeue_dependency: Duration,
}

/// Everything a reconcile needs.
pub struct Context {
    /// Kubernetes client.
    pub client: Client,
    /// Artifact storage.
    pub storage: Storage,
    /// Events.
    pub recorder: EventRecorder,
    /// Metrics.
    pub metrics: Metrics,
    /// Transient-error backoff.
    pub backoff: Backoff,
    /// Settings.
    pub settings: Settings,
}

/// Top-level reconcile: adds the finalizer, dispatches apply or cleanup.
///
/// # Errors
/// Only when the finalizer or status cannot be written; step failures are recorded in status.
pub async fn reconcile(
    obj: Arc<GitRepository>,
    ctx: Arc<Context>,
) -> Result<Action, finalizer::Error<ReconcileError>> {
    let ns = obj.namespace().unwrap_or_default();
    let api: Api<GitRepository> = Api::namespaced(ctx.client.clone(), &ns);
    finalizer::finalizer(&api, weir_api::FINALIZER, obj, |event| async {
        match event {
            Finalizer::Apply(obj) => reconcile_apply(&obj, &ctx).await,
            Finalizer::Cleanup(obj) => cleanup(&obj, &ctx).await,
        }
    })
    .await
}

/// What the controller does when the top-level reconcile itself failed (finalizer or status
/// write): retry with backoff.
pub fn error_policy(
    obj: Arc<GitRepository>,
    err: &finalizer::Error<ReconcileError>,
    ctx: Arc<Context>,
) -> Action {
    reconcile::top_level_failure(KIND, obj.as_ref(), err, &ctx.metrics, &ctx.backoff)
}

async fn reconcile_apply(obj: &GitRepository, ctx: &Context) -> Result<Action, ReconcileError> {
    let _timer = ctx.metrics.reconcile_timer(KIND);
    let name = obj.name_any();
    let ns = obj.namespace().unwrap_or_default();
    if obj.spec.suspend {
        tracing::debug!(%name, %ns, "suspended; skipping");
        return Ok(Action::await_change());
    }
    let api: Api<GitRepository> = Api::namespaced(ctx.client.clone(), &ns);
    let generation = obj.meta().generation;
    let previous = obj.status.clone().unwrap_or_default();
    let mut status = previous.clone();
    let interval = duration::parse(&obj.spec.interval).unwrap_or(Duration::from_secs(60));

    let outcome = run_steps(obj, ctx, &mut status).await;

    reconcile::summarize(
        &mut status.conditions,
        &outcome,
        generation,
        Timestamp::now(),
    );
    status.observed_generation = generation;
    if let Some(token) = reconcile::requested_at(obj) {
        status.last_handled_reconcile_at = Some(token);
    }
    reconcile::patch_status(&api, &name, &status).await?;
    for c in &status.conditions {
        ctx.metrics
            .set_condition(KIND, &ns, &name, &c.type_, &c.status);
    }
    if let Err(e) = &outcome {
        ctx.metrics.reconcile_failed(KIND);
        tracing::warn!(%name, %ns, reason = e.reason, error = %e.message, "reconcile failed");
        let changed = conditions::get(&previous.conditions, types::READY)
            .is_none_or(|c| c.message != e.message);
        if changed {
            let meta = revision_metadata(status.artifact.as_ref());
            ctx.recorder
                .publish(
                    &obj.object_ref(&()),
                    Severity::Error,
                    e.reason,
                    &e.message,
                    meta,
                )
                .await;
        }
    }
    Ok(reconcile::next_action(
        &outcome,
        &reconcile::object_key(obj),
        interval,
        ctx.settings.requeue_dependency,
        &ctx.backoff,
    ))
}

/// The ordered steps. Each sets the conditions it owns on `status`.
async fn run_steps(
    obj: &GitRepository,
    ctx: &Context,
    status: &mut GitRepositoryStatus,
) -> Result<String, ReconcileError> {
    let spec = validate(&obj.spec, ctx.settings.allow_file_urls)?;
    let auth = load_credentials(obj, ctx).await?;
    let fetched = fetch(obj, ctx, &spec, auth, status).await?;
    let Some(files) = fetched.files else {
        return Ok(format!(
            "stored artifact for revision '{}'",
            fetched.resolved.revision
        ));
    };
    let archive = package::pack(files, obj.spec.ignore.as_deref())
        .map_err(|e| ReconcileError::stalled(reasons::INVALID_SPEC, e))?;
    store(obj, ctx, status, &fetched.resolved, &archive).await
}

/// A spec checked for what the API server's schema cannot express.
#[derive(Debug, PartialEq)]
pub struct ValidSpec {
    /// What to check out.
    pub plan: RefPlan,
    /// Git operation timeout.
    pub timeout: Duration,
}

/// Validates URL, ref, interval and timeout. Sets no condition; failures stall.
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
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), &ns);
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
    auth_from_secret(&secret.data.unwrap_or_default()).map_err(|m| {
        ReconcileError::stalled(
            reasons::AUTHENTICATION_FAILED,
            format!("Secret {ns}/{}: {m}", secret_ref.name),
        )
    })
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
    files: Option<Vec<git::TreeFile>>,
}

/// Resolves the ref on the remote and fetches only when something changed. Sets `FetchFailed`.
async fn fetch(
    obj: &GitRepository,
    ctx: &Context,
    spec: &ValidSpec,
    auth: Auth,
    status: &mut GitRepositoryStatus,
) -> Result<Fetched, ReconcileError> {
    let now = Timestamp::now();
    let generation = obj.meta().generation;
    let cache_dir = ctx
        .settings
        .git_cache_root
        .join(obj.namespace().unwrap_or_default())
        .join(obj.name_any());
    let url = obj.spec.url.clone();
    let plan = spec.plan.clone();
    let timeout = spec.timeout;
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
                files: None,
            });
        }
        let files = git::fetch_tree(&req, &resolved)?;
        Ok(Fetched {
            resolved,
            files: Some(files),
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
            conditions::remove(&mut status.conditions, types::FETCH_FAILED);
            Ok(fetched)
        }
        Err(e) => {
            let err = match e {
                GitError::Authentication(m) => {
                    ReconcileError::transient(reasons::AUTHENTICATION_FAILED, m)
                }
                GitError::Operation(m) => {
                    ReconcileError::transient(reasons::GIT_OPERATION_FAILED, m)
                }
                GitError::Invalid(m) => ReconcileError::stalled(reasons::INVALID_SPEC, m),
            };
            conditions::set(
                &mut status.conditions,
                types::FETCH_FAILED,
                Status::True,
                err.reason,
                err.message.clone(),
                generation,
                now,
            );
            Err(err)
        }
    }
}

/// Writes the archive, updates `status.artifact`, garbage-collects old artifacts and emits
/// `NewArtifact` when the revision changed. Sets `ArtifactInStorage`.
async fn store(
    obj: &GitRepository,
    ctx: &Context,
    status: &mut GitRepositoryStatus,
    resolved: &reference::Resolved,
    archive: &[u8],
) -> Result<String, ReconcileError> {
    let ns = obj.namespace().unwrap_or_default();
    let dir = Storage::object_dir(KIND, &ns, &obj.name_any());
    let path = format!("{dir}/{}.tar.gz", resolved.commit);
    let storage = ctx.storage.clone();
    let bytes = archive.to_vec();
    let path_in_task = path.clone();
    let written = tokio::task::spawn_blocking(move || storage.write(&path_in_task, &bytes))
        .await
        .map_err(|e| {
            ReconcileError::transient(
                reasons::ARTIFACT_FAILED,
                format!("writing artifact {path}: {e}"),
            )
        })?
        .map_err(|e| {
            ReconcileError::transient(
                reasons::ARTIFACT_FAILED,
                format!("writing artifact {path}: {e}"),
            )
        })?;
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
        });
    }
    let message = format!("stored artifact for revision '{}'", resolved.revision);
    conditions::set(
        &mut status.conditions,
        types::ARTIFACT_IN_STORAGE,
        Status::True,
        reasons::SUCCEEDED,
        message.clone(),
        obj.meta().generation,
        now,
    );
    match ctx
        .storage
        .garbage_collect(&dir, &path, ctx.settings.artifact_retention)
    {
        Ok(deleted) if !deleted.is_empty() => {
            tracing::info!(?deleted, "garbage-collected artifacts")
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, dir, "garbage collection failed"),
    }
    if revision_changed {
        let meta = revision_metadata(status.artifact.as_ref());
        ctx.recorder
            .publish(
                &obj.object_ref(&()),
                Severity::Info,
                reasons::NEW_ARTIFACT,
                &format!("stored artifact for commit '{}'", resolved.commit),
                meta,
            )
            .await;
    }
    Ok(message)
}

fn revision_metadata(artifact: Option<&Artifact>) -> BTreeMap<String, String> {
    artifact
        .map(|a| BTreeMap::from([("source.weir.dev/revision".to_string(), a.revision.clone())]))
        .unwrap_or_default()
}

/// Deletion: removes the object's artifacts and Git cache.
async fn cleanup(obj: &GitRepository, ctx: &Context) -> Result<Action, ReconcileError> {
    let ns = obj.namespace().unwrap_or_default();
    let name = obj.name_any();
    ctx.storage
        .remove_object_dir(&Storage::object_dir(KIND, &ns, &name))
        .map_err(|e| {
            ReconcileError::transient(
                reasons::ARTIFACT_FAILED,
                format!("removing artifacts of {ns}/{name}: {e}"),
            )
        })?;
    let cache = ctx.settings.git_cache_root.join(&ns).join(&name);
    if let Err(e) = std::fs::remove_dir_all(&cache)
        && e.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(error = %e, cache = %cache.display(), "removing Git cache failed");
    }
    ctx.backoff.reset(&format!("{ns}/{name}"));
    for t in [types::READY, types::RECONCILING, types::STALLED] {
        ctx.metrics.set_condition(KIND, &ns, &name, t, "Deleted");
    }
    tracing::info!(%name, %ns, "deleted artifacts");
    Ok(Action::await_change())
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
