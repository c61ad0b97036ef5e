//! Functions callable from templates (Go's `template.FuncMap`) and what they receive.
//!
//! A [`Func`] is a [`Signature`] (Go's parameter types, which the executor checks and converts
//! arguments against exactly as Go's reflection-based `text/template` does) and a Rust closure
//! `Fn(&mut CallContext, &[Value]) -> Result<Value, FuncError>`:
//!
//! ```
//! use weir_helm::template::{Func, FuncMap, Param};
//! use weir_helm::value::Value;
//!
//! let mut funcs = FuncMap::new();
//! // Go: func(s string) string
//! funcs.insert("upper".into(), Func::new(&[Param::String], |_ctx, args| {
//!     let s = args.first().and_then(Value::as_str).unwrap_or_default();
//!     Ok(Value::from(s.to_uppercase()))
//! }));
//! // Go: func(args ...interface{}) string
//! funcs.insert("cat".into(), Func::variadic(&[], Param::Any, |_ctx, args| {
//!     Ok(Value::from(args.len().to_string()))
//! }));
//! ```
//!
//! Before the closure runs, the executor has checked the argument count
//! (`wrong number of args for upper: want 1 got 0`) and each argument's type
//! (`wrong type for value; expected string; got float64`), converted number literals to the
//! parameter's type (`3` is an `int` for [`Param::Int`], a `float64` for [`Param::Float64`]),
//! and passed nil for a missing value where Go would (only to [`Param::Any`] and nil-able
//! parameters: slices and maps). So `args.len()` is exactly the declared count (or more, for
//! variadic functions) and `args[i]` is of the declared type: a [`Param::String`] argument is
//! a [`Value::String`], a [`Param::Int`] argument a [`Value::Int`], a [`Param::Float64`] a
//! [`Value::Float`], a [`Param::Strings`] a `[]string` list or nil, a [`Param::Map`] a map or nil.
//!
//! A returned [`FuncError`] stops execution with Go's
//! `template: T:1:2: executing "T" at <fname ...>: error calling fname: MESSAGE`.
//!
//! Functions can call back into the executing template set through [`CallContext`] — Helm's
//! `include` is [`CallContext::execute`], `tpl` is [`CallContext::execute_text`] — and both share
//! the render's limits: the nesting depth of template calls ([`CallContext::depth`]) and the
//! output budget. Per-name counters ([`CallContext::counter`]) let `include` reproduce Helm's
//! "rendering template has a nested reference name" limit.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use crate::template::exec::{self, Shared};
use crate::template::{ExecError, Scope, TemplateError, TemplateSet};
use crate::value::{Elem, Value};

/// The Go type of a function parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Param {
    /// `interface{}`: any value, nil included.
    Any,
    /// `string`.
    String,
    /// `bool`.
    Bool,
    /// `int`.
    Int,
    /// `int64`.
    Int64,
    /// `float64`.
    Float64,
    /// `[]string` (nil allowed).
    Strings,
    /// `[]interface{}` (nil allowed).
    List,
    /// `map[string]interface{}` (nil allowed).
    Map,
}

impl Param {
    /// The Go spelling, used in error messages.
    pub fn go_name(self) -> &'static str {
        match self {
            Param::Any => "interface {}",
            Param::String => "string",
            Param::Bool => "bool",
            Param::Int => "int",
            Param::Int64 => "int64",
            Param::Float64 => "float64",
            Param::Strings => "[]string",
            Param::List => "[]interface {}",
            Param::Map => "map[string]interface {}",
        }
    }

    /// Whether Go accepts nil for this type (interfaces, slices, maps).
    pub fn can_be_nil(self) -> bool {
        matches!(self, Param::Any | Param::Strings | Param::List | Param::Map)
    }

    /// Whether a value of this Go type is assignable to the parameter.
    pub fn accepts(self, v: &Value) -> bool {
        match self {
            Param::Any => true,
            Param::String => matches!(v, Value::String(_)),
            Param::Bool => matches!(v, Value::Bool(_)),
            Param::Int => matches!(v, Value::Int(_)),
            Param::Int64 => matches!(v, Value::Int64(_)),
            Param::Float64 => matches!(v, Value::Float(_)),
            Param::Strings => {
                matches!(v, Value::List(l) if l.elem == Elem::String)
            }
            Param::List => {
                matches!(v, Value::List(l) if l.elem == Elem::Interface)
            }
            // A named map type (`common.Values`) is assignable: its underlying type is
            // `map[string]interface{}` and the parameter's type is unnamed.
            Param::Map => matches!(v, Value::Map(m) if m.elem == Elem::Interface),
        }
    }
}

