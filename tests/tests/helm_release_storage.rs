//! `weir_helm::release` against the real helm v4 and a real API server: what `helm install`,
//! `upgrade --history-max` and `uninstall --keep-history` store is what `decode_release`
//! reads (and writes back byte for byte), and releases Weir stores are what `helm list`,
//! `history`, `get`, `status`, `rollback` and `uninstall` work on.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::Path;

use base64::Engine as _;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::Api;
use kube::api::{ListParams, ObjectMeta, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use weir_helm::chart::output::Manifest;
use weir_helm::chart::{Values, dependencies, load_dir};
use weir_helm::release::storage::{self, RELEASE_KEY, SECRET_TYPE};
use weir_helm::release::time::format_go_time;
use weir_helm::release::{
    ApplyMethod, Hook, HookEvent, HookExecution, HookPhase, Info, Release, ReleaseChart,
    RevisionLabels, SecretWrite, Status, Timestamp, custom_labels, decode_release, encode_release,
    history_to_prune, join_manifests, secret_labels_for_write, secret_name,
};
use weir_tests::chart_repo::{Helm, chart};
use weir_tests::cluster::{TestNamespace, client, kubeconfig};

const HOOK_TEMPLATE: &str = "apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-hook
  annotations:
    helm.sh/hook: post-install,post-upgrade
    helm.sh/hook-weight: \"3\"
    helm.sh/hook-delete-policy: before-hook-creation
data:
  ran: \"yes\"
";

/// `helm <args> -n <namespace> --kubeconfig <test cluster>`, its stdout.
fn helm_in(helm: &Helm, namespace: &str, args: &[&str]) -> String {
    let config = kubeconfig();
    let mut all: Vec<&str> = args.to_vec();
    let config = config.to_string_lossy();
    all.extend(["-n", namespace, "--kubeconfig", &config]);
    helm.run(&all)
}

fn helm_json(helm: &Helm, namespace: &str, args: &[&str]) -> Value {
    let out = helm_in(helm, namespace, args);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("helm {args:?} printed {out:?}: {e}"))
}

/// Every number as a float64, as Go compares them once read back.
fn go_numbers(v: Value) -> Value {
    match v {
        Value::Number(n) => json!(n.as_f64().expect("finite")),
        Value::Array(items) => Value::Array(items.into_iter().map(go_numbers).collect()),
        Value::Object(map) => {
            Value::Object(map.into_iter().map(|(k, v)| (k, go_numbers(v))).collect())
        }
        other => other,
    }
}

/// The JSON inside a Secret's `release` data, as Helm wrote it.
fn raw_json(secret: &Secret) -> Vec<u8> {
    let data = &secret.data.as_ref().expect("data")[RELEASE_KEY].0;
    let gz = base64::engine::general_purpose::STANDARD
        .decode(data)
        .expect("base64");
    let mut json = Vec::new();
    flate2::read::GzDecoder::new(gz.as_slice())
        .read_to_end(&mut json)
        .expect("gzip");
    json
}

/// Revision `version` of `name`: its Secret and the release decoded from it (custom labels
/// filled in from the Secret).
async fn stored(secrets: &Api<Secret>, name: &str, version: i64) -> (Secret, Release) {
    let secret = secrets
        .get(&secret_name(name, version))
        .await
        .unwrap_or_else(|e| panic!("Secret of {name} v{version}: {e}"));
    let data = &secret.data.as_ref().expect("data")[RELEASE_KEY].0;
    let mut release = decode_release(data).expect("decode_release");
    release.labels = custom_labels(secret.metadata.labels.as_ref().expect("labels"));
    (secret, release)
}

/// The revisions of `name` as their Secrets' labels say, sorted.
async fn revisions(secrets: &Api<Secret>, name: &str) -> Vec<RevisionLabels> {
    let list = secrets
        .list(&ListParams::default().labels(&storage::history_selector(name)))
        .await
        .expect("list release Secrets");
    let mut revs: Vec<RevisionLabels> = list
        .items
        .iter()
        .filter_map(|s| RevisionLabels::from_secret_labels(s.metadata.labels.as_ref()?))
        .collect();
    revs.sort_by_key(|r| r.version);
    revs
}

