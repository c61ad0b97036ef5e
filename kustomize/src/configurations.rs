//! Transformer configurations: the field-spec tables the built-in transformers use (where
//! `commonLabels`, `namePrefix`, `namespace`, `images`, `replicas`, name references and
//! `vars` look in each kind), extended by a kustomization's `configurations` files and by
//! the name references its `crds` files declare.
//!
//! The tables accumulate as Kustomize's do: each kustomization starts from the built-in
//! tables, adds its bases' tables as their builds finish, then its own files; a component
//! adds to the kustomization that lists it. A kustomization's transformers use what has
//! accumulated in it, so a base's configuration reaches its overlays but not the other
//! way round; name references and `vars` use the top's tables, which hold every
//! configuration of the build. Two specs for the same kind and path that differ in `create`
//! are an error, as in Kustomize.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, LazyLock};

use serde_json::{Map, Value};

use super::builtin;
use super::fieldspec::{FieldSpec, Spec};
use super::kustomization::Image;
use super::resource::Resource;
use super::{BuildError, Loader};

/// Field specs added by `configurations` and `crds` over a whole build: bounds the work of
/// name references and transformers (every spec is checked against every resource).
/// Kustomize has no limit; real configurations hold tens.
pub const MAX_CONFIG_SPECS: usize = 2_000;

/// Nested `$ref`s followed from one type of a `crds` file. Kustomize follows them without
/// end (a cycle hangs kubectl); the bound protects the stack.
const MAX_REF_DEPTH: usize = 64;

/// Properties visited in one `crds` file, counting every path a shared type is reached by.
const MAX_CRD_VISITS: usize = 100_000;

/// A kind others refer to by name (group and version optional), and the fields that do.
#[derive(Clone, Debug)]
pub(crate) struct NameRef {
    pub group: Option<Cow<'static, str>>,
    pub version: Option<Cow<'static, str>>,
    pub kind: Cow<'static, str>,
    pub referrers: Vec<Spec>,
}

impl NameRef {
    /// Whether `res` is a resource of this kind (and group and version, when given).
    pub fn selects(&self, res: &Resource) -> bool {
        let (group, version, kind) = res.gvk();
        kind == self.kind
            && self.group.as_deref().is_none_or(|g| g == group)
            && self.version.as_deref().is_none_or(|v| v == version)
    }
}

/// The tables of one accumulation (Kustomize's `TransformerConfig`).
#[derive(Clone, Debug)]
pub(crate) struct TransformerConfig {
    pub name_prefix: Vec<Spec>,
    pub name_suffix: Vec<Spec>,
    pub namespace: Vec<Spec>,
    pub common_labels: Vec<Spec>,
    pub template_labels: Vec<Spec>,
    pub common_annotations: Vec<Spec>,
    pub name_reference: Vec<NameRef>,
    pub var_reference: Vec<Spec>,
    pub images: Vec<Spec>,
    pub replicas: Vec<Spec>,
}

/// The category names of a configuration file, as Kustomize spells them in files and in
/// its errors.
const CATEGORIES: &[(&str, &str)] = &[
    ("namePrefix", "NamePrefix"),
    ("nameSuffix", "NameSuffix"),
    ("namespace", "NameSpace"),
    ("commonLabels", "CommonLabels"),
    ("templateLabels", "TemplateLabels"),
    ("commonAnnotations", "CommonAnnotations"),
    ("nameReference", "NameReference"),
    ("varReference", "VarReference"),
    ("images", "Images"),
    ("replicas", "Replicas"),
];

fn borrowed(specs: &[FieldSpec]) -> Vec<Spec> {
    specs.iter().map(Spec::from).collect()
}

