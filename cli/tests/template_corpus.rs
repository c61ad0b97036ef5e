//! `weir template` against helm's recorded output on the conformance corpus
//! (`helm/tests/corpus`: one folder per case with a chart, the `helm template` arguments and
//! helm v4.1.4's stdout or stderr; see `helm/tests/corpus/record.sh`).
//!
//! - [`weir_template_matches_the_recorded_helm_output`]: every case through the `weir`
//!   binary. A successful case must print the same documents, in the same order, with the
//!   same `# Source:` lines, each equal as parsed YAML; a failing case must fail with helm's
//!   message.
//! - [`the_recorded_output_is_what_helm_prints_today`]: every case through the real helm
//!   (installed by `cargo xtask test`; `WEIR_HELM` names another binary), which must print
//!   what is recorded: the corpus cannot drift from the reference.
//!
//! Paths of the case folder inside messages are written `$CASE` in the recordings.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Error cases where Weir's message differs from helm's on purpose or by a documented gap
/// (docs/helm-template.md, "Known differences"): both must fail, and both messages must
/// start with the shared words given here.
const KNOWN_MESSAGE_DIFFERENCES: &[(&str, &str)] = &[
    // The YAML reader's own words after the line number (go-yaml's differ).
    (
        "c-err-chart-values-malformed",
        "Error: cannot load values.yaml: cannot unmarshal yaml document: error converting YAML to JSON: yaml: line ",
    ),
    (
        "t-err-rendered-tab-indent",
        "Error: YAML parse error on webapp/templates/configmap.yaml: error converting YAML to JSON: yaml: line ",
    ),
    (
        "t-err-rendered-yaml-invalid",
        "Error: YAML parse error on webapp/templates/deployment.yaml: error converting YAML to JSON: yaml: line ",
    ),
    // helm says only "unable to load chart archive"; Weir says what is wrong with it.
    ("c-err-tgz-traversal", "Error: "),
];

/// Fields of successful cases that differ by a documented known difference
/// (docs/helm-template.md): the field is compared up to the shared words given here, the
/// rest of the output exactly.
const KNOWN_FIELD_DIFFERENCES: &[(&str, &str, &str)] = &[
    (
        "t-helm-fromyaml-json-toml",
        "errorKey",
        "error converting YAML to JSON: yaml: line 1: ",
    ),
    (
        "t-helm-fromyaml-json-toml",
        "fromYamlBad",
        "{\"Error\":\"error converting YAML to JSON: yaml: line 1: ",
    ),
    (
        "t-helm-fromyaml-json-toml",
        "fromYamlArrayBad",
        "[\"error converting YAML to JSON: yaml: line 1: ",
    ),
    // A binary file turned into a Go string: Go keeps the bytes, Weir's strings are UTF-8
    // (docs/helm-template.md, "Binary data in strings"). `GetBytes | len` is compared.
    ("t-obj-files", "blobBase64", ""),
    ("t-obj-files", "getBase64", ""),
];

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../helm/tests/corpus")
}

struct Case {
    name: String,
    dir: PathBuf,
    args: Vec<String>,
    expected: Expected,
}

enum Expected {
    Output(String),
    Error(String),
}

fn cases() -> Vec<Case> {
    let mut out = Vec::new();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(corpus_dir())
        .expect("corpus folder")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    for dir in dirs {
        let name = dir
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        let args = match std::fs::read_to_string(dir.join("args")) {
            Ok(text) => text
                .lines()
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_string)
                .collect(),
            Err(_) => vec!["release".to_string(), "chart".to_string()],
        };
        let expected = if let Ok(text) = std::fs::read_to_string(dir.join("expected.yaml")) {
            Expected::Output(text)
        } else if let Ok(text) = std::fs::read_to_string(dir.join("expected.err")) {
            Expected::Error(text)
        } else {
            panic!("{name}: neither expected.yaml nor expected.err (run record.sh {name})");
        };
        out.push(Case {
            name,
            dir,
            args,
            expected,
        });
    }
    assert!(out.len() >= 100, "the corpus has {} cases", out.len());
    out
}

