//! Benchmarks that compare Weir with the reference tool in the same run and print ratios.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, bail};
use clap::Subcommand;

use crate::util::{self, workspace_root};

#[derive(Subcommand, Clone, Copy)]
pub enum Which {
    /// source-controller's fetch + package of a 5,000-file repository versus
    /// `git clone --depth 1` + `tar czf`.
    Source,
    /// `weir build kustomization` versus `kubectl kustomize` on 2,020 resources in 20
    /// overlays, and on a CRD-heavy tree of about 5 MB.
    Kustomize,
    /// kustomize-controller: 100 and 500 Kustomizations of 4 objects to Ready, and one of
    /// 1,000 objects versus `kubectl apply --server-side`.
    Apply,
    /// `weir template` versus `helm template` on a chart of 200 templates, an umbrella of 50
    /// subcharts and `helm create`'s chart, plus how `tpl` scales with its number of calls.
    Template,
    /// source-controller's `weir-chart-once` versus `helm pull`: resolve a version range in a
    /// 5,000-entry repository index and download the chart, time and peak memory.
    ChartSource,
    /// What an ArtifactGenerator buys a monorepo of 50 apps: per commit to one app, time to
    /// applied and how many of the 50 Kustomizations reconcile, with and without it.
    Monorepo,
}

pub fn run(which: Which) -> anyhow::Result<()> {
    match which {
        Which::Source => source(),
        Which::Kustomize => kustomize(),
        Which::Apply => crate::bench_apply::run(),
        Which::Template => crate::bench_template::run(),
        Which::ChartSource => crate::bench_chart_source::run(),
        Which::Monorepo => crate::bench_monorepo::run(),
    }
}

/// Wall time, CPU time (user + system) and peak RSS of one command, from GNU time.
pub(crate) struct Measure {
    pub(crate) seconds: f64,
    pub(crate) cpu: f64,
    pub(crate) peak_kib: u64,
}

pub(crate) fn measure(cmd: &mut Command) -> anyhow::Result<Measure> {
    let report = tempfile_path("time")?;
    let mut wrapped = Command::new("/usr/bin/time");
    wrapped
        .arg("-f")
        .arg("%e %M %U %S")
        .arg("-o")
        .arg(&report)
        .arg(cmd.get_program())
        .args(cmd.get_args());
    if let Some(dir) = cmd.get_current_dir() {
        wrapped.current_dir(dir);
    }
    let start = Instant::now();
    let out = wrapped.output().context("running /usr/bin/time")?;
    let wall = start.elapsed().as_secs_f64();
    if !out.status.success() {
        bail!("{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let text = std::fs::read_to_string(&report)?;
    let field = |i: usize| text.split_whitespace().nth(i);
    let peak_kib = field(1).and_then(|v| v.parse().ok()).unwrap_or(0);
    let cpu = [2, 3]
        .into_iter()
        .filter_map(|i| field(i).and_then(|v| v.parse::<f64>().ok()))
        .sum();
    Ok(Measure {
        seconds: wall,
        cpu,
        peak_kib,
    })
}

fn tempfile_path(tag: &str) -> anyhow::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("weir-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir.join(tag))
}

fn make_repo(dir: &Path, files: usize) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    util::run(
        Command::new("git")
            .args(["init", "-q", "-b", "main"])
            .arg(dir),
    )?;
    for i in 0..files {
        let sub = dir.join(format!("apps/team-{:02}/svc-{:03}", i % 50, i / 50));
        std::fs::create_dir_all(&sub)?;
        let body = format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: config-{i}\n  namespace: team-{t:02}\ndata:\n  index: \"{i}\"\n  payload: \"{p}\"\n",
            t = i % 50,
            p = "x".repeat(200 + (i * 37) % 800)
        );
        std::fs::write(sub.join(format!("cm-{i}.yaml")), body)?;
    }
    util::run(Command::new("git").current_dir(dir).args(["add", "-A"]))?;
    util::run(Command::new("git").current_dir(dir).args([
        "-c",
        "user.name=bench",
        "-c",
        "user.email=bench@weir.dev",
        "commit",
        "-q",
        "-m",
        "bench",
    ]))
}

