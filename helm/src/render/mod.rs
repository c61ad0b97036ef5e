//! The render step: every template of a chart and its subcharts executed with Helm's
//! built-in objects, as Helm's `engine.Render` does.
//!
//! - Each chart gets one scope: `.Values` (the chart's table of the coalesced values),
//!   `.Chart`, `.Release`, `.Capabilities`, `.Files` ([`objects::Files`]) and `.Subcharts`
//!   (each subchart's scope by name); `.Template` (`Name`, `BasePath`) is set per file.
//! - Template files are named by their full chart path (`parent/charts/sub/templates/x.yaml`)
//!   and parsed into one namespace deepest first and, at equal depth, in reverse name order,
//!   so a parent's `define` wins over a subchart's of the same name and `a.tpl`'s over
//!   `b.tpl`'s. They execute in the same order (files starting with `_` are parsed only;
//!   library charts lend only such files).
//! - Helm's own functions are added to Sprig's: `include` (with Helm's limit of 1000 nested
//!   includes of one name), `tpl` (its text parsed as `gotpl` in a copy of the namespace,
//!   costing time linear in the text), `required` and `fail`.
//! - `<no value>` is removed from each file's output.
//! - Errors read as helm v4 prints them: `parse error at (FILE:LINE): MSG`,
//!   `execution error at (FILE:LINE:COL): MSG` for `fail`/`required`, a trace of
//!   `FILE:LINE:COL / executing "NAME" at <NODE>: / MSG` entries for failures inside nested
//!   `include`s, and Go's one-line message otherwise.

pub mod objects;

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::chart::{Chart, Values};
use crate::template::{
    ExecError, Func, FuncError, FuncMap, Param, ParseError, TemplateError, TemplateSet,
};
use crate::value::Value;
pub use objects::{Capabilities, Files, KubeVersion};

/// `.Release`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Release {
    /// `Name`.
    pub name: String,
    /// `Namespace`.
    pub namespace: String,
    /// `Revision` (1 for an install).
    pub revision: i64,
    /// `IsInstall`.
    pub is_install: bool,
    /// `IsUpgrade`.
    pub is_upgrade: bool,
    /// `Service` (`Helm`).
    pub service: String,
}

impl Release {
    /// A first install of `name` into `namespace`, as `helm template` assumes.
    pub fn install(name: &str, namespace: &str) -> Release {
        Release {
            name: name.to_string(),
            namespace: namespace.to_string(),
            revision: 1,
            is_install: true,
            is_upgrade: false,
            service: "Helm".into(),
        }
    }

    fn to_value(&self) -> Value {
        Value::map(BTreeMap::from([
            ("IsInstall".to_string(), Value::Bool(self.is_install)),
            ("IsUpgrade".to_string(), Value::Bool(self.is_upgrade)),
            ("Name".to_string(), Value::from(self.name.as_str())),
            (
                "Namespace".to_string(),
                Value::from(self.namespace.as_str()),
            ),
            ("Revision".to_string(), Value::Int(self.revision)),
            ("Service".to_string(), Value::from(self.service.as_str())),
        ]))
    }
}

/// A render failure, with Helm's message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct RenderError {
    /// What helm prints after `Error: `.
    pub message: String,
    /// The template file that failed.
    pub template: String,
}

/// Helm's limit on how many times one name may be included inside itself.
pub const MAX_INCLUDE_NESTING: usize = 1000;

/// One file to render: its full name, text, scope and base path.
struct Renderable<'c> {
    name: String,
    text: std::borrow::Cow<'c, str>,
    scope: Arc<BTreeMap<String, Value>>,
    base_path: String,
}