struct Run {
    success: bool,
    stdout: String,
    stderr: String,
}

fn run(program: &Path, case: &Case) -> Run {
    let output = Command::new(program)
        .arg("template")
        .args(&case.args)
        .current_dir(&case.dir)
        .env("TZ", "UTC")
        .env("HELM_CACHE_HOME", case.dir.join(".no-helm-cache"))
        .env("HELM_CONFIG_HOME", case.dir.join(".no-helm-config"))
        .env("HELM_DATA_HOME", case.dir.join(".no-helm-data"))
        .env("KUBECONFIG", case.dir.join(".no-kubeconfig"))
        .env_remove("HELM_NAMESPACE")
        .output()
        .unwrap_or_else(|e| panic!("{}: cannot run {}: {e}", case.name, program.display()));
    let dir = case.dir.canonicalize().expect("case dir");
    let normalize =
        |b: &[u8]| String::from_utf8_lossy(b).replace(&dir.display().to_string(), "$CASE");
    Run {
        success: output.status.success(),
        stdout: normalize(&output.stdout),
        stderr: normalize(&output.stderr),
    }
}

/// The documents of `helm template` output: `(# Source: line, parsed YAML)` in order.
fn documents(text: &str) -> Result<Vec<(String, serde_json::Value)>, String> {
    weir_helm::chart::output::split_manifests(text)
        .into_iter()
        .map(|doc| {
            let source = doc
                .lines()
                .find(|l| l.starts_with("# Source: "))
                .unwrap_or("")
                .to_string();
            let value = weir_yaml::from_str_multi(&doc)
                .map_err(|e| format!("document after {source:?} does not parse: {e}"))?;
            Ok((source, serde_json::Value::Array(value)))
        })
        .collect()
}

/// Why `actual` differs from `expected`, if it does.
fn compare(case: &Case, actual: &Run) -> Option<String> {
    match &case.expected {
        Expected::Output(expected) => {
            if !actual.success {
                return Some(format!(
                    "helm succeeds; weir fails with:\n{}",
                    actual.stderr
                ));
            }
            if &actual.stdout == expected {
                return None;
            }
            let (want, got) = match (documents(expected), documents(&actual.stdout)) {
                (Ok(w), Ok(g)) => (w, g),
                (Err(e), _) => return Some(format!("the recording does not parse: {e}")),
                (_, Err(e)) => return Some(format!("weir's output {e}:\n{}", actual.stdout)),
            };
            if want == got {
                return None;
            }
            let (mut want, mut got) = (want, got);
            for (c, field, shared) in KNOWN_FIELD_DIFFERENCES {
                if *c != case.name {
                    continue;
                }
                for doc in want.iter_mut().chain(got.iter_mut()) {
                    blank_field(&mut doc.1, field, shared);
                }
            }
            if want == got {
                return None;
            }
            let first = want
                .iter()
                .zip(&got)
                .position(|(w, g)| w != g)
                .unwrap_or(want.len().min(got.len()));
            let (w, g) = (want.get(first), got.get(first));
            let detail = match (w, g) {
                (Some(w), Some(g)) if w.0 != g.0 => format!("source {:?} != {:?}", w.0, g.0),
                (Some(w), Some(g)) => first_difference(&w.1, &g.1, String::new()),
                _ => "a document is missing".to_string(),
            };
            Some(format!(
                "{} documents expected, {} printed; document {} ({}) differs: {detail}",
                want.len(),
                got.len(),
                first + 1,
                w.or(g).map_or("", |d| d.0.as_str()),
            ))
        }
        Expected::Error(expected) => {
            if actual.success {
                return Some(format!(
                    "helm fails with:\n{expected}weir succeeds:\n{}",
                    actual.stdout
                ));
            }
            if actual.stderr.trim_end() == expected.trim_end() {
                return None;
            }
            if let Some((_, shared)) = KNOWN_MESSAGE_DIFFERENCES
                .iter()
                .find(|(c, _)| *c == case.name)
                && expected.starts_with(shared)
                && actual.stderr.starts_with(shared)
            {
                return None;
            }
            Some(format!(
                "--- helm's error\n{expected}--- weir's error\n{}",
                actual.stderr
            ))
        }
    }
}

