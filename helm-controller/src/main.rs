//! The helm-controller binary: parse flags, set up logging, run.

use clap::Parser;
use helm_controller::run::{Flags, run};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let flags = Flags::parse();
    weir_shared::telemetry::init_logging(&flags.common.log);
    run(flags).await
}
