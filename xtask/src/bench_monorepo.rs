//! `cargo xtask bench monorepo`: what an ArtifactGenerator buys a monorepo, on the local
//! control plane with release builds of source-controller and kustomize-controller.
//!
//! One Git repository holds 50 apps (`apps/app-00` … `apps/app-49`, each a kustomization of
//! one or two ConfigMaps). Two scenarios run side by side, each in its own namespace:
//!
//! - **without the generator**: 50 Kustomizations read the GitRepository directly, each at
//!   its own path;
//! - **with the generator**: an ArtifactGenerator splits the GitRepository into 50
//!   ExternalArtifacts, one per app, and each Kustomization reads its own.
//!
//! Each round commits a change to one app (`apps/app-07`), requests a reconcile of the
//! scenario's GitRepository at once, and measures (a) the time from the commit to that app's
//! Kustomization being Ready at its source's new revision with the new ConfigMap value in the
//! cluster, and (b) how many reconciles the commit caused: the sum over all 50 Kustomizations
//! of `status.history[].totalReconciliations` once the counts settle, minus before. The
//! scenarios alternate, three rounds each; the report gives medians and the controllers' peak
//! RSS (VmHWM) over the whole run.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use serde_json::Value;
use weir_api::RECONCILE_REQUEST_ANNOTATION;
use weir_api::kustomize::Kustomization;

use crate::bench_apply::{Env, peak_rss_mib, start};
use crate::cluster;
use crate::util::{self, free_port, workspace_root};

const APPS: usize = 50;
const ROUNDS: usize = 3;
/// The app every round changes.
const CHANGED_APP: usize = 7;
/// Objects of this bench carry this label and its controllers watch only them, so tests
/// running controllers on the same cluster neither see them nor get reconciled twice.
const SELECTOR: (&str, &str) = ("bench.weir.dev/suite", "monorepo");
/// Counts are read at least this long after the changed app is applied, so that reconciles
/// the commit caused elsewhere are counted even when they come late…
const SETTLE_AFTER_APPLIED: Duration = Duration::from_secs(10);
/// …and only once they have stopped changing for this long.
const SETTLE_QUIET: Duration = Duration::from_secs(5);
const KUSTOMIZATIONS: &str = "kustomizations.kustomize.weir.dev";
const GIT_REPOSITORIES: &str = "gitrepositories.source.weir.dev";
const EXTERNAL_ARTIFACTS: &str = "externalartifacts.source.weir.dev";
const ARTIFACT_GENERATORS: &str = "artifactgenerators.source.extensions.weir.dev";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Scenario {
    WithoutGenerator,
    WithGenerator,
}

impl Scenario {
    const ALL: [Scenario; 2] = [Scenario::WithoutGenerator, Scenario::WithGenerator];

    fn namespace(self) -> &'static str {
        match self {
            Scenario::WithoutGenerator => "bench-monorepo-plain",
            Scenario::WithGenerator => "bench-monorepo-generator",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Scenario::WithoutGenerator => "without generator",
            Scenario::WithGenerator => "with generator",
        }
    }

    /// The GitRepository, the generator if any, and the 50 Kustomizations.
    fn objects(self, repo_url: &str) -> String {
        let ns = self.namespace();
        let (key, value) = SELECTOR;
        let mut yaml = format!(
            "---\napiVersion: source.weir.dev/v1\nkind: GitRepository\nmetadata:\n  name: mono\n  namespace: {ns}\n  labels:\n    {key}: {value}\nspec:\n  url: {repo_url}\n  interval: 1h\n  ref:\n    branch: main\n"
        );
        if self == Scenario::WithGenerator {
            yaml.push_str(&format!(
                "---\napiVersion: source.extensions.weir.dev/v1beta1\nkind: ArtifactGenerator\nmetadata:\n  name: apps\n  namespace: {ns}\n  labels:\n    {key}: {value}\nspec:\n  sources:\n  - alias: mono\n    kind: GitRepository\n    name: mono\n  artifacts:\n"
            ));
            for app in 0..APPS {
                yaml.push_str(&format!(
                    "  - name: {name}\n    copy:\n    - from: \"@mono/apps/{name}/**\"\n      to: \"@artifact/\"\n",
                    name = app_name(app)
                ));
            }
        }
        for app in 0..APPS {
            let (source, path) = match self {
                Scenario::WithoutGenerator => (
                    "kind: GitRepository\n    name: mono".to_string(),
                    app_path(app),
                ),
                Scenario::WithGenerator => (
                    format!("kind: ExternalArtifact\n    name: {}", app_name(app)),
                    "./".to_string(),
                ),
            };
            yaml.push_str(&format!(
                "---\napiVersion: kustomize.weir.dev/v1\nkind: Kustomization\nmetadata:\n  name: {name}\n  namespace: {ns}\n  labels:\n    {key}: {value}\nspec:\n  sourceRef:\n    {source}\n  path: {path}\n  interval: 1h\n  prune: true\n  targetNamespace: {ns}\n",
                name = kustomization_name(app)
            ));
        }
        yaml
    }

    /// The source object the changed app's Kustomization reads, as kubectl names it.
    fn changed_app_source(self) -> String {
        match self {
            Scenario::WithoutGenerator => format!("{GIT_REPOSITORIES}/mono"),
            Scenario::WithGenerator => format!("{EXTERNAL_ARTIFACTS}/{}", app_name(CHANGED_APP)),
        }
    }
}

