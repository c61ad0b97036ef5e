//! The `weir` command-line tool: data on stdout, diagnostics on stderr.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand, ValueEnum};

pub mod artifact;
pub mod template;
pub use template::HelmStyleError;

/// Weir: GitOps for Kubernetes.
#[derive(Parser, Debug)]
#[command(name = "weir", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Build manifests locally, as the controllers would.
    Build {
        #[command(subcommand)]
        what: BuildWhat,
    },
    /// Render a Helm chart locally with Weir's native Helm engine, as `helm template` does.
    Template(Box<template::TemplateArgs>),
    /// Push an artifact to an OCI registry, as `flux push` does.
    Push {
        #[command(subcommand)]
        what: PushWhat,
    },
    /// Pull an artifact from an OCI registry, as `flux pull` does.
    Pull {
        #[command(subcommand)]
        what: PullWhat,
    },
}

#[derive(Subcommand, Debug)]
enum PushWhat {
    /// Pack a directory (or one file) into a Flux OCI artifact and push it.
    Artifact(Box<artifact::PushArtifactArgs>),
}

#[derive(Subcommand, Debug)]
enum PullWhat {
    /// Pull a Flux OCI artifact and extract its content.
    Artifact(Box<artifact::PullArtifactArgs>),
}

#[derive(Subcommand, Debug)]
enum BuildWhat {
    /// Build a kustomization directory with Weir's native Kustomize engine.
    Kustomization {
        /// Directory containing kustomization.yaml (relative to the current directory, or
        /// absolute), or a remote target such as `https://github.com/org/repo//path?ref=v1`.
        path: String,
        /// Output format.
        #[arg(short, long, value_enum, default_value_t = Format::Yaml)]
        output: Format,
        /// Files may not be read from outside this folder (default: the Git work tree that
        /// contains PATH, or PATH itself when it is in none).
        #[arg(long, env = "WEIR_BUILD_ROOT")]
        root: Option<PathBuf>,
        /// Refuse remote bases and resources instead of fetching them.
        #[arg(long, env = "WEIR_NO_REMOTE_BASES")]
        no_remote_bases: bool,
        /// PEM certificates to trust, besides the system's, when fetching remote bases over
        /// HTTPS.
        #[arg(long, env = "WEIR_REMOTE_CA_FILE")]
        remote_ca_file: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Format {
    /// Multi-document YAML, as `kubectl kustomize` prints it.
    Yaml,
    /// A JSON list of the resources.
    Json,
}

/// Runs the CLI, writing data to `out`.
///
/// # Errors
/// Build failures (printed by the caller on stderr) and write errors.
pub fn run(cli: Cli, out: &mut dyn Write) -> anyhow::Result<()> {
    match cli.command {
        Command::Template(args) => template::run(*args, out),
        Command::Push {
            what: PushWhat::Artifact(args),
        } => artifact::push(*args, out),
        Command::Pull {
            what: PullWhat::Artifact(args),
        } => artifact::pull(*args, out),
        Command::Build {
            what:
                BuildWhat::Kustomization {
                    path,
                    output,
                    root,
                    no_remote_bases,
                    remote_ca_file,
                },
        } => {
            let ca_pem = remote_ca_file
                .map(|f| {
                    std::fs::read(&f)
                        .map_err(|e| anyhow::anyhow!("--remote-ca-file {}: {e}", f.display()))
                })
                .transpose()?;
            let resources = build_kustomization(&path, root, no_remote_bases, ca_pem)?;
            match output {
                Format::Yaml => weir_yaml::to_writer_multi(&resources, out)?,
                Format::Json => {
                    serde_json::to_writer_pretty(&mut *out, &resources)?;
                    out.write_all(b"\n")?;
                }
            }
            Ok(())
        }
    }
}

/// Builds the kustomization at `path` (a directory or a remote target) confined to `root`
/// (default: see [`default_root`]), fetching remote bases unless `no_remote_bases`.
fn build_kustomization(
    path: &str,
    root: Option<PathBuf>,
    no_remote_bases: bool,
    ca_pem: Option<Vec<u8>>,
) -> anyhow::Result<Vec<serde_json::Value>> {
    // Remote trees live in a cache of this run, removed when it ends.
    let cache = tempfile::Builder::new().prefix("weir-remote-").tempdir()?;
    let loader = weir_remote::GitLoader::new(weir_remote::Options {
        cache_dir: cache.path().to_path_buf(),
        ca_pem,
        // The user's own machine: `file://` repositories are theirs to read.
        allow_file_urls: true,
        ..Default::default()
    });
    let remote: Option<&dyn weir_kustomize::RemoteLoader> =
        (!no_remote_bases).then_some(&loader as _);
    let limits = weir_kustomize::BuildLimits::default();
    // `helmCharts` are rendered natively (Kustomize needs `--enable-helm` and a helm binary;
    // weir-helm runs no code from the tree), so they are on by default.
    let inflator = weir_helm::inflator::WeirHelmInflator;
    let options = weir_kustomize::BuildOptions {
        limits: Some(&limits),
        remote,
        charts: Some(&inflator),
        ..Default::default()
    };
    let failed = |e: weir_kustomize::BuildError| {
        anyhow::anyhow!("building {}: {e}", weir_kustomize::remote::redact(path))
    };
    if root.is_none()
        && !Path::new(path).exists()
        && let Some(target) = weir_kustomize::remote::parse(path)
    {
        // `kubectl kustomize <url>`: the tree is the fetched repository.
        let repo = match target.map_err(|m| anyhow::anyhow!("building {m}"))? {
            weir_kustomize::remote::Target::Git(repo)
            | weir_kustomize::remote::Target::Http {
                repo: Some(repo), ..
            } => repo,
            weir_kustomize::remote::Target::Http { url, repo: None } => {
                anyhow::bail!(
                    "building {}: a URL to build must name a Git repository",
                    weir_kustomize::remote::redact(&url)
                )
            }
        };
        let Some(remote) = remote else {
            anyhow::bail!(
                "building {}: remote targets are not fetched with --no-remote-bases",
                repo.display()
            );
        };
        let fs = remote
            .repository(&repo)
            .map_err(|e| anyhow::anyhow!("building {}: {e}", repo.display()))?;
        let dir = fs.root().join(&repo.path);
        let options = weir_kustomize::BuildOptions {
            remote: Some(remote),
            ..options
        };
        return weir_kustomize::build_with_options(&*fs, &dir, &options).map_err(failed);
    }
    let dir = Path::new(path);
    let root = match root {
        Some(r) => r,
        None => default_root(dir)?,
    };
    let fs = weir_kustomize::DiskFs::new(&root)
        .map_err(|e| anyhow::anyhow!("build root {}: {e}", root.display()))?;
    weir_kustomize::build_with_options(&fs, dir, &options).map_err(failed)
}

/// The confinement root of a build of `dir`: the Git work tree that contains it (the
/// nearest directory above it, itself included, with a `.git` directory or file) — what
/// kustomize-controller confines a build to, since the artifact is the repository — or, outside
/// any work tree, the file system root, so that bases may live anywhere, as with `kubectl
/// kustomize`. Never the current directory, so a build means the same from anywhere.
///
/// # Errors
/// When `dir` does not exist.
pub fn default_root(dir: &Path) -> anyhow::Result<PathBuf> {
    let dir = dir
        .canonicalize()
        .map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?;
    Ok(dir
        .ancestors()
        .find(|d| d.join(".git").exists())
        .or_else(|| dir.ancestors().last())
        .unwrap_or(&dir)
        .to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_root_is_the_enclosing_work_tree_or_the_file_system_root() -> anyhow::Result<()> {
        let tmp = tempfile::tempdir()?;
        let top = tmp.path().canonicalize()?;
        std::fs::create_dir_all(top.join("repo/apps/web"))?;
        std::fs::create_dir_all(top.join("repo/.git"))?;
        std::fs::create_dir_all(top.join("plain/app"))?;
        std::fs::create_dir_all(top.join("wt/sub"))?;
        std::fs::write(top.join("wt/.git"), "gitdir: /elsewhere\n")?;
        assert_eq!(default_root(&top.join("repo/apps/web"))?, top.join("repo"));
        assert_eq!(default_root(&top.join("repo"))?, top.join("repo"));
        assert_eq!(
            default_root(&top.join("repo/apps/../apps"))?,
            top.join("repo")
        );
        assert_eq!(default_root(&top.join("plain/app"))?, PathBuf::from("/"));
        assert_eq!(default_root(&top.join("wt/sub"))?, top.join("wt"));
        assert!(default_root(&top.join("missing")).is_err());
        Ok(())
    }
}
