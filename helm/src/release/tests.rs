//! Releases against what helm 4.1.4 stored (`testdata/`: the JSON inside release Secrets
//! written by `helm install` and `helm upgrade`), round trips through the Secret format, and
//! the history rules.

use std::collections::BTreeMap;
use std::io::Write as _;

use base64::Engine as _;
use serde_json::json;

use super::storage::{self, SecretWrite};
use super::*;

/// `helm install rel1 ./mychart --set data.greeting=hi --set n=3 --labels team=a`: notes, a
/// post-install hook that ran, an `int64` in the config.
const INSTALLED: &str = include_str!("testdata/installed.json");
/// Its third revision (`helm upgrade` twice): a `test` hook that never ran, HTML characters
/// in a hook, floats in the chart's values (`1e+21`, `1e-7`, `2`).
const UPGRADED: &str = include_str!("testdata/upgraded.json");
/// A chart with `Chart.lock`, `values.schema.json`, maintainers, annotations and an aliased
/// subchart whose values it imports.
const WITH_LOCK: &str = include_str!("testdata/with-lock-and-subchart.json");

fn ts(text: &str) -> Timestamp {
    text.parse().expect("timestamp")
}

fn from_json(text: &str) -> Release {
    decode_release(
        base64::engine::general_purpose::STANDARD
            .encode(text)
            .as_bytes(),
    )
    .expect("decodes")
}

#[test]
fn helm_written_releases_read_and_write_back_byte_for_byte() {
    for golden in [INSTALLED, UPGRADED, WITH_LOCK] {
        let release = from_json(golden);
        let again = storage::release_json(&release).expect("json");
        assert_eq!(String::from_utf8_lossy(&again), golden);
    }
}

#[test]
fn an_installed_release_as_helm_stored_it() {
    let r = from_json(INSTALLED);
    assert_eq!(r.name, "rel1");
    assert_eq!(r.namespace, "exp1");
    assert_eq!(r.version, 1);
    assert_eq!(r.info.status, Status::Deployed);
    assert_eq!(r.info.description, "Install complete");
    assert_eq!(r.info.notes, "Thanks for installing rel1\n");
    assert_eq!(
        r.info.first_deployed,
        Some(ts("2026-12-01T21:30:36.150727076Z"))
    );
    assert_eq!(r.info.deleted, None);
    assert_eq!(r.apply_method, Some(ApplyMethod::ServerSide));
    // `--set n=3` was an int64 when stored; Go reads it back as float64.
    assert_eq!(
        serde_json::Value::Object(r.config.clone()),
        json!({"data": {"greeting": "hi"}, "n": 3.0})
    );
    assert!(r.config["n"].is_f64());
    assert_eq!(
        r.manifest,
        "---\n# Source: mychart/templates/cm.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: rel1-cm\ndata:\n  greeting: \"hi\"\n"
    );
    assert_eq!(r.chart_reference(), "mychart-0.1.0");
    assert_eq!(r.app_version(), "1.0.0");
    let chart = r.chart.as_ref().expect("chart");
    assert_eq!(chart.templates.len(), 3);
    assert_eq!(chart.templates[0].name, "templates/NOTES.txt");
    assert_eq!(
        chart.templates[0].data,
        b"Thanks for installing {{ .Release.Name }}\n"
    );
    assert_eq!(chart.files[0].name, "README.md");
    assert_eq!(chart.schema_modified, None);
    assert!(chart.modified.is_some());
    let hook = &r.hooks[0];
    assert_eq!(hook.name, "rel1-hook");
    assert_eq!(
        hook.events,
        [HookEvent::PostInstall, HookEvent::PostUpgrade]
    );
    assert_eq!(hook.weight, 5);
    assert_eq!(hook.delete_policies, [HookDeletePolicy::BeforeHookCreation]);
    assert_eq!(hook.last_run.phase, Some(HookPhase::Succeeded));
    assert_eq!(
        hook.last_run.completed_at,
        Some(ts("2026-12-01T21:30:36.462575158Z"))
    );
}

#[test]
fn a_hook_that_never_ran_and_floats_in_values() {
    let r = from_json(UPGRADED);
    let test_hook = r
        .hooks
        .iter()
        .find(|h| h.name == "rel1-test")
        .expect("hook");
    assert_eq!(test_hook.events, [HookEvent::Test]);
    assert_eq!(test_hook.last_run, HookExecution::default());
    let values = &r.chart.as_ref().expect("chart").values;
    assert_eq!(values["big"], json!(1e21));
    assert_eq!(values["small"], json!(1e-7));
    assert_eq!(values["whole"], json!(2.0));
}

