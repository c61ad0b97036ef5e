//! Inventories: which objects a reconciler applied, as `<namespace>_<name>_<group>_<kind>`
//! ids with versions, and the difference that prune deletes.

use std::collections::BTreeSet;

use serde_json::Value;
use weir_api::kustomize::InventoryEntry;

/// Identity of an applied object.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectRef {
    /// API group (`""` for core).
    pub group: String,
    /// API version.
    pub version: String,
    /// Kind.
    pub kind: String,
    /// Namespace (`""` for cluster-scoped).
    pub namespace: String,
    /// Name.
    pub name: String,
}

impl ObjectRef {
    /// The reference of a manifest.
    pub fn of(value: &Value) -> Self {
        let api_version = value
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
        let s = |p: &str| {
            value
                .pointer(p)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        Self {
            group: group.to_string(),
            version: version.to_string(),
            kind: s("/kind"),
            namespace: s("/metadata/namespace"),
            name: s("/metadata/name"),
        }
    }

    /// `apiVersion`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The inventory entry.
    pub fn entry(&self) -> InventoryEntry {
        InventoryEntry {
            id: format!(
                "{}_{}_{}_{}",
                self.namespace, self.name, self.group, self.kind
            ),
            v: self.version.clone(),
        }
    }

    /// Parses an inventory entry back.
    pub fn from_entry(e: &InventoryEntry) -> Option<Self> {
        let mut parts = e.id.splitn(4, '_');
        let (namespace, name, group, kind) =
            (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        Some(Self {
            group: group.to_string(),
            version: e.v.clone(),
            kind: kind.to_string(),
            namespace: namespace.to_string(),
            name: name.to_string(),
        })
    }
}

impl std::fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.namespace.is_empty() {
            write!(f, "{}/{}", self.kind, self.name)
        } else {
            write!(f, "{}/{}/{}", self.kind, self.namespace, self.name)
        }
    }
}

/// Entries of `old` whose object is not in `new` (compared without version, so an API
/// version change is not a deletion).
pub fn stale(old: &[InventoryEntry], new: &[InventoryEntry]) -> Vec<InventoryEntry> {
    let keep: BTreeSet<&str> = new.iter().map(|e| e.id.as_str()).collect();
    old.iter()
        .filter(|e| !keep.contains(e.id.as_str()))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ids_round_trip_and_diff_ignores_versions() {
        let d = ObjectRef::of(
            &json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "prod"}}),
        );
        let e = d.entry();
        assert_eq!(e.id, "prod_web_apps_Deployment");
        assert_eq!(ObjectRef::from_entry(&e), Some(d));
        let ns = ObjectRef::of(
            &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "prod"}}),
        );
        assert_eq!(ns.entry().id, "_prod__Namespace");
        let old = vec![e.clone(), ns.entry()];
        let new = vec![InventoryEntry {
            id: e.id.clone(),
            v: "v2".into(),
        }];
        assert_eq!(stale(&old, &new), vec![ns.entry()]);
    }
}