fn source() -> anyhow::Result<()> {
    util::ensure_debian_packages(&["time"])?;
    let root = workspace_root();
    util::run(Command::new(env!("CARGO")).current_dir(&root).args([
        "build",
        "--release",
        "--package",
        "source-controller",
        "--bins",
    ]))?;
    let fetch_once = root.join("target/release/weir-fetch-once");
    let work = tempfile_path("source")?;
    let _ = std::fs::remove_dir_all(&work);
    let repo = work.join("repo");
    make_repo(&repo, 5000)?;
    let url = format!("file://{}", repo.display());
    const RUNS: usize = 5;
    let mut weir_first = Vec::new();
    let mut weir_again = Vec::new();
    let mut git = Vec::new();
    for run in 0..RUNS {
        let cache = work.join(format!("cache-{run}"));
        let storage = work.join(format!("storage-{run}"));
        let weir = |_: ()| {
            measure(
                Command::new(&fetch_once)
                    .args(["--url", &url, "--branch", "main"])
                    .arg("--cache")
                    .arg(&cache)
                    .arg("--storage")
                    .arg(&storage),
            )
        };
        weir_first.push(weir(())?);
        weir_again.push(weir(())?);
        let clone = work.join(format!("clone-{run}"));
        let script = format!(
            "git clone -q --depth 1 --branch main {url} {c} && tar czf {c}.tar.gz --exclude=.git -C {c} .",
            c = clone.display()
        );
        git.push(measure(Command::new("sh").args(["-c", &script]))?);
    }
    // Both sides must have packed the same files.
    let archive = std::fs::read_dir(work.join("storage-0/gitrepository/local/oneshot"))?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "gz"))
        .context("weir wrote no artifact")?;
    let listing = |cmd: &mut Command| -> anyhow::Result<Vec<String>> {
        let out = cmd.output()?;
        let mut files: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| l.trim_start_matches("./").to_string())
            .filter(|l| !l.is_empty() && !l.ends_with('/'))
            .collect();
        files.sort();
        Ok(files)
    };
    let weir_files = listing(Command::new("tar").arg("tzf").arg(&archive))?;
    let git_files = listing(
        Command::new("git")
            .arg("-C")
            .arg(work.join("clone-0"))
            .arg("ls-files"),
    )?;
    if weir_files != git_files || weir_files.len() != 5000 {
        bail!(
            "outputs differ: weir packed {} files, git checked out {}",
            weir_files.len(),
            git_files.len()
        );
    }
    let median = |v: &mut Vec<Measure>| {
        v.sort_by(|a, b| a.seconds.total_cmp(&b.seconds));
        let peak = v.iter().map(|m| m.peak_kib).max().unwrap_or(0);
        (v[v.len() / 2].seconds, peak)
    };
    let (t_first, m_first) = median(&mut weir_first);
    let (t_again, m_again) = median(&mut weir_again);
    let (t_git, m_git) = median(&mut git);
    println!(
        "bench source: 5,000-file repository, {RUNS} runs, medians (peak RSS is the max over runs)"
    );
    println!(
        "  weir first fetch + package : {t_first:>7.3}s  {:>7.1} MiB",
        m_first as f64 / 1024.0
    );
    println!(
        "  weir unchanged re-fetch    : {t_again:>7.3}s  {:>7.1} MiB",
        m_again as f64 / 1024.0
    );
    println!(
        "  git clone --depth 1 + tar  : {t_git:>7.3}s  {:>7.1} MiB (largest process)",
        m_git as f64 / 1024.0
    );
    println!(
        "  ratio first fetch / git    : {:.2}x time",
        t_first / t_git
    );
    println!(
        "  ratio re-fetch / git       : {:.2}x time",
        t_again / t_git
    );
    let _ = std::fs::remove_dir_all(&work);
    Ok(())
}

