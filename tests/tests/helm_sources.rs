//! source-controller's HelmRepository and HelmChart against the real API server, a real chart
//! repository (charts packaged and indexed by the real helm, served over HTTPS with basic
//! auth) and real Git servers.

use std::time::Duration;

use kube::api::{Patch, PatchParams};
use weir_api::source::{GitRepository, HelmChart, HelmRepository};
use weir_tests::chart_repo::{ChartRepoServer, ChartSource, chart};
use weir_tests::git_https::GitHttpsServer;
use weir_tests::gitrepo::SourceRepo;
use weir_tests::objects;
use weir_tests::sources::{
    Setup, chart_ready, chart_revision, condition, download, file_in_tgz, kubectl_wait,
    ready_message, repo_ready, sha256,
};

const APP_VALUES: &str = "replicas: 1\nimage:\n  tag: stable\n  pullPolicy: IfNotPresent\n";

#[tokio::test]
async fn a_chart_repository_over_https_with_basic_auth_gives_indexes_and_charts() {
    let s = Setup::new("helmrepo").await;
    let source = ChartSource::new();
    for version in ["1.0.0", "1.1.0", "2.0.0-rc.1"] {
        source.package(
            &chart("app")
                .version(version)
                .values(APP_VALUES)
                .values_file("values-prod.yaml", "replicas: 3\nimage:\n  tag: v2\n"),
        );
    }
    source.index();
    let server = ChartRepoServer::options(source.repo_dir())
        .prefix("/charts")
        .start();
    s.secret(
        "auth",
        &[
            ("username", &server.username),
            ("password", &server.password),
        ],
    )
    .await;
    s.secret("tls", &[("ca.crt", &server.ca_pem)]).await;
    s.create::<HelmRepository>(&format!(
        "apiVersion: source.weir.dev/v1\nkind: HelmRepository\nmetadata:\n  name: charts\nspec:\n  url: {}\n  interval: 1h\n  secretRef:\n    name: auth\n  certSecretRef:\n    name: tls\n",
        server.base_url
    ))
    .await;
    let repo: HelmRepository = s
        .wait("charts", "Ready", |o| repo_ready(o, "True", "Succeeded"))
        .await;
    kubectl_wait("helmrepository", "charts", &s.ns.name);
    let status = repo.status.clone().unwrap_or_default();
    let index = status.artifact.clone().expect("index artifact");
    assert!(index.revision.starts_with("sha256:"), "{}", index.revision);
    assert_eq!(
        index.revision, index.digest,
        "the revision is the digest of the stored index"
    );
    let stored = download(&index.url).await;
    assert_eq!(sha256(&stored), index.digest);
    let parsed: serde_json::Value = serde_json::from_slice(&stored).expect("the index is JSON");
    let versions: Vec<&str> = parsed["entries"]["app"]
        .as_array()
        .expect("entries.app")
        .iter()
        .filter_map(|v| v["version"].as_str())
        .collect();
    assert_eq!(
        versions,
        ["2.0.0-rc.1", "1.1.0", "1.0.0"],
        "sorted newest first"
    );
    assert!(
        server.requests().iter().all(|r| r.authorization),
        "every request carried the credentials"
    );

    // The newest stable version, stored as helm packaged it.
    s.create::<HelmChart>(
        "apiVersion: source.weir.dev/v1\nkind: HelmChart\nmetadata:\n  name: app\nspec:\n  chart: app\n  sourceRef:\n    kind: HelmRepository\n    name: charts\n  interval: 1h\n",
    )
    .await;
    let app: HelmChart = s
        .wait("app", "Ready", |o| chart_ready(o, "True", "Succeeded"))
        .await;
    kubectl_wait("helmchart", "app", &s.ns.name);
    let st = app.status.clone().unwrap_or_default();
    assert!(
        condition(&st.conditions, "ArtifactInStorage")
            .is_some_and(|c| c.reason == "ChartPullSucceeded"),
        "{:?}",
        st.conditions
    );
    let artifact = st.artifact.clone().expect("chart artifact");
    assert_eq!(artifact.revision, "1.1.0");
    assert_eq!(
        artifact.path,
        format!("helmchart/{}/app/app-1.1.0.tgz", s.ns.name)
    );
    assert_eq!(st.observed_chart_name.as_deref(), Some("app"));
    assert_eq!(
        st.observed_source_artifact_revision.as_deref(),
        Some(index.revision.as_str())
    );
    let tgz = download(&artifact.url).await;
    assert_eq!(sha256(&tgz), artifact.digest);
    let packaged = std::fs::read(source.repo_dir().join("app-1.1.0.tgz")).expect("helm's package");
    assert_eq!(
        tgz, packaged,
        "without values files the chart is stored as downloaded"
    );

    // A new version: a new index revision, a new chart artifact and one NewArtifact event.
    source.package(&chart("app").version("1.2.0").values(APP_VALUES));
    source.index();
    s.request_reconcile::<HelmRepository>("charts").await;
    s.wait::<HelmChart>("app", "at 1.2.0", |o| chart_revision(o) == "1.2.0")
        .await;
    let events = weir_tests::wait::until(Duration::from_secs(20), "NewArtifact for 1.2.0", || {
        let events = s.sink.events();
        async move {
            let found: Vec<_> = events
                .into_iter()
                .filter(|e| {
                    e["involvedObject"]["kind"] == "HelmChart"
                        && e["reason"] == "NewArtifact"
                        && e["message"].as_str().is_some_and(|m| m.contains("1.2.0"))
                })
                .collect();
            (!found.is_empty()).then_some(found)
        }
    })
    .await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["metadata"]["source.weir.dev/revision"], "1.2.0");

    // Garbage collection keeps the newest --artifact-retention (2) charts.
    source.package(&chart("app").version("1.3.0").values(APP_VALUES));
    source.index();
    s.request_reconcile::<HelmRepository>("charts").await;
    s.wait::<HelmChart>("app", "at 1.3.0", |o| chart_revision(o) == "1.3.0")
        .await;
    let dir = s.ctl.storage.join(format!("helmchart/{}/app", s.ns.name));
    let mut stored: Vec<String> = std::fs::read_dir(&dir)
        .expect("chart folder")
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect();
    stored.sort();
    assert_eq!(stored, ["app-1.2.0.tgz", "app-1.3.0.tgz"]);

    // An unchanged index writes nothing and announces nothing.
    let before: HelmRepository = s.api().get("charts").await.expect("get");
    let before_artifact = before.status.and_then(|s| s.artifact).expect("artifact");
    let repo_events = |events: Vec<serde_json::Value>| {
        events
            .into_iter()
            .filter(|e| {
                e["involvedObject"]["kind"] == "HelmRepository" && e["reason"] == "NewArtifact"
            })
            .count()
    };
    let announced = repo_events(s.sink.events());
    s.request_reconcile::<HelmRepository>("charts").await;
    let after: HelmRepository = s
        .wait("charts", "reconciled again", |o: &HelmRepository| {
            o.status
                .as_ref()
                .is_some_and(|st| st.last_handled_reconcile_at.is_some())
                && repo_ready(o, "True", "Succeeded")
        })
        .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after_artifact = after.status.and_then(|s| s.artifact).expect("artifact");
    assert_eq!(
        after_artifact, before_artifact,
        "same revision, same lastUpdateTime"
    );
    assert_eq!(
        repo_events(s.sink.events()),
        announced,
        "no event for an unchanged index"
    );
    let _ = app;

    // valuesFiles merged in order into values.yaml; the version gets the generation.
    s.create::<HelmChart>(
        "apiVersion: source.weir.dev/v1\nkind: HelmChart\nmetadata:\n  name: prod\nspec:\n  chart: app\n  version: '~1.1'\n  valuesFiles: [values.yaml, values-prod.yaml, missing.yaml]\n  ignoreMissingValuesFiles: true\n  sourceRef:\n    kind: HelmRepository\n    name: charts\n  interval: 1h\n",
    )
    .await;
    let prod: HelmChart = s
        .wait("prod", "Ready", |o| chart_ready(o, "True", "Succeeded"))
        .await;
    let st = prod.status.clone().unwrap_or_default();
    let artifact = st.artifact.clone().expect("artifact");
    assert_eq!(artifact.revision, "1.1.0+1");
    assert_eq!(
        st.observed_values_files,
        ["values.yaml", "values-prod.yaml"]
    );
    let tgz = download(&artifact.url).await;
    let values = file_in_tgz(&tgz, "app/values.yaml").expect("values.yaml");
    let values: serde_json::Value = serde_yaml::from_str(&values).expect("YAML");
    assert_eq!(values["replicas"], 3);
    assert_eq!(values["image"]["tag"], "v2");
    assert_eq!(
        values["image"]["pullPolicy"], "IfNotPresent",
        "maps merge recursively"
    );
    let chart_yaml = file_in_tgz(&tgz, "app/Chart.yaml").expect("Chart.yaml");
    assert!(chart_yaml.contains("version: 1.1.0+1"), "{chart_yaml}");

    // Pre-releases only when the range asks; no match lists the versions.
    s.create::<HelmChart>(
        "apiVersion: source.weir.dev/v1\nkind: HelmChart\nmetadata:\n  name: rc\nspec:\n  chart: app\n  version: '>=2.0.0-0'\n  sourceRef:\n    kind: HelmRepository\n    name: charts\n  interval: 1h\n",
    )
    .await;
    s.wait::<HelmChart>("rc", "at 2.0.0-rc.1", |o| chart_revision(o) == "2.0.0-rc.1")
        .await;
    s.create::<HelmChart>(
        "apiVersion: source.weir.dev/v1\nkind: HelmChart\nmetadata:\n  name: none\nspec:\n  chart: app\n  version: '>=5'\n  sourceRef:\n    kind: HelmRepository\n    name: charts\n  interval: 1h\n",
    )
    .await;
    let none: HelmChart = s
        .wait("none", "failing", |o| {
            chart_ready(o, "False", "ChartPullError")
        })
        .await;
    let st = none.status.clone().unwrap_or_default();
    let message = ready_message(&st.conditions);
    assert!(
        message.contains("1.2.0") && message.contains("1.0.0"),
        "{message}"
    );
    assert!(
        condition(&st.conditions, "Stalled").is_none(),
        "retried, not stalled"
    );
    assert!(condition(&st.conditions, "FetchFailed").is_some_and(|c| c.status == "True"));
    s.create::<HelmChart>(
        "apiVersion: source.weir.dev/v1\nkind: HelmChart\nmetadata:\n  name: unknown\nspec:\n  chart: nope\n  sourceRef:\n    kind: HelmRepository\n    name: charts\n  interval: 1h\n",
    )
    .await;
    let unknown: HelmChart = s
        .wait("unknown", "failing", |o| {
            chart_ready(o, "False", "ChartPullError")
        })
        .await;
    let message = ready_message(&unknown.status.unwrap_or_default().conditions);
    assert!(message.contains("\"nope\""), "{message}");

    // Deleting a HelmChart removes its artifacts.
    let dir = s.ctl.storage.join(format!("helmchart/{}/prod", s.ns.name));
    assert!(dir.is_dir());
    objects::delete_and_wait_any(&s.api::<HelmChart>(), "prod").await;
    assert!(
        !dir.exists(),
        "artifacts of a deleted HelmChart are removed"
    );
    s.finish().await;
}

