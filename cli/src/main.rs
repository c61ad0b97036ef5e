//! The `weir` binary.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = weir_cli::Cli::parse();
    let stdout = std::io::stdout();
    match weir_cli::run(cli, &mut stdout.lock()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
