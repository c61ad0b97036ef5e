//! The fields of a Flux Kustomization spec that act like a kustomization on top of its
//! `path` (`targetNamespace`, `namePrefix`, `nameSuffix`, `patches`, `images`, `components`,
//! `commonMetadata`), as plain data turned into a [`Kustomization`] for
//! [`build_with`](crate::build_with) / [`build_in`](crate::build_in).

use std::collections::BTreeMap;

use serde_json::Value;

use crate::kustomization::Kustomization;

/// The spec fields a controller passes to the engine; the wire shapes of `patches` and
/// `images` are those of a kustomization file.
#[derive(Debug, Clone, Default)]
pub struct SpecOverrides {
    /// `targetNamespace`: the namespace of every namespaced object.
    pub namespace: Option<String>,
    /// `namePrefix`.
    pub name_prefix: Option<String>,
    /// `nameSuffix`.
    pub name_suffix: Option<String>,
    /// `patches` (`{patch, target}` objects, as in a kustomization).
    pub patches: Vec<Value>,
    /// `images` (`{name, newName, newTag, digest}` objects).
    pub images: Vec<Value>,
    /// `components`, relative to `path`.
    pub components: Vec<String>,
    /// `commonMetadata.labels`: added to objects only, never to selectors or templates.
    pub labels: BTreeMap<String, String>,
    /// `commonMetadata.annotations`.
    pub annotations: BTreeMap<String, String>,
}

impl SpecOverrides {
    /// The kustomization these fields amount to: labels become `labels: [{pairs}]` (objects
    /// only, as Flux's `commonMetadata`), annotations `commonAnnotations`; empty fields are
    /// left out.
    ///
    /// # Errors
    /// Patches or images that are not valid kustomization entries.
    pub fn to_kustomization(&self) -> Result<Kustomization, String> {
        let mut k = serde_json::Map::new();
        if let Some(ns) = &self.namespace {
            k.insert("namespace".into(), Value::String(ns.clone()));
        }
        if let Some(p) = &self.name_prefix {
            k.insert("namePrefix".into(), Value::String(p.clone()));
        }
        if let Some(s) = &self.name_suffix {
            k.insert("nameSuffix".into(), Value::String(s.clone()));
        }
        if !self.patches.is_empty() {
            k.insert("patches".into(), Value::Array(self.patches.clone()));
        }
        if !self.images.is_empty() {
            k.insert("images".into(), Value::Array(self.images.clone()));
        }
        if !self.components.is_empty() {
            k.insert(
                "components".into(),
                self.components.iter().cloned().map(Value::String).collect(),
            );
        }
        if !self.labels.is_empty() {
            k.insert("labels".into(), serde_json::json!([{"pairs": self.labels}]));
        }
        if !self.annotations.is_empty() {
            k.insert(
                "commonAnnotations".into(),
                self.annotations
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                    .collect::<serde_json::Map<_, _>>()
                    .into(),
            );
        }
        serde_json::from_value(Value::Object(k)).map_err(|e| format!("invalid spec overrides: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_overrides_become_a_kustomization() -> Result<(), String> {
        let spec = SpecOverrides {
            namespace: Some("prod".into()),
            name_prefix: Some("p-".into()),
            labels: BTreeMap::from([("team".into(), "a".into())]),
            annotations: BTreeMap::from([("note".into(), "x".into())]),
            ..Default::default()
        };
        let k = spec.to_kustomization()?;
        assert_eq!(
            (k.namespace.as_deref(), k.name_prefix.as_deref()),
            (Some("prod"), Some("p-"))
        );
        assert_eq!(k.labels.len(), 1);
        assert_eq!(
            k.common_annotations.get("note").map(String::as_str),
            Some("x")
        );
        Ok(())
    }

    #[test]
    fn patches_images_and_components_pass_through() -> Result<(), String> {
        let spec = SpecOverrides {
            name_suffix: Some("-v2".into()),
            patches: vec![serde_json::json!({
                "patch": "- op: add\n  path: /x\n  value: 1\n",
                "target": {"kind": "Deployment"}
            })],
            images: vec![serde_json::json!({"name": "nginx", "newTag": "1.27"})],
            components: vec!["../shared".into()],
            ..Default::default()
        };
        let k = spec.to_kustomization()?;
        assert_eq!(k.name_suffix.as_deref(), Some("-v2"));
        assert_eq!((k.patches.len(), k.images.len()), (1, 1));
        assert_eq!(k.components, vec!["../shared".to_string()]);
        assert!(k.namespace.is_none() && k.labels.is_empty() && k.common_annotations.is_empty());
        let bad = SpecOverrides {
            images: vec![serde_json::json!("nginx")],
            ..Default::default()
        };
        assert!(bad.to_kustomization().is_err());
        Ok(())
    }

    #[test]
    fn no_overrides_is_an_empty_kustomization() -> Result<(), String> {
        let k = SpecOverrides::default().to_kustomization()?;
        assert!(k.resources.is_empty() && k.patches.is_empty() && k.namespace.is_none());
        Ok(())
    }
}
