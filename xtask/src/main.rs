//! `cargo xtask`: developer commands — local control plane, tests, fuzzing, CRD generation,
//! benchmarks.

mod bench;
mod bench_apply;
mod bench_chart_source;
mod bench_monorepo;
mod bench_template;
mod cluster;
mod crdgen;
#[cfg(test)]
mod deps;
mod fixtures;
mod fuzz;
mod helm;
mod image;
mod quickstart;
mod test;
mod util;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(about = "Weir developer commands")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Manage the local test cluster: control plane and a real node (`up --no-node` for the
    /// control plane alone).
    Cluster {
        #[command(subcommand)]
        action: cluster::Action,
    },
    /// See the GitOps loop work: control plane, controllers, a Git repository, a commit
    /// applied and a manual edit reverted.
    Quickstart {
        /// Stop the controllers and the control plane started by the quickstart.
        #[arg(long)]
        stop: bool,
    },
    /// Bring up the control plane, run every test in the workspace, tear down, then a short
    /// fuzz smoke run (`WEIR_FUZZ_SMOKE_SECONDS` seconds per target, 0 skips it).
    Test {
        /// Extra arguments for `cargo test` (after `--`).
        #[arg(trailing_var_arg = true)]
        args: Vec<String>,
    },
    /// Build the cargo-fuzz targets in `fuzz/` and run each (see `fuzz/README.md`).
    Fuzz(fuzz::Options),
    /// Static release builds of the controllers as FROM-scratch OCI images (buildah), pushed
    /// to a registry (default: the one `cargo xtask cluster up` runs).
    Image(image::Options),
    /// Write `config/crd/*.yaml` from the Rust types.
    Crdgen,
    /// Record `kubectl kustomize` output for the Kustomize conformance corpus.
    KustomizeFixtures,
    /// Benchmarks against the reference tools.
    Bench {
        #[command(subcommand)]
        which: bench::Which,
    },
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Cluster { action } => cluster::run(action),
        Command::Test { args } => test::run(&args),
        Command::Quickstart { stop } => quickstart::run(stop),
        Command::Fuzz(options) => fuzz::run(&options),
        Command::Image(options) => image::run(&options),
        Command::Crdgen => crdgen::write(),
        Command::KustomizeFixtures => fixtures::write(),
        Command::Bench { which } => bench::run(which),
    }
}