static DEFAULT: LazyLock<Arc<TransformerConfig>> = LazyLock::new(|| {
    let images = ["spec", "spec/template/spec"]
        .into_iter()
        .flat_map(|base| {
            ["containers", "initContainers"].map(|list| Spec {
                path: Cow::Owned(format!("{base}/{list}[]/image")),
                ..Spec::from(&FieldSpec::any("", true))
            })
        })
        .collect();
    Arc::new(TransformerConfig {
        name_prefix: borrowed(&[FieldSpec::any("metadata/name", false)]),
        name_suffix: borrowed(&[FieldSpec::any("metadata/name", false)]),
        namespace: borrowed(&[
            FieldSpec::kind("Namespace", "metadata/name", true),
            FieldSpec::group_kind(
                "apiextensions.k8s.io",
                "CustomResourceDefinition",
                "spec/conversion/webhook/clientConfig/service/namespace",
                false,
            ),
            FieldSpec::group_kind(
                "apiregistration.k8s.io",
                "APIService",
                "spec/service/namespace",
                true,
            ),
        ]),
        common_labels: borrowed(&builtin::selector_labels()),
        template_labels: borrowed(&builtin::template_labels()),
        common_annotations: borrowed(&builtin::annotations()),
        name_reference: builtin::name_references()
            .iter()
            .map(|r| NameRef {
                group: None,
                version: None,
                kind: Cow::Borrowed(r.kind),
                referrers: borrowed(&r.referrers),
            })
            .collect(),
        var_reference: borrowed(super::vars::VAR_REFERENCE),
        images,
        replicas: borrowed(&builtin::replicas()),
    })
});

impl TransformerConfig {
    fn category(&mut self, name: &str) -> Option<&mut Vec<Spec>> {
        Some(match name {
            "namePrefix" => &mut self.name_prefix,
            "nameSuffix" => &mut self.name_suffix,
            "namespace" => &mut self.namespace,
            "commonLabels" => &mut self.common_labels,
            "templateLabels" => &mut self.template_labels,
            "commonAnnotations" => &mut self.common_annotations,
            "varReference" => &mut self.var_reference,
            "images" => &mut self.images,
            "replicas" => &mut self.replicas,
            _ => return None,
        })
    }

    /// Adds `other`'s specs, keeping one of each kind and path.
    ///
    /// # Errors
    /// Two specs for the same kind and path that differ in `create`, with Kustomize's
    /// wording.
    fn merge(&mut self, other: &TransformerConfig) -> Result<(), String> {
        for &(name, _) in CATEGORIES {
            if name == "nameReference" {
                continue;
            }
            let theirs = other.categories(name);
            if let Some(ours) = self.category(name) {
                merge_specs(ours, theirs, name)?;
            }
        }
        for r in &other.name_reference {
            merge_name_ref(&mut self.name_reference, r.clone())?;
        }
        Ok(())
    }

    fn categories(&self, name: &str) -> &[Spec] {
        match name {
            "namePrefix" => &self.name_prefix,
            "nameSuffix" => &self.name_suffix,
            "namespace" => &self.namespace,
            "commonLabels" => &self.common_labels,
            "templateLabels" => &self.template_labels,
            "commonAnnotations" => &self.common_annotations,
            "varReference" => &self.var_reference,
            "images" => &self.images,
            "replicas" => &self.replicas,
            _ => &[],
        }
    }

    fn added(&self) -> usize {
        let specs: usize = CATEGORIES
            .iter()
            .map(|(n, _)| self.categories(n).iter().filter(|s| !s.builtin).count())
            .sum();
        let refs: usize = self
            .name_reference
            .iter()
            .map(|r| r.referrers.iter().filter(|s| !s.builtin).count())
            .sum();
        specs + refs
    }
}

fn conflict(category: &str) -> String {
    let shown = CATEGORIES
        .iter()
        .find(|(n, _)| *n == category)
        .map_or(category, |(_, s)| *s);
    format!("failed to merge {shown} fieldSpec: conflicting fieldspecs")
}

/// Where a spec applies: group, version, kind and path.
type Place<'s> = (Option<&'s str>, Option<&'s str>, Option<&'s str>, &'s str);

fn place(s: &Spec) -> Place<'_> {
    (
        s.group.as_deref(),
        s.version.as_deref(),
        s.kind.as_deref(),
        &s.path,
    )
}

