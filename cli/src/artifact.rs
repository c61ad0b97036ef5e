//! `weir push artifact` and `weir pull artifact`: Flux's OCI artifacts from the command line,
//! with `flux push artifact`'s and `flux pull artifact`'s flags, format and messages, so that
//! either tool reads what the other wrote.
//!
//! The artifact is an OCI image manifest with config media type
//! `application/vnd.cncf.flux.config.v1+json`, one `application/vnd.cncf.flux.content.v1.tar+gzip`
//! layer (a reproducible tar.gz of the pushed files, see [`weir_shared::archive`]) and the
//! `org.opencontainers.image.created`, `.source` and `.revision` annotations.
//!
//! Progress goes to stderr (`► pushing artifact to ...`, `✔ ...`), data to stdout (`--output
//! json|yaml` of `push`).
//!
//! Deliberate differences from Flux: `--path -` (stdin) and cloud `--provider` logins are not
//! supported; Docker credential helpers are not run (`--creds` or `auths` entries of
//! `~/.docker/config.json` only); symbolic links in the pushed tree are left out, as Flux
//! leaves out anything that is not a regular file or directory; `pull` creates `--output` when
//! it does not exist.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, bail};
use weir_shared::archive::FileEntry;
use weir_shared::oci::{
    self, Artifact, OciReference, RegistryAuth, RegistryClient, RegistryOptions, Selector,
};

/// Flux's default `--ignore-paths` for OCI artifacts: its VCS and file-extension exclusions.
pub const DEFAULT_IGNORE_PATHS: &[&str] = &[
    ".git/",
    ".gitignore",
    ".gitmodules",
    ".gitattributes",
    "*.jpg",
    "*.jpeg",
    "*.gif",
    "*.png",
    "*.wmv",
    "*.flv",
    "*.tar.gz",
    "*.zip",
];

/// How long a push or pull may take by default (Flux's `--timeout`).
const DEFAULT_TIMEOUT: &str = "5m";

/// Registry connection flags shared by `push` and `pull`.
#[derive(clap::Args, Debug)]
pub struct RegistryFlags {
    /// Credentials for the registry: `<username>:<password>`, or a single token. Without it,
    /// the `auths` entry of `~/.docker/config.json` (or `$DOCKER_CONFIG/config.json`) for the
    /// registry is used, if any.
    #[arg(long, env = "WEIR_REGISTRY_CREDS", hide_env_values = true)]
    creds: Option<String>,
    /// Talk to the registry over plain HTTP (no TLS).
    #[arg(long = "insecure-registry", env = "WEIR_INSECURE_REGISTRY")]
    insecure_registry: bool,
    /// How long the whole operation may take (Go duration: 30s, 5m, 1h).
    #[arg(long, default_value = DEFAULT_TIMEOUT, env = "WEIR_REGISTRY_TIMEOUT")]
    timeout: String,
}

/// `weir push artifact oci://<repository>:<tag> --path ... --source ... --revision ...`.
#[derive(clap::Args, Debug)]
pub struct PushArtifactArgs {
    /// Where to push: `oci://<host>[:port]/<repository>:<tag>` (the tag defaults to
    /// `latest`).
    url: String,
    /// The directory (or single file) whose files make up the artifact.
    #[arg(short, long)]
    path: PathBuf,
    /// Where the content comes from, e.g. the Git URL (annotation
    /// `org.opencontainers.image.source`).
    #[arg(long)]
    source: String,
    /// The source revision, e.g. `main@sha1:<commit>` (annotation
    /// `org.opencontainers.image.revision`).
    #[arg(long)]
    revision: String,
    /// Extra manifest annotations as `key=value` (repeat the flag or separate with commas);
    /// they override the created, source and revision annotations, as with Flux.
    #[arg(short = 'a', long = "annotations", value_delimiter = ',')]
    annotations: Vec<String>,
    /// Paths to leave out, in .gitignore format (replaces the default list).
    #[arg(long = "ignore-paths", value_delimiter = ',', default_values_t = DEFAULT_IGNORE_PATHS.iter().map(|s| s.to_string()))]
    ignore_paths: Vec<String>,
    /// Print the pushed artifact's URL, repository, tag and digest on stdout in this format.
    #[arg(short, long, value_enum)]
    output: Option<OutputFormat>,
    #[command(flatten)]
    registry: RegistryFlags,
}

