//! `cargo xtask fuzz`: builds the cargo-fuzz targets in `fuzz/` and runs each for a while.
//!
//! cargo-fuzz is installed under `~/.cache/weir/cargo-fuzz` and the instrumented build goes
//! to `~/.cache/weir/fuzz-target`, so CI reuses both. Stable Rust is enough: the build sets
//! `RUSTC_BOOTSTRAP=1` for the nightly-only flags cargo-fuzz passes.
//!
//! Per target, in order:
//! 1. every file in `fuzz/regressions/<target>/` (crashers found earlier) is replayed once;
//! 2. the target runs for the given time over the working corpus
//!    `~/.cache/weir/fuzz-corpus/<target>/` (kept between runs, new inputs are added there)
//!    and the seeds in `fuzz/corpus/<target>/`, with a 1 GiB memory and 10 s per-input limit,
//!    so exhaustion is a failure like a panic;
//! 3. a crash (or an out-of-memory or timeout input) is copied to `fuzz/regressions/<target>/`
//!    and the command fails naming it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, bail};

use crate::util::{self, cache_dir, workspace_root};

/// The fuzz targets (`fuzz/fuzz_targets/<name>.rs`).
pub const TARGETS: &[&str] = &[
    "yaml_read",
    "yaml_roundtrip",
    "kustomize_build",
    "untar",
    "git_ref",
];

/// The cargo-fuzz release installed into the cache.
const CARGO_FUZZ_VERSION: &str = "0.13.2";

/// Memory limit of a fuzz process, in MiB: using more is reported as a failure.
const RSS_LIMIT_MB: u32 = 1024;

/// Time limit of one input, in seconds: taking longer is reported as a failure.
const INPUT_TIMEOUT_S: u32 = 10;

/// Seconds per target of the smoke run `cargo xtask test` ends with.
const SMOKE_SECONDS: u64 = 10;

#[derive(clap::Args)]
pub struct Options {
    /// Seconds each target runs.
    #[arg(long, default_value_t = 60, env = "WEIR_FUZZ_SECONDS")]
    pub seconds: u64,
    /// Run only this target (one of yaml_read, yaml_roundtrip, kustomize_build, untar,
    /// git_ref).
    #[arg(long, env = "WEIR_FUZZ_TARGET")]
    pub target: Option<String>,
}

/// What one target's run did.
struct Outcome {
    target: &'static str,
    seconds: f64,
    executions: Option<u64>,
    /// The saved crasher, when one was found.
    crash: Option<PathBuf>,
}

/// `cargo xtask fuzz`.
///
/// # Errors
/// A failed install or build, a regression input that still fails, or a new crash.
pub fn run(options: &Options) -> anyhow::Result<()> {
    let targets: Vec<&'static str> = match &options.target {
        None => TARGETS.to_vec(),
        Some(name) => match TARGETS.iter().find(|t| *t == name) {
            Some(t) => vec![*t],
            None => bail!(
                "unknown fuzz target {name:?}; the targets are {}",
                TARGETS.join(", ")
            ),
        },
    };
    let started = Instant::now();
    ensure_cargo_fuzz()?;
    build()?;
    eprintln!(
        "xtask: fuzz: install and build took {:.0} s",
        started.elapsed().as_secs_f64()
    );
    let bins = bin_dir()?;
    let mut outcomes = Vec::new();
    for target in targets {
        let bin = bins.join(target);
        replay_regressions(&bin, target)?;
        outcomes.push(fuzz_target(&bin, target, options.seconds)?);
    }
    println!(
        "{:<16} {:>8} {:>12}  result",
        "target", "seconds", "executions"
    );
    for o in &outcomes {
        let execs = o
            .executions
            .map_or_else(|| "?".to_string(), |n| n.to_string());
        let result = match &o.crash {
            Some(path) => format!("CRASH {}", path.display()),
            None => "no crash".to_string(),
        };
        println!(
            "{:<16} {:>8.0} {:>12}  {result}",
            o.target, o.seconds, execs
        );
    }
    let crashes: Vec<String> = outcomes
        .iter()
        .filter_map(|o| o.crash.as_ref())
        .map(|p| p.display().to_string())
        .collect();
    if !crashes.is_empty() {
        bail!(
            "fuzzing found crashes, saved as regressions: {} (replay one with `{}/<target> <file>`)",
            crashes.join(", "),
            bins.display()
        );
    }
    Ok(())
}