#[test]
fn lock_schema_and_processed_dependencies() {
    let r = from_json(WITH_LOCK);
    let chart = r.chart.as_ref().expect("chart");
    let lock = chart.lock.as_ref().expect("lock");
    assert_eq!(lock.generated, Some(ts("2024-05-06T07:08:09.123456Z")));
    assert_eq!(lock.digest, "sha256:abc");
    assert_eq!(lock.dependencies[0].name, "sub");
    assert_eq!(
        chart.schema.as_deref(),
        Some(&b"{\"type\":\"object\"}\n"[..])
    );
    assert!(chart.schema_modified.is_some());
    let metadata = chart.metadata.as_ref().expect("metadata");
    let dep = &metadata.dependencies[0];
    assert_eq!((dep.name.as_str(), dep.alias.as_str()), ("child", "child"));
    assert!(dep.enabled);
    assert_eq!(
        dep.import_values,
        [json!({"child": "exports.data", "parent": "."})]
    );
}

/// What `weir-helm` builds for the chart Helm stored in [`WITH_LOCK`], after the same
/// dependency processing, is what Helm stored (modification times aside).
#[test]
fn a_loaded_chart_maps_to_what_helm_stored() {
    use crate::chart::{File, dependencies, load_files};
    let file = |name: &str, data: &str| File {
        name: name.into(),
        data: data.as_bytes().to_vec(),
    };
    let mut chart = load_files(vec![
        file(
            "Chart.yaml",
            "apiVersion: v2\nname: par\nversion: 0.2.0\nkubeVersion: \">=1.20.0-0\"\nkeywords: [a, b]\nmaintainers:\n  - name: Me\n    email: me@x.io\nannotations:\n  foo: bar\ndependencies:\n  - name: sub\n    version: 0.1.0\n    repository: \"file://charts/sub\"\n    import-values: [data]\n    alias: child\n",
        ),
        file(
            "Chart.lock",
            "dependencies:\n- name: sub\n  repository: file://charts/sub\n  version: 0.1.0\ndigest: sha256:abc\ngenerated: \"2024-05-06T07:08:09.123456Z\"\n",
        ),
        file("values.schema.json", "{\"type\":\"object\"}\n"),
        file("values.yaml", "x: 1\n"),
        file(
            "templates/cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-p\n",
        ),
        file(
            "charts/sub/Chart.yaml",
            "apiVersion: v2\nname: sub\nversion: 0.1.0\n",
        ),
        file(
            "charts/sub/values.yaml",
            "exports:\n  data:\n    imported: yes\n",
        ),
        file(
            "charts/sub/templates/cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-s\n",
        ),
    ])
    .expect("chart");
    dependencies::process_dependencies(&mut chart, &Values::new()).expect("processed");
    let ours = ReleaseChart::from_chart(&chart).expect("mapped");
    let mut helms = from_json(WITH_LOCK).chart.expect("chart");
    helms.modified = None;
    helms.schema_modified = None;
    for f in helms.templates.iter_mut().chain(helms.files.iter_mut()) {
        f.modified = None;
    }
    assert_eq!(ours, helms);
}

fn sample_release() -> Release {
    let mut config = Values::new();
    config.insert("replicas".into(), json!(3.0));
    config.insert("html".into(), json!("<b>&</b>"));
    Release {
        name: "web".into(),
        namespace: "apps".into(),
        version: 2,
        info: Info {
            first_deployed: Some(ts("2026-01-02T03:04:05.5Z")),
            last_deployed: Some(ts("2026-01-03T03:04:05Z")),
            description: "Upgrade complete".into(),
            status: Status::Deployed,
            notes: "hi\n".into(),
            ..Info::default()
        },
        chart: Some(ReleaseChart {
            metadata: Some(ChartMetadata {
                name: "web".into(),
                version: "1.2.3".into(),
                api_version: "v2".into(),
                app_version: "9.9".into(),
                ..ChartMetadata::default()
            }),
            templates: vec![ChartFile {
                name: "templates/cm.yaml".into(),
                data: b"kind: ConfigMap\n".to_vec(),
                modified: None,
            }],
            ..ReleaseChart::default()
        }),
        config,
        manifest: "---\n# Source: web/templates/cm.yaml\nkind: ConfigMap\n".into(),
        hooks: vec![Hook {
            name: "pre".into(),
            kind: "Job".into(),
            path: "web/templates/job.yaml".into(),
            manifest: "kind: Job".into(),
            events: vec![HookEvent::PreUpgrade],
            delete_policies: vec![HookDeletePolicy::HookSucceeded],
            ..Hook::default()
        }],
        apply_method: Some(ApplyMethod::ServerSide),
        labels: BTreeMap::from([("team".to_string(), "a".to_string())]),
    }
}