/// Stores `release` as Helm's Secret driver does: `Create` makes the Secret, `Update`
/// replaces it.
async fn store(secrets: &Api<Secret>, release: &Release, write: SecretWrite) {
    let name = secret_name(&release.name, release.version);
    let secret = Secret {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            labels: Some(secret_labels_for_write(
                release,
                write,
                Timestamp::now().as_second(),
            )),
            ..ObjectMeta::default()
        },
        type_: Some(SECRET_TYPE.into()),
        data: Some(BTreeMap::from([(
            RELEASE_KEY.to_string(),
            ByteString(encode_release(release).expect("encode").into_bytes()),
        )])),
        ..Secret::default()
    };
    let result = match write {
        SecretWrite::Create => secrets.create(&PostParams::default(), &secret).await,
        SecretWrite::Update => {
            secrets
                .replace(&name, &PostParams::default(), &secret)
                .await
        }
    };
    result.unwrap_or_else(|e| panic!("storing {name}: {e}"));
}

/// What `helm get hooks` prints for a release's hooks.
fn printed_hooks(hooks: &[Hook]) -> String {
    hooks
        .iter()
        .map(|h| format!("---\n# Source: {}\n{}\n", h.path, h.manifest))
        .collect()
}

/// The chart at `dir` as weir-helm loads and processes it, mapped to a release's chart.
fn weir_chart(dir: &Path, user: &Values) -> ReleaseChart {
    let mut loaded = load_dir(dir).expect("load chart");
    dependencies::process_dependencies(&mut loaded, user).expect("dependencies");
    ReleaseChart::from_chart(&loaded).expect("release chart")
}

/// `chart` without the modification times Helm 4 records and weir-helm does not know.
fn without_times(mut chart: ReleaseChart) -> ReleaseChart {
    chart.modified = None;
    chart.schema_modified = None;
    for f in chart.templates.iter_mut().chain(chart.files.iter_mut()) {
        f.modified = None;
    }
    chart
}