/// `weir pull artifact oci://<repository>[:<tag>|@<digest>] --output DIR`.
#[derive(clap::Args, Debug)]
pub struct PullArtifactArgs {
    /// What to pull: `oci://<host>[:port]/<repository>[:<tag>|@sha256:<hex>]` (the tag
    /// defaults to `latest`).
    url: String,
    /// The directory to extract the artifact's content into (created when missing; files
    /// already there are overwritten).
    #[arg(short, long)]
    output: PathBuf,
    #[command(flatten)]
    registry: RegistryFlags,
}

/// `--output` of `push`.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum OutputFormat {
    /// Indented JSON.
    Json,
    /// YAML.
    Yaml,
}

/// What `push --output` prints, as Flux prints it.
#[derive(serde::Serialize)]
struct PushInfo {
    url: String,
    repository: String,
    tag: String,
    digest: String,
}

/// Runs `weir push artifact`.
///
/// # Errors
/// Bad flags, an unreadable path, and registry failures (naming the reference).
pub fn push(args: PushArtifactArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let reference = OciReference::parse(&args.url)?;
    let tag = match &reference.selector {
        None => "latest".to_string(),
        Some(Selector::Tag(tag)) => tag.clone(),
        Some(Selector::Digest(_)) => {
            bail!("{}: a pushed artifact needs a tag, not a digest", args.url)
        }
    };
    if args.source.is_empty() {
        bail!("--source is required");
    }
    if args.revision.is_empty() {
        bail!("--revision is required");
    }
    let mut annotations = BTreeMap::from([
        (oci::ANNOTATION_CREATED.to_string(), oci::created_now()),
        (oci::ANNOTATION_SOURCE.to_string(), args.source.clone()),
        (oci::ANNOTATION_REVISION.to_string(), args.revision.clone()),
    ]);
    for pair in &args.annotations {
        let Some((key, value)) = pair.split_once('=').filter(|(k, _)| !k.is_empty()) else {
            bail!("invalid annotation {pair:?}: expected key=value");
        };
        annotations.insert(key.to_string(), value.to_string());
    }
    let files = collect_files(&args.path, &args.ignore_paths)?;
    let layer = weir_shared::archive::pack(files)
        .with_context(|| format!("building the artifact from {}", args.path.display()))?;
    let options = registry_options(&args.registry, reference.url.registry())?;
    let tagged = reference.url.with(Selector::Tag(tag.clone()));
    if args.output.is_none() {
        eprintln!("► pushing artifact to {tagged}");
    }
    let digest = block_on(async {
        let client = RegistryClient::new(&options)?;
        let digest = client
            .push_artifact(&reference.url, &tag, &Artifact::flux(layer, annotations))
            .await?;
        Ok(digest)
    })
    .map_err(|e| hint_insecure(e, &args.registry))
    .context("pushing artifact failed")?;
    let repository = format!(
        "{}/{}",
        reference.url.registry(),
        reference.url.repository()
    );
    let digest_url = format!("{repository}@{digest}");
    let info = PushInfo {
        url: format!("oci://{digest_url}"),
        repository,
        tag,
        digest,
    };
    match args.output {
        Some(OutputFormat::Json) => {
            serde_json::to_writer_pretty(&mut *out, &info)?;
            out.write_all(b"\n")?;
        }
        Some(OutputFormat::Yaml) => {
            weir_yaml::to_writer_multi(&[serde_json::to_value(&info)?], out)?;
        }
        None => eprintln!("✔ artifact successfully pushed to {digest_url}"),
    }
    Ok(())
}