/// A function's or method's Go parameter list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Signature {
    /// The fixed parameters.
    pub params: Vec<Param>,
    /// The type of the final `...T` parameter, for variadic functions.
    pub variadic: Option<Param>,
}

impl Signature {
    /// A fixed parameter list.
    pub fn new(params: &[Param]) -> Signature {
        Signature {
            params: params.to_vec(),
            variadic: None,
        }
    }

    /// Fixed parameters followed by `...rest`.
    pub fn variadic(params: &[Param], rest: Param) -> Signature {
        Signature {
            params: params.to_vec(),
            variadic: Some(rest),
        }
    }
}

/// The closure behind a [`Func`].
pub type FuncImpl =
    dyn Fn(&mut CallContext<'_>, &[Value]) -> Result<Value, FuncError> + Send + Sync;

/// A template function: its Go signature and implementation. Cheap to clone.
#[derive(Clone)]
pub struct Func {
    /// The Go parameter types.
    pub signature: Signature,
    imp: Arc<FuncImpl>,
}

impl fmt::Debug for Func {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Func")
            .field("signature", &self.signature)
            .finish_non_exhaustive()
    }
}

impl Func {
    /// A function with fixed parameters.
    pub fn new<F>(params: &[Param], f: F) -> Func
    where
        F: Fn(&mut CallContext<'_>, &[Value]) -> Result<Value, FuncError> + Send + Sync + 'static,
    {
        Func {
            signature: Signature::new(params),
            imp: Arc::new(f),
        }
    }

    /// A function with fixed parameters followed by `...rest`.
    pub fn variadic<F>(params: &[Param], rest: Param, f: F) -> Func
    where
        F: Fn(&mut CallContext<'_>, &[Value]) -> Result<Value, FuncError> + Send + Sync + 'static,
    {
        Func {
            signature: Signature::variadic(params, rest),
            imp: Arc::new(f),
        }
    }

    /// Calls the implementation directly (arguments are not checked).
    ///
    /// # Errors
    ///
    /// Whatever the function returns.
    pub fn call(&self, ctx: &mut CallContext<'_>, args: &[Value]) -> Result<Value, FuncError> {
        (self.imp)(ctx, args)
    }
}

/// Functions by name (Go's `template.FuncMap`). They take precedence over the builtins of
/// the same name, as in Go.
pub type FuncMap = HashMap<String, Func>;

/// The error a function returns; the executor prefixes `error calling NAME: `.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FuncError {
    /// The message (Go's `err.Error()`); for an error wrapping a template error (`source`),
    /// only the function's own words before it (nothing for [`FuncError::from_exec`]).
    /// [`Display`](fmt::Display) gives the whole text.
    pub message: String,
    /// The template execution error this one wraps (Go's `%w`), when the function executed a
    /// template that failed (Helm's `include` and `tpl`).
    pub source: Option<Box<ExecError>>,
    /// Whether the error is `source` unchanged (Go's `errors.Unwrap` leads straight to a
    /// template error, as for `include`) rather than words of its own around it (`tpl`'s
    /// `error during tpl function execution for ...`).
    pub verbatim: bool,
    /// A message the user asked for (Helm's `fail` and `required`), which Helm shows alone,
    /// at the location of the top-level action, however deep the call was.
    pub user_message: Option<String>,
}

impl FuncError {
    /// An error with this message.
    pub fn new(message: impl Into<String>) -> FuncError {
        FuncError {
            message: message.into(),
            source: None,
            verbatim: false,
            user_message: None,
        }
    }

