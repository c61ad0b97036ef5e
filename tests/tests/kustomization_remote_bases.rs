//! Remote bases: a kustomization whose base is a Git repository served over HTTPS (git
//! http-backend behind TLS and basic auth, tests/src/git_https.rs), built through the engine
//! with weir-remote's loader, through the CLI, and (when `kubectl` is installed) compared
//! byte for byte with `kubectl kustomize`; fetch errors; and kustomize-controller's
//! `--no-remote-bases` (this last test needs the test cluster).

use std::path::Path;

use weir_kustomize::ErrorKind;
use weir_tests::controller::{KustomizeController, TEST_LABEL};
use weir_tests::git_https::GitHttpsServer;
use weir_tests::gitops::GitOps;
use weir_tests::gitrepo::SourceRepo;

/// A served repository `bases` with a base in `deploy/`, tagged `v1`.
fn bases_repo() -> SourceRepo {
    let repo = SourceRepo::new("bases");
    repo.write(
        "deploy/kustomization.yaml",
        "resources:\n- cm.yaml\nnamePrefix: base-\ncommonLabels:\n  tier: \"on\"\n",
    );
    repo.write(
        "deploy/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  port: \"8080\"\n  enabled: on\n",
    );
    repo.commit("base");
    repo.tag("v1");
    repo
}

/// The remote entry for `path` at `reference` of the served repository, credentials in the
/// URL as Kustomize expects them.
fn entry(server: &GitHttpsServer, path: &str, reference: &str) -> String {
    let url = server.url("bases");
    let authority = url.trim_start_matches("https://");
    format!(
        "https://{}:{}@{authority}//{path}?ref={reference}",
        server.username, server.password
    )
}

/// A local overlay (outside any work tree) naming `resource`.
fn overlay(resource: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    std::fs::write(
        dir.path().join("kustomization.yaml"),
        format!("resources:\n- {resource}\nnamePrefix: prod-\nnamespace: apps\n"),
    )
    .unwrap_or_else(|e| panic!("write: {e}"));
    dir
}

fn engine_build(
    dir: &Path,
    loader: &weir_remote::GitLoader,
) -> Result<String, weir_kustomize::BuildError> {
    let fs = weir_kustomize::DiskFs::new(dir).unwrap_or_else(|e| panic!("fs: {e}"));
    let out = weir_kustomize::build_with_remote(
        &fs,
        dir,
        None,
        false,
        &weir_kustomize::BuildLimits::default(),
        Some(loader),
    )?;
    Ok(weir_yaml::to_string_multi(&out))
}

/// `weir build kustomization <dir> --remote-ca-file <ca>` through the CLI's `run`.
fn cli_build(dir: &Path, ca_file: &Path, extra: &[&str]) -> anyhow::Result<String> {
    use clap::Parser as _;
    let dir = dir.display().to_string();
    let ca = ca_file.display().to_string();
    let mut args = vec![
        "weir",
        "build",
        "kustomization",
        &dir,
        "--remote-ca-file",
        &ca,
    ];
    args.extend(extra);
    let cli = weir_cli::Cli::try_parse_from(args)?;
    let mut out = Vec::new();
    weir_cli::run(cli, &mut out)?;
    Ok(String::from_utf8(out)?)
}

const EXPECTED: &str = "apiVersion: v1\ndata:\n  enabled: \"on\"\n  port: \"8080\"\nkind: ConfigMap\nmetadata:\n  labels:\n    tier: \"on\"\n  name: prod-base-settings\n  namespace: apps\n";

