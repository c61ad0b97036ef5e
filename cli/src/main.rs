//! The `weir` binary.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = weir_cli::Cli::parse();
    let stdout = std::io::stdout();
    match weir_cli::run(cli, &mut stdout.lock()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            match e.downcast_ref::<weir_cli::HelmStyleError>() {
                // `weir template` speaks helm's language, errors included.
                Some(helm) => eprintln!("Error: {helm}"),
                None => eprintln!("error: {e:#}"),
            }
            std::process::ExitCode::FAILURE
        }
    }
}