fn app_name(app: usize) -> String {
    format!("app-{app:02}")
}

fn app_path(app: usize) -> String {
    format!("./apps/{}", app_name(app))
}

fn kustomization_name(app: usize) -> String {
    format!("k-{app:02}")
}

/// The ConfigMap whose value the rounds change.
fn config_map_name(app: usize) -> String {
    format!("{}-config", app_name(app))
}

/// Writes one app: a ConfigMap holding `value`, and for odd apps a second, fixed one, so the
/// folders are not all the same shape.
fn write_app(repo: &Path, app: usize, value: &str) -> anyhow::Result<()> {
    let dir = repo.join("apps").join(app_name(app));
    std::fs::create_dir_all(&dir)?;
    let mut config_maps = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {}\ndata:\n  value: \"{value}\"\n",
        config_map_name(app)
    );
    if app % 2 == 1 {
        config_maps.push_str(&format!(
            "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {}-extra\ndata:\n  owner: team-{}\n",
            app_name(app),
            app % 5
        ));
    }
    std::fs::write(dir.join("configmaps.yaml"), config_maps)?;
    std::fs::write(
        dir.join("kustomization.yaml"),
        "resources:\n- configmaps.yaml\n",
    )?;
    Ok(())
}

fn git(repo: &Path, args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new("git")
        .current_dir(repo)
        .args(["-c", "user.name=bench", "-c", "user.email=bench@weir.dev"])
        .args(args)
        .output()
        .context("running git")?;
    if !out.status.success() {
        bail!(
            "git {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn commit_all(repo: &Path, message: &str) -> anyhow::Result<()> {
    git(repo, &["add", "-A"])?;
    git(repo, &["commit", "-q", "-m", message])?;
    Ok(())
}

fn items(json: &str) -> anyhow::Result<Vec<Value>> {
    let list: Value = serde_json::from_str(json).context("parsing kubectl's JSON")?;
    match list.get("items") {
        Some(Value::Array(items)) => Ok(items.clone()),
        _ => bail!("kubectl's JSON has no items"),
    }
}

fn kustomizations(env: &Env, ns: &str) -> anyhow::Result<Vec<Kustomization>> {
    items(&env.kubectl(&["get", KUSTOMIZATIONS, "-n", ns, "-o", "json"])?)?
        .into_iter()
        .map(|item| serde_json::from_value(item).context("parsing a Kustomization"))
        .collect()
}

fn is_ready(k: &Kustomization) -> bool {
    k.status.as_ref().is_some_and(|s| {
        s.conditions
            .iter()
            .any(|c| c.type_ == "Ready" && c.status == "True")
    })
}

fn ready_message(k: &Kustomization) -> String {
    k.status
        .as_ref()
        .and_then(|s| s.conditions.iter().find(|c| c.type_ == "Ready"))
        .map_or_else(|| "no Ready condition".to_string(), |c| c.message.clone())
}

/// Waits until all `count` Kustomizations of `ns` are Ready; returns the seconds waited.
fn wait_all_ready(env: &Env, ns: &str, count: usize, limit: Duration) -> anyhow::Result<f64> {
    let started = Instant::now();
    loop {
        let all = kustomizations(env, ns)?;
        let not_ready: Vec<&Kustomization> = all.iter().filter(|k| !is_ready(k)).collect();
        if all.len() >= count && not_ready.is_empty() {
            return Ok(started.elapsed().as_secs_f64());
        }
        if started.elapsed() > limit {
            let examples: Vec<String> = not_ready
                .iter()
                .take(3)
                .map(|k| {
                    format!(
                        "{}: {}",
                        k.metadata.name.as_deref().unwrap_or("?"),
                        ready_message(k)
                    )
                })
                .collect();
            bail!(
                "{ns}: {}/{count} Kustomizations Ready after {limit:?}; e.g. {}",
                all.len() - not_ready.len(),
                examples.join("; ")
            );
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Reconciles so far per Kustomization: the sum of its history's `totalReconciliations`
/// (every reconcile that got as far as a build is counted in its build's entry).
fn reconciliation_counts(env: &Env, ns: &str) -> anyhow::Result<BTreeMap<String, i64>> {
    Ok(kustomizations(env, ns)?
        .iter()
        .map(|k| {
            let total = k.status.as_ref().map_or(0, |s| {
                s.history.iter().map(|h| h.total_reconciliations).sum()
            });
            (k.metadata.name.clone().unwrap_or_default(), total)
        })
        .collect())
}

/// The counts once they stop moving: at least [`SETTLE_AFTER_APPLIED`] after `since`, and
/// unchanged for [`SETTLE_QUIET`].
fn settled_counts(env: &Env, ns: &str, since: Instant) -> anyhow::Result<BTreeMap<String, i64>> {
    let mut counts = reconciliation_counts(env, ns)?;
    let mut last_change = Instant::now();
    loop {
        std::thread::sleep(Duration::from_secs(1));
        let now = reconciliation_counts(env, ns)?;
        if now != counts {
            counts = now;
            last_change = Instant::now();
        }
        if since.elapsed() >= SETTLE_AFTER_APPLIED && last_change.elapsed() >= SETTLE_QUIET {
            return Ok(counts);
        }
        if since.elapsed() > Duration::from_secs(120) {
            bail!("{ns}: reconciliation counts still changing after 2 minutes");
        }
    }
}

/// What the cluster says about the changed app, in one kubectl call.
struct ChangedApp {
    source_revision: Option<String>,
    applied_revision: Option<String>,
    ready: bool,
    value: Option<String>,
}

fn changed_app(env: &Env, scenario: Scenario) -> anyhow::Result<ChangedApp> {
    let kustomization = format!("{KUSTOMIZATIONS}/{}", kustomization_name(CHANGED_APP));
    let config_map = format!("configmaps/{}", config_map_name(CHANGED_APP));
    let out = env.kubectl(&[
        "get",
        "-n",
        scenario.namespace(),
        "-o",
        "json",
        &scenario.changed_app_source(),
        &kustomization,
        &config_map,
    ])?;
    let [source, kustomization, config_map] = items(&out)?
        .try_into()
        .map_err(|got: Vec<Value>| anyhow::anyhow!("expected 3 objects, got {}", got.len()))?;
    let text =
        |v: &Value, pointer: &str| v.pointer(pointer).and_then(Value::as_str).map(String::from);
    let kustomization: Kustomization =
        serde_json::from_value(kustomization).context("parsing the Kustomization")?;
    Ok(ChangedApp {
        source_revision: text(&source, "/status/artifact/revision"),
        applied_revision: kustomization
            .status
            .as_ref()
            .and_then(|s| s.last_applied_revision.clone()),
        ready: is_ready(&kustomization),
        value: text(&config_map, "/data/value"),
    })
}

/// One round of one scenario.
struct Round {
    commit_to_applied: f64,
    /// Sum of the growth of every Kustomization's reconciliation count.
    reconciles: i64,
    /// The Kustomizations that reconciled, with how many times.
    reconciled: BTreeMap<String, i64>,
}

fn round(env: &Env, repo: &Path, scenario: Scenario, number: usize) -> anyhow::Result<Round> {
    let ns = scenario.namespace();
    let before = reconciliation_counts(env, ns)?;
    let old_source_revision = changed_app(env, scenario)?.source_revision;
    let value = format!("{ns}-round-{number}");
    write_app(repo, CHANGED_APP, &value)?;
    commit_all(repo, &format!("{}: {value}", app_name(CHANGED_APP)))?;
    let committed = Instant::now();
    let token = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .context("clock before 1970")?
        .as_nanos()
        .to_string();
    env.kubectl(&[
        "annotate",
        "--overwrite",
        "-n",
        ns,
        &format!("{GIT_REPOSITORIES}/mono"),
        &format!("{RECONCILE_REQUEST_ANNOTATION}={token}"),
    ])?;
    let commit_to_applied = loop {
        let state = changed_app(env, scenario)?;
        let applied = state.ready
            && state.value.as_deref() == Some(value.as_str())
            && state.source_revision.is_some()
            && state.source_revision != old_source_revision
            && state.applied_revision == state.source_revision;
        if applied {
            break committed.elapsed().as_secs_f64();
        }
        if committed.elapsed() > Duration::from_secs(120) {
            bail!(
                "{ns}: {} not applied 2 minutes after the commit: source revision {:?} (was \
                 {old_source_revision:?}), applied {:?}, Ready {}, ConfigMap value {:?} \
                 (want {value:?})",
                kustomization_name(CHANGED_APP),
                state.source_revision,
                state.applied_revision,
                state.ready,
                state.value
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let after = settled_counts(env, ns, Instant::now())?;
    let mut reconciled = BTreeMap::new();
    for (name, count) in &after {
        let delta = count - before.get(name).copied().unwrap_or(0);
        // The history keeps five builds: a count could only shrink if one fell off, which
        // three rounds of one changed app cannot cause. Say so rather than count it.
        if delta < 0 {
            eprintln!(
                "bench monorepo: {ns}/{name}: reconciliation count went down by {}",
                -delta
            );
        } else if delta > 0 {
            reconciled.insert(name.clone(), delta);
        }
    }
    Ok(Round {
        commit_to_applied,
        reconciles: reconciled.values().sum(),
        reconciled,
    })
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

/// Creates both scenarios, runs the rounds and prints the report.
fn measure(env: &Env, repo: &Path, source: &Child, ks: &Child) -> anyhow::Result<()> {
    let repo_url = format!("file://{}", repo.display());
    let mut setup = BTreeMap::new();
    for scenario in Scenario::ALL {
        // The clock starts before the objects exist: reconciling starts while kubectl is
        // still creating them.
        let created = Instant::now();
        env.apply(&scenario.objects(&repo_url), &[])?;
        wait_all_ready(env, scenario.namespace(), APPS, Duration::from_secs(300))?;
        setup.insert(scenario.namespace(), created.elapsed().as_secs_f64());
    }
    for scenario in Scenario::ALL {
        // Late first reconciles (a source watch firing after Ready) must not count as the
        // first round's.
        settled_counts(env, scenario.namespace(), Instant::now())?;
    }
    let mut rounds: BTreeMap<&str, Vec<Round>> = BTreeMap::new();
    println!(
        "bench monorepo: one Git repository of {APPS} apps (1–2 ConfigMaps each), {APPS} \
         Kustomizations per scenario; each round commits a change to apps/{} and requests a \
         GitRepository reconcile at once; {ROUNDS} rounds per scenario, alternating",
        app_name(CHANGED_APP)
    );
    for number in 1..=ROUNDS {
        for scenario in Scenario::ALL {
            let r = round(env, repo, scenario, number)?;
            println!(
                "  round {number} {:<17}: commit→applied {:>6.2}s, {:>3} reconciles in {:>2} \
                 Kustomizations",
                scenario.title(),
                r.commit_to_applied,
                r.reconciles,
                r.reconciled.len()
            );
            rounds.entry(scenario.namespace()).or_default().push(r);
        }
    }
    println!(
        "  {:<17}  {:>16}  {:>15}  {:>20}",
        "", "setup to Ready", "commit→applied", "reconciles/commit"
    );
    let mut medians = BTreeMap::new();
    for scenario in Scenario::ALL {
        let ns = scenario.namespace();
        let runs = rounds.get(ns).map(Vec::as_slice).unwrap_or_default();
        let applied = median(runs.iter().map(|r| r.commit_to_applied).collect());
        let reconciles = median(runs.iter().map(|r| r.reconciles as f64).collect());
        println!(
            "  {:<17}  {:>15.1}s  {applied:>14.2}s  {reconciles:>20}",
            scenario.title(),
            setup.get(ns).copied().unwrap_or(f64::NAN)
        );
        medians.insert(ns, (applied, reconciles));
    }
    let [plain, generator] = Scenario::ALL.map(|s| {
        medians
            .get(s.namespace())
            .copied()
            .unwrap_or((f64::NAN, f64::NAN))
    });
    println!(
        "  consumers reconciled: {} without vs {} with (medians of {ROUNDS})",
        plain.1, generator.1
    );
    println!(
        "  commit→applied: {:.2} s vs {:.2} s (medians of {ROUNDS})",
        plain.0, generator.0
    );
    // More than the changed app's Kustomization reconciling under the generator means an
    // ExternalArtifact changed, or a consumer was woken, without its content changing.
    let affected = kustomization_name(CHANGED_APP);
    for (number, r) in rounds
        .get(Scenario::WithGenerator.namespace())
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let extra: Vec<String> = r
            .reconciled
            .iter()
            .filter(|(name, count)| **name != affected || **count > 1)
            .map(|(name, count)| format!("{name} ×{count}"))
            .collect();
        if !extra.is_empty() {
            println!(
                "  UNEXPECTED with generator, round {}: reconciled {}",
                number + 1,
                extra.join(", ")
            );
        }
    }
    println!(
        "  peak RSS over the run: source-controller {:.1} MiB, kustomize-controller {:.1} MiB",
        peak_rss_mib(source.id()),
        peak_rss_mib(ks.id())
    );
    Ok(())
}

/// Deletes what an interrupted run left, dropping finalizers no controller will remove, and
/// creates the namespaces afresh.
fn recreate_namespaces(env: &Env) -> anyhow::Result<()> {
    let kinds = [
        KUSTOMIZATIONS,
        ARTIFACT_GENERATORS,
        EXTERNAL_ARTIFACTS,
        GIT_REPOSITORIES,
    ]
    .join(",");
    for scenario in Scenario::ALL {
        let ns = scenario.namespace();
        if let Ok(names) = env.kubectl(&["get", &kinds, "-n", ns, "-o", "name"]) {
            for name in names.lines().filter(|l| !l.is_empty()) {
                let patch = r#"{"metadata":{"finalizers":null}}"#;
                let _ = env.kubectl(&["patch", name, "-n", ns, "--type=merge", "-p", patch]);
            }
        }
        let _ = env.kubectl(&[
            "delete",
            "namespace",
            ns,
            "--wait=true",
            "--ignore-not-found",
        ]);
        env.kubectl(&["create", "namespace", ns])?;
    }
    Ok(())
}

pub fn run() -> anyhow::Result<()> {
    let kubeconfig = cluster::up()?;
    let env = Env {
        kubeconfig: kubeconfig.clone(),
    };
    let root = workspace_root();
    util::run(Command::new(env!("CARGO")).current_dir(&root).args([
        "build",
        "--release",
        "--bins",
        "-p",
        "source-controller",
        "-p",
        "kustomize-controller",
    ]))?;
    let work = std::env::temp_dir().join(format!("weir-bench-monorepo-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    let repo = work.join("repo");
    std::fs::create_dir_all(&repo)?;
    for app in 0..APPS {
        write_app(&repo, app, "initial")?;
    }
    git(&repo, &["init", "-q", "-b", "main"])?;
    commit_all(&repo, "50 apps")?;
    env.kubectl(&[
        "apply",
        "-k",
        &root.join("config/crd").display().to_string(),
    ])?;
    recreate_namespaces(&env)?;
    // Free ports rather than fixed ones: other benches or tests may run controllers too.
    let storage_addr = format!("127.0.0.1:{}", free_port()?);
    let selector = format!("--watch-label-selector={}={}", SELECTOR.0, SELECTOR.1);
    let bin = root.join("target/release");
    let mut source = start(
        &bin.join("source-controller"),
        &kubeconfig,
        &[
            "--allow-file-urls".to_string(),
            "--leader-elect=false".into(),
            "--log-format=text".into(),
            selector.clone(),
            format!("--storage-addr={storage_addr}"),
            format!("--metrics-addr=127.0.0.1:{}", free_port()?),
            format!("--storage-path={}", work.join("storage").display()),
        ],
        &work.join("source-controller.log"),
    )?;
    let mut ks = start(
        &bin.join("kustomize-controller"),
        &kubeconfig,
        &[
            "--leader-elect=false".to_string(),
            "--log-format=text".into(),
            selector,
            format!("--metrics-addr=127.0.0.1:{}", free_port()?),
            format!("--work-dir={}", work.join("kc").display()),
        ],
        &work.join("kustomize-controller.log"),
    )?;
    let result = measure(&env, &repo, &source, &ks);
    // Delete while the controllers still run, so their finalizers complete: consumers first,
    // then the generator (which removes its ExternalArtifacts), then the sources.
    for kind in [KUSTOMIZATIONS, ARTIFACT_GENERATORS, GIT_REPOSITORIES] {
        for scenario in Scenario::ALL {
            let _ = env.kubectl(&[
                "delete",
                kind,
                "--all",
                "-n",
                scenario.namespace(),
                "--timeout=180s",
            ]);
        }
    }
    let _ = ks.kill();
    let _ = source.kill();
    let _ = ks.wait();
    let _ = source.wait();
    for scenario in Scenario::ALL {
        let _ = env.kubectl(&[
            "delete",
            "namespace",
            scenario.namespace(),
            "--wait=false",
            "--ignore-not-found",
        ]);
    }
    if result.is_ok() {
        let _ = std::fs::remove_dir_all(&work);
    } else {
        eprintln!(
            "bench monorepo: repository and controller logs left in {}",
            work.display()
        );
    }
    result
}
