//! Go's builtin template functions: `and`, `or`, `not`, `len`, `index`, `slice`, `print`,
//! `printf`, `println`, `html`, `js`, `urlquery`, `call`, `eq`, `ne`, `lt`, `le`, `gt`, `ge`.

use super::exec::{P, Rv, Sig};
use super::func::Param;
use super::{escape, fmt};
use crate::value::{Elem, Value};

const NAMES: &[&str] = &[
    "and", "call", "html", "index", "slice", "js", "len", "not", "or", "print", "printf",
    "println", "urlquery", "eq", "ge", "gt", "le", "lt", "ne",
];

pub(crate) fn is_builtin(name: &str) -> bool {
    NAMES.contains(&name)
}

pub(crate) fn signature(name: &str) -> Option<(&'static str, Sig)> {
    let n = *NAMES.iter().find(|n| **n == name)?;
    let r = P::Reflect;
    let any = P::Go(Param::Any);
    let sig = match n {
        "and" | "or" | "call" | "index" | "slice" | "eq" => Sig {
            fixed: vec![r],
            variadic: Some(r),
        },
        "not" | "len" => Sig {
            fixed: vec![r],
            variadic: None,
        },
        "ne" | "lt" | "le" | "gt" | "ge" => Sig {
            fixed: vec![r, r],
            variadic: None,
        },
        "printf" => Sig {
            fixed: vec![P::Go(Param::String)],
            variadic: Some(any),
        },
        _ => Sig {
            fixed: vec![],
            variadic: Some(any),
        },
    };
    Some((n, sig))
}

fn values(args: &[Rv]) -> Vec<Value> {
    args.iter().map(Rv::to_value).collect()
}

/// Calls builtin `name` with checked arguments; errors are Go's messages.
pub(crate) fn call(name: &str, args: &[Rv]) -> Result<Rv, String> {
    let first = args.first().cloned().unwrap_or(Rv::Invalid);
    let s = |x: String| Ok(Rv::Val(Value::from(x)));
    match name {
        "not" => Ok(Rv::Val(Value::Bool(!truth(&first)))),
        "len" => length(&first).map(|n| Rv::Val(Value::Int(n))),
        "index" => index(first, args.get(1..).unwrap_or(&[])),
        "slice" => slice(first, args.get(1..).unwrap_or(&[])),
        "print" => s(fmt::sprint(&values(args))),
        "println" => s(fmt::sprintln(&values(args))),
        "printf" => {
            let v = values(args);
            let format = v.first().and_then(Value::as_str).unwrap_or("").to_string();
            s(fmt::sprintf(&format, v.get(1..).unwrap_or(&[])))
        }
        "html" => s(escape::html_escape(&eval_args(args))),
        "js" => s(escape::js_escape(&eval_args(args))),
        "urlquery" => s(escape::urlquery_escape(&eval_args(args))),
        "call" => match first.unwrap() {
            Rv::Invalid | Rv::Missing => Err("call of nil".into()),
            v => Err(format!(
                "non-function of type {}",
                v.value().map(Value::type_name).unwrap_or_default()
            )),
        },
        "eq" => eq(&first, args.get(1..).unwrap_or(&[])).map(|b| Rv::Val(Value::Bool(b))),
        "ne" => {
            let b = eq(&first, args.get(1..2).unwrap_or(&[]))?;
            Ok(Rv::Val(Value::Bool(!b)))
        }
        "lt" | "le" | "gt" | "ge" => {
            let second = args.get(1).cloned().unwrap_or(Rv::Invalid);
            let lt_v = lt(&first, &second)?;
            let b = match name {
                "lt" => lt_v,
                "le" => lt_v || eq(&first, std::slice::from_ref(&second))?,
                "gt" => !(lt_v || eq(&first, std::slice::from_ref(&second))?),
                _ => !lt_v,
            };
            Ok(Rv::Val(Value::Bool(b)))
        }
        _ => Err(format!("unknown builtin {name}")),
    }
}