/// Writes the kustomize benchmark tree: one base of 100 resources plus a generator, and 20
/// overlays that each rename, move, label, patch and re-image it; `top/` includes them all.
fn make_kustomize_tree(root: &Path) -> anyhow::Result<()> {
    let base = root.join("base");
    std::fs::create_dir_all(&base)?;
    let mut resources = String::new();
    let mut list = Vec::new();
    for i in 0..34 {
        resources.push_str(&format!(
            "---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app-{i}\nspec:\n  replicas: 1\n  selector:\n    matchLabels:\n      app: app-{i}\n  template:\n    metadata:\n      labels:\n        app: app-{i}\n    spec:\n      containers:\n      - name: main\n        image: nginx:1.25\n        envFrom:\n        - configMapRef:\n            name: shared\n        ports:\n        - containerPort: 8080\n        env:\n        - name: INDEX\n          value: \"{i}\"\n"
        ));
    }
    for i in 0..33 {
        resources.push_str(&format!(
            "---\napiVersion: v1\nkind: Service\nmetadata:\n  name: svc-{i}\nspec:\n  selector:\n    app: app-{i}\n  ports:\n  - port: 80\n    targetPort: 8080\n"
        ));
        resources.push_str(&format!(
            "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{i}\ndata:\n  key: value-{i}\n  mode: \"0755\"\n"
        ));
    }
    std::fs::write(base.join("resources.yaml"), resources)?;
    std::fs::write(
        base.join("kustomization.yaml"),
        "resources:\n- resources.yaml\nconfigMapGenerator:\n- name: shared\n  literals:\n  - LEVEL=info\n",
    )?;
    for o in 0..20 {
        let dir = root.join(format!("overlays/o{o:02}"));
        std::fs::create_dir_all(&dir)?;
        std::fs::write(
            dir.join("kustomization.yaml"),
            format!(
                "namePrefix: o{o:02}-\nnamespace: ns-{o:02}\nlabels:\n- pairs:\n    overlay: o{o:02}\n  includeSelectors: true\ncommonAnnotations:\n  team: t{o}\nimages:\n- name: nginx\n  newTag: \"1.{o}\"\nresources:\n- ../../base\nconfigMapGenerator:\n- name: shared\n  behavior: merge\n  literals:\n  - OVERLAY=o{o:02}\npatches:\n- target:\n    kind: Deployment\n  patch: |\n    - op: replace\n      path: /spec/replicas\n      value: {}\n- patch: |\n    apiVersion: apps/v1\n    kind: Deployment\n    metadata:\n      name: app-0\n    spec:\n      template:\n        spec:\n          containers:\n          - name: main\n            env:\n            - name: EXTRA\n              value: \"yes\"\n",
                o % 3 + 1
            ),
        )?;
        list.push(format!("- ../overlays/o{o:02}"));
    }
    let top = root.join("top");
    std::fs::create_dir_all(&top)?;
    std::fs::write(
        top.join("kustomization.yaml"),
        format!("resources:\n{}\n", list.join("\n")),
    )?;
    Ok(())
}

/// One tree measured: both tools' medians and peaks, and what the build printed.
struct Compared {
    docs: usize,
    out_bytes: usize,
    /// Median wall seconds, median CPU seconds, largest peak RSS in KiB.
    weir: (f64, f64, u64),
    kubectl: (f64, f64, u64),
}

/// Builds `dir` (under `root`) with both tools, refuses to go on unless their outputs are
/// byte-identical, then times `runs` alternating runs of each.
fn compare(weir: &Path, root: &Path, dir: &Path, runs: usize) -> anyhow::Result<Compared> {
    let ours = Command::new(weir)
        .args(["build", "kustomization"])
        .arg(dir)
        .arg("--root")
        .arg(root)
        .output()?;
    let theirs = Command::new("kubectl").arg("kustomize").arg(dir).output()?;
    if !ours.status.success() || !theirs.status.success() {
        bail!(
            "a build of {} failed: weir: {} kubectl: {}",
            dir.display(),
            String::from_utf8_lossy(&ours.stderr),
            String::from_utf8_lossy(&theirs.stderr)
        );
    }
    if ours.stdout != theirs.stdout {
        let (w, k) = (root.join("weir.out.yaml"), root.join("kubectl.out.yaml"));
        std::fs::write(&w, &ours.stdout)?;
        std::fs::write(&k, &theirs.stdout)?;
        let line = ours
            .stdout
            .split(|&b| b == b'\n')
            .zip(theirs.stdout.split(|&b| b == b'\n'))
            .position(|(a, b)| a != b)
            .map_or_else(|| "the end".to_string(), |i| format!("line {}", i + 1));
        bail!(
            "weir and kubectl printed different output for {} (first difference at {line}): \
             see {} and {}",
            dir.display(),
            w.display(),
            k.display()
        );
    }
    let text = String::from_utf8_lossy(&ours.stdout);
    let docs = text.matches("\n---\n").count() + 1;
    let mut weir_runs = Vec::new();
    let mut kubectl_runs = Vec::new();
    for _ in 0..runs {
        weir_runs.push(measure(
            Command::new(weir)
                .args(["build", "kustomization"])
                .arg(dir)
                .arg("--root")
                .arg(root),
        )?);
        kubectl_runs.push(measure(Command::new("kubectl").arg("kustomize").arg(dir))?);
    }
    let median = |v: &mut Vec<Measure>| {
        let mut cpu: Vec<f64> = v.iter().map(|m| m.cpu).collect();
        cpu.sort_by(f64::total_cmp);
        v.sort_by(|a, b| a.seconds.total_cmp(&b.seconds));
        (
            v[v.len() / 2].seconds,
            cpu[cpu.len() / 2],
            v.iter().map(|m| m.peak_kib).max().unwrap_or(0),
        )
    };
    Ok(Compared {
        docs,
        out_bytes: ours.stdout.len(),
        weir: median(&mut weir_runs),
        kubectl: median(&mut kubectl_runs),
    })
}

