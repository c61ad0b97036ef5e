//! Loading charts: from a directory (with `.helmignore`), from a `.tgz`, or from files in
//! memory, as Helm's `loader` package sorts them.

use std::path::Path;

use super::archive::{Limits, read_archive};
use super::ignore::Rules;
use super::metadata::Metadata;
use super::values::read_values;
use super::{Chart, File, MAX_CHART_DEPTH};

/// A chart that cannot be loaded: Helm's message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct LoadError(pub String);

fn err(msg: impl Into<String>) -> LoadError {
    LoadError(msg.into())
}

/// Loads a chart from a directory or a `.tgz` file.
///
/// # Errors
/// As [`load_dir`] and [`load_archive`]; a file that is not gzip is refused with Helm's hint.
pub fn load_path(path: &Path) -> Result<Chart, LoadError> {
    let meta = std::fs::metadata(path).map_err(|e| err(format!("{}: {e}", path.display())))?;
    if meta.is_dir() {
        return load_dir(path);
    }
    let limits = Limits::default();
    if meta.len() > limits.max_archive_bytes {
        return Err(err(format!(
            "chart archive is larger than the maximum size {}",
            limits.max_archive_bytes
        )));
    }
    let bytes = std::fs::read(path).map_err(|e| err(format!("{}: {e}", path.display())))?;
    if !bytes.starts_with(b"\x1F\x8B\x08") {
        let name = path.display();
        let s = name.to_string();
        if s.ends_with(".yml") || s.ends_with(".yaml") {
            return Err(err(format!(
                "file '{name}' seems to be a YAML file, but expected a gzipped archive"
            )));
        }
        return Err(err(format!(
            "file '{name}' does not appear to be a gzipped archive; got '{}'",
            content_type(&bytes)
        )));
    }
    load_archive(&bytes)
}

/// Go's `http.DetectContentType` for the kinds a mistaken chart file usually is (text,
/// HTML, XML, PDF, ZIP, PNG), else `application/octet-stream`.
fn content_type(bytes: &[u8]) -> &'static str {
    let head = &bytes[..bytes.len().min(512)];
    let text = head.trim_ascii_start().to_ascii_lowercase();
    if [
        &b"<!doctype html"[..],
        b"<html",
        b"<head",
        b"<body",
        b"<script",
        b"<title",
        b"<!--",
    ]
    .iter()
    .any(|sig| text.starts_with(sig))
    {
        return "text/html; charset=utf-8";
    }
    if text.starts_with(b"<?xml") {
        return "text/xml; charset=utf-8";
    }
    for (magic, kind) in [
        (&b"%PDF-"[..], "application/pdf"),
        (b"PK\x03\x04", "application/zip"),
        (b"\x89PNG\r\n\x1a\n", "image/png"),
    ] {
        if head.starts_with(magic) {
            return kind;
        }
    }
    let binary = |b: &u8| matches!(b, 0x00..=0x08 | 0x0B | 0x0E..=0x1A | 0x1C..=0x1F);
    if head.iter().any(binary) {
        "application/octet-stream"
    } else {
        "text/plain; charset=utf-8"
    }
}

/// Most files a chart directory may hold, subcharts included.
pub const MAX_DIR_FILES: usize = 50_000;

/// Loads a chart directory: files in lexical walk order, `.helmignore` applied (with its
/// default `templates/.?*`), symbolic links followed (as Helm does), a UTF-8 BOM stripped.
///
/// # Errors
/// Helm's messages, an unreadable file, or a directory over the size and count limits.
pub fn load_dir(dir: &Path) -> Result<Chart, LoadError> {
    let chart_yaml = dir.join("Chart.yaml");
    if !chart_yaml.exists() {
        // helm v4 detects the chart's API version from Chart.yaml before loading anything.
        let at = chart_yaml.display();
        return Err(err(format!(
            "unable to detect chart at {at}: open {at}: no such file or directory"
        )));
    }
    let mut rules = match std::fs::read_to_string(dir.join(".helmignore")) {
        Ok(text) => Rules::parse(&text).map_err(err)?,
        Err(_) => Rules::default(),
    };
    rules.add_defaults();
    let mut files = Vec::new();
    let mut budget = Limits::default().max_unpacked_bytes;
    walk(dir, "", &rules, &mut files, &mut budget, 0)?;
    load_files(files)
}

