//! The dynamic value templates work on: Go's `interface{}` as Helm's templates see it.
//!
//! A [`Value`] is cheap to clone (scalars are inline, strings, lists and maps are behind an
//! [`Arc`]; a cloned map is the same map), `Send + Sync`, and remembers the Go type it stands for, because templates can
//! observe it: `printf "%T"`, Sprig's `typeOf`/`kindOf`, which functions accept it as an
//! argument (`wrong type for value; expected string; got float64`), and comparisons (`eq 1 1.0`
//! is an error in Go).
//!
//! | Go type                              | variant                                     |
//! |--------------------------------------|---------------------------------------------|
//! | nil `interface{}`                    | [`Value::Nil`]                              |
//! | `bool`                               | [`Value::Bool`]                             |
//! | `int` (template number literals, `len`, Sprig `int`/`atoi`) | [`Value::Int`]       |
//! | `int64` (Sprig `add`, `int64`, `--set` numbers) | [`Value::Int64`]                 |
//! | `uint64`                             | [`Value::Uint64`]                           |
//! | `float64` (every number read from values YAML/JSON) | [`Value::Float`]             |
//! | `string`                             | [`Value::String`]                           |
//! | `[]byte` (Go prints its type as `[]uint8`) | [`Value::Bytes`]                      |
//! | `[]interface{}`, `[]string`, `[]int`, ... | [`Value::List`] (with its [`Elem`])    |
//! | `map[string]interface{}`, `map[string]string`, `chartutil.Values`, ... | [`Value::Map`] |
//! | structs and pointers to them (`.Chart`, `.Capabilities`, `.Files`, semver) | [`Value::Object`] |
//!
//! Maps iterate in Go's sorted key order (byte order of the keys), which is the order
//! `range`, `%v` and `toYaml` use.
//!
//! # Maps are references
//!
//! As in Go, a map is a reference to shared entries: cloning a [`Value::Map`] (or a [`Map`])
//! gives another handle on the same map, and a change made through one handle
//! ([`Map::insert`], [`Map::remove`]; Sprig's `set`, `unset`, `merge`) is seen through every
//! other one — a variable, a map or list holding it, `.Values` in a later template of the same
//! render. Functions that make a map in Go make a fresh one here too (`dict`, `fromYaml`,
//! `fromJson`, `pick`, `omit`, `deepCopy`); slices ([`List`]) stay values, as Sprig's
//! `append` and `prepend` return new slices.
//!
//! The entries live behind a [`RwLock`] holding an `Arc<BTreeMap>`, which is copied on write
//! only while a [`Map::snapshot`] of it is alive. The locking rule: a lock is taken only
//! inside [`Map`]'s own methods and released before they return; no guard ever escapes, so no
//! lock is held while the caller recurses, runs a template or locks another (or the same) map.
//! Walks over nested values take a snapshot (an `Arc` clone) and iterate it lock-free, which
//! is also what makes `set $d "k" $d`, `merge $d $d` and mutating a map inside a `range` over
//! it safe. (Threads may share a map; where Go would have a data race, each [`Map`] call
//! here is atomic.)
//!
//! # Cycles
//!
//! `set $d "self" $d` makes a map that contains itself. Go then recurses until its stack
//! overflows when the map is printed, copied or merged (`encoding/json` reports "encountered
//! a cycle"; `reflect.DeepEqual` treats a pair it is already comparing as equal). Here every
//! recursive walk over a value tracks the maps on its path and is also bounded by
//! [`MAX_DEPTH`] levels of nesting:
//!
//! - `%v` and the other `fmt` verbs print `...` where the map would repeat (or where the
//!   nesting passes [`MAX_DEPTH`]);
//! - [`Value::to_json`] puts null there; Sprig's `toJson`/`toYaml` fail with Go's
//!   `json: unsupported value: encountered a cycle via map[string]interface {}` (the
//!   non-`must` forms give `""`, as in Helm);
//! - [`Value::deep_equal`] follows Go's rule (a pair already being compared is equal);
//! - `deepCopy` fails, and `merge` does not descend again into a pair of maps it is already
//!   merging (mergo's rule for values it has visited).
//!
//! Nesting deeper than [`MAX_DEPTH`] without a cycle (only a template building it in a loop
//! gets there) is cut the same way: printed as `...`, null in [`Value::to_json`], an error
//! from `toJson`, `deepCopy` and `merge`, unequal in [`Value::deep_equal`]. Dropping such a
//! value frees its maps in a loop, not by recursion.
//!
//! A cycle is a cycle of [`Arc`]s, so its memory is never freed: acceptable for a render
//! (a template has to build the cycle on purpose), but a long-lived process rendering
//! untrusted charts leaks what those cycles hold.
//!
//! What Go prints for a value with `%v` (and `{{ . }}`) is [`Value`]'s [`Display`](fmt::Display):
//! `map[a:1 b:2]`, `[a b]`, `<nil>`, floats as `strconv.FormatFloat(f, 'g', -1, 64)` (`1e+06`).
//! The other `fmt` verbs live in [`crate::template::fmt`].
//!
//! Functions (Go's `template.FuncMap`) are declared in [`crate::template::func`]; they receive
//! already type-checked `&[Value]` arguments.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::template::{CallContext, FuncError, Signature};

