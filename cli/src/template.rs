//! `weir template`: renders a Helm chart locally with Weir's native engine, with
//! `helm template`'s flags, output and error messages.

use std::io::Write;
use std::path::{Path, PathBuf};

use weir_helm::action::{self, TemplateOptions, ValueSource};

/// `weir template [NAME] CHART [flags]`.
#[derive(clap::Args, Debug)]
pub struct TemplateArgs {
    /// Release name, then the chart (a directory or a packaged `.tgz`); with one argument it
    /// is the chart and the release is named `release-name`.
    #[arg(value_name = "NAME] [CHART", num_args = 1..=2, required = true)]
    args: Vec<String>,
    /// Namespace of the release (`.Release.Namespace`).
    #[arg(short, long, default_value = "default")]
    namespace: String,
    /// Values files, merged in order (repeat the flag or separate them with commas).
    #[arg(short = 'f', long = "values", value_delimiter = ',')]
    values: Vec<PathBuf>,
    /// Values as `key=value[,key=value]` (typed: numbers, booleans, null).
    #[arg(long)]
    set: Vec<String>,
    /// Values as `key=value[,key=value]`, every value a string.
    #[arg(long = "set-string")]
    set_string: Vec<String>,
    /// Values as `key=json[,key=json]`.
    #[arg(long = "set-json")]
    set_json: Vec<String>,
    /// Values read from files, as `key=path[,key=path]`.
    #[arg(long = "set-file")]
    set_file: Vec<String>,
    /// One value, `key=value`, taken literally (commas and all).
    #[arg(long = "set-literal")]
    set_literal: Vec<String>,
    /// Kubernetes version for `.Capabilities.KubeVersion` and the chart's `kubeVersion`
    /// check (default v1.35.0, as helm v4.1.4).
    #[arg(long = "kube-version")]
    kube_version: Option<String>,
    /// Extra API versions for `.Capabilities.APIVersions` (`group/version` or
    /// `group/version/Kind`).
    #[arg(short = 'a', long = "api-versions", value_delimiter = ',')]
    api_versions: Vec<String>,
    /// Print the CRDs of `crds/` folders first.
    #[arg(long = "include-crds")]
    include_crds: bool,
    /// Leave out test hooks.
    #[arg(long = "skip-tests")]
    skip_tests: bool,
    /// Leave out every hook.
    #[arg(long = "no-hooks")]
    no_hooks: bool,
    /// Skip `values.schema.json` validation.
    #[arg(long = "skip-schema-validation")]
    skip_schema_validation: bool,
    /// Render as an upgrade (`.Release.IsUpgrade` true, `.Release.IsInstall` false).
    #[arg(long = "is-upgrade")]
    is_upgrade: bool,
    /// Print only the documents of these templates (`templates/x.yaml`, globs allowed).
    #[arg(short = 's', long = "show-only", value_delimiter = ',')]
    show_only: Vec<String>,
    /// Write each template's documents to a file under this folder instead of stdout.
    #[arg(long = "output-dir")]
    output_dir: Option<PathBuf>,
    /// Name the release `release-name` (helm template does not generate one).
    #[arg(short = 'g', long = "generate-name")]
    generate_name: bool,
    /// A template (Sprig functions, no data) whose output names the release.
    #[arg(long = "name-template")]
    name_template: Option<String>,
    /// Accepted for helm's sake: `--output-dir` paths are not prefixed with the release.
    #[arg(long = "release-name")]
    release_name: bool,
    /// Accepted for helm's sake: CRDs are never installed by a template run.
    #[arg(long = "skip-crds")]
    skip_crds: bool,
}

/// A failure printed the way helm prints it (`Error: ...` on stderr).
#[derive(Debug)]
pub struct HelmStyleError(pub String);

impl std::fmt::Display for HelmStyleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for HelmStyleError {}

fn fail(message: impl Into<String>) -> anyhow::Error {
    HelmStyleError(message.into()).into()
}