fn walk(
    dir: &Path,
    rel: &str,
    rules: &Rules,
    files: &mut Vec<File>,
    budget: &mut u64,
    depth: usize,
) -> Result<(), LoadError> {
    if depth > 64 {
        return Err(err(format!(
            "chart directory {} is nested too deeply (symbolic link loop?)",
            dir.display()
        )));
    }
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| err(format!("{}: {e}", dir.display())))?
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    entries.sort();
    for name in entries {
        let path = dir.join(&name);
        let rel_name = if rel.is_empty() {
            name.clone()
        } else {
            format!("{rel}/{name}")
        };
        // Follows symbolic links, as Helm's sympath walk does.
        let Ok(meta) = std::fs::metadata(&path) else {
            if rules.ignore(&rel_name, false) {
                continue;
            }
            return Err(err(format!("error reading {rel_name}: broken link")));
        };
        if meta.is_dir() {
            if rules.ignore(&rel_name, true) {
                continue;
            }
            walk(&path, &rel_name, rules, files, budget, depth + 1)?;
            continue;
        }
        if rules.ignore(&rel_name, false) {
            continue;
        }
        if !meta.is_file() {
            return Err(err(format!(
                "cannot load irregular file {} as it has file mode type bits set",
                path.display()
            )));
        }
        if meta.len() > *budget || files.len() >= MAX_DIR_FILES {
            return Err(err(format!(
                "chart directory is larger than the maximum size {}",
                Limits::default().max_unpacked_bytes
            )));
        }
        let mut data =
            std::fs::read(&path).map_err(|e| err(format!("error reading {rel_name}: {e}")))?;
        *budget = budget.saturating_sub(data.len() as u64);
        if data.starts_with(b"\xEF\xBB\xBF") {
            data.drain(..3);
        }
        files.push(File {
            name: rel_name,
            data,
        });
    }
    Ok(())
}

/// Loads a chart archive (`.tgz`) held in memory.
///
/// # Errors
/// The archive's errors (see [`super::archive`]) and Helm's loading errors.
pub fn load_archive(bytes: &[u8]) -> Result<Chart, LoadError> {
    load_archive_at(bytes, 0)
}

fn load_archive_at(bytes: &[u8], depth: usize) -> Result<Chart, LoadError> {
    let files = read_archive(bytes, Limits::default()).map_err(err)?;
    load_files_at(files, depth)
}

/// Sorts files (names relative to the chart root) into a chart, as Helm's `LoadFiles`.
///
/// # Errors
/// `Chart.yaml file is missing`, `cannot load Chart.yaml: ...`, `validation: ...`,
/// `cannot load values.yaml: ...`, and subchart errors wrapped as Helm wraps them.
pub fn load_files(files: Vec<File>) -> Result<Chart, LoadError> {
    load_files_at(files, 0)
}

fn yaml_error(file: &str, e: &weir_yaml::YamlError) -> LoadError {
    err(format!(
        "cannot load {file}: error converting YAML to JSON: yaml: line {}: {}",
        e.line, e.message
    ))
}

fn read_yaml(file: &str, data: &[u8]) -> Result<serde_json::Value, LoadError> {
    let text = String::from_utf8_lossy(data);
    let docs = weir_yaml::from_str_multi_with(&text, true, weir_yaml::DuplicateKeys::LaterWins)
        .map_err(|e| yaml_error(file, &e))?;
    Ok(docs.into_iter().next().unwrap_or(serde_json::Value::Null))
}

