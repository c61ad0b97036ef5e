//! Benchmarks that compare Weir with the reference tool in the same run and print ratios.

use std::path::Path;
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
    /// `weir build kustomization` versus `kubectl kustomize` on 2,020 resources in 20 overlays.
    Kustomize,
    /// kustomize-controller: 100 and 500 Kustomizations of 4 objects to Ready, and one of
    /// 1,000 objects versus `kubectl apply --server-side`.
    Apply,
}

pub fn run(which: Which) -> anyhow::Result<()> {
    match which {
        Which::Source => source(),
        Which::Kustomize => kustomize(),
        Which::Apply => crate::bench_apply::run(),
    }
}

/// Wall time and peak RSS of one command, from GNU time.
struct Measure {
    seconds: f64,
    peak_kib: u64,
}

fn measure(cmd: &mut Command) -> anyhow::Result<Measure> {
    let report = tempfile_path("time")?;
    let mut wrapped = Command::new("/usr/bin/time");
    wrapped
        .arg("-f")
        .arg("%e %M")
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
    let peak_kib = text
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    Ok(Measure {
        seconds: wall,
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

fn kustomize() -> anyhow::Result<()> {
    util::ensure_debian_packages(&["time"])?;
    let root = workspace_root();
    util::run(Command::new(env!("CARGO")).current_dir(&root).args([
        "build",
        "--release",
        "--package",
        "weir-cli",
    ]))?;
    let weir = root.join("target/release/weir");
    let work = tempfile_path("kustomize")?;
    let _ = std::fs::remove_dir_all(&work);
    make_kustomize_tree(&work)?;
    let top = work.join("top");
    let ours = Command::new(&weir)
        .args(["build", "kustomization"])
        .arg(&top)
        .arg("--root")
        .arg(&work)
        .output()?;
    let theirs = Command::new("kubectl")
        .arg("kustomize")
        .arg(&top)
        .output()?;
    if !ours.status.success() || !theirs.status.success() {
        bail!(
            "a build failed: weir: {} kubectl: {}",
            String::from_utf8_lossy(&ours.stderr),
            String::from_utf8_lossy(&theirs.stderr)
        );
    }
    if ours.stdout != theirs.stdout {
        bail!("weir and kubectl printed different output for the benchmark tree");
    }
    let docs = String::from_utf8_lossy(&ours.stdout)
        .matches("\napiVersion: ")
        .count()
        + 1;
    const RUNS: usize = 7;
    let mut weir_runs = Vec::new();
    let mut kubectl_runs = Vec::new();
    for _ in 0..RUNS {
        weir_runs.push(measure(
            Command::new(&weir)
                .args(["build", "kustomization"])
                .arg(&top)
                .arg("--root")
                .arg(&work),
        )?);
        kubectl_runs.push(measure(Command::new("kubectl").arg("kustomize").arg(&top))?);
    }
    let median = |v: &mut Vec<Measure>| {
        v.sort_by(|a, b| a.seconds.total_cmp(&b.seconds));
        (
            v[v.len() / 2].seconds,
            v.iter().map(|m| m.peak_kib).max().unwrap_or(0),
        )
    };
    let (tw, mw) = median(&mut weir_runs);
    let (tk, mk) = median(&mut kubectl_runs);
    println!(
        "bench kustomize: {docs} resources from 20 overlays, {RUNS} runs each, outputs byte-identical"
    );
    println!(
        "  weir build kustomization : {tw:>7.3}s  {:>7.1} MiB peak",
        mw as f64 / 1024.0
    );
    println!(
        "  kubectl kustomize        : {tk:>7.3}s  {:>7.1} MiB peak",
        mk as f64 / 1024.0
    );
    println!(
        "  speed-up                 : {:.1}x faster, {:.1}x less memory",
        tk / tw,
        mk as f64 / mw.max(1) as f64
    );
    if std::env::var_os("WEIR_BENCH_KEEP").is_some() {
        eprintln!("kept the benchmark tree in {}", work.display());
    } else {
        let _ = std::fs::remove_dir_all(&work);
    }
    Ok(())
}
