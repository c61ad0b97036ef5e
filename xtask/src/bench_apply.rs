//! `cargo xtask bench apply`: kustomize-controller on the local control plane. Time from
//! creating N Kustomizations (4 objects each, one Git source) to all Ready, with the
//! controller's peak memory; and one Kustomization of 1,000 objects against
//! `kubectl apply --server-side` of the same built manifests, measured in the same run.

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::cluster;
use crate::util::{self, workspace_root};

pub(crate) struct Env {
    pub(crate) kubeconfig: std::path::PathBuf,
}

impl Env {
    pub(crate) fn kubectl(&self, args: &[&str]) -> anyhow::Result<String> {
        let out = Command::new("kubectl")
            .env("KUBECONFIG", &self.kubeconfig)
            .args(args)
            .output()?;
        if !out.status.success() {
            bail!(
                "kubectl {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    pub(crate) fn apply(&self, yaml: &str, extra: &[&str]) -> anyhow::Result<()> {
        let mut child = Command::new("kubectl")
            .env("KUBECONFIG", &self.kubeconfig)
            .args(["apply", "-f", "-"])
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()?;
        child
            .stdin
            .take()
            .context("stdin")?
            .write_all(yaml.as_bytes())?;
        if !child.wait()?.success() {
            bail!("kubectl apply failed");
        }
        Ok(())
    }

    /// Waits until every Kustomization of `ns` is Ready.
    fn wait_ready(&self, ns: &str, count: usize, limit: Duration) -> anyhow::Result<f64> {
        let start = Instant::now();
        loop {
            let out = self.kubectl(&["get", "kustomizations", "-n", ns, "-o", "jsonpath={range .items[*]}{.status.conditions[?(@.type==\"Ready\")].status}{\"\\n\"}{end}"])?;
            let ready = out.lines().filter(|l| l.trim() == "True").count();
            if ready >= count {
                return Ok(start.elapsed().as_secs_f64());
            }
            if start.elapsed() > limit {
                bail!("only {ready}/{count} Kustomizations Ready after {limit:?}");
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

pub(crate) fn peak_rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<f64>().ok())
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

pub(crate) fn start(
    bin: &Path,
    kubeconfig: &Path,
    args: &[String],
    log: &Path,
) -> anyhow::Result<Child> {
    Ok(Command::new(bin)
        .env("KUBECONFIG", kubeconfig)
        .args(args)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log)?)
        .spawn()?)
}

fn app_files(dir: &Path, objects: usize) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut resources = String::new();
    for i in 0..objects / 4 {
        resources.push_str(&format!(
            "---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app-{i}\nspec:\n  replicas: 0\n  selector:\n    matchLabels:\n      app: app-{i}\n  template:\n    metadata:\n      labels:\n        app: app-{i}\n    spec:\n      serviceAccountName: app-{i}\n      containers:\n      - name: main\n        image: nginx:1.25\n---\napiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: app-{i}\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: app-{i}\nspec:\n  selector:\n    app: app-{i}\n  ports:\n  - port: 80\n    protocol: TCP\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app-{i}\ndata:\n  index: \"{i}\"\n"
        ));
    }
    std::fs::write(dir.join("resources.yaml"), resources)?;
    std::fs::write(
        dir.join("kustomization.yaml"),
        "resources:\n- resources.yaml\n",
    )?;
    Ok(())
}

fn kustomizations(ns: &str, count: usize, path: &str) -> String {
    (0..count)
        .map(|i| {
            format!(
                "---\napiVersion: kustomize.weir.dev/v1\nkind: Kustomization\nmetadata:\n  name: k{i:03}\n  namespace: {ns}\nspec:\n  sourceRef:\n    kind: GitRepository\n    name: bench\n    namespace: bench-source\n  path: {path}\n  interval: 1h\n  prune: true\n  targetNamespace: {ns}\n  namePrefix: k{i:03}-\n"
            )
        })
        .collect()
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
    let work = std::env::temp_dir().join(format!("weir-bench-apply-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work)?;
    let repo = work.join("repo");
    app_files(&repo.join("small"), 4)?;
    app_files(&repo.join("large"), 1000)?;
    for args in [
        vec!["init", "-q", "-b", "main"],
        vec!["add", "-A"],
        vec![
            "-c",
            "user.name=b",
            "-c",
            "user.email=b@weir.dev",
            "commit",
            "-q",
            "-m",
            "bench",
        ],
    ] {
        util::run(Command::new("git").current_dir(&repo).args(&args))?;
    }
    env.kubectl(&[
        "apply",
        "-k",
        &root.join("config/crd").display().to_string(),
    ])?;
    for ns in [
        "bench-source",
        "bench-100",
        "bench-500",
        "bench-large",
        "bench-kubectl",
    ] {
        // Leftovers of an interrupted run keep their finalizer without a controller: drop it.
        if let Ok(names) = env.kubectl(&[
            "get",
            "kustomizations,gitrepositories",
            "-n",
            ns,
            "-o",
            "name",
        ]) {
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
    let bin = root.join("target/release");
    let mut source = start(
        &bin.join("source-controller"),
        &kubeconfig,
        &[
            "--allow-file-urls",
            "--leader-elect=false",
            "--storage-addr=127.0.0.1:9795",
            "--metrics-addr=127.0.0.1:9796",
        ]
        .iter()
        .map(|s| (*s).to_string())
        .chain([format!("--storage-path={}", work.join("storage").display())])
        .collect::<Vec<_>>(),
        &work.join("source-controller.log"),
    )?;
    let mut ks = start(
        &bin.join("kustomize-controller"),
        &kubeconfig,
        &[
            "--leader-elect=false".to_string(),
            "--metrics-addr=127.0.0.1:9797".into(),
            format!("--work-dir={}", work.join("kc").display()),
        ],
        &work.join("kustomize-controller.log"),
    )?;
    let result = (|| -> anyhow::Result<()> {
        env.apply(
            &format!("apiVersion: source.weir.dev/v1\nkind: GitRepository\nmetadata:\n  name: bench\n  namespace: bench-source\nspec:\n  url: file://{}\n  interval: 1h\n  ref:\n    branch: main\n", repo.display()),
            &[],
        )?;
        env.kubectl(&[
            "wait",
            "--for=condition=Ready",
            "gitrepository/bench",
            "-n",
            "bench-source",
            "--timeout=60s",
        ])?;
        println!(
            "bench apply: kustomize-controller (release, --concurrent 4) on the local control plane"
        );
        for (ns, n) in [("bench-100", 100usize), ("bench-500", 500)] {
            // The clock starts before the objects are created: the controller starts
            // reconciling while kubectl is still creating them.
            let created = Instant::now();
            env.apply(&kustomizations(ns, n, "./small"), &[])?;
            env.wait_ready(ns, n, Duration::from_secs(1200))?;
            let t = created.elapsed().as_secs_f64();
            println!(
                "  {n:>4} Kustomizations x 4 objects : {t:>7.1}s to all Ready, controller peak RSS {:.1} MiB",
                peak_rss_mib(ks.id())
            );
        }
        // One Kustomization of 1,000 objects versus kubectl server-side apply of the same YAML.
        let created = Instant::now();
        env.apply(&kustomizations("bench-large", 1, "./large"), &[])?;
        env.wait_ready("bench-large", 1, Duration::from_secs(1200))?;
        let t_weir = created.elapsed().as_secs_f64();
        let manifests = std::fs::read_to_string(repo.join("large/resources.yaml"))?;
        let start_k = Instant::now();
        env.apply(
            &manifests,
            &["--server-side", "--force-conflicts", "-n", "bench-kubectl"],
        )?;
        let t_kubectl = start_k.elapsed().as_secs_f64();
        println!(
            "  1 Kustomization of 1,000 objects : {t_weir:>7.1}s   kubectl apply --server-side: {t_kubectl:.1}s   ratio {:.2}x",
            t_weir / t_kubectl
        );
        println!(
            "  controller peak RSS over the run : {:.1} MiB",
            peak_rss_mib(ks.id())
        );
        Ok(())
    })();
    // Delete the Kustomizations while the controller still runs, so finalizers complete.
    for ns in ["bench-100", "bench-500", "bench-large"] {
        let _ = env.kubectl(&[
            "delete",
            "kustomizations",
            "--all",
            "-n",
            ns,
            "--timeout=180s",
        ]);
    }
    let _ = ks.kill();
    let _ = source.kill();
    let _ = ks.wait();
    let _ = source.wait();
    for ns in [
        "bench-100",
        "bench-500",
        "bench-large",
        "bench-kubectl",
        "bench-source",
    ] {
        let _ = env.kubectl(&[
            "delete",
            "namespace",
            ns,
            "--wait=false",
            "--ignore-not-found",
        ]);
    }
    let _ = std::fs::remove_dir_all(&work);
    result
}