/// A Go value as a template sees it. Cheap to clone.
#[derive(Clone, Debug, Default)]
pub enum Value {
    /// A nil `interface{}` (Go prints `<nil>`; a missing map key, `nil`).
    #[default]
    Nil,
    /// Go `bool`.
    Bool(bool),
    /// Go `int` (64-bit).
    Int(i64),
    /// Go `int64`.
    Int64(i64),
    /// Go `uint64`.
    Uint64(u64),
    /// Go `float64`.
    Float(f64),
    /// Go `string`.
    String(Arc<str>),
    /// Go `[]byte`.
    Bytes(Arc<[u8]>),
    /// A Go slice.
    List(Arc<List>),
    /// A Go map with string keys: a reference (a cloned value is the same map).
    Map(Arc<Map>),
    /// A struct, pointer or named type with methods (`.Chart`, `.Capabilities`, `.Files`).
    Object(Arc<dyn Object>),
}

/// The element type of a Go slice or map, which Go shows in `%T` (`[]string`) and checks
/// when the slice is passed to a function.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Elem {
    /// `interface{}`: elements can be anything.
    #[default]
    Interface,
    /// `string`.
    String,
    /// `int`.
    Int,
    /// `int64`.
    Int64,
    /// `float64`.
    Float64,
    /// `bool`.
    Bool,
    /// `[]byte` (printed `[]uint8`).
    Bytes,
    /// `map[string]interface{}`.
    Map,
    /// `[]interface{}`.
    List,
}

impl Elem {
    /// The Go spelling of this type, as `%T` prints it.
    pub fn go_name(self) -> &'static str {
        match self {
            Elem::Interface => "interface {}",
            Elem::String => "string",
            Elem::Int => "int",
            Elem::Int64 => "int64",
            Elem::Float64 => "float64",
            Elem::Bool => "bool",
            Elem::Bytes => "[]uint8",
            Elem::Map => "map[string]interface {}",
            Elem::List => "[]interface {}",
        }
    }

    /// The zero value of this type (what a missing map key gives with `missingkey=zero`).
    pub fn zero(self) -> Value {
        match self {
            Elem::Interface | Elem::Bytes | Elem::Map | Elem::List => Value::Nil,
            Elem::String => Value::from(""),
            Elem::Int => Value::Int(0),
            Elem::Int64 => Value::Int64(0),
            Elem::Float64 => Value::Float(0.0),
            Elem::Bool => Value::Bool(false),
        }
    }
}

/// A Go slice: its element type and items.
#[derive(Clone, Debug, Default)]
pub struct List {
    /// The element type (`[]string` has [`Elem::String`]).
    pub elem: Elem,
    /// The items; each is a value of type `elem` (or anything when `elem` is `Interface`).
    pub items: Vec<Value>,
}

/// The deepest nesting of lists and maps a walk over a value follows (printing, JSON,
/// comparison, copying, merging); beyond it a walk prints `...` or fails. Values read from
/// files are far shallower (Helm refuses values nested beyond 200 levels); only a template
/// that builds the nesting in a loop reaches it. (Go has no such bound, but its stacks grow;
/// ours do not, and a walk may run on any thread, since a template can store what it builds
/// in the data it was given: 1000 levels fit a 2 MiB thread stack in a debug build.)
pub const MAX_DEPTH: usize = 1_000;

/// A Go map with string keys, iterated in sorted key order: a reference to shared entries.
///
/// Cloning a `Map` gives another handle on the same entries (Go's map assignment), so
/// [`Map::insert`] and [`Map::remove`] through one handle are seen by all. [`Map::with_type`]
/// is the same map seen as another named type (Go's conversion `map[string]interface{}(v)`).
/// Reads take a short read lock; [`Map::snapshot`] gives the entries as they are now, to walk
/// without holding any lock (see the [module docs](self) for the locking rule).
#[derive(Clone, Default)]
pub struct Map {
    /// The name of a named map type (`chartutil.Values`), shown by `%T`; `None` for a plain
    /// `map[string]ELEM`.
    pub type_name: Option<Arc<str>>,
    /// The value type.
    pub elem: Elem,
    /// The entries, shared by every handle on the map.
    entries: Arc<Entries>,
}

/// A map's entries, in Go's sorted key order; the inner `Arc` is copied on write while a
/// [`Map::snapshot`] of it is alive.
#[derive(Default)]
struct Entries(RwLock<Arc<BTreeMap<String, Value>>>);