fn truth(v: &Rv) -> bool {
    v.value().is_some_and(Value::truth)
}

/// Go's `evalArgs` for `html`, `js`, `urlquery`.
fn eval_args(args: &[Rv]) -> String {
    if let [one] = args
        && let Some(Value::String(s)) = one.value()
    {
        return s.to_string();
    }
    let printable: Vec<Value> = args
        .iter()
        .map(|a| match a.value() {
            None | Some(Value::Nil) => Value::from("<no value>"),
            Some(v) => v.clone(),
        })
        .collect();
    fmt::sprint(&printable)
}

fn length(item: &Rv) -> Result<i64, String> {
    let n = match item {
        Rv::Invalid | Rv::Missing => {
            return Err("reflect: call of reflect.Value.Type on zero Value".into());
        }
        Rv::Iface(Value::Nil) | Rv::Val(Value::Nil) => return Err("len of nil pointer".into()),
        Rv::Iface(v) | Rv::Val(v) => match v {
            Value::String(s) => s.len(),
            Value::Bytes(b) => b.len(),
            Value::List(l) => l.items.len(),
            Value::Map(m) => m.len(),
            v => match v.as_map() {
                Some(m) => m.len(),
                None => return Err(format!("len of type {}", v.type_name())),
            },
        },
    };
    Ok(i64::try_from(n).unwrap_or(i64::MAX))
}

fn index_arg(index: &Rv, cap: usize) -> Result<usize, String> {
    let x: i64 = match index.value() {
        None | Some(Value::Nil) => {
            return Err("cannot index slice/array with nil".into());
        }
        Some(Value::Int(i) | Value::Int64(i)) => *i,
        Some(Value::Uint64(u)) => i64::try_from(*u).unwrap_or(-1),
        Some(v) => {
            return Err(format!(
                "cannot index slice/array with type {}",
                v.type_name()
            ));
        }
    };
    match usize::try_from(x) {
        Ok(i) if i <= cap => Ok(i),
        _ => Err(format!("index out of range: {x}")),
    }
}

fn index(item: Rv, indexes: &[Rv]) -> Result<Rv, String> {
    let mut item = item.unwrap();
    if matches!(item, Rv::Invalid | Rv::Missing) {
        return Err("index of untyped nil".into());
    }
    for index in indexes {
        let cur = match &item {
            Rv::Iface(Value::Nil) | Rv::Val(Value::Nil) | Rv::Invalid | Rv::Missing => {
                return Err("index of nil pointer".into());
            }
            Rv::Iface(v) | Rv::Val(v) => v.clone(),
        };
        item = match &cur {
            Value::List(l) => {
                let x = index_arg(index, l.items.len())?;
                match l.items.get(x) {
                    Some(v) => {
                        if l.elem == Elem::Interface {
                            Rv::Iface(v.clone())
                        } else {
                            Rv::Val(v.clone())
                        }
                    }
                    None => return Err("reflect: slice index out of range".into()),
                }
            }
            Value::String(s) => {
                let x = index_arg(index, s.len())?;
                match s.as_bytes().get(x) {
                    Some(b) => Rv::Val(Value::Int(i64::from(*b))),
                    None => return Err("reflect: string index out of range".into()),
                }
            }
            Value::Bytes(b) => {
                let x = index_arg(index, b.len())?;
                match b.get(x) {
                    Some(b) => Rv::Val(Value::Int(i64::from(*b))),
                    None => return Err("reflect: slice index out of range".into()),
                }
            }
            v => match v.as_map() {
                Some(m) => {
                    let key = match index.value() {
                        Some(Value::String(k)) => k.clone(),
                        None | Some(Value::Nil) => {
                            return Err("value is nil; should be of type string".into());
                        }
                        Some(k) => {
                            return Err(format!(
                                "value has type {}; should be string",
                                k.type_name()
                            ));
                        }
                    };
                    let x = m.get(key.as_ref()).unwrap_or_else(|| m.elem.zero());
                    if m.elem == Elem::Interface {
                        Rv::Iface(x)
                    } else {
                        Rv::Val(x)
                    }
                }
                None => return Err(format!("can't index item of type {}", v.type_name())),
            },
        };
    }
    Ok(item)
}