/// Runs `weir template`.
///
/// # Errors
/// A [`HelmStyleError`] for anything helm would refuse; write errors.
pub fn run(args: TemplateArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let (mut release_name, chart_ref) = match args.args.as_slice() {
        [chart] => ("release-name".to_string(), chart.clone()),
        [_, _] if args.generate_name => {
            return Err(fail("cannot set --generate-name and also specify a name"));
        }
        [name, chart] => (name.clone(), chart.clone()),
        _ => return Err(fail("\"weir template\" requires at most 2 arguments")),
    };
    if let Some(template) = &args.name_template {
        release_name = action::render_name_template(template).map_err(fail)?;
    }
    let chart = weir_helm::chart::load_path(&locate_chart(&chart_ref)?).map_err(|e| fail(e.0))?;

    let mut sources = Vec::new();
    for f in &args.values {
        let text = std::fs::read_to_string(f)
            .map_err(|e| fail(format!("open {}: {}", f.display(), io_error_text(&e))))?;
        sources.push(ValueSource::File {
            name: f.display().to_string(),
            text,
        });
    }
    sources.extend(args.set_json.into_iter().map(ValueSource::SetJson));
    sources.extend(args.set.into_iter().map(ValueSource::Set));
    sources.extend(args.set_string.into_iter().map(ValueSource::SetString));
    sources.extend(args.set_file.into_iter().map(ValueSource::SetFile));
    sources.extend(args.set_literal.into_iter().map(ValueSource::SetLiteral));
    let read_file = |path: &str| {
        std::fs::read_to_string(path).map_err(|e| format!("open {path}: {}", io_error_text(&e)))
    };
    let user = action::user_values(&sources, &read_file).map_err(fail)?;

    let options = TemplateOptions {
        release_name,
        namespace: args.namespace,
        kube_version: args.kube_version,
        api_versions: args.api_versions,
        include_crds: args.include_crds,
        skip_tests: args.skip_tests,
        no_hooks: args.no_hooks,
        is_upgrade: args.is_upgrade,
        show_only: args.show_only,
        skip_schema_validation: args.skip_schema_validation,
    };
    let printed = action::template(chart, &user, &options).map_err(|e| {
        if e.during_render {
            fail(format!(
                "{}\n\nUse --debug flag to render out invalid YAML",
                e.message
            ))
        } else {
            fail(e.message)
        }
    })?;
    match args.output_dir {
        None => out.write_all(printed.as_bytes())?,
        Some(dir) => write_output_dir(&dir, &printed, out)?,
    }
    Ok(())
}

/// Helm's `LocateChart` for what Weir can read: an existing path (made absolute, as helm
/// names it in messages); otherwise helm's words for a missing path or a repository chart,
/// which `weir template` does not download.
fn locate_chart(name: &str) -> anyhow::Result<PathBuf> {
    let name = name.trim();
    let path = Path::new(name);
    if path.exists() {
        return Ok(std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf()));
    }
    if path.is_absolute() || name.starts_with('.') {
        return Err(fail(format!("path {name:?} not found")));
    }
    if name.contains("://") {
        return Err(fail(format!(
            "{name}: weir template renders local charts; download it first (helm pull, or a HelmChart source)"
        )));
    }
    match name.split_once('/') {
        Some((repo, _)) => Err(fail(format!("repo {repo} not found"))),
        None => Err(fail(format!(
            "non-absolute URLs should be in form of repo_name/path_to_chart, got: {name}"
        ))),
    }
}

/// `--output-dir`: each document written under `dir` at its source path (documents of one
/// template appended to one file), one `wrote PATH` line per document, as helm prints.
fn write_output_dir(dir: &Path, printed: &str, out: &mut dyn Write) -> anyhow::Result<()> {
    for (source, text, documents) in weir_helm::chart::output::output_dir_files(printed) {
        let relative = Path::new(&source);
        if relative.is_absolute()
            || relative
                .components()
                .any(|c| !matches!(c, std::path::Component::Normal(_)))
        {
            return Err(fail(format!(
                "refusing to write {source} outside {}",
                dir.display()
            )));
        }
        let path = dir.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, &text)?;
        for _ in 0..documents {
            writeln!(out, "wrote {}", path.display())?;
        }
    }
    // helm then prints its (empty) manifest text and a newline.
    writeln!(out)?;
    Ok(())
}

/// Go's wording for the common I/O errors (`no such file or directory`).
fn io_error_text(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}