/// Frees nested maps and lists that nothing else holds in a loop rather than by recursion,
/// so dropping a deeply nested value (a template can build one and store it in its data)
/// cannot overflow the stack.
impl Drop for Entries {
    fn drop(&mut self) {
        fn take(entries: &mut Entries, pending: &mut Vec<Value>) {
            let inner = entries.0.get_mut().unwrap_or_else(PoisonError::into_inner);
            // Shared with a live snapshot: that snapshot frees the entries when it goes.
            if let Some(map) = Arc::get_mut(inner) {
                pending.extend(
                    std::mem::take(map)
                        .into_values()
                        .filter(|v| matches!(v, Value::Map(_) | Value::List(_))),
                );
            }
        }
        let mut pending = Vec::new();
        take(self, &mut pending);
        while let Some(v) = pending.pop() {
            match v {
                Value::Map(m) => {
                    if let Ok(m) = Arc::try_unwrap(m)
                        && let Ok(mut entries) = Arc::try_unwrap(m.entries)
                    {
                        take(&mut entries, &mut pending);
                    }
                }
                Value::List(l) => {
                    if let Ok(l) = Arc::try_unwrap(l) {
                        pending.extend(
                            l.items
                                .into_iter()
                                .filter(|v| matches!(v, Value::Map(_) | Value::List(_))),
                        );
                    }
                }
                _ => {}
            }
        }
    }
}

impl Map {
    /// A new `map[string]ELEM` holding `entries`.
    pub fn new(elem: Elem, entries: BTreeMap<String, Value>) -> Map {
        Map {
            type_name: None,
            elem,
            entries: Arc::new(Entries(RwLock::new(Arc::new(entries)))),
        }
    }

    /// A new map of a named type (`chartutil.Values`) with `map[string]interface{}` underneath.
    pub fn named(type_name: &str, entries: BTreeMap<String, Value>) -> Map {
        Map {
            type_name: Some(type_name.into()),
            ..Map::new(Elem::Interface, entries)
        }
    }

    /// The same map (sharing its entries) seen as the named type `type_name`, or as the plain
    /// `map[string]ELEM` for `None`: Go's conversion between a named map type and its
    /// underlying type, as when `.Values` is passed to a `map[string]interface{}` parameter.
    pub fn with_type(&self, type_name: Option<Arc<str>>) -> Map {
        Map {
            type_name,
            elem: self.elem,
            entries: Arc::clone(&self.entries),
        }
    }

    /// The Go type name, as `%T` prints it.
    pub fn go_type(&self) -> String {
        match &self.type_name {
            Some(name) => name.to_string(),
            None => format!("map[string]{}", self.elem.go_name()),
        }
    }

    /// Whether `self` and `other` are handles on the same Go map.
    pub fn same_map(&self, other: &Map) -> bool {
        Arc::ptr_eq(&self.entries, &other.entries)
    }

    /// The identity of the map (equal for handles on the same map), for cycle detection.
    pub(crate) fn id(&self) -> usize {
        Arc::as_ptr(&self.entries).cast::<()>() as usize
    }

    fn read(&self) -> RwLockReadGuard<'_, Arc<BTreeMap<String, Value>>> {
        // A panic while a lock was held cannot leave the map half-changed (every change is
        // one `BTreeMap` call), so a poisoned lock is still good.
        self.entries
            .0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Arc<BTreeMap<String, Value>>> {
        self.entries
            .0
            .write()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The entries as they are now, in key order. Later changes to the map do not show in
    /// it, and no lock is held while it is alive (a change made meanwhile copies the entries
    /// once). This is how to iterate, and how to walk nested values.
    pub fn snapshot(&self) -> Arc<BTreeMap<String, Value>> {
        Arc::clone(&self.read())
    }

    /// The number of entries (Go's `len`).
    pub fn len(&self) -> usize {
        self.read().len()
    }

    /// Whether the map has no entries.
    pub fn is_empty(&self) -> bool {
        self.read().is_empty()
    }

    /// The value under `key`.
    pub fn get(&self, key: &str) -> Option<Value> {
        self.read().get(key).cloned()
    }

    /// Whether the map has `key`.
    pub fn contains_key(&self, key: &str) -> bool {
        self.read().contains_key(key)
    }

    /// The keys, sorted.
    pub fn keys(&self) -> Vec<String> {
        self.read().keys().cloned().collect()
    }

    /// Sets `key` to `value` in place (Go's `m[key] = value`), returning the value it
    /// replaces. `value` may be this very map (a cycle; see the [module docs](self)).
    pub fn insert(&self, key: impl Into<String>, value: Value) -> Option<Value> {
        let key = key.into();
        let mut guard = self.write();
        Arc::make_mut(&mut guard).insert(key, value)
    }

    /// Removes `key` in place (Go's `delete(m, key)`), returning its value.
    pub fn remove(&self, key: &str) -> Option<Value> {
        let mut guard = self.write();
        if !guard.contains_key(key) {
            return None;
        }
        Arc::make_mut(&mut guard).remove(key)
    }
}

thread_local! {
    /// The maps [`Map`]'s `Debug` is printing, outermost first (to cut cycles).
    static DEBUG_PATH: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
}

/// Pops [`DEBUG_PATH`] when a map's `Debug` is done, even when it fails.
struct DebugPathGuard;

impl Drop for DebugPathGuard {
    fn drop(&mut self) {
        DEBUG_PATH.with(|p| p.borrow_mut().pop());
    }
}

/// `Map { type: "...", entries: {...} }`, with `...` where a map would repeat (a cycle) or
/// the nesting passes [`MAX_DEPTH`].
impl fmt::Debug for Map {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let id = self.id();
        let cut = DEBUG_PATH.with(|p| {
            let p = p.borrow();
            p.len() > MAX_DEPTH || p.contains(&id)
        });
        if cut {
            return f.write_str("Map(...)");
        }
        DEBUG_PATH.with(|p| p.borrow_mut().push(id));
        let _pop = DebugPathGuard;
        let entries = self.snapshot();
        f.debug_struct("Map")
            .field("type", &self.go_type())
            .field("entries", &*entries)
            .finish()
    }
}

