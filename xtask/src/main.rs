//! `cargo xtask`: developer commands — local control plane, tests, CRD generation, benchmarks.

mod bench;
mod cluster;
mod crdgen;
mod fixtures;
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
    /// Manage the local control plane (etcd + kube-apiserver + kube-controller-manager).
    Cluster {
        #[command(subcommand)]
        action: cluster::Action,
    },
    /// Bring up the control plane, run every test in the workspace, tear down.
    Test {
        /// Extra arguments for `cargo test` (after `--`).
        #[arg(trailing_var_arg = true)]
        args: Vec<String>,
    },
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
        Command::Crdgen => crdgen::write(),
        Command::KustomizeFixtures => fixtures::write(),
        Command::Bench { which } => bench::run(which),
    }
}