fn print_compared(title: &str, c: &Compared) {
    let ((tw, cw, mw), (tk, ck, mk)) = (c.weir, c.kubectl);
    println!(
        "{title}: {} resources, {:.1} MB printed, byte-identical",
        c.docs,
        c.out_bytes as f64 / 1e6
    );
    println!(
        "  weir build kustomization : {tw:>7.3}s wall {cw:>7.3}s CPU {:>7.1} MiB peak",
        mw as f64 / 1024.0
    );
    println!(
        "  kubectl kustomize        : {tk:>7.3}s wall {ck:>7.3}s CPU {:>7.1} MiB peak",
        mk as f64 / 1024.0
    );
    println!(
        "  ratio                    : {:.1}x faster (wall), {:.1}x less CPU, {:.1}x less memory",
        tk / tw,
        ck / cw.max(0.001),
        mk as f64 / mw.max(1) as f64
    );
}

/// Compares `weir build kustomization` with `kubectl kustomize` on two generated trees under
/// `target/bench/kustomize/`: 20 overlays of a small base (`overlays/`), and a CRD-heavy tree
/// (`crds/`). `WEIR_BENCH_RUNS` sets the number of timed runs (default 7 and 5);
/// `WEIR_BENCH_WEIR` names a `weir` binary to measure instead of building one (e.g. an
/// older build, for before/after numbers). The trees are left in place for profiling.
fn kustomize() -> anyhow::Result<()> {
    util::ensure_debian_packages(&["time"])?;
    let root = workspace_root();
    let weir = match std::env::var_os("WEIR_BENCH_WEIR") {
        Some(bin) => PathBuf::from(bin),
        None => {
            util::run(Command::new(env!("CARGO")).current_dir(&root).args([
                "build",
                "--release",
                "--package",
                "weir-cli",
            ]))?;
            root.join("target/release/weir")
        }
    };
    let work = root.join("target/bench/kustomize");
    let _ = std::fs::remove_dir_all(&work);
    let overlays = work.join("overlays");
    make_kustomize_tree(&overlays)?;
    let crds = work.join("crds");
    let (bytes, lines) = make_crd_tree(&crds)?;
    let runs: Option<usize> = std::env::var("WEIR_BENCH_RUNS")
        .ok()
        .and_then(|r| r.parse().ok());
    let small = compare(&weir, &overlays, &overlays.join("top"), runs.unwrap_or(7))?;
    let large = compare(&weir, &crds, &crds.join("overlay"), runs.unwrap_or(5))?;
    println!("bench kustomize: medians of the timed runs, peak RSS the largest over them");
    print_compared("20 overlays of a small base", &small);
    print_compared(
        &format!(
            "CRD-heavy tree ({:.1} MB, {lines} lines of manifests)",
            bytes as f64 / 1e6
        ),
        &large,
    );
    println!("trees left in {}", work.display());
    Ok(())
}

