//! `helm template` end to end: the user's values, dependencies, schema, `kubeVersion`,
//! rendering, and the printed manifests — in the order helm v4's install action runs them
//! with a client-only dry run.
//!
//! 1. The chart must be installable (`type: application`) and every dependency Chart.yaml
//!    lists must be present in `charts/`.
//! 2. [`user_values`]: `-f` files in order, then `--set-json`, `--set`, `--set-string`,
//!    `--set-file` and `--set-literal`, each kind in its own order (as Helm applies them,
//!    whatever their order on the command line).
//! 3. Dependencies enabled by `condition`/`tags`, aliases applied, `import-values` copied.
//! 4. Values coalesced with the chart defaults and checked against each `values.schema.json`.
//! 5. The chart's `kubeVersion` constraint checked against `--kube-version`.
//! 6. [`crate::render`]; `NOTES.txt` files dropped; documents sorted in install order with
//!    hooks after; CRDs first with `--include-crds`; `--show-only` applied.
//!
//! Files are the caller's business (the chart is already loaded, `-f` files already read);
//! `--set-file` paths are read through a callback.

use crate::chart::output::{self, PrintOptions};
use crate::chart::strvals::{self, Mode};
use crate::chart::{Chart, Values, dependencies, schema, values};
use crate::render::{self, Capabilities, KubeVersion, Release};

/// What `helm template` is asked, besides the chart and values.
#[derive(Clone, Debug, Default)]
pub struct TemplateOptions {
    /// `RELEASE` (helm's default without one is `release-name`).
    pub release_name: String,
    /// `-n`/`--namespace` (default `default`).
    pub namespace: String,
    /// `--kube-version`.
    pub kube_version: Option<String>,
    /// `--api-versions`, in order.
    pub api_versions: Vec<String>,
    /// `--include-crds`.
    pub include_crds: bool,
    /// `--skip-tests`.
    pub skip_tests: bool,
    /// `--no-hooks`.
    pub no_hooks: bool,
    /// `--is-upgrade`.
    pub is_upgrade: bool,
    /// `--show-only`, in order.
    pub show_only: Vec<String>,
    /// `--skip-schema-validation`.
    pub skip_schema_validation: bool,
}

/// One source of user values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ValueSource {
    /// `-f NAME` with the file's text.
    File {
        /// The name as given (used in error messages).
        name: String,
        /// Its contents.
        text: String,
    },
    /// `--set TEXT`.
    Set(String),
    /// `--set-string TEXT`.
    SetString(String),
    /// `--set-json TEXT`.
    SetJson(String),
    /// `--set-file TEXT` (`key=path`).
    SetFile(String),
    /// `--set-literal TEXT`.
    SetLiteral(String),
}

/// A failure of `helm template`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct TemplateError {
    /// What helm prints after `Error: `.
    pub message: String,
    /// Whether the failure came after the release was assembled (rendering, sorting), where
    /// helm adds `Use --debug flag to render out invalid YAML`.
    pub during_render: bool,
}

impl TemplateError {
    fn before(message: impl Into<String>) -> TemplateError {
        TemplateError {
            message: message.into(),
            during_render: false,
        }
    }

    fn during(message: impl Into<String>) -> TemplateError {
        TemplateError {
            message: message.into(),
            during_render: true,
        }
    }
}

