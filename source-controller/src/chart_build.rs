//! Building a HelmChart's artifact: pulling a chart from a repository or a registry, or
//! packaging it from a Git artifact, then merging values files and setting the version.
//!
//! The decisions (which version, whether the stored chart can be kept, the version metadata)
//! are pure functions; downloads and disk access are the few obvious I/O steps around them.

use std::path::{Path, PathBuf};
use std::time::Duration;

use weir_api::conditions::reasons;
use weir_api::meta::Artifact;
use weir_api::source::conditions::reasons as source_reasons;
use weir_helm::chart::File;
use weir_helm::repo::{IndexFile, PackageOptions};
use weir_shared::ReconcileError;
use weir_shared::oci::{self, OciUrl, RegistryAuth, RegistryOptions};

use crate::credentials::TlsMaterial;
use crate::helm_http::RepoClient;
use crate::helmrepository::http_error;
use crate::sources::{self, SourceSettings};

/// Where the chart comes from, with what is needed to get it.
pub enum ChartOrigin {
    /// A `type: default` HelmRepository: its stored index and a client with its credentials.
    Repository {
        /// The repository URL (chart URLs in the index are relative to it).
        url: String,
        /// The HelmRepository's index artifact.
        index: Artifact,
        /// Client with the repository's credentials and timeout.
        client: RepoClient,
    },
    /// A `type: oci` HelmRepository.
    Registry {
        /// `oci://host/path`; the chart is `<url>/<chart>`.
        url: String,
        /// Registry login.
        basic: Option<(String, String)>,
        /// TLS material.
        tls: TlsMaterial,
        /// Plain HTTP.
        insecure: bool,
        /// Timeout of registry operations.
        timeout: Duration,
    },
    /// A GitRepository artifact holding the chart folder.
    Git {
        /// The GitRepository's artifact.
        artifact: Artifact,
    },
}

/// What to build.
pub struct BuildRequest {
    /// `spec.chart`: a name (repository, registry) or a path (Git).
    pub chart: String,
    /// The version range (`*` when unset).
    pub version: String,
    /// `valuesFile` then `valuesFiles`.
    pub values_files: Vec<String>,
    /// `spec.ignoreMissingValuesFiles`.
    pub ignore_missing_values_files: bool,
    /// `reconcileStrategy: Revision`.
    pub revision_strategy: bool,
    /// The HelmChart's generation (version metadata when values files are merged).
    pub generation: i64,
    /// The stored artifact, if it is still in storage and the spec is unchanged.
    pub current: Option<Artifact>,
    /// The source.
    pub origin: ChartOrigin,
}

/// The result of a build.
#[derive(Debug)]
pub struct Built {
    /// Chart name.
    pub name: String,
    /// Artifact version (with metadata).
    pub version: String,
    /// The new `.tgz`, or `None` to keep the stored one (same version).
    pub bytes: Option<Vec<u8>>,
    /// The source revision this build used.
    pub source_revision: String,
    /// The values files merged.
    pub values_files: Vec<String>,
    /// Pulled (repository, registry) rather than packaged (Git).
    pub pulled: bool,
}

/// A failed build, by the condition it sets.
#[derive(Debug)]
pub enum BuildError {
    /// Getting the chart failed (`FetchFailed`).
    Fetch(ReconcileError),
    /// Packaging, values or verification failed (`BuildFailed`).
    Build(ReconcileError),
}

fn fetch_err(reason: &'static str, m: impl Into<String>) -> BuildError {
    BuildError::Fetch(ReconcileError::transient(reason, m))
}

fn build_err(m: impl Into<String>) -> BuildError {
    BuildError::Build(ReconcileError::transient(
        source_reasons::CHART_PACKAGE_ERROR,
        m,
    ))
}

/// Refuses absolute paths and `..` in a path relative to a source.
///
/// # Errors
/// A message naming the path.
pub fn check_relative(path: &str) -> Result<(), String> {
    let trimmed = path.trim_start_matches("./");
    if trimmed.is_empty() || path.starts_with('/') {
        return Err(format!("{path:?} must be a relative path"));
    }
    if trimmed.split('/').any(|c| c == "..") {
        return Err(format!("{path:?} must not leave the source (contains ..)"));
    }
    Ok(())
}