/// splitmix64: a deterministic stream of numbers, so the generated tree is the same on every
/// run and machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n`.
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }

    /// `words` words of description prose, with the punctuation real CRDs have (backquotes,
    /// colons, quotes, parentheses, percentages) so that every quoting rule is exercised.
    fn prose(&mut self, words: usize) -> String {
        const WORDS: &[&str] = &[
            "the",
            "resource",
            "controller",
            "reconciles",
            "field",
            "value",
            "when",
            "set",
            "to",
            "of",
            "a",
            "an",
            "is",
            "must",
            "be",
            "may",
            "not",
            "specified",
            "defaults",
            "and",
            "or",
            "if",
            "this",
            "object",
            "namespace",
            "cluster",
            "selector",
            "label",
            "annotation",
            "`spec.replicas`",
            "e.g.",
            "(optional)",
            "it's",
            "\"Ready\"",
            "50%",
            "default: 10",
            "see https://kubernetes.io/docs/concepts/",
            "#1",
            "DNS-1123",
            "RFC 3339",
            "immutable.",
            "Deprecated:",
            "secret",
            "key",
            "reference",
            "condition",
            "status",
            "observed",
            "generation",
            "interval",
            "timeout",
            "retries",
            "backoff",
            "apply",
            "server-side",
            "field-manager",
            "owner",
            "finalizer",
            "webhook",
            "TLS",
        ];
        let mut s = String::new();
        for i in 0..words {
            if i > 0 {
                s.push(' ');
            }
            let w = self.pick(WORDS);
            if i == 0 {
                let mut c = w.chars();
                if let Some(f) = c.next() {
                    s.extend(f.to_uppercase());
                    s.push_str(c.as_str());
                }
            } else {
                s.push_str(w);
            }
        }
        s.push('.');
        s
    }

    /// A `description:` line (or block) at `indent`: multi-line literal blocks as
    /// controller-gen writes them, long single lines (folded on output), short ones.
    fn description(&mut self, out: &mut String, indent: usize) {
        let pad = " ".repeat(indent);
        match self.below(4) {
            0 | 1 => {
                out.push_str(&format!("{pad}description: |-\n"));
                for p in 0..1 + self.below(2) {
                    if p > 0 {
                        out.push('\n');
                    }
                    for _ in 0..2 + self.below(4) {
                        let n = 3 + self.below(6);
                        let line = self.prose(n);
                        out.push_str(&format!("{pad}  {line}\n"));
                    }
                }
            }
            2 => {
                let n = 20 + self.below(30);
                let text = self.prose(n);
                let quoted = text.replace('\\', "\\\\").replace('"', "\\\"");
                out.push_str(&format!("{pad}description: \"{quoted}\"\n"));
            }
            _ => {
                let n = 3 + self.below(6);
                let text = self.prose(n).replace('\'', "''");
                out.push_str(&format!("{pad}description: '{text}'\n"));
            }
        }
    }
}

/// Field names for generated schemas.
const FIELDS: &[&str] = &[
    "name",
    "namespace",
    "interval",
    "timeout",
    "suspend",
    "selector",
    "template",
    "replicas",
    "image",
    "ports",
    "env",
    "secretRef",
    "configMapRef",
    "serviceAccountName",
    "retries",
    "path",
    "prune",
    "force",
    "wait",
    "healthChecks",
    "dependsOn",
    "decryption",
    "provider",
    "targetNamespace",
    "postBuild",
    "substitute",
    "patches",
    "components",
    "commonMetadata",
    "kubeConfig",
    "sourceRef",
    "chart",
    "version",
    "values",
    "valuesFrom",
    "install",
    "upgrade",
    "rollback",
    "test",
    "uninstall",
    "driftDetection",
    "storage",
    "resources",
    "limits",
    "requests",
    "tolerations",
    "affinity",
    "nodeSelector",
    "priorityClassName",
    "x509",
];

/// Writes an OpenAPI v3 schema at `indent` (the column of its keys): objects nest down to
/// `depth` levels (0 is a leaf), with leaves of every common shape.
fn write_schema(out: &mut String, rng: &mut Rng, indent: usize, depth: usize) {
    let pad = " ".repeat(indent);
    rng.description(out, indent);
    if depth == 0 {
        write_leaf(out, rng, indent);
        return;
    }
    out.push_str(&format!("{pad}properties:\n"));
    let count = 3 + rng.below(5);
    let first = rng.below(FIELDS.len());
    let mut names: Vec<&str> = (0..count)
        .map(|i| FIELDS[(first + i * 7) % FIELDS.len()])
        .collect();
    names.sort_unstable();
    names.dedup();
    let mut required = Vec::new();
    for (i, name) in names.iter().enumerate() {
        out.push_str(&format!("{pad}  {name}:\n"));
        // About 1.4 children of each object nest further.
        let nested = (i == 0 && rng.below(4) != 0) || rng.below(6) == 0;
        match (nested, rng.below(5)) {
            (true, 0) => {
                rng.description(out, indent + 4);
                out.push_str(&format!("{pad}    items:\n"));
                write_schema(out, rng, indent + 6, depth - 1);
                out.push_str(&format!("{pad}    type: array\n"));
            }
            (true, _) => {
                write_schema(out, rng, indent + 4, depth - 1);
            }
            (false, _) => {
                rng.description(out, indent + 4);
                write_leaf(out, rng, indent + 4);
            }
        }
        if rng.below(3) == 0 {
            required.push(*name);
        }
    }
    if !required.is_empty() {
        out.push_str(&format!("{pad}required:\n"));
        for r in required {
            out.push_str(&format!("{pad}- {r}\n"));
        }
    }
    out.push_str(&format!("{pad}type: object\n"));
}