/// Merges the user's values as Helm does (see the module docs for the order).
///
/// # Errors
/// `failed to parse NAME: ...` for a values file, `failed parsing --set data: ...` (and the
/// other flags' names) for an assignment.
pub fn user_values(
    sources: &[ValueSource],
    read_file: &dyn Fn(&str) -> Result<String, String>,
) -> Result<Values, String> {
    let mut base = Values::new();
    for s in sources {
        if let ValueSource::File { name, text } = s {
            let file =
                values::read_values(text).map_err(|e| format!("failed to parse {name}: {e}"))?;
            base = values::merge_maps(base, file);
        }
    }
    fn assignment(s: &ValueSource) -> Option<(Mode, &String)> {
        match s {
            ValueSource::File { .. } => None,
            ValueSource::SetJson(t) => Some((Mode::Json, t)),
            ValueSource::Set(t) => Some((Mode::Typed, t)),
            ValueSource::SetString(t) => Some((Mode::String, t)),
            ValueSource::SetFile(t) => Some((Mode::File, t)),
            ValueSource::SetLiteral(t) => Some((Mode::Literal, t)),
        }
    }
    let kinds = [
        ("--set-json", Mode::Json),
        ("--set", Mode::Typed),
        ("--set-string", Mode::String),
        ("--set-file", Mode::File),
        ("--set-literal", Mode::Literal),
    ];
    for (flag, mode) in kinds {
        let texts = sources
            .iter()
            .filter_map(assignment)
            .filter(|(m, _)| *m == mode)
            .map(|(_, t)| t);
        for text in texts {
            strvals::parse_into(text, &mut base, mode, read_file)
                .map_err(|e| format!("failed parsing {flag} data: {e}"))?;
        }
    }
    Ok(base)
}

/// What an install or upgrade renders, before anything is applied.
#[derive(Clone, Debug, Default)]
pub struct ReleaseOptions {
    /// The release name.
    pub name: String,
    /// Its namespace (`default` when empty).
    pub namespace: String,
    /// `.Release.Revision`: 1 for an install, the previous revision + 1 for an upgrade.
    pub revision: i64,
    /// Upgrade (`.Release.IsUpgrade`) rather than install.
    pub is_upgrade: bool,
    /// `.Capabilities.KubeVersion` (Helm's default when `None`).
    pub kube_version: Option<String>,
    /// `.Capabilities.APIVersions`.
    pub api_versions: Vec<String>,
    /// Skip `values.schema.json` checks.
    pub skip_schema_validation: bool,
}

/// A rendered release: what Helm's install and upgrade actions apply and store.
#[derive(Clone, Debug)]
pub struct RenderedRelease {
    /// The chart after dependency processing (what the release records).
    pub chart: Chart,
    /// The chart's values coalesced with the user's (what templates saw).
    pub values: Values,
    /// Ordinary manifests, in install order.
    pub manifests: Vec<output::Manifest>,
    /// Hooks, in install order.
    pub hooks: Vec<output::Hook>,
    /// `(source, text)` of every CRD in the chart's and its subcharts' `crds/` folders.
    pub crds: Vec<(String, String)>,
    /// The parent chart's rendered `NOTES.txt`, empty when it has none.
    pub notes: String,
}

impl RenderedRelease {
    /// `release.manifest` as Helm stores it: every ordinary manifest as
    /// `---\n# Source: <path>\n<document>\n`.
    pub fn manifest_text(&self) -> String {
        self.manifests
            .iter()
            .map(|m| format!("---\n# Source: {}\n{}\n", m.source, m.content))
            .collect()
    }
}