/// The version written into the artifact, as Flux sets it: `Revision` strategy on a Git
/// source adds the commit's first 12 characters, merged values files add the generation.
pub fn artifact_version(
    chart_version: &str,
    commit: Option<&str>,
    values_merged: bool,
    generation: i64,
) -> String {
    let mut meta = commit
        .map(|c| c[..c.len().min(12)].to_string())
        .unwrap_or_default();
    if values_merged {
        if !meta.is_empty() {
            meta.push('.');
        }
        meta.push_str(&generation.to_string());
    }
    if meta.is_empty() {
        return chart_version.to_string();
    }
    let base = chart_version.split('+').next().unwrap_or(chart_version);
    format!("{base}+{meta}")
}

/// The commit of a Git revision (`main@sha1:<hex>`, `sha1:<hex>`).
pub fn commit_of(revision: &str) -> &str {
    revision.rsplit_once(':').map_or(revision, |(_, hex)| hex)
}

/// Builds the chart.
///
/// # Errors
/// [`BuildError`].
pub async fn build(request: BuildRequest, settings: &SourceSettings) -> Result<Built, BuildError> {
    match &request.origin {
        ChartOrigin::Repository { url, index, client } => {
            from_repository(&request, url, index, client, settings).await
        }
        ChartOrigin::Registry {
            url,
            basic,
            tls,
            insecure,
            timeout,
        } => {
            let opts = RegistryOptions {
                insecure: *insecure,
                ca_pem: tls.ca_pem.clone(),
                client_identity: tls.identity.clone(),
                timeout: *timeout,
                auth: basic
                    .clone()
                    .map_or(RegistryAuth::Anonymous, |(username, password)| {
                        RegistryAuth::Basic { username, password }
                    }),
            };
            from_registry(&request, url, &opts, settings).await
        }
        ChartOrigin::Git { artifact } => from_git(&request, artifact, settings).await,
    }
}

/// Keeps the stored chart when it has exactly this version.
fn keep_current(request: &BuildRequest, version: &str) -> bool {
    request
        .current
        .as_ref()
        .is_some_and(|a| a.revision == version)
}

async fn from_repository(
    request: &BuildRequest,
    repo_url: &str,
    index: &Artifact,
    client: &RepoClient,
    settings: &SourceSettings,
) -> Result<Built, BuildError> {
    let bytes = sources::read_artifact(&settings.storage, index).map_err(BuildError::Fetch)?;
    let parsed = IndexFile::chart_from_canonical_json(&bytes, &request.chart).map_err(|e| {
        fetch_err(
            reasons::ARTIFACT_FAILED,
            format!("reading the stored index {}: {e}", index.path),
        )
    })?;
    let entry = parsed.get(&request.chart, &request.version).map_err(|e| {
        fetch_err(
            source_reasons::CHART_PULL_ERROR,
            format!("{e} in repository {repo_url}"),
        )
    })?;
    let merged_values = !request.values_files.is_empty();
    let version = artifact_version(&entry.version, None, merged_values, request.generation);
    let built = |bytes, values_files| Built {
        name: request.chart.clone(),
        version: version.clone(),
        bytes,
        source_revision: index.revision.clone(),
        values_files,
        pulled: true,
    };
    if keep_current(request, &version) {
        return Ok(built(None, request.values_files.clone()));
    }
    let chart_url = entry
        .urls
        .first()
        .ok_or_else(|| {
            fetch_err(
                source_reasons::CHART_PULL_ERROR,
                format!(
                    "chart {} version {} in repository {repo_url} has no download URL",
                    request.chart, entry.version
                ),
            )
        })
        .and_then(|u| {
            weir_helm::repo::resolve_chart_url(repo_url, u)
                .map_err(|m| fetch_err(source_reasons::CHART_PULL_ERROR, m))
        })?;
    let tgz = client
        .get(
            &chart_url,
            "downloading chart",
            settings.helm_chart_max_bytes,
            "--helm-chart-max-size",
        )
        .await
        .map_err(|e| BuildError::Fetch(http_error(e, source_reasons::CHART_PULL_ERROR)))?;
    if let Some(expected) = entry.digest.as_deref().filter(|d| !d.is_empty()) {
        let actual = weir_shared::storage::digest_of(&tgz);
        if actual.trim_start_matches("sha256:") != expected.trim_start_matches("sha256:") {
            return Err(fetch_err(
                source_reasons::CHART_PULL_ERROR,
                format!(
                    "chart {chart_url} has digest {actual}, but the index says sha256:{}: refusing it",
                    expected.trim_start_matches("sha256:")
                ),
            ));
        }
    }
    finish_pulled(request, tgz, &entry.version, &version, settings)
        .map(|(bytes, files)| built(Some(bytes), files))
}

