//! Fetches a Helm repository index once, resolves a chart version and stores the chart
//! (benchmarks and debugging).

use clap::Parser;

fn main() -> anyhow::Result<()> {
    source_controller::chart_oneshot::run(&source_controller::chart_oneshot::Args::parse())
}