#[test]
fn golden_json_of_a_release_built_here() {
    let json = storage::release_json(&sample_release()).expect("json");
    assert_eq!(
        String::from_utf8_lossy(&json),
        r#"{"name":"web","info":{"first_deployed":"2026-01-02T03:04:05.5Z","last_deployed":"2026-01-03T03:04:05Z","description":"Upgrade complete","status":"deployed","notes":"hi\n"},"chart":{"metadata":{"name":"web","version":"1.2.3","apiVersion":"v2","appVersion":"9.9"},"lock":null,"templates":[{"name":"templates/cm.yaml","data":"a2luZDogQ29uZmlnTWFwCg=="}],"values":null,"schema":null,"schemamodtime":"0001-01-01T00:00:00Z","files":null},"config":{"html":"\u003cb\u003e\u0026\u003c/b\u003e","replicas":3},"manifest":"---\n# Source: web/templates/cm.yaml\nkind: ConfigMap\n","hooks":[{"name":"pre","kind":"Job","path":"web/templates/job.yaml","manifest":"kind: Job","events":["pre-upgrade"],"last_run":{"phase":""},"delete_policies":["hook-succeeded"]}],"version":2,"namespace":"apps","apply_method":"ssa"}"#
    );
}

#[test]
fn encode_then_decode_round_trips() {
    let release = sample_release();
    let encoded = encode_release(&release).expect("encoded");
    let raw = base64::engine::general_purpose::STANDARD
        .decode(&encoded)
        .expect("base64");
    assert_eq!(&raw[..3], &[0x1f, 0x8b, 0x08], "gzip inside");
    let mut back = decode_release(encoded.as_bytes()).expect("decoded");
    assert!(back.labels.is_empty(), "labels live on the Secret");
    back.labels = release.labels.clone();
    assert_eq!(back, release);
}

#[test]
fn plain_json_and_line_broken_base64_are_read_as_helm_reads_them() {
    let json = storage::release_json(&sample_release()).expect("json");
    let plain = base64::engine::general_purpose::STANDARD.encode(&json);
    assert_eq!(decode_release(plain.as_bytes()).expect("plain").name, "web");
    let broken: String = plain
        .as_bytes()
        .chunks(76)
        .map(|c| format!("{}\r\n", String::from_utf8_lossy(c)))
        .collect();
    assert_eq!(
        decode_release(broken.as_bytes()).expect("broken").version,
        2
    );
}

#[test]
fn bad_data_is_a_typed_error() {
    assert!(matches!(
        decode_release(b"not base64!"),
        Err(DecodeError::Base64(_))
    ));
    let not_gzip = base64::engine::general_purpose::STANDARD.encode([0x1f, 0x8b, 0x08, 0, 1]);
    assert!(matches!(
        decode_release(not_gzip.as_bytes()),
        Err(DecodeError::Gzip(_))
    ));
    let not_json = base64::engine::general_purpose::STANDARD.encode("{\"version\":\"x\"}");
    assert!(matches!(
        decode_release(not_json.as_bytes()),
        Err(DecodeError::Json(_))
    ));
    let bad_status =
        base64::engine::general_purpose::STANDARD.encode("{\"info\":{\"status\":\"gone\"}}");
    assert!(matches!(
        decode_release(bad_status.as_bytes()),
        Err(DecodeError::Json(_))
    ));
}

#[test]
fn a_gzip_bomb_stops_at_the_limit() {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![b' '; 1 << 20];
    for _ in 0..(storage::MAX_RELEASE_JSON_BYTES >> 20) + 1 {
        gz.write_all(&zeros).expect("write");
    }
    let data = base64::engine::general_purpose::STANDARD.encode(gz.finish().expect("gzip"));
    assert!(matches!(
        decode_release(data.as_bytes()),
        Err(DecodeError::TooLarge { .. })
    ));
}

#[test]
fn helm_3_zero_times_and_empty_strings_read_as_unset() {
    let text = r#"{"name":"old","info":{"first_deployed":"2020-01-01T00:00:00Z","last_deployed":"2020-01-01T00:00:00Z","deleted":"0001-01-01T00:00:00Z","description":"Install complete","status":"deployed"},"hooks":[{"name":"h","last_run":{"started_at":"","completed_at":"","phase":""}}],"version":1,"apply_method":""}"#;
    let r = from_json(text);
    assert_eq!(r.info.deleted, None);
    assert_eq!(r.hooks[0].last_run, HookExecution::default());
    assert_eq!(r.apply_method, None);
    assert_eq!(r.chart_reference(), "");
}

