//! `generators`, `transformers` and `validators`: configurations of Kustomize's built-in
//! plugins (`apiVersion: builtin`), each run with the engine's own generators, patches,
//! replacements and field-spec walkers. Where a kustomization field uses Kustomize's default
//! field specs, a plugin config carries its own `fieldSpecs`, and only those are touched.
//!
//! An entry is a file (one config per YAML document) or a config written inline as a block
//! string. They run after the kustomization's built-in generators (`generators`) and built-in
//! transformers (`transformers`). `validators` are refused: Kustomize has no built-in
//! validators, and a built-in transformer listed there fails whenever it touches a resource
//! (even to set a value already there).
//!
//! Anything else — `exec` plugins, KRM functions (containers, `config.kubernetes.io/function`),
//! Go plugins, any other `apiVersion` — would run code from the source and is refused with
//! an error naming the file. As in Kustomize, `apiVersion: builtin` alone picks a built-in (a
//! function annotation on its config is never run).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::buildmeta::{self, Record};
use super::fieldspec::{self, visit_path};
use super::generators::{self, GenKind};
use super::kustomization::{Generator, Image};
use super::patch::{self, Json6902Entry, PatchEntry, PatchOptions, Selector};
use super::replacement::{self, ReplacementEntry};
use super::resource::{self, Resource};
use super::transform::{replace_image, rewrite_images};
use super::valueadd;
use super::{BuildError, Loader};

/// Which kustomization field the entries come from.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Stage {
    /// `generators`.
    Generators,
    /// `transformers`.
    Transformers,
    /// `validators`.
    Validators,
}

impl Stage {
    fn field(self) -> &'static str {
        match self {
            Stage::Generators => "generators",
            Stage::Transformers => "transformers",
            Stage::Validators => "validators",
        }
    }
}

/// A plugin config: where it was written, its kind and name, and its own fields.
pub(crate) struct Config {
    /// The file the config is in (the kustomization file for an inline config).
    file: String,
    kind: String,
    name: String,
    namespace: String,
    /// Every field but `apiVersion`, `kind` and `metadata`.
    fields: Map<String, Value>,
}

/// Runs the plugin configs listed in the field `stage` of the kustomization `file` (in
/// `dir`) over `resources`.
///
/// # Errors
/// Unreadable or malformed configs, plugins that are not Kustomize built-ins (code-running
/// plugins), a generator listed as a transformer or the other way round, a validator that
/// would change resources, and the failures of the plugin itself — each naming its file.
pub fn run(
    loader: &Loader,
    dir: &Path,
    file: &str,
    stage: Stage,
    entries: &[String],
    resources: &mut Vec<Resource>,
) -> Result<(), BuildError> {
    for entry in entries {
        for config in configs(loader, dir, file, stage, entry)? {
            match stage {
                Stage::Generators => generate(loader, dir, &config, resources)?,
                Stage::Transformers => {
                    transform(loader, dir, &config, resources)?;
                    buildmeta::record(loader.meta.get(), &config.record(loader), resources);
                }
                Stage::Validators => {
                    return Err(BuildError::new(
                        &config.file,
                        format!(
                            "validators: {} {:?}: Kustomize has no built-in validators (a \
                             built-in transformer listed here fails the build whenever it \
                             touches a resource), and code-running validators are not supported",
                            config.kind, config.name
                        ),
                    ));
                }
            }
        }
    }
    Ok(())
}

/// The configs of one entry: inline (a block string) or every document of a file.
fn configs(
    loader: &Loader,
    dir: &Path,
    file: &str,
    stage: Stage,
    entry: &str,
) -> Result<Vec<Config>, BuildError> {
    let field = stage.field();
    let inline = entry.contains('\n') || entry.trim_start().starts_with('{');
    let (shown, text) = if inline {
        (file.to_string(), entry.to_string())
    } else {
        let path = dir.join(entry);
        let shown = loader.display(&path);
        let text = String::from_utf8(
            loader
                .read_local(dir, entry)
                .map_err(|e| BuildError::new(file, format!("{field}: {}", e.message)))?,
        )
        .map_err(|_| BuildError::new(&shown, "not UTF-8"))?;
        (shown, text)
    };
    let docs = weir_yaml::from_str_multi(&text)
        .map_err(|e| BuildError::new(&shown, format!("{field}: malformed YAML: {e}")))?;
    let mut out = Vec::new();
    for doc in docs.into_iter().filter(|d| !d.is_null()) {
        crate::limits::nested(&doc, "the plugin config").map_err(|m| BuildError::new(&shown, m))?;
        out.push(config(&shown, stage, doc)?);
    }
    Ok(out)
}