/// Renders a chart for an install or upgrade as Helm's actions do: installable check,
/// dependencies, coalesced values, schema, `kubeVersion`, render, install-order sort with
/// hooks apart, the parent chart's notes kept and every other `NOTES.txt` dropped.
///
/// # Errors
/// Helm's messages (see [`TemplateError`]).
pub fn render_release(
    mut chart: Chart,
    user: &Values,
    options: &ReleaseOptions,
) -> Result<RenderedRelease, TemplateError> {
    check_installable(&chart)?;
    check_dependencies(&chart)?;
    let kube_version = match &options.kube_version {
        Some(v) => KubeVersion::parse(v).map_err(TemplateError::before)?,
        None => KubeVersion::default(),
    };
    let capabilities = Capabilities::new(kube_version, &options.api_versions);

    dependencies::process_dependencies(&mut chart, user).map_err(TemplateError::before)?;
    let coalesced = values::coalesce(&chart, user);
    if !options.skip_schema_validation {
        schema::validate_chart(&chart, &coalesced).map_err(TemplateError::before)?;
    }
    dependencies::check_kube_version(&chart, &capabilities.kube_version.version)
        .map_err(TemplateError::during)?;

    let namespace = if options.namespace.is_empty() {
        "default"
    } else {
        &options.namespace
    };
    let mut release = Release::install(&options.name, namespace);
    release.revision = options.revision.max(1);
    release.is_upgrade = options.is_upgrade;
    release.is_install = !options.is_upgrade;
    let rendered = render::render(&chart, &coalesced, &release, &capabilities)
        .map_err(|e| TemplateError::during(e.message))?;
    let parent_notes = format!("{}/templates/NOTES.txt", chart.name());
    let mut notes = String::new();
    let mut files = Vec::new();
    for (name, text) in rendered {
        if name == parent_notes {
            notes = text;
        } else if !name.ends_with("NOTES.txt") {
            files.push((name, text));
        }
    }
    let sorted = output::sort_manifests(&files).map_err(TemplateError::during)?;
    let crds = chart
        .crd_objects()
        .into_iter()
        .map(|(source, f)| (source, String::from_utf8_lossy(&f.data).into_owned()))
        .collect();
    Ok(RenderedRelease {
        chart,
        values: coalesced,
        manifests: sorted.manifests,
        hooks: sorted.hooks,
        crds,
        notes,
    })
}

/// Runs `helm template` on a loaded chart with the user's merged values: the text helm
/// prints on stdout.
///
/// # Errors
/// Helm's messages (see [`TemplateError`]).
pub fn template(
    chart: Chart,
    user: &Values,
    options: &TemplateOptions,
) -> Result<String, TemplateError> {
    let rendered = render_release(
        chart,
        user,
        &ReleaseOptions {
            name: options.release_name.clone(),
            namespace: options.namespace.clone(),
            revision: 1,
            is_upgrade: options.is_upgrade,
            kube_version: options.kube_version.clone(),
            api_versions: options.api_versions.clone(),
            skip_schema_validation: options.skip_schema_validation,
        },
    )?;
    let sorted = output::Sorted {
        manifests: rendered.manifests,
        hooks: rendered.hooks,
    };
    let printed = output::print(
        &rendered.crds,
        &sorted,
        &PrintOptions {
            include_crds: options.include_crds,
            no_hooks: options.no_hooks,
            skip_tests: options.skip_tests,
        },
    );
    if options.show_only.is_empty() {
        return Ok(printed);
    }
    output::show_only(&printed, &options.show_only).map_err(TemplateError::before)
}

/// Helm's `checkIfInstallable`: only application charts install.
fn check_installable(chart: &Chart) -> Result<(), TemplateError> {
    match chart.metadata.chart_type.as_str() {
        "" | "application" => Ok(()),
        other => Err(TemplateError::before(format!(
            "{other} charts are not installable"
        ))),
    }
}

/// Helm's `CheckDependencies`: every dependency in Chart.yaml is in `charts/`.
fn check_dependencies(chart: &Chart) -> Result<(), TemplateError> {
    let missing: Vec<&str> = chart
        .metadata
        .dependencies
        .iter()
        .filter(|d| !chart.dependencies.iter().any(|c| c.name() == d.name))
        .map(|d| d.name.as_str())
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(TemplateError::before(format!(
        "an error occurred while checking for chart dependencies. You may need to run `helm dependency build` to fetch missing dependencies: found in Chart.yaml, but missing in charts/ directory: {}",
        missing.join(", ")
    )))
}

/// `--name-template`: the text executed with Sprig's functions and no data.
///
/// # Errors
/// Go's parse or execution error.
pub fn render_name_template(text: &str) -> Result<String, String> {
    let mut set = crate::template::TemplateSet::new(crate::sprig::functions());
    set.add("name-template", text).map_err(|e| e.to_string())?;
    set.execute("name-template", &crate::value::Value::Nil)
        .map_err(|e| e.to_string())
}