/// A leaf property's type and constraints (after its description).
fn write_leaf(out: &mut String, rng: &mut Rng, indent: usize) {
    let pad = " ".repeat(indent);
    let leaf = match rng.below(8) {
        0 => "format: int32\nminimum: 0\nmaximum: 65535\ntype: integer\n".to_string(),
        1 => "default: false\ntype: boolean\n".to_string(),
        2 => "pattern: ^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$\ntype: string\n".to_string(),
        3 => "enum:\n- Always\n- IfNotPresent\n- Never\n- \"on\"\n- \"0755\"\ntype: string\n"
            .to_string(),
        4 => "items:\n  type: string\ntype: array\nx-kubernetes-list-type: set\n".to_string(),
        5 => "additionalProperties:\n  type: string\ntype: object\n".to_string(),
        6 => "anyOf:\n- type: integer\n- type: string\nx-kubernetes-int-or-string: true\n"
            .to_string(),
        _ => format!(
            "default: {}\nmaxLength: 253\nminLength: 1\ntype: string\n",
            rng.pick(&["\"10m\"", "\"\"", "example", "\"1.5\"", "'yes'"])
        ),
    };
    for line in leaf.lines() {
        out.push_str(&pad);
        out.push_str(line);
        out.push('\n');
    }
}

/// One CustomResourceDefinition with `versions` versions, each with its own deep schema.
fn write_crd(out: &mut String, rng: &mut Rng, index: usize, versions: usize) {
    let kind = format!("Widget{index:02}");
    let plural = format!("widget{index:02}s");
    let group = format!("g{}.bench.weir.dev", index % 5);
    out.push_str(&format!(
        "---\napiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  annotations:\n    controller-gen.kubebuilder.io/version: v0.16.1\n  labels:\n    app.kubernetes.io/part-of: bench\n  name: {plural}.{group}\nspec:\n  group: {group}\n  names:\n    kind: {kind}\n    listKind: {kind}List\n    plural: {plural}\n    shortNames:\n    - w{index:02}\n    singular: widget{index:02}\n  scope: Namespaced\n  versions:\n"
    ));
    let names = ["v1", "v1beta2", "v1beta1", "v1alpha1"];
    for (v, name) in names.iter().take(versions).enumerate() {
        out.push_str(&format!(
            "  - additionalPrinterColumns:\n    - jsonPath: .status.conditions[?(@.type==\"Ready\")].status\n      name: Ready\n      type: string\n    - jsonPath: .metadata.creationTimestamp\n      name: Age\n      type: date\n    name: {name}\n    schema:\n      openAPIV3Schema:\n"
        ));
        rng.description(out, 8);
        out.push_str("        properties:\n          apiVersion:\n");
        rng.description(out, 12);
        out.push_str("            type: string\n          kind:\n");
        rng.description(out, 12);
        out.push_str("            type: string\n          metadata:\n            type: object\n          spec:\n");
        let depth = 5 + rng.below(3);
        write_schema(out, rng, 12, depth);
        out.push_str("          status:\n");
        write_schema(out, rng, 12, 3);
        out.push_str("        type: object\n");
        out.push_str(&format!(
            "    served: true\n    storage: {}\n    subresources:\n      status: {{}}\n",
            v == 0
        ));
        if v > 0 {
            out.push_str(&format!(
                "    deprecated: true\n    deprecationWarning: {name} is deprecated, use v1\n"
            ));
        }
    }
}

