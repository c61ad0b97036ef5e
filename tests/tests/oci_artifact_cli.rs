//! `weir push artifact` and `weir pull artifact` against a real registry (Debian's
//! docker-registry, see `weir_tests::registry`): the pushed manifest is read back with the
//! registry's own HTTP API and must be what `flux push artifact` writes (media types,
//! annotations, layer digest); pulling gives back the pushed files; under htpasswd auth the
//! right credentials work and a wrong password is an authentication error, not a transport
//! one; an unreachable registry fails quickly with a transport error. The shared client
//! (`weir_shared::oci`) is exercised on the same registry: tags, digests, size limits and
//! image indexes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::Parser as _;
use sha2::Digest as _;
use weir_shared::oci::{
    self, OciError, OciUrl, RegistryAuth, RegistryClient, RegistryOptions, Selector,
};
use weir_tests::registry::Registry;

const SOURCE: &str = "https://git.example.com/org/app.git";
const REVISION: &str = "main@sha1:0123456789abcdef0123456789abcdef01234567";

/// Runs `weir <args>` through the CLI's library entry point, returning stdout or the error.
async fn weir(args: Vec<String>) -> anyhow::Result<String> {
    tokio::task::spawn_blocking(move || {
        let mut argv = vec!["weir".to_string()];
        argv.extend(args);
        let cli = weir_cli::Cli::try_parse_from(argv)?;
        let mut out = Vec::new();
        weir_cli::run(cli, &mut out)?;
        Ok(String::from_utf8(out)?)
    })
    .await
    .unwrap_or_else(|e| panic!("weir panicked: {e}"))
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn write(root: &Path, rel: &str, body: &str) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap_or(root)).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(path, body).unwrap_or_else(|e| panic!("{e}"));
}

/// A tree to push: manifests, plus files Flux's default `--ignore-paths` leave out.
fn manifests() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    write(
        dir.path(),
        "kustomization.yaml",
        "resources:\n- deploy/app.yaml\n",
    );
    write(
        dir.path(),
        "deploy/app.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\n",
    );
    write(dir.path(), "deploy/nested/more.yaml", "a: b\n");
    write(dir.path(), ".git/config", "[core]\n");
    write(dir.path(), ".gitignore", "tmp/\n");
    write(dir.path(), "docs/logo.png", "not really a png");
    dir
}

/// The pushed files, as `weir pull artifact` must give them back.
fn expected_files() -> BTreeMap<String, String> {
    BTreeMap::from([
        (
            "kustomization.yaml".to_string(),
            "resources:\n- deploy/app.yaml\n".to_string(),
        ),
        (
            "deploy/app.yaml".to_string(),
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\n".to_string(),
        ),
        ("deploy/nested/more.yaml".to_string(), "a: b\n".to_string()),
    ])
}

/// Every regular file under `root`, by `/`-separated relative path.
fn files_under(root: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.unwrap_or_else(|e| panic!("{e}")).path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let rel = path
                    .strip_prefix(root)
                    .unwrap_or_else(|e| panic!("{e}"))
                    .to_string_lossy()
                    .to_string();
                let body = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{e}"));
                out.insert(rel, body);
            }
        }
    }
    out
}

fn push_args(registry: &Registry, reference: &str, path: &Path, extra: &[&str]) -> Vec<String> {
    let mut a = args(&[
        "push",
        "artifact",
        reference,
        "--path",
        &path.display().to_string(),
        "--source",
        SOURCE,
        "--revision",
        REVISION,
        "--insecure-registry",
        "--timeout",
        "30s",
    ]);
    if let Some((user, password)) = &registry.credentials {
        a.extend(args(&["--creds", &format!("{user}:{password}")]));
    }
    a.extend(args(extra));
    a
}

fn pull_args(reference: &str, output: &Path, creds: Option<&str>) -> Vec<String> {
    let mut a = args(&[
        "pull",
        "artifact",
        reference,
        "--output",
        &output.display().to_string(),
        "--insecure-registry",
        "--timeout",
        "30s",
    ]);
    if let Some(c) = creds {
        a.extend(args(&["--creds", c]));
    }
    a
}