/// Verifies a pulled `.tgz` is the chart asked for, merges values files (paths inside the
/// chart) and repackages when needed.
fn finish_pulled(
    request: &BuildRequest,
    tgz: Vec<u8>,
    chart_version: &str,
    version: &str,
    settings: &SourceSettings,
) -> Result<(Vec<u8>, Vec<String>), BuildError> {
    let limits = chart_limits(settings);
    let invalid = |m: String| build_err(format!("chart {} {chart_version}: {m}", request.chart));
    // What `check_chart_archive` does, keeping the files for the values merge below.
    let files = weir_helm::chart::archive::read_archive(&tgz, limits).map_err(invalid)?;
    let metadata = weir_helm::chart::load_files(files.clone())
        .map_err(|e| invalid(e.to_string()))?
        .metadata;
    if metadata.name != request.chart {
        return Err(build_err(format!(
            "the downloaded archive holds chart {:?}, not {:?}",
            metadata.name, request.chart
        )));
    }
    if request.values_files.is_empty() {
        return Ok((tgz, Vec::new()));
    }
    let (values, used) = merge_values(request, |path| {
        let wanted = path.trim_start_matches("./");
        files
            .iter()
            .find(|f| f.name == wanted)
            .map(|f| f.data.clone())
    })?;
    let packaged = weir_helm::repo::package_files(
        files,
        &PackageOptions {
            values_override: Some(values),
            version: Some(version.to_string()),
        },
    )
    .map_err(|e| build_err(format!("packaging chart {}: {e}", request.chart)))?;
    Ok((packaged.bytes, used))
}

/// Reads and merges the values files through `read` (None: missing).
fn merge_values(
    request: &BuildRequest,
    read: impl Fn(&str) -> Option<Vec<u8>>,
) -> Result<(weir_helm::chart::Values, Vec<String>), BuildError> {
    let mut found = Vec::new();
    let mut used = Vec::new();
    for path in &request.values_files {
        match read(path) {
            Some(bytes) => {
                found.push((path.clone(), bytes));
                used.push(path.clone());
            }
            None if request.ignore_missing_values_files => {}
            None => {
                return Err(build_err(format!(
                    "values file {path:?} not found in chart {}",
                    request.chart
                )));
            }
        }
    }
    let values = weir_helm::repo::merge_values_files(&found).map_err(build_err)?;
    Ok((values, used))
}

fn chart_limits(settings: &SourceSettings) -> weir_helm::chart::archive::Limits {
    weir_helm::chart::archive::Limits {
        max_archive_bytes: settings.helm_chart_max_bytes,
        ..weir_helm::chart::archive::Limits::default()
    }
}

/// Helm stores `+` of a version as `_` in an OCI tag.
pub fn tag_of_version(version: &str) -> String {
    version.replace('+', "_")
}

/// The tags that read as semantic versions (after `normalise`), newest first.
pub fn semver_tags<'a>(
    tags: impl Iterator<Item = &'a String>,
    normalise: impl Fn(&str) -> String,
) -> Vec<(weir_helm::sprig::semver::Version, &'a String)> {
    let mut versions: Vec<_> = tags
        .filter_map(|t| {
            weir_helm::sprig::semver::Version::parse(&normalise(t))
                .ok()
                .map(|v| (v, t))
        })
        .collect();
    versions.sort_by(|a, b| b.0.compare(&a.0));
    versions
}

/// The highest tag satisfying `range`; an exact version is used as a tag directly.
///
/// # Errors
/// A message listing the versions that exist.
pub fn pick_tag(tags: &[String], range: &str, chart: &str) -> Result<String, String> {
    use weir_helm::sprig::semver::Constraints;
    let constraints =
        Constraints::parse(range).map_err(|e| format!("version {range:?} is not a range: {e}"))?;
    let versions = semver_tags(tags.iter(), |t| t.replace('_', "+"));
    if let Some((_, tag)) = versions.iter().find(|(v, _)| constraints.matches(v)) {
        return Ok((*tag).clone());
    }
    let available: Vec<String> = versions
        .iter()
        .take(10)
        .map(|(v, _)| v.to_string())
        .collect();
    let more = versions.len().saturating_sub(available.len());
    Err(format!(
        "no version of chart {chart} matches {range:?}; versions: [{}]{}",
        available.join(", "),
        if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        }
    ))
}

