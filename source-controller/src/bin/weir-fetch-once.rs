//! Fetches a Git reference once and writes its artifact (benchmarks and debugging).

use clap::Parser;

fn main() -> anyhow::Result<()> {
    source_controller::oneshot::run(&source_controller::oneshot::Args::parse())
}