    /// An error a template asked for (`fail "msg"`, `required "msg" nil`).
    pub fn user(message: impl Into<String>) -> FuncError {
        let message = message.into();
        FuncError {
            user_message: Some(message.clone()),
            ..FuncError::new(message)
        }
    }

    /// A nested template execution's error returned as it is (Helm's `include`).
    pub fn from_exec(error: ExecError) -> FuncError {
        FuncError {
            message: String::new(),
            source: Some(Box::new(error)),
            verbatim: true,
            user_message: None,
        }
    }

    /// A nested template execution's error with words of the function's own before it
    /// (`PREFIX: ERROR`, as Go's `fmt.Errorf("PREFIX: %w", err)`).
    pub fn wrap(prefix: &str, error: ExecError) -> FuncError {
        FuncError {
            message: prefix.to_string(),
            source: Some(Box::new(error)),
            verbatim: false,
            user_message: None,
        }
    }

    /// The user message (`fail`, `required`) anywhere in this error's chain.
    pub fn find_user_message(&self) -> Option<&str> {
        if let Some(m) = &self.user_message {
            return Some(m);
        }
        self.source.as_ref()?.cause.as_ref()?.find_user_message()
    }
}

impl fmt::Display for FuncError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.source, self.verbatim) {
            (Some(source), true) => write!(f, "{source}"),
            (Some(source), false) => write!(f, "{}: {source}", self.message),
            (None, _) => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for FuncError {}

impl From<ExecError> for FuncError {
    fn from(e: ExecError) -> FuncError {
        FuncError::from_exec(e)
    }
}

impl From<TemplateError> for FuncError {
    fn from(e: TemplateError) -> FuncError {
        match e {
            TemplateError::Exec(e) => FuncError::from_exec(e),
            TemplateError::Parse(e) => FuncError::new(e.to_string()),
        }
    }
}

/// What a function sees of the execution that calls it.
pub struct CallContext<'a> {
    pub(crate) scope: &'a Scope<'a>,
    pub(crate) shared: &'a mut Shared,
    pub(crate) name: &'a str,
}

impl CallContext<'_> {
    /// The template set being executed (without templates defined by enclosing `tpl` texts;
    /// use [`CallContext::execute`] to see those too).
    pub fn set(&self) -> &TemplateSet {
        self.scope.root()
    }

    /// The name of the template whose action calls the function.
    pub fn template_name(&self) -> &str {
        self.name
    }

    /// How many template executions enclose this call (`{{ template }}`, `include`, `tpl`):
    /// 1 in a top-level template.
    pub fn depth(&self) -> usize {
        self.shared.depth
    }

    /// A counter for `key`, shared by the whole render (starts at 0): Helm's `include` counts
    /// how often each name is being included.
    pub fn counter(&mut self, key: &str) -> &mut usize {
        self.shared.counters.entry(key.to_string()).or_insert(0)
    }

    /// Executes the template `name` of the set (and of enclosing `tpl` texts) with `data` as
    /// dot, returning its output: Helm's `include`. Go's `<no value>` is left in the output.
    ///
    /// # Errors
    ///
    /// `no such template "NAME"` (as Go's `ExecuteTemplate`: `template: no template "NAME"
    /// associated with template "..."`), the template's execution errors, and limits
    /// (depth, output size).
    pub fn execute(&mut self, name: &str, data: &Value) -> Result<String, ExecError> {
        exec::execute_nested(self.scope, self.shared, name, data)
    }

    /// Parses `text` as a template named `name` in a throw-away copy of the current set (its
    /// `define`s are seen only by this execution and what it includes) and executes it with
    /// `data` as dot: Helm's `tpl`. Cost is linear in `text`, not in the set's size.
    ///
    /// # Errors
    ///
    /// [`TemplateError::Parse`] or [`TemplateError::Exec`].
    pub fn execute_text(
        &mut self,
        name: &str,
        text: &str,
        data: &Value,
    ) -> Result<String, TemplateError> {
        exec::execute_text(self.scope, self.shared, name, text, data)
    }
}