#[tokio::test]
async fn wrong_credentials_are_an_authentication_failure_and_the_index_keeps_serving() {
    let s = Setup::new("helmauth").await;
    let source = ChartSource::new();
    source.package(&chart("app").version("1.0.0"));
    let server = ChartRepoServer::options(source.repo_dir()).start();
    let absolute = source.index_with_url(&server.base_url);
    assert!(String::from_utf8_lossy(&absolute).contains(&server.base_url));
    s.secret(
        "auth",
        &[
            ("username", &server.username),
            ("password", &server.password),
        ],
    )
    .await;
    s.secret(
        "wrong",
        &[("username", &server.username), ("password", "nope")],
    )
    .await;
    s.secret("tls", &[("ca.crt", &server.ca_pem)]).await;
    s.create::<HelmRepository>(&format!(
        "apiVersion: source.weir.dev/v1\nkind: HelmRepository\nmetadata:\n  name: charts\nspec:\n  url: {}\n  secretRef:\n    name: auth\n  certSecretRef:\n    name: tls\n",
        server.base_url
    ))
    .await;
    let good: HelmRepository = s
        .wait("charts", "Ready", |o| repo_ready(o, "True", "Succeeded"))
        .await;
    let artifact = good.status.and_then(|s| s.artifact).expect("artifact");
    // Absolute chart URLs in the index work too.
    s.create::<HelmChart>(
        "apiVersion: source.weir.dev/v1\nkind: HelmChart\nmetadata:\n  name: app\nspec:\n  chart: app\n  version: 1.0.0\n  sourceRef:\n    kind: HelmRepository\n    name: charts\n  interval: 1h\n",
    )
    .await;
    s.wait::<HelmChart>("app", "at 1.0.0", |o| chart_revision(o) == "1.0.0")
        .await;

    let patch = serde_json::json!({"spec": {"secretRef": {"name": "wrong"}}});
    s.api::<HelmRepository>()
        .patch("charts", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .expect("patch");
    let bad: HelmRepository = s
        .wait("charts", "failing", |o| {
            repo_ready(o, "False", "AuthenticationFailed")
        })
        .await;
    let st = bad.status.unwrap_or_default();
    let message = ready_message(&st.conditions);
    assert!(message.contains("401"), "{message}");
    assert!(
        condition(&st.conditions, "Stalled").is_none(),
        "a Secret change fixes it: retried"
    );
    assert_eq!(
        st.artifact.as_ref(),
        Some(&artifact),
        "the previous index is kept"
    );
    assert_eq!(
        sha256(&download(&artifact.url).await),
        artifact.digest,
        "and still served"
    );

    // No TLS trust: a TLS error, not an authentication one.
    let patch = serde_json::json!({"spec": {"secretRef": {"name": "auth"}, "certSecretRef": null}});
    s.api::<HelmRepository>()
        .patch("charts", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .expect("patch");
    let tls: HelmRepository = s
        .wait("charts", "failing on TLS", |o| {
            repo_ready(o, "False", "IndexationFailed")
        })
        .await;
    let message = ready_message(&tls.status.unwrap_or_default().conditions);
    assert!(message.to_lowercase().contains("certificate"), "{message}");
    s.finish().await;
}

#[tokio::test]
async fn a_chart_in_git_is_packaged_with_its_dependencies_and_follows_the_revision() {
    let s = Setup::new("gitchart").await;
    // A dependency that is not vendored, from a chart repository (plain HTTP here).
    let deps = ChartSource::new();
    deps.package(&chart("remote").version("2.1.0"));
    deps.package(&chart("remote").version("2.2.0"));
    deps.index();
    let dep_server = ChartRepoServer::options(deps.repo_dir())
        .no_auth()
        .plain_http()
        .start();
    let repo = SourceRepo::new("charts");
    repo.write(
        "charts/app/Chart.yaml",
        &format!(
            "apiVersion: v2\nname: app\nversion: 0.1.0\ndependencies:\n  - name: lib\n    version: 0.1.0\n    repository: file://../lib\n  - name: remote\n    version: ~2.1\n    repository: {}\n",
            dep_server.base_url
        ),
    )
    .write("charts/app/values.yaml", "greeting: hello\n")
    .write(
        "charts/app/templates/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\ndata:\n  greeting: {{ .Values.greeting }}\n",
    )
    .write("charts/app/.helmignore", "*.md\n")
    .write("charts/app/NOTES.md", "ignored\n")
    .write("charts/lib/Chart.yaml", "apiVersion: v2\nname: lib\nversion: 0.1.0\n")
    .write("charts/lib/values.yaml", "x: 1\n")
    .write("env/prod.yaml", "greeting: production\n");
    repo.commit("chart");
    let git = GitHttpsServer::start(repo.root()).await;
    s.secret(
        "git",
        &[
            ("username", &git.username),
            ("password", &git.password),
            ("ca.crt", &git.ca_pem),
        ],
    )
    .await;
    s.create::<GitRepository>(&format!(
        "apiVersion: source.weir.dev/v1\nkind: GitRepository\nmetadata:\n  name: charts\nspec:\n  url: {}\n  interval: 1h\n  ref:\n    branch: main\n  secretRef:\n    name: git\n",
        git.url("charts")
    ))
    .await;
    s.create::<HelmChart>(
        "apiVersion: source.weir.dev/v1\nkind: HelmChart\nmetadata:\n  name: app\nspec:\n  chart: ./charts/app\n  reconcileStrategy: Revision\n  valuesFiles: [./charts/app/values.yaml, ./env/prod.yaml]\n  sourceRef:\n    kind: GitRepository\n    name: charts\n  interval: 1h\n",
    )
    .await;
    let commit = repo.head();
    let expected = format!("0.1.0+{}.1", &commit[..12]);
    let app: HelmChart = s
        .wait("app", &format!("at {expected}"), |o| {
            chart_revision(o) == expected && chart_ready(o, "True", "Succeeded")
        })
        .await;
    let st = app.status.clone().unwrap_or_default();
    assert_eq!(
        st.observed_source_artifact_revision.as_deref(),
        Some(format!("main@sha1:{commit}").as_str())
    );
    let tgz = download(&st.artifact.expect("artifact").url).await;
    assert!(
        file_in_tgz(&tgz, "app/charts/lib/Chart.yaml").is_some(),
        "file:// dependency packaged"
    );
    assert!(
        file_in_tgz(&tgz, "app/NOTES.md").is_none(),
        ".helmignore applied"
    );
    let remote = file_in_tgz(&tgz, "app/charts/remote/Chart.yaml").expect("remote dependency");
    assert!(remote.contains("version: 2.1.0"), "~2.1 resolved: {remote}");
    let values = file_in_tgz(&tgz, "app/values.yaml").expect("values");
    assert!(values.contains("production"), "{values}");
    // The real helm renders the packaged chart.
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("app.tgz");
    std::fs::write(&file, &tgz).expect("write");
    let helm = weir_tests::chart_repo::Helm::new();
    let rendered = helm.run(&["template", "rel", file.to_str().unwrap_or_default()]);
    assert!(rendered.contains("greeting: production"), "{rendered}");

    // A new commit changes the revision (Revision strategy), though the chart version did not.
    repo.write("charts/app/values.yaml", "greeting: hi\n");
    let next = repo.commit("new greeting");
    s.request_reconcile::<GitRepository>("charts").await;
    let expected = format!("0.1.0+{}.1", &next[..12]);
    s.wait::<HelmChart>("app", &format!("at {expected}"), |o| {
        chart_revision(o) == expected
    })
    .await;

    // A missing chart path is a build failure naming it.
    s.create::<HelmChart>(
        "apiVersion: source.weir.dev/v1\nkind: HelmChart\nmetadata:\n  name: missing\nspec:\n  chart: ./charts/none\n  sourceRef:\n    kind: GitRepository\n    name: charts\n  interval: 1h\n",
    )
    .await;
    let missing: HelmChart = s
        .wait("missing", "failing", |o| {
            chart_ready(o, "False", "ChartPackageError")
        })
        .await;
    let st = missing.status.unwrap_or_default();
    assert!(ready_message(&st.conditions).contains("./charts/none"));
    assert!(condition(&st.conditions, "BuildFailed").is_some_and(|c| c.status == "True"));
    s.finish().await;
}

/// A raw tar entry (no path checks: the point is to write what a safe writer refuses).
fn raw_tar_entry(out: &mut Vec<u8>, path: &str, body: &[u8]) {
    let mut header = [0u8; 512];
    header[..path.len()].copy_from_slice(path.as_bytes());
    header[100..107].copy_from_slice(b"0000644");
    header[108..115].copy_from_slice(b"0000000");
    header[116..123].copy_from_slice(b"0000000");
    header[124..135].copy_from_slice(format!("{:011o}", body.len()).as_bytes());
    header[136..147].copy_from_slice(b"00000000000");
    header[156] = b'0';
    header[257..263].copy_from_slice(b"ustar\0");
    header[263..265].copy_from_slice(b"00");
    header[148..156].copy_from_slice(b"        ");
    let sum: u32 = header.iter().map(|b| u32::from(*b)).sum();
    header[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
    out.extend_from_slice(&header);
    out.extend_from_slice(body);
    out.resize(out.len().div_ceil(512) * 512, 0);
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).expect("gzip");
    enc.finish().expect("gzip")
}

#[tokio::test]
async fn hostile_charts_are_refused_and_the_previous_chart_keeps_serving() {
    let s = Setup::with_args("helmhostile", &["--helm-chart-max-size", "64KiB"]).await;
    let source = ChartSource::new();
    let good = source.package(&chart("app").version("1.0.0"));
    source.index();
    let good_index = String::from_utf8(source.index_yaml()).expect("UTF-8");
    let server = ChartRepoServer::options(source.repo_dir())
        .no_auth()
        .start();
    s.secret("tls", &[("ca.crt", &server.ca_pem)]).await;
    s.create::<HelmRepository>(&format!(
        "apiVersion: source.weir.dev/v1\nkind: HelmRepository\nmetadata:\n  name: charts\nspec:\n  url: {}\n  interval: 1h\n  certSecretRef:\n    name: tls\n",
        server.base_url
    ))
    .await;
    s.create::<HelmChart>(
        "apiVersion: source.weir.dev/v1\nkind: HelmChart\nmetadata:\n  name: app\nspec:\n  chart: app\n  sourceRef:\n    kind: HelmRepository\n    name: charts\n  interval: 1h\n",
    )
    .await;
    let stored: HelmChart = s
        .wait("app", "at 1.0.0", |o| {
            chart_revision(o) == "1.0.0" && chart_ready(o, "True", "Succeeded")
        })
        .await;
    let artifact = stored.status.and_then(|st| st.artifact).expect("artifact");
    kubectl_wait("helmchart", "app", &s.ns.name);

    // Each bad 1.1.0 is published in turn; each is refused with a precise message while 1.0.0
    // stays in status and keeps being served.
    let good_bytes = std::fs::read(&good).expect("good chart");
    let traversal = {
        let mut tar = Vec::new();
        raw_tar_entry(
            &mut tar,
            "app/Chart.yaml",
            b"apiVersion: v2\nname: app\nversion: 1.1.0\n",
        );
        raw_tar_entry(&mut tar, "app/../../evil.yaml", b"x: 1\n");
        tar.resize(tar.len() + 1024, 0);
        gzip(&tar)
    };
    let oversize = {
        let mut tar = Vec::new();
        raw_tar_entry(
            &mut tar,
            "app/Chart.yaml",
            b"apiVersion: v2\nname: app\nversion: 1.1.0\n",
        );
        // xorshift: bytes gzip cannot shrink, so the archive is over the 64 KiB limit.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let noise: Vec<u8> = (0..200_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect();
        raw_tar_entry(&mut tar, "app/files/noise.bin", &noise);
        tar.resize(tar.len() + 1024, 0);
        gzip(&tar)
    };
    let wrong_digest = format!("sha256:{}", "0".repeat(64));
    // (what, the .tgz, the index digest, words the message must hold)
    type Case<'a> = (&'a str, Vec<u8>, Option<&'a str>, &'a [&'a str]);
    let cases: [Case; 4] = [
        (
            "corrupt",
            b"this is not a gzip archive".to_vec(),
            None,
            &["app", "1.1.0"],
        ),
        (
            "digest mismatch",
            good_bytes.clone(),
            Some(&wrong_digest[7..]),
            &["digest", "refusing"],
        ),
        ("path traversal", traversal, None, &["evil.yaml"]),
        ("oversize", oversize, None, &["--helm-chart-max-size"]),
    ];
    for (what, bytes, digest, needles) in cases {
        std::fs::write(source.repo_dir().join("app-1.1.0.tgz"), &bytes).expect("write");
        let entry = format!(
            "  app:\n  - apiVersion: v2\n    name: app\n    version: 1.1.0\n    urls:\n    - app-1.1.0.tgz\n{}",
            digest
                .map(|d| format!("    digest: {d}\n"))
                .unwrap_or_default()
        );
        let index = good_index.replacen("  app:\n", &entry, 1);
        std::fs::write(source.repo_dir().join("index.yaml"), index).expect("index");
        s.request_reconcile::<HelmRepository>("charts").await;
        let failing: HelmChart = s
            .wait("app", &format!("refusing the {what} chart"), |o| {
                chart_ready(o, "False", "ChartPullError")
                    || chart_ready(o, "False", "ChartPackageError")
            })
            .await;
        let st = failing.status.unwrap_or_default();
        let message = ready_message(&st.conditions);
        for needle in needles {
            assert!(
                message.contains(needle),
                "{what}: {needle:?} not in {message}"
            );
        }
        assert_eq!(
            st.artifact.as_ref(),
            Some(&artifact),
            "{what}: the previous chart stays"
        );
        assert_eq!(
            sha256(&download(&artifact.url).await),
            artifact.digest,
            "{what}: still served"
        );
        // Back to the good index, so that the next case is a fresh failure.
        std::fs::write(source.repo_dir().join("index.yaml"), &good_index).expect("index");
        s.request_reconcile::<HelmRepository>("charts").await;
        s.wait::<HelmChart>("app", "recovered", |o| chart_ready(o, "True", "Succeeded"))
            .await;
    }
    assert!(
        !s.ctl.storage.join("evil.yaml").exists()
            && !s.ctl.storage.join("helmchart/evil.yaml").exists(),
        "nothing written outside"
    );
    s.finish().await;
}