fn merge_specs(ours: &mut Vec<Spec>, theirs: &[Spec], category: &str) -> Result<(), String> {
    let mut added = Vec::new();
    {
        // Indexed, so that merging large tables stays linear.
        let mut seen: HashMap<Place<'_>, bool> =
            ours.iter().map(|o| (place(o), o.create)).collect();
        for spec in theirs {
            match seen.get(&place(spec)) {
                Some(&create) if create != spec.create => return Err(conflict(category)),
                Some(_) => {}
                None => {
                    seen.insert(place(spec), spec.create);
                    added.push(spec.clone());
                }
            }
        }
    }
    ours.extend(added);
    Ok(())
}

fn merge_name_ref(ours: &mut Vec<NameRef>, theirs: NameRef) -> Result<(), String> {
    match ours
        .iter_mut()
        .find(|o| o.kind == theirs.kind && o.group == theirs.group && o.version == theirs.version)
    {
        Some(o) => merge_specs(&mut o.referrers, &theirs.referrers, "nameReference"),
        None => {
            ours.push(theirs);
            Ok(())
        }
    }
}

/// The tables of the kustomizations being built, innermost last. The first entry is the
/// top's; `None` stands for the built-in tables (nothing added yet).
#[derive(Debug)]
pub(crate) struct Accumulated(RefCell<Vec<Option<Arc<TransformerConfig>>>>);

impl Default for Accumulated {
    fn default() -> Self {
        Self(RefCell::new(vec![None]))
    }
}

impl Accumulated {
    /// A kustomization starts its own tables; a component adds to its parent's.
    pub fn enter(&self, as_component: bool) {
        if !as_component {
            self.0.borrow_mut().push(None);
        }
    }

    /// A kustomization's build is done: its tables join its parent's.
    ///
    /// # Errors
    /// Conflicting specs.
    pub fn leave(&self, as_component: bool, file: &str) -> Result<(), BuildError> {
        let mut levels = self.0.borrow_mut();
        if as_component || levels.len() < 2 {
            return Ok(());
        }
        let Some(Some(done)) = levels.pop() else {
            return Ok(());
        };
        add_to(&mut levels, &done, file)
    }

    /// The tables the current kustomization's transformers use.
    pub fn current(&self) -> Arc<TransformerConfig> {
        self.0
            .borrow()
            .last()
            .cloned()
            .flatten()
            .unwrap_or_else(|| DEFAULT.clone())
    }

    fn add(&self, other: &TransformerConfig, file: &str) -> Result<(), BuildError> {
        add_to(&mut self.0.borrow_mut(), other, file)
    }
}

fn add_to(
    levels: &mut [Option<Arc<TransformerConfig>>],
    other: &TransformerConfig,
    file: &str,
) -> Result<(), BuildError> {
    let Some(top) = levels.last_mut() else {
        return Ok(());
    };
    let config = top.get_or_insert_with(|| DEFAULT.clone());
    let config = Arc::make_mut(config);
    config
        .merge(other)
        .map_err(|m| BuildError::new(file, format!("merging config: {m}")))?;
    if config.added() > MAX_CONFIG_SPECS {
        return Err(BuildError::new(
            file,
            format!(
                "configurations and crds add more than {MAX_CONFIG_SPECS} field specs \
                 (MAX_CONFIG_SPECS)"
            ),
        ));
    }
    Ok(())
}

/// Reads the `configurations` and `crds` files of the kustomization in `dir` (`file`) into
/// the current tables.
///
/// # Errors
/// Missing or malformed files, unknown fields, conflicting specs, each naming the file.
pub(crate) fn load(
    loader: &Loader<'_>,
    dir: &Path,
    file: &str,
    configurations: &[String],
    crds: &[String],
) -> Result<(), BuildError> {
    for path in configurations {
        let text = read(loader, dir, file, "configurations", path)?;
        let config = parse_config(&text)
            .map_err(|m| BuildError::new(file, format!("configurations: {path:?}: {m}")))?;
        loader.configs.add(&config, file)?;
    }
    for path in crds {
        let text = read(loader, dir, file, "crds", path)?;
        let config =
            parse_crds(&text).map_err(|m| BuildError::new(file, format!("crds: {path:?}: {m}")))?;
        loader.configs.add(&config, file)?;
    }
    Ok(())
}

