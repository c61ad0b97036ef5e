//! `weir push artifact` for the OCI tests, through the CLI's library entry point (the CLI is
//! a dev-dependency of the tests, so this lives beside them rather than in the harness).
//! Included with `#[path]` by each test file that pushes.

use std::path::Path;

use weir_tests::registry::Registry;

/// The `--source` every pushed artifact records.
pub const SOURCE: &str = "https://git.example.com/org/app.git";

/// `weir push artifact <reference> --path <dir> --source SOURCE --revision <revision>` to a
/// plain-HTTP registry (with its login when it has one); returns the CLI's output.
pub async fn weir_push(registry: &Registry, reference: &str, dir: &Path, revision: &str) -> String {
    let mut argv: Vec<String> = [
        "weir",
        "push",
        "artifact",
        reference,
        "--path",
        &dir.display().to_string(),
        "--source",
        SOURCE,
        "--revision",
        revision,
        "--insecure-registry",
    ]
    .iter()
    .map(|s| (*s).to_string())
    .collect();
    if registry.credentials.is_some() {
        argv.extend(["--creds".to_string(), registry.creds()]);
    }
    tokio::task::spawn_blocking(move || {
        let cli =
            <weir_cli::Cli as clap::Parser>::try_parse_from(argv).unwrap_or_else(|e| panic!("{e}"));
        let mut out = Vec::new();
        weir_cli::run(cli, &mut out).unwrap_or_else(|e| panic!("weir push artifact: {e:#}"));
        String::from_utf8_lossy(&out).into_owned()
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"))
}
