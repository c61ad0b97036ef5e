//! Limits on what one build may cost. The tree being built is controlled by whoever can push
//! to the repository, and the build runs inside a controller on a thread with a small stack,
//! so every dimension an input can blow up is bounded here: nesting of kustomizations and of
//! values (stack), resources and bytes produced (memory), kustomizations loaded and an
//! optional deadline (time). Exceeding any of them fails the build with an error naming the
//! file being processed and the limit.
//!
//! The fixed bounds ([`MAX_DEPTH`], [`MAX_NESTING`]) protect the stack and are not
//! configurable; the budgets in [`BuildLimits`] are.

use std::cell::Cell;
use std::time::Instant;

use serde_json::Value;

/// Kustomizations (and synthesized directories) nested more deeply than this, each listing
/// the next under `resources` or `components`, fail the build. Kustomize has no limit; real
/// trees are fewer than 20 deep. Enforced when a kustomization is entered.
pub const MAX_DEPTH: usize = 100;

/// Objects and lists nested more deeply than this inside one resource, patch, or value
/// written by a patch or replacement fail the build, as do replacement field paths with more
/// segments. Bounds every recursive walk over user data (strategic merge, field specs, image
/// rewriting, serialization). Kubernetes objects are rarely more than 30 deep.
pub const MAX_NESTING: usize = 200;

/// Default of [`BuildLimits::max_resources`].
pub const MAX_RESOURCES: usize = 100_000;

/// Default of [`BuildLimits::max_bytes`]: 256 MiB.
pub const MAX_BYTES: u64 = 256 * 1024 * 1024;

/// Default of [`BuildLimits::max_kustomizations`].
pub const MAX_KUSTOMIZATIONS: usize = 10_000;

/// Budgets of one build. `Default` gives the documented defaults and no deadline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuildLimits {
    /// Resources loaded from files or generated, over the whole build: a base included
    /// twice counts twice. Checked as each file is loaded and each generator runs.
    pub max_resources: usize,
    /// Estimated bytes of memory the build produces: every resource loaded or generated,
    /// plus every value a patch, replacement or label/annotation transformer writes (a JSON
    /// 6902 `copy` counts what it copies, before copying). The estimate is the memory the
    /// values take as `serde_json::Value`s: 32 bytes per value, 640 per B-tree node of an
    /// object (one per 11 keys), and each string and key rounded up to 16 bytes plus 16. It
    /// is monotonic (values later dropped are not refunded); serialized as JSON, the same
    /// data is typically 3 to 20 times smaller, so the default caps output far above what
    /// any real tree produces while keeping a build well under 1 GiB.
    pub max_bytes: u64,
    /// Kustomization files (and components) loaded over the whole build, counting repeats.
    pub max_kustomizations: usize,
    /// When set, the build fails once this instant has passed; checked at each
    /// kustomization, each patch and each JSON 6902 operation.
    pub deadline: Option<Instant>,
}

impl Default for BuildLimits {
    fn default() -> Self {
        Self {
            max_resources: MAX_RESOURCES,
            max_bytes: MAX_BYTES,
            max_kustomizations: MAX_KUSTOMIZATIONS,
            deadline: None,
        }
    }
}

/// What a build has spent of its [`BuildLimits`]. Shared by reference through the loader.
#[derive(Debug)]
pub(crate) struct Budget {
    limits: BuildLimits,
    resources: Cell<usize>,
    bytes: Cell<u64>,
    kustomizations: Cell<usize>,
}

impl Budget {
    pub(crate) fn new(limits: &BuildLimits) -> Self {
        Self {
            limits: limits.clone(),
            resources: Cell::new(0),
            bytes: Cell::new(0),
            kustomizations: Cell::new(0),
        }
    }

    /// Counts `n` new resources.
    pub(crate) fn resources(&self, n: usize) -> Result<(), String> {
        let total = self.resources.get().saturating_add(n);
        self.resources.set(total);
        if total > self.limits.max_resources {
            return Err(format!(
                "build limit: more than {} resources loaded or generated (max_resources); \
                 is a base included many times over?",
                self.limits.max_resources
            ));
        }
        Ok(())
    }

    /// Counts `bytes` more produced.
    pub(crate) fn charge(&self, bytes: u64) -> Result<(), String> {
        let total = self.bytes.get().saturating_add(bytes);
        self.bytes.set(total);
        if total > self.limits.max_bytes {
            return Err(format!(
                "build limit: output larger than {} MiB (max_bytes); does a patch or \
                 replacement copy a document into itself?",
                self.limits.max_bytes / (1024 * 1024)
            ));
        }
        Ok(())
    }