impl List {
    /// The Go type name, as `%T` prints it.
    pub fn go_type(&self) -> String {
        format!("[]{}", self.elem.go_name())
    }
}

/// A Go struct (usually behind a pointer), or a named type with methods, implemented in Rust.
///
/// Templates reach into it with `.Field` and `.Method arg...`. Go's rule, which the executor
/// follows: a method of that name wins over a field; a map-kind object falls back to a key
/// lookup ([`Object::as_map`]); otherwise `can't evaluate field X in type T`.
pub trait Object: fmt::Debug + Send + Sync {
    /// The Go type as `%T` prints it, e.g. `*chart.Metadata`.
    fn type_name(&self) -> String;

    /// The Go kind as `reflect.Kind.String()` prints it, e.g. `ptr`, `struct`, `map`.
    fn kind(&self) -> &'static str {
        "ptr"
    }

    /// The exported field `name`, if the type has it.
    fn field(&self, _name: &str) -> Option<Value> {
        None
    }

    /// The signature of the exported method `name`, if the type has it.
    fn method(&self, _name: &str) -> Option<Signature> {
        None
    }

    /// Calls the method `name` (which [`Object::method`] reported) with arguments already
    /// checked against its signature.
    ///
    /// # Errors
    ///
    /// The method's own error; the executor reports it as `error calling NAME: ...`.
    fn call_method(
        &self,
        name: &str,
        _ctx: &mut CallContext<'_>,
        _args: &[Value],
    ) -> Result<Value, FuncError> {
        Err(FuncError::new(format!("no method {name}")))
    }

    /// The object as map data, for map-kind named types (key lookup, `range`, `len`, `index`).
    /// The map is shared like any other: changes through it are the object's.
    fn as_map(&self) -> Option<&Map> {
        None
    }

    /// The object as plain data, for `toYaml`/`toJson`-like functions and deep equality
    /// (structs become maps keyed by their JSON field names).
    fn to_data(&self) -> Value {
        Value::Nil
    }

    /// What Go's `%v` (`plus == false`) or `%+v` prints for it, e.g. `&{1.2.3 1 2}`.
    fn fmt_v(&self, plus: bool) -> String {
        let _ = plus;
        format!("&{{{}}}", self.type_name())
    }

    /// What `{{ . }}` prints for it. Go's template printer calls a `String` method declared
    /// on the pointer type when the value is addressable (a struct field such as
    /// `.Capabilities.KubeVersion`), which `%v` does not; default: [`Object::fmt_v`].
    fn print(&self) -> String {
        self.fmt_v(false)
    }

    /// Go's truth of the value (a non-nil pointer or struct is true).
    fn truth(&self) -> bool {
        true
    }
}

impl Value {
    /// A Go `string`.
    pub fn string(s: impl Into<Arc<str>>) -> Value {
        Value::String(s.into())
    }

    /// A `[]interface{}`.
    pub fn list(items: Vec<Value>) -> Value {
        Value::List(Arc::new(List {
            elem: Elem::Interface,
            items,
        }))
    }

    /// A `[]string`.
    pub fn string_list<S: Into<Arc<str>>>(items: impl IntoIterator<Item = S>) -> Value {
        Value::List(Arc::new(List {
            elem: Elem::String,
            items: items.into_iter().map(|s| Value::String(s.into())).collect(),
        }))
    }

    /// A slice with the given element type.
    pub fn typed_list(elem: Elem, items: Vec<Value>) -> Value {
        Value::List(Arc::new(List { elem, items }))
    }

    /// A new `map[string]interface{}`.
    pub fn map(entries: BTreeMap<String, Value>) -> Value {
        Value::Map(Arc::new(Map::new(Elem::Interface, entries)))
    }

    /// A new map of a named type, e.g. `chartutil.Values` (`map[string]interface{}`
    /// underneath).
    pub fn named_map(type_name: &str, entries: BTreeMap<String, Value>) -> Value {
        Value::Map(Arc::new(Map::named(type_name, entries)))
    }

    /// A new `map[string]string`.
    pub fn string_map<K: Into<String>, S: Into<Arc<str>>>(
        entries: impl IntoIterator<Item = (K, S)>,
    ) -> Value {
        Value::Map(Arc::new(Map::new(
            Elem::String,
            entries
                .into_iter()
                .map(|(k, v)| (k.into(), Value::String(v.into())))
                .collect(),
        )))
    }

    /// A Go `[]byte`.
    pub fn bytes(b: impl Into<Arc<[u8]>>) -> Value {
        Value::Bytes(b.into())
    }

    /// Whether this is a nil interface.
    pub fn is_nil(&self) -> bool {
        matches!(self, Value::Nil)
    }

    /// The string, if this is a Go `string`.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The items, if this is a slice.
    pub fn as_list(&self) -> Option<&List> {
        match self {
            Value::List(l) => Some(l),
            _ => None,
        }
    }