fn read(
    loader: &Loader<'_>,
    dir: &Path,
    file: &str,
    field: &str,
    path: &str,
) -> Result<String, BuildError> {
    let bytes = loader.read_local(dir, path)?;
    String::from_utf8(bytes)
        .map_err(|_| BuildError::new(file, format!("{field}: {path:?} is not UTF-8")))
}

fn empty_config() -> TransformerConfig {
    TransformerConfig {
        name_prefix: Vec::new(),
        name_suffix: Vec::new(),
        namespace: Vec::new(),
        common_labels: Vec::new(),
        template_labels: Vec::new(),
        common_annotations: Vec::new(),
        name_reference: Vec::new(),
        var_reference: Vec::new(),
        images: Vec::new(),
        replicas: Vec::new(),
    }
}

/// Go's JSON decoding matches field names whatever their letter case.
fn field_named<'a>(key: &str, names: &[&'a str]) -> Option<&'a str> {
    names.iter().copied().find(|n| n.eq_ignore_ascii_case(key))
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// A configuration file: a map of categories, each a list of field specs (`nameReference`:
/// a list of kinds with their `fieldSpecs`). Unknown fields are errors, as in kubectl.
fn parse_config(text: &str) -> Result<TransformerConfig, String> {
    let value = weir_yaml::from_str(text).map_err(|e| format!("malformed YAML: {e}"))?;
    super::limits::nested(&value, "the configuration")?;
    let mut config = empty_config();
    let map = match value {
        Value::Null => return Ok(config),
        Value::Object(map) => map,
        other => {
            return Err(format!(
                "cannot unmarshal {} into Go value of type builtinconfig.TransformerConfig",
                type_name(&other)
            ));
        }
    };
    let names: Vec<&str> = CATEGORIES.iter().map(|(n, _)| *n).collect();
    for (key, value) in &map {
        let Some(name) = field_named(key, &names) else {
            return Err(format!("json: unknown field {key:?}"));
        };
        let items = match value {
            Value::Null => continue,
            Value::Array(items) => items,
            other => {
                return Err(format!(
                    "cannot unmarshal {} into Go struct field TransformerConfig.{name}",
                    type_name(other)
                ));
            }
        };
        if name == "nameReference" {
            for item in items {
                let r = parse_name_ref(item)?;
                merge_name_ref(&mut config.name_reference, r)?;
            }
            continue;
        }
        let mut specs = Vec::new();
        for item in items {
            specs.push(parse_spec(item)?);
        }
        if let Some(list) = config.category(name) {
            merge_specs(list, &specs, name)?;
        }
    }
    Ok(config)
}

/// A string field of a field spec; YAML numbers and booleans are taken as text, as the Go
/// YAML reader does for a string field.
fn text_field(v: &Value, field: &str) -> Result<Option<Cow<'static, str>>, String> {
    let text = match v {
        Value::Null => return Ok(None),
        Value::String(s) => s.clone(),
        Value::Number(_) | Value::Bool(_) => weir_yaml::scalar_text(v),
        other => {
            return Err(format!(
                "cannot unmarshal {} into Go struct field FieldSpec.{field} of type string",
                type_name(other)
            ));
        }
    };
    Ok((!text.is_empty()).then_some(Cow::Owned(text)))
}