/// Runs `weir pull artifact`.
///
/// # Errors
/// Bad flags, registry failures (naming the reference), and an unsafe or oversized archive.
pub fn pull(args: PullArtifactArgs, _out: &mut dyn Write) -> anyhow::Result<()> {
    let reference = OciReference::parse(&args.url)?;
    let selector = reference
        .selector
        .clone()
        .unwrap_or_else(|| Selector::Tag("latest".to_string()));
    if let Ok(meta) = std::fs::symlink_metadata(&args.output)
        && !meta.is_dir()
    {
        bail!(
            "invalid output path {}: it exists and is not a directory",
            args.output.display()
        );
    }
    let options = registry_options(&args.registry, reference.url.registry())?;
    let shown = reference.url.with(selector.clone());
    eprintln!("► pulling artifact from {shown}");
    let limits = weir_shared::untar::Limits::default();
    let (manifest, layer) = block_on(async {
        let client = RegistryClient::new(&options)?;
        let manifest = client.resolve(&reference.url, &selector).await?;
        // As Flux: the first layer holds the content.
        let Some(first) = manifest.layers.first() else {
            bail!("{shown}: the artifact has no layers");
        };
        let layer = client
            .pull_blob(&reference.url, first, limits.max_archive_bytes)
            .await?;
        Ok((manifest, layer))
    })
    .map_err(|e| hint_insecure(e, &args.registry))
    .context("pulling artifact failed")?;
    extract(&layer, &args.output, limits)
        .with_context(|| format!("extracting {shown} to {}", args.output.display()))?;
    let meta = |key: &str| manifest.annotations.get(key).cloned().unwrap_or_default();
    eprintln!("✔ source {}", meta(oci::ANNOTATION_SOURCE));
    eprintln!("✔ revision {}", meta(oci::ANNOTATION_REVISION));
    eprintln!(
        "✔ digest {}/{}@{}",
        reference.url.registry(),
        reference.url.repository(),
        manifest.digest
    );
    eprintln!("✔ artifact content extracted to {}", args.output.display());
    Ok(())
}

/// Prints a hint for a transport failure over HTTPS (the registry may serve plain HTTP) and
/// passes the error on.
fn hint_insecure(e: anyhow::Error, flags: &RegistryFlags) -> anyhow::Error {
    if !flags.insecure_registry
        && matches!(
            e.downcast_ref::<oci::OciError>(),
            Some(oci::OciError::Transport { .. })
        )
    {
        eprintln!("hint: if the registry serves plain HTTP, pass --insecure-registry");
    }
    e
}

/// Runs `op` on a runtime of its own (the CLI is synchronous).
fn block_on<T>(op: impl Future<Output = anyhow::Result<T>>) -> anyhow::Result<T> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?
        .block_on(op)
}

/// The registry options of the flags: `--creds`, else the user's Docker config.
fn registry_options(flags: &RegistryFlags, registry: &str) -> anyhow::Result<RegistryOptions> {
    let timeout: Duration = weir_shared::duration::parse(&flags.timeout)
        .map_err(|e| anyhow::anyhow!("--timeout: {e}"))?;
    let auth = match flags.creds.as_deref() {
        Some("") => bail!("--creds is empty: expected <username>:<password> or a token"),
        Some(creds) => match creds.split_once(':') {
            Some((username, password)) => RegistryAuth::Basic {
                username: username.to_string(),
                password: password.to_string(),
            },
            None => RegistryAuth::Bearer {
                token: creds.to_string(),
            },
        },
        None => docker_config_auth(registry)?,
    };
    Ok(RegistryOptions {
        insecure: flags.insecure_registry,
        timeout,
        auth,
        ..RegistryOptions::default()
    })
}