    /// The map, if this is a map (or a map-kind object such as `.Files`).
    pub fn as_map(&self) -> Option<&Map> {
        match self {
            Value::Map(m) => Some(m),
            Value::Object(o) => o.as_map(),
            _ => None,
        }
    }

    /// The Go type as `%T` prints it (`<nil>` for nil, `[]interface {}`, `float64`, ...).
    pub fn type_name(&self) -> String {
        match self {
            Value::Nil => "<nil>".into(),
            Value::Bool(_) => "bool".into(),
            Value::Int(_) => "int".into(),
            Value::Int64(_) => "int64".into(),
            Value::Uint64(_) => "uint64".into(),
            Value::Float(_) => "float64".into(),
            Value::String(_) => "string".into(),
            Value::Bytes(_) => "[]uint8".into(),
            Value::List(l) => l.go_type(),
            Value::Map(m) => m.go_type(),
            Value::Object(o) => o.type_name(),
        }
    }

    /// The Go kind as `reflect.Kind.String()` prints it (Sprig's `kindOf`): `invalid` for nil,
    /// `slice`, `map`, `string`, `int`, `float64`, `ptr`, ...
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Nil => "invalid",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Int64(_) => "int64",
            Value::Uint64(_) => "uint64",
            Value::Float(_) => "float64",
            Value::String(_) => "string",
            Value::Bytes(_) | Value::List(_) => "slice",
            Value::Map(_) => "map",
            Value::Object(o) => o.kind(),
        }
    }

    /// Go's template truth (`if`, `with`, `and`, `or`, `not`): false for nil, `false`, zero
    /// numbers, and empty strings, slices and maps; true otherwise.
    pub fn truth(&self) -> bool {
        match self {
            Value::Nil => false,
            Value::Bool(b) => *b,
            Value::Int(i) | Value::Int64(i) => *i != 0,
            Value::Uint64(u) => *u != 0,
            Value::Float(f) => *f != 0.0,
            Value::String(s) => !s.is_empty(),
            Value::Bytes(b) => !b.is_empty(),
            Value::List(l) => !l.items.is_empty(),
            Value::Map(m) => !m.is_empty(),
            Value::Object(o) => o.truth(),
        }
    }

    /// Go's `reflect.DeepEqual` over these values (types must match exactly; `1` and `1.0`
    /// differ, `[]string{"a"}` and `[]interface{}{"a"}` differ). As in Go, a map is equal to
    /// itself, and a pair of maps already being compared counts as equal, so cycles end;
    /// nesting beyond [`MAX_DEPTH`] compares unequal.
    pub fn deep_equal(&self, other: &Value) -> bool {
        deep_equal(self, other, &mut HashSet::new(), 0)
    }

    /// Converts JSON as Go's `encoding/json` decodes it into `interface{}`: every number is a
    /// `float64`, objects are `map[string]interface{}`, arrays `[]interface{}`. This is how
    /// Helm sees values files (read by sigs.k8s.io/yaml) and `fromYaml`/`fromJson` results.
    pub fn from_json(json: &serde_json::Value) -> Value {
        Self::convert_json(json, false)
    }

    /// Converts JSON keeping integers as Go `int` (and integers beyond `i64` as `uint64` or
    /// `float64`): how yaml.v2 decodes into `interface{}`.
    pub fn from_json_ints(json: &serde_json::Value) -> Value {
        Self::convert_json(json, true)
    }

    fn convert_json(json: &serde_json::Value, ints: bool) -> Value {
        match json {
            serde_json::Value::Null => Value::Nil,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => {
                if ints {
                    if let Some(i) = n.as_i64() {
                        return Value::Int(i);
                    }
                    if let Some(u) = n.as_u64() {
                        return Value::Uint64(u);
                    }
                }
                Value::Float(n.as_f64().unwrap_or(0.0))
            }
            serde_json::Value::String(s) => Value::string(s.as_str()),
            serde_json::Value::Array(items) => {
                Value::list(items.iter().map(|v| Self::convert_json(v, ints)).collect())
            }
            serde_json::Value::Object(map) => Value::map(
                map.iter()
                    .map(|(k, v)| (k.clone(), Self::convert_json(v, ints)))
                    .collect(),
            ),
        }
    }

    /// Converts to JSON data as Go's `encoding/json` would marshal it: integral floats become
    /// JSON integers (Go prints `1e+06` as `1000000`), `[]byte` becomes base64 text, objects
    /// their [`Object::to_data`]. What Go refuses to marshal becomes null: non-finite floats,
    /// a map inside itself (a cycle) and nesting beyond [`MAX_DEPTH`]. (Sprig's `toJson`
    /// reports those as Go does.)
    pub fn to_json(&self) -> serde_json::Value {
        to_json(self, &mut Path::default())
    }
}

