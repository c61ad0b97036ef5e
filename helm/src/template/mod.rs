//! Go's `text/template`, with Go's exact semantics and error messages.
//!
//! A [`TemplateSet`] is Go's `*template.Template` as Helm uses it: one namespace of named
//! templates (every chart file and every `define` in it), one function map, one set of
//! options. [`TemplateSet::add`] parses a text as Go's `t.New(name).Parse(text)` does and
//! [`TemplateSet::execute`] is `t.ExecuteTemplate(w, name, data)`.
//!
//! ```
//! use weir_helm::template::{FuncMap, TemplateSet};
//! use weir_helm::value::Value;
//!
//! let mut set = TemplateSet::new(FuncMap::new());
//! set.add("t", r#"{{ define "x" }}[{{ . }}]{{ end }}{{ template "x" "hi" }}"#).unwrap();
//! assert_eq!(set.execute("t", &Value::Nil).unwrap(), "[hi]");
//! ```
//!
//! Functions are described in [`func`]; Go's `fmt` verbs (`printf`) in [`mod@fmt`].
//!
//! Untrusted input is bounded ([`Limits`]): parse nesting, template call depth (Go's 100000),
//! output size, and the total number of evaluation steps.

mod builtins;
mod escape;
pub(crate) mod exec;
pub mod fmt;
pub mod func;
mod lex;
pub(crate) mod parse;

use std::collections::HashMap;
use std::sync::Arc;

pub use escape::{html_escape, js_escape, urlquery_escape};
pub use func::{CallContext, Func, FuncError, FuncImpl, FuncMap, Param, Signature};

/// What a missing map key evaluates to (Go's `missingkey=` option).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MissingKey {
    /// `missingkey=default`: "no value" (printed `<no value>`).
    Default,
    /// `missingkey=zero`: the zero value of the map's element type (Helm's setting; for
    /// `map[string]interface{}` that is again "no value" once a pipeline ends).
    #[default]
    Zero,
    /// `missingkey=error`: execution stops with `map has no entry for key "K"` (Helm's
    /// `--strict`).
    Error,
}

/// Bounds on what one parse or execution may cost.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Maximum nesting of `if`/`range`/`with`/`define` bodies and parentheses in one text
    /// (parsing recurses on the caller's stack: 200 levels fit a 2 MiB thread stack).
    pub max_parse_depth: usize,
    /// Maximum nesting of template calls (`template`, `include`, `tpl`). Go allows 100000
    /// (its stacks grow); ours are fixed, so execution runs on a thread whose stack is sized
    /// for this many levels plus `max_parse_depth` levels of `if`/`range`/`with` nesting,
    /// which share the budget.
    pub max_exec_depth: usize,
    /// Maximum size in bytes of the output of one [`TemplateSet::execute`] (all nested
    /// executions included).
    pub max_output: usize,
    /// Maximum number of evaluation steps (commands and loop iterations) of one execution.
    pub max_steps: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_parse_depth: 200,
            max_exec_depth: 2_000,
            max_output: 256 * 1024 * 1024,
            max_steps: 50_000_000,
        }
    }
}

/// Execution options.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// Go's `missingkey` option.
    pub missing_key: MissingKey,
    /// Resource bounds.
    pub limits: Limits,
}

/// A set of named templates sharing functions and options. Cheap to clone (each template's
/// tree is shared).
#[derive(Clone, Debug)]
pub struct TemplateSet {
    funcs: Arc<FuncMap>,
    templates: HashMap<String, Arc<parse::Tree>>,
    options: Options,
    root_name: Arc<str>,
}

/// A chain of template namespaces: a set, plus the `define`s of enclosing `tpl` texts.
pub(crate) struct Scope<'a> {
    pub(crate) templates: &'a HashMap<String, Arc<parse::Tree>>,
    pub(crate) parent: Option<&'a Scope<'a>>,
    pub(crate) set: &'a TemplateSet,
}

impl<'a> Scope<'a> {
    pub(crate) fn root(&self) -> &'a TemplateSet {
        self.set
    }

    pub(crate) fn lookup(&self, name: &str) -> Option<&'a Arc<parse::Tree>> {
        let mut scope = Some(self);
        while let Some(s) = scope {
            if let Some(t) = s.templates.get(name) {
                return Some(t);
            }
            scope = s.parent;
        }
        None
    }
}

impl Default for TemplateSet {
    fn default() -> TemplateSet {
        TemplateSet::new(FuncMap::new())
    }
}

impl TemplateSet {
    /// An empty set with these functions (they shadow builtins of the same name) and Helm's
    /// default options (`missingkey=zero`).
    pub fn new(funcs: FuncMap) -> TemplateSet {
        TemplateSet {
            funcs: Arc::new(funcs),
            templates: HashMap::new(),
            options: Options::default(),
            root_name: "gotpl".into(),
        }
    }

    /// The name of the set itself, which Go shows in `no template "x" associated with
    /// template "NAME"` (Helm's is `gotpl`, the default).
    pub fn root_name(&self) -> &str {
        &self.root_name
    }

    /// Renames the set (see [`TemplateSet::root_name`]).
    pub fn set_root_name(&mut self, name: &str) {
        self.root_name = name.into();
    }

    /// The set with these options.
    #[must_use]
    pub fn with_options(mut self, options: Options) -> TemplateSet {
        self.options = options;
        self
    }

    /// The options.
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// Changes the options.
    pub fn set_options(&mut self, options: Options) {
        self.options = options;
    }

    /// The functions.
    pub fn funcs(&self) -> &FuncMap {
        &self.funcs
    }