#[test]
fn secret_name_labels_and_selector() {
    let release = sample_release();
    assert_eq!(
        storage::secret_name(&release.name, release.version),
        "sh.helm.release.v1.web.v2"
    );
    assert_eq!(storage::history_selector("web"), "name=web,owner=helm");
    let labels = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    assert_eq!(
        secret_labels(&release),
        labels(&[
            ("name", "web"),
            ("owner", "helm"),
            ("status", "deployed"),
            ("team", "a"),
            ("version", "2"),
        ])
    );
    let mut stale = release.clone();
    // As Helm 4.1.4 reads labels back: its own among the custom ones.
    stale.labels.insert("modifiedAt".into(), "1".into());
    stale.labels.insert("status".into(), "superseded".into());
    let written = secret_labels_for_write(&stale, SecretWrite::Update, 1_796_160_636);
    assert_eq!(written["modifiedAt"], "1796160636");
    assert_eq!(written["status"], "deployed");
    let created = secret_labels_for_write(&release, SecretWrite::Create, 7);
    assert_eq!(created["createdAt"], "7");
    assert!(!created.contains_key("modifiedAt"));
    assert_eq!(custom_labels(&written), labels(&[("team", "a")]));
    let revision = RevisionLabels::from_secret_labels(&written).expect("labels");
    assert_eq!(
        revision,
        RevisionLabels {
            name: "web".into(),
            version: 2,
            status: Status::Deployed
        }
    );
    assert_eq!(
        RevisionLabels::from_secret_labels(&labels(&[
            ("name", "web"),
            ("owner", "someone"),
            ("status", "deployed"),
            ("version", "2")
        ])),
        None
    );
}

fn history(entries: &[(i64, Status)]) -> Vec<RevisionLabels> {
    entries
        .iter()
        .map(|(version, status)| RevisionLabels {
            name: "r".into(),
            version: *version,
            status: *status,
        })
        .collect()
}

#[test]
fn latest_and_last_deployed() {
    use Status::*;
    let h = history(&[(2, Deployed), (1, Superseded), (4, Failed), (3, Deployed)]);
    assert_eq!(latest(&h).map(|e| e.version), Some(4));
    assert_eq!(last_deployed(&h).map(|e| e.version), Some(3));
    assert!(last_deployed(&history(&[(1, Failed)])).is_none());
    assert!(latest::<Release>(&[]).is_none());
}

#[test]
fn history_max_prunes_the_oldest_but_never_the_deployed() {
    use Status::*;
    let h = history(&[
        (1, Superseded),
        (2, Superseded),
        (3, Superseded),
        (4, Deployed),
    ]);
    // Room for one more under --history-max 3: two remain.
    assert_eq!(history_to_prune(&h, 3), [1, 2]);
    assert_eq!(history_to_prune(&h, 5), Vec::<i64>::new());
    assert_eq!(history_to_prune(&h, 4), [1]);
    assert_eq!(history_to_prune(&h, 0), Vec::<i64>::new(), "0: no limit");
    // --history-max 1 keeps nothing but the deployed one.
    assert_eq!(history_to_prune(&h, 1), [1, 2, 3]);
    // The deployed revision is the oldest: it stays, the failed ones after it go.
    let h = history(&[(3, Failed), (1, Deployed), (2, Failed)]);
    assert_eq!(history_to_prune(&h, 2), [2, 3]);
    // Nothing deployed: strictly oldest first.
    let h = history(&[(1, Failed), (2, Failed), (3, Failed)]);
    assert_eq!(history_to_prune(&h, 2), [1, 2]);
    // Decoded releases work the same.
    let releases = [from_json(INSTALLED)];
    assert_eq!(history_to_prune(&releases, 1), Vec::<i64>::new());
}

#[test]
fn status_and_events_as_helm_spells_them() {
    for s in [
        Status::Unknown,
        Status::Deployed,
        Status::Uninstalled,
        Status::Superseded,
        Status::Failed,
        Status::Uninstalling,
        Status::PendingInstall,
        Status::PendingUpgrade,
        Status::PendingRollback,
    ] {
        assert_eq!(serde_json::to_value(s).expect("json"), json!(s.as_str()));
        assert_eq!(s.as_str().parse::<Status>().expect("parse"), s);
    }
    assert!(Status::PendingRollback.is_pending() && !Status::Failed.is_pending());
    assert_eq!(
        serde_json::from_value::<HookEvent>(json!("test-success")).expect("alias"),
        HookEvent::Test
    );
    assert_eq!(
        "post-delete".parse::<HookEvent>(),
        Ok(HookEvent::PostDelete)
    );
}