/// The short run `cargo xtask test` ends with: every regression replayed, then each target
/// for [`SMOKE_SECONDS`] (`WEIR_FUZZ_SMOKE_SECONDS` overrides it; `0` skips the smoke run).
/// Prints how long it took, install and build included.
///
/// # Errors
/// As [`run`].
pub fn smoke() -> anyhow::Result<()> {
    let seconds = match std::env::var("WEIR_FUZZ_SMOKE_SECONDS") {
        Ok(s) => s
            .parse()
            .with_context(|| format!("WEIR_FUZZ_SMOKE_SECONDS={s:?} is not a number"))?,
        Err(_) => SMOKE_SECONDS,
    };
    if seconds == 0 {
        eprintln!("xtask: fuzz smoke run skipped (WEIR_FUZZ_SMOKE_SECONDS=0)");
        return Ok(());
    }
    let started = Instant::now();
    let result = run(&Options {
        seconds,
        target: None,
    });
    eprintln!(
        "xtask: fuzz smoke run ({seconds} s per target) took {:.0} s in all",
        started.elapsed().as_secs_f64()
    );
    result
}

fn fuzz_dir() -> PathBuf {
    workspace_root().join("fuzz")
}

fn target_dir() -> PathBuf {
    cache_dir().join("fuzz-target")
}

fn cargo_fuzz_root() -> PathBuf {
    cache_dir().join("cargo-fuzz")
}

/// Installs cargo-fuzz into the cache unless that version is there.
fn ensure_cargo_fuzz() -> anyhow::Result<()> {
    let root = cargo_fuzz_root();
    let installed = Command::new(root.join("bin/cargo-fuzz"))
        .args(["fuzz", "--version"])
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains(CARGO_FUZZ_VERSION));
    if installed {
        return Ok(());
    }
    eprintln!(
        "xtask: installing cargo-fuzz {CARGO_FUZZ_VERSION} into {}",
        root.display()
    );
    util::run(
        Command::new(env!("CARGO"))
            .args([
                "install",
                "cargo-fuzz",
                "--locked",
                "--version",
                CARGO_FUZZ_VERSION,
                "--root",
            ])
            .arg(&root),
    )
}

/// A `cargo fuzz` command run in `fuzz/`, on stable Rust.
fn cargo_fuzz() -> anyhow::Result<Command> {
    let bin = cargo_fuzz_root().join("bin");
    let path = std::env::var_os("PATH").unwrap_or_default();
    let path = std::env::join_paths(std::iter::once(bin).chain(std::env::split_paths(&path)))?;
    let mut cmd = Command::new(env!("CARGO"));
    cmd.current_dir(fuzz_dir())
        .arg("fuzz")
        .env("PATH", path)
        .env("RUSTC_BOOTSTRAP", "1")
        .env("CARGO_TARGET_DIR", target_dir());
    Ok(cmd)
}

/// Builds every target, instrumented, with AddressSanitizer (cargo-fuzz's default).
fn build() -> anyhow::Result<()> {
    util::run(cargo_fuzz()?.arg("build"))
}

/// Where `cargo fuzz build` puts the binaries: `<target dir>/<host triple>/release`.
fn bin_dir() -> anyhow::Result<PathBuf> {
    let out = Command::new("rustc")
        .arg("-vV")
        .output()
        .context("running rustc -vV")?;
    let text = String::from_utf8_lossy(&out.stdout);
    let host = text
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .context("rustc -vV printed no host triple")?;
    Ok(target_dir().join(host).join("release"))
}

/// The libFuzzer flags every run uses.
fn limits() -> [String; 2] {
    [
        format!("-rss_limit_mb={RSS_LIMIT_MB}"),
        format!("-timeout={INPUT_TIMEOUT_S}"),
    ]
}

/// Runs every saved crasher of `target` once; any that still fails fails the command.
fn replay_regressions(bin: &Path, target: &str) -> anyhow::Result<()> {
    let dir = fuzz_dir().join("regressions").join(target);
    let count = std::fs::read_dir(&dir).map_or(0, |d| d.flatten().count());
    if count == 0 {
        return Ok(());
    }
    eprintln!(
        "xtask: fuzz: {target}: replaying {count} regression input(s) from {}",
        dir.display()
    );
    let status = Command::new(bin)
        .arg("-runs=0")
        .args(limits())
        .arg(&dir)
        .status()
        .with_context(|| format!("starting {}", bin.display()))?;
    if !status.success() {
        bail!(
            "{target}: a regression input in {} still fails ({status}); the output above names it",
            dir.display()
        );
    }
    Ok(())
}

