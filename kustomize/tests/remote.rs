//! Remote bases and resources through a [`RemoteLoader`] that serves in-memory trees: what
//! the engine asks for, how the fetched tree is confined, nesting bounds, and the errors
//! (typed by [`ErrorKind`], naming the entry and the file).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::Path;

use weir_kustomize::remote::{MAX_REMOTE_DEPTH, RemoteError, RemoteLoader, RepoSpec};
use weir_kustomize::{BuildError, BuildLimits, ErrorKind, FileSystem, MemoryFs};

/// Repositories by clone URL (each a tree of files), file URLs by URL; records requests.
#[derive(Default)]
struct Fake {
    repos: BTreeMap<String, Vec<(&'static str, String)>>,
    files: BTreeMap<String, String>,
    asked: RefCell<Vec<String>>,
}

impl Fake {
    fn repo(mut self, url: &str, files: &[(&'static str, &str)]) -> Self {
        self.repos.insert(
            url.to_string(),
            files.iter().map(|(p, c)| (*p, c.to_string())).collect(),
        );
        self
    }

    fn file(mut self, url: &str, text: &str) -> Self {
        self.files.insert(url.to_string(), text.to_string());
        self
    }
}

impl RemoteLoader for Fake {
    fn repository(&self, repo: &RepoSpec) -> Result<Box<dyn FileSystem>, RemoteError> {
        self.asked.borrow_mut().push(format!(
            "git {} {}",
            repo.clone_url,
            repo.reference.as_deref().unwrap_or("HEAD")
        ));
        let files = self.repos.get(&repo.clone_url).ok_or_else(|| {
            RemoteError::Fetch(format!("fetching {} failed: no such host", repo.clone_url))
        })?;
        let mut fs = MemoryFs::new();
        for (p, c) in files {
            fs.insert(p, c.as_bytes())
                .map_err(|e| RemoteError::Fetch(e.to_string()))?;
        }
        Ok(Box::new(fs))
    }

    fn file(&self, url: &str) -> Result<Vec<u8>, RemoteError> {
        self.asked.borrow_mut().push(format!("get {url}"));
        self.files
            .get(url)
            .map(|t| t.as_bytes().to_vec())
            .ok_or_else(|| RemoteError::Status {
                status: 404,
                message: format!("GET {url}: 404 Not Found"),
            })
    }
}

const CM: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: base\ndata:\n  a: b\n";

fn local(kustomization: &str) -> MemoryFs {
    MemoryFs::from_files([("kustomization.yaml", kustomization.as_bytes())]).expect("valid")
}

fn build(fs: &MemoryFs, remote: Option<&dyn RemoteLoader>) -> Result<String, BuildError> {
    let out = weir_kustomize::build_with_remote(
        fs,
        Path::new(""),
        None,
        false,
        &BuildLimits::default(),
        remote,
    )?;
    Ok(weir_yaml::to_string_multi(&out))
}

#[test]
fn a_remote_base_is_built_from_its_repository_and_transformed_by_the_overlay() {
    let fake = Fake::default().repo(
        "https://git.example.com/org/repo.git",
        &[
            (
                "deploy/kustomization.yaml",
                "resources: [cm.yaml]\nnamePrefix: b-\n",
            ),
            ("deploy/cm.yaml", CM),
        ],
    );
    let fs = local(
        "resources:\n- https://git.example.com/org/repo.git//deploy?ref=v1\nnamePrefix: o-\n",
    );
    let out = build(&fs, Some(&fake)).expect("builds");
    assert!(out.contains("name: o-b-base"), "{out}");
    assert_eq!(
        *fake.asked.borrow(),
        [
            "get https://git.example.com/org/repo.git//deploy?ref=v1",
            "git https://git.example.com/org/repo.git v1"
        ],
        "an https URL is tried as a file first, as Kustomize does"
    );
}

#[test]
fn a_url_that_serves_a_file_is_a_resource() {
    let url = "https://raw.example.com/org/repo/v1/cm.yaml";
    let fake = Fake::default().file(url, CM);
    let fs = local(&format!("resources:\n- {url}\n"));
    assert!(
        build(&fs, Some(&fake))
            .expect("builds")
            .contains("name: base")
    );
}

#[test]
fn nested_remote_bases_and_components_are_fetched() {
    let fake = Fake::default()
        .repo(
            "git@github.com:org/outer",
            &[(
                "kustomization.yaml",
                "resources:\n- github.com/org/inner/base?ref=main\ncomponents:\n- ssh://git@github.com/org/comp//c\n",
            )],
        )
        .repo(
            "https://github.com/org/inner",
            &[
                ("base/kustomization.yaml", "resources: [cm.yaml]\n"),
                ("base/cm.yaml", CM),
            ],
        )
        .repo(
            "git@github.com:org/comp",
            &[(
                "c/kustomization.yaml",
                "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\ncommonLabels:\n  c: \"on\"\n",
            )],
        );
    let fs = local("resources:\n- git@github.com:org/outer\n");
    let out = build(&fs, Some(&fake)).expect("builds");
    assert!(out.contains("c: \"on\""), "{out}");
}

#[test]
fn a_remote_kustomization_cannot_leave_its_repository() {
    let fake = Fake::default().repo(
        "https://github.com/org/repo",
        &[(
            "base/kustomization.yaml",
            "resources: [../../secret.yaml]\n",
        )],
    );
    let fs = MemoryFs::from_files([
        (
            "kustomization.yaml",
            b"resources: [github.com/org/repo/base]\n".as_slice(),
        ),
        ("secret.yaml", CM.as_bytes()),
    ])
    .expect("valid");
    let err = build(&fs, Some(&fake)).expect_err("escapes");
    assert_eq!(
        err.file, "https://github.com/org/repo//base/kustomization.yaml",
        "{err}"
    );
    assert!(err.message.contains("outside the build root"), "{err}");
}

#[test]
fn remote_entries_without_a_loader_are_refused_naming_entry_and_file() {
    let fs = MemoryFs::from_files([
        ("kustomization.yaml", b"resources: [app]\n".as_slice()),
        (
            "app/kustomization.yaml",
            b"resources:\n- https://github.com/org/repo//deploy?ref=v1\n".as_slice(),
        ),
    ])
    .expect("valid");
    let err = build(&fs, None).expect_err("disabled");
    assert_eq!(err.kind, ErrorKind::RemoteDisabled);
    assert_eq!(err.file, "app/kustomization.yaml");
    assert!(
        err.message
            .contains("remote resource \"https://github.com/org/repo//deploy?ref=v1\""),
        "{err}"
    );
}

#[test]
fn fetch_failures_and_bad_paths_are_typed_errors_naming_the_entry() {
    let fake = Fake::default().repo(
        "https://github.com/org/repo",
        &[("base/kustomization.yaml", "resources: []\n")],
    );
    let cases: &[(&str, ErrorKind, &str)] = &[
        (
            "https://unreachable.example/org/repo.git//base",
            ErrorKind::RemoteFetch,
            "no such host",
        ),
        (
            "github.com/org/repo/missing?ref=v1",
            ErrorKind::Build,
            "\"missing\" is not a directory of the repository https://github.com/org/repo?ref=v1",
        ),
        (
            "https://github.com/org/repo//../x",
            ErrorKind::RemoteFetch,
            "404",
        ),
        (
            "ftp://example.com/org/repo",
            ErrorKind::RemoteInvalid,
            "unsupported URL scheme",
        ),
    ];
    for (entry, kind, want) in cases {
        let fs = local(&format!("resources:\n- {entry}\n"));
        let err = build(&fs, Some(&fake)).expect_err(entry);
        assert_eq!(err.file, "kustomization.yaml", "{entry}: {err}");
        assert!(err.message.contains(want), "{entry}: {err}");
        assert_eq!(err.kind, *kind, "{entry}: {err}");
    }
}

#[test]
fn nesting_of_remote_trees_is_bounded() {
    // Each repository's kustomization names the next one: a chain longer than the limit.
    let mut fake = Fake::default();
    let texts: Vec<String> = (0..=MAX_REMOTE_DEPTH + 1)
        .map(|i| format!("resources:\n- github.com/org/r{}\n", i + 1))
        .collect();
    for (i, text) in texts.iter().enumerate() {
        fake = fake.repo(
            &format!("https://github.com/org/r{i}"),
            &[("kustomization.yaml", text.as_str())],
        );
    }
    let fs = local("resources:\n- github.com/org/r0\n");
    let err = build(&fs, Some(&fake)).expect_err("too deep");
    assert!(err.message.contains("MAX_REMOTE_DEPTH"), "{err}");
}

#[test]
fn a_cycle_between_remote_repositories_is_an_error() {
    let fake = Fake::default()
        .repo(
            "https://github.com/org/a",
            &[("kustomization.yaml", "resources: [github.com/org/b]\n")],
        )
        .repo(
            "https://github.com/org/b",
            &[("kustomization.yaml", "resources: [github.com/org/a]\n")],
        );
    let fs = local("resources: [github.com/org/a]\n");
    let err = build(&fs, Some(&fake)).expect_err("cycle");
    assert!(err.message.contains("cycle"), "{err}");
}

#[test]
fn origin_annotations_of_remote_resources_name_the_repository() {
    let fake = Fake::default().repo(
        "https://github.com/org/repo",
        &[
            ("base/kustomization.yaml", "resources: [cm.yaml]\n"),
            ("base/cm.yaml", CM),
        ],
    );
    let fs =
        local("resources: [github.com/org/repo/base?ref=v2]\nbuildMetadata: [originAnnotations]\n");
    let out = build(&fs, Some(&fake)).expect("builds");
    assert!(
        out.contains(
            "config.kubernetes.io/origin: |\n      path: base/cm.yaml\n      repo: https://github.com/org/repo\n      ref: v2\n"
        ),
        "{out}"
    );
}