/// `a.deep_equal(b)`; `seen` holds the pairs of maps compared so far (Go's `visited`).
fn deep_equal(a: &Value, b: &Value, seen: &mut HashSet<(usize, usize)>, depth: usize) -> bool {
    if depth > MAX_DEPTH {
        return false;
    }
    match (a, b) {
        (Value::Nil, Value::Nil) => true,
        (Value::Bool(a), Value::Bool(b)) => a == b,
        (Value::Int(a), Value::Int(b)) | (Value::Int64(a), Value::Int64(b)) => a == b,
        (Value::Uint64(a), Value::Uint64(b)) => a == b,
        #[allow(clippy::float_cmp)]
        (Value::Float(a), Value::Float(b)) => a == b,
        (Value::String(a), Value::String(b)) => a == b,
        (Value::Bytes(a), Value::Bytes(b)) => a == b,
        (Value::List(a), Value::List(b)) => {
            a.elem == b.elem
                && a.items.len() == b.items.len()
                && a.items
                    .iter()
                    .zip(&b.items)
                    .all(|(x, y)| deep_equal(x, y, seen, depth + 1))
        }
        (Value::Map(a), Value::Map(b)) => {
            if a.elem != b.elem || a.type_name != b.type_name {
                return false;
            }
            if a.same_map(b) || !seen.insert((a.id(), b.id())) {
                return true;
            }
            let (ea, eb) = (a.snapshot(), b.snapshot());
            ea.len() == eb.len()
                && ea
                    .iter()
                    .zip(eb.iter())
                    .all(|((ka, va), (kb, vb))| ka == kb && deep_equal(va, vb, seen, depth + 1))
        }
        (Value::Object(a), Value::Object(b)) => {
            Arc::ptr_eq(a, b)
                || (a.type_name() == b.type_name()
                    && deep_equal(&a.to_data(), &b.to_data(), seen, depth + 1))
        }
        _ => false,
    }
}

/// [`Value::to_json`] inside the maps and lists of `path`.
fn to_json(v: &Value, path: &mut Path) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        Value::Nil => J::Null,
        Value::Bool(b) => J::Bool(*b),
        Value::Int(i) | Value::Int64(i) => J::from(*i),
        Value::Uint64(u) => J::from(*u),
        Value::Float(f) => {
            if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e21 {
                // Exactly integral and below Go's switch to exponent form.
                #[allow(clippy::cast_possible_truncation)]
                if f.abs() < 9.2e18 {
                    return J::from(*f as i64);
                }
            }
            serde_json::Number::from_f64(*f).map_or(J::Null, J::Number)
        }
        Value::String(s) => J::String(s.to_string()),
        Value::Bytes(b) => J::String(base64(b)),
        Value::List(l) => {
            if path.enter_list().is_err() {
                return J::Null;
            }
            let items = l.items.iter().map(|x| to_json(x, path)).collect();
            path.leave();
            J::Array(items)
        }
        Value::Map(m) => {
            if path.enter_map(m).is_err() {
                return J::Null;
            }
            let entries = m.snapshot();
            let object = entries
                .iter()
                .map(|(k, x)| (k.clone(), to_json(x, path)))
                .collect();
            path.leave();
            J::Object(object)
        }
        Value::Object(o) => to_json(&o.to_data(), path),
    }
}

/// Why a walk over a value stopped going deeper.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cut {
    /// The map is already on the path: it contains itself.
    Cycle,
    /// The nesting passes [`MAX_DEPTH`].
    TooDeep,
}

/// The maps and lists a recursive walk over a value is inside, outermost first: every walk
/// keeps one to stop at cycles and at [`MAX_DEPTH`].
#[derive(Debug, Default)]
pub(crate) struct Path(Vec<usize>);

impl Path {
    /// Steps into map `m`, unless it is already on the path or the path is too deep. Call
    /// [`Path::leave`] after an `Ok`.
    pub(crate) fn enter_map(&mut self, m: &Map) -> Result<(), Cut> {
        let id = m.id();
        if self.0.len() >= MAX_DEPTH {
            return Err(Cut::TooDeep);
        }
        if self.0.contains(&id) {
            return Err(Cut::Cycle);
        }
        self.0.push(id);
        Ok(())
    }

    /// Steps into a list (lists cannot contain themselves except through a map, but they
    /// count for the depth). Call [`Path::leave`] after an `Ok`.
    pub(crate) fn enter_list(&mut self) -> Result<(), Cut> {
        if self.0.len() >= MAX_DEPTH {
            return Err(Cut::TooDeep);
        }
        // 0 is never a map's id.
        self.0.push(0);
        Ok(())
    }

    /// Steps back out of the innermost map or list.
    pub(crate) fn leave(&mut self) {
        self.0.pop();
    }
}

fn base64(bytes: &[u8]) -> String {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk.first().copied().unwrap_or(0),
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18u32, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(char::from(TABLE[((n >> shift) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}
impl From<i64> for Value {
    /// A Go `int`.
    fn from(i: i64) -> Value {
        Value::Int(i)
    }
}
impl From<f64> for Value {
    fn from(f: f64) -> Value {
        Value::Float(f)
    }
}
impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::String(s.into())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::String(s.into())
    }
}
impl From<Arc<str>> for Value {
    fn from(s: Arc<str>) -> Value {
        Value::String(s)
    }
}
impl From<Vec<Value>> for Value {
    /// A `[]interface{}`.
    fn from(items: Vec<Value>) -> Value {
        Value::list(items)
    }
}
impl From<BTreeMap<String, Value>> for Value {
    /// A `map[string]interface{}`.
    fn from(entries: BTreeMap<String, Value>) -> Value {
        Value::map(entries)
    }
}
impl From<&serde_json::Value> for Value {
    /// See [`Value::from_json`].
    fn from(json: &serde_json::Value) -> Value {
        Value::from_json(json)
    }
}

/// Go's `%v` (what `{{ . }}`, `print` and `toString` print).
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        write_v(&mut out, self, false, &mut Path::default());
        f.write_str(&out)
    }
}