/// Renders every template of `chart` (whose dependencies are already processed) with the
/// coalesced `values`. Returns `(full template name, output)` for each non-partial file, in
/// execution order.
///
/// # Errors
/// The first parse or execution error, as Helm words it.
pub fn render(
    chart: &Chart,
    values: &Values,
    release: &Release,
    capabilities: &Capabilities,
) -> Result<Vec<(String, String)>, RenderError> {
    let shared = SharedObjects {
        release: release.to_value(),
        capabilities: Value::Object(Arc::new(capabilities.clone())),
    };
    let root_values = values_to_template(values);
    let mut files = Vec::new();
    collect(chart, root_values, "", &shared, &mut files, 0);
    files.sort_by(|a, b| helm_order(&a.name, &b.name));

    let mut set = TemplateSet::new(functions());
    let texts: Vec<(&str, &str)> = files
        .iter()
        .map(|f| (f.name.as_str(), f.text.as_ref()))
        .collect();
    set.add_all(&texts).map_err(|e| parse_error(&e.name, &e))?;

    let runnable: Vec<&Renderable<'_>> = files
        .iter()
        .filter(|f| !base_name(&f.name).starts_with('_'))
        .collect();
    let data: Vec<Value> = runnable
        .iter()
        .map(|f| {
            let mut top = (*f.scope).clone();
            top.insert(
                "Template".into(),
                Value::named_map(
                    "common.Values",
                    BTreeMap::from([
                        ("BasePath".to_string(), Value::from(f.base_path.as_str())),
                        ("Name".to_string(), Value::from(f.name.as_str())),
                    ]),
                ),
            );
            Value::named_map("common.Values", top)
        })
        .collect();
    let jobs: Vec<(&str, &Value)> = runnable
        .iter()
        .zip(&data)
        .map(|(f, d)| (f.name.as_str(), d))
        .collect();
    let mut out = Vec::with_capacity(jobs.len());
    for (file, result) in runnable.iter().zip(set.execute_batch(&jobs)) {
        match result {
            Ok(text) => out.push((file.name.clone(), text.replace("<no value>", ""))),
            Err(e) => {
                return Err(RenderError {
                    message: exec_error(&e),
                    template: file.name.clone(),
                });
            }
        }
    }
    Ok(out)
}

struct SharedObjects {
    release: Value,
    capabilities: Value,
}

/// Builds the scope of `chart` and its subcharts and lists their template files. Returns
/// the chart's scope (for the parent's `.Subcharts`).
fn collect<'c>(
    chart: &'c Chart,
    values: Value,
    parent_path: &str,
    shared: &SharedObjects,
    files: &mut Vec<Renderable<'c>>,
    depth: usize,
) -> Value {
    let path = if parent_path.is_empty() {
        chart.name().to_string()
    } else {
        format!("{parent_path}/charts/{}", chart.name())
    };
    let mut subcharts = BTreeMap::new();
    if depth < crate::chart::MAX_CHART_DEPTH {
        for sub in &chart.dependencies {
            let sub_values = values
                .as_map()
                .and_then(|m| m.get(sub.name()))
                .filter(|v| v.as_map().is_some())
                .map(|v| retype_values(&v))
                .unwrap_or_else(|| Value::named_map("common.Values", BTreeMap::new()));
            let scope = collect(sub, sub_values, &path, shared, files, depth + 1);
            subcharts.insert(sub.name().to_string(), scope);
        }
    }
    let mut scope = BTreeMap::new();
    scope.insert("Capabilities".to_string(), shared.capabilities.clone());
    scope.insert(
        "Chart".to_string(),
        chart_value(chart, parent_path.is_empty()),
    );
    scope.insert("Files".to_string(), files_value(chart));
    scope.insert("Release".to_string(), shared.release.clone());
    scope.insert("Subcharts".to_string(), Value::map(subcharts));
    scope.insert("Values".to_string(), values);
    let scope = Arc::new(scope);
    let base_path = format!("{path}/templates");
    for t in &chart.templates {
        if chart.is_library() && !base_name(&t.name).starts_with('_') {
            continue;
        }
        files.push(Renderable {
            name: format!("{path}/{}", t.name),
            // Go reads the bytes as they are; invalid UTF-8 is replaced rather than refused.
            text: String::from_utf8_lossy(&t.data),
            scope: scope.clone(),
            base_path: base_path.clone(),
        });
    }
    Value::named_map("common.Values", (*scope).clone())
}

