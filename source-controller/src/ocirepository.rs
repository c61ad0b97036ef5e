//! The OCIRepository reconciler.
//!
//! `validate → credentials → resolve (digest > semver > tag) → pull the selected layer →
//! extract + ignore rules + reproducible tar.gz (or copy as is) → store → summarise`.
//! Revision `<tag>@sha256:<manifest digest>` (`sha256:<digest>` for a digest ref), artifact
//! metadata the manifest's annotations, so consumers report the origin revision. An
//! unchanged manifest downloads nothing.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::ServiceAccount;
use kube::ResourceExt;
use kube::api::Api;
use weir_api::conditions::reasons;
use weir_api::source::conditions::{reasons as source_reasons, types as source_types};
use weir_api::source::{
    DEFAULT_REMOTE_TIMEOUT, OCIRepository, OCIRepositorySpec, OCIRepositoryStatus,
};
use weir_shared::archive::FileEntry;
use weir_shared::conditions::{self, Setter};
use weir_shared::driver::{Reconciler, Runtime};
use weir_shared::oci::{self, OciError, OciUrl, RegistryAuth, RegistryOptions, Selector};
use weir_shared::reconcile::{ConditionSet, Requeue};
use weir_shared::storage::Storage;
use weir_shared::{ReconcileError, duration};

use crate::artifact;
use crate::credentials;
use crate::helmrepository::check_provider;
use crate::sourceignore::IgnoreRules;
use crate::sources::SourceSettings;

/// The kind this reconciler owns.
pub const KIND: &str = "OCIRepository";

/// The OCIRepository reconciler.
pub struct OCIRepositoryReconciler {
    /// Client, events, metrics, backoff.
    pub runtime: Runtime,
    /// Settings shared by the source kinds.
    pub settings: Arc<SourceSettings>,
    /// Revisions already announced.
    pub announced: artifact::Announced,
}

impl Reconciler for OCIRepositoryReconciler {
    type Object = OCIRepository;
    type Status = OCIRepositoryStatus;
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

    fn status(obj: &OCIRepository) -> Option<&OCIRepositoryStatus> {
        obj.status.as_ref()
    }

    fn suspended(obj: &OCIRepository) -> bool {
        obj.spec.suspend
    }

    fn requeue(obj: &OCIRepository) -> Result<Requeue, ReconcileError> {
        Requeue::from_spec(&obj.spec.interval, None)
    }

    async fn run_steps(
        &self,
        obj: &OCIRepository,
        status: &mut OCIRepositoryStatus,
        setter: Setter,
    ) -> Result<String, ReconcileError> {
        let spec = validate(&obj.spec)?;
        let opts = self.options(obj, &spec).await?;
        let result = self.pull(obj, &spec, &opts, status).await;
        let pulled = match result {
            Ok(p) => {
                conditions::remove(&mut status.conditions, source_types::FETCH_FAILED);
                p
            }
            Err(err) => {
                setter.mark_true(
                    &mut status.conditions,
                    source_types::FETCH_FAILED,
                    err.reason,
                    err.message.clone(),
                );
                return Err(err);
            }
        };
        self.store(obj, pulled, status, setter).await
    }

    fn event_metadata(status: &OCIRepositoryStatus) -> BTreeMap<String, String> {
        artifact::revision_metadata(status.artifact.as_ref())
    }

    async fn cleanup(&self, obj: &OCIRepository) -> Result<(), ReconcileError> {
        let (ns, name) = (obj.namespace().unwrap_or_default(), obj.name_any());
        self.announced.forget(&format!("{ns}/{name}"));
        artifact::remove_all(&self.settings.storage, KIND, &ns, &name)
    }
}

/// What to pull, from a checked spec.
#[derive(Debug, Clone, PartialEq)]
pub enum RefPlan {
    /// A manifest digest.
    Digest(String),
    /// The highest tag in a semver range, after an optional regex filter.
    Semver {
        /// The range.
        range: String,
        /// The tag filter.
        filter: Option<String>,
    },
    /// A tag.
    Tag(String),
}