fn parse_spec(v: &Value) -> Result<Spec, String> {
    let Value::Object(map) = v else {
        return Err(format!(
            "cannot unmarshal {} into Go value of type types.FieldSpec",
            type_name(v)
        ));
    };
    let mut spec = Spec {
        group: None,
        version: None,
        kind: None,
        path: Cow::Borrowed(""),
        create: false,
        builtin: false,
    };
    for (key, value) in map {
        match field_named(key, &["group", "version", "kind", "path", "create"]) {
            Some("group") => spec.group = text_field(value, "group")?,
            Some("version") => spec.version = text_field(value, "version")?,
            Some("kind") => spec.kind = text_field(value, "kind")?,
            Some("path") => spec.path = text_field(value, "path")?.unwrap_or_default(),
            Some(_) => {
                spec.create = match value {
                    Value::Null => false,
                    Value::Bool(b) => *b,
                    other => {
                        return Err(format!(
                            "cannot unmarshal {} into Go struct field FieldSpec.create of type bool",
                            type_name(other)
                        ));
                    }
                }
            }
            None => return Err(format!("json: unknown field {key:?}")),
        }
    }
    Ok(spec)
}

fn parse_name_ref(v: &Value) -> Result<NameRef, String> {
    let Value::Object(map) = v else {
        return Err(format!(
            "cannot unmarshal {} into Go value of type builtinconfig.NameBackReferences",
            type_name(v)
        ));
    };
    let mut r = NameRef {
        group: None,
        version: None,
        kind: Cow::Borrowed(""),
        referrers: Vec::new(),
    };
    for (key, value) in map {
        match field_named(key, &["group", "version", "kind", "fieldSpecs"]) {
            Some("group") => r.group = text_field(value, "group")?,
            Some("version") => r.version = text_field(value, "version")?,
            Some("kind") => r.kind = text_field(value, "kind")?.unwrap_or_default(),
            Some(_) => match value {
                Value::Null => {}
                // Kustomize takes an entry's own list as written, repeats included.
                Value::Array(items) => {
                    for item in items {
                        r.referrers.push(parse_spec(item)?);
                    }
                }
                other => {
                    return Err(format!(
                        "cannot unmarshal {} into Go struct field NameBackReferences.fieldSpecs",
                        type_name(other)
                    ));
                }
            },
            None => return Err(format!("json: unknown field {key:?}")),
        }
    }
    Ok(r)
}

/// A `crds` file: a map from Go type names (`github.com/org/pkg/v1.MyKind`) to OpenAPI
/// definitions (`{Schema: {properties: ...}}`), in JSON or YAML. A type whose properties
/// include `apiVersion`, `kind` and `metadata` is a resource of the kind its name ends
/// with; its properties and those of the types they `$ref` (by exact name) declare:
/// `x-kubernetes-object-ref-kind` and `x-kubernetes-object-ref-api-version` a name
/// reference (the field's `x-kubernetes-object-ref-name-key`, default `name`, holds the
/// name; the version is matched as a version, so a `group/version` matches nothing),
/// `x-kubernetes-annotation` a `commonAnnotations` field, `x-kubernetes-label-selector` a
/// `commonLabels` field and `x-kubernetes-identity` a `namePrefix` field. Only string
/// values count.
fn parse_crds(text: &str) -> Result<TransformerConfig, String> {
    if text.is_empty() {
        // kubectl crashes on an empty file.
        return Err("the file is empty".into());
    }
    let value = if text.starts_with('{') {
        serde_json::from_str(text).map_err(|e| format!("malformed JSON: {e}"))?
    } else {
        weir_yaml::from_str(text).map_err(|e| format!("malformed YAML: {e}"))?
    };
    super::limits::nested(&value, "the definitions")?;
    let defs = match value {
        Value::Null => return Ok(empty_config()),
        Value::Object(map) => map,
        other => {
            return Err(format!(
                "cannot unmarshal {} into Go value of type accumulator.nameToApiMap",
                type_name(&other)
            ));
        }
    };
    let mut types: BTreeMap<&str, &Map<String, Value>> = BTreeMap::new();
    for (name, def) in &defs {
        types.insert(name, properties(def)?);
    }
    let mut walk = CrdWalk {
        types: &types,
        config: empty_config(),
        chain: Vec::new(),
        visits: 0,
    };
    for (name, props) in &types {
        let is_resource = ["kind", "apiVersion", "metadata"]
            .iter()
            .all(|k| props.contains_key(*k));
        if !is_resource {
            continue;
        }
        let kind = name.rsplit('.').next().unwrap_or(name).to_string();
        walk.chain.push(name);
        walk.type_props(&kind, props, &mut Vec::new())?;
        walk.chain.pop();
    }
    Ok(walk.config)
}

