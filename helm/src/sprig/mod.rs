//! The Sprig v3 function library as Helm registers it, plus Helm's own functions that need
//! no template (`toJson`, `fromJson`, `fromJsonArray`, `required`, ...).
//!
//! [`functions`] builds the table the template engine takes. Each function has the Go
//! signature Sprig declares (so argument checking and its errors are the executor's, as in
//! Go) and Sprig's semantics: Go's integer arithmetic, `spf13/cast` conversions of
//! `interface{}` arguments ([`convert`]), Sprig's emptiness rule, Go's string functions.
//! A Go panic inside a Sprig function surfaces in Helm as `error calling NAME: MESSAGE`; here
//! it is the same error, never a Rust panic.
//!
//! Sizes are bounded where an argument could ask for unbounded work: string repetition,
//! sequences, random strings and key sizes fail with a message naming the limit.
//!
//! Known differences from Helm: `fromYaml` error texts are the YAML reader's, not
//! yaml.v2's; a map that contains itself (`set $d "self" $d`), on which Go recurses until its
//! stack overflows, prints `...` where it would repeat and makes `deepCopy` fail (see
//! [`crate::value`]); `b64dec`/`b32dec` of bytes that are not UTF-8 give a `[]uint8` (right
//! `len`, but refused by `b64enc` and printed as a byte list), since a string here is UTF-8.
//!
//! - [`semver`]: versions and constraints (also used by the chart loader).
//! - [`text`]: the Go string helpers (title, case conversions, wrapping, abbreviation).
//! - [`convert`]: argument conversions, emptiness, `%q`, `encoding/json`.

pub mod convert;
mod crypto;
mod dates;
mod lists;
mod misc;
pub mod semver;
mod strings;
pub mod text;
mod toml;

use crate::template::{Func, FuncError, FuncMap, Param};
use crate::value::Value;

/// The largest string a function builds (`repeat`, `indent`, random strings): 64 MiB.
pub const MAX_STRING: usize = 64 << 20;
/// The most items a function builds into a list (`until`, `seq`, `untilStep`).
pub const MAX_ITEMS: usize = 1_000_000;

type Result<T = Value> = std::result::Result<T, FuncError>;

/// Every Sprig function Helm registers (Helm removes `env` and `expandenv`), with
/// `getHostByName` answering as under `helm template` (an empty string) and Helm's own
/// JSON functions in place of Sprig's.
pub fn functions() -> FuncMap {
    let mut m = Registry(FuncMap::new());
    strings::register(&mut m);
    lists::register(&mut m);
    misc::register(&mut m);
    crypto::register(&mut m);
    dates::register(&mut m);
    toml::register(&mut m);
    m.0
}

/// The table being built, with shorthands for the two kinds of signature.
struct Registry(FuncMap);

impl Registry {
    /// A function with fixed parameters.
    fn fixed<F>(&mut self, name: &str, params: &[Param], f: F)
    where
        F: Fn(&[Value]) -> Result + Send + Sync + 'static,
    {
        self.0.insert(
            name.to_string(),
            Func::new(params, move |_ctx, args| f(args)),
        );
    }

    /// A function whose last parameter is `...rest`.
    fn variadic<F>(&mut self, name: &str, params: &[Param], rest: Param, f: F)
    where
        F: Fn(&[Value]) -> Result + Send + Sync + 'static,
    {
        self.0.insert(
            name.to_string(),
            Func::variadic(params, rest, move |_ctx, args| f(args)),
        );
    }

    /// Registers `f` under each name.
    fn alias(&mut self, names: &[&str], params: &[Param], f: fn(&[Value]) -> Result) {
        for name in names {
            self.fixed(name, params, f);
        }
    }
}

static NIL: Value = Value::Nil;

/// Argument `i` (nil when absent).
fn arg(args: &[Value], i: usize) -> &Value {
    args.get(i).unwrap_or(&NIL)
}

/// A `string` argument.
fn str_arg(args: &[Value], i: usize) -> &str {
    arg(args, i).as_str().unwrap_or("")
}

/// An `int` or `int64` argument.
fn int_arg(args: &[Value], i: usize) -> i64 {
    match arg(args, i) {
        Value::Int(n) | Value::Int64(n) => *n,
        _ => 0,
    }
}

/// A `bool` argument.
fn bool_arg(args: &[Value], i: usize) -> bool {
    matches!(arg(args, i), Value::Bool(true))
}

/// An error as Go's `errors.New`.
fn err<T>(message: impl Into<String>) -> Result<T> {
    Err(FuncError::new(message))
}

/// Fails when a string of `len` bytes would exceed [`MAX_STRING`].
fn check_len(name: &str, len: usize) -> Result<()> {
    if len > MAX_STRING {
        return err(format!(
            "{name}: result of {len} bytes exceeds the limit of {MAX_STRING} bytes"
        ));
    }
    Ok(())
}