/// Helm's template order: more `/` first; at equal depth, reverse byte order.
fn helm_order(a: &str, b: &str) -> std::cmp::Ordering {
    let depth = |s: &str| s.bytes().filter(|c| *c == b'/').count();
    depth(b).cmp(&depth(a)).then_with(|| b.cmp(a))
}

fn base_name(name: &str) -> &str {
    name.rsplit('/').next().unwrap_or(name)
}

/// `.Chart` as helm v4 gives it: a `map[string]interface{}` of the Chart.yaml fields.
fn chart_value(chart: &Chart, is_root: bool) -> Value {
    let json = serde_json::Value::Object(chart.metadata.to_template_value(is_root));
    let mut value = Value::from_json(&json);
    if let Some(m) = value.as_map() {
        let mut entries = (*m.snapshot()).clone();
        entries.insert(
            "Annotations".into(),
            Value::string_map(
                chart
                    .metadata
                    .annotations
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone())),
            ),
        );
        value = Value::map(entries);
    }
    value
}

fn files_value(chart: &Chart) -> Value {
    Value::Object(Arc::new(Files::new(
        chart
            .files
            .iter()
            .map(|f| (f.name.clone(), Arc::from(f.data.as_slice())))
            .collect(),
    )))
}

/// Values as templates see them: `common.Values` at the top, `float64` for numbers read
/// from YAML, `int64` for `--set` integers.
pub fn values_to_template(values: &Values) -> Value {
    Value::named_map(
        "common.Values",
        values
            .iter()
            .map(|(k, v)| (k.clone(), json_to_value(v, 0)))
            .collect(),
    )
}

/// A subchart's table, retyped as `common.Values` (Helm's `Values.Table`).
fn retype_values(v: &Value) -> Value {
    match v.as_map() {
        Some(m) => Value::Map(Arc::new(m.with_type(Some("common.Values".into())))),
        None => v.clone(),
    }
}

fn json_to_value(v: &serde_json::Value, depth: usize) -> Value {
    use serde_json::Value as J;
    if depth > crate::chart::values::MAX_VALUES_DEPTH {
        return Value::Nil;
    }
    match v {
        J::Null => Value::Nil,
        J::Bool(b) => Value::Bool(*b),
        J::Number(n) => {
            if n.is_f64() {
                Value::Float(n.as_f64().unwrap_or(0.0))
            } else if let Some(i) = n.as_i64() {
                Value::Int64(i)
            } else if let Some(u) = n.as_u64() {
                Value::Uint64(u)
            } else {
                Value::Float(n.as_f64().unwrap_or(0.0))
            }
        }
        J::String(s) => Value::from(s.as_str()),
        J::Array(items) => Value::list(items.iter().map(|i| json_to_value(i, depth + 1)).collect()),
        J::Object(m) => Value::map(
            m.iter()
                .map(|(k, v)| (k.clone(), json_to_value(v, depth + 1)))
                .collect(),
        ),
    }
}