/// The credentials for `registry` in `$DOCKER_CONFIG/config.json` or
/// `~/.docker/config.json`, anonymous when there is no such file or entry.
fn docker_config_auth(registry: &str) -> anyhow::Result<RegistryAuth> {
    let path = match std::env::var_os("DOCKER_CONFIG") {
        Some(dir) => PathBuf::from(dir).join("config.json"),
        None => match std::env::var_os("HOME") {
            Some(home) => PathBuf::from(home).join(".docker/config.json"),
            None => return Ok(RegistryAuth::Anonymous),
        },
    };
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(RegistryAuth::Anonymous),
        Err(e) => bail!("reading {}: {e}", path.display()),
    };
    let value: serde_json::Value = serde_json::from_slice(&bytes)
        .with_context(|| format!("{} is not valid JSON", path.display()))?;
    if value.get("auths").is_none() {
        return Ok(RegistryAuth::Anonymous);
    }
    match RegistryAuth::find_in_docker_config(&bytes, registry)
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?
    {
        Some(auth) => Ok(auth),
        None => {
            if value.get("credsStore").is_some() || value.get("credHelpers").is_some() {
                eprintln!(
                    "note: {} uses a credential helper, which weir does not run: pass --creds \
                     if {registry} needs credentials",
                    path.display()
                );
            }
            Ok(RegistryAuth::Anonymous)
        }
    }
}

/// The files of `path` (a directory, or one file archived under its own name), leaving out
/// what `ignore_paths` (.gitignore patterns relative to `path`) matches and anything that is
/// not a regular file or directory.
fn collect_files(path: &Path, ignore_paths: &[String]) -> anyhow::Result<Vec<FileEntry>> {
    let meta = std::fs::metadata(path).with_context(|| {
        format!(
            "invalid path {}: must point to an existing directory or file",
            path.display()
        )
    })?;
    if meta.is_file() {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .with_context(|| format!("invalid path {}: no UTF-8 file name", path.display()))?;
        return Ok(vec![read_entry(path, name.to_string())?]);
    }
    let mut builder = ignore::gitignore::GitignoreBuilder::new(path);
    for pattern in ignore_paths {
        builder
            .add_line(None, pattern)
            .with_context(|| format!("--ignore-paths: invalid pattern {pattern:?}"))?;
    }
    let matcher = builder.build().context("--ignore-paths")?;
    let mut files = Vec::new();
    let mut pending = vec![(path.to_path_buf(), String::new())];
    while let Some((dir, prefix)) = pending.pop() {
        let entries =
            std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))?;
        for entry in entries {
            let entry = entry.with_context(|| format!("reading {}", dir.display()))?;
            let Some(name) = entry.file_name().to_str().map(str::to_string) else {
                bail!("{}: file names must be UTF-8", entry.path().display());
            };
            let rel = format!("{prefix}{name}");
            let kind = entry
                .file_type()
                .with_context(|| format!("reading {}", entry.path().display()))?;
            if !(kind.is_dir() || kind.is_file()) {
                continue;
            }
            if matcher.matched(&rel, kind.is_dir()).is_ignore() {
                continue;
            }
            if kind.is_dir() {
                pending.push((entry.path(), format!("{rel}/")));
            } else {
                files.push(read_entry(&entry.path(), rel)?);
            }
        }
    }
    Ok(files)
}

fn read_entry(path: &Path, rel: String) -> anyhow::Result<FileEntry> {
    use std::os::unix::fs::PermissionsExt as _;
    let contents = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let mode = std::fs::metadata(path)
        .with_context(|| format!("reading {}", path.display()))?
        .permissions()
        .mode();
    Ok(FileEntry {
        path: rel,
        executable: mode & 0o111 != 0,
        contents,
    })
}

/// Unpacks the layer into `output`: straight there when it does not exist, else through a
/// staging folder whose files are moved in, never following a symbolic link already in
/// `output`.
fn extract(layer: &[u8], output: &Path, limits: weir_shared::untar::Limits) -> anyhow::Result<()> {
    if !output.exists() {
        weir_shared::untar::unpack(layer, output, limits).map_err(|e| anyhow::anyhow!(e))?;
        return Ok(());
    }
    let staging = tempfile::Builder::new()
        .prefix(".weir-pull-")
        .tempdir_in(output)
        .with_context(|| format!("creating a staging folder in {}", output.display()))?;
    let unpacked = staging.path().join("content");
    weir_shared::untar::unpack(layer, &unpacked, limits).map_err(|e| anyhow::anyhow!(e))?;
    merge(&unpacked, output)
}

