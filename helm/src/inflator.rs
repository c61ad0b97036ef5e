//! Kustomize's `helmCharts` rendered with this engine: the [`ChartInflator`] that
//! `weir build kustomization` and kustomize-controller hand to the Kustomize engine. The
//! chart's files come from that engine (read inside the build root); nothing is downloaded
//! and no helm binary runs.

use weir_kustomize::{ChartFile, ChartInflator, HelmChartRequest};

use crate::action::{self, TemplateOptions, ValueSource};
use crate::chart::File;
use crate::chart::ignore::Rules;

/// Renders charts as `helm template` (helm v4) does, natively.
#[derive(Clone, Copy, Debug, Default)]
pub struct WeirHelmInflator;

impl ChartInflator for WeirHelmInflator {
    fn inflate(&self, request: &HelmChartRequest) -> Result<String, String> {
        let chart = crate::chart::load_files(chart_files(&request.files)?)
            .map_err(|e| format!("loading {}: {e}", request.chart_dir))?;
        let release_name = match (&request.release_name, &request.name_template) {
            (Some(_), Some(_)) => {
                return Err("cannot set --name-template and also specify a name".into());
            }
            (Some(name), None) => name.clone(),
            (None, Some(template)) => action::render_name_template(template)?,
            (None, None) => "release-name".into(),
        };
        let sources: Vec<ValueSource> = request
            .values
            .iter()
            .map(|v| ValueSource::File {
                name: v.name.clone(),
                text: v.text.clone(),
            })
            .collect();
        let no_files = |path: &str| Err(format!("{path}: --set-file is not used here"));
        let user = action::user_values(&sources, &no_files)?;
        let options = TemplateOptions {
            release_name,
            namespace: request.namespace.clone().unwrap_or_default(),
            kube_version: request.kube_version.clone(),
            api_versions: request.api_versions.clone(),
            include_crds: request.include_crds,
            skip_tests: request.skip_tests,
            no_hooks: request.skip_hooks,
            ..TemplateOptions::default()
        };
        action::template(chart, &user, &options).map_err(|e| e.message)
    }
}

/// The chart's files as `helm` loads a chart directory: `.helmignore` (and Helm's default
/// rule) applied, a UTF-8 byte-order mark removed.
fn chart_files(files: &[ChartFile]) -> Result<Vec<File>, String> {
    let mut rules = match files.iter().find(|f| f.name == ".helmignore") {
        Some(f) => Rules::parse(&String::from_utf8_lossy(&f.data))?,
        None => Rules::default(),
    };
    rules.add_defaults();
    let kept = files.iter().filter(|f| {
        let parts: Vec<&str> = f.name.split('/').collect();
        let dir_ignored = (1..parts.len()).any(|n| rules.ignore(&parts[..n].join("/"), true));
        !dir_ignored && !rules.ignore(&f.name, false)
    });
    Ok(kept
        .map(|f| File {
            name: f.name.clone(),
            data: f
                .data
                .strip_prefix(b"\xEF\xBB\xBF")
                .unwrap_or(&f.data)
                .to_vec(),
        })
        .collect())
}
