//! The executor: walks parsed trees with Go's `text/template` semantics.
//!
//! Go's reflection distinguishes three states we reproduce with [`Rv`]: an *invalid* value
//! ("no value": a missing key at the end of a pipeline, printed `<no value>`), a value whose
//! static type is `interface{}` (what a `map[string]interface{}` lookup yields: a nil one is
//! "nil pointer evaluating interface {}.x" when dereferenced, a non-nil one reports its type as
//! `interface {}` in "can't evaluate field"), and a concrete value.

use std::collections::HashMap;
use std::sync::Arc;

use super::builtins;
use super::func::{CallContext, FuncError, Param};
use super::parse::{self, Arg, Command, Control, ListNode, Node, Pipe, Tree};
use super::{ExecError, MissingKey, Options, Scope, TemplateError, TemplateSet};
use crate::value::{Elem, Value};

/// A value as the executor holds it (see the module docs).
#[derive(Clone, Debug)]
pub(crate) enum Rv {
    /// No final argument (Go's `missingVal`).
    Missing,
    /// Go's invalid `reflect.Value`.
    Invalid,
    /// A value of static type `interface{}` (`Value::Nil` is a nil interface).
    Iface(Value),
    /// A concrete value.
    Val(Value),
}

impl Rv {
    pub(crate) fn value(&self) -> Option<&Value> {
        match self {
            Rv::Iface(v) | Rv::Val(v) => Some(v),
            Rv::Missing | Rv::Invalid => None,
        }
    }

    /// The value, or nil.
    pub(crate) fn to_value(&self) -> Value {
        self.value().cloned().unwrap_or(Value::Nil)
    }

    /// Go's `indirectInterface` plus the pipeline's unwrapping: a nil interface becomes
    /// invalid, a non-nil one concrete.
    pub(crate) fn unwrap(self) -> Rv {
        match self {
            Rv::Iface(Value::Nil) | Rv::Val(Value::Nil) => Rv::Invalid,
            Rv::Iface(v) => Rv::Val(v),
            other => other,
        }
    }

    fn from_result(v: Value) -> Rv {
        if v.is_nil() { Rv::Iface(v) } else { Rv::Val(v) }
    }

    fn elem(elem: Elem, v: Value) -> Rv {
        if elem == Elem::Interface {
            Rv::Iface(v)
        } else {
            Rv::Val(v)
        }
    }

    fn from_data(v: &Value) -> Rv {
        if v.is_nil() {
            Rv::Invalid
        } else {
            Rv::Val(v.clone())
        }
    }
}

/// State shared by one top-level execution and everything it runs.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) depth: usize,
    /// Template calls plus nested control structures being executed.
    frames: usize,
    pub(crate) counters: HashMap<String, usize>,
    output: usize,
    steps: u64,
    options: Options,
}

impl Shared {
    fn new(options: Options) -> Shared {
        Shared {
            depth: 0,
            frames: 0,
            counters: HashMap::new(),
            output: 0,
            steps: 0,
            options,
        }
    }
}

/// Why a walk stopped early.
pub(crate) enum Flow {
    Error(ExecError),
    Break,
    Continue,
}

type Res<T> = Result<T, Flow>;