/// GET on the registry's HTTP API, with basic auth when it has credentials.
async fn registry_get(registry: &Registry, path: &str, accept: &str) -> reqwest::Response {
    let mut req = reqwest::Client::new()
        .get(format!("http://{}{path}", registry.base))
        .header("Accept", accept);
    if let Some((user, password)) = &registry.credentials {
        req = req.basic_auth(user, Some(password));
    }
    req.send()
        .await
        .unwrap_or_else(|e| panic!("GET {path}: {e}"))
}

fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes)))
}

fn insecure(auth: RegistryAuth) -> RegistryOptions {
    RegistryOptions {
        insecure: true,
        auth,
        timeout: Duration::from_secs(30),
        ..RegistryOptions::default()
    }
}

fn oci_url(registry: &Registry, repo: &str) -> OciUrl {
    OciUrl::parse(&registry.oci_url(repo)).unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pushed_directory_is_a_flux_artifact_that_pulls_back_file_for_file() {
    let registry = Registry::start().await;
    let tree = manifests();
    let reference = format!("{}:v1.0.0", registry.oci_url("org/app"));
    let printed = weir(push_args(
        &registry,
        &reference,
        tree.path(),
        &[
            "-o",
            "json",
            "-a",
            "org.opencontainers.image.licenses=Apache-2.0",
        ],
    ))
    .await
    .unwrap_or_else(|e| panic!("push: {e:#}"));
    let info: serde_json::Value =
        serde_json::from_str(&printed).unwrap_or_else(|e| panic!("{e}: {printed}"));
    let digest = info["digest"].as_str().unwrap_or_default().to_string();
    assert!(
        digest.starts_with("sha256:") && digest.len() == 71,
        "{info}"
    );
    assert_eq!(info["tag"], "v1.0.0");
    assert_eq!(info["repository"], format!("{}/org/app", registry.base));
    assert_eq!(
        info["url"],
        format!("oci://{}/org/app@{digest}", registry.base)
    );

    // The manifest, as the registry serves it.
    let resp = registry_get(
        &registry,
        "/v2/org/app/manifests/v1.0.0",
        oci::OCI_MANIFEST_MEDIA_TYPE,
    )
    .await;
    assert_eq!(resp.status(), 200);
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(header("content-type"), oci::OCI_MANIFEST_MEDIA_TYPE);
    assert_eq!(header("docker-content-digest"), digest);
    let body = resp.bytes().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        sha256(&body),
        digest,
        "the printed digest is the manifest's"
    );
    let manifest: serde_json::Value =
        serde_json::from_slice(&body).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(manifest["schemaVersion"], 2);
    assert_eq!(manifest["mediaType"], oci::OCI_MANIFEST_MEDIA_TYPE);
    assert_eq!(
        manifest["config"]["mediaType"],
        "application/vnd.cncf.flux.config.v1+json"
    );
    let layers = manifest["layers"].as_array().cloned().unwrap_or_default();
    assert_eq!(layers.len(), 1, "{manifest}");
    assert_eq!(
        layers[0]["mediaType"],
        "application/vnd.cncf.flux.content.v1.tar+gzip"
    );
    let annotations = &manifest["annotations"];
    assert_eq!(annotations["org.opencontainers.image.source"], SOURCE);
    assert_eq!(annotations["org.opencontainers.image.revision"], REVISION);
    assert_eq!(
        annotations["org.opencontainers.image.licenses"],
        "Apache-2.0"
    );
    let created = annotations["org.opencontainers.image.created"]
        .as_str()
        .unwrap_or_default();
    assert!(
        created.len() == 20 && created.ends_with('Z') && created.as_bytes()[10] == b'T',
        "created is RFC 3339 UTC: {created:?}"
    );

    // The layer: its bytes hash to the manifest's digest and hold exactly the pushed files.
    let layer_digest = layers[0]["digest"].as_str().unwrap_or_default().to_string();
    let blob = registry_get(
        &registry,
        &format!("/v2/org/app/blobs/{layer_digest}"),
        "*/*",
    )
    .await
    .bytes()
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(sha256(&blob), layer_digest);
    assert_eq!(layers[0]["size"], blob.len());
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(&blob[..]));
    let mut entries = Vec::new();
    for entry in archive.entries().unwrap_or_else(|e| panic!("{e}")) {
        let entry = entry.unwrap_or_else(|e| panic!("{e}"));
        let header = entry.header();
        assert_eq!(
            (header.mtime().ok(), header.uid().ok(), header.gid().ok()),
            (Some(0), Some(0), Some(0)),
            "normalised headers"
        );
        entries.push(
            entry
                .path()
                .unwrap_or_else(|e| panic!("{e}"))
                .display()
                .to_string(),
        );
    }
    assert_eq!(
        entries,
        [
            "deploy/",
            "deploy/app.yaml",
            "deploy/nested/",
            "deploy/nested/more.yaml",
            "kustomization.yaml"
        ],
        ".git/, .gitignore and *.png are left out as with Flux's default --ignore-paths"
    );

    // Pulled back: the same files, into a fresh folder and into an existing one.
    let out = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let fresh = out.path().join("fresh");
    weir(pull_args(&reference, &fresh, None))
        .await
        .unwrap_or_else(|e| panic!("pull: {e:#}"));
    assert_eq!(files_under(&fresh), expected_files());
    let existing = out.path().join("existing");
    write(&existing, "deploy/app.yaml", "stale\n");
    weir(pull_args(
        &format!("{}@{digest}", registry.oci_url("org/app")),
        &existing,
        None,
    ))
    .await
    .unwrap_or_else(|e| panic!("pull by digest: {e:#}"));
    assert_eq!(files_under(&existing), expected_files());

    // Reproducible: the same tree gives the same layer, whatever the push.
    let again = weir(push_args(
        &registry,
        &format!("{}:v1.0.1", registry.oci_url("org/app")),
        tree.path(),
        &[],
    ))
    .await
    .unwrap_or_else(|e| panic!("second push: {e:#}"));
    assert!(
        again.is_empty(),
        "without -o nothing goes to stdout: {again:?}"
    );
    let client =
        RegistryClient::new(&insecure(RegistryAuth::Anonymous)).unwrap_or_else(|e| panic!("{e}"));
    let url = oci_url(&registry, "org/app");
    let second = client
        .resolve(&url, &Selector::Tag("v1.0.1".into()))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(second.layers[0].digest, layer_digest);
    assert_eq!(second.config.media_type, oci::FLUX_CONFIG_MEDIA_TYPE);
    assert_eq!(
        second
            .annotations
            .get(oci::ANNOTATION_SOURCE)
            .map(String::as_str),
        Some(SOURCE)
    );

    // The shared client reads the same manifest by tag and by digest, and lists the tags.
    let by_tag = client
        .resolve(&url, &Selector::Tag("v1.0.0".into()))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let by_digest = client
        .resolve(&url, &Selector::Digest(digest.clone()))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (by_tag.digest.as_str(), by_digest.digest.as_str()),
        (digest.as_str(), digest.as_str())
    );
    assert_eq!(by_tag, by_digest);
    let tags = client
        .list_tags(&url)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(tags, ["v1.0.0", "v1.0.1"]);
    let pulled = client
        .pull_blob(&url, &by_tag.layers[0], 100 << 20)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(pulled, blob.to_vec());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_shared_client_refuses_oversized_layers_missing_tags_and_image_indexes() {
    let registry = Registry::start().await;
    let tree = manifests();
    let reference = format!("{}:v1", registry.oci_url("app"));
    weir(push_args(&registry, &reference, tree.path(), &[]))
        .await
        .unwrap_or_else(|e| panic!("push: {e:#}"));
    let client =
        RegistryClient::new(&insecure(RegistryAuth::Anonymous)).unwrap_or_else(|e| panic!("{e}"));
    let url = oci_url(&registry, "app");
    let manifest = client
        .resolve(&url, &Selector::Tag("v1".into()))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let layer = &manifest.layers[0];

    // Over the limit: refused from the declared size, before the download.
    let err = client
        .pull_blob(&url, layer, layer.size - 1)
        .await
        .expect_err("too large");
    assert!(
        matches!(&err, OciError::TooLarge { size: Some(s), .. } if *s == layer.size),
        "{err:?}"
    );
    // A descriptor that understates its size is cut off at the limit while reading.
    let mut lying = layer.clone();
    lying.size = 10;
    let err = client
        .pull_blob(&url, &lying, 20)
        .await
        .expect_err("cut off");
    assert!(matches!(err, OciError::TooLarge { .. }), "{err:?}");
    // A digest the registry does not have.
    let mut unknown = layer.clone();
    unknown.digest = format!("sha256:{}", "0".repeat(64));
    let err = client
        .pull_blob(&url, &unknown, 100 << 20)
        .await
        .expect_err("unknown blob");
    assert!(matches!(err, OciError::NotFound { .. }), "{err:?}");

    let err = client
        .resolve(&url, &Selector::Tag("nope".into()))
        .await
        .expect_err("missing tag");
    assert!(matches!(err, OciError::NotFound { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains(&format!("{}:nope", registry.oci_url("app"))),
        "{err}"
    );
    let err = client
        .list_tags(&oci_url(&registry, "missing"))
        .await
        .expect_err("no repo");
    assert!(matches!(err, OciError::NotFound { .. }), "{err:?}");

    // A multi-platform index is a typed error, for the client and the CLI.
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": oci::OCI_INDEX_MEDIA_TYPE,
        "manifests": [{
            "mediaType": oci::OCI_MANIFEST_MEDIA_TYPE,
            "digest": manifest.digest,
            "size": 1,
            "platform": {"architecture": "amd64", "os": "linux"}
        }]
    });
    // The size of the referenced manifest must be right for the registry to accept it.
    let raw = registry_get(
        &registry,
        "/v2/app/manifests/v1",
        oci::OCI_MANIFEST_MEDIA_TYPE,
    )
    .await
    .bytes()
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let mut index = index;
    index["manifests"][0]["size"] = raw.len().into();
    let put = reqwest::Client::new()
        .put(format!("http://{}/v2/app/manifests/multi", registry.base))
        .header("Content-Type", oci::OCI_INDEX_MEDIA_TYPE)
        .body(index.to_string())
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(put.status(), 201, "{:?}", put.text().await);
    let err = client
        .resolve(&url, &Selector::Tag("multi".into()))
        .await
        .expect_err("index");
    assert!(matches!(err, OciError::ImageIndex { .. }), "{err:?}");
    let out = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let err = weir(pull_args(
        &format!("{}:multi", registry.oci_url("app")),
        &out.path().join("x"),
        None,
    ))
    .await
    .expect_err("index via CLI");
    assert!(format!("{err:#}").contains("is an image index"), "{err:#}");
}