#[tokio::test]
async fn what_helm_stores_is_what_decode_release_reads() {
    let client = client().await;
    let ns = TestNamespace::new(&client, "helm-store").await;
    let helm = Helm::new();
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns.name);
    let work = tempfile::tempdir().expect("tempdir");
    let chart_dir = chart("storage")
        .values("data:\n  greeting: hello\nreplicas: 1\nratio: 0.5\n")
        .file("templates/NOTES.txt", "Installed {{ .Release.Name }}\n")
        .file("templates/hook.yaml", HOOK_TEMPLATE)
        .file("README.md", "# storage <&>\n")
        .write(work.path());
    let chart_arg = chart_dir.to_string_lossy().into_owned();

    helm_in(
        &helm,
        &ns.name,
        &[
            "install",
            "rel",
            &chart_arg,
            "--set",
            "data.greeting=hi",
            "--set",
            "count=3",
            "--labels",
            "team=storage",
        ],
    );

    let (secret, installed) = stored(&secrets, "rel", 1).await;
    assert_eq!(secret.type_.as_deref(), Some(SECRET_TYPE));
    let labels = secret.metadata.labels.clone().expect("labels");
    let modified_at: i64 = labels["modifiedAt"].parse().expect("modifiedAt");
    assert_eq!(
        labels,
        secret_labels_for_write(&installed, SecretWrite::Update, modified_at),
        "the labels are name, owner, status, version, the custom ones and modifiedAt"
    );
    assert_eq!(
        installed.labels,
        BTreeMap::from([("team".into(), "storage".into())])
    );

    assert_eq!(installed.name, "rel");
    assert_eq!(installed.namespace, ns.name);
    assert_eq!(installed.version, 1);
    assert_eq!(installed.info.status, Status::Deployed);
    assert_eq!(installed.info.description, "Install complete");
    assert_eq!(installed.info.first_deployed, installed.info.last_deployed);
    assert_eq!(installed.apply_method, Some(ApplyMethod::ServerSide));
    assert_eq!(installed.chart_reference(), "storage-0.1.0");
    assert_eq!(
        Value::Object(installed.config.clone()),
        go_numbers(helm_json(
            &helm,
            &ns.name,
            &["get", "values", "rel", "-o", "json"]
        ))
    );
    assert_eq!(
        Value::Object(installed.config.clone()),
        json!({"data": {"greeting": "hi"}, "count": 3.0})
    );
    assert_eq!(
        format!("{}\n", installed.manifest),
        helm_in(&helm, &ns.name, &["get", "manifest", "rel"])
    );
    assert!(
        installed
            .manifest
            .starts_with("---\n# Source: storage/templates/configmap.yaml\n")
    );
    assert_eq!(
        format!("NOTES:\n{}\n", installed.info.notes),
        helm_in(&helm, &ns.name, &["get", "notes", "rel"])
    );
    assert_eq!(installed.info.notes, "Installed rel\n");
    assert_eq!(
        printed_hooks(&installed.hooks),
        helm_in(&helm, &ns.name, &["get", "hooks", "rel"])
    );
    let hook = &installed.hooks[0];
    assert_eq!(hook.name, "rel-hook");
    assert_eq!(
        hook.events,
        [HookEvent::PostInstall, HookEvent::PostUpgrade]
    );
    assert_eq!(hook.weight, 3);
    assert_eq!(hook.last_run.phase, Some(HookPhase::Succeeded));
    assert!(hook.last_run.started_at.is_some() && hook.last_run.completed_at.is_some());

    // Weir writes back exactly the JSON Helm wrote.
    assert_eq!(
        String::from_utf8_lossy(&storage::release_json(&installed).expect("json")),
        String::from_utf8_lossy(&raw_json(&secret))
    );
    // And maps the same chart to what Helm stored in the release.
    assert_eq!(
        weir_chart(&chart_dir, &installed.config),
        without_times(installed.chart.clone().expect("chart"))
    );

    // Two failed revisions written here, then `helm upgrade --history-max 2`: Helm prunes
    // what history_to_prune says, keeping the deployed revision 1.
    for version in [2, 3] {
        let mut failed = installed.clone();
        failed.version = version;
        failed.info.status = Status::Failed;
        failed.info.description = "Upgrade \"rel\" failed: made up here".into();
        failed.info.last_deployed = Some(Timestamp::now());
        store(&secrets, &failed, SecretWrite::Create).await;
    }
    let before = revisions(&secrets, "rel").await;
    assert_eq!(before.len(), 3);
    assert_eq!(history_to_prune(&before, 2), [2, 3]);
    let history = helm_json(&helm, &ns.name, &["history", "rel", "-o", "json"]);
    assert_eq!(history[2]["status"], "failed", "{history}");
    helm_in(
        &helm,
        &ns.name,
        &[
            "upgrade",
            "rel",
            &chart_arg,
            "--reuse-values",
            "--history-max",
            "2",
        ],
    );
    let after = revisions(&secrets, "rel").await;
    let seen: Vec<(i64, Status)> = after.iter().map(|r| (r.version, r.status)).collect();
    assert_eq!(seen, [(1, Status::Superseded), (4, Status::Deployed)]);
    let (_, upgraded) = stored(&secrets, "rel", 4).await;
    assert_eq!(
        upgraded.config, installed.config,
        "--reuse-values kept the config"
    );

    // Uninstalled, history kept: status, deletion time, and the JSON still read back exactly.
    helm_in(&helm, &ns.name, &["uninstall", "rel", "--keep-history"]);
    let (secret, uninstalled) = stored(&secrets, "rel", 4).await;
    assert_eq!(uninstalled.info.status, Status::Uninstalled);
    assert_eq!(uninstalled.info.description, "Uninstallation complete");
    assert!(uninstalled.info.deleted.is_some());
    assert_eq!(
        String::from_utf8_lossy(&storage::release_json(&uninstalled).expect("json")),
        String::from_utf8_lossy(&raw_json(&secret))
    );
    ns.delete().await;
}