/// A spec checked for what the schema cannot express.
#[derive(Debug)]
pub struct ValidSpec {
    /// The repository.
    pub url: OciUrl,
    /// What to pull.
    pub plan: RefPlan,
    /// Timeout of registry operations.
    pub timeout: Duration,
    /// `extract` (false) or `copy` (true).
    pub copy: bool,
}

/// Validates URL, ref, layer selector, interval, timeout, ignore rules and the fields Weir
/// does not implement.
///
/// # Errors
/// Stalled `URLInvalid`, `InvalidSpec` or `Unsupported`, naming the value.
pub fn validate(spec: &OCIRepositorySpec) -> Result<ValidSpec, ReconcileError> {
    let invalid = |m: String| ReconcileError::stalled(reasons::INVALID_SPEC, m);
    let url = OciUrl::parse(&spec.url)
        .map_err(|e| ReconcileError::stalled(reasons::URL_INVALID, e.to_string()))?;
    duration::parse(&spec.interval).map_err(|m| invalid(format!("spec.interval: {m}")))?;
    let timeout = duration::parse(spec.timeout.as_deref().unwrap_or(DEFAULT_REMOTE_TIMEOUT))
        .map_err(|m| invalid(format!("spec.timeout: {m}")))?;
    check_provider(spec.provider.as_deref())?;
    if spec.verify.is_some() {
        return Err(ReconcileError::stalled(
            source_reasons::UNSUPPORTED,
            "spec.verify is not supported: Weir does not verify OCI signatures yet, and will \
             not use an artifact unverified that the spec asks to verify",
        ));
    }
    if spec.proxy_secret_ref.is_some() {
        return Err(ReconcileError::stalled(
            source_reasons::UNSUPPORTED,
            "spec.proxySecretRef is not supported yet: set HTTPS_PROXY on the controller instead",
        ));
    }
    let plan = plan(spec)?;
    let copy = match spec
        .layer_selector
        .as_ref()
        .and_then(|l| l.operation.as_deref())
    {
        None | Some("" | "extract") => false,
        Some("copy") => true,
        Some(other) => {
            return Err(invalid(format!(
                "spec.layerSelector.operation {other:?} is not one of extract, copy"
            )));
        }
    };
    if let Some(ignore) = spec.ignore.as_deref() {
        IgnoreRules::new(&[], Some(ignore)).map_err(|e| invalid(e.to_string()))?;
    }
    Ok(ValidSpec {
        url,
        plan,
        timeout,
        copy,
    })
}

fn plan(spec: &OCIRepositorySpec) -> Result<RefPlan, ReconcileError> {
    let invalid = |m: String| ReconcileError::stalled(reasons::INVALID_SPEC, m);
    let r = spec.reference.clone().unwrap_or_default();
    let set = |v: Option<String>| v.filter(|s| !s.trim().is_empty());
    if let Some(digest) = set(r.digest) {
        let hex = digest.strip_prefix("sha256:").unwrap_or_default();
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(invalid(format!(
                "spec.ref.digest {digest:?} is not sha256:<64 hex digits>"
            )));
        }
        return Ok(RefPlan::Digest(digest));
    }
    if let Some(range) = set(r.semver) {
        weir_helm::sprig::semver::Constraints::parse(&range)
            .map_err(|e| invalid(format!("spec.ref.semver {range:?} is not a range: {e}")))?;
        let filter = set(r.semver_filter);
        if let Some(f) = &filter {
            regex::Regex::new(f)
                .map_err(|e| invalid(format!("spec.ref.semverFilter {f:?}: {e}")))?;
        }
        return Ok(RefPlan::Semver { range, filter });
    }
    Ok(RefPlan::Tag(set(r.tag).unwrap_or_else(|| "latest".into())))
}

