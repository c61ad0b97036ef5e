//! `cargo xtask image`: one OCI image per controller (and `examples/hello`), built `FROM scratch` with buildah and
//! pushed to a registry (by default the one `cargo xtask cluster up` runs on 127.0.0.1:5000).
//!
//! 1. One `cargo build --release --locked` of every image's binary, static (glibc static-pie:
//!    `-C target-feature=+crt-static`), in `~/.cache/weir/image-target`.
//! 2. Per image, a root folder: the binary in `/usr/local/bin`, the host's CA bundle,
//!    `/etc/passwd` and `/etc/group` with user `weir` (65532), an `nsswitch.conf`, a
//!    world-writable `/tmp`, and the programs the binary runs with their shared libraries
//!    (ldd).
//! 3. `buildah from scratch`, one `copy` of that folder, `config` (user 65532:65532,
//!    entrypoint, OCI labels), `commit` with the HEAD commit's time as timestamp, tags
//!    `REGISTRY/weir/<name>:<version>` and `:dev`, push over plain HTTP.
//!
//! buildah keeps its storage in `~/.cache/weir/image-buildah` (vfs driver: no mounts) and the
//! previous images are pruned after each run. It also creates a few host paths whatever
//! `--root` says; those it created are removed at the end. `Dockerfile` is the equivalent for
//! Docker users; keep the two in step.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, bail};

use crate::util::{self, cache_dir, workspace_root};

/// An image: a workspace binary and the host programs it runs.
struct Image {
    /// The image name (`REGISTRY/weir/<name>`).
    name: &'static str,
    /// The cargo package and its binary.
    package: &'static str,
    binary: &'static str,
    /// Programs copied with their shared libraries, and the Debian packages that have them.
    programs: &'static [(&'static str, &'static str)],
}

/// Every image: the controllers, and `examples/hello` (the test cluster's workload). A new
/// controller is one line here (and one stage in `Dockerfile`).
const IMAGES: &[Image] = &[
    // SSH Git URLs run `core.sshCommand` (`ssh 2>>... -o ...`), which gix runs with
    // `/bin/sh -c` because of the redirection (see source-controller/src/git.rs).
    controller("source-controller", SSH),
    controller("kustomize-controller", &[]),
    Image {
        name: "hello",
        package: "weir-hello",
        binary: "hello",
        programs: &[],
    },
];

/// `ssh` and the shell that runs it.
const SSH: &[(&str, &str)] = &[("/usr/bin/ssh", "openssh-client"), ("/bin/sh", "dash")];

/// A controller: image, package and binary share its name.
const fn controller(
    name: &'static str,
    programs: &'static [(&'static str, &'static str)],
) -> Image {
    Image {
        name,
        package: name,
        binary: name,
        programs,
    }
}

/// The Rust target of the static build (glibc static-pie; no musl toolchain needed).
const TARGET: &str = "x86_64-unknown-linux-gnu";

/// The user the images run as (distroless' `nonroot`), matching `runAsNonRoot`.
const UID: u32 = 65532;

/// Where Debian's `ca-certificates` puts the bundle, and where the images have it.
const CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// Host paths buildah creates even with `--root`/`--runroot` (deepest first).
const BUILDAH_LEFTOVERS: &[&str] = &[
    "/etc/cni/net.d/cni.lock",
    "/etc/cni/net.d",
    "/etc/cni",
    "/var/lib/containers/cache",
    "/var/lib/containers",
    "/run/containers/networks",
    "/run/containers",
];

/// `cargo xtask image`.
#[derive(clap::Args)]
pub struct Options {
    /// Registry to push to, over plain HTTP (no TLS verification).
    #[arg(long, value_name = "REGISTRY", default_value = REGISTRY)]
    push: String,
    /// Build and keep the images in buildah's storage only.
    #[arg(long, conflicts_with = "push")]
    no_push: bool,
    /// Build only this image (repeatable): source-controller, kustomize-controller, hello.
    #[arg(long, value_name = "NAME")]
    only: Vec<String>,
    /// `org.opencontainers.image.source` (default: the `origin` remote's URL).
    #[arg(long, env = "WEIR_IMAGE_SOURCE")]
    source: Option<String>,
}

/// The registry `cargo xtask cluster up` runs.
pub const REGISTRY: &str = "127.0.0.1:5000";