/// Fuzzes `target` for `seconds` and saves what it found.
fn fuzz_target(bin: &Path, target: &'static str, seconds: u64) -> anyhow::Result<Outcome> {
    let corpus = cache_dir().join("fuzz-corpus").join(target);
    let artifacts = cache_dir().join("fuzz-artifacts").join(target);
    let logs = cache_dir().join("fuzz-logs");
    for dir in [&corpus, &logs] {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    // Only this run's findings in the artifact directory.
    let _ = std::fs::remove_dir_all(&artifacts);
    std::fs::create_dir_all(&artifacts)
        .with_context(|| format!("creating {}", artifacts.display()))?;
    if target == "untar" {
        write_untar_seeds(&corpus)?;
    }
    let log = logs.join(format!("{target}.log"));
    let log_file =
        std::fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
    eprintln!(
        "xtask: fuzz: {target}: {seconds} s (log: {})",
        log.display()
    );
    let started = Instant::now();
    let mut command = Command::new(bin);
    command.arg(&corpus);
    // The committed seeds, when the target has any (Git keeps no empty folders, so a fresh
    // clone has none for targets whose seeds are made at run time).
    let seeds = fuzz_dir().join("corpus").join(target);
    if seeds.is_dir() {
        command.arg(seeds);
    }
    let status = command
        .arg(format!("-max_total_time={seconds}"))
        .args(limits())
        .arg(format!("-artifact_prefix={}/", artifacts.display()))
        .arg("-print_final_stats=1")
        .stdout(Stdio::null())
        .stderr(log_file)
        .status()
        .with_context(|| format!("starting {}", bin.display()))?;
    let elapsed = started.elapsed().as_secs_f64();
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let executions = text
        .lines()
        .find_map(|l| l.strip_prefix("stat::number_of_executed_units:"))
        .and_then(|n| n.trim().parse().ok());
    let crash = if status.success() {
        None
    } else {
        let Some(found) = std::fs::read_dir(&artifacts)?
            .flatten()
            .map(|e| e.path())
            .next()
        else {
            bail!(
                "{target}: the fuzzer failed ({status}) without saving an input; see {}",
                log.display()
            );
        };
        let name = found.file_name().context("artifact without a name")?;
        let dir = fuzz_dir().join("regressions").join(target);
        std::fs::create_dir_all(&dir)?;
        let saved = dir.join(name);
        std::fs::copy(&found, &saved)
            .with_context(|| format!("copying {} to {}", found.display(), saved.display()))?;
        eprintln!(
            "xtask: fuzz: {target}: found {}; last lines of {}:",
            saved.display(),
            log.display()
        );
        let lines: Vec<&str> = text.lines().collect();
        for line in &lines[lines.len().saturating_sub(40)..] {
            eprintln!("  {line}");
        }
        Some(saved)
    };
    Ok(Outcome {
        target,
        seconds: elapsed,
        executions,
        crash,
    })
}

/// Seeds for the untar target, made with the system `tar` (archives are binary, so they are
/// made here rather than kept in the repository): a small tree, and one each with a long
/// name and with a symlink (which unpacking refuses).
fn write_untar_seeds(corpus: &Path) -> anyhow::Result<()> {
    if corpus.join("seed-tree.tar.gz").exists() {
        return Ok(());
    }
    let scratch = cache_dir().join("fuzz-untar-seed");
    let _ = std::fs::remove_dir_all(&scratch);
    let tree = scratch.join("tree");
    std::fs::create_dir_all(tree.join("deploy/base"))?;
    std::fs::write(
        tree.join("deploy/base/kustomization.yaml"),
        "resources:\n  - deployment.yaml\n",
    )?;
    std::fs::write(
        tree.join("deploy/base/deployment.yaml"),
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n",
    )?;
    std::fs::write(tree.join("README.md"), "# seed\n")?;
    let tar = |name: &str, dir: &Path| -> anyhow::Result<()> {
        util::run(
            Command::new("tar")
                .arg("-czf")
                .arg(corpus.join(name))
                .arg("-C")
                .arg(dir)
                .arg("."),
        )
    };
    tar("seed-tree.tar.gz", &tree)?;
    let long = scratch.join("long");
    let deep = long.join("a".repeat(60)).join("b".repeat(60));
    std::fs::create_dir_all(&deep)?;
    std::fs::write(deep.join("file.txt"), "long name\n")?;
    tar("seed-long-name.tar.gz", &long)?;
    let link = scratch.join("link");
    std::fs::create_dir_all(&link)?;
    std::fs::write(link.join("target.txt"), "x\n")?;
    std::os::unix::fs::symlink("target.txt", link.join("link.txt"))?;
    tar("seed-symlink.tar.gz", &link)?;
    let _ = std::fs::remove_dir_all(&scratch);
    Ok(())
}