/// Replaces the string under key `field` (anywhere in `value`) that starts with `shared` by
/// `shared` alone.
fn blank_field(value: &mut serde_json::Value, field: &str, shared: &str) {
    match value {
        serde_json::Value::Object(m) => {
            for (k, v) in m.iter_mut() {
                if k == field
                    && let serde_json::Value::String(s) = v
                    && s.starts_with(shared)
                {
                    *s = shared.to_string();
                } else {
                    blank_field(v, field, shared);
                }
            }
        }
        serde_json::Value::Array(items) => {
            for v in items {
                blank_field(v, field, shared);
            }
        }
        _ => {}
    }
}

/// The path and both values of the first leaf where `a` (helm) and `b` (weir) differ.
fn first_difference(a: &serde_json::Value, b: &serde_json::Value, path: String) -> String {
    use serde_json::Value as J;
    match (a, b) {
        (J::Object(x), J::Object(y)) => {
            for (k, v) in x {
                match y.get(k) {
                    Some(w) if w == v => {}
                    Some(w) => return first_difference(v, w, format!("{path}.{k}")),
                    None => return format!("{path}.{k}: missing in weir's output"),
                }
            }
            let extra: Vec<&String> = y.keys().filter(|k| !x.contains_key(*k)).collect();
            format!("{path}: weir has extra keys {extra:?}")
        }
        (J::Array(x), J::Array(y)) if x.len() == y.len() => {
            for (i, (v, w)) in x.iter().zip(y).enumerate() {
                if v != w {
                    return first_difference(v, w, format!("{path}[{i}]"));
                }
            }
            String::new()
        }
        _ => format!("{path}:\n  helm: {a}\n  weir: {b}"),
    }
}