async fn from_registry(
    request: &BuildRequest,
    repo_url: &str,
    opts: &RegistryOptions,
    settings: &SourceSettings,
) -> Result<Built, BuildError> {
    let url = format!("{}/{}", repo_url.trim_end_matches('/'), request.chart);
    let oci_url =
        OciUrl::parse(&url).map_err(|e| fetch_err(reasons::URL_INVALID, e.to_string()))?;
    let pull_err = |e: oci::OciError| {
        let reason = if matches!(e, oci::OciError::Authentication { .. }) {
            reasons::AUTHENTICATION_FAILED
        } else {
            source_reasons::CHART_PULL_ERROR
        };
        BuildError::Fetch(ReconcileError::transient(reason, e.to_string()).with_cause(e))
    };
    let registry = oci::RegistryClient::new(opts).map_err(pull_err)?;
    let exact = weir_helm::sprig::semver::Version::parse(&request.version)
        .ok()
        .filter(|_| {
            request
                .version
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_digit() || c == 'v')
        });
    let tag = match exact {
        Some(_) => tag_of_version(&request.version),
        None => {
            let tags = registry.list_tags(&oci_url).await.map_err(pull_err)?;
            pick_tag(&tags, &request.version, &url)
                .map_err(|m| fetch_err(source_reasons::CHART_PULL_ERROR, m))?
        }
    };
    let chart_version = tag.replace('_', "+");
    let merged_values = !request.values_files.is_empty();
    let version = artifact_version(&chart_version, None, merged_values, request.generation);
    let manifest = registry
        .resolve(&oci_url, &oci::Selector::Tag(tag.clone()))
        .await
        .map_err(pull_err)?;
    let source_revision = format!("{tag}@{}", manifest.digest);
    let built = |bytes, values_files| Built {
        name: request.chart.clone(),
        version: version.clone(),
        bytes,
        source_revision: source_revision.clone(),
        values_files,
        pulled: true,
    };
    if keep_current(request, &version) {
        return Ok(built(None, request.values_files.clone()));
    }
    if manifest.config.media_type != oci::HELM_CONFIG_MEDIA_TYPE {
        return Err(fetch_err(
            source_reasons::CHART_PULL_ERROR,
            format!(
                "{url}:{tag} is not a Helm chart: config media type {:?}, expected {:?}",
                manifest.config.media_type,
                oci::HELM_CONFIG_MEDIA_TYPE
            ),
        ));
    }
    let layer = manifest
        .layers
        .iter()
        .find(|l| l.media_type == oci::HELM_CHART_CONTENT_MEDIA_TYPE)
        .ok_or_else(|| {
            fetch_err(
                source_reasons::CHART_PULL_ERROR,
                format!(
                    "{url}:{tag} has no layer of media type {:?}",
                    oci::HELM_CHART_CONTENT_MEDIA_TYPE
                ),
            )
        })?;
    let tgz = registry
        .pull_blob(&oci_url, layer, settings.helm_chart_max_bytes)
        .await
        .map_err(pull_err)?;
    finish_pulled(request, tgz, &chart_version, &version, settings)
        .map(|(bytes, files)| built(Some(bytes), files))
}