/// The node an error is reported at.
#[derive(Clone, Copy)]
enum At<'t> {
    None,
    Arg(&'t Arg),
    Cmd(&'t Command),
    Pipe(&'t Pipe),
    Node(&'t Node, usize),
}

struct State<'a, 't> {
    scope: &'a Scope<'a>,
    shared: &'a mut Shared,
    tree: &'t Tree,
    out: String,
    vars: Vec<(String, Rv)>,
    at: At<'t>,
}

/// How many bytes of stack one level of template nesting may use, generously.
const STACK_PER_LEVEL: usize = 16 * 1024;

fn run_on_big_stack<T: Send>(depth: usize, f: impl FnOnce() -> T + Send) -> T {
    let size = depth
        .saturating_mul(STACK_PER_LEVEL)
        .clamp(8 * 1024 * 1024, 1024 * 1024 * 1024);
    std::thread::scope(|s| {
        match std::thread::Builder::new()
            .stack_size(size)
            .spawn_scoped(s, f)
        {
            Ok(handle) => match handle.join() {
                Ok(v) => v,
                Err(panic) => std::panic::resume_unwind(panic),
            },
            Err(_) => {
                // No thread available: nothing sensible to do but fail loudly.
                std::panic::resume_unwind(Box::new("cannot start template execution thread"))
            }
        }
    })
}

fn max_depth(options: &Options) -> usize {
    options.limits.max_exec_depth
}

/// The bound on recursion: template calls and control-structure nesting together.
fn frame_limit(options: &Options) -> usize {
    options
        .limits
        .max_exec_depth
        .saturating_add(options.limits.max_parse_depth)
}

pub(crate) fn execute_top(
    set: &TemplateSet,
    name: &str,
    data: &Value,
) -> Result<String, ExecError> {
    run_on_big_stack(frame_limit(set.options()), || execute_here(set, name, data))
}

pub(crate) fn execute_batch(
    set: &TemplateSet,
    jobs: &[(&str, &Value)],
) -> Vec<Result<String, ExecError>> {
    run_on_big_stack(frame_limit(set.options()), || {
        jobs.iter()
            .map(|(name, data)| execute_here(set, name, data))
            .collect()
    })
}

pub(crate) fn execute_here(
    set: &TemplateSet,
    name: &str,
    data: &Value,
) -> Result<String, ExecError> {
    let scope = Scope {
        templates: &set.templates,
        parent: None,
        set,
    };
    let mut shared = Shared::new(*set.options());
    let Some(tree) = scope.lookup(name) else {
        return Err(no_template(set, name));
    };
    run_tree(&scope, &mut shared, tree, data)
}

pub(crate) fn execute_text_top(
    set: &TemplateSet,
    name: &str,
    text: &str,
    data: &Value,
) -> Result<String, TemplateError> {
    run_on_big_stack(frame_limit(set.options()), || {
        let scope = Scope {
            templates: &set.templates,
            parent: None,
            set,
        };
        let mut shared = Shared::new(*set.options());
        execute_text(&scope, &mut shared, name, text, data)
    })
}

fn no_template(set: &TemplateSet, name: &str) -> ExecError {
    ExecError {
        location: None,
        cause: None,
        template: name.to_string(),
        node: None,
        message: format!(
            "no template {} associated with template {}",
            super::fmt::quote(name),
            super::fmt::quote(set.root_name())
        ),
    }
}

pub(crate) fn execute_nested(
    scope: &Scope<'_>,
    shared: &mut Shared,
    name: &str,
    data: &Value,
) -> Result<String, ExecError> {
    let Some(tree) = scope.lookup(name) else {
        return Err(no_template(scope.set, name));
    };
    run_tree(scope, shared, tree, data)
}

pub(crate) fn execute_text(
    scope: &Scope<'_>,
    shared: &mut Shared,
    name: &str,
    text: &str,
    data: &Value,
) -> Result<String, TemplateError> {
    let check = |f: &str| -> bool { scope.set.funcs().contains_key(f) };
    let trees = parse::parse(name, text, scope.set, Some(&check))?;
    let mut local: HashMap<String, Arc<Tree>> = HashMap::new();
    for tree in trees {
        if tree.is_empty() && (local.contains_key(&tree.name) || scope.lookup(&tree.name).is_some())
        {
            continue;
        }
        local.insert(tree.name.clone(), Arc::new(tree));
    }
    let inner = Scope {
        templates: &local,
        parent: Some(scope),
        set: scope.set,
    };
    let Some(tree) = inner.lookup(name) else {
        return Err(no_template(scope.set, name).into());
    };
    Ok(run_tree(&inner, shared, tree, data)?)
}

fn run_tree(
    scope: &Scope<'_>,
    shared: &mut Shared,
    tree: &Tree,
    data: &Value,
) -> Result<String, ExecError> {
    if shared.depth >= max_depth(&shared.options) {
        return Err(ExecError {
            location: None,
            cause: None,
            template: tree.name.clone(),
            node: None,
            message: format!(
                "{}: exceeded maximum template depth ({})",
                tree.name,
                max_depth(&shared.options)
            ),
        });
    }
    if shared.frames >= frame_limit(&shared.options) {
        return Err(ExecError {
            location: None,
            cause: None,
            template: tree.name.clone(),
            node: None,
            message: format!(
                "{}: exceeded maximum template depth ({})",
                tree.name,
                max_depth(&shared.options)
            ),
        });
    }
    shared.depth += 1;
    shared.frames += 1;
    let dot = Rv::from_data(data);
    let mut state = State {
        scope,
        shared,
        tree,
        out: String::new(),
        vars: vec![("$".to_string(), dot.clone())],
        at: At::None,
    };
    let r = state.walk_list(&dot, &tree.root);
    let out = std::mem::take(&mut state.out);
    state.shared.depth -= 1;
    state.shared.frames -= 1;
    match r {
        Ok(()) => Ok(out),
        Err(Flow::Error(e)) => Err(e),
        Err(Flow::Break | Flow::Continue) => Ok(out),
    }
}

/// How an argument is typed: Go's `reflect.Value` (builtins see everything) or a Go type.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum P {
    Reflect,
    Go(Param),
}

impl P {
    fn name(self) -> &'static str {
        match self {
            P::Reflect => "reflect.Value",
            P::Go(p) => p.go_name(),
        }
    }
}

/// The signature of a callable, builtin or registered.
pub(crate) struct Sig {
    pub(crate) fixed: Vec<P>,
    pub(crate) variadic: Option<P>,
}

enum Callee<'s> {
    Builtin(&'static str),
    Func(&'s super::Func),
    Method(Arc<dyn crate::value::Object>, String),
}

impl<'a, 't> State<'a, 't> {
    fn errorf(&self, message: String) -> Flow {
        Flow::Error(self.error_at(message))
    }

    fn error_at(&self, message: String) -> ExecError {
        let (pos, text) = match self.at {
            At::None => {
                return ExecError {
                    location: None,
                    cause: None,
                    template: self.tree.name.clone(),
                    node: None,
                    message: format!("{}: {message}", self.tree.name),
                };
            }
            At::Arg(a) => (a.pos(), a.to_string()),
            At::Cmd(c) => (c.pos, c.to_string()),
            At::Pipe(p) => (p.pos, p.to_string()),
            At::Node(n, pos) => (pos, n.to_string()),
        };
        let (location, node) = self.tree.error_context(pos, &text);
        ExecError {
            location: Some(location),
            cause: None,
            template: self.tree.name.clone(),
            node: Some(node),
            message,
        }
    }

    fn step(&mut self) -> Res<()> {
        self.shared.steps += 1;
        if self.shared.steps > self.shared.options.limits.max_steps {
            return Err(self.errorf(format!(
                "exceeded maximum number of evaluation steps ({})",
                self.shared.options.limits.max_steps
            )));
        }
        Ok(())
    }

    fn write(&mut self, s: &str) -> Res<()> {
        self.shared.output += s.len();
        if self.shared.output > self.shared.options.limits.max_output {
            return Err(self.errorf(format!(
                "output exceeds {} bytes",
                self.shared.options.limits.max_output
            )));
        }
        self.out.push_str(s);
        Ok(())
    }

    fn walk_list(&mut self, dot: &Rv, list: &'t ListNode) -> Res<()> {
        for node in &list.nodes {
            self.walk(dot, node)?;
        }
        Ok(())
    }

    fn walk(&mut self, dot: &Rv, node: &'t Node) -> Res<()> {
        match node {
            Node::Text(t) => self.write(t),
            Node::Action(pipe) => {
                let v = self.eval_pipeline(dot, pipe)?;
                if pipe.decl.is_empty() {
                    self.at = At::Node(node, pipe.pos);
                    let text = match v.value() {
                        // Go prints a struct field through its pointer's `String` method.
                        Some(Value::Object(o)) => o.print(),
                        Some(v) => v.to_string(),
                        None => "<no value>".to_string(),
                    };
                    self.write(&text)?;
                }
                Ok(())
            }
            Node::If(c) => self.nested(|s| s.walk_if_or_with(dot, c, false)),
            Node::With(c) => self.nested(|s| s.walk_if_or_with(dot, c, true)),
            Node::Range(c) => self.nested(|s| s.walk_range(dot, node, c)),
            Node::Template { pos, name, pipe } => self.walk_template(dot, node, *pos, name, pipe),
            Node::Break => Err(Flow::Break),
            Node::Continue => Err(Flow::Continue),
        }
    }

    /// Runs a control structure's body one nesting level deeper: nesting and template calls
    /// share one budget, which bounds the executor's recursion (and so its stack).
    fn nested(&mut self, f: impl FnOnce(&mut Self) -> Res<()>) -> Res<()> {
        if self.shared.frames >= frame_limit(&self.shared.options) {
            let limit = max_depth(&self.shared.options);
            return Err(self.errorf(format!("exceeded maximum template depth ({limit})")));
        }
        self.shared.frames += 1;
        let r = f(self);
        self.shared.frames -= 1;
        r
    }

    fn walk_if_or_with(&mut self, dot: &Rv, c: &'t Control, with: bool) -> Res<()> {
        let mark = self.vars.len();
        let val = self.eval_pipeline(dot, &c.pipe)?;
        let truth = val.value().is_some_and(Value::truth);
        let r = if truth {
            if with {
                self.walk_list(&val, &c.list)
            } else {
                self.walk_list(dot, &c.list)
            }
        } else if let Some(e) = &c.else_list {
            self.walk_list(dot, e)
        } else {
            Ok(())
        };
        self.vars.truncate(mark);
        r
    }

    fn walk_range(&mut self, dot: &Rv, node: &'t Node, r: &'t Control) -> Res<()> {
        self.at = At::Node(node, r.pos);
        let mark = self.vars.len();
        let result = self.walk_range_inner(dot, r);
        self.vars.truncate(mark);
        match result {
            Err(Flow::Break) => Ok(()),
            other => other,
        }
    }

    fn one_iteration(&mut self, r: &'t Control, index: Rv, elem: Rv) -> Res<()> {
        let mark = self.vars.len();
        let decl = &r.pipe.decl;
        if !decl.is_empty() {
            if r.pipe.is_assign {
                if decl.len() > 1 {
                    self.set_var(&decl[0], index.clone())?;
                } else {
                    self.set_var(&decl[0], elem.clone())?;
                }
            } else {
                self.set_top_var(1, elem.clone());
            }
        }
        if decl.len() > 1 {
            if r.pipe.is_assign {
                self.set_var(&decl[1], elem.clone())?;
            } else {
                self.set_top_var(2, index);
            }
        }
        self.step()?;
        let res = self.walk_list(&elem, &r.list);
        self.vars.truncate(mark);
        match res {
            Err(Flow::Continue) => Ok(()),
            other => other,
        }
    }

    fn walk_range_inner(&mut self, dot: &Rv, r: &'t Control) -> Res<()> {
        let val = self.eval_pipeline(dot, &r.pipe)?.unwrap();
        let mut ran = false;
        // A slice-kind object (`.Capabilities.APIVersions`) ranges as its items.
        let val = match val.value() {
            Some(Value::Object(o)) if o.kind() == "slice" => Rv::Val(o.to_data()),
            _ => val,
        };
        match val.value() {
            None => {}
            Some(Value::List(l)) => {
                for (i, item) in l.items.iter().enumerate() {
                    ran = true;
                    let index = Rv::Val(Value::Int(i64::try_from(i).unwrap_or(i64::MAX)));
                    self.one_iteration(r, index, Rv::elem(l.elem, item.clone()))?;
                }
            }
            Some(Value::Bytes(b)) => {
                for (i, byte) in b.iter().enumerate() {
                    ran = true;
                    let index = Rv::Val(Value::Int(i64::try_from(i).unwrap_or(i64::MAX)));
                    self.one_iteration(r, index, Rv::Val(Value::Int(i64::from(*byte))))?;
                }
            }
            Some(v @ (Value::Int(_) | Value::Int64(_) | Value::Uint64(_))) => {
                if r.pipe.decl.len() > 1 {
                    return Err(self.errorf(format!(
                        "can't use {v} to iterate over more than one variable"
                    )));
                }
                let n = match v {
                    Value::Int(i) | Value::Int64(i) => u64::try_from(*i).unwrap_or(0),
                    Value::Uint64(u) => *u,
                    _ => 0,
                };
                let make = |i: u64| match v {
                    Value::Int(_) => Value::Int(i64::try_from(i).unwrap_or(i64::MAX)),
                    Value::Int64(_) => Value::Int64(i64::try_from(i).unwrap_or(i64::MAX)),
                    _ => Value::Uint64(i),
                };
                for i in 0..n {
                    ran = true;
                    let x = Rv::Val(make(i));
                    self.one_iteration(r, x.clone(), x)?;
                }
            }
            Some(v) => {
                // Go sorts the keys and reads the values when the range starts (`fmtsort`):
                // the body may change the map (no lock is held) without changing this loop.
                let map = v.as_map().map(|m| (m.elem, m.snapshot()));
                match map {
                    Some((elem, entries)) => {
                        for (k, item) in entries.iter() {
                            ran = true;
                            let key = Rv::Val(Value::from(k.as_str()));
                            self.one_iteration(r, key, Rv::elem(elem, item.clone()))?;
                        }
                    }
                    None => {
                        return Err(self.errorf(format!("range can't iterate over {v}")));
                    }
                }
            }
        }
        if !ran && let Some(e) = &r.else_list {
            return self.walk_list(dot, e);
        }
        Ok(())
    }

    fn walk_template(
        &mut self,
        dot: &Rv,
        node: &'t Node,
        pos: usize,
        name: &str,
        pipe: &'t Option<Pipe>,
    ) -> Res<()> {
        self.at = At::Node(node, pos);
        let Some(tree) = self.scope.lookup(name) else {
            return Err(self.errorf(format!("template {} not defined", super::fmt::quote(name))));
        };
        let limit = max_depth(&self.shared.options);
        if self.shared.depth >= limit || self.shared.frames >= frame_limit(&self.shared.options) {
            return Err(self.errorf(format!("exceeded maximum template depth ({limit})")));
        }
        let new_dot = match pipe {
            Some(p) => self.eval_pipeline(dot, p)?,
            None => Rv::Invalid,
        };
        self.shared.depth += 1;
        self.shared.frames += 1;
        let mut inner = State {
            scope: self.scope,
            shared: &mut *self.shared,
            tree,
            out: String::new(),
            vars: vec![("$".to_string(), new_dot.clone())],
            at: At::None,
        };
        let r = inner.walk_list(&new_dot, &tree.root);
        let out = std::mem::take(&mut inner.out);
        self.shared.depth -= 1;
        self.shared.frames -= 1;
        // The output was counted when the inner state wrote it.
        self.out.push_str(&out);
        match r {
            Err(Flow::Error(e)) => Err(Flow::Error(e)),
            _ => Ok(()),
        }
    }

    // Variables.

    fn set_var(&mut self, name: &str, v: Rv) -> Res<()> {
        for (n, value) in self.vars.iter_mut().rev() {
            if n == name {
                *value = v;
                return Ok(());
            }
        }
        Err(self.errorf(format!("undefined variable: {name}")))
    }

    fn set_top_var(&mut self, n: usize, v: Rv) {
        let len = self.vars.len();
        if let Some(slot) = len.checked_sub(n).and_then(|i| self.vars.get_mut(i)) {
            slot.1 = v;
        }
    }

    fn var_value(&self, name: &str) -> Res<Rv> {
        for (n, v) in self.vars.iter().rev() {
            if n == name {
                return Ok(v.clone());
            }
        }
        Err(self.errorf(format!("undefined variable: {name}")))
    }

    // Pipelines and commands.

    fn eval_pipeline(&mut self, dot: &Rv, pipe: &'t Pipe) -> Res<Rv> {
        self.at = At::Pipe(pipe);
        let mut value = Rv::Missing;
        for cmd in &pipe.cmds {
            value = self.eval_command(dot, cmd, value)?.unwrap();
        }
        for name in &pipe.decl {
            if pipe.is_assign {
                self.set_var(name, value.clone())?;
            } else {
                self.vars.push((name.clone(), value.clone()));
            }
        }
        Ok(value)
    }

    fn not_a_function(&mut self, args: &'t [Arg], final_: &Rv) -> Res<()> {
        if args.len() > 1 || !matches!(final_, Rv::Missing) {
            let first = args.first().map(ToString::to_string).unwrap_or_default();
            return Err(self.errorf(format!("can't give argument to non-function {first}")));
        }
        Ok(())
    }

    fn eval_command(&mut self, dot: &Rv, cmd: &'t Command, final_: Rv) -> Res<Rv> {
        self.step()?;
        let Some(first) = cmd.args.first() else {
            return Err(self.errorf("empty command".into()));
        };
        match first {
            Arg::Field { idents, .. } => {
                self.at = At::Arg(first);
                return self.eval_field_chain(dot, dot.clone(), first, idents, &cmd.args, final_);
            }
            Arg::Chain { .. } => return self.eval_chain(dot, first, &cmd.args, final_),
            Arg::Identifier { name, .. } => {
                self.at = At::Arg(first);
                return self.eval_function(dot, name, At::Cmd(cmd), &cmd.args, final_);
            }
            Arg::Pipe(p) => {
                self.not_a_function(&cmd.args, &final_)?;
                return self.eval_pipeline(dot, p);
            }
            Arg::Variable { .. } => return self.eval_variable(dot, first, &cmd.args, final_),
            _ => {}
        }
        self.at = At::Arg(first);
        self.not_a_function(&cmd.args, &final_)?;
        match first {
            Arg::Bool(_, b) => Ok(Rv::Val(Value::Bool(*b))),
            Arg::Dot(_) => Ok(dot.clone()),
            Arg::Nil(_) => Err(self.errorf("nil is not a command".into())),
            Arg::Number(_, n) => self.ideal_constant(n),
            Arg::String { text, .. } => Ok(Rv::Val(Value::String(text.clone()))),
            _ => Err(self.errorf(format!("can't evaluate command {first}"))),
        }
    }

    fn ideal_constant(&mut self, n: &parse::Number) -> Res<Rv> {
        // Go's isHexInt looks at the unsigned text only: `-0x1E` counts as a float.
        let hex_int = n.text.len() > 2
            && (n.text.starts_with("0x") || n.text.starts_with("0X"))
            && !n.text.contains(['p', 'P']);
        let looks_float = !hex_int && !n.is_char && n.text.contains(['.', 'e', 'E', 'p', 'P']);
        if n.is_float && looks_float {
            return Ok(Rv::Val(Value::Float(n.float)));
        }
        if n.is_int {
            return Ok(Rv::Val(Value::Int(n.int)));
        }
        if n.is_uint {
            return Err(self.errorf(format!("{} overflows int", n.text)));
        }
        Ok(Rv::Invalid)
    }

    fn eval_chain(&mut self, dot: &Rv, chain: &'t Arg, args: &'t [Arg], final_: Rv) -> Res<Rv> {
        self.at = At::Arg(chain);
        let Arg::Chain { node, fields, .. } = chain else {
            return Err(self.errorf("internal error: not a chain".into()));
        };
        if fields.is_empty() {
            return Err(self.errorf("internal error: no fields in evalChainNode".into()));
        }
        if let Arg::Nil(_) = node.as_ref() {
            return Err(self.errorf(format!("indirection through explicit nil in {chain}")));
        }
        let pipe = self.eval_arg(dot, P::Reflect, node)?;
        self.eval_field_chain(dot, pipe, chain, fields, args, final_)
    }

    fn eval_variable(&mut self, dot: &Rv, var: &'t Arg, args: &'t [Arg], final_: Rv) -> Res<Rv> {
        self.at = At::Arg(var);
        let Arg::Variable { idents, .. } = var else {
            return Err(self.errorf("internal error: not a variable".into()));
        };
        let name = idents.first().map(String::as_str).unwrap_or("$");
        let value = self.var_value(name)?;
        if idents.len() == 1 {
            self.not_a_function(args, &final_)?;
            return Ok(value);
        }
        self.eval_field_chain(
            dot,
            value,
            var,
            idents.get(1..).unwrap_or(&[]),
            args,
            final_,
        )
    }

    fn eval_field_chain(
        &mut self,
        dot: &Rv,
        mut receiver: Rv,
        node: &'t Arg,
        idents: &'t [String],
        args: &'t [Arg],
        final_: Rv,
    ) -> Res<Rv> {
        let n = idents.len();
        for ident in idents.iter().take(n.saturating_sub(1)) {
            receiver = self.eval_field(dot, ident, node, &[], Rv::Missing, receiver)?;
        }
        match idents.last() {
            Some(last) => self.eval_field(dot, last, node, args, final_, receiver),
            None => Ok(receiver),
        }
    }

    fn eval_field(
        &mut self,
        dot: &Rv,
        name: &str,
        node: &'t Arg,
        args: &'t [Arg],
        final_: Rv,
        receiver: Rv,
    ) -> Res<Rv> {
        let (v, typ) = match &receiver {
            Rv::Missing | Rv::Invalid => {
                if self.shared.options.missing_key == MissingKey::Error {
                    return Err(self.errorf(format!(
                        "nil data; no entry for key {}",
                        super::fmt::quote(name)
                    )));
                }
                return Ok(Rv::Invalid);
            }
            Rv::Iface(v) => (v, "interface {}".to_string()),
            Rv::Val(v) => (v, v.type_name()),
        };
        if v.is_nil() {
            return Err(self.errorf(format!("nil pointer evaluating {typ}.{name}")));
        }
        let has_args = args.len() > 1 || !matches!(final_, Rv::Missing);
        if let Value::Object(o) = v {
            if let Some(sig) = o.method(name) {
                let sig = Sig {
                    fixed: sig.params.iter().map(|p| P::Go(*p)).collect(),
                    variadic: sig.variadic.map(P::Go),
                };
                let callee = Callee::Method(o.clone(), name.to_string());
                return self.eval_call(dot, &callee, &sig, At::Arg(node), name, args, final_);
            }
            if let Some(field) = o.field(name) {
                if has_args {
                    return Err(self.errorf(format!(
                        "{name} has arguments but cannot be invoked as function"
                    )));
                }
                return Ok(Rv::from_result(field));
            }
        }
        if let Some(m) = v.as_map() {
            if has_args {
                return Err(self.errorf(format!("{name} is not a method but has arguments")));
            }
            return match m.get(name) {
                Some(x) => Ok(Rv::elem(m.elem, x)),
                None => match self.shared.options.missing_key {
                    MissingKey::Default => Ok(Rv::Invalid),
                    MissingKey::Zero => Ok(Rv::elem(m.elem, m.elem.zero())),
                    MissingKey::Error => Err(self.errorf(format!(
                        "map has no entry for key {}",
                        super::fmt::quote(name)
                    ))),
                },
            };
        }
        Err(self.errorf(format!("can't evaluate field {name} in type {typ}")))
    }

    fn eval_function(
        &mut self,
        dot: &Rv,
        name: &str,
        node: At<'t>,
        args: &'t [Arg],
        final_: Rv,
    ) -> Res<Rv> {
        let set = self.scope.set;
        if let Some(f) = set.funcs().get(name) {
            let sig = Sig {
                fixed: f.signature.params.iter().map(|p| P::Go(*p)).collect(),
                variadic: f.signature.variadic.map(P::Go),
            };
            return self.eval_call(dot, &Callee::Func(f), &sig, node, name, args, final_);
        }
        if let Some((bname, sig)) = builtins::signature(name) {
            return self.eval_call(dot, &Callee::Builtin(bname), &sig, node, name, args, final_);
        }
        Err(self.errorf(format!(
            "{} is not a defined function",
            super::fmt::quote(name)
        )))
    }

    #[allow(clippy::too_many_arguments)]
    fn eval_call(
        &mut self,
        dot: &Rv,
        callee: &Callee<'_>,
        sig: &Sig,
        node: At<'t>,
        name: &str,
        args: &'t [Arg],
        final_: Rv,
    ) -> Res<Rv> {
        let args = args.get(1..).unwrap_or(&[]);
        let has_final = !matches!(final_, Rv::Missing);
        let num_in = args.len() + usize::from(has_final);
        let num_params = sig.fixed.len() + usize::from(sig.variadic.is_some());
        let num_fixed = if sig.variadic.is_some() {
            if num_in < sig.fixed.len() {
                return Err(self.errorf(format!(
                    "wrong number of args for {name}: want at least {} got {}",
                    sig.fixed.len(),
                    args.len()
                )));
            }
            sig.fixed.len()
        } else {
            if num_in != num_params {
                return Err(self.errorf(format!(
                    "wrong number of args for {name}: want {num_params} got {num_in}"
                )));
            }
            args.len()
        };
        // Builtin and/or short-circuit.
        if let Callee::Builtin(b @ ("and" | "or")) = callee {
            let want = *b == "or";
            let mut v = Rv::Invalid;
            for arg in args {
                v = self.eval_arg(dot, P::Reflect, arg)?.unwrap_iface();
                if v.value().is_some_and(Value::truth) == want {
                    return Ok(v);
                }
            }
            if has_final {
                v = final_.unwrap_iface();
            }
            return Ok(v);
        }
        let mut argv: Vec<Rv> = Vec::with_capacity(num_in);
        let mut i = 0;
        while i < num_fixed && i < args.len() {
            let p = sig.fixed.get(i).copied().unwrap_or(P::Reflect);
            if let Some(arg) = args.get(i) {
                argv.push(self.eval_arg(dot, p, arg)?);
            }
            i += 1;
        }
        if let Some(vp) = sig.variadic {
            while let Some(arg) = args.get(i) {
                argv.push(self.eval_arg(dot, vp, arg)?);
                i += 1;
            }
        }
        if has_final {
            let p = if sig.variadic.is_some() && num_in > num_fixed {
                sig.variadic.unwrap_or(P::Reflect)
            } else {
                sig.fixed.get(num_in - 1).copied().unwrap_or(P::Reflect)
            };
            argv.push(self.validate_type(final_, p)?);
        }
        let result = match callee {
            Callee::Builtin(b) => builtins::call(b, &argv).map_err(FuncError::new),
            Callee::Func(f) => {
                let values: Vec<Value> = argv.iter().map(Rv::to_value).collect();
                let mut ctx = CallContext {
                    scope: self.scope,
                    shared: &mut *self.shared,
                    name: &self.tree.name,
                };
                f.call(&mut ctx, &values).map(Rv::from_result)
            }
            Callee::Method(o, m) => {
                let values: Vec<Value> = argv.iter().map(Rv::to_value).collect();
                let mut ctx = CallContext {
                    scope: self.scope,
                    shared: &mut *self.shared,
                    name: &self.tree.name,
                };
                o.call_method(m, &mut ctx, &values).map(Rv::from_result)
            }
        };
        match result {
            Ok(v) => Ok(v),
            Err(cause) => {
                self.at = node;
                let mut error = self.error_at(format!("error calling {name}"));
                error.cause = Some(Box::new(cause));
                Err(Flow::Error(error))
            }
        }
    }

    fn eval_arg(&mut self, dot: &Rv, p: P, arg: &'t Arg) -> Res<Rv> {
        self.at = At::Arg(arg);
        match arg {
            Arg::Dot(_) => return self.validate_type(dot.clone(), p),
            Arg::Nil(_) => {
                return match p {
                    P::Reflect => Ok(Rv::Invalid),
                    P::Go(g) if g.can_be_nil() => Ok(Rv::Iface(Value::Nil)),
                    P::Go(g) => Err(self.errorf(format!("cannot assign nil to {}", g.go_name()))),
                };
            }
            Arg::Field { idents, .. } => {
                let v = self.eval_field_chain(
                    dot,
                    dot.clone(),
                    arg,
                    idents,
                    std::slice::from_ref(arg),
                    Rv::Missing,
                )?;
                return self.validate_type(v, p);
            }
            Arg::Variable { .. } => {
                let v = self.eval_variable(dot, arg, &[], Rv::Missing)?;
                return self.validate_type(v, p);
            }
            Arg::Pipe(pipe) => {
                let v = self.eval_pipeline(dot, pipe)?;
                return self.validate_type(v, p);
            }
            Arg::Identifier { name, .. } => {
                let v = self.eval_function(dot, name, At::Arg(arg), &[], Rv::Missing)?;
                return self.validate_type(v, p);
            }
            Arg::Chain { .. } => {
                let v = self.eval_chain(dot, arg, &[], Rv::Missing)?;
                return self.validate_type(v, p);
            }
            _ => {}
        }
        self.at = At::Arg(arg);
        let expected = |what: &str| format!("expected {what}; found {arg}");
        match p {
            P::Go(Param::Bool) => match arg {
                Arg::Bool(_, b) => Ok(Rv::Val(Value::Bool(*b))),
                _ => Err(self.errorf(expected("bool"))),
            },
            P::Go(Param::Float64) => match arg {
                Arg::Number(_, n) if n.is_float => Ok(Rv::Val(Value::Float(n.float))),
                _ => Err(self.errorf(expected("float"))),
            },
            P::Go(Param::Int | Param::Int64) => match arg {
                Arg::Number(_, n) if n.is_int => Ok(Rv::Val(if p == P::Go(Param::Int) {
                    Value::Int(n.int)
                } else {
                    Value::Int64(n.int)
                })),
                _ => Err(self.errorf(expected("integer"))),
            },
            P::Go(Param::String) => match arg {
                Arg::String { text, .. } => Ok(Rv::Val(Value::String(text.clone()))),
                _ => Err(self.errorf(expected("string"))),
            },
            P::Go(Param::Any) | P::Reflect => match arg {
                Arg::Bool(_, b) => Ok(Rv::Val(Value::Bool(*b))),
                Arg::Number(_, n) => self.ideal_constant(n),
                Arg::String { text, .. } => Ok(Rv::Val(Value::String(text.clone()))),
                _ => Err(self.errorf(format!("can't handle {arg} for arg of type {}", p.name()))),
            },
            P::Go(g) => Err(self.errorf(format!(
                "can't handle {arg} for arg of type {}",
                g.go_name()
            ))),
        }
    }

    fn validate_type(&mut self, v: Rv, p: P) -> Res<Rv> {
        let P::Go(g) = p else {
            return Ok(match v {
                Rv::Missing => Rv::Invalid,
                v => v,
            });
        };
        match &v {
            Rv::Missing | Rv::Invalid => {
                if g.can_be_nil() {
                    Ok(Rv::Iface(Value::Nil))
                } else {
                    Err(self.errorf(format!("invalid value; expected {}", g.go_name())))
                }
            }
            Rv::Iface(x) | Rv::Val(x) => {
                if g == Param::Any || g.accepts(x) {
                    return Ok(v);
                }
                let got = if x.is_nil() {
                    "interface {}".to_string()
                } else {
                    x.type_name()
                };
                Err(self.errorf(format!(
                    "wrong type for value; expected {}; got {got}",
                    g.go_name()
                )))
            }
        }
    }
}

impl Rv {
    /// What `and`/`or` return: the argument as a `reflect.Value`, one interface level removed.
    fn unwrap_iface(self) -> Rv {
        match self {
            Rv::Iface(Value::Nil) => Rv::Invalid,
            Rv::Iface(v) => Rv::Val(v),
            Rv::Missing => Rv::Invalid,
            v => v,
        }
    }
}