#[tokio::test(flavor = "multi_thread")]
async fn behind_htpasswd_the_right_credentials_work_and_a_wrong_password_is_an_authentication_error()
 {
    let registry = Registry::start_with_auth().await;
    let (user, password) = registry.credentials.clone().unwrap_or_default();
    let tree = manifests();
    let reference = format!("{}:v1", registry.oci_url("private/app"));
    weir(push_args(&registry, &reference, tree.path(), &[]))
        .await
        .unwrap_or_else(|e| panic!("push with credentials: {e:#}\n{}", registry.log()));
    let out = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let dest = out.path().join("pulled");
    weir(pull_args(&reference, &dest, Some(&registry.creds())))
        .await
        .unwrap_or_else(|e| panic!("pull with credentials: {e:#}"));
    assert_eq!(files_under(&dest), expected_files());

    // The same credentials from a dockerconfigjson Secret, through the shared client.
    let auth = RegistryAuth::from_docker_config_json(
        registry.docker_config_json().as_bytes(),
        &registry.base,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let client = RegistryClient::new(&insecure(auth)).unwrap_or_else(|e| panic!("{e}"));
    let tags = client
        .list_tags(&oci_url(&registry, "private/app"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(tags, ["v1"]);

    // A wrong password: an authentication error naming the reference, for push and pull.
    let wrong = format!("{user}:not-{password}");
    let mut push = push_args(
        &registry,
        &format!("{}:v2", registry.oci_url("private/app")),
        tree.path(),
        &[],
    );
    let creds = push
        .iter()
        .position(|a| a == "--creds")
        .map(|i| i + 1)
        .unwrap_or_default();
    push[creds] = wrong.clone();
    let err = weir(push).await.expect_err("wrong password");
    assert!(
        matches!(
            err.downcast_ref::<OciError>(),
            Some(OciError::Authentication { .. })
        ),
        "{err:#}"
    );
    let shown = format!("{err:#}");
    assert!(
        shown.contains("authentication to") && shown.contains(&registry.base),
        "{shown}"
    );
    assert!(
        !shown.contains(&password),
        "the password is never shown: {shown}"
    );
    let err = weir(pull_args(
        &reference,
        &out.path().join("wrong"),
        Some(&wrong),
    ))
    .await
    .expect_err("wrong password");
    assert!(
        matches!(
            err.downcast_ref::<OciError>(),
            Some(OciError::Authentication {
                status: Some(401),
                ..
            })
        ),
        "{err:#}"
    );
    // No credentials at all.
    let anonymous =
        RegistryClient::new(&insecure(RegistryAuth::Anonymous)).unwrap_or_else(|e| panic!("{e}"));
    let err = anonymous
        .resolve(
            &oci_url(&registry, "private/app"),
            &Selector::Tag("v1".into()),
        )
        .await
        .expect_err("anonymous");
    assert!(matches!(err, OciError::Authentication { .. }), "{err:?}");

    // The binary: `error: ...` on stderr and exit code 1.
    let output = std::process::Command::new(weir_tests::controller::binary("weir"))
        .args(pull_args(&reference, &out.path().join("bin"), Some(&wrong)))
        .output()
        .unwrap_or_else(|e| panic!("running weir: {e}"));
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("error: pulling artifact failed: authentication to"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_registry_fails_quickly_with_a_transport_error() {
    // A port nothing listens on.
    let port = weir_tests::controller::free_port();
    let tree = manifests();
    let reference = format!("oci://127.0.0.1:{port}/app:v1");
    let started = Instant::now();
    let err = weir(args(&[
        "push",
        "artifact",
        &reference,
        "--path",
        &tree.path().display().to_string(),
        "--source",
        SOURCE,
        "--revision",
        REVISION,
        "--insecure-registry",
        "--timeout",
        "20s",
    ]))
    .await
    .expect_err("nothing listens there");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    assert!(
        matches!(
            err.downcast_ref::<OciError>(),
            Some(OciError::Transport { .. })
        ),
        "{err:#}"
    );
    let shown = format!("{err:#}");
    assert!(shown.contains(&format!("127.0.0.1:{port}")), "{shown}");

    // A registry that accepts connections but never answers: the timeout ends it.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let silent = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((conn, _)) = listener.accept().await {
            held.push(conn);
        }
    });
    let started = Instant::now();
    let client = RegistryClient::new(&RegistryOptions {
        timeout: Duration::from_secs(2),
        ..insecure(RegistryAuth::Anonymous)
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let url = OciUrl::parse(&format!("oci://{silent}/app")).unwrap_or_else(|e| panic!("{e}"));
    let err = client.list_tags(&url).await.expect_err("silent registry");
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "took {:?}",
        started.elapsed()
    );
    assert!(matches!(err, OciError::Transport { .. }), "{err:?}");
    assert!(err.is_transient());
    hold.abort();
}

#[test]
fn bad_references_fail_before_any_request() {
    let dir = PathBuf::from("/nonexistent");
    for (reference, expected) in [
        ("ghcr.io/org/app:v1", "must start with oci://"),
        ("oci://ghcr.io/Org/app:v1", "lowercase"),
        (
            &format!("oci://ghcr.io/app@sha256:{}", "a".repeat(64)),
            "needs a tag, not a digest",
        ),
    ] {
        let argv = [
            "weir",
            "push",
            "artifact",
            reference,
            "--path",
            &dir.display().to_string(),
            "--source",
            SOURCE,
            "--revision",
            REVISION,
        ];
        let cli = weir_cli::Cli::try_parse_from(argv).unwrap_or_else(|e| panic!("{e}"));
        let err = weir_cli::run(cli, &mut Vec::new()).expect_err(reference);
        assert!(
            format!("{err:#}").contains(expected),
            "{reference}: {err:#}"
        );
    }
}