async fn from_git(
    request: &BuildRequest,
    artifact: &Artifact,
    settings: &SourceSettings,
) -> Result<Built, BuildError> {
    let bytes = sources::read_artifact(&settings.storage, artifact).map_err(BuildError::Fetch)?;
    let work = tempfile::Builder::new()
        .prefix("helmchart-")
        .tempdir_in(
            ensure_dir(&settings.work_dir).map_err(|m| fetch_err(reasons::ARTIFACT_FAILED, m))?,
        )
        .map_err(|e| {
            fetch_err(
                reasons::ARTIFACT_FAILED,
                format!("creating a work folder: {e}"),
            )
        })?;
    let root = work.path().join("source");
    let limits = weir_shared::untar::Limits::default();
    let unpack_root = root.clone();
    tokio::task::spawn_blocking(move || weir_shared::untar::unpack(&bytes, &unpack_root, limits))
        .await
        .map_err(|e| fetch_err(reasons::ARTIFACT_FAILED, e.to_string()))?
        .map_err(|m| {
            fetch_err(
                reasons::ARTIFACT_FAILED,
                format!("unpacking artifact {}: {m}", artifact.path),
            )
        })?;
    check_relative(&request.chart).map_err(|m| {
        BuildError::Build(ReconcileError::stalled(
            reasons::INVALID_SPEC,
            format!("spec.chart: {m}"),
        ))
    })?;
    let chart_dir = root.join(request.chart.trim_start_matches("./"));
    if !chart_dir.join("Chart.yaml").is_file() {
        return Err(build_err(format!(
            "no chart at {:?} in {}: no Chart.yaml there",
            request.chart, artifact.revision
        )));
    }
    let chart = weir_helm::chart::load_dir(&chart_dir)
        .map_err(|e| build_err(format!("loading chart {}: {e}", request.chart)))?;
    let commit = request
        .revision_strategy
        .then(|| commit_of(&artifact.revision));
    let merged_values = !request.values_files.is_empty();
    let version = artifact_version(
        &chart.metadata.version,
        commit,
        merged_values,
        request.generation,
    );
    let name = chart.metadata.name.clone();
    if keep_current(request, &version) {
        return Ok(Built {
            name,
            version,
            bytes: None,
            source_revision: artifact.revision.clone(),
            values_files: request.values_files.clone(),
            pulled: false,
        });
    }
    let mut files = weir_helm::repo::chart_dir_files(&chart_dir)
        .map_err(|e| build_err(format!("reading chart {}: {e}", request.chart)))?;
    let missing = missing_dependencies(&chart);
    for dep in missing {
        let tgz = dependency_archive(&dep, &chart_dir, &root, settings).await?;
        files.push(File {
            name: format!("charts/{}-{}.tgz", dep.name, dep.version),
            data: tgz,
        });
    }
    let (values_override, used) = if merged_values {
        let (values, used) = merge_values(request, |path| {
            let p = root.join(path.trim_start_matches("./"));
            std::fs::read(p).ok()
        })?;
        (Some(values), used)
    } else {
        (None, Vec::new())
    };
    let packaged = weir_helm::repo::package_files(
        files,
        &PackageOptions {
            values_override,
            version: Some(version.clone()),
        },
    )
    .map_err(|e| build_err(format!("packaging chart {}: {e}", request.chart)))?;
    if packaged.bytes.len() as u64 > settings.helm_chart_max_bytes {
        return Err(build_err(format!(
            "packaged chart {} is larger than the {} byte limit (--helm-chart-max-size)",
            request.chart, settings.helm_chart_max_bytes
        )));
    }
    Ok(Built {
        name,
        version,
        bytes: Some(packaged.bytes),
        source_revision: artifact.revision.clone(),
        values_files: used,
        pulled: false,
    })
}

fn ensure_dir(dir: &Path) -> Result<&Path, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    Ok(dir)
}

/// Dependencies declared in Chart.yaml that are not vendored under `charts/`.
pub fn missing_dependencies(chart: &weir_helm::chart::Chart) -> Vec<weir_helm::chart::Dependency> {
    chart
        .metadata
        .dependencies
        .iter()
        .filter(|d| !chart.dependencies.iter().any(|c| c.metadata.name == d.name))
        .cloned()
        .collect()
}