/// The highest tag in `range` among those matching `filter`.
///
/// # Errors
/// A message with the tags that exist.
pub fn pick_semver_tag(
    tags: &[String],
    range: &str,
    filter: Option<&str>,
) -> Result<String, String> {
    let constraints =
        weir_helm::sprig::semver::Constraints::parse(range).map_err(|e| e.to_string())?;
    let filter = filter
        .map(regex::Regex::new)
        .transpose()
        .map_err(|e| e.to_string())?;
    let filtered = tags
        .iter()
        .filter(|t| filter.as_ref().is_none_or(|f| f.is_match(t)));
    crate::chart_build::semver_tags(filtered, str::to_string)
        .into_iter()
        .find(|(v, _)| constraints.matches(v))
        .map(|(_, t)| t.clone())
        .ok_or_else(|| {
            let shown: Vec<&str> = tags.iter().take(20).map(String::as_str).collect();
            format!(
                "no tag matches semver range {range:?}{}; tags: [{}]{}",
                filter
                    .map(|f| format!(" after filter {:?}", f.as_str()))
                    .unwrap_or_default(),
                shown.join(", "),
                if tags.len() > shown.len() {
                    format!(" and {} more", tags.len() - shown.len())
                } else {
                    String::new()
                }
            )
        })
}

/// A pulled layer, ready to store.
pub struct Pulled {
    /// `<tag>@sha256:...` or `sha256:...`.
    pub revision: String,
    /// The manifest digest.
    pub digest: String,
    /// The manifest annotations.
    pub annotations: BTreeMap<String, String>,
    /// The artifact bytes; `None` when the stored artifact is still right.
    pub bytes: Option<Vec<u8>>,
}

fn pull_error(e: OciError) -> ReconcileError {
    let reason = if matches!(e, OciError::Authentication { .. }) {
        reasons::AUTHENTICATION_FAILED
    } else {
        source_reasons::OCI_PULL_FAILED
    };
    ReconcileError::transient(reason, e.to_string()).with_cause(e)
}

impl OCIRepositoryReconciler {
    /// Registry options: the login from `secretRef` or the ServiceAccount's pull secrets,
    /// TLS from `certSecretRef`.
    async fn options(
        &self,
        obj: &OCIRepository,
        spec: &ValidSpec,
    ) -> Result<RegistryOptions, ReconcileError> {
        let ns = obj.namespace().unwrap_or_default();
        let client = &self.runtime.client;
        let host = spec.url.registry().to_string();
        let mut secrets: Vec<(String, &str)> = Vec::new();
        if let Some(r) = &obj.spec.secret_ref {
            secrets.push((r.name.clone(), "spec.secretRef"));
        }
        if let Some(sa) = &obj.spec.service_account_name {
            let account = Api::<ServiceAccount>::namespaced(client.clone(), &ns)
                .get_opt(sa)
                .await
                .map_err(|e| ReconcileError::kube("reading ServiceAccount", e))?
                .ok_or_else(|| {
                    ReconcileError::transient(
                        reasons::AUTHENTICATION_FAILED,
                        format!(
                            "ServiceAccount {ns}/{sa} named by spec.serviceAccountName not found"
                        ),
                    )
                })?;
            for s in account.image_pull_secrets.unwrap_or_default() {
                secrets.push((s.name, "the ServiceAccount's imagePullSecrets"));
            }
        }
        let mut auth = RegistryAuth::Anonymous;
        for (name, field) in secrets {
            let data = credentials::load(client, &ns, &name, field).await?;
            let config = data
                .get(".dockerconfigjson")
                .or_else(|| data.get(".dockercfg"))
                .ok_or_else(|| {
                    credentials::invalid(
                        &ns,
                        &name,
                        "no .dockerconfigjson key: use a Secret of type kubernetes.io/dockerconfigjson",
                    )
                })?;
            let found = RegistryAuth::from_docker_config_json(&config.0, &host)
                .map_err(|m| credentials::invalid(&ns, &name, m))?;
            if found != RegistryAuth::Anonymous {
                auth = found;
                break;
            }
        }
        let mut tls = credentials::TlsMaterial::default();
        if let Some(r) = &obj.spec.cert_secret_ref {
            let data = credentials::load(client, &ns, &r.name, "spec.certSecretRef").await?;
            tls = credentials::tls_material(&data, false)
                .map_err(|m| credentials::invalid(&ns, &r.name, m))?;
        }
        Ok(RegistryOptions {
            insecure: obj.spec.insecure,
            ca_pem: tls.ca_pem,
            client_identity: tls.identity,
            timeout: spec.timeout,
            auth,
        })
    }