    /// Counts one kustomization entered, and checks the deadline.
    pub(crate) fn kustomization(&self) -> Result<(), String> {
        let total = self.kustomizations.get().saturating_add(1);
        self.kustomizations.set(total);
        if total > self.limits.max_kustomizations {
            return Err(format!(
                "build limit: more than {} kustomizations loaded (max_kustomizations); \
                 is a base included many times over?",
                self.limits.max_kustomizations
            ));
        }
        self.deadline()
    }

    /// Fails once the deadline has passed.
    pub(crate) fn deadline(&self) -> Result<(), String> {
        match self.limits.deadline {
            Some(d) if Instant::now() >= d => {
                Err("build limit: the deadline passed before the build finished".into())
            }
            _ => Ok(()),
        }
    }
}

/// Size and nesting of a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Measure {
    /// Estimated bytes in memory (see [`BuildLimits::max_bytes`]).
    pub bytes: u64,
    /// Nesting: 0 for a scalar, 1 for an object or list of scalars, and so on.
    pub depth: usize,
}

/// Bytes of a `serde_json::Value` itself (inline in its parent).
const VALUE: u64 = 32;
/// Bytes of one B-tree node of a `serde_json::Map`, with its allocation header.
const MAP_NODE: u64 = 640;
/// Entries one B-tree node holds.
const MAP_NODE_ENTRIES: usize = 11;

/// Bytes of a heap allocation of `len` bytes: none for an empty string, else rounded up to
/// 16 plus a 16-byte header.
fn heap(len: usize) -> u64 {
    if len == 0 {
        0
    } else {
        len.div_ceil(16) as u64 * 16 + 16
    }
}

/// Measures `v` without recursion (it may be arbitrarily deep).
pub(crate) fn measure(v: &Value) -> Measure {
    let mut out = Measure { bytes: 0, depth: 0 };
    let mut todo: Vec<(&Value, usize)> = vec![(v, 0)];
    while let Some((v, depth)) = todo.pop() {
        out.bytes += VALUE;
        out.depth = out.depth.max(depth);
        match v {
            Value::String(s) => out.bytes += heap(s.len()),
            Value::Array(items) => {
                out.depth = out.depth.max(depth + 1);
                todo.extend(items.iter().map(|i| (i, depth + 1)));
            }
            Value::Object(map) => {
                out.depth = out.depth.max(depth + 1);
                out.bytes += map.len().div_ceil(MAP_NODE_ENTRIES) as u64 * MAP_NODE;
                for (k, child) in map {
                    out.bytes += heap(k.len());
                    todo.push((child, depth + 1));
                }
            }
            _ => {}
        }
    }
    out
}

/// Measures `v` and refuses it when nested more than [`MAX_NESTING`] deep.
pub(crate) fn nested(v: &Value, what: &str) -> Result<Measure, String> {
    let m = measure(v);
    if m.depth > MAX_NESTING {
        return Err(format!(
            "{what} is nested {} levels deep, more than the limit of {MAX_NESTING} (MAX_NESTING)",
            m.depth
        ));
    }
    Ok(m)
}

/// Drops `v` without recursion: dropping a value nested too deeply (one this crate refuses)
/// the ordinary way would overflow the stack.
pub(crate) fn dispose(v: Value) {
    let mut todo = vec![v];
    while let Some(v) = todo.pop() {
        match v {
            Value::Array(items) => todo.extend(items),
            Value::Object(map) => todo.extend(map.into_iter().map(|(_, v)| v)),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn measure_counts_depth_and_bytes_without_recursing() {
        assert_eq!(
            measure(&json!(1)),
            Measure {
                bytes: 32,
                depth: 0
            }
        );
        assert_eq!(
            measure(&json!({"ab": ["xyz"]})),
            Measure {
                bytes: 32 + 640 + 32 + 32 + 32 + 32,
                depth: 2
            }
        );
        let mut deep = json!(0);
        for _ in 0..100_000 {
            deep = Value::Array(vec![deep]);
        }
        assert_eq!(measure(&deep).depth, 100_000);
        assert!(nested(&deep, "x").is_err());
        dispose(deep);
    }

    #[test]
    fn budgets_fail_once_exceeded() {
        let b = Budget::new(&BuildLimits {
            max_resources: 2,
            max_bytes: 100,
            max_kustomizations: 1,
            deadline: None,
        });
        assert!(b.resources(2).is_ok() && b.resources(1).is_err());
        assert!(b.charge(100).is_ok() && b.charge(1).is_err());
        assert!(b.kustomization().is_ok() && b.kustomization().is_err());
        let late = Budget::new(&BuildLimits {
            deadline: Some(Instant::now()),
            ..BuildLimits::default()
        });
        assert!(late.deadline().is_err());
    }
}
