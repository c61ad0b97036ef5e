//! `cargo xtask quickstart`: the GitOps loop on this machine in one command. Starts the local
//! cluster (with its real node) and both controllers, builds a small web app's image
//! (`examples/hello`) into the local registry, creates a Git repository declaring the app,
//! lets Weir deploy it until its Pods are Ready, then shows a commit reaching the running app
//! and a manual edit being reverted.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::cluster;
use crate::util::{self, workspace_root};

fn state() -> PathBuf {
    workspace_root().join("target/weir-quickstart")
}

/// Runs the quickstart, or stops it with `stop`.
pub fn run(stop: bool) -> anyhow::Result<()> {
    if stop {
        stop_controllers();
        cluster::down()?;
        let _ = std::fs::remove_dir_all(state());
        println!("Stopped the controllers and the local control plane.");
        return Ok(());
    }
    if cluster::Mode::from_env() != cluster::Mode::WithNode {
        bail!(
            "the quickstart runs a real app and needs the cluster's node: unset WEIR_NO_NODE and KUBEBUILDER_ASSETS"
        );
    }
    let kubeconfig = cluster::up()?;
    demo(&kubeconfig)
}

/// The quickstart on a running cluster with a node (`cargo xtask test` runs it too, after the
/// tests, so that the README's command is checked as written).
pub fn demo(kubeconfig: &Path) -> anyhow::Result<()> {
    let kubeconfig = kubeconfig.to_path_buf();
    let root = workspace_root();
    say("Building the app's image (examples/hello) into the local registry");
    crate::image::build(&crate::image::Request::only(&["hello"]))?;
    say("Building the controllers");
    util::run(Command::new(env!("CARGO")).current_dir(&root).args([
        "build",
        "--quiet",
        "--bins",
        "-p",
        "source-controller",
        "-p",
        "kustomize-controller",
    ]))?;
    stop_controllers();
    let dir = state();
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let kubectl = |args: &[&str]| -> anyhow::Result<String> {
        let out = Command::new("kubectl")
            .env("KUBECONFIG", &kubeconfig)
            .args(args)
            .output()
            .context("running kubectl")?;
        if !out.status.success() {
            bail!(
                "kubectl {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    };
    kubectl(&[
        "apply",
        "-k",
        &root.join("config/crd").display().to_string(),
    ])?;
    let _ = kubectl(&["create", "namespace", "weir-system"]);

    say("Starting source-controller and kustomize-controller");
    let bin = root.join("target/debug");
    spawn(
        &dir,
        &kubeconfig,
        &bin.join("source-controller"),
        &[
            "--allow-file-urls",
            "--leader-elect=false",
            "--log-format=text",
            "--storage-addr=127.0.0.1:9790",
            "--metrics-addr=127.0.0.1:9791",
            &format!("--storage-path={}", dir.join("storage").display()),
        ],
    )?;
    spawn(
        &dir,
        &kubeconfig,
        &bin.join("kustomize-controller"),
        &[
            "--leader-elect=false",
            "--log-format=text",
            "--metrics-addr=127.0.0.1:9792",
            &format!("--work-dir={}", dir.join("work").display()),
        ],
    )?;

    started(&dir, "source-controller", "127.0.0.1:9791")?;
    started(&dir, "kustomize-controller", "127.0.0.1:9792")?;

    say("Creating a Git repository with an example app");
    let repo = dir.join("repo");
    write_app(&repo)?;
    git(&repo, &["init", "-q", "-b", "main"])?;
    git(&repo, &["add", "-A"])?;
    git(&repo, &["commit", "-q", "-m", "Example app"])?;

    say("Declaring the GitRepository and the Kustomization");
    let manifest = format!(
        "apiVersion: source.weir.dev/v1\nkind: GitRepository\nmetadata:\n  name: quickstart\n  namespace: weir-system\nspec:\n  url: file://{}\n  interval: 1m\n  ref:\n    branch: main\n---\napiVersion: kustomize.weir.dev/v1\nkind: Kustomization\nmetadata:\n  name: quickstart\n  namespace: weir-system\nspec:\n  sourceRef:\n    kind: GitRepository\n    name: quickstart\n  path: ./overlays/dev\n  interval: 1m\n  prune: true\n  wait: true\n  timeout: 2m\n",
        repo.display()
    );
    println!("{manifest}");
    apply_stdin(&kubeconfig, &manifest)?;
    kubectl(&[
        "wait",
        "--for=condition=Ready",
        "kustomization/quickstart",
        "-n",
        "weir-system",
        "--timeout=180s",
    ])?;
    println!(
        "{}",
        kubectl(&["get", "kustomization/quickstart", "-n", "weir-system"])?
    );
    say("Weir deployed this from Git, and waited for its Pods to be Ready");
    println!(
        "{}",
        kubectl(&[
            "get",
            "deployment,pods,service,configmap",
            "-n",
            "quickstart",
            "-o",
            "wide"
        ])?
    );
    say("Asking the running app (kubectl port-forward service/web 18080:80)");
    println!("{}", ask_app(&kubeconfig)?);

    say("Committing a change: the greeting becomes \"hello from a commit\"");
    std::fs::write(
        repo.join("base/greeting.env"),
        "GREETING=hello from a commit\n",
    )?;
    git(&repo, &["commit", "-q", "-am", "Change the greeting"])?;
    let sha = git(&repo, &["rev-parse", "HEAD"])?;
    kubectl(&[
        "annotate",
        "--overwrite",
        "gitrepository/quickstart",
        "-n",
        "weir-system",
        &format!("reconcile.weir.dev/requestedAt={}", sha.trim()),
    ])?;
    wait_until(Duration::from_secs(180), "the commit to be applied", || {
        kubectl(&[
            "get",
            "kustomization/quickstart",
            "-n",
            "weir-system",
            "-o",
            "jsonpath={.status.lastAppliedRevision}",
        ])
        .is_ok_and(|r| r.contains(sha.trim()))
    })?;
    // The new ConfigMap has a new hash suffix, so the Deployment rolled out new Pods, and
    // Weir's health check waited for them.
    kubectl(&[
        "rollout",
        "status",
        "deployment/web",
        "-n",
        "quickstart",
        "--timeout=120s",
    ])?;
    println!(
        "{}",
        kubectl(&["get", "pods", "-n", "quickstart", "-o", "wide"])?
    );
    say("Asking the running app again");
    let answer = ask_app(&kubeconfig)?;
    println!("{answer}");
    if answer.trim() != "hello from a commit" {
        bail!("the app answered {answer:?} after the commit");
    }

    say("Editing the cluster by hand: kubectl scale deployment/web --replicas=5");
    kubectl(&[
        "scale",
        "deployment/web",
        "-n",
        "quickstart",
        "--replicas=5",
    ])?;
    println!(
        "{}",
        kubectl(&[
            "get",
            "deployment/web",
            "-n",
            "quickstart",
            "-o",
            "custom-columns=NAME:.metadata.name,REPLICAS:.spec.replicas"
        ])?
    );
    kubectl(&[
        "annotate",
        "--overwrite",
        "kustomization/quickstart",
        "-n",
        "weir-system",
        "reconcile.weir.dev/requestedAt=drift",
    ])?;
    wait_until(Duration::from_secs(60), "the drift to be reverted", || {
        kubectl(&[
            "get",
            "deployment/web",
            "-n",
            "quickstart",
            "-o",
            "jsonpath={.spec.replicas}",
        ])
        .is_ok_and(|r| r.trim() == "2")
    })?;
    say("Weir reverted the drift (Git says 2 replicas)");
    println!(
        "{}",
        kubectl(&[
            "get",
            "deployment/web",
            "-n",
            "quickstart",
            "-o",
            "custom-columns=NAME:.metadata.name,REPLICAS:.spec.replicas"
        ])?
    );

    println!(
        "Look around:\n  export KUBECONFIG={kc}\n  kubectl get gitrepositories,kustomizations -A\n  kubectl describe kustomization quickstart -n weir-system\n  git -C {repo} log --oneline      # edit, commit, and watch Weir apply it\n  logs: {logs}\nStop everything: cargo xtask quickstart --stop",
        kc = kubeconfig.display(),
        repo = repo.display(),
        logs = dir.display()
    );
    Ok(())
}

fn say(s: &str) {
    println!("\n==> {s}");
}

fn write_app(repo: &Path) -> anyhow::Result<()> {
    let files = [
        (
            "base/kustomization.yaml",
            "namespace: quickstart\nresources:\n- namespace.yaml\n- deployment.yaml\n- service.yaml\nconfigMapGenerator:\n- name: greeting\n  envs:\n  - greeting.env\n",
        ),
        (
            "base/namespace.yaml",
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: quickstart\n",
        ),
        ("base/greeting.env", "GREETING=hello from Git\n"),
        (
            "base/deployment.yaml",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 1\n  selector:\n    matchLabels:\n      app: web\n  template:\n    metadata:\n      labels:\n        app: web\n    spec:\n      containers:\n      - name: web\n        image: hello\n        imagePullPolicy: Always\n        envFrom:\n        - configMapRef:\n            name: greeting\n        ports:\n        - containerPort: 8080\n        readinessProbe:\n          httpGet:\n            path: /readyz\n            port: 8080\n          periodSeconds: 1\n          timeoutSeconds: 2\n",
        ),
        (
            "base/service.yaml",
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  selector:\n    app: web\n  ports:\n  - port: 80\n    targetPort: 8080\n    protocol: TCP\n",
        ),
        (
            "overlays/dev/kustomization.yaml",
            "commonLabels:\n  env: dev\nresources:\n- ../../base\nreplicas:\n- name: web\n  count: 2\nimages:\n- name: hello\n  newName: 127.0.0.1:5000/weir/hello\n  newTag: dev\n",
        ),
    ];
    for (path, body) in files {
        let full = repo.join(path);
        if let Some(parent) = full.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(full, body)?;
    }
    Ok(())
}

fn git(repo: &Path, args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new("git")
        .current_dir(repo)
        .args([
            "-c",
            "user.name=Weir Quickstart",
            "-c",
            "user.email=quickstart@weir.dev",
        ])
        .args(args)
        .output()?;
    if !out.status.success() {
        bail!(
            "git {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn apply_stdin(kubeconfig: &Path, manifest: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut child = Command::new("kubectl")
        .env("KUBECONFIG", kubeconfig)
        .args(["apply", "-f", "-"])
        .stdin(Stdio::piped())
        .spawn()?;
    child
        .stdin
        .take()
        .context("kubectl stdin")?
        .write_all(manifest.as_bytes())?;
    if !child.wait()?.success() {
        bail!("kubectl apply failed");
    }
    Ok(())
}

fn spawn(dir: &Path, kubeconfig: &Path, binary: &Path, args: &[&str]) -> anyhow::Result<()> {
    use std::os::unix::process::CommandExt;
    let name = binary
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let log = std::fs::File::create(dir.join(format!("{name}.log")))?;
    let child = Command::new(binary)
        .env("KUBECONFIG", kubeconfig)
        .args(args)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .process_group(0)
        .spawn()
        .with_context(|| format!("starting {name}"))?;
    std::fs::write(dir.join(format!("{name}.pid")), child.id().to_string())?;
    Ok(())
}

/// Waits until a controller answers `/readyz` on its metrics address; fails at once, with the
/// start of its log, when the process has exited (a port in use, a bad flag).
fn started(dir: &Path, name: &str, metrics: &str) -> anyhow::Result<()> {
    let pid = std::fs::read_to_string(dir.join(format!("{name}.pid")))?;
    let log = dir.join(format!("{name}.log"));
    let begun = Instant::now();
    while begun.elapsed() < Duration::from_secs(60) {
        // Gone, or a zombie (xtask never reaps the processes it starts).
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", pid.trim())).unwrap_or_default();
        let state = stat
            .rsplit_once(") ")
            .and_then(|(_, rest)| rest.chars().next());
        if matches!(state, None | Some('Z')) {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            let first = text.lines().next().unwrap_or("(empty log)");
            bail!("{name} exited at start: {first} (log: {})", log.display());
        }
        let ready = Command::new("curl")
            .args([
                "-sf",
                "--max-time",
                "2",
                &format!("http://{metrics}/readyz"),
            ])
            .output()
            .is_ok_and(|o| o.status.success());
        if ready {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    bail!(
        "{name} did not become ready within 60s (log: {})",
        log.display()
    )
}

/// Stops the quickstart's controller processes.
pub fn stop_controllers() {
    for name in ["source-controller", "kustomize-controller"] {
        if let Ok(pid) = std::fs::read_to_string(state().join(format!("{name}.pid"))) {
            let _ = Command::new("kill")
                .arg(pid.trim())
                .stderr(Stdio::null())
                .status();
        }
    }
}

fn wait_until(limit: Duration, what: &str, mut check: impl FnMut() -> bool) -> anyhow::Result<()> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if check() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    bail!(
        "timed out waiting for {what}; see the logs in {}",
        state().display()
    )
}

/// GETs `/` of the app through `kubectl port-forward service/web`, restarting the forward
/// when it ends (it does when the Pod it picked goes away during a rollout).
fn ask_app(kubeconfig: &Path) -> anyhow::Result<String> {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(60) {
        let port = util::free_port()?;
        let mut forward = Command::new("kubectl")
            .env("KUBECONFIG", kubeconfig)
            .args([
                "port-forward",
                "service/web",
                &format!("{port}:80"),
                "-n",
                "quickstart",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting kubectl port-forward")?;
        let mut answer = None;
        for _ in 0..20 {
            if forward.try_wait()?.is_some() {
                break;
            }
            let out = Command::new("curl")
                .args([
                    "-sf",
                    "--max-time",
                    "5",
                    &format!("http://127.0.0.1:{port}/"),
                ])
                .output()?;
            if out.status.success() {
                answer = Some(String::from_utf8_lossy(&out.stdout).trim().to_string());
                break;
            }
            std::thread::sleep(Duration::from_millis(300));
        }
        let _ = forward.kill();
        let _ = forward.wait();
        if let Some(answer) = answer {
            return Ok(answer);
        }
    }
    bail!("the app did not answer through kubectl port-forward within 60s")
}