impl Value {
    /// Go's `%+v` (same as `%v` except for structs, whose field names are shown).
    pub fn to_string_plus(&self) -> String {
        let mut out = String::new();
        write_v(&mut out, self, true, &mut Path::default());
        out
    }
}

/// Go's `%v` of `v` inside the maps and lists of `path`. Go prints a map inside itself until
/// its stack overflows; this prints `...` where the map would repeat, or where the nesting
/// passes [`MAX_DEPTH`].
fn write_v(out: &mut String, v: &Value, plus: bool, path: &mut Path) {
    match v {
        Value::Nil => out.push_str("<nil>"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) | Value::Int64(i) => out.push_str(&i.to_string()),
        Value::Uint64(u) => out.push_str(&u.to_string()),
        Value::Float(f) => out.push_str(&format_float(*f, 'g', None)),
        Value::String(s) => out.push_str(s),
        Value::Bytes(b) => {
            out.push('[');
            for (i, byte) in b.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(&byte.to_string());
            }
            out.push(']');
        }
        Value::List(l) => {
            if path.enter_list().is_err() {
                out.push_str("...");
                return;
            }
            out.push('[');
            for (i, item) in l.items.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                write_v(out, item, plus, path);
            }
            out.push(']');
            path.leave();
        }
        Value::Map(m) => {
            if path.enter_map(m).is_err() {
                out.push_str("...");
                return;
            }
            out.push_str("map[");
            for (i, (k, item)) in m.snapshot().iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(k);
                out.push(':');
                write_v(out, item, plus, path);
            }
            out.push(']');
            path.leave();
        }
        Value::Object(o) => out.push_str(&o.fmt_v(plus)),
    }
}

/// Go's `strconv.FormatFloat(f, fmt, prec, 64)` for `fmt` in `e`, `E`, `f`, `g`, `G`;
/// `prec == None` is Go's `-1` (the shortest text that reads back as the same float).
pub fn format_float(f: f64, fmt: char, prec: Option<usize>) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    let neg = f.is_sign_negative();
    let a = f.abs();
    // Decimal digits and the exponent of the first digit (value = 0.d1d2... * 10^dp).
    let (digits, dp) = decimal_digits(a, fmt, prec);
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    match fmt {
        'e' | 'E' => push_exp(&mut out, &digits, dp, prec, fmt),
        'f' => push_fixed(&mut out, &digits, dp, prec),
        _ => {
            // %g: exponent form when the exponent is < -4 or >= the precision.
            let nd = digits.len() as i64;
            let mut p = match prec {
                None => nd,
                Some(0) => 1,
                Some(p) => i64::try_from(p).unwrap_or(i64::MAX),
            };
            let mut eprec = p;
            if eprec > nd && nd >= dp {
                eprec = nd;
            }
            if prec.is_none() {
                eprec = 6;
            }
            let exp = dp - 1;
            let e = if fmt == 'G' { 'E' } else { 'e' };
            if exp < -4 || exp >= eprec {
                p = p.min(nd);
                push_exp(
                    &mut out,
                    &digits,
                    dp,
                    Some(usize::try_from(p - 1).unwrap_or(0)),
                    e,
                );
            } else {
                if p > dp {
                    p = nd;
                }
                push_fixed(
                    &mut out,
                    &digits,
                    dp,
                    Some(usize::try_from(p - dp).unwrap_or(0)),
                );
            }
        }
    }
    out
}

/// The decimal digits of `a >= 0` (no trailing zeros for the shortest form) and the decimal
/// point position, rounded as `strconv` rounds for the format and precision.
fn decimal_digits(a: f64, fmt: char, prec: Option<usize>) -> (Vec<u8>, i64) {
    if a == 0.0 {
        return (vec![b'0'], 1);
    }
    // Rust's `{:e}` gives the shortest round-trip digits; `{:.N$e}` exact rounding. Beyond
    // 1100 digits an f64's expansion is all zeros, which the callers pad.
    let prec = prec.map(|p| p.min(1100));
    let text = match (fmt, prec) {
        (_, None) => format!("{a:e}"),
        ('e' | 'E', Some(p)) => format!("{a:.p$e}"),
        ('f', Some(p)) => {
            // Digits up to p places after the point.
            let s = format!("{a:.p$}");
            let (int, frac) = s.split_once('.').unwrap_or((s.as_str(), ""));
            let mut digits: Vec<u8> = int.bytes().chain(frac.bytes()).collect();
            let mut dp = int.len() as i64;
            while digits.len() > 1 && digits.first() == Some(&b'0') {
                digits.remove(0);
                dp -= 1;
            }
            return (digits, dp);
        }
        (_, Some(p)) => {
            let p = p.max(1) - 1;
            format!("{a:.p$e}")
        }
    };
    let (mant, exp) = text.split_once('e').unwrap_or((text.as_str(), "0"));
    let exp: i64 = exp.parse().unwrap_or(0);
    let mut digits: Vec<u8> = mant.bytes().filter(u8::is_ascii_digit).collect();
    if prec.is_none() || !matches!(fmt, 'e' | 'E') {
        while digits.len() > 1 && digits.last() == Some(&b'0') {
            digits.pop();
        }
    }
    (digits, exp + 1)
}