static NO_PROPERTIES: LazyLock<Map<String, Value>> = LazyLock::new(Map::new);

/// The `Schema.properties` of one definition (keys matched whatever their case, as Go's
/// JSON decoding does), checked to be maps.
fn properties(def: &Value) -> Result<&Map<String, Value>, String> {
    let obj = match def {
        Value::Null => return Ok(&NO_PROPERTIES),
        Value::Object(o) => o,
        other => {
            return Err(format!(
                "cannot unmarshal {} into Go value of type accumulator.OpenAPIDefinition",
                type_name(other)
            ));
        }
    };
    let Some((_, schema)) = obj.iter().find(|(k, _)| k.eq_ignore_ascii_case("schema")) else {
        return Ok(&NO_PROPERTIES);
    };
    let schema = match schema {
        Value::Null => return Ok(&NO_PROPERTIES),
        Value::Object(s) => s,
        other => {
            return Err(format!(
                "cannot unmarshal {} into Go value of type spec.Schema",
                type_name(other)
            ));
        }
    };
    let props = match schema.get("properties") {
        None | Some(Value::Null) => return Ok(&NO_PROPERTIES),
        Some(Value::Object(p)) => p,
        Some(other) => {
            return Err(format!(
                "cannot unmarshal {} into Go value of type map[string]spec.Schema",
                type_name(other)
            ));
        }
    };
    if let Some((name, bad)) = props.iter().find(|(_, v)| !v.is_object() && !v.is_null()) {
        return Err(format!(
            "property {name:?}: cannot unmarshal {} into Go value of type spec.Schema",
            type_name(bad)
        ));
    }
    Ok(props)
}

struct CrdWalk<'a> {
    types: &'a BTreeMap<&'a str, &'a Map<String, Value>>,
    config: TransformerConfig,
    /// The types being walked, outermost first.
    chain: Vec<&'a str>,
    visits: usize,
}

impl<'a> CrdWalk<'a> {
    fn type_props(
        &mut self,
        kind: &str,
        props: &'a Map<String, Value>,
        path: &mut Vec<&'a str>,
    ) -> Result<(), String> {
        for (name, prop) in props {
            self.visits += 1;
            if self.visits > MAX_CRD_VISITS {
                return Err(format!(
                    "more than {MAX_CRD_VISITS} properties reached through $ref"
                ));
            }
            let Value::Object(prop) = prop else { continue };
            path.push(name);
            let ext = |key: &str| prop.get(key).and_then(Value::as_str);
            let spec = |path: &[&str]| Spec {
                group: None,
                version: None,
                kind: Some(Cow::Owned(kind.to_string())),
                path: Cow::Owned(path.join("/")),
                create: false,
                builtin: false,
            };
            if ext("x-kubernetes-annotation").is_some() {
                merge_specs(
                    &mut self.config.common_annotations,
                    &[spec(path)],
                    "commonAnnotations",
                )?;
            }
            if ext("x-kubernetes-label-selector").is_some() {
                merge_specs(
                    &mut self.config.common_labels,
                    &[spec(path)],
                    "commonLabels",
                )?;
            }
            if ext("x-kubernetes-identity").is_some() {
                merge_specs(&mut self.config.name_prefix, &[spec(path)], "namePrefix")?;
            }
            if let (Some(version), Some(ref_kind)) = (
                ext("x-kubernetes-object-ref-api-version"),
                ext("x-kubernetes-object-ref-kind"),
            ) {
                let key = ext("x-kubernetes-object-ref-name-key").unwrap_or("name");
                let mut full = path.clone();
                full.push(key);
                merge_name_ref(
                    &mut self.config.name_reference,
                    NameRef {
                        group: None,
                        version: (!version.is_empty()).then(|| Cow::Owned(version.to_string())),
                        kind: Cow::Owned(ref_kind.to_string()),
                        referrers: vec![spec(&full)],
                    },
                )?;
            }
            if let Some(target) = ext("$ref").filter(|r| !r.is_empty())
                && let Some((target, props)) = self.types.get_key_value(target)
            {
                if self.chain.contains(target) {
                    return Err(format!(
                        "$ref cycle through {target:?} (kubectl never finishes)"
                    ));
                }
                if self.chain.len() >= MAX_REF_DEPTH {
                    return Err(format!(
                        "$ref nested more than {MAX_REF_DEPTH} deep at {target:?}"
                    ));
                }
                self.chain.push(target);
                self.type_props(kind, props, path)?;
                self.chain.pop();
            }
            path.pop();
        }
        Ok(())
    }
}