#[tokio::test(flavor = "multi_thread")]
async fn a_remote_base_over_https_builds_like_kubectl() {
    let repo = bases_repo();
    let server = GitHttpsServer::start(repo.root()).await;
    let work = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let ca_file = work.path().join("ca.pem");
    std::fs::write(&ca_file, &server.ca_pem).unwrap_or_else(|e| panic!("write: {e}"));
    let app = overlay(&entry(&server, "deploy", "v1"));
    let dir = app.path().to_path_buf();
    let cache = work.path().join("cache");
    let (engine, cli) = {
        let (server_ca, dir2, ca2) = (server.ca_pem.clone(), dir.clone(), ca_file.clone());
        tokio::task::spawn_blocking(move || {
            let l = weir_remote::GitLoader::new(weir_remote::Options {
                cache_dir: cache,
                ca_pem: Some(server_ca.into_bytes()),
                ..Default::default()
            });
            (engine_build(&dir2, &l), cli_build(&dir2, &ca2, &[]))
        })
        .await
        .unwrap_or_else(|e| panic!("join: {e}"))
    };
    let engine = engine.unwrap_or_else(|e| panic!("engine: {e}"));
    assert_eq!(engine, EXPECTED);
    assert_eq!(cli.unwrap_or_else(|e| panic!("cli: {e:#}")), EXPECTED);
    // The password never appears in the output.
    assert!(!engine.contains(&server.password));

    // kubectl fetches with git, which trusts the CA through GIT_SSL_CAINFO.
    let Ok(kubectl) = which("kubectl") else {
        eprintln!("kubectl not found: conformance comparison skipped");
        return;
    };
    let out = tokio::process::Command::new(kubectl)
        .arg("kustomize")
        .arg(&dir)
        .env("GIT_SSL_CAINFO", &ca_file)
        .env("GIT_TERMINAL_PROMPT", "0")
        .output()
        .await
        .unwrap_or_else(|e| panic!("kubectl: {e}"));
    assert!(
        out.status.success(),
        "kubectl kustomize failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        EXPECTED,
        "kubectl differs"
    );
}

fn which(name: &str) -> Result<std::path::PathBuf, ()> {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .ok_or(())
}

#[tokio::test(flavor = "multi_thread")]
async fn unreachable_hosts_missing_refs_and_bad_paths_fail_clearly() {
    let repo = bases_repo();
    let server = GitHttpsServer::start(repo.root()).await;
    let work = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let closed = format!(
        "https://127.0.0.1:{}/bases.git//deploy?ref=v1&timeout=5",
        weir_tests::controller::free_port()
    );
    // (entry, kind, text the message must contain)
    let cases = vec![
        (
            closed.clone(),
            ErrorKind::RemoteFetch,
            "Connection refused".to_string(),
        ),
        (
            entry(&server, "deploy", "no-such-tag"),
            ErrorKind::RemoteFetch,
            "has no ref \"no-such-tag\"".to_string(),
        ),
        (
            entry(&server, "missing/dir", "v1"),
            ErrorKind::Build,
            "\"missing/dir\" is not a directory of the repository".to_string(),
        ),
        (
            format!("{}//deploy?ref=v1", server.url("bases")),
            ErrorKind::RemoteFetch,
            "authentication".to_string(),
        ),
    ];
    let ca = server.ca_pem.clone();
    let cache = work.path().to_path_buf();
    let password = server.password.clone();
    tokio::task::spawn_blocking(move || {
        let l = weir_remote::GitLoader::new(weir_remote::Options {
            cache_dir: cache,
            ca_pem: Some(ca.into_bytes()),
            ..Default::default()
        });
        for (resource, kind, want) in cases {
            let app = overlay(&resource);
            let err = engine_build(app.path(), &l).expect_err(&resource);
            assert_eq!(err.file, "kustomization.yaml", "{err}");
            assert_eq!(err.kind, kind, "{resource}: {err}");
            assert!(err.message.contains(&want), "{resource}: {err}");
            assert!(
                err.message.contains("remote resource"),
                "names the entry: {err}"
            );
            assert!(!err.to_string().contains(&password), "no password: {err}");
        }
    })
    .await
    .unwrap_or_else(|e| panic!("join: {e}"));
}

/// Needs the test cluster: the controller stalls a Kustomization with a remote base.
#[tokio::test]
async fn no_remote_bases_stalls_the_build_naming_entry_and_file() {
    let remote = "https://github.com/org/repo//deploy?ref=v1";
    let g = GitOps::new(
        "ks-remote",
        &[(
            "app/kustomization.yaml",
            &format!("resources:\n- {remote}\n"),
        )],
    )
    .await;
    let selector = weir_tests::random_id();
    let _ctl = KustomizeController::start(&selector, &["--no-remote-bases"]).await;
    let mut k = g.kustomization("app", "./app");
    k.metadata.labels = Some([(TEST_LABEL.to_string(), selector.clone())].into());
    g.create(&k).await;
    let failed = g.wait_failed("app", "BuildFailed").await;
    let message = GitOps::message(&failed);
    assert!(
        message.contains(&format!(
            "app/kustomization.yaml: remote resource {remote:?}"
        )) && message.contains("--no-remote-bases"),
        "{message}"
    );
    let status = failed.status.unwrap_or_default();
    assert!(weir_shared::conditions::is_true(
        &status.conditions,
        "Stalled"
    ));
    g.finish().await;
}