/// Checks one config document: a built-in plugin of the right sort, with a name.
fn config(file: &str, stage: Stage, doc: Value) -> Result<Config, BuildError> {
    let err = |m: String| BuildError::new(file, m);
    let field = stage.field();
    let Value::Object(mut fields) = doc else {
        return Err(err(format!("{field}: a plugin config must be a mapping")));
    };
    let text = |v: Option<Value>| {
        v.as_ref()
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let api_version = text(fields.remove("apiVersion"));
    let kind = text(fields.remove("kind"));
    let metadata = fields.remove("metadata").unwrap_or(Value::Null);
    // Kustomize picks built-ins by apiVersion alone: a function annotation on a built-in's
    // config is never run.
    if api_version != "builtin" {
        return Err(err(format!(
            "{field}: plugin {kind:?} (apiVersion {api_version:?}) is not a Kustomize built-in, and \
             code-running plugins are not supported (exec, KRM functions, containers, Go plugins)"
        )));
    }
    let name = metadata
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if name.is_empty() {
        return Err(err(format!(
            "{field}: missing metadata.name in {kind} plugin config"
        )));
    }
    let namespace = metadata
        .get("namespace")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let sort = match kind.as_str() {
        "ConfigMapGenerator" | "SecretGenerator" | "IAMPolicyGenerator" => Stage::Generators,
        "LabelTransformer"
        | "AnnotationsTransformer"
        | "NamespaceTransformer"
        | "PrefixSuffixTransformer"
        | "PrefixTransformer"
        | "SuffixTransformer"
        | "ImageTagTransformer"
        | "PatchTransformer"
        | "PatchStrategicMergeTransformer"
        | "PatchJson6902Transformer"
        | "ReplicaCountTransformer"
        | "ReplacementTransformer"
        | "HashTransformer"
        | "ValueAddTransformer" => Stage::Transformers,
        // Part of Kustomize, but kubectl 1.32 cannot load it from a plugin config.
        "SortOrderTransformer" => {
            return Err(err(format!(
                "{field}: unable to load builtin {kind}: kubectl does not load it from a plugin \
                 config (use sortOptions)"
            )));
        }
        "HelmChartInflationGenerator" => {
            return Err(err(format!(
                "{field}: built-in plugin {kind} is not supported as a plugin config: use the \
                 helmCharts field"
            )));
        }
        _ => {
            return Err(err(format!(
                "{field}: unable to load builtin {kind}: Kustomize has no such built-in plugin"
            )));
        }
    };
    let wanted = if stage == Stage::Generators {
        Stage::Generators
    } else {
        Stage::Transformers
    };
    if sort != wanted {
        let what = if wanted == Stage::Generators {
            "generator"
        } else {
            "transformer"
        };
        return Err(err(format!(
            "{field}: plugin {kind} {name:?} is not a {what}"
        )));
    }
    Ok(Config {
        file: file.to_string(),
        kind,
        name: name.to_string(),
        namespace: namespace.to_string(),
        fields,
    })
}

/// A field spec as a plugin config writes it.
use super::kustomization::FieldSpecEntry as Spec;

impl Spec {
    fn selects(&self, res: &Resource) -> bool {
        let (group, version, kind) = res.gvk();
        (self.group.is_empty() || self.group == group)
            && (self.version.is_empty() || self.version == version)
            && (self.kind.is_empty() || self.kind == kind)
    }
}

/// The specs of `specs` that select `res`, each path once.
fn selected<'s>(specs: &'s [Spec], res: &Resource) -> Vec<&'s Spec> {
    let mut out: Vec<&Spec> = Vec::new();
    for s in specs.iter().filter(|s| s.selects(res)) {
        if !out.iter().any(|o| o.path == s.path) {
            out.push(s);
        }
    }
    out
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct MapConfig {
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
    #[serde(default)]
    field_specs: Vec<Spec>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct NamespaceConfig {
    #[serde(default)]
    field_specs: Vec<Spec>,
    #[serde(default)]
    unset_only: bool,
    #[serde(default)]
    set_role_binding_subjects: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct AffixConfig {
    #[serde(default)]
    prefix: String,
    #[serde(default)]
    suffix: String,
    #[serde(default)]
    field_specs: Vec<Spec>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ImageConfig {
    image_tag: Image,
    #[serde(default)]
    field_specs: Vec<Spec>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ReplicaConfig {
    replica: super::kustomization::Replica,
    #[serde(default)]
    field_specs: Vec<Spec>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct StrategicConfig {
    #[serde(default)]
    paths: Vec<String>,
    #[serde(default)]
    patches: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Json6902Config {
    target: Selector,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    json_op: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PatchConfig {
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    patch: Option<String>,
    #[serde(default)]
    target: Option<Selector>,
    #[serde(default)]
    options: Option<PatchOptions>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ReplacementConfig {
    #[serde(default)]
    replacements: Vec<ReplacementEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Empty {}

/// `IAMPolicyGenerator`: a Kubernetes ServiceAccount bound to a cloud service account.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct IamConfig {
    #[serde(default)]
    cloud: String,
    #[serde(default)]
    kubernetes_service: IamKubernetesService,
    #[serde(default)]
    service_account: IamServiceAccount,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct IamKubernetesService {
    #[serde(default)]
    namespace: String,
    #[serde(default)]
    name: String,
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct IamServiceAccount {
    #[serde(default)]
    name: String,
    #[serde(default)]
    project_id: String,
}

/// The ServiceAccount of an `IAMPolicyGenerator` (only `cloud: gke` exists). Kustomize
/// writes the values into a YAML text and reads it back, so they are typed (and may break
/// it) as YAML scalars: the same is done here.
fn iam_service_account(c: &Config, cfg: &IamConfig) -> Result<Resource, BuildError> {
    if cfg.cloud != "gke" {
        return Err(c.err(format!("cloud provider {:?} not supported yet", cfg.cloud)));
    }
    let (ksa, gsa) = (&cfg.kubernetes_service, &cfg.service_account);
    let mut text = format!(
        "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  annotations:\n    \
         iam.gke.io/gcp-service-account: {}@{}.iam.gserviceaccount.com\n  name: {}\n",
        gsa.name, gsa.project_id, ksa.name
    );
    if !ksa.namespace.is_empty() {
        text.push_str(&format!("  namespace: {}\n", ksa.namespace));
    }
    let value = weir_yaml::from_str(&text).map_err(|e| {
        c.err(format!(
            "the generated ServiceAccount is not valid YAML: {e}"
        ))
    })?;
    crate::limits::nested(&value, "the generated ServiceAccount").map_err(|m| c.err(m))?;
    let res = Resource::new(value);
    if res.name().is_empty() {
        return Err(c.err(
            "missing metadata.name in the generated ServiceAccount (kubernetesService.name)",
        ));
    }
    Ok(res)
}

impl Config {
    /// The config as a build-metadata record: where it was written, its kind and name.
    fn record(&self, loader: &Loader) -> Arc<Record> {
        Arc::new(Record {
            configured_in: loader.root.join(&self.file),
            kind: self.kind.clone(),
            name: self.name.clone(),
            namespace: self.namespace.clone(),
        })
    }

    /// Where a resource this generator config makes comes from.
    fn origin(&self, loader: &Loader) -> resource::Origin {
        resource::Origin::Plugin {
            configured_in: loader.root.join(&self.file),
            kind: self.kind.clone(),
            name: self.name.clone(),
            namespace: self.namespace.clone(),
        }
    }

    pub(crate) fn err(&self, m: impl std::fmt::Display) -> BuildError {
        BuildError::new(&self.file, format!("{} {:?}: {m}", self.kind, self.name))
    }

    /// The config's fields as `T`.
    fn parse<T: DeserializeOwned>(&self) -> Result<T, BuildError> {
        serde_json::from_value(Value::Object(self.fields.clone()))
            .map_err(|e| self.err(format!("invalid plugin config: {e}")))
    }
}

/// Runs one transformer config.
fn transform(
    loader: &Loader,
    dir: &Path,
    c: &Config,
    resources: &mut Vec<Resource>,
) -> Result<(), BuildError> {
    let file = c.file.as_str();
    loader.budget.deadline().map_err(|m| c.err(m))?;
    match c.kind.as_str() {
        "LabelTransformer" | "AnnotationsTransformer" => {
            let cfg: MapConfig = c.parse()?;
            let pairs = if c.kind == "LabelTransformer" {
                if !cfg.annotations.is_empty() {
                    return Err(c.err("invalid plugin config: unknown field `annotations`"));
                }
                &cfg.labels
            } else {
                if !cfg.labels.is_empty() {
                    return Err(c.err("invalid plugin config: unknown field `labels`"));
                }
                &cfg.annotations
            };
            set_maps(loader, c, resources, &cfg.field_specs, pairs)
        }
        "NamespaceTransformer" => {
            let cfg: NamespaceConfig = c.parse()?;
            namespace(c, resources, &cfg)
        }
        "PrefixSuffixTransformer" | "PrefixTransformer" | "SuffixTransformer" => {
            let cfg: AffixConfig = c.parse()?;
            if (c.kind == "PrefixTransformer" && !cfg.suffix.is_empty())
                || (c.kind == "SuffixTransformer" && !cfg.prefix.is_empty())
            {
                return Err(c.err("invalid plugin config: PrefixTransformer takes only prefix, SuffixTransformer only suffix"));
            }
            affix(c, resources, &cfg)
        }
        "ImageTagTransformer" => {
            let cfg: ImageConfig = c.parse()?;
            for res in resources.iter_mut() {
                rewrite_images(&mut res.value, &cfg.image_tag);
                for spec in selected(&cfg.field_specs, res) {
                    visit_path(&mut res.value, &spec.path, spec.create, &mut |v| {
                        let target = match v {
                            Value::Object(m) => m.get_mut("image"),
                            other => Some(other),
                        };
                        if let Some(Value::String(current)) = target
                            && let Some(new) = replace_image(current, &cfg.image_tag)
                        {
                            *current = new;
                        }
                        Ok(())
                    })
                    .map_err(|m| c.err(m))?;
                }
            }
            Ok(())
        }
        "ReplicaCountTransformer" => {
            let cfg: ReplicaConfig = c.parse()?;
            for res in resources.iter_mut() {
                if !res.all_names().any(|n| n == cfg.replica.name) {
                    continue;
                }
                for spec in selected(&cfg.field_specs, res) {
                    visit_path(&mut res.value, &spec.path, spec.create, &mut |v| {
                        *v = Value::from(cfg.replica.count);
                        Ok(())
                    })
                    .map_err(|m| c.err(m))?;
                }
            }
            Ok(())
        }
        "PatchTransformer" => {
            let cfg: PatchConfig = c.parse()?;
            let entry = PatchEntry {
                path: cfg.path,
                patch: cfg.patch,
                target: cfg.target,
                options: cfg.options,
            };
            patch::apply_patches(loader, dir, file, std::slice::from_ref(&entry), resources)
        }
        "PatchStrategicMergeTransformer" => {
            let cfg: StrategicConfig = c.parse()?;
            let mut entries = cfg.paths;
            entries.extend(cfg.patches.map(|p| {
                // An inline patch is recognised by its line break.
                if p.contains('\n') {
                    p
                } else {
                    format!("{p}\n")
                }
            }));
            patch::apply_strategic_merge(loader, dir, file, &entries, resources)
        }
        "PatchJson6902Transformer" => {
            let cfg: Json6902Config = c.parse()?;
            let entry = Json6902Entry {
                target: cfg.target,
                path: cfg.path,
                patch: cfg.json_op,
            };
            patch::apply_json6902(loader, dir, file, std::slice::from_ref(&entry), resources)
        }
        "ReplacementTransformer" => {
            let cfg: ReplacementConfig = c.parse()?;
            replacement::apply(loader, dir, file, &cfg.replacements, resources)
        }
        "ValueAddTransformer" => {
            let cfg: valueadd::Config = c.parse()?;
            valueadd::apply(loader, dir, c, cfg, resources)
        }
        "HashTransformer" => {
            let _: Empty = c.parse()?;
            // As in Kustomize, the resources keep their mark: the end of the build appends
            // the hash of their final content once more.
            for res in resources.iter_mut().filter(|r| r.needs_hash) {
                let name = format!("{}-{}", res.name(), generators::content_hash(&res.value));
                res.set_name(&name);
            }
            Ok(())
        }
        other => Err(c.err(format!("{other} is not a transformer"))),
    }
}

/// `labels[].fields` of a kustomization: the entry's own field specs, on top of the default
/// ones. As in Kustomize, a spec naming the same group, version, kind and path as a default
/// one with another `create` is an error.
///
/// # Errors
/// Conflicting field specs, and a spec path that crosses a scalar or ends at one.
pub(crate) fn label_fields(
    loader: &Loader,
    file: &str,
    fields: &[Spec],
    defaults: &[fieldspec::Spec],
    pairs: &BTreeMap<String, String>,
    resources: &mut [Resource],
) -> Result<(), BuildError> {
    if fields.is_empty() {
        return Ok(());
    }
    for f in fields {
        let conflict = defaults.iter().any(|d| {
            d.group.as_deref().unwrap_or_default() == f.group
                && d.version.as_deref().unwrap_or_default() == f.version
                && d.kind.as_deref().unwrap_or_default() == f.kind
                && d.path == f.path.as_str()
                && d.create != f.create
        });
        if conflict {
            return Err(BuildError::new(
                file,
                format!(
                    "labels: failed to merge labels: conflicting fieldspecs (path {:?}, kind {:?})",
                    f.path, f.kind
                ),
            ));
        }
    }
    let c = Config {
        file: file.to_string(),
        kind: "labels".into(),
        name: "fields".into(),
        namespace: String::new(),
        fields: Map::new(),
    };
    set_maps(loader, &c, resources, fields, pairs)
}

/// Sets `pairs` in the map at every spec path (labels, annotations).
fn set_maps(
    loader: &Loader,
    c: &Config,
    resources: &mut [Resource],
    specs: &[Spec],
    pairs: &BTreeMap<String, String>,
) -> Result<(), BuildError> {
    let size = crate::transform::pairs_size(pairs);
    for res in resources.iter_mut() {
        let id = res.id();
        for spec in selected(specs, res) {
            visit_path(&mut res.value, &spec.path, spec.create, &mut |target| {
                if target.is_null() {
                    *target = Value::Object(Map::new());
                }
                let Value::Object(map) = target else {
                    return Err(format!("{} is not a map", spec.path));
                };
                loader.budget.charge(size)?;
                for (k, v) in pairs {
                    map.insert(k.clone(), Value::String(v.clone()));
                }
                Ok(())
            })
            .map_err(|m| c.err(format!("{id}: {m}")))?;
        }
    }
    Ok(())
}

/// Kinds a name prefix or suffix leaves alone, as Kustomize does: namespaces (of any group),
/// CRDs and API services.
fn keeps_its_name(res: &Resource) -> bool {
    let (group, _, kind) = res.gvk();
    matches!(kind, "Namespace" | "CustomResourceDefinition")
        || (kind == "APIService" && group == "apiregistration.k8s.io")
}

/// Prefixes and suffixes the strings at every spec path (`metadata/name` renames, so that
/// references follow).
fn affix(c: &Config, resources: &mut [Resource], cfg: &AffixConfig) -> Result<(), BuildError> {
    if cfg.prefix.is_empty() && cfg.suffix.is_empty() {
        return Ok(());
    }
    let wrap = |s: &str| format!("{}{s}{}", cfg.prefix, cfg.suffix);
    for res in resources.iter_mut() {
        if keeps_its_name(res) {
            continue;
        }
        for spec in selected(&cfg.field_specs, res) {
            if spec.path == "metadata/name" {
                if !res.name().is_empty() {
                    let name = wrap(res.name());
                    res.set_name(&name);
                }
                continue;
            }
            visit_path(&mut res.value, &spec.path, spec.create, &mut |v| {
                if let Value::String(s) = v {
                    *s = wrap(s);
                }
                Ok(())
            })
            .map_err(|m| c.err(m))?;
        }
    }
    Ok(())
}

/// Sets the namespace named in the config's metadata at every spec path of namespaced
/// resources (`metadata/namespace` moves the resource, so that references follow), and in
/// the subjects of role bindings.
fn namespace(
    c: &Config,
    resources: &mut [Resource],
    cfg: &NamespaceConfig,
) -> Result<(), BuildError> {
    let ns = c.namespace.as_str();
    if ns.is_empty() {
        return Ok(());
    }
    let subjects = cfg
        .set_role_binding_subjects
        .as_deref()
        .unwrap_or("defaultOnly");
    if !matches!(subjects, "defaultOnly" | "allServiceAccounts" | "none") {
        return Err(c.err(format!(
            "setRoleBindingSubjects {subjects:?} must be defaultOnly, allServiceAccounts or none"
        )));
    }
    for res in resources.iter_mut() {
        if resource::is_cluster_scoped(res.kind()) && res.kind() != "Namespace" {
            if matches!(res.kind(), "ClusterRoleBinding") {
                crate::transform::set_role_binding_subjects(res, ns, subjects);
            }
            continue;
        }
        if res.kind() == "RoleBinding" {
            crate::transform::set_role_binding_subjects(res, ns, subjects);
        }
        for spec in selected(&cfg.field_specs, res) {
            if spec.path == "metadata/namespace" {
                if res.kind() == "Namespace" {
                    continue;
                }
                if (!cfg.unset_only || res.namespace().is_empty()) && res.namespace() != ns {
                    res.set_namespace(ns);
                }
                continue;
            }
            visit_path(&mut res.value, &spec.path, spec.create, &mut |v| {
                let unset = v.is_null() || v.as_str() == Some("");
                if !cfg.unset_only || unset {
                    *v = Value::String(ns.to_string());
                }
                Ok(())
            })
            .map_err(|m| c.err(m))?;
        }
    }
    Ok(())
}

/// Runs one generator config: the object is made as the kustomization's generators make
/// theirs, without the kustomization's `generatorOptions` (Kustomize does not apply them to
/// plugins).
fn generate(
    loader: &Loader,
    dir: &Path,
    c: &Config,
    resources: &mut Vec<Resource>,
) -> Result<(), BuildError> {
    if c.kind == "IAMPolicyGenerator" {
        let cfg: IamConfig = c.parse()?;
        let mut res = iam_service_account(c, &cfg)?;
        loader.admit(std::slice::from_ref(&res), &c.file)?;
        res.origin = Some(c.origin(loader));
        return crate::apply_generated(resources, res, "create", &c.file);
    }
    let kind = if c.kind == "ConfigMapGenerator" {
        GenKind::ConfigMap
    } else {
        GenKind::Secret
    };
    let mut fields = c.fields.clone();
    fields
        .entry("name")
        .or_insert_with(|| Value::String(c.name.clone()));
    if !c.namespace.is_empty() {
        fields
            .entry("namespace")
            .or_insert_with(|| Value::String(c.namespace.clone()));
    }
    if kind == GenKind::ConfigMap && fields.contains_key("type") {
        return Err(c.err("invalid plugin config: unknown field `type`"));
    }
    let g: Generator = serde_json::from_value(Value::Object(fields))
        .map_err(|e| c.err(format!("invalid plugin config: {e}")))?;
    let mut res = generators::generate(loader, dir, &c.file, kind, &g, None)?;
    loader.admit(std::slice::from_ref(&res), &c.file)?;
    res.origin = Some(c.origin(loader));
    crate::apply_generated(
        resources,
        res,
        g.behavior.as_deref().unwrap_or("create"),
        &c.file,
    )
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use serde_json::{Value, json};

    use crate::{MemoryFs, build_in};

    const DEPLOY: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  selector:\n    matchLabels:\n      app: web\n  template:\n    metadata:\n      labels:\n        app: web\n";

    fn build(kustomization: &str, files: &[(&str, &str)]) -> Result<Vec<Value>, String> {
        let mut fs = MemoryFs::new();
        fs.insert("kustomization.yaml", kustomization)
            .map_err(|e| e.to_string())?;
        fs.insert("deploy.yaml", DEPLOY)
            .map_err(|e| e.to_string())?;
        for (path, body) in files {
            fs.insert(path, *body).map_err(|e| e.to_string())?;
        }
        build_in(&fs, Path::new(""), None, false).map_err(|e| e.to_string())
    }

    fn plugin(body: &str) -> String {
        format!("apiVersion: builtin\nmetadata:\n  name: p\n{body}")
    }

    #[test]
    fn label_field_specs_touch_only_their_paths_and_kinds() -> Result<(), String> {
        let config = plugin(
            "kind: LabelTransformer\nlabels:\n  env: prod\nfieldSpecs:\n- path: metadata/labels\n  create: true\n- kind: Service\n  path: spec/selector\n  create: true\n",
        );
        let out = build(
            "resources: [deploy.yaml]\ntransformers: [labels.yaml]\n",
            &[("labels.yaml", &config)],
        )?;
        assert_eq!(out[0]["metadata"]["labels"], json!({"env": "prod"}));
        assert_eq!(
            out[0]["spec"]["selector"]["matchLabels"],
            json!({"app": "web"})
        );
        assert!(out[0]["spec"].get("spec").is_none());
        Ok(())
    }

    #[test]
    fn transformers_run_after_the_fields_of_the_same_kustomization() -> Result<(), String> {
        let config = plugin(
            "kind: PrefixTransformer\nprefix: plugin-\nfieldSpecs:\n- path: metadata/name\n",
        );
        let out = build(
            "namePrefix: field-\nresources: [deploy.yaml]\ntransformers: [p.yaml]\n",
            &[("p.yaml", &config)],
        )?;
        assert_eq!(out[0]["metadata"]["name"], "plugin-field-web");
        Ok(())
    }

    #[test]
    fn code_running_unknown_and_misplaced_plugins_are_refused_naming_the_file() {
        let cases = [
            (
                "transformers: [t.yaml]\n",
                "apiVersion: example.com/v1\nkind: Sops\nmetadata:\n  name: s\n",
                "code-running plugins are not supported",
            ),
            (
                "generators: [t.yaml]\n",
                "apiVersion: fn.example.com/v1\nkind: Render\nmetadata:\n  name: r\n  annotations:\n    config.kubernetes.io/function: |\n      container:\n        image: x\n",
                "code-running plugins are not supported",
            ),
            (
                "transformers: [t.yaml]\n",
                "apiVersion: builtin\nkind: LabelsTransformer\nmetadata:\n  name: typo\n",
                "unable to load builtin LabelsTransformer",
            ),
            (
                "transformers: [t.yaml]\n",
                "apiVersion: builtin\nkind: ConfigMapGenerator\nmetadata:\n  name: cm\n",
                "is not a transformer",
            ),
            (
                "generators: [t.yaml]\n",
                "apiVersion: builtin\nkind: LabelTransformer\nmetadata:\n  name: l\n",
                "is not a generator",
            ),
            (
                "transformers: [t.yaml]\n",
                "apiVersion: builtin\nkind: SortOrderTransformer\nmetadata:\n  name: s\n",
                "unable to load builtin SortOrderTransformer",
            ),
            (
                "validators: [t.yaml]\n",
                "apiVersion: builtin\nkind: LabelTransformer\nmetadata:\n  name: l\n",
                "no built-in validators",
            ),
            (
                "transformers: [t.yaml]\n",
                "apiVersion: builtin\nkind: LabelTransformer\nlabels: {a: b}\n",
                "missing metadata.name",
            ),
            (
                "transformers: [t.yaml]\n",
                "apiVersion: builtin\nkind: LabelTransformer\nmetadata:\n  name: l\nlabelz: {a: b}\n",
                "unknown field `labelz`",
            ),
        ];
        for (k, config, needle) in cases {
            let err = build(k, &[("t.yaml", config)]).expect_err("must be refused");
            assert!(err.starts_with("t.yaml:"), "names the file: {err}");
            assert!(err.contains(needle), "{k} {config}: {err}");
        }
    }

    #[test]
    fn generator_configs_take_name_and_namespace_from_metadata() -> Result<(), String> {
        let inline = "generators:\n- |-\n  apiVersion: builtin\n  kind: SecretGenerator\n  metadata:\n    name: creds\n    namespace: apps\n  literals: [a=b]\n  options:\n    disableNameSuffixHash: true\n";
        let out = build(inline, &[])?;
        assert_eq!(out[0]["kind"], "Secret");
        assert_eq!(
            out[0]["metadata"],
            json!({"name": "creds", "namespace": "apps"})
        );
        assert_eq!(out[0]["type"], "Opaque");
        Ok(())
    }
}
