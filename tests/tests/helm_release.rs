//! helm-controller against the real API server, a real chart repository (charts packaged and
//! indexed by the real helm) and the real helm CLI as the oracle: what a HelmRelease
//! installs, upgrades and uninstalls is what `helm list`, `history`, `get values` and
//! `get manifest` report, and what `helm template` renders.

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use weir_api::helm::HelmRelease;
use weir_api::source::{HelmChart, HelmRepository, OCIRepository};
use weir_api::source_extensions::ArtifactGenerator;
use weir_helm::release::{Status, decode_release, encode_release};
use weir_tests::chart_repo::{ChartRepoServer, ChartSource, Helm, PushOptions, chart};
use weir_tests::cluster::kubeconfig;
use weir_tests::controller::{HelmController, TEST_LABEL};
use weir_tests::registry::Registry;
use weir_tests::sources::{Setup, condition, kubectl_wait};

/// A second template, present in 0.1.0 only: the upgrade to 0.2.0 must delete its object.
const EXTRA_TEMPLATE: &str = "apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-extra
data:
  only: \"in 0.1.0\"
";

/// Fails rendering when `.Values.fail` is set.
const GUARD_TEMPLATE: &str =
    "{{- if .Values.fail }}{{ fail \"the chart refuses: fail is set\" }}{{- end }}
";

/// An object named by `.Values.extraName`: a name the API server refuses makes the apply
/// (not the render) fail.
const NAMED_TEMPLATE: &str = "{{- if .Values.extraName }}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Values.extraName }}
{{- end }}
";