/// Sprig and Helm's functions, with Helm's `include`, `tpl`, `required` and `fail`.
pub fn functions() -> FuncMap {
    let mut funcs = crate::sprig::functions();
    funcs.insert(
        "include".into(),
        Func::new(&[Param::String, Param::Any], |ctx, args| {
            let name = args.first().and_then(Value::as_str).unwrap_or("").to_string();
            let data = args.get(1).cloned().unwrap_or(Value::Nil);
            let count = ctx.counter(&name);
            if *count > MAX_INCLUDE_NESTING {
                return Err(FuncError::new(format!(
                    "rendering template has a nested reference name: {name}: unable to execute template"
                )));
            }
            *count += 1;
            let result = ctx.execute(&name, &data);
            *ctx.counter(&name) -= 1;
            result.map(Value::from).map_err(FuncError::from_exec)
        }),
    );
    funcs.insert(
        "tpl".into(),
        Func::new(&[Param::String, Param::Any], |ctx, args| {
            let text = args.first().and_then(Value::as_str).unwrap_or("");
            let data = args.get(1).cloned().unwrap_or(Value::Nil);
            let quoted = crate::template::fmt::quote(text);
            let root = ctx.set().root_name().to_string();
            match ctx.execute_text(&root, text, &data) {
                Ok(out) => Ok(Value::from(out.replace("<no value>", ""))),
                Err(TemplateError::Parse(e)) => Err(FuncError::new(format!(
                    "cannot parse template {quoted}: {e}"
                ))),
                Err(TemplateError::Exec(e)) => Err(FuncError::wrap(
                    &format!("error during tpl function execution for {quoted}"),
                    e,
                )),
            }
        }),
    );
    funcs.insert(
        "required".into(),
        Func::new(&[Param::String, Param::Any], |_, args| {
            let warning = args.first().and_then(Value::as_str).unwrap_or("");
            match args.get(1) {
                None | Some(Value::Nil) => Err(FuncError::user(warning)),
                Some(Value::String(s)) if s.is_empty() => Err(FuncError::user(warning)),
                Some(v) => Ok(v.clone()),
            }
        }),
    );
    funcs.insert(
        "fail".into(),
        Func::new(&[Param::String], |_, args| {
            Err(FuncError::user(
                args.first().and_then(Value::as_str).unwrap_or(""),
            ))
        }),
    );
    funcs
}

/// Helm's `cleanupParseError`: `parse error at (FILE:LINE): MSG` (the last `: `-separated
/// part of Go's message).
fn parse_error(file: &str, e: &ParseError) -> RenderError {
    let message = e.message.rsplit(": ").next().unwrap_or(&e.message);
    RenderError {
        message: format!("parse error at ({}:{}): {message}", e.name, e.line),
        template: file.to_string(),
    }
}

/// helm v4's rendering of an execution error (see the module docs).
fn exec_error(e: &ExecError) -> String {
    let Some(location) = &e.location else {
        return e.to_string();
    };
    if let Some(user) = e.cause.as_ref().and_then(|c| c.find_user_message()) {
        return format!("execution error at ({location}): {user}");
    }
    trace(e).unwrap_or_else(|| e.to_string())
}

/// The nested-include trace, or `None` when a link of the chain is not a template error
/// (then Helm prints Go's message as it is).
fn trace(top: &ExecError) -> Option<String> {
    let mut out = String::new();
    let mut current = top;
    loop {
        let location = current.location.as_ref()?;
        let node = current.node.as_ref()?;
        let head = |message: &str| {
            format!(
                "{location}\n  executing {} at <{node}>:\n    {message}\n",
                crate::template::fmt::quote(&current.template)
            )
        };
        let Some(cause) = &current.cause else {
            out.push_str(&head(&current.message));
            return Some(out.trim().to_string());
        };
        let source = cause.source.as_ref().filter(|_| cause.verbatim)?;
        out.push_str(&head(&format!("{}:", current.message)));
        if source.location.is_none() {
            out.push_str(&source.to_string());
            return Some(out.trim().to_string());
        }
        current = source;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_sort_deepest_first_then_reverse_name() {
        let mut names = vec![
            "c/templates/a.yaml",
            "c/charts/s/templates/x.yaml",
            "c/templates/b.yaml",
            "c/templates/sub/z.yaml",
        ];
        names.sort_by(|a, b| helm_order(a, b));
        assert_eq!(
            names,
            [
                "c/charts/s/templates/x.yaml",
                "c/templates/sub/z.yaml",
                "c/templates/b.yaml",
                "c/templates/a.yaml"
            ]
        );
    }
}