/// Moves the tree `from` into `to`, creating directories and replacing files.
fn merge(from: &Path, to: &Path) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        let existing = std::fs::symlink_metadata(&target).ok();
        if entry.file_type()?.is_dir() {
            match existing {
                Some(m) if m.is_dir() => {}
                Some(_) => bail!("{} exists and is not a directory", target.display()),
                None => std::fs::create_dir(&target)
                    .with_context(|| format!("creating {}", target.display()))?,
            }
            merge(&entry.path(), &target)?;
        } else {
            if existing.is_some_and(|m| m.is_dir()) {
                bail!(
                    "{} is a directory, the artifact has a file there",
                    target.display()
                );
            }
            std::fs::rename(entry.path(), &target)
                .with_context(|| format!("writing {}", target.display()))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, rel: &str, body: &str) {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, body).expect("write");
    }

    fn paths(files: &[FileEntry]) -> Vec<&str> {
        let mut p: Vec<_> = files.iter().map(|f| f.path.as_str()).collect();
        p.sort_unstable();
        p
    }

    #[test]
    fn the_default_ignore_paths_leave_out_vcs_files_and_binaries_as_flux_does() {
        let dir = tempfile::tempdir().expect("tempdir");
        for rel in [
            "deploy/app.yaml",
            "deploy/logo.png",
            ".git/config",
            "sub/.git/HEAD",
            ".gitignore",
            "bundle.tar.gz",
            "kustomization.yaml",
        ] {
            write(dir.path(), rel, "x");
        }
        std::os::unix::fs::symlink("/etc/passwd", dir.path().join("link")).expect("symlink");
        let defaults: Vec<String> = DEFAULT_IGNORE_PATHS.iter().map(|s| s.to_string()).collect();
        let files = collect_files(dir.path(), &defaults).expect("collect");
        assert_eq!(paths(&files), ["deploy/app.yaml", "kustomization.yaml"]);
        let files = collect_files(dir.path(), &["deploy/".to_string()]).expect("collect");
        assert_eq!(
            paths(&files),
            [
                ".git/config",
                ".gitignore",
                "bundle.tar.gz",
                "kustomization.yaml",
                "sub/.git/HEAD"
            ]
        );
        let one = collect_files(&dir.path().join("deploy/app.yaml"), &defaults).expect("file");
        assert_eq!(paths(&one), ["app.yaml"]);
        assert!(collect_files(&dir.path().join("missing"), &defaults).is_err());
    }

    #[test]
    fn extracting_into_an_existing_folder_never_follows_its_links() {
        let src = tempfile::tempdir().expect("tempdir");
        write(src.path(), "a/b.yaml", "new");
        let files = collect_files(src.path(), &[]).expect("collect");
        let layer = weir_shared::archive::pack(files).expect("pack");
        let limits = weir_shared::untar::Limits::default();

        let out = tempfile::tempdir().expect("tempdir");
        write(out.path(), "a/b.yaml", "old");
        write(out.path(), "keep.txt", "kept");
        extract(&layer, out.path(), limits).expect("extract");
        assert_eq!(
            std::fs::read_to_string(out.path().join("a/b.yaml"))
                .ok()
                .as_deref(),
            Some("new")
        );
        assert!(out.path().join("keep.txt").exists());
        let leftovers: Vec<_> = std::fs::read_dir(out.path())
            .expect("read")
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with(".weir-pull-"))
            .collect();
        assert!(leftovers.is_empty(), "staging folder left behind");

        let elsewhere = tempfile::tempdir().expect("tempdir");
        let out = tempfile::tempdir().expect("tempdir");
        std::os::unix::fs::symlink(elsewhere.path(), out.path().join("a")).expect("symlink");
        let err = extract(&layer, out.path(), limits).expect_err("symlinked dir");
        assert!(err.to_string().contains("not a directory"), "{err:#}");
        assert!(!elsewhere.path().join("b.yaml").exists());
    }
}