/// One revision of the release `web`, as Weir's helm-controller would store it.
fn web_revision(
    chart: &ReleaseChart,
    version: i64,
    greeting: &str,
    first_deployed: Timestamp,
    description: &str,
) -> Release {
    let configmap = Manifest {
        source: "web/templates/configmap.yaml".into(),
        content: format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-config\ndata:\n  greeting: \"{greeting}\""
        ),
        kind: "ConfigMap".into(),
        name: "web-config".into(),
    };
    let mut config = Values::new();
    config.insert("data".into(), json!({ "greeting": greeting }));
    let now = Timestamp::now();
    Release {
        name: "web".into(),
        info: Info {
            first_deployed: Some(first_deployed),
            last_deployed: Some(now),
            description: description.into(),
            status: Status::Deployed,
            notes: format!("web says {greeting}\n"),
            ..Info::default()
        },
        chart: Some(chart.clone()),
        config,
        manifest: join_manifests(&[configmap]),
        hooks: vec![Hook {
            name: "web-hook".into(),
            kind: "ConfigMap".into(),
            path: "web/templates/hook.yaml".into(),
            manifest: "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-hook\n  annotations:\n    helm.sh/hook: post-install,post-upgrade\ndata:\n  ran: \"yes\"".into(),
            events: vec![HookEvent::PostInstall, HookEvent::PostUpgrade],
            last_run: HookExecution {
                started_at: Some(now),
                completed_at: Some(now),
                phase: Some(HookPhase::Succeeded),
            },
            ..Hook::default()
        }],
        version,
        namespace: String::new(),
        apply_method: Some(ApplyMethod::ServerSide),
        labels: BTreeMap::from([("team".into(), "weir".into())]),
    }
}