/// What to build and where to push it.
pub struct Request {
    /// Image names; empty for all.
    only: Vec<String>,
    /// Where to push; `None` keeps the images in buildah's storage.
    registry: Option<String>,
    /// `org.opencontainers.image.source`; `None` for the `origin` remote's URL.
    source: Option<String>,
}

impl Request {
    /// Every image, pushed to [`REGISTRY`].
    pub fn all() -> Self {
        Self {
            only: Vec::new(),
            registry: Some(REGISTRY.to_string()),
            source: None,
        }
    }

    /// The images named, pushed to [`REGISTRY`].
    pub fn only(names: &[&str]) -> Self {
        Self {
            only: names.iter().map(ToString::to_string).collect(),
            ..Self::all()
        }
    }
}

/// `cargo xtask image`: builds and pushes, then prints each image and its size.
///
/// # Errors
/// As [`build`].
pub fn run(options: &Options) -> anyhow::Result<()> {
    let request = Request {
        only: options.only.clone(),
        registry: (!options.no_push).then(|| options.push.clone()),
        source: options.source.clone(),
    };
    for built in build(&request)? {
        let pushed = built.pushed_bytes.map_or(String::new(), |p| {
            format!(", {} pushed (compressed)", mib(p))
        });
        println!(
            "{} (and :dev)  {}{pushed}",
            built.reference,
            mib(built.bytes)
        );
    }
    Ok(())
}

/// A built image.
pub struct Built {
    /// `REGISTRY/weir/<name>:<version>` (also tagged `:dev`).
    pub reference: String,
    /// Uncompressed size.
    pub bytes: u64,
    /// What the registry stores (config and compressed layers), when pushed.
    pub pushed_bytes: Option<u64>,
}

/// Builds the images (one static release build for all), tags them `:<version>` and `:dev`
/// and pushes them.
///
/// # Errors
/// An unknown image name, a failed build, buildah failures or an unreachable registry.
pub fn build(request: &Request) -> anyhow::Result<Vec<Built>> {
    let images = select(&request.only)?;
    let mut packages = vec!["buildah", "ca-certificates", "curl"];
    packages.extend(images.iter().flat_map(|c| c.programs.iter().map(|p| p.1)));
    util::ensure_debian_packages(&packages)?;

    let root = workspace_root();
    let started = Instant::now();
    let binaries = compile(&root, &images)?;
    eprintln!("xtask: static build took {:.1?}", started.elapsed());

    let version = env!("CARGO_PKG_VERSION");
    let revision = git(&root, &["rev-parse", "HEAD"])?;
    let timestamp = git(&root, &["show", "-s", "--format=%ct", "HEAD"])?;
    let source = request.source.clone().or_else(|| {
        git(&root, &["remote", "get-url", "origin"])
            .ok()
            .filter(|u| !u.is_empty())
    });
    if source.is_none() {
        eprintln!(
            "xtask: no `origin` remote: the images get no org.opencontainers.image.source label (pass --source)"
        );
    }
    let mut labels = vec![
        format!("org.opencontainers.image.revision={revision}"),
        format!("org.opencontainers.image.version={version}"),
    ];
    labels.extend(source.map(|s| format!("org.opencontainers.image.source={s}")));

    // Without a registry the references still need one: buildah's storage keys by name.
    let registry = request.registry.as_deref().unwrap_or(REGISTRY);
    let leftovers: Vec<&str> = BUILDAH_LEFTOVERS
        .iter()
        .copied()
        .filter(|p| !Path::new(p).exists())
        .collect();
    let result = (|| {
        let buildah = Buildah::new(cache_dir().join("image-buildah"))?;
        let mut built = Vec::new();
        for (image, binary) in images.iter().zip(&binaries) {
            let started = Instant::now();
            let refs = [
                format!("{registry}/weir/{}:{version}", image.name),
                format!("{registry}/weir/{}:dev", image.name),
            ];
            let rootfs = TempDir::new(image.name)?;
            stage(rootfs.path(), image, binary)?;
            buildah.image(rootfs.path(), image, &labels, &timestamp, &refs)?;
            let mut pushed_bytes = None;
            if request.registry.is_some() {
                for r in &refs {
                    buildah.push(r)?;
                }
                pushed_bytes = Some(pushed_size(registry, image.name, version)?);
            }
            eprintln!(
                "xtask: image {} built{} in {:.1?}",
                refs[0],
                if pushed_bytes.is_some() {
                    " and pushed"
                } else {
                    ""
                },
                started.elapsed()
            );
            built.push(Built {
                reference: refs[0].clone(),
                bytes: dir_size(rootfs.path())?,
                pushed_bytes,
            });
        }
        buildah.prune()?;
        Ok::<_, anyhow::Error>(built)
    })();
    remove_leftovers(&leftovers);
    eprintln!("xtask: images done in {:.1?}", started.elapsed());
    result
}