fn slice(item: Rv, indexes: &[Rv]) -> Result<Rv, String> {
    let item = item.unwrap();
    let Some(v) = item.value() else {
        return Err("slice of untyped nil".into());
    };
    if indexes.len() > 3 {
        return Err(format!("too many slice indexes: {}", indexes.len()));
    }
    let len = match v {
        Value::String(s) => {
            if indexes.len() == 3 {
                return Err("cannot 3-index slice a string".into());
            }
            s.len()
        }
        Value::List(l) => l.items.len(),
        Value::Bytes(b) => b.len(),
        v => return Err(format!("can't slice item of type {}", v.type_name())),
    };
    let mut idx = [0, len, len];
    for (i, index) in indexes.iter().enumerate() {
        let x = index_arg(index, len)?;
        if let Some(slot) = idx.get_mut(i) {
            *slot = x;
        }
    }
    if idx[0] > idx[1] {
        return Err(format!("invalid slice index: {} > {}", idx[0], idx[1]));
    }
    if indexes.len() == 3 && idx[1] > idx[2] {
        return Err(format!("invalid slice index: {} > {}", idx[1], idx[2]));
    }
    let (a, b) = (idx[0], idx[1]);
    Ok(Rv::Val(match v {
        Value::String(s) => match s.get(a..b) {
            Some(sub) => Value::from(sub),
            None => Value::from(
                String::from_utf8_lossy(s.as_bytes().get(a..b).unwrap_or(&[])).into_owned(),
            ),
        },
        Value::List(l) => Value::typed_list(l.elem, l.items.get(a..b).unwrap_or(&[]).to_vec()),
        Value::Bytes(bytes) => Value::bytes(bytes.get(a..b).unwrap_or(&[]).to_vec()),
        _ => Value::Nil,
    }))
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum BasicKind {
    Invalid,
    Bool,
    Int,
    Uint,
    Float,
    String,
}

fn basic_kind(v: Option<&Value>) -> BasicKind {
    match v {
        Some(Value::Bool(_)) => BasicKind::Bool,
        Some(Value::Int(_) | Value::Int64(_)) => BasicKind::Int,
        Some(Value::Uint64(_)) => BasicKind::Uint,
        Some(Value::Float(_)) => BasicKind::Float,
        Some(Value::String(_)) => BasicKind::String,
        _ => BasicKind::Invalid,
    }
}

fn as_int(v: Option<&Value>) -> i64 {
    match v {
        Some(Value::Int(i) | Value::Int64(i)) => *i,
        _ => 0,
    }
}

fn as_uint(v: Option<&Value>) -> u64 {
    match v {
        Some(Value::Uint64(u)) => *u,
        _ => 0,
    }
}

fn as_float(v: Option<&Value>) -> f64 {
    match v {
        Some(Value::Float(f)) => *f,
        _ => 0.0,
    }
}

fn as_str(v: Option<&Value>) -> &str {
    v.and_then(Value::as_str).unwrap_or("")
}

const ERR_BAD_COMPARISON: &str = "incompatible types for comparison";
const ERR_BAD_COMPARISON_TYPE: &str = "invalid type for comparison";
const ERR_NO_COMPARISON: &str = "missing argument for comparison";

/// A value after Go's `indirectInterface`: `None` is invalid (no value or nil interface).
fn concrete(v: &Rv) -> Option<&Value> {
    match v.value() {
        Some(Value::Nil) | None => None,
        Some(v) => Some(v),
    }
}

/// Go 1.25's message (helm v4 is built with it): the two types named.
fn bad_comparison(a: &Value, b: &Value) -> String {
    format!(
        "{ERR_BAD_COMPARISON}: {} and {}",
        a.type_name(),
        b.type_name()
    )
}

fn bad_comparison_of(a: Option<&Value>, b: Option<&Value>) -> String {
    match (a, b) {
        (Some(a), Some(b)) => bad_comparison(a, b),
        _ => ERR_BAD_COMPARISON.into(),
    }
}

fn is_nil_like(v: Option<&Value>) -> bool {
    v.is_none()
}

fn eq(arg1: &Rv, rest: &[Rv]) -> Result<bool, String> {
    let a = concrete(arg1);
    if rest.is_empty() {
        return Err(ERR_NO_COMPARISON.into());
    }
    let k1 = basic_kind(a);
    for arg in rest {
        let b = concrete(arg);
        let k2 = basic_kind(b);
        let truth = if k1 != k2 {
            match (k1, k2) {
                (BasicKind::Int, BasicKind::Uint) => {
                    as_int(a) >= 0 && as_int(a).unsigned_abs() == as_uint(b)
                }
                (BasicKind::Uint, BasicKind::Int) => {
                    as_int(b) >= 0 && as_uint(a) == as_int(b).unsigned_abs()
                }
                _ => {
                    if let (Some(a), Some(b)) = (a, b) {
                        return Err(bad_comparison(a, b));
                    }
                    false
                }
            }
        } else {
            match k1 {
                BasicKind::Bool => {
                    matches!((a, b), (Some(Value::Bool(x)), Some(Value::Bool(y))) if x == y)
                }
                #[allow(clippy::float_cmp)]
                BasicKind::Float => as_float(a) == as_float(b),
                BasicKind::Int => as_int(a) == as_int(b),
                BasicKind::Uint => as_uint(a) == as_uint(b),
                BasicKind::String => as_str(a) == as_str(b),
                BasicKind::Invalid => {
                    if is_nil_like(a) || is_nil_like(b) {
                        is_nil_like(a) == is_nil_like(b)
                    } else {
                        let (Some(x), Some(y)) = (a, b) else {
                            return Ok(false);
                        };
                        if x.type_name() != y.type_name() {
                            return Err(fmt::sprintf(
                                "non-comparable types %s: %v, %s: %v",
                                &[
                                    x.clone(),
                                    x.type_name().into(),
                                    y.type_name().into(),
                                    y.clone(),
                                ],
                            ));
                        }
                        return Err(fmt::sprintf(
                            "non-comparable type %s: %v",
                            &[y.clone(), y.type_name().into()],
                        ));
                    }
                }
            }
        };
        if truth {
            return Ok(true);
        }
    }
    Ok(false)
}

fn lt(arg1: &Rv, arg2: &Rv) -> Result<bool, String> {
    let a = concrete(arg1);
    let k1 = basic_kind(a);
    if k1 == BasicKind::Invalid {
        return Err(ERR_BAD_COMPARISON_TYPE.into());
    }
    let b = concrete(arg2);
    let k2 = basic_kind(b);
    if k2 == BasicKind::Invalid {
        return Err(ERR_BAD_COMPARISON_TYPE.into());
    }
    if k1 != k2 {
        return match (k1, k2) {
            (BasicKind::Int, BasicKind::Uint) => {
                Ok(as_int(a) < 0 || as_int(a).unsigned_abs() < as_uint(b))
            }
            (BasicKind::Uint, BasicKind::Int) => {
                Ok(as_int(b) >= 0 && as_uint(a) < as_int(b).unsigned_abs())
            }
            _ => Err(bad_comparison_of(a, b)),
        };
    }
    Ok(match k1 {
        BasicKind::Bool | BasicKind::Invalid => return Err(ERR_BAD_COMPARISON_TYPE.into()),
        BasicKind::Float => as_float(a) < as_float(b),
        BasicKind::Int => as_int(a) < as_int(b),
        BasicKind::Uint => as_uint(a) < as_uint(b),
        BasicKind::String => as_str(a) < as_str(b),
    })
}