fn load_files_at(files: Vec<File>, depth: usize) -> Result<Chart, LoadError> {
    if depth > MAX_CHART_DEPTH {
        return Err(err(format!(
            "charts are nested more than {MAX_CHART_DEPTH} levels deep"
        )));
    }
    let mut chart = Chart::default();
    let mut metadata: Option<Metadata> = None;
    if let Some(f) = files.iter().find(|f| f.name == "Chart.yaml") {
        let doc = read_yaml("Chart.yaml", &f.data)?;
        let mut md = Metadata::from_value(&doc)
            .map_err(|e| err(format!("cannot load Chart.yaml: {}", e.0)))?;
        if md.api_version.is_empty() {
            md.api_version = "v1".into();
        }
        metadata = Some(md);
    }
    // Subchart files by the first component under charts/, in first-seen order.
    let mut subcharts: Vec<(String, Vec<File>)> = Vec::new();
    for f in files {
        match f.name.as_str() {
            "Chart.yaml" => {}
            "Chart.lock" | "requirements.lock" => {
                let v1 = metadata.as_ref().is_some_and(|m| m.api_version == "v1");
                if f.name == "requirements.lock" && v1 {
                    chart.files.push(f.clone());
                }
                chart.lock = Some(f.data);
            }
            "values.yaml" => {
                let text = String::from_utf8_lossy(&f.data);
                chart.values =
                    read_values(&text).map_err(|e| err(format!("cannot load values.yaml: {e}")))?;
            }
            "values.schema.json" => chart.schema = Some(f.data),
            "requirements.yaml" => {
                let doc = read_yaml("requirements.yaml", &f.data)?;
                let md = metadata.get_or_insert_with(Metadata::default);
                md.apply_requirements(&doc)
                    .map_err(|e| err(format!("cannot load requirements.yaml: {}", e.0)))?;
                if md.api_version == "v1" {
                    chart.files.push(f);
                }
            }
            name if name.starts_with("templates/") => chart.templates.push(f),
            name if name.starts_with("charts/") => {
                if name.ends_with(".prov") {
                    chart.files.push(f);
                    continue;
                }
                let rest = &name["charts/".len()..];
                let cname = rest.split('/').next().unwrap_or(rest).to_string();
                let sub = File {
                    name: rest.to_string(),
                    data: f.data,
                };
                match subcharts.iter_mut().find(|(n, _)| *n == cname) {
                    Some((_, list)) => list.push(sub),
                    None => subcharts.push((cname, vec![sub])),
                }
            }
            _ => chart.files.push(f),
        }
    }
    let Some(mut md) = metadata else {
        return Err(err("Chart.yaml file is missing"));
    };
    if !matches!(md.api_version.as_str(), "" | "v1" | "v2") {
        return Err(err("invalid chart apiVersion"));
    }
    md.validate().map_err(err)?;
    chart.metadata = md;
    for (name, files) in subcharts {
        if name.starts_with(['_', '.']) {
            continue;
        }
        let wrap = |e: LoadError| {
            err(format!(
                "error unpacking subchart {name} in {}: {}",
                chart.metadata.name, e.0
            ))
        };
        let sub = if name.ends_with(".tgz") {
            let Some(file) = files.into_iter().next() else {
                continue;
            };
            if file.name != name {
                return Err(err(format!(
                    "error unpacking subchart tar in {}: expected {name}, got {}",
                    chart.metadata.name, file.name
                )));
            }
            load_archive_at(&file.data, depth + 1).map_err(wrap)?
        } else {
            let inner: Vec<File> = files
                .into_iter()
                .filter_map(|f| {
                    f.name.split_once('/').map(|(_, rest)| File {
                        name: rest.to_string(),
                        data: f.data,
                    })
                })
                .collect();
            load_files_at(inner, depth + 1).map_err(wrap)?
        };
        chart.dependencies.push(sub);
    }
    Ok(chart)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, data: &str) -> File {
        File {
            name: name.into(),
            data: data.as_bytes().to_vec(),
        }
    }

    const CHART: &str = "apiVersion: v2\nname: c\nversion: 1.0.0\n";

    #[test]
    fn sorts_files_as_helm() {
        let chart = load_files(vec![
            file("Chart.yaml", CHART),
            file("values.yaml", "a: 1"),
            file("values.schema.json", "{}"),
            file("Chart.lock", "x: 1"),
            file("templates/a.yaml", "a"),
            file("crds/c.yaml", "c"),
            file("README.md", "r"),
            file(".helmignore", "x"),
            file("charts/sub.prov", "p"),
            file("charts/_skip/Chart.yaml", "junk"),
            file(
                "charts/sub/Chart.yaml",
                "apiVersion: v2\nname: sub\nversion: 0.1.0\n",
            ),
            file("charts/sub/templates/b.yaml", "b"),
        ])
        .expect("loads");
        let names: Vec<&str> = chart.files.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            ["crds/c.yaml", "README.md", ".helmignore", "charts/sub.prov"]
        );
        assert_eq!(chart.templates[0].name, "templates/a.yaml");
        assert_eq!(chart.dependencies.len(), 1);
        assert_eq!(chart.dependencies[0].templates[0].name, "templates/b.yaml");
        assert!(chart.schema.is_some() && chart.lock.is_some());
    }

    #[test]
    fn errors_like_helm() {
        // Messages recorded with helm 4.1.4 `helm template`.
        let cases = [
            (vec![file("values.yaml", "")], "Chart.yaml file is missing"),
            (
                vec![file("Chart.yaml", "name: x\n")],
                "validation: chart.metadata.version is required",
            ),
            (
                vec![file("Chart.yaml", "apiVersion: v2\nversion: 1.0.0\n")],
                "validation: chart.metadata.name is required",
            ),
            (
                vec![file(
                    "Chart.yaml",
                    "apiVersion: v2\nname: e5\nversion: abc\n",
                )],
                "validation: chart.metadata.version \"abc\" is invalid",
            ),
            (
                vec![file(
                    "Chart.yaml",
                    "apiVersion: v2\nname: e6\nversion: 1.0.0\ntype: foo\n",
                )],
                "validation: chart.metadata.type must be application or library",
            ),
            (
                vec![file(
                    "Chart.yaml",
                    "apiVersion: v2\nname: e8\nversion: [1]\n",
                )],
                "cannot load Chart.yaml: error unmarshaling JSON: while decoding JSON: json: cannot unmarshal array into Go struct field Metadata.version of type string",
            ),
            (
                vec![file("Chart.yaml", CHART), file("values.yaml", "- 1")],
                "cannot load values.yaml: cannot unmarshal yaml document: error unmarshaling JSON: while decoding JSON: json: cannot unmarshal array into Go value of type map[string]interface {}",
            ),
        ];
        for (files, want) in cases {
            assert_eq!(load_files(files).expect_err("fails").0, want);
        }
    }

    #[test]
    fn scalars_in_string_fields_are_go_formatted() {
        // helm 4.1.4: version 1.0 -> "1", appVersion 1.10 -> "1.1", 0x10 -> "16", yes -> "true".
        let chart = load_files(vec![file(
            "Chart.yaml",
            "apiVersion: v2\nname: m1\nversion: 1.0\nappVersion: 1.10\ndescription: 0x10\nhome: yes\nkeywords: [1, 2.5, on]\n",
        )])
        .expect("loads");
        let md = &chart.metadata;
        assert_eq!(
            (
                md.version.as_str(),
                md.app_version.as_str(),
                md.description.as_str(),
                md.home.as_str()
            ),
            ("1", "1.1", "16", "true")
        );
        assert_eq!(md.keywords, ["1", "2.5", "true"]);
    }
}