fn push_exp(out: &mut String, digits: &[u8], dp: i64, prec: Option<usize>, e: char) {
    let first = digits.first().copied().unwrap_or(b'0');
    out.push(char::from(first));
    let rest = digits.get(1..).unwrap_or(&[]);
    let n = prec.unwrap_or(rest.len());
    if n > 0 {
        out.push('.');
        for i in 0..n {
            out.push(char::from(rest.get(i).copied().unwrap_or(b'0')));
        }
    }
    let exp = if digits.iter().all(|d| *d == b'0') {
        0
    } else {
        dp - 1
    };
    out.push(e);
    out.push(if exp < 0 { '-' } else { '+' });
    let abs = exp.unsigned_abs();
    if abs < 10 {
        out.push('0');
    }
    out.push_str(&abs.to_string());
}

fn push_fixed(out: &mut String, digits: &[u8], dp: i64, prec: Option<usize>) {
    let digit = |i: i64| -> char {
        usize::try_from(i)
            .ok()
            .and_then(|i| digits.get(i))
            .map_or('0', |d| char::from(*d))
    };
    if dp > 0 {
        for i in 0..dp {
            out.push(digit(i));
        }
    } else {
        out.push('0');
    }
    let n = match prec {
        Some(p) => p,
        None => usize::try_from((digits.len() as i64 - dp).max(0)).unwrap_or(0),
    };
    if n > 0 {
        out.push('.');
        for i in 0..n {
            out.push(digit(dp + i as i64));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_like_go() {
        let cases = [
            (1e6, "1e+06"),
            (123456.0, "123456"),
            (1234567.0, "1.234567e+06"),
            (0.1, "0.1"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.5, "1.5"),
            (-2.0, "-2"),
            (0.0, "0"),
            (1e21, "1e+21"),
            (100000.0, "100000"),
        ];
        for (f, want) in cases {
            assert_eq!(format_float(f, 'g', None), want, "{f}");
        }
    }

    #[test]
    fn display_is_go_v() {
        let mut m = BTreeMap::new();
        m.insert("b".to_string(), Value::Int(2));
        m.insert(
            "a".to_string(),
            Value::list(vec![Value::from("x"), Value::Nil]),
        );
        assert_eq!(Value::map(m).to_string(), "map[a:[x <nil>] b:2]");
    }

    fn map_of(v: &Value) -> &Map {
        v.as_map().expect("a map")
    }

    #[test]
    fn clones_share_the_map_and_snapshots_do_not_change() {
        let v = Value::map(BTreeMap::new());
        let alias = v.clone();
        let named = Value::Map(Arc::new(
            map_of(&v).with_type(Some("chartutil.Values".into())),
        ));
        map_of(&alias).insert("a", Value::Int(1));
        let before = map_of(&v).snapshot();
        map_of(&named).insert("b", Value::Int(2));
        assert_eq!(v.to_string(), "map[a:1 b:2]");
        assert_eq!(named.type_name(), "chartutil.Values");
        assert!(map_of(&v).same_map(map_of(&named)));
        assert_eq!(before.len(), 1);
        assert_eq!(
            map_of(&v).remove("a").map(|x| x.to_string()),
            Some("1".into())
        );
        assert_eq!(map_of(&v).remove("a").map(|x| x.to_string()), None);
        assert_eq!(map_of(&v).keys(), vec!["b".to_string()]);
        assert!(!map_of(&v).same_map(map_of(&Value::map(BTreeMap::new()))));
    }

    #[test]
    fn cycles_end_every_walk() {
        let v = Value::map(BTreeMap::from([("a".to_string(), Value::Int(1))]));
        map_of(&v).insert("self", v.clone());
        map_of(&v).insert("l", Value::list(vec![v.clone()]));
        assert_eq!(v.to_string(), "map[a:1 l:[...] self:...]");
        assert_eq!(v.to_string_plus(), "map[a:1 l:[...] self:...]");
        assert_eq!(v.to_json().to_string(), r#"{"a":1,"l":[null],"self":null}"#);
        assert!(format!("{v:?}").contains("Map(...)"));
        assert!(v.deep_equal(&v.clone()));
        let w = Value::map(BTreeMap::from([("a".to_string(), Value::Int(1))]));
        map_of(&w).insert("self", w.clone());
        map_of(&w).insert("l", Value::list(vec![w.clone()]));
        assert!(v.deep_equal(&w));
        map_of(&w).insert("a", Value::Int(2));
        assert!(!v.deep_equal(&w));
        // The cycles are never freed: break them so the test does not leak.
        map_of(&v).remove("self");
        map_of(&v).remove("l");
        map_of(&w).remove("self");
        map_of(&w).remove("l");
    }
}