/// The namespace in the fields custom `namespace` specs name (the built-in ones are the
/// namespace transformer's own code).
///
/// # Errors
/// A spec that reaches a map or a list.
pub(crate) fn apply_namespace(
    config: &TransformerConfig,
    resources: &mut [Resource],
    ns: &str,
    file: &str,
) -> Result<(), BuildError> {
    let specs: Vec<&Spec> = config
        .namespace
        .iter()
        .filter(|s| !s.builtin && s.path != "metadata/namespace")
        .collect();
    set_scalars(
        &specs,
        resources,
        file,
        "namespace",
        &|_| ns.to_string(),
        false,
    )
}

/// Prefixes and suffixes the fields custom `namePrefix`/`nameSuffix` specs name (the
/// resource's own name is renamed by the transformer's own code). Kinds that are never
/// renamed are skipped, as their names are.
///
/// # Errors
/// A spec that reaches a map or a list.
pub(crate) fn apply_affix(
    specs: &[Spec],
    resources: &mut [Resource],
    prefix: &str,
    suffix: &str,
    file: &str,
) -> Result<(), BuildError> {
    let specs: Vec<&Spec> = specs
        .iter()
        .filter(|s| !s.builtin && s.path != "metadata/name")
        .collect();
    let field = if prefix.is_empty() {
        "nameSuffix"
    } else {
        "namePrefix"
    };
    set_scalars(
        &specs,
        resources,
        file,
        field,
        &|old| format!("{prefix}{old}{suffix}"),
        true,
    )
}

fn set_scalars(
    specs: &[&Spec],
    resources: &mut [Resource],
    file: &str,
    field: &str,
    value: &dyn Fn(&str) -> String,
    skip_unrenamed: bool,
) -> Result<(), BuildError> {
    if specs.is_empty() {
        return Ok(());
    }
    for res in resources.iter_mut() {
        if skip_unrenamed {
            let group = res.id().group;
            if matches!(res.kind(), "CustomResourceDefinition" | "Namespace")
                || (res.kind() == "APIService" && group == "apiregistration.k8s.io")
            {
                continue;
            }
        }
        let id = res.id();
        let selected: Vec<&&Spec> = specs.iter().filter(|s| s.selects(res)).collect();
        for spec in selected {
            spec.visit(&mut res.value, &mut |target| {
                let old = match target {
                    Value::Null => String::new(),
                    Value::String(s) => s.clone(),
                    Value::Number(_) | Value::Bool(_) => weir_yaml::scalar_text(target),
                    _ => return Err(format!("{} must be a scalar", spec.path)),
                };
                *target = Value::String(value(&old));
                Ok(())
            })
            .map_err(|m| BuildError::new(file, format!("{field}: {id}: {m}")))?;
        }
    }
    Ok(())
}

