//! `cargo xtask test`: installs what the tests need (Debian packages, helm v4 as the
//! reference of `weir template`), starts the cluster with its node (unless
//! `USE_EXISTING_CLUSTER=true`), builds the controller binaries and the images the node runs
//! (pushed to the local registry), runs every test in the workspace and the quickstart,
//! tears down, and ends with a short fuzz smoke run ([`fuzz::smoke`]).

use std::process::Command;

use anyhow::bail;

use crate::util::{self, workspace_root};
use crate::{cluster, fuzz, helm, image, quickstart};

/// Debian packages the integration tests use: OpenSSH's server for the SSH Git server, curl
/// for health checks, openssl for test certificates, docker-registry for the OCI tests (also
/// without the node, which installs it too).
const TEST_PACKAGES: &[&str] = &[
    "openssh-server",
    "openssh-client",
    "curl",
    "openssl",
    "git",
    "docker-registry",
];

pub fn run(extra: &[String]) -> anyhow::Result<()> {
    util::ensure_debian_packages(TEST_PACKAGES)?;
    // The reference `weir template` is compared with (helm/tests/corpus).
    let helm = helm::helm_binary()?;
    let existing = std::env::var("USE_EXISTING_CLUSTER").is_ok_and(|v| v == "true");
    let kubeconfig = if existing {
        match std::env::var_os("KUBECONFIG") {
            Some(k) => std::path::PathBuf::from(k),
            None => bail!("USE_EXISTING_CLUSTER=true needs KUBECONFIG"),
        }
    } else {
        cluster::up()?
    };
    let mut result = run_tests(&kubeconfig, &helm, extra);
    // The README's quickstart, as written, on the same cluster (it needs the node).
    if result.is_ok() && cluster::has_node() {
        eprintln!("xtask: running the quickstart (README) on the test cluster");
        result = quickstart::demo(&kubeconfig);
        quickstart::stop_controllers();
    }
    if !existing && let Err(e) = cluster::down() {
        eprintln!("xtask: tearing down the control plane failed: {e}");
    }
    result?;
    // After the tests, with the control plane down: fuzzing needs no cluster.
    fuzz::smoke()
}

fn run_tests(
    kubeconfig: &std::path::Path,
    helm: &std::path::Path,
    extra: &[String],
) -> anyhow::Result<()> {
    let root = workspace_root();
    if cluster::has_node() {
        // What the in-cluster tests deploy: every controller and the hello workload.
        image::build(&image::Request::all())?;
    }
    // The whole workspace, so that feature unification matches `cargo test --workspace` and
    // nothing is compiled twice.
    util::run(Command::new(env!("CARGO")).current_dir(&root).args([
        "build",
        "--workspace",
        "--bins",
    ]))?;
    let bin_dir = root.join("target/debug");
    util::run(
        Command::new(env!("CARGO"))
            .current_dir(&root)
            .args(["test", "--workspace"])
            .args(extra)
            .env("KUBECONFIG", kubeconfig)
            .env("WEIR_BIN_DIR", &bin_dir)
            .env("WEIR_HELM", helm),
    )
}
