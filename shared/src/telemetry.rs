//! Process-wide logging setup (JSON or text, filter from `--log-level`).

use tracing_subscriber::EnvFilter;

use crate::flags::{LogFlags, LogFormat};

/// Installs the global tracing subscriber. Logs go to stderr.
pub fn init_logging(flags: &LogFlags) {
    let filter = EnvFilter::try_new(&flags.log_level).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match flags.log_format {
        LogFormat::Json => builder.json().flatten_event(true).init(),
        LogFormat::Text => builder.init(),
    }
}