/// Gets a dependency that is not vendored: `file://` folders inside the source are
/// packaged, `http(s)://` repositories are asked for the version range. Registries and
/// repository aliases must be vendored.
async fn dependency_archive(
    dep: &weir_helm::chart::Dependency,
    chart_dir: &Path,
    root: &Path,
    settings: &SourceSettings,
) -> Result<Vec<u8>, BuildError> {
    let repo = dep.repository.as_str();
    if let Some(rel) = repo.strip_prefix("file://") {
        let dir = normalise(&chart_dir.join(rel));
        if !dir.starts_with(root) {
            return Err(build_err(format!(
                "dependency {} at {repo:?} is outside the source artifact",
                dep.name
            )));
        }
        let files = weir_helm::repo::chart_dir_files(&dir)
            .map_err(|e| build_err(format!("dependency {} at {repo:?}: {e}", dep.name)))?;
        let packaged = weir_helm::repo::package_files(files, &PackageOptions::default())
            .map_err(|e| build_err(format!("packaging dependency {}: {e}", dep.name)))?;
        return Ok(packaged.bytes);
    }
    if repo.starts_with("https://") || repo.starts_with("http://") {
        let client = RepoClient::new(
            repo,
            None,
            &TlsMaterial::default(),
            false,
            Duration::from_secs(60),
        )
        .map_err(|m| fetch_err(source_reasons::CHART_PULL_ERROR, m))?;
        let index_url = crate::helmrepository::index_url(repo)
            .map_err(|m| fetch_err(source_reasons::CHART_PULL_ERROR, m))?;
        let bytes = client
            .get(
                &index_url,
                "fetching dependency index",
                settings.helm_index_max_bytes,
                "--helm-index-max-size",
            )
            .await
            .map_err(|e| BuildError::Fetch(http_error(e, source_reasons::CHART_PULL_ERROR)))?;
        let index = IndexFile::parse(&bytes).map_err(|e| {
            fetch_err(
                source_reasons::CHART_PULL_ERROR,
                format!("reading {index_url}: {e}"),
            )
        })?;
        let entry = index.get(&dep.name, &dep.version).map_err(|e| {
            fetch_err(
                source_reasons::CHART_PULL_ERROR,
                format!("dependency {}: {e} in {repo}", dep.name),
            )
        })?;
        let url = entry
            .urls
            .first()
            .ok_or_else(|| {
                fetch_err(
                    source_reasons::CHART_PULL_ERROR,
                    format!("dependency {} has no URL in {repo}", dep.name),
                )
            })
            .and_then(|u| {
                weir_helm::repo::resolve_chart_url(repo, u)
                    .map_err(|m| fetch_err(source_reasons::CHART_PULL_ERROR, m))
            })?;
        return client
            .get(
                &url,
                "downloading dependency",
                settings.helm_chart_max_bytes,
                "--helm-chart-max-size",
            )
            .await
            .map_err(|e| BuildError::Fetch(http_error(e, source_reasons::CHART_PULL_ERROR)));
    }
    Err(build_err(format!(
        "dependency {} from {repo:?} is not vendored under charts/ and cannot be fetched: \
         Weir fetches http(s):// repositories and file:// folders; run `helm dependency build` \
         and commit charts/",
        dep.name
    )))
}

/// Removes `.` and `..` components without touching the disk.
fn normalise(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_get_flux_metadata() {
        assert_eq!(artifact_version("1.2.3", None, false, 4), "1.2.3");
        assert_eq!(artifact_version("1.2.3", None, true, 4), "1.2.3+4");
        let commit = "0123456789abcdef0123456789abcdef01234567";
        assert_eq!(
            artifact_version("1.2.3", Some(commit), false, 4),
            "1.2.3+0123456789ab"
        );
        assert_eq!(
            artifact_version("1.2.3+old", Some(commit), true, 7),
            "1.2.3+0123456789ab.7"
        );
        assert_eq!(commit_of("main@sha1:abc"), "abc");
        assert_eq!(commit_of("sha1:abc"), "abc");
    }

    #[test]
    fn relative_paths_stay_inside_the_source() {
        assert!(check_relative("./charts/app").is_ok());
        assert!(check_relative("charts/app/values.yaml").is_ok());
        for bad in ["/etc/passwd", "../x", "charts/../../x", "./"] {
            assert!(check_relative(bad).is_err(), "{bad}");
        }
        assert_eq!(
            normalise(Path::new("/a/b/../c/./d")),
            PathBuf::from("/a/c/d")
        );
    }

    #[test]
    fn tags_resolve_by_semver_with_helm_underscores() {
        let tags: Vec<String> = ["1.0.0", "1.2.0", "2.0.0-rc.1", "1.3.0_build.5", "latest"]
            .iter()
            .map(|s| (*s).to_string())
            .collect();
        assert_eq!(pick_tag(&tags, "*", "c"), Ok("1.3.0_build.5".into()));
        assert_eq!(pick_tag(&tags, "~1.2", "c"), Ok("1.2.0".into()));
        assert_eq!(pick_tag(&tags, ">=2.0.0-0", "c"), Ok("2.0.0-rc.1".into()));
        let err = pick_tag(&tags, ">=3", "oci://r/c").expect_err("none");
        assert!(err.contains("1.3.0+build.5, 1.2.0, 1.0.0"), "{err}");
    }
}
