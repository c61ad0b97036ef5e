//! The `weir` command-line tool: data on stdout, diagnostics on stderr.

use std::io::Write;
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

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
}

#[derive(Subcommand, Debug)]
enum BuildWhat {
    /// Build a kustomization directory with Weir's native Kustomize engine.
    Kustomization {
        /// Directory containing kustomization.yaml.
        path: PathBuf,
        /// Output format.
        #[arg(short, long, value_enum, default_value_t = Format::Yaml)]
        output: Format,
        /// Files may not be read from outside this folder (default: the current directory).
        #[arg(long)]
        root: Option<PathBuf>,
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
        Command::Build {
            what: BuildWhat::Kustomization { path, output, root },
        } => {
            let root = match root {
                Some(r) => r,
                None => std::env::current_dir()?,
            };
            let resources = weir_kustomize::build(&root, &path)
                .map_err(|e| anyhow::anyhow!("building {}: {e}", path.display()))?;
            match output {
                Format::Yaml => out.write_all(weir_yaml::to_string_multi(&resources).as_bytes())?,
                Format::Json => {
                    serde_json::to_writer_pretty(&mut *out, &resources)?;
                    out.write_all(b"\n")?;
                }
            }
            Ok(())
        }
    }
}