#[tokio::test]
async fn releases_stored_here_are_what_helm_reads() {
    let client = client().await;
    let ns = TestNamespace::new(&client, "helm-read").await;
    let helm = Helm::new();
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns.name);
    let configmaps: Api<ConfigMap> = Api::namespaced(client.clone(), &ns.name);
    let work = tempfile::tempdir().expect("tempdir");
    let chart_dir = chart("web")
        .version("1.2.3")
        .app_version("4.5.6")
        .values("data:\n  greeting: hello\n  extra: kept\n")
        .file("templates/hook.yaml", HOOK_TEMPLATE)
        .write(work.path());
    let web_chart = weir_chart(&chart_dir, &Values::new());

    // Revision 1 deployed, then revision 2 deployed and revision 1 superseded.
    let first_deployed = Timestamp::now();
    let mut rev1 = web_revision(&web_chart, 1, "one", first_deployed, "Install complete");
    rev1.namespace = ns.name.clone();
    store(&secrets, &rev1, SecretWrite::Create).await;
    let mut rev2 = web_revision(&web_chart, 2, "two", first_deployed, "Upgrade complete");
    rev2.namespace = ns.name.clone();
    store(&secrets, &rev2, SecretWrite::Create).await;
    rev1.info.status = Status::Superseded;
    store(&secrets, &rev1, SecretWrite::Update).await;
    // The live object of revision 2, applied as Helm applies it (server-side, manager helm).
    configmaps
        .patch(
            "web-config",
            &PatchParams::apply("helm"),
            &Patch::Apply(json!({
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {
                    "name": "web-config",
                    "labels": {"app.kubernetes.io/managed-by": "Helm"},
                    "annotations": {
                        "meta.helm.sh/release-name": "web",
                        "meta.helm.sh/release-namespace": ns.name,
                    },
                },
                "data": {"greeting": "two"},
            })),
        )
        .await
        .expect("apply web-config");

    let updated = |r: &Release| format_go_time(r.info.last_deployed.expect("deployed"));
    let list = helm_json(&helm, &ns.name, &["list", "-o", "json"]);
    assert_eq!(
        list,
        json!([{
            "name": "web",
            "namespace": ns.name,
            "revision": "2",
            // Go's time.String() of the same instant.
            "updated": format!("{} +0000 UTC", updated(&rev2).replace('T', " ").trim_end_matches('Z')),
            "status": "deployed",
            "chart": "web-1.2.3",
            "app_version": "4.5.6",
        }])
    );
    let history = helm_json(&helm, &ns.name, &["history", "web", "-o", "json"]);
    assert_eq!(
        history,
        json!([
            {"revision": 1, "updated": updated(&rev1), "status": "superseded", "chart": "web-1.2.3", "app_version": "4.5.6", "description": "Install complete"},
            {"revision": 2, "updated": updated(&rev2), "status": "deployed", "chart": "web-1.2.3", "app_version": "4.5.6", "description": "Upgrade complete"},
        ])
    );
    assert_eq!(
        helm_json(&helm, &ns.name, &["get", "values", "web", "-o", "json"]),
        json!({"data": {"greeting": "two"}})
    );
    assert_eq!(
        helm_json(
            &helm,
            &ns.name,
            &["get", "values", "web", "--revision", "1", "-o", "json"]
        ),
        json!({"data": {"greeting": "one"}})
    );
    assert_eq!(
        helm_json(
            &helm,
            &ns.name,
            &["get", "values", "web", "--all", "-o", "json"]
        ),
        json!({"data": {"greeting": "two", "extra": "kept"}}),
        "the chart's defaults under the user's values"
    );
    assert_eq!(
        helm_in(&helm, &ns.name, &["get", "manifest", "web"]),
        format!("{}\n", rev2.manifest)
    );
    assert_eq!(
        helm_in(&helm, &ns.name, &["get", "hooks", "web"]),
        printed_hooks(&rev2.hooks)
    );
    assert_eq!(
        helm_in(&helm, &ns.name, &["get", "notes", "web"]),
        "NOTES:\nweb says two\n\n"
    );
    let all = helm_in(&helm, &ns.name, &["get", "all", "web"]);
    for part in [
        "web says two",
        "greeting: \"two\"",
        "web-hook",
        "extra: kept",
    ] {
        assert!(all.contains(part), "helm get all lacks {part:?}:\n{all}");
    }
    let metadata = helm_json(&helm, &ns.name, &["get", "metadata", "web", "-o", "json"]);
    assert_eq!(metadata["chart"], "web");
    assert_eq!(metadata["version"], "1.2.3");
    assert_eq!(metadata["appVersion"], "4.5.6");
    assert_eq!(metadata["revision"], 2);
    assert_eq!(metadata["status"], "deployed");
    assert_eq!(metadata["applyMethod"], "ssa");
    assert_eq!(metadata["labels"]["team"], "weir");
    let status = helm_json(&helm, &ns.name, &["status", "web", "-o", "json"]);
    assert_eq!(status["name"], "web");
    assert_eq!(status["namespace"], ns.name.as_str());
    assert_eq!(status["version"], 2);
    assert_eq!(status["info"]["status"], "deployed");
    assert_eq!(status["info"]["description"], "Upgrade complete");
    assert_eq!(status["info"]["notes"], "web says two\n");
    assert_eq!(
        status["info"]["first_deployed"],
        format_go_time(first_deployed)
    );
    assert_eq!(status["config"], json!({"data": {"greeting": "two"}}));
    assert_eq!(status["manifest"], rev2.manifest.as_str());
    assert_eq!(status["hooks"][0]["name"], "web-hook");
    assert_eq!(
        status["info"]["resources"]["v1/ConfigMap"][0]["data"],
        json!({"greeting": "two"}),
        "helm status found the live object the manifest names"
    );

    // helm rollback reads revision 1 as stored here and writes revision 3 from it.
    helm_in(&helm, &ns.name, &["rollback", "web", "1"]);
    let seen: Vec<(i64, Status)> = revisions(&secrets, "web")
        .await
        .iter()
        .map(|r| (r.version, r.status))
        .collect();
    assert_eq!(
        seen,
        [
            (1, Status::Superseded),
            (2, Status::Superseded),
            (3, Status::Deployed)
        ]
    );
    let (secret, rev3) = stored(&secrets, "web", 3).await;
    assert_eq!(rev3.info.description, "Rollback to 1");
    assert_eq!(rev3.config, rev1.config);
    assert_eq!(rev3.manifest, rev1.manifest);
    assert_eq!(
        rev3.chart, rev1.chart,
        "Helm carried the chart stored here over"
    );
    assert_eq!(rev3.labels, rev1.labels);
    assert_eq!(
        String::from_utf8_lossy(&storage::release_json(&rev3).expect("json")),
        String::from_utf8_lossy(&raw_json(&secret))
    );
    let live = configmaps.get("web-config").await.expect("web-config");
    assert_eq!(
        live.data
            .unwrap_or_default()
            .get("greeting")
            .map(String::as_str),
        Some("one")
    );

    // helm uninstall deletes the manifest's objects and every revision.
    helm_in(&helm, &ns.name, &["uninstall", "web"]);
    weir_tests::wait::until(
        std::time::Duration::from_secs(30),
        "web-config deleted",
        || {
            let configmaps = configmaps.clone();
            async move {
                configmaps
                    .get_opt("web-config")
                    .await
                    .ok()
                    .and_then(|c| c.is_none().then_some(()))
            }
        },
    )
    .await;
    assert!(revisions(&secrets, "web").await.is_empty());
    ns.delete().await;
}
