//! Helm's `toToml`, `fromToml` and `toYamlPretty` (pkg/engine/funcs.go in Helm v4), with
//! the behaviour of the Go libraries Helm calls, recorded against `helm template` v4.1.4:
//!
//! - `toToml`: github.com/BurntSushi/toml v1.6's encoder ([`encode`]). Its error, when it has
//!   one, is the function's result (`toml: cannot encode array with nil element`); a nil
//!   argument panics in Go, which Helm reports as the function's error.
//! - `fromToml`: the same library's decoder into `map[string]interface{}` ([`decode`]),
//!   TOML 1.1 with its quirks and error texts; a failure is the map `{"Error": MESSAGE}`.
//! - `toYamlPretty`: gopkg.in/yaml.v3's encoder with two-space indentation
//!   ([`yaml_pretty`]), without the final newline.
//!
//! Known differences from Helm: structs other than `time.Time` (`.Chart`, `.Capabilities`,
//! semver and certificate objects) are written through their JSON data (JSON field names,
//! empty fields left out) where Go writes their Go field names (TOML) or lower-cased field
//! names (yaml.v3); a map that contains itself, or nesting beyond
//! [`crate::value::MAX_DEPTH`] levels, fails the call (Go overflows its stack and the
//! process dies); `fromToml` refuses nesting beyond [`decode::MAX_DEPTH`] levels (Go has no
//! bound); map keys that differ only in non-ASCII letters or digits sort by an approximation
//! of Go's Unicode classes in `toYamlPretty`.

mod decode;
mod encode;
mod lex;
mod yaml_pretty;

use super::{Registry, arg, str_arg};
use crate::template::{FuncError, Param};
use crate::value::Value;

use Param::{Any, String as Str};

pub(super) fn register(m: &mut Registry) {
    m.fixed("toToml", &[Any], |a| {
        encode::to_toml(arg(a, 0))
            .map(Value::from)
            .map_err(FuncError::new)
    });
    m.fixed("fromToml", &[Str], |a| {
        decode::from_toml(str_arg(a, 0)).map_err(FuncError::new)
    });
    m.fixed("toYamlPretty", &[Any], |a| {
        let text = yaml_pretty::to_yaml_pretty(arg(a, 0)).map_err(FuncError::new)?;
        Ok(text.strip_suffix('\n').unwrap_or(&text).into())
    });
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::{encode, yaml_pretty};
    use crate::value::{MAX_DEPTH, Value};

    /// Lists and maps nested `n` deep, alternating.
    fn nested(n: usize) -> Value {
        let mut v = Value::Int(1);
        for i in 0..n {
            v = if i % 2 == 0 {
                Value::list(vec![v])
            } else {
                Value::map(BTreeMap::from([("k".to_string(), v)]))
            };
        }
        Value::map(BTreeMap::from([("a".to_string(), v)]))
    }

    /// The encoders walk values as deep as [`MAX_DEPTH`] on a 2 MiB stack (a debug build's
    /// frames are the largest).
    #[test]
    fn deep_values_fit_a_small_stack() {
        let ok = std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(|| {
                let v = nested(MAX_DEPTH - 2);
                encode::to_toml(&v).is_ok() && yaml_pretty::to_yaml_pretty(&v).is_ok()
            })
            .map(|h| h.join());
        assert!(matches!(ok, Ok(Ok(true))));
    }
}