/// Writes the CRD-heavy benchmark tree: a base of large CRDs (long multi-line descriptions,
/// deep `openAPIV3Schema`, several versions) and workloads, and `overlay/` with a name prefix,
/// labels, images and patches. Returns the bytes and lines of manifests written.
fn make_crd_tree(root: &Path) -> anyhow::Result<(usize, usize)> {
    let mut rng = Rng(0x5745_4952);
    let (mut bytes, mut lines) = (0, 0);
    let mut write = |path: PathBuf, text: &str| {
        bytes += text.len();
        lines += text.lines().count();
        std::fs::write(path, text)
    };
    let base = root.join("base");
    std::fs::create_dir_all(base.join("crds"))?;
    let mut list = Vec::new();
    for i in 0..CRDS {
        let mut text = String::new();
        write_crd(&mut text, &mut rng, i, 2 + i % 3);
        let file = format!("crds/widget{i:02}.yaml");
        write(base.join(&file), &text)?;
        list.push(file);
    }
    let mut apps = String::new();
    for i in 0..APPS {
        let image = ["nginx:1.25", "ghcr.io/example/controller:v1.2.3", "busybox"][i % 3];
        apps.push_str(&format!(
            "---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app-{i}\n  labels:\n    app: app-{i}\nspec:\n  replicas: 2\n  selector:\n    matchLabels:\n      app: app-{i}\n  template:\n    metadata:\n      labels:\n        app: app-{i}\n      annotations:\n        prometheus.io/port: \"9090\"\n    spec:\n      serviceAccountName: app-{i}\n      containers:\n      - name: main\n        image: {image}\n        args:\n        - --metrics-addr=:9090\n        - --log-level=info\n        ports:\n        - containerPort: 8080\n          name: http\n        env:\n        - name: INDEX\n          value: \"{i}\"\n        - name: MODE\n          value: \"on\"\n        resources:\n          limits:\n            cpu: 500m\n            memory: 256Mi\n          requests:\n            cpu: 100m\n            memory: 64Mi\n        readinessProbe:\n          httpGet:\n            path: /readyz\n            port: http\n        volumeMounts:\n        - mountPath: /etc/config\n          name: config\n      volumes:\n      - configMap:\n          name: config-{i}\n        name: config\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: app-{i}\nspec:\n  selector:\n    app: app-{i}\n  ports:\n  - name: http\n    port: 80\n    targetPort: http\n---\napiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: app-{i}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: config-{i}\ndata:\n  config.yaml: |\n    level: info\n    index: {i}\n    description: {}\n",
            rng.prose(30)
        ));
    }
    write(base.join("apps.yaml"), &apps)?;
    list.push("apps.yaml".into());
    std::fs::write(
        base.join("kustomization.yaml"),
        format!(
            "resources:\n{}\n",
            list.iter()
                .map(|f| format!("- {f}"))
                .collect::<Vec<_>>()
                .join("\n")
        ),
    )?;
    let overlay = root.join("overlay");
    std::fs::create_dir_all(&overlay)?;
    std::fs::write(
        overlay.join("kustomization.yaml"),
        "namePrefix: prod-\nlabels:\n- pairs:\n    env: prod\n    team: platform\n  includeSelectors: true\nimages:\n- name: nginx\n  newTag: \"1.27\"\n- name: ghcr.io/example/controller\n  newName: registry.example.com/controller\n  digest: sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\nresources:\n- ../base\npatches:\n- target:\n    kind: CustomResourceDefinition\n  patch: |\n    - op: add\n      path: /metadata/labels/patched\n      value: \"true\"\n    - op: replace\n      path: /spec/versions/0/served\n      value: true\n- target:\n    kind: Deployment\n    labelSelector: app=app-1\n  patch: |\n    - op: replace\n      path: /spec/replicas\n      value: 5\n- patch: |\n    apiVersion: apps/v1\n    kind: Deployment\n    metadata:\n      name: app-0\n    spec:\n      template:\n        spec:\n          containers:\n          - name: main\n            env:\n            - name: EXTRA\n              value: \"yes\"\n- patch: |\n    apiVersion: apiextensions.k8s.io/v1\n    kind: CustomResourceDefinition\n    metadata:\n      name: widget00s.g0.bench.weir.dev\n    spec:\n      conversion:\n        strategy: None\n",
    )?;
    Ok((bytes, lines))
}

/// Number of CRDs and of workloads (Deployment, Service, ServiceAccount, ConfigMap each) in
/// the CRD-heavy tree.
const CRDS: usize = 22;
const APPS: usize = 60;