/// The images `only` names (all when empty).
fn select(only: &[String]) -> anyhow::Result<Vec<&'static Image>> {
    if let Some(unknown) = only
        .iter()
        .find(|n| !IMAGES.iter().any(|c| c.name == n.as_str()))
    {
        let known: Vec<_> = IMAGES.iter().map(|c| c.name).collect();
        bail!("no image named {unknown:?}; known: {}", known.join(", "));
    }
    Ok(IMAGES
        .iter()
        .filter(|c| only.is_empty() || only.iter().any(|n| n == c.name))
        .collect())
}

/// One static release build of `images`; returns their binaries, checked to be static.
fn compile(root: &Path, images: &[&Image]) -> anyhow::Result<Vec<PathBuf>> {
    let target_dir = cache_dir().join("image-target");
    let mut cargo = Command::new(env!("CARGO"));
    cargo
        .current_dir(root)
        .args(["build", "--release", "--locked", "--target", TARGET])
        .env("CARGO_TARGET_DIR", &target_dir)
        .env("RUSTFLAGS", "-C target-feature=+crt-static")
        .env_remove("CARGO_ENCODED_RUSTFLAGS");
    for image in images {
        cargo.args(["-p", image.package]);
    }
    util::run(&mut cargo)?;
    let release = target_dir.join(TARGET).join("release");
    images
        .iter()
        .map(|image| {
            let binary = release.join(image.binary);
            let ldd = Command::new("ldd").arg(&binary).output()?;
            let text = String::from_utf8_lossy(&ldd.stdout);
            if !(text.contains("statically linked") || text.contains("not a dynamic executable")) {
                bail!("{} is not static (ldd: {})", binary.display(), text.trim());
            }
            Ok(binary)
        })
        .collect()
}

/// Writes the image's root folder.
fn stage(rootfs: &Path, image: &Image, binary: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let write = |path: &str, contents: &str| -> anyhow::Result<()> {
        let path = rootfs.join(path);
        std::fs::create_dir_all(path.parent().unwrap_or(rootfs))?;
        std::fs::write(&path, contents).with_context(|| format!("writing {}", path.display()))
    };
    // HOME is /tmp, the one writable folder (an emptyDir under readOnlyRootFilesystem).
    write(
        "etc/passwd",
        &format!(
            "root:x:0:0:root:/root:/sbin/nologin\nweir:x:{UID}:{UID}:weir:/tmp:/sbin/nologin\n"
        ),
    )?;
    write("etc/group", &format!("root:x:0:\nweir:x:{UID}:\n"))?;
    write(
        "etc/nsswitch.conf",
        "passwd: files\ngroup: files\nhosts: files dns\n",
    )?;
    copy_into(rootfs, Path::new(CA_BUNDLE))?;
    let tmp = rootfs.join("tmp");
    std::fs::create_dir_all(&tmp)?;
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o1777))?;
    let bin = rootfs.join("usr/local/bin");
    std::fs::create_dir_all(&bin)?;
    std::fs::copy(binary, bin.join(image.binary))
        .with_context(|| format!("copying {}", binary.display()))?;
    for (program, _) in image.programs {
        copy_into(rootfs, Path::new(program))?;
        for lib in shared_libraries(program)? {
            copy_into(rootfs, &lib)?;
        }
    }
    Ok(())
}