    /// Resolves the reference and pulls the layer when the revision or the spec changed.
    async fn pull(
        &self,
        obj: &OCIRepository,
        spec: &ValidSpec,
        opts: &RegistryOptions,
        status: &OCIRepositoryStatus,
    ) -> Result<Pulled, ReconcileError> {
        let registry = oci::RegistryClient::new(opts).map_err(pull_error)?;
        let (selector, tag) = match &spec.plan {
            RefPlan::Digest(d) => (Selector::Digest(d.clone()), None),
            RefPlan::Tag(t) => (Selector::Tag(t.clone()), Some(t.clone())),
            RefPlan::Semver { range, filter } => {
                let tags = registry.list_tags(&spec.url).await.map_err(pull_error)?;
                let tag = pick_semver_tag(&tags, range, filter.as_deref()).map_err(|m| {
                    ReconcileError::transient(
                        source_reasons::OCI_PULL_FAILED,
                        format!("{}: {m}", obj.spec.url),
                    )
                })?;
                (Selector::Tag(tag.clone()), Some(tag))
            }
        };
        let manifest = registry
            .resolve(&spec.url, &selector)
            .await
            .map_err(pull_error)?;
        let revision = match &tag {
            Some(t) => format!("{t}@{}", manifest.digest),
            None => manifest.digest.clone(),
        };
        let unchanged = status.observed_generation == obj.metadata.generation
            && status.observed_ignore == obj.spec.ignore
            && status.observed_layer_selector == obj.spec.layer_selector
            && status
                .artifact
                .as_ref()
                .is_some_and(|a| a.revision == revision && self.settings.storage.exists(&a.path));
        if unchanged {
            return Ok(Pulled {
                revision,
                digest: manifest.digest,
                annotations: manifest.annotations,
                bytes: None,
            });
        }
        let wanted = obj
            .spec
            .layer_selector
            .as_ref()
            .and_then(|l| l.media_type.clone())
            .filter(|m| !m.is_empty());
        let layer = match &wanted {
            Some(media_type) => manifest.layers.iter().find(|l| &l.media_type == media_type),
            None => manifest.layers.first(),
        }
        .ok_or_else(|| {
            ReconcileError::transient(
                source_reasons::OCI_LAYER_OPERATION_FAILED,
                match &wanted {
                    Some(m) => format!(
                        "{}@{}: no layer of media type {m:?}; layers: [{}]",
                        obj.spec.url,
                        manifest.digest,
                        manifest
                            .layers
                            .iter()
                            .map(|l| l.media_type.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    None => format!(
                        "{}@{}: the manifest has no layer",
                        obj.spec.url, manifest.digest
                    ),
                },
            )
        })?;
        let limit = self.settings.artifact_max_bytes;
        let blob = registry
            .pull_blob(&spec.url, layer, limit)
            .await
            .map_err(pull_error)?;
        let bytes = if spec.copy {
            blob
        } else {
            let ignore = obj.spec.ignore.clone();
            let what = format!("{}@{}", obj.spec.url, manifest.digest);
            tokio::task::spawn_blocking(move || repack(&blob, ignore.as_deref(), limit))
                .await
                .map_err(|e| {
                    ReconcileError::transient(
                        source_reasons::OCI_LAYER_OPERATION_FAILED,
                        e.to_string(),
                    )
                })?
                .map_err(|m| {
                    ReconcileError::transient(
                        source_reasons::OCI_LAYER_OPERATION_FAILED,
                        format!("extracting layer of {what}: {m}"),
                    )
                })?
        };
        Ok(Pulled {
            revision,
            digest: manifest.digest,
            annotations: manifest.annotations,
            bytes: Some(bytes),
        })
    }

    /// Writes the artifact, records it and announces a new revision. Sets
    /// `ArtifactInStorage`.
    async fn store(
        &self,
        obj: &OCIRepository,
        pulled: Pulled,
        status: &mut OCIRepositoryStatus,
        setter: Setter,
    ) -> Result<String, ReconcileError> {
        let storage = &self.settings.storage;
        let (ns, name) = (obj.namespace().unwrap_or_default(), obj.name_any());
        let dir = Storage::object_dir(KIND, &ns, &name);
        let hex = pulled.digest.trim_start_matches("sha256:");
        let path = format!("{dir}/{hex}.tar.gz");
        let written = match &pulled.bytes {
            Some(bytes) => storage.write(&path, bytes).map_err(|e| {
                ReconcileError::transient(
                    reasons::ARTIFACT_FAILED,
                    format!("writing artifact {path}: {e}"),
                )
            })?,
            None => {
                let a = status.artifact.as_ref().ok_or_else(|| {
                    ReconcileError::transient(
                        reasons::ARTIFACT_FAILED,
                        "no stored artifact to keep",
                    )
                })?;
                weir_shared::storage::StoredArtifact {
                    path: a.path.clone(),
                    digest: a.digest.clone(),
                    size: u64::try_from(a.size.unwrap_or(0)).unwrap_or(0),
                }
            }
        };
        let changed = artifact::record(
            storage,
            &mut status.artifact,
            &written,
            &pulled.revision,
            pulled.annotations,
        );
        status.url = status.artifact.as_ref().map(|a| a.url.clone());
        status.observed_ignore = obj.spec.ignore.clone();
        // As written in the spec, so that the next reconcile compares like with like.
        status.observed_layer_selector = obj.spec.layer_selector.clone();
        let message = format!("stored artifact for digest '{}'", pulled.revision);
        setter.mark_true(
            &mut status.conditions,
            source_types::ARTIFACT_IN_STORAGE,
            reasons::SUCCEEDED,
            message.clone(),
        );
        artifact::collect_garbage(
            storage,
            &dir,
            &written.path,
            self.settings.artifact_retention,
        );
        let key = format!("{ns}/{name}");
        if changed && self.announced.first_time(&key, &written.digest) {
            artifact::announce(&self.runtime, obj, status.artifact.as_ref(), &message).await;
        }
        Ok(message)
    }
}

/// Unpacks a tar.gz layer (bounded), applies the ignore rules (defaults, `.sourceignore`
/// files in the layer, `spec.ignore`) and packs the rest reproducibly.
///
/// # Errors
/// A message naming the entry or limit.
pub fn repack(layer: &[u8], spec_ignore: Option<&str>, limit: u64) -> Result<Vec<u8>, String> {
    let dir = tempfile::tempdir().map_err(|e| format!("creating a work folder: {e}"))?;
    let root = dir.path().join("layer");
    let limits = weir_shared::untar::Limits {
        max_archive_bytes: limit,
        max_unpacked_bytes: limit,
        ..weir_shared::untar::Limits::default()
    };
    weir_shared::untar::unpack(layer, &root, limits)?;
    let mut files = Vec::new();
    let mut sourceignores = Vec::new();
    walk(&root, "", &mut files)?;
    for (path, _) in &files {
        if path == ".sourceignore" || path.ends_with("/.sourceignore") {
            let dir = path.trim_end_matches(".sourceignore").trim_end_matches('/');
            let text = std::fs::read_to_string(root.join(path))
                .map_err(|e| format!("reading {path}: {e}"))?;
            sourceignores.push((dir.to_string(), text));
        }
    }
    let rules = IgnoreRules::new(&sourceignores, spec_ignore).map_err(|e| e.to_string())?;
    let mut entries = Vec::new();
    for (path, executable) in files {
        if rules.is_ignored(&path, false) {
            continue;
        }
        let contents =
            std::fs::read(root.join(&path)).map_err(|e| format!("reading {path}: {e}"))?;
        entries.push(FileEntry {
            path,
            executable,
            contents,
        });
    }
    weir_shared::archive::pack(entries).map_err(|e| format!("packing: {e}"))
}

/// Regular files under `dir`, `/`-separated relative paths, with their executable bit.
fn walk(dir: &std::path::Path, prefix: &str, out: &mut Vec<(String, bool)>) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt as _;
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| format!("reading {}: {e}", dir.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("reading {}: {e}", dir.display()))?;
    entries.sort_by_key(std::fs::DirEntry::file_name);
    for entry in entries {
        let name = entry.file_name().to_string_lossy().into_owned();
        let rel = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        let meta = entry
            .metadata()
            .map_err(|e| format!("reading {rel}: {e}"))?;
        if meta.is_dir() {
            walk(&entry.path(), &rel, out)?;
        } else if meta.is_file() {
            out.push((rel, meta.permissions().mode() & 0o111 != 0));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use weir_api::source::{OCILayerSelector, OCIRepositoryRef};

    fn spec(url: &str) -> OCIRepositorySpec {
        OCIRepositorySpec {
            url: url.into(),
            interval: "5m".into(),
            ..Default::default()
        }
    }

    #[test]
    fn the_most_specific_reference_wins() {
        let with = |r: OCIRepositoryRef| OCIRepositorySpec {
            reference: Some(r),
            ..spec("oci://r.example/app")
        };
        let digest = format!("sha256:{}", "a".repeat(64));
        let all = OCIRepositoryRef {
            digest: Some(digest.clone()),
            semver: Some(">=1".into()),
            tag: Some("v1".into()),
            semver_filter: None,
        };
        assert_eq!(plan(&with(all.clone())).ok(), Some(RefPlan::Digest(digest)));
        let semver = OCIRepositoryRef {
            digest: None,
            ..all.clone()
        };
        assert_eq!(
            plan(&with(semver)).ok(),
            Some(RefPlan::Semver {
                range: ">=1".into(),
                filter: None
            })
        );
        assert_eq!(
            plan(&spec("oci://r.example/app")).ok(),
            Some(RefPlan::Tag("latest".into()))
        );
        let bad = OCIRepositoryRef {
            digest: Some("sha256:zz".into()),
            ..Default::default()
        };
        let err = plan(&with(bad)).expect_err("bad digest");
        assert!(err.message.contains("sha256:zz"), "{}", err.message);
    }

    #[test]
    fn semver_tags_respect_the_filter() {
        let tags: Vec<String> = ["6.0.0", "6.1.0-rc.1", "6.0.1-dev", "v6.2.0", "latest"]
            .iter()
            .map(|s| (*s).to_string())
            .collect();
        assert_eq!(pick_semver_tag(&tags, ">=6.0.0", None), Ok("v6.2.0".into()));
        assert_eq!(
            pick_semver_tag(&tags, ">=6.0.0-0", Some(".*-rc.*")),
            Ok("6.1.0-rc.1".into())
        );
        let err = pick_semver_tag(&tags, ">=7", None).expect_err("none");
        assert!(err.contains("latest"), "{err}");
    }

    #[test]
    fn unsupported_fields_are_refused_not_ignored() {
        let err = validate(&OCIRepositorySpec {
            proxy_secret_ref: Some(weir_api::meta::LocalObjectReference { name: "p".into() }),
            ..spec("oci://r.example/app")
        })
        .expect_err("proxy");
        assert_eq!(err.reason, source_reasons::UNSUPPORTED);
        let err = validate(&OCIRepositorySpec {
            layer_selector: Some(OCILayerSelector {
                media_type: None,
                operation: Some("move".into()),
            }),
            ..spec("oci://r.example/app")
        })
        .expect_err("operation");
        assert!(err.message.contains("\"move\""), "{}", err.message);
    }

    #[test]
    fn repacking_applies_ignore_rules_and_is_reproducible() {
        let layer = weir_shared::archive::pack(vec![
            FileEntry {
                path: "app/deploy.yaml".into(),
                executable: false,
                contents: b"kind: Deployment\n".to_vec(),
            },
            FileEntry {
                path: "app/notes.md".into(),
                executable: false,
                contents: b"# notes\n".to_vec(),
            },
        ])
        .expect("pack");
        let once = repack(&layer, Some("*.md\n"), 1 << 20).expect("repack");
        let twice = repack(&layer, Some("*.md\n"), 1 << 20).expect("repack");
        assert_eq!(once, twice);
        let dir = tempfile::tempdir().expect("tmp");
        weir_shared::untar::unpack(
            &once,
            &dir.path().join("x"),
            weir_shared::untar::Limits::default(),
        )
        .expect("unpack");
        assert!(dir.path().join("x/app/deploy.yaml").is_file());
        assert!(!dir.path().join("x/app/notes.md").exists());
        let err = repack(&layer, None, 4).expect_err("limit");
        assert!(err.contains("bytes"), "{err}");
    }
}