#[test]
fn weir_template_matches_the_recorded_helm_output() {
    let weir = PathBuf::from(env!("CARGO_BIN_EXE_weir"));
    let cases = cases();
    let mut failures = Vec::new();
    let mut identical = 0;
    for case in &cases {
        let actual = run(&weir, case);
        if let Expected::Output(expected) = &case.expected
            && &actual.stdout == expected
        {
            identical += 1;
        }
        if let Some(why) = compare(case, &actual) {
            failures.push(format!("## {}\n{why}", case.name));
        }
    }
    eprintln!(
        "{} of {} cases match helm ({identical} byte for byte)",
        cases.len() - failures.len(),
        cases.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {} cases differ from helm:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}

/// The helm binary: `WEIR_HELM`, else where `cargo xtask test` installs it.
fn helm() -> PathBuf {
    if let Some(path) = std::env::var_os("WEIR_HELM") {
        return PathBuf::from(path);
    }
    let home = std::env::var_os("HOME").expect("HOME");
    let path = Path::new(&home).join(".cache/weir/helm/helm");
    assert!(
        path.exists(),
        "helm is not installed at {}: run `cargo xtask test` (it installs helm v4.1.4) or set WEIR_HELM",
        path.display()
    );
    path
}

#[test]
fn the_recorded_output_is_what_helm_prints_today() {
    let helm = helm();
    let mut drifted = Vec::new();
    for case in cases() {
        let actual = run(&helm, &case);
        let same = match &case.expected {
            Expected::Output(text) => actual.success && &actual.stdout == text,
            Expected::Error(text) => !actual.success && &actual.stderr == text,
        };
        if !same {
            drifted.push(format!(
                "## {}\nhelm now prints (exit {}):\n{}{}",
                case.name,
                if actual.success { "0" } else { "non-zero" },
                actual.stdout,
                actual.stderr
            ));
        }
    }
    assert!(
        drifted.is_empty(),
        "{} recordings differ from helm (re-record with helm/tests/corpus/record.sh):\n\n{}",
        drifted.len(),
        drifted.join("\n\n")
    );
}

/// The README's `weir template` command, run as written (from the workspace root), prints
/// what helm prints for the same arguments.
#[test]
fn the_readme_template_command_renders_like_helm() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README");
    let line = readme
        .lines()
        .find(|l| l.starts_with("cargo run -p weir-cli -- template "))
        .expect("the README shows a weir template command");
    let args: Vec<&str> = line
        .trim_start_matches("cargo run -p weir-cli -- ")
        .split_whitespace()
        .collect();
    let weir = Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(&args)
        .current_dir(&root)
        .output()
        .expect("weir runs");
    assert!(
        weir.status.success(),
        "{}",
        String::from_utf8_lossy(&weir.stderr)
    );
    let tmp = tempfile::tempdir().expect("tempdir");
    let helm = Command::new(helm())
        .args(&args)
        .current_dir(&root)
        .env("HELM_CACHE_HOME", tmp.path().join("cache"))
        .env("HELM_CONFIG_HOME", tmp.path().join("config"))
        .env("HELM_DATA_HOME", tmp.path().join("data"))
        .output()
        .expect("helm runs");
    assert!(
        helm.status.success(),
        "{}",
        String::from_utf8_lossy(&helm.stderr)
    );
    assert!(String::from_utf8_lossy(&weir.stdout).contains("replicas: 2"));
    assert_eq!(
        String::from_utf8_lossy(&weir.stdout),
        String::from_utf8_lossy(&helm.stdout)
    );
}

/// `--output-dir` writes the same files, with the same contents, as helm's, and prints one
/// `wrote PATH` line per document as helm does.
#[test]
fn output_dir_writes_the_files_helm_writes() {
    let case = cases()
        .into_iter()
        .find(|c| c.name == "c-umbrella")
        .expect("the umbrella case");
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut printed = Vec::new();
    for (tool, program) in [
        ("weir", PathBuf::from(env!("CARGO_BIN_EXE_weir"))),
        ("helm", helm()),
    ] {
        let out_dir = tmp.path().join(tool);
        let output = Command::new(&program)
            .arg("template")
            .args(&case.args)
            .arg("--output-dir")
            .arg(&out_dir)
            .current_dir(&case.dir)
            .env("HELM_CACHE_HOME", tmp.path().join("cache"))
            .env("HELM_CONFIG_HOME", tmp.path().join("config"))
            .env("HELM_DATA_HOME", tmp.path().join("data"))
            .output()
            .expect("runs");
        assert!(
            output.status.success(),
            "{tool}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        printed.push(
            String::from_utf8_lossy(&output.stdout).replace(&out_dir.display().to_string(), "OUT"),
        );
    }
    assert_eq!(printed[0], printed[1], "the `wrote` lines");
    assert!(printed[0].lines().count() > 5, "{}", printed[0]);
    let files = |root: &Path| {
        let mut found = Vec::new();
        let mut stack = vec![root.to_path_buf()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).expect("read_dir") {
                let path = entry.expect("entry").path();
                if path.is_dir() {
                    stack.push(path);
                } else {
                    let rel = path
                        .strip_prefix(root)
                        .expect("inside")
                        .display()
                        .to_string();
                    found.push((rel, std::fs::read_to_string(&path).expect("text")));
                }
            }
        }
        found.sort();
        found
    };
    assert_eq!(
        files(&tmp.path().join("weir")),
        files(&tmp.path().join("helm"))
    );
}