/// The shared libraries `program` loads, the dynamic loader included (from `ldd`).
fn shared_libraries(program: &str) -> anyhow::Result<Vec<PathBuf>> {
    let out = Command::new("ldd")
        .arg(program)
        .output()
        .with_context(|| format!("ldd {program}"))?;
    if !out.status.success() {
        bail!(
            "ldd {program} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let text = String::from_utf8_lossy(&out.stdout);
    if let Some(missing) = text.lines().find(|l| l.contains("not found")) {
        bail!(
            "{program} needs a library that is not installed: {}",
            missing.trim()
        );
    }
    Ok(ldd_paths(&text))
}

/// The paths in `ldd` output: `libz.so.1 => /lib/x86_64-linux-gnu/libz.so.1 (0x...)` and
/// `/lib64/ld-linux-x86-64.so.2 (0x...)`; the vDSO has none.
fn ldd_paths(text: &str) -> Vec<PathBuf> {
    text.lines()
        .filter_map(|line| {
            let path = line.split("=>").last()?.split_whitespace().next()?;
            path.starts_with('/').then(|| PathBuf::from(path))
        })
        .collect()
}

/// Copies the host file `path` (following links) to the same path under `rootfs`.
fn copy_into(rootfs: &Path, path: &Path) -> anyhow::Result<()> {
    let dest = rootfs.join(path.strip_prefix("/").unwrap_or(path));
    std::fs::create_dir_all(dest.parent().unwrap_or(rootfs))?;
    std::fs::copy(path, &dest).with_context(|| format!("copying {}", path.display()))?;
    Ok(())
}

/// A folder removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> anyhow::Result<Self> {
        let path = std::env::temp_dir().join(format!("weir-image-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path)?;
        Ok(Self(path))
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Removes the buildah leftovers that did not exist before this run (files, then folders
/// once empty).
fn remove_leftovers(created: &[&str]) {
    for path in created {
        let path = Path::new(path);
        if path.is_dir() {
            let _ = std::fs::remove_dir(path).or_else(|_| {
                // cache/ and networks/ hold only what this run put there.
                if path.ends_with("cache") || path.ends_with("networks") {
                    std::fs::remove_dir_all(path)
                } else {
                    Ok(())
                }
            });
        } else if path.exists() {
            let _ = std::fs::remove_file(path);
        }
    }
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / 1048576.0)
}

/// The bytes of the files under `dir` (the image's uncompressed size).
fn dir_size(dir: &Path) -> anyhow::Result<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let meta = entry.metadata()?;
        total += if meta.is_dir() {
            dir_size(&entry.path())?
        } else {
            meta.len()
        };
    }
    Ok(total)
}

/// What the registry stores for `weir/<name>:<tag>`: the manifest's config and (compressed)
/// layers.
fn pushed_size(registry: &str, name: &str, tag: &str) -> anyhow::Result<u64> {
    let url = format!("http://{registry}/v2/weir/{name}/manifests/{tag}");
    let out = Command::new("curl")
        .args(["-fsS", "-H"])
        .arg(
            "Accept: application/vnd.oci.image.manifest.v1+json, \
             application/vnd.docker.distribution.manifest.v2+json",
        )
        .arg(&url)
        .output()
        .context("starting curl")?;
    if !out.status.success() {
        bail!("GET {url}: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    let manifest: serde_json::Value =
        serde_json::from_slice(&out.stdout).with_context(|| format!("reading {url}"))?;
    let layers = manifest["layers"].as_array().into_iter().flatten();
    Ok(layers
        .chain(std::iter::once(&manifest["config"]))
        .filter_map(|d| d["size"].as_u64())
        .sum())
}

fn git(root: &Path, args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new("git").current_dir(root).args(args).output()?;
    if !out.status.success() {
        bail!(
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// buildah with its storage in `state` and the vfs driver.
struct Buildah {
    state: PathBuf,
}

impl Buildah {
    fn new(state: PathBuf) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&state)?;
        Ok(Self { state })
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new("buildah");
        cmd.arg("--root")
            .arg(self.state.join("root"))
            .arg("--runroot")
            .arg(self.state.join("run"))
            .args(["--storage-driver", "vfs"]);
        cmd
    }

    fn output(&self, args: &[&str]) -> anyhow::Result<String> {
        let out = self
            .command()
            .args(args)
            .output()
            .context("starting buildah")?;
        if !out.status.success() {
            bail!(
                "buildah {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    /// Commits `rootfs` as one layer with the image's config, tagged `refs`.
    fn image(
        &self,
        rootfs: &Path,
        image: &Image,
        labels: &[String],
        timestamp: &str,
        refs: &[String],
    ) -> anyhow::Result<()> {
        let container = self.output(&["from", "scratch"])?;
        let result = (|| {
            let src = format!("{}/", rootfs.display());
            self.output(&["copy", "--quiet", "--chown", "0:0", &container, &src, "/"])?;
            let entrypoint = format!("[\"/usr/local/bin/{}\"]", image.binary);
            let user = format!("{UID}:{UID}");
            let mut config = vec![
                "config",
                "--entrypoint",
                &entrypoint,
                "--cmd",
                "",
                "--user",
                &user,
                "--env",
                "PATH=/usr/local/bin:/usr/bin:/bin",
                "--workingdir",
                "/",
            ];
            for label in labels {
                config.extend(["--label", label]);
            }
            config.push(&container);
            self.output(&config)?;
            self.output(&[
                "commit",
                "--quiet",
                "--rm",
                "--timestamp",
                timestamp,
                &container,
                &refs[0],
            ])?;
            for r in &refs[1..] {
                self.output(&["tag", &refs[0], r])?;
            }
            Ok(())
        })();
        if result.is_err() {
            let _ = self.output(&["rm", &container]);
        }
        result
    }

    fn push(&self, reference: &str) -> anyhow::Result<()> {
        let dest = format!("docker://{reference}");
        self.output(&["push", "--quiet", "--tls-verify=false", reference, &dest])
            .with_context(|| format!("pushing {reference} (is the registry running?)"))?;
        Ok(())
    }

    /// Removes images no tag points to any more (the previous builds).
    fn prune(&self) -> anyhow::Result<()> {
        let dangling = self.output(&["images", "--quiet", "--filter", "dangling=true"])?;
        for id in dangling.lines().filter(|l| !l.is_empty()) {
            let _ = self.output(&["rmi", id]);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ldd_output_gives_every_library_and_the_loader() {
        let text = "\tlinux-vdso.so.1 (0x00007ffd)\n\
                    \tlibz.so.1 => /lib/x86_64-linux-gnu/libz.so.1 (0x00007f74)\n\
                    \tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f74)\n\
                    \t/lib64/ld-linux-x86-64.so.2 (0x00007f74)\n";
        assert_eq!(
            ldd_paths(text),
            [
                "/lib/x86_64-linux-gnu/libz.so.1",
                "/lib/x86_64-linux-gnu/libc.so.6",
                "/lib64/ld-linux-x86-64.so.2"
            ]
            .map(PathBuf::from)
        );
    }

    #[test]
    fn unknown_names_are_refused_with_the_known_ones() {
        let err = select(&["helm-controller".into()])
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some(
                "no image named \"helm-controller\"; known: source-controller, \
                 kustomize-controller, hello"
            )
        );
        assert_eq!(select(&[]).map(|v| v.len()).ok(), Some(IMAGES.len()));
    }

    /// The Dockerfile makes the same images: a stage per controller, built in the one cargo
    /// invocation, with the same entrypoint, user, version and programs.
    #[test]
    fn the_dockerfile_builds_what_xtask_builds() {
        let path = workspace_root().join("Dockerfile");
        let dockerfile = std::fs::read_to_string(&path).expect("reading Dockerfile");
        let controllers = IMAGES.iter().filter(|i| i.name.ends_with("-controller"));
        for image in controllers {
            for expected in [
                format!("FROM scratch AS {}\n", image.name),
                format!("-p {}", image.package),
                format!("ENTRYPOINT [\"/usr/local/bin/{}\"]", image.binary),
            ] {
                assert!(
                    dockerfile.contains(&expected),
                    "Dockerfile lacks {expected:?}"
                );
            }
            // The Dockerfile's base stage installs the packages (dash is essential in Debian).
            for (program, _) in image.programs {
                assert!(dockerfile.contains(program), "Dockerfile lacks {program}");
            }
        }
        let stages = dockerfile.matches("FROM scratch AS ").count();
        let versions: Vec<_> = dockerfile
            .lines()
            .filter(|l| l.starts_with("ARG VERSION="))
            .collect();
        assert_eq!(versions.len(), stages);
        for line in versions {
            assert_eq!(line, format!("ARG VERSION={}", env!("CARGO_PKG_VERSION")));
        }
        assert_eq!(
            dockerfile.matches(&format!("USER {UID}:{UID}")).count(),
            stages
        );
        assert!(dockerfile.contains(CA_BUNDLE));
    }
}