/// The chart's ConfigMap with a label a `+` in the version cannot break (as real charts
/// write it): an OCI chart's version carries `+<digest>`.
const OCI_TEMPLATE: &str = "apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-{{ .Chart.Name }}
  labels:
    chart: {{ printf \"%s-%s\" .Chart.Name .Chart.Version | replace \"+\" \"_\" }}
data:
  chartVersion: {{ .Chart.Version | quote }}
  {{- range $k, $v := .Values.data }}
  {{ $k }}: {{ $v | quote }}
  {{- end }}
";

/// A post-install hook: hooks are not run yet, so the release is refused unless they are
/// disabled.
const HOOK_TEMPLATE: &str = "apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-hook
  annotations:
    helm.sh/hook: post-install,post-upgrade
data:
  ran: \"yes\"
";

/// A namespace with a source-controller, a helm-controller and the helm CLI.
struct Env {
    s: Setup,
    ctl: HelmController,
    helm: Helm,
}

impl Env {
    async fn new(prefix: &str) -> Self {
        let s = Setup::new(prefix).await;
        let ctl = HelmController::start(&s.selector, &["--events-addr", s.sink.url.as_str()]).await;
        Self {
            s,
            ctl,
            helm: Helm::new(),
        }
    }

    fn ns(&self) -> &str {
        &self.s.ns.name
    }

    /// `helm <args> -n <ns> -o json`, parsed.
    fn helm_json(&self, args: &[&str]) -> Value {
        let config = kubeconfig();
        let config = config.to_string_lossy();
        let mut all = args.to_vec();
        all.extend(["-n", self.ns(), "--kubeconfig", &config, "-o", "json"]);
        let out = self.helm.run(&all);
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("helm {args:?} printed {out:?}: {e}"))
    }

    /// `helm <args> -n <ns>`, its stdout.
    fn helm_text(&self, args: &[&str]) -> String {
        let config = kubeconfig();
        let config = config.to_string_lossy();
        let mut all = args.to_vec();
        all.extend(["-n", self.ns(), "--kubeconfig", &config]);
        self.helm.run(&all)
    }

    /// Waits up to a minute until the HelmRelease satisfies `check`.
    async fn wait(
        &self,
        name: &str,
        what: &str,
        check: impl Fn(&HelmRelease) -> bool,
    ) -> HelmRelease {
        let api = self.s.api::<HelmRelease>();
        let start = Instant::now();
        loop {
            let obj = api.get_opt(name).await.ok().flatten();
            if let Some(o) = &obj
                && check(o)
            {
                return o.clone();
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "timed out waiting for HelmRelease {name} to be {what}; last status: {}\nhelm-controller log:\n{}",
                serde_json::to_string_pretty(&obj.and_then(|o| o.status)).unwrap_or_default(),
                self.ctl.log()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn patch(&self, name: &str, patch: Value) {
        self.s.patch::<HelmRelease>(name, patch).await;
    }

    async fn config_map(&self, name: &str) -> Option<ConfigMap> {
        self.s
            .api::<ConfigMap>()
            .get_opt(name)
            .await
            .unwrap_or_else(|e| panic!("reading ConfigMap {name}: {e}"))
    }

    async fn release_secrets(&self, release: &str) -> Vec<String> {
        self.s
            .api::<Secret>()
            .list(&ListParams::default().labels(&format!("owner=helm,name={release}")))
            .await
            .unwrap_or_else(|e| panic!("listing release Secrets: {e}"))
            .items
            .into_iter()
            .filter_map(|s| s.metadata.name)
            .collect()
    }
}

fn ready(o: &HelmRelease) -> Option<(String, String, String)> {
    let st = o.status.as_ref()?;
    (st.observed_generation == o.metadata.generation).then_some(())?;
    condition(&st.conditions, "Ready")
        .map(|c| (c.status.clone(), c.reason.clone(), c.message.clone()))
}

fn ready_true_at(o: &HelmRelease, version: i64) -> bool {
    ready(o).is_some_and(|(s, _, _)| s == "True")
        && o.status
            .as_ref()
            .is_some_and(|s| s.history.first().is_some_and(|h| h.version == version))
}

fn data(cm: &Option<ConfigMap>, key: &str) -> Option<String> {
    cm.as_ref()?.data.as_ref()?.get(key).cloned()
}

/// `(revision, status, chart)` of each `helm history` entry.
fn history(v: &Value) -> Vec<(i64, String, String)> {
    v.as_array()
        .unwrap_or_else(|| panic!("helm history is a list: {v}"))
        .iter()
        .map(|e| {
            (
                e["revision"].as_i64().unwrap_or_default(),
                e["status"].as_str().unwrap_or_default().to_string(),
                e["chart"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// The chart repository with `app` 0.1.0 (two ConfigMaps) and 0.2.0 (one), and `hooked`
/// 0.1.0 (a ConfigMap and a hook), served over
/// plain HTTP, and a HelmRepository for it.
async fn chart_repository(env: &Env) -> (ChartSource, ChartRepoServer) {
    let source = ChartSource::new();
    source.package(
        &chart("app")
            .version("0.1.0")
            .file("templates/extra.yaml", EXTRA_TEMPLATE)
            .file("templates/guard.yaml", GUARD_TEMPLATE),
    );
    source.package(
        &chart("app")
            .version("0.2.0")
            .file("templates/guard.yaml", GUARD_TEMPLATE)
            .file("templates/named.yaml", NAMED_TEMPLATE),
    );
    source.package(&chart("hooked").file("templates/hook.yaml", HOOK_TEMPLATE));
    source.index();
    let server = ChartRepoServer::options(source.repo_dir())
        .no_auth()
        .plain_http()
        .start();
    env.s
        .create::<HelmRepository>(&format!(
            "apiVersion: source.weir.dev/v1\nkind: HelmRepository\nmetadata:\n  name: charts\nspec:\n  url: {}\n  interval: 1h\n",
            server.base_url
        ))
        .await;
    (source, server)
}

async fn create_release(env: &Env, yaml: &str) {
    let mut obj: HelmRelease = serde_yaml::from_str(yaml).unwrap_or_else(|e| panic!("{e}: {yaml}"));
    obj.metadata
        .labels
        .get_or_insert_with(Default::default)
        .insert(TEST_LABEL.into(), env.s.selector.clone());
    env.s
        .api::<HelmRelease>()
        .create(&PostParams::default(), &obj)
        .await
        .unwrap_or_else(|e| panic!("creating {yaml}: {e}"));
}

#[tokio::test]
async fn a_release_from_a_chart_template_installs_upgrades_and_uninstalls_as_helm_sees_it() {
    let env = Env::new("helmrelease").await;
    let ns = env.ns().to_string();
    let (source, _server) = chart_repository(&env).await;
    create_release(
        &env,
        &format!(
            "apiVersion: helm.weir.dev/v2
kind: HelmRelease
metadata:
  name: web
spec:
  interval: 1h
  chart:
    metadata:
      labels:
        {TEST_LABEL}: {}
    spec:
      chart: app
      version: 0.1.0
      sourceRef:
        kind: HelmRepository
        name: charts
      interval: 1h
  values:
    data:
      color: blue
      size: 3
",
            env.s.selector
        ),
    )
    .await;

    // (1) Install.
    let hr = env
        .wait("web", "Ready at revision 1", |o| ready_true_at(o, 1))
        .await;
    kubectl_wait("helmrelease", "web", &ns);
    let st = hr.status.clone().unwrap_or_default();
    assert_eq!(
        st.helm_chart.as_deref(),
        Some(format!("{ns}/{ns}-web").as_str())
    );
    assert_eq!(st.storage_namespace.as_deref(), Some(ns.as_str()));
    assert_eq!(st.last_attempted_revision.as_deref(), Some("0.1.0"));
    assert_eq!(
        st.last_attempted_release_action,
        Some(weir_api::helm::ReleaseAction::Install)
    );
    assert!(
        st.last_attempted_config_digest
            .as_deref()
            .is_some_and(|d| d.starts_with("sha256:")),
        "{st:?}"
    );
    assert_eq!(
        condition(&st.conditions, "Released").map(|c| (c.status.as_str(), c.reason.as_str())),
        Some(("True", "InstallSucceeded"))
    );
    let cm = env.config_map("web-app").await;
    assert_eq!(data(&cm, "color").as_deref(), Some("blue"));
    assert_eq!(data(&cm, "chartVersion").as_deref(), Some("0.1.0"));
    let labels = cm
        .as_ref()
        .and_then(|c| c.metadata.labels.clone())
        .unwrap_or_default();
    assert_eq!(
        labels.get("helm.weir.dev/name").map(String::as_str),
        Some("web")
    );
    assert_eq!(
        labels.get("helm.weir.dev/namespace").map(String::as_str),
        Some(ns.as_str())
    );
    assert!(env.config_map("web-extra").await.is_some());

    let list = env.helm_json(&["list"]);
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    assert_eq!(list[0]["name"], "web");
    assert_eq!(list[0]["revision"], "1");
    assert_eq!(list[0]["status"], "deployed");
    assert_eq!(list[0]["chart"], "app-0.1.0");
    assert_eq!(
        env.helm_json(&["get", "values", "web"]),
        json!({"data": {"color": "blue", "size": 3}})
    );
    // The stored manifest is what the real helm renders from the same chart and values.
    let values_file = env.helm.home().join("values.yaml");
    std::fs::write(&values_file, "data:\n  color: blue\n  size: 3\n")
        .unwrap_or_else(|e| panic!("{e}"));
    let chart_tgz = source.repo_dir().join("app-0.1.0.tgz");
    let rendered = env.helm_text(&[
        "template",
        "web",
        &chart_tgz.to_string_lossy(),
        "-f",
        &values_file.to_string_lossy(),
    ]);
    let stored = env.helm_text(&["get", "manifest", "web"]);
    assert_eq!(stored.trim_end(), rendered.trim_end());
    let events = env.s.sink.events();
    assert!(
        events.iter().any(|e| e["reason"] == "InstallSucceeded"
            && e["metadata"]["helm.weir.dev/revision"] == "0.1.0"),
        "{events:?}"
    );

    // A reconcile with nothing changed finds the release in sync and stores nothing.
    env.patch(
        "web",
        json!({"metadata": {"annotations": {weir_api::RECONCILE_REQUEST_ANNOTATION: "again"}}}),
    )
    .await;
    env.wait("web", "reconciled on request", |o| {
        o.status
            .as_ref()
            .is_some_and(|s| s.last_handled_reconcile_at.as_deref() == Some("again"))
    })
    .await;
    assert_eq!(
        history(&env.helm_json(&["history", "web"])),
        [(1, "deployed".to_string(), "app-0.1.0".to_string())]
    );

    // (2) A values change upgrades: revision 2 deployed, revision 1 superseded.
    env.patch(
        "web",
        json!({"spec": {"values": {"data": {"color": "green"}}}}),
    )
    .await;
    let hr = env
        .wait("web", "Ready at revision 2", |o| ready_true_at(o, 2))
        .await;
    assert_eq!(
        data(&env.config_map("web-app").await, "color").as_deref(),
        Some("green")
    );
    assert_eq!(
        history(&env.helm_json(&["history", "web"])),
        [
            (1, "superseded".to_string(), "app-0.1.0".to_string()),
            (2, "deployed".to_string(), "app-0.1.0".to_string()),
        ]
    );
    let described: Vec<Value> = env
        .helm_json(&["history", "web"])
        .as_array()
        .map(|a| a.iter().map(|e| e["description"].clone()).collect())
        .unwrap_or_default();
    assert_eq!(
        described,
        [json!("Install complete"), json!("Upgrade complete")]
    );
    let st = hr.status.unwrap_or_default();
    assert_eq!(
        st.history
            .iter()
            .map(|h| (h.version, h.status.as_str()))
            .collect::<Vec<_>>(),
        [(2, "deployed"), (1, "superseded")]
    );
    assert_eq!(
        st.last_attempted_release_action,
        Some(weir_api::helm::ReleaseAction::Upgrade)
    );

    // A new chart version upgrades too, and the object 0.2.0 no longer has is deleted.
    env.patch(
        "web",
        json!({"spec": {"chart": {"spec": {"version": "0.2.0"}}}}),
    )
    .await;
    env.wait("web", "Ready at revision 3", |o| ready_true_at(o, 3))
        .await;
    assert_eq!(
        data(&env.config_map("web-app").await, "chartVersion").as_deref(),
        Some("0.2.0")
    );
    assert!(
        env.config_map("web-extra").await.is_none(),
        "removed from the chart, so deleted"
    );
    let list = env.helm_json(&["list"]);
    assert_eq!(
        (list[0]["revision"].as_str(), list[0]["chart"].as_str()),
        (Some("3"), Some("app-0.2.0"))
    );

    // (3) valuesFrom a ConfigMap key set at a targetPath; a change of the ConfigMap upgrades.
    let overrides = ConfigMap {
        metadata: kube::api::ObjectMeta {
            name: Some("overrides".into()),
            ..Default::default()
        },
        data: Some([("shade".to_string(), "dark".to_string())].into()),
        ..Default::default()
    };
    env.s
        .api::<ConfigMap>()
        .create(&PostParams::default(), &overrides)
        .await
        .unwrap_or_else(|e| panic!("creating ConfigMap overrides: {e}"));
    env.patch(
        "web",
        json!({"spec": {"valuesFrom": [{"kind": "ConfigMap", "name": "overrides", "valuesKey": "shade", "targetPath": "data.shade"}]}}),
    )
    .await;
    env.wait("web", "Ready at revision 4", |o| ready_true_at(o, 4))
        .await;
    assert_eq!(
        data(&env.config_map("web-app").await, "shade").as_deref(),
        Some("dark")
    );
    assert_eq!(
        env.helm_json(&["get", "values", "web"]),
        json!({"data": {"color": "green", "size": 3, "shade": "dark"}})
    );
    env.s
        .api::<ConfigMap>()
        .patch(
            "overrides",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"shade": "light"}})),
        )
        .await
        .unwrap_or_else(|e| panic!("patching ConfigMap overrides: {e}"));
    env.wait("web", "Ready at revision 5", |o| ready_true_at(o, 5))
        .await;
    assert_eq!(
        data(&env.config_map("web-app").await, "shade").as_deref(),
        Some("light")
    );

    // A revision left pending (a controller killed mid-upgrade) is unlocked, marked failed,
    // and released again.
    let secrets = env.s.api::<Secret>();
    let name = "sh.helm.release.v1.web.v5";
    let mut secret = secrets
        .get(name)
        .await
        .unwrap_or_else(|e| panic!("reading {name}: {e}"));
    let data = secret
        .data
        .as_mut()
        .and_then(|d| d.get_mut("release"))
        .unwrap_or_else(|| panic!("{name} has release data"));
    let mut release = decode_release(&data.0).unwrap_or_else(|e| panic!("decoding {name}: {e}"));
    release.info.status = Status::PendingUpgrade;
    data.0 = encode_release(&release)
        .unwrap_or_else(|e| panic!("encoding {name}: {e}"))
        .into_bytes();
    secret
        .metadata
        .labels
        .get_or_insert_with(Default::default)
        .insert("status".into(), "pending-upgrade".into());
    secrets
        .replace(name, &PostParams::default(), &secret)
        .await
        .unwrap_or_else(|e| panic!("replacing {name}: {e}"));
    env.patch(
        "web",
        json!({"metadata": {"annotations": {weir_api::RECONCILE_REQUEST_ANNOTATION: "unlock"}}}),
    )
    .await;
    env.wait("web", "Ready at revision 6", |o| {
        ready_true_at(o, 6)
            && o.status
                .as_ref()
                .is_some_and(|s| s.last_handled_reconcile_at.as_deref() == Some("unlock"))
    })
    .await;
    let helm_history = env.helm_json(&["history", "web"]);
    let descriptions: Vec<(i64, &str, &str)> = helm_history
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| {
                    (
                        e["revision"].as_i64().unwrap_or_default(),
                        e["status"].as_str().unwrap_or_default(),
                        e["description"].as_str().unwrap_or_default(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(
        descriptions.get(descriptions.len().saturating_sub(2)..),
        Some(
            &[
                (
                    5,
                    "failed",
                    "Release unlocked from stale 'pending-upgrade' state"
                ),
                (6, "deployed", "Upgrade complete"),
            ][..]
        ),
        "{helm_history}"
    );

    // (4) Deleting the HelmRelease uninstalls: objects, release Secrets and HelmChart go.
    env.s
        .api::<HelmRelease>()
        .delete("web", &Default::default())
        .await
        .unwrap_or_else(|e| panic!("deleting web: {e}"));
    weir_tests::wait::until(Duration::from_secs(60), "HelmRelease web gone", || async {
        env.s
            .api::<HelmRelease>()
            .get_opt("web")
            .await
            .ok()
            .flatten()
            .is_none()
            .then_some(())
    })
    .await;
    assert!(env.config_map("web-app").await.is_none());
    assert_eq!(env.release_secrets("web").await, Vec::<String>::new());
    assert_eq!(env.helm_json(&["list"]), json!([]));
    assert!(
        env.s
            .api::<HelmChart>()
            .get_opt(&format!("{ns}-web"))
            .await
            .ok()
            .flatten()
            .is_none(),
        "the HelmChart of spec.chart is deleted with the release"
    );
    env.s.finish().await;
}

#[tokio::test]
async fn a_chart_that_fails_to_render_is_not_released_and_loses_no_release_record() {
    let env = Env::new("helmrelease-fail").await;
    let (_source, _server) = chart_repository(&env).await;
    env.s
        .create::<HelmChart>(
            "apiVersion: source.weir.dev/v1\nkind: HelmChart\nmetadata:\n  name: app\nspec:\n  chart: app\n  version: 0.2.0\n  sourceRef:\n    kind: HelmRepository\n    name: charts\n  interval: 1h\n",
        )
        .await;
    create_release(
        &env,
        "apiVersion: helm.weir.dev/v2
kind: HelmRelease
metadata:
  name: api
spec:
  interval: 1h
  chartRef:
    kind: HelmChart
    name: app
",
    )
    .await;
    env.wait("api", "Ready at revision 1", |o| ready_true_at(o, 1))
        .await;
    assert_eq!(
        data(&env.config_map("api-app").await, "greeting").as_deref(),
        Some("hello")
    );

    env.patch("api", json!({"spec": {"values": {"fail": true}}}))
        .await;
    let hr = env
        .wait("api", "not Ready", |o| {
            ready(o).is_some_and(|(s, _, _)| s == "False")
        })
        .await;
    let (_, reason, message) = ready(&hr).unwrap_or_default();
    assert_eq!(reason, "UpgradeFailed", "{message}");
    assert!(
        message.contains("the chart refuses: fail is set"),
        "{message}"
    );
    let st = hr.status.unwrap_or_default();
    assert_eq!(
        condition(&st.conditions, "Released").map(|c| (c.status.as_str(), c.reason.as_str())),
        Some(("False", "UpgradeFailed"))
    );
    // Nothing was stored for the failed render: revision 1 is still the deployed one.
    assert_eq!(
        history(&env.helm_json(&["history", "api"])),
        [(1, "deployed".to_string(), "app-0.2.0".to_string())]
    );
    assert_eq!(
        env.release_secrets("api").await,
        ["sh.helm.release.v1.api.v1"]
    );
    assert_eq!(
        data(&env.config_map("api-app").await, "greeting").as_deref(),
        Some("hello")
    );

    // Fixing the values releases again.
    env.patch("api", json!({"spec": {"values": {"fail": false}}}))
        .await;
    env.wait("api", "Ready at revision 2", |o| ready_true_at(o, 2))
        .await;

    // An upgrade that fails to apply is stored as failed and remediated by rolling back to
    // the last deployed revision; once the retries are used up the release stalls, deployed.
    env.patch(
        "api",
        json!({"spec": {
            "upgrade": {"remediation": {"retries": 1}},
            "values": {"extraName": "Not_A_Valid_Name"},
        }}),
    )
    .await;
    let hr = env
        .wait("api", "stalled after its retries", |o| {
            ready(o).is_some_and(|(_, r, _)| r == "RetriesExceeded")
        })
        .await;
    let st = hr.status.clone().unwrap_or_default();
    assert_eq!(st.upgrade_failures, 2, "{st:?}");
    assert!(
        condition(&st.conditions, "Stalled").is_some_and(|c| c.status == "True"),
        "{st:?}"
    );
    let (_, _, message) = ready(&hr).unwrap_or_default();
    assert!(message.contains("Not_A_Valid_Name"), "{message}");
    let helm_history = env.helm_json(&["history", "api"]);
    let entries = history(&helm_history);
    let statuses: Vec<&str> = entries.iter().map(|(_, s, _)| s.as_str()).collect();
    assert_eq!(
        statuses,
        ["superseded", "failed", "superseded", "failed", "deployed"],
        "{helm_history}"
    );
    let last = helm_history
        .as_array()
        .and_then(|a| a.last())
        .cloned()
        .unwrap_or_default();
    assert_eq!(last["description"], "Rollback to 4", "{helm_history}");
    assert_eq!(
        data(&env.config_map("api-app").await, "greeting").as_deref(),
        Some("hello")
    );
    env.s
        .api::<HelmRelease>()
        .delete("api", &Default::default())
        .await
        .unwrap_or_else(|e| panic!("deleting api: {e}"));
    weir_tests::wait::until(Duration::from_secs(60), "HelmRelease api gone", || async {
        env.s
            .api::<HelmRelease>()
            .get_opt("api")
            .await
            .ok()
            .flatten()
            .is_none()
            .then_some(())
    })
    .await;
    assert_eq!(env.release_secrets("api").await, Vec::<String>::new());
    env.s.finish().await;
}

#[tokio::test]
async fn hooks_and_unsupported_fields_are_refused_by_name_until_the_spec_allows_them() {
    let env = Env::new("helmrelease-refuse").await;
    let (_source, _server) = chart_repository(&env).await;
    env.s
        .create::<HelmChart>(
            "apiVersion: source.weir.dev/v1\nkind: HelmChart\nmetadata:\n  name: hooked\nspec:\n  chart: hooked\n  sourceRef:\n    kind: HelmRepository\n    name: charts\n  interval: 1h\n",
        )
        .await;
    create_release(
        &env,
        "apiVersion: helm.weir.dev/v2
kind: HelmRelease
metadata:
  name: hooked
spec:
  interval: 1h
  chartRef:
    kind: HelmChart
    name: hooked
  test:
    enable: true
",
    )
    .await;
    let stalled = |o: &HelmRelease| {
        o.status.as_ref().is_some_and(|s| {
            condition(&s.conditions, "Stalled").is_some_and(|c| c.status == "True")
        }) && ready(o).is_some_and(|(s, _, _)| s == "False")
    };
    let hr = env.wait("hooked", "stalled on spec.test", stalled).await;
    let (_, reason, message) = ready(&hr).unwrap_or_default();
    assert_eq!(reason, "Unsupported");
    assert!(message.contains("spec.test.enable"), "{message}");

    env.patch("hooked", json!({"spec": {"test": null}})).await;
    let hr = env.wait("hooked", "stalled on hooks", stalled).await;
    let (_, reason, message) = ready(&hr).unwrap_or_default();
    assert_eq!(reason, "Unsupported");
    assert!(
        message.contains("post-install") && message.contains("spec.install.disableHooks"),
        "{message}"
    );
    assert_eq!(
        env.release_secrets("hooked").await,
        Vec::<String>::new(),
        "nothing stored"
    );
    assert!(
        env.config_map("hooked-hooked").await.is_none(),
        "nothing applied"
    );

    env.patch(
        "hooked",
        json!({"spec": {"install": {"disableHooks": true}}}),
    )
    .await;
    env.wait("hooked", "Ready at revision 1", |o| ready_true_at(o, 1))
        .await;
    assert!(env.config_map("hooked-hooked").await.is_some());
    assert!(
        env.config_map("hooked-hook").await.is_none(),
        "hooks are not run"
    );
    // The hooks are stored with the release, as helm stores them.
    let hooks = env.helm_text(&["get", "hooks", "hooked"]);
    assert!(hooks.contains("name: hooked-hook"), "{hooks}");
    env.s
        .api::<HelmRelease>()
        .delete("hooked", &Default::default())
        .await
        .unwrap_or_else(|e| panic!("deleting hooked: {e}"));
    weir_tests::wait::until(
        Duration::from_secs(60),
        "HelmRelease hooked gone",
        || async {
            env.s
                .api::<HelmRelease>()
                .get_opt("hooked")
                .await
                .ok()
                .flatten()
                .is_none()
                .then_some(())
        },
    )
    .await;
    env.s.finish().await;
}

#[tokio::test]
async fn a_chart_from_an_oci_repository_is_released_with_its_digest_in_the_version() {
    let env = Env::new("helmrelease-oci").await;
    let registry = Registry::start().await;
    let source = ChartSource::new();
    let tgz = source.package(
        &chart("app")
            .version("0.3.0")
            .file("templates/configmap.yaml", OCI_TEMPLATE),
    );
    let pushed = source.helm().push(
        &tgz,
        &registry.oci_url("charts"),
        &PushOptions {
            plain_http: true,
            creds: None,
            ca_file: None,
        },
    );
    env.s
        .create::<OCIRepository>(&format!(
            "apiVersion: source.weir.dev/v1
kind: OCIRepository
metadata:
  name: app
spec:
  url: {}/app
  ref:
    tag: 0.3.0
  insecure: true
  layerSelector:
    mediaType: application/vnd.cncf.helm.chart.content.v1.tar+gzip
    operation: copy
  interval: 1h
",
            registry.oci_url("charts")
        ))
        .await;
    create_release(
        &env,
        "apiVersion: helm.weir.dev/v2
kind: HelmRelease
metadata:
  name: oci
spec:
  interval: 1h
  chartRef:
    kind: OCIRepository
    name: app
  values:
    data:
      from: oci
",
    )
    .await;
    let hr = env
        .wait("oci", "Ready at revision 1", |o| ready_true_at(o, 1))
        .await;
    let hex = pushed.digest.trim_start_matches("sha256:");
    let version = format!("0.3.0+{}", &hex[..12]);
    let st = hr.status.unwrap_or_default();
    assert_eq!(
        st.last_attempted_revision.as_deref(),
        Some(version.as_str())
    );
    let list = env.helm_json(&["list"]);
    assert_eq!(list[0]["chart"], format!("app-{version}"), "{list}");
    let cm = env.config_map("oci-app").await;
    assert_eq!(data(&cm, "from").as_deref(), Some("oci"));
    assert_eq!(data(&cm, "chartVersion").as_deref(), Some(version.as_str()));
    env.s
        .api::<HelmRelease>()
        .delete("oci", &Default::default())
        .await
        .unwrap_or_else(|e| panic!("deleting oci: {e}"));
    weir_tests::wait::until(Duration::from_secs(60), "HelmRelease oci gone", || async {
        env.s
            .api::<HelmRelease>()
            .get_opt("oci")
            .await
            .ok()
            .flatten()
            .is_none()
            .then_some(())
    })
    .await;
    assert!(env.config_map("oci-app").await.is_none());
    env.s.finish().await;
}

#[tokio::test]
async fn a_chart_from_a_generated_external_artifact_is_released_and_follows_its_revision() {
    let env = Env::new("helmrelease-ea").await;
    let (source, _server) = chart_repository(&env).await;
    env.s
        .create::<HelmChart>(
            "apiVersion: source.weir.dev/v1\nkind: HelmChart\nmetadata:\n  name: app\nspec:\n  chart: app\n  version: '0.1.x'\n  sourceRef:\n    kind: HelmRepository\n    name: charts\n  interval: 1h\n",
        )
        .await;
    // The chart package, unpacked by the generator, becomes an ExternalArtifact whose root
    // is the chart folder.
    env.s
        .create::<ArtifactGenerator>(
            "apiVersion: source.extensions.weir.dev/v1beta1\nkind: ArtifactGenerator\nmetadata:\n  name: charts\nspec:\n  sources:\n  - {alias: chart, kind: HelmChart, name: app}\n  artifacts:\n  - name: app-chart\n    revision: '@chart'\n    copy:\n    - {from: '@chart/app/', to: '@artifact/'}\n",
        )
        .await;
    create_release(
        &env,
        "apiVersion: helm.weir.dev/v2
kind: HelmRelease
metadata:
  name: ea
spec:
  interval: 1h
  chartRef:
    kind: ExternalArtifact
    name: app-chart
",
    )
    .await;
    let hr = env
        .wait("ea", "Ready at revision 1", |o| ready_true_at(o, 1))
        .await;
    assert_eq!(
        hr.status.and_then(|s| s.last_attempted_revision).as_deref(),
        Some("0.1.0")
    );
    let list = env.helm_json(&["list"]);
    assert_eq!(list[0]["chart"], "app-0.1.0", "{list}");

    // A new chart version reaches the release through the generated artifact's new revision.
    source.package(&chart("app").version("0.1.1"));
    source.index();
    env.s.request_reconcile::<HelmRepository>("charts").await;
    env.wait("ea", "Ready at revision 2", |o| ready_true_at(o, 2))
        .await;
    let history = history(&env.helm_json(&["history", "ea"]));
    assert_eq!(
        history,
        [
            (1, "superseded".to_string(), "app-0.1.0".to_string()),
            (2, "deployed".to_string(), "app-0.1.1".to_string()),
        ]
    );
    env.s.finish().await;
}