/// Rewrites the images in the fields custom `images` specs name (the built-in ones are
/// every `containers` and `initContainers` list, handled by the images transformer).
pub(crate) fn apply_images(config: &TransformerConfig, resources: &mut [Resource], image: &Image) {
    let specs: Vec<&Spec> = config.images.iter().filter(|s| !s.builtin).collect();
    if specs.is_empty() {
        return;
    }
    for res in resources.iter_mut() {
        let selected: Vec<&&Spec> = specs.iter().filter(|s| s.selects(res)).collect();
        for spec in selected {
            // Never fails: the callback does not.
            let _ = super::fieldspec::visit_path(&mut res.value, &spec.path, false, &mut |t| {
                if let Value::String(current) = t
                    && let Some(new) = super::transform::replace_image(current, image)
                {
                    *current = new;
                }
                Ok(())
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configuration_files_are_strict_and_merge_without_repeats() -> Result<(), String> {
        let c = parse_config(
            "commonLabels:\n- {path: spec/a, kind: K, create: true}\n- {path: spec/a, kind: K, create: true}\nnameReference:\n- kind: ConfigMap\n  fieldSpecs: [{path: spec/cm, kind: K}]\n",
        )?;
        assert_eq!(c.common_labels.len(), 1);
        assert_eq!(c.name_reference[0].referrers[0].path, "spec/cm");
        let err = parse_config("bogus: []\n").expect_err("unknown field");
        assert!(err.contains("unknown field \"bogus\""), "{err}");
        let err = parse_config("commonLabels:\n- {path: a, create: true}\n- {path: a}\n")
            .expect_err("conflict");
        assert!(err.contains("conflicting fieldspecs"), "{err}");
        Ok(())
    }

    #[test]
    fn tables_accumulate_upwards_and_are_bounded() -> Result<(), String> {
        let acc = Accumulated::default();
        acc.enter(false);
        let base = parse_config("commonLabels:\n- {path: spec/a, kind: K}\n")?;
        acc.add(&base, "base").map_err(|e| e.to_string())?;
        acc.leave(false, "base").map_err(|e| e.to_string())?;
        let top = acc.current();
        assert!(top.common_labels.iter().any(|s| s.path == "spec/a"));
        let many: String = (0..=MAX_CONFIG_SPECS)
            .map(|i| format!("- {{path: spec/f{i}, kind: K}}\n"))
            .collect();
        let huge = parse_config(&format!("commonAnnotations:\n{many}"))?;
        let err = acc.add(&huge, "top").expect_err("too many specs");
        assert!(err.message.contains("MAX_CONFIG_SPECS"), "{err}");
        Ok(())
    }

    #[test]
    fn crd_cycles_and_empty_files_fail_instead_of_hanging() {
        let cyclic = r#"{"x.K": {"Schema": {"properties": {"apiVersion": {}, "kind": {}, "metadata": {}, "spec": {"$ref": "x.S"}}}},
            "x.S": {"Schema": {"properties": {"loop": {"$ref": "x.S"}}}}}"#;
        let err = parse_crds(cyclic).expect_err("cycle");
        assert!(err.contains("$ref cycle"), "{err}");
        assert!(parse_crds("").is_err());
    }

    #[test]
    fn crd_refs_declare_name_references_of_the_kind_the_type_name_ends_with() -> Result<(), String>
    {
        let c = parse_crds(
            r#"{"a.b/v1.K": {"Schema": {"properties": {"apiVersion": {}, "kind": {}, "metadata": {}, "spec": {"$ref": "S"}}}},
                "S": {"schema": {"properties": {"ref": {"x-kubernetes-object-ref-api-version": "v1", "x-kubernetes-object-ref-kind": "Secret", "x-kubernetes-object-ref-name-key": "n"}}}}}"#,
        )?;
        let r = &c.name_reference[0];
        assert_eq!(
            (r.kind.as_ref(), r.version.as_deref()),
            ("Secret", Some("v1"))
        );
        assert_eq!(r.referrers[0].kind.as_deref(), Some("K"));
        assert_eq!(r.referrers[0].path, "spec/ref/n");
        Ok(())
    }
}