    /// Adds (or replaces) functions, as Go's `t.Funcs(map)`. Templates parsed before keep
    /// working; names are resolved at execution.
    pub fn add_funcs(&mut self, funcs: FuncMap) {
        Arc::make_mut(&mut self.funcs).extend(funcs);
    }

    /// Parses `text` as the template `name` (Go's `t.New(name).Parse(text)`): its body
    /// becomes template `name` and each `define`/`block` a template of its own, replacing
    /// templates of the same name (unless the new body is empty).
    ///
    /// # Errors
    ///
    /// Go's parse errors, e.g. `template: NAME:3: unexpected "}" in operand`; the set is
    /// unchanged then.
    pub fn add(&mut self, name: &str, text: &str) -> Result<(), ParseError> {
        let trees = parse::parse(name, text, self, None)?;
        for tree in trees {
            self.associate(tree);
        }
        Ok(())
    }

    /// Parses several texts as [`TemplateSet::add`] would one after the other (later texts'
    /// `define`s replace earlier ones), but parses them on all cores: parsing one text needs
    /// nothing from the others.
    ///
    /// # Errors
    /// The error of the first text (in order) that does not parse; the set is unchanged
    /// then.
    pub fn add_all(&mut self, texts: &[(&str, &str)]) -> Result<(), ParseError> {
        let parsed = crate::parallel::map(texts, 8, |(name, text)| {
            parse::parse(name, text, self, None)
        });
        let mut trees = Vec::with_capacity(parsed.len());
        for result in parsed {
            trees.push(result?);
        }
        for tree in trees.into_iter().flatten() {
            self.associate(tree);
        }
        Ok(())
    }

    fn associate(&mut self, tree: parse::Tree) {
        if self.templates.contains_key(&tree.name) && tree.is_empty() {
            return;
        }
        self.templates.insert(tree.name.clone(), Arc::new(tree));
    }

    /// Whether the set has a template of this name.
    pub fn has(&self, name: &str) -> bool {
        self.templates.contains_key(name)
    }

    /// The names of the templates, sorted.
    pub fn names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.templates.keys().map(String::as_str).collect();
        names.sort_unstable();
        names
    }

    /// Executes the template `name` with `data` as dot and `$` (Go's `ExecuteTemplate`).
    /// Go's `<no value>` is left in the output (Helm removes it afterwards).
    ///
    /// # Errors
    ///
    /// Go's execution errors, e.g.
    /// `template: t:1:9: executing "t" at <.a.b>: nil pointer evaluating interface {}.b`.
    pub fn execute(&self, name: &str, data: &Value) -> Result<String, ExecError> {
        exec::execute_top(self, name, data)
    }

    /// Executes several templates, each with its own data, in one go: the same as calling
    /// [`TemplateSet::execute`] for each, but the execution stack (sized by [`Limits`]) is set
    /// up once. Rendering a chart's files this way is cheaper.
    pub fn execute_batch(&self, jobs: &[(&str, &Value)]) -> Vec<Result<String, ExecError>> {
        exec::execute_batch(self, jobs)
    }

    /// Parses `text` as a template named `name` in a throw-away copy of the set and executes
    /// it (Helm's `tpl` outside a render). Cost is linear in `text`.
    ///
    /// # Errors
    ///
    /// [`TemplateError::Parse`] or [`TemplateError::Exec`].
    pub fn execute_text(
        &self,
        name: &str,
        text: &str,
        data: &Value,
    ) -> Result<String, TemplateError> {
        exec::execute_text_top(self, name, text, data)
    }
}

use crate::value::Value;

/// A parse error, displayed as Go prints it: `template: NAME:LINE: MESSAGE`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("template: {name}:{line}: {message}")]
pub struct ParseError {
    /// The name of the text being parsed.
    pub name: String,
    /// The 1-based line.
    pub line: usize,
    /// The message (`unexpected EOF`, `function "x" not defined`, ...).
    pub message: String,
}

/// An execution error, displayed as Go prints it:
/// `template: FILE:LINE:COL: executing "NAME" at <NODE>: MESSAGE`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExecError {
    /// `FILE:LINE:COL` of the failing node (FILE is the parsed text's name), if known.
    pub location: Option<String>,
    /// The executing template's name.
    pub template: String,
    /// The failing node as Go prints it, if known.
    pub node: Option<String>,
    /// The message (`nil pointer evaluating ...`; `error calling include` when a function
    /// failed, whose own error is [`ExecError::cause`]). Displayed, the error is Go's whole
    /// text, `MESSAGE: CAUSE`; nested errors are kept as a chain, not copied into each
    /// level's text, so deep nesting costs memory linear in its depth.
    pub message: String,
    /// When a function call failed (`error calling NAME: ...`), the function's own error:
    /// Go's `errors.Unwrap` of the execution error, which Helm walks to print nested
    /// `include` failures as a trace.
    pub cause: Option<Box<FuncError>>,
}

impl std::fmt::Display for ExecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.location, &self.node) {
            (Some(loc), Some(node)) => write!(
                f,
                "template: {loc}: executing {:?} at <{node}>: {}",
                self.template, self.message
            )?,
            (Some(loc), None) => write!(
                f,
                "template: {loc}: executing {:?}: {}",
                self.template, self.message
            )?,
            _ => write!(f, "template: {}", self.message)?,
        }
        match &self.cause {
            Some(cause) => write!(f, ": {cause}"),
            None => Ok(()),
        }
    }
}

impl std::error::Error for ExecError {}

/// A parse or execution error (from [`TemplateSet::execute_text`]).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// The text did not parse.
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// It failed while executing.
    #[error(transparent)]
    Exec(#[from] ExecError),
}
