//! Sprig's math, defaults, JSON, reflection, path, encoding, hash, semver, URL, UUID and
//! flow functions, and Helm's pure engine functions (`required`, `fromJson`, `lookup` and
//! `getHostByName` as under `helm template`).

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::sync::Arc;

use base64::Engine as _;
use rand::Rng as _;
use sha2::Digest as _;

use super::convert::{
    JsonStyle, go_json, is_empty, json_kind, parse_json, strval, to_float64, to_int64,
};
use super::semver::{Constraints, Version};
use super::{Registry, Result, arg, bool_arg, err, int_arg, str_arg};
use crate::template::{CallContext, FuncError, Param, Signature};
use crate::value::{Object, Value};

use Param::{Any, Bool, Int, Map as MapP, String as Str};

pub(super) fn register(m: &mut Registry) {
    register_math(m);
    register_defaults(m);
    register_reflection(m);
    register_paths(m);
    register_encoding(m);
    register_semver(m);
    register_urls(m);
    m.fixed("fail", &[Str], |a| err(str_arg(a, 0)));
    m.fixed("hello", &[], |_| Ok("Hello!".into()));
    // toDecimal: the value's text read as an octal number (0 when it is not one).
    m.fixed("toDecimal", &[Any], |a| {
        let text = arg(a, 0).to_string();
        let digits = text.strip_prefix(['+', '-']).unwrap_or(&text);
        let value = if digits.is_empty() || !digits.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
            0
        } else {
            i64::from_str_radix(&text, 8).unwrap_or(0)
        };
        Ok(Value::Int64(value))
    });
    m.fixed("required", &[Str, Any], |a| match arg(a, 1) {
        Value::Nil => err(str_arg(a, 0)),
        Value::String(s) if s.is_empty() => err(str_arg(a, 0)),
        v => Ok(v.clone()),
    });
    // `helm template` has no cluster: `lookup` finds nothing and `getHostByName` resolves
    // nothing.
    m.fixed("lookup", &[Str, Str, Str, Str], |_| {
        Ok(Value::map(BTreeMap::new()))
    });
    m.fixed("getHostByName", &[Str], |_| Ok("".into()));
    m.fixed("uuidv4", &[], |_| {
        let mut b: [u8; 16] = rand::rng().random();
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        let h = hex(&b);
        Ok(format!(
            "{}-{}-{}-{}-{}",
            &h[0..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..32]
        )
        .into())
    });
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn register_math(m: &mut Registry) {
    m.fixed("add1", &[Any], |a| {
        Ok(Value::Int64(to_int64(arg(a, 0)).wrapping_add(1)))
    });
    m.variadic("add", &[], Any, |a| {
        Ok(Value::Int64(
            a.iter().fold(0i64, |acc, v| acc.wrapping_add(to_int64(v))),
        ))
    });
    m.fixed("sub", &[Any, Any], |a| {
        Ok(Value::Int64(
            to_int64(arg(a, 0)).wrapping_sub(to_int64(arg(a, 1))),
        ))
    });
    m.fixed("div", &[Any, Any], |a| {
        let d = to_int64(arg(a, 1));
        if d == 0 {
            return err("runtime error: integer divide by zero");
        }
        Ok(Value::Int64(to_int64(arg(a, 0)).wrapping_div(d)))
    });
    m.fixed("mod", &[Any, Any], |a| {
        let d = to_int64(arg(a, 1));
        if d == 0 {
            return err("runtime error: integer divide by zero");
        }
        Ok(Value::Int64(to_int64(arg(a, 0)).wrapping_rem(d)))
    });
    m.variadic("mul", &[Any], Any, |a| {
        Ok(Value::Int64(
            a.iter()
                .skip(1)
                .fold(to_int64(arg(a, 0)), |acc, v| acc.wrapping_mul(to_int64(v))),
        ))
    });
    m.fixed("randInt", &[Int, Int], |a| {
        let (min, max) = (int_arg(a, 0), int_arg(a, 1));
        let Some(span) = max.checked_sub(min).filter(|s| *s > 0) else {
            return err("invalid argument to Intn");
        };
        Ok(Value::Int(min + rand::rng().random_range(0..span)))
    });
    for name in ["max", "biggest"] {
        m.variadic(name, &[Any], Any, |a| {
            Ok(Value::Int64(
                a.iter().map(to_int64).max().unwrap_or_default(),
            ))
        });
    }
    m.variadic("min", &[Any], Any, |a| {
        Ok(Value::Int64(
            a.iter().map(to_int64).min().unwrap_or_default(),
        ))
    });
    m.variadic("maxf", &[Any], Any, |a| {
        Ok(Value::Float(
            a.iter().map(to_float64).fold(f64::NEG_INFINITY, go_max),
        ))
    });
    m.variadic("minf", &[Any], Any, |a| {
        Ok(Value::Float(
            a.iter().map(to_float64).fold(f64::INFINITY, go_min),
        ))
    });
    m.fixed("floor", &[Any], |a| {
        Ok(Value::Float(to_float64(arg(a, 0)).floor()))
    });
    m.fixed("ceil", &[Any], |a| {
        Ok(Value::Float(to_float64(arg(a, 0)).ceil()))
    });
    m.variadic("round", &[Any, Int], Param::Float64, |a| {
        let round_on = match a.get(2) {
            Some(Value::Float(f)) => *f,
            _ => 0.5,
        };
        #[allow(clippy::cast_precision_loss)]
        let pow = 10f64.powf(int_arg(a, 1) as f64);
        let digit = pow * to_float64(arg(a, 0));
        let frac = digit.fract();
        let rounded = if frac >= round_on {
            digit.ceil()
        } else {
            digit.floor()
        };
        Ok(Value::Float(rounded / pow))
    });
    m.fixed("add1f", &[Any], |a| {
        decimal_op(arg(a, 0), &[Value::Int(1)], Dec::add)
    });
    m.variadic("addf", &[], Any, |a| {
        decimal_op(&Value::Float(0.0), a, Dec::add)
    });
    m.variadic("subf", &[Any], Any, |a| {
        decimal_op(arg(a, 0), tail(a), Dec::sub)
    });
    m.variadic("mulf", &[Any], Any, |a| {
        decimal_op(arg(a, 0), tail(a), Dec::mul)
    });
    m.variadic("divf", &[Any], Any, |a| {
        decimal_op(arg(a, 0), tail(a), Dec::div)
    });
}

fn tail(a: &[Value]) -> &[Value] {
    a.get(1..).unwrap_or(&[])
}

/// Go's `math.Max` (NaN wins).
fn go_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.max(b)
    }
}

/// Go's `math.Min` (NaN wins).
fn go_min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.min(b)
    }
}

/// A decimal `m × 10^e`, as `shopspring/decimal` computes Sprig's float functions: the
/// operands are the shortest decimal texts of the floats, sums and products are exact,
/// quotients are rounded to 16 decimal places.
#[derive(Clone, Copy, Debug)]
struct Dec {
    m: i128,
    e: i32,
}

impl Dec {
    fn from_f64(f: f64) -> Result<Dec> {
        if !f.is_finite() {
            return err(format!(
                "Cannot create a Decimal from {}",
                crate::value::format_float(f, 'g', None)
            ));
        }
        let text = format!("{f:e}");
        let (mant, exp) = text.split_once('e').unwrap_or((text.as_str(), "0"));
        let exp: i32 = exp.parse().unwrap_or(0);
        let (int, frac) = mant.split_once('.').unwrap_or((mant, ""));
        let digits = format!("{int}{frac}");
        let m: i128 = digits.parse().unwrap_or(0);
        let e = exp - i32::try_from(frac.len()).unwrap_or(0);
        Ok(Dec { m, e })
    }

    fn to_f64(self) -> f64 {
        format!("{}e{}", self.m, self.e).parse().unwrap_or(0.0)
    }

    fn pow10(n: i32) -> Option<i128> {
        10i128.checked_pow(u32::try_from(n).ok()?)
    }

    fn align(a: Dec, b: Dec) -> Option<(i128, i128, i32)> {
        let e = a.e.min(b.e);
        let am = a.m.checked_mul(Dec::pow10(a.e - e)?)?;
        let bm = b.m.checked_mul(Dec::pow10(b.e - e)?)?;
        Some((am, bm, e))
    }

    fn add(a: Dec, b: Dec) -> Result<Dec> {
        match Dec::align(a, b).and_then(|(x, y, e)| {
            Some(Dec {
                m: x.checked_add(y)?,
                e,
            })
        }) {
            Some(d) => Ok(d),
            None => Dec::from_f64(a.to_f64() + b.to_f64()),
        }
    }

    fn sub(a: Dec, b: Dec) -> Result<Dec> {
        Dec::add(a, Dec { m: -b.m, e: b.e })
    }

    fn mul(a: Dec, b: Dec) -> Result<Dec> {
        match a.m.checked_mul(b.m) {
            Some(m) => Ok(Dec { m, e: a.e + b.e }),
            None => Dec::from_f64(a.to_f64() * b.to_f64()),
        }
    }

    fn div(a: Dec, b: Dec) -> Result<Dec> {
        if b.m == 0 {
            return err("decimal division by 0");
        }
        // a/b rounded to 16 places: round(a.m * 10^k / b.m) × 10^-16, k = a.e - b.e + 16.
        let k = a.e - b.e + 16;
        let (num, den) = if k >= 0 {
            (Dec::pow10(k).and_then(|p| a.m.checked_mul(p)), Some(b.m))
        } else {
            (Some(a.m), Dec::pow10(-k).and_then(|p| b.m.checked_mul(p)))
        };
        match (num, den) {
            (Some(num), Some(den)) => {
                let (q, r) = (num / den, num % den);
                let away = r.unsigned_abs() * 2 >= den.unsigned_abs();
                let q = if away {
                    if (num < 0) != (den < 0) { q - 1 } else { q + 1 }
                } else {
                    q
                };
                Ok(Dec { m: q, e: -16 })
            }
            _ => Dec::from_f64(a.to_f64() / b.to_f64()),
        }
    }
}

fn decimal_op(first: &Value, rest: &[Value], op: fn(Dec, Dec) -> Result<Dec>) -> Result {
    let mut acc = Dec::from_f64(to_float64(first))?;
    for v in rest {
        acc = op(acc, Dec::from_f64(to_float64(v))?)?;
    }
    Ok(Value::Float(acc.to_f64()))
}

fn register_defaults(m: &mut Registry) {
    m.variadic("default", &[Any], Any, |a| {
        let given = a.get(1);
        Ok(match given {
            Some(v) if !is_empty(v) => v.clone(),
            _ => arg(a, 0).clone(),
        })
    });
    m.fixed("empty", &[Any], |a| Ok(is_empty(arg(a, 0)).into()));
    m.variadic("coalesce", &[], Any, |a| {
        Ok(a.iter().find(|v| !is_empty(v)).cloned().unwrap_or_default())
    });
    m.variadic("all", &[], Any, |a| {
        Ok(a.iter().all(|v| !is_empty(v)).into())
    });
    m.variadic("any", &[], Any, |a| {
        Ok(a.iter().any(|v| !is_empty(v)).into())
    });
    m.fixed("ternary", &[Any, Any, Bool], |a| {
        Ok(if bool_arg(a, 2) {
            arg(a, 0).clone()
        } else {
            arg(a, 1).clone()
        })
    });
    let styles = [
        (
            "toJson",
            JsonStyle {
                escape_html: true,
                pretty: false,
            },
            false,
        ),
        (
            "mustToJson",
            JsonStyle {
                escape_html: true,
                pretty: false,
            },
            true,
        ),
        (
            "toPrettyJson",
            JsonStyle {
                escape_html: true,
                pretty: true,
            },
            false,
        ),
        (
            "mustToPrettyJson",
            JsonStyle {
                escape_html: true,
                pretty: true,
            },
            true,
        ),
        (
            "toRawJson",
            JsonStyle {
                escape_html: false,
                pretty: false,
            },
            false,
        ),
        (
            "mustToRawJson",
            JsonStyle {
                escape_html: false,
                pretty: false,
            },
            true,
        ),
    ];
    for (name, style, must) in styles {
        m.fixed(name, &[Any], move |a| match go_json(arg(a, 0), style) {
            Ok(text) => Ok(text.into()),
            Err(e) if must => err(e),
            Err(_) => Ok("".into()),
        });
    }
    // Helm's fromJson: a map, or a map holding the error under "Error".
    m.fixed("fromJson", &[Str], |a| {
        Ok(match parse_json(str_arg(a, 0)) {
            Ok(v @ Value::Map(_)) => v,
            Ok(Value::Nil) => Value::map(BTreeMap::new()),
            Ok(other) => error_map(&format!(
                "json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
                json_kind(&other)
            )),
            Err(e) => error_map(&e),
        })
    });
    m.fixed("fromJsonArray", &[Str], |a| {
        Ok(match parse_json(str_arg(a, 0)) {
            Ok(v @ Value::List(_)) => v,
            Ok(Value::Nil) => Value::list(Vec::new()),
            Ok(other) => Value::list(vec![Value::from(format!(
                "json: cannot unmarshal {} into Go value of type []interface {{}}",
                json_kind(&other)
            ))]),
            Err(e) => Value::list(vec![Value::from(e)]),
        })
    });
    register_yaml(m);
    m.fixed("mustFromJson", &[Str], |a| {
        parse_json(str_arg(a, 0)).map_err(FuncError::new)
    });
}

/// Helm's YAML functions: `toYaml` prints through sigs.k8s.io/yaml (JSON first, keys
/// sorted) without the final newline; `fromYaml` reads YAML 1.1 into JSON data (numbers are
/// `float64`), putting an error under "Error" as Helm does.
fn register_yaml(m: &mut Registry) {
    for (name, must) in [("toYaml", false), ("mustToYaml", true)] {
        m.fixed(name, &[Any], move |a| {
            let v = arg(a, 0);
            if let Err(e) = go_json(v, JsonStyle::default()) {
                return if must { err(e) } else { Ok("".into()) };
            }
            let text = weir_yaml::to_string_sorted(&v.to_json());
            Ok(text.strip_suffix('\n').unwrap_or(&text).into())
        });
    }
    m.fixed("fromYaml", &[Str], |a| {
        Ok(match helm_yaml(str_arg(a, 0)) {
            Ok(serde_json::Value::Object(map)) => Value::from_json(&serde_json::Value::Object(map)),
            Ok(serde_json::Value::Null) => Value::map(BTreeMap::new()),
            Ok(other) => error_map(&format!(
                "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
                json_kind(&Value::from_json(&other))
            )),
            Err(e) => error_map(&yaml_error(&e)),
        })
    });
    m.fixed("fromYamlArray", &[Str], |a| {
        Ok(match helm_yaml(str_arg(a, 0)) {
            Ok(v @ serde_json::Value::Array(_)) => Value::from_json(&v),
            Ok(serde_json::Value::Null) => Value::list(Vec::new()),
            Ok(other) => Value::list(vec![Value::from(format!(
                "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal {} into Go value of type []interface {{}}",
                json_kind(&Value::from_json(&other))
            ))]),
            Err(e) => Value::list(vec![Value::from(yaml_error(&e))]),
        })
    });
}

/// The first document as sigs.k8s.io/yaml reads it (YAML 1.1, a repeated key's later value
/// wins, null keys refused).
fn helm_yaml(text: &str) -> std::result::Result<serde_json::Value, weir_yaml::YamlError> {
    Ok(weir_yaml::from_str_helm_values(text)?
        .into_iter()
        .next()
        .unwrap_or(serde_json::Value::Null))
}

/// sigs.k8s.io/yaml's wording: `error converting YAML to JSON: yaml: line N: ...` (no line
/// for data JSON cannot hold).
fn yaml_error(e: &weir_yaml::YamlError) -> String {
    if e.conversion {
        format!("error converting YAML to JSON: {}", e.message)
    } else {
        format!(
            "error converting YAML to JSON: yaml: line {}: {}",
            e.line, e.message
        )
    }
}

fn error_map(message: &str) -> Value {
    let mut m = BTreeMap::new();
    m.insert("Error".to_string(), Value::from(message));
    Value::map(m)
}

fn register_reflection(m: &mut Registry) {
    m.fixed("typeOf", &[Any], |a| Ok(arg(a, 0).type_name().into()));
    m.fixed("kindOf", &[Any], |a| Ok(arg(a, 0).kind().into()));
    m.fixed("typeIs", &[Str, Any], |a| {
        Ok((arg(a, 1).type_name() == str_arg(a, 0)).into())
    });
    m.fixed("typeIsLike", &[Str, Any], |a| {
        let t = arg(a, 1).type_name();
        let target = str_arg(a, 0);
        // Sprig: `target == t || "*"+target == t`.
        Ok((t == target || t == format!("*{target}")).into())
    });
    m.fixed("kindIs", &[Str, Any], |a| {
        Ok((arg(a, 1).kind() == str_arg(a, 0)).into())
    });
    m.fixed("deepEqual", &[Any, Any], |a| {
        Ok(arg(a, 0).deep_equal(arg(a, 1)).into())
    });
}

/// Go's `path.Clean`.
pub(super) fn clean(p: &str) -> String {
    if p.is_empty() {
        return ".".into();
    }
    let rooted = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in p.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            other => parts.push(other),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

/// Go's `path.Base`.
fn base(p: &str) -> String {
    if p.is_empty() {
        return ".".into();
    }
    let trimmed = p.trim_end_matches('/');
    if trimmed.is_empty() {
        return "/".into();
    }
    trimmed.rsplit('/').next().unwrap_or(trimmed).to_string()
}

/// Go's `path.Dir`.
fn dir(p: &str) -> String {
    let cut = p.rfind('/').map_or(0, |i| i + 1);
    clean(&p[..cut])
}

/// Go's `path.Ext`.
fn ext(p: &str) -> String {
    for (i, c) in p.char_indices().rev() {
        if c == '/' {
            break;
        }
        if c == '.' {
            return p[i..].to_string();
        }
    }
    String::new()
}

fn register_paths(m: &mut Registry) {
    for (names, f) in [
        (["base", "osBase"], base as fn(&str) -> String),
        (["dir", "osDir"], dir),
        (["clean", "osClean"], clean),
        (["ext", "osExt"], ext),
    ] {
        for name in names {
            m.fixed(name, &[Str], move |a| Ok(f(str_arg(a, 0)).into()));
        }
    }
    for name in ["isAbs", "osIsAbs"] {
        m.fixed(name, &[Str], |a| Ok(str_arg(a, 0).starts_with('/').into()));
    }
}

/// What `b64dec` and `b32dec` return: Go's `string(bytes)`. Bytes that are not UTF-8 cannot
/// be a string here, so they stay bytes: `len` then counts them as Go does (`randBytes 24 |
/// b64dec | len` is 24), but the value is a `[]uint8` to `typeOf`, prints as a byte list and
/// is refused by `string` parameters (`b64enc`), where Go keeps the raw bytes.
fn decoded(bytes: Vec<u8>) -> Value {
    match String::from_utf8(bytes) {
        Ok(s) => s.into(),
        Err(e) => Value::bytes(e.into_bytes()),
    }
}

fn register_encoding(m: &mut Registry) {
    m.fixed("b64enc", &[Str], |a| {
        Ok(base64::engine::general_purpose::STANDARD
            .encode(str_arg(a, 0))
            .into())
    });
    m.fixed("b64dec", &[Str], |a| {
        // Go's decoder skips newlines.
        let text: String = str_arg(a, 0)
            .chars()
            .filter(|c| !matches!(c, '\r' | '\n'))
            .collect();
        Ok(
            match base64::engine::general_purpose::STANDARD.decode(&text) {
                Ok(bytes) => decoded(bytes),
                Err(e) => {
                    let at = match e {
                        base64::DecodeError::InvalidByte(i, _)
                        | base64::DecodeError::InvalidLastSymbol(i, _) => i,
                        _ => text.len() - text.len() % 4,
                    };
                    format!("illegal base64 data at input byte {at}").into()
                }
            },
        )
    });
    m.fixed("b32enc", &[Str], |a| {
        Ok(data_encoding::BASE32
            .encode(str_arg(a, 0).as_bytes())
            .into())
    });
    m.fixed("b32dec", &[Str], |a| {
        let text: String = str_arg(a, 0)
            .chars()
            .filter(|c| !matches!(c, '\r' | '\n'))
            .collect();
        Ok(match data_encoding::BASE32.decode(text.as_bytes()) {
            Ok(bytes) => decoded(bytes),
            Err(e) => format!("illegal base32 data at input byte {}", e.position).into(),
        })
    });
    m.fixed("sha1sum", &[Str], |a| {
        Ok(hex(&sha1::Sha1::digest(str_arg(a, 0).as_bytes())).into())
    });
    m.fixed("sha256sum", &[Str], |a| {
        Ok(hex(&sha2::Sha256::digest(str_arg(a, 0).as_bytes())).into())
    });
    m.fixed("sha512sum", &[Str], |a| {
        Ok(hex(&sha2::Sha512::digest(str_arg(a, 0).as_bytes())).into())
    });
    m.fixed("adler32sum", &[Str], |a| {
        Ok(adler32(str_arg(a, 0).as_bytes()).to_string().into())
    });
}

/// The Adler-32 checksum (`hash/adler32`).
pub(super) fn adler32(bytes: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for chunk in bytes.chunks(5552) {
        for byte in chunk {
            a += u32::from(*byte);
            b += a;
        }
        a %= 65521;
        b %= 65521;
    }
    (b << 16) | a
}

/// A `*semver.Version`: methods `Major`, `Minor`, `Patch`, `Prerelease`, `Metadata`,
/// `Original`, `String`, `Compare`, `LessThan`, `GreaterThan`, `Equal`.
#[derive(Debug)]
struct SemverObject(Version);

impl SemverObject {
    fn other(v: &Value) -> std::result::Result<Version, FuncError> {
        match v {
            Value::Object(o) if o.type_name() == "*semver.Version" => {
                Version::parse(&o.fmt_v(false)).map_err(|e| FuncError::new(e.to_string()))
            }
            other => Err(FuncError::new(format!(
                "wrong type for value; expected *semver.Version; got {}",
                other.type_name()
            ))),
        }
    }
}

impl Object for SemverObject {
    fn type_name(&self) -> String {
        "*semver.Version".into()
    }

    fn method(&self, name: &str) -> Option<Signature> {
        match name {
            "Major" | "Minor" | "Patch" | "Prerelease" | "Metadata" | "Original" | "String" => {
                Some(Signature::new(&[]))
            }
            "Compare" | "LessThan" | "GreaterThan" | "Equal" => Some(Signature::new(&[Any])),
            _ => None,
        }
    }

    fn call_method(
        &self,
        name: &str,
        _ctx: &mut CallContext<'_>,
        args: &[Value],
    ) -> std::result::Result<Value, FuncError> {
        let v = &self.0;
        Ok(match name {
            "Major" => Value::Uint64(v.major()),
            "Minor" => Value::Uint64(v.minor()),
            "Patch" => Value::Uint64(v.patch()),
            "Prerelease" => v.prerelease().into(),
            "Metadata" => v.metadata().into(),
            "Original" => v.original().into(),
            "String" => v.to_string().into(),
            _ => {
                let o = SemverObject::other(arg(args, 0))?;
                let order = v.compare(&o);
                match name {
                    "Compare" => Value::Int(match order {
                        Ordering::Less => -1,
                        Ordering::Equal => 0,
                        Ordering::Greater => 1,
                    }),
                    "LessThan" => (order == Ordering::Less).into(),
                    "GreaterThan" => (order == Ordering::Greater).into(),
                    _ => (order == Ordering::Equal).into(),
                }
            }
        })
    }

    fn to_data(&self) -> Value {
        self.0.to_string().into()
    }

    fn fmt_v(&self, _plus: bool) -> String {
        self.0.to_string()
    }
}

fn register_semver(m: &mut Registry) {
    m.fixed("semver", &[Str], |a| {
        let v = Version::parse(str_arg(a, 0)).map_err(|e| FuncError::new(e.to_string()))?;
        Ok(Value::Object(Arc::new(SemverObject(v))))
    });
    m.fixed("semverCompare", &[Str, Str], |a| {
        let c = Constraints::parse(str_arg(a, 0)).map_err(|e| FuncError::new(e.to_string()))?;
        let v = Version::parse(str_arg(a, 1)).map_err(|e| FuncError::new(e.to_string()))?;
        Ok(c.matches(&v).into())
    });
}

/// A URL split as Go's `net/url` does (the parts `urlParse` reports).
#[derive(Debug, Default)]
struct Url {
    scheme: String,
    opaque: String,
    userinfo: String,
    host: String,
    path: String,
    query: String,
    fragment: String,
}

fn percent_decode(s: &str) -> std::result::Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hexpart = s.get(i + 1..i + 3).unwrap_or("");
            let Ok(b) = u8::from_str_radix(hexpart, 16) else {
                return Err(format!(
                    "invalid URL escape \"{}\"",
                    s.get(i..(i + 3).min(s.len())).unwrap_or("%")
                ));
            };
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

fn parse_url(raw: &str) -> std::result::Result<Url, String> {
    let mut u = Url::default();
    let (rest, fragment) = raw.split_once('#').unwrap_or((raw, ""));
    u.fragment = percent_decode(fragment)?;
    let mut rest = rest;
    if let Some(colon) = rest.find(':') {
        let scheme = &rest[..colon];
        let valid = scheme
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
        if valid {
            u.scheme = scheme.to_ascii_lowercase();
            rest = &rest[colon + 1..];
        } else if colon == 0 {
            return Err("missing protocol scheme".into());
        }
    }
    let (rest, query) = match rest.split_once('?') {
        Some((r, q)) => (r, q.to_string()),
        None => (rest, String::new()),
    };
    u.query = query;
    if !u.scheme.is_empty() && !rest.starts_with('/') {
        u.opaque = rest.to_string();
        return Ok(u);
    }
    let mut path = rest;
    if let Some(after) = rest.strip_prefix("//") {
        let end = after.find('/').unwrap_or(after.len());
        let authority = &after[..end];
        path = &after[end..];
        let host = match authority.rsplit_once('@') {
            Some((user, host)) => {
                u.userinfo = user.to_string();
                host
            }
            None => authority,
        };
        u.host = percent_decode(host)?;
    }
    u.path = percent_decode(path)?;
    Ok(u)
}

/// Go's `url.PathEscape`-like escaping of a path for `URL.String()`.
fn escape_path(p: &str) -> String {
    let mut out = String::new();
    for b in p.bytes() {
        let c = char::from(b);
        if c.is_ascii_alphanumeric() || "-_.~/!$&'()*+,;=:@".contains(c) {
            out.push(c);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn url_string(u: &Url) -> String {
    let mut out = String::new();
    if !u.scheme.is_empty() {
        out.push_str(&u.scheme);
        out.push(':');
    }
    if !u.opaque.is_empty() {
        out.push_str(&u.opaque);
    } else {
        if !u.scheme.is_empty() || !u.host.is_empty() || !u.userinfo.is_empty() {
            if !u.host.is_empty() || !u.path.is_empty() || !u.userinfo.is_empty() {
                out.push_str("//");
            }
            if !u.userinfo.is_empty() {
                out.push_str(&u.userinfo);
                out.push('@');
            }
            out.push_str(&u.host);
        }
        let path = escape_path(&u.path);
        if !path.is_empty() && !path.starts_with('/') && !u.host.is_empty() {
            out.push('/');
        }
        out.push_str(&path);
    }
    if !u.query.is_empty() {
        out.push('?');
        out.push_str(&u.query);
    }
    if !u.fragment.is_empty() {
        out.push('#');
        out.push_str(&escape_path(&u.fragment));
    }
    out
}

fn register_urls(m: &mut Registry) {
    m.fixed("urlParse", &[Str], |a| {
        let raw = str_arg(a, 0);
        let u = parse_url(raw)
            .map_err(|e| FuncError::new(format!("unable to parse url: parse \"{raw}\": {e}")))?;
        let hostname = match u.host.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or("").to_string(),
            None => u
                .host
                .rsplit_once(':')
                .map_or(u.host.as_str(), |(h, _)| h)
                .to_string(),
        };
        let mut d = BTreeMap::new();
        d.insert("scheme".to_string(), Value::from(u.scheme.as_str()));
        d.insert("host".to_string(), Value::from(u.host.as_str()));
        d.insert("hostname".to_string(), Value::from(hostname));
        d.insert("path".to_string(), Value::from(u.path.as_str()));
        d.insert("query".to_string(), Value::from(u.query.as_str()));
        d.insert("opaque".to_string(), Value::from(u.opaque.as_str()));
        d.insert("fragment".to_string(), Value::from(u.fragment.as_str()));
        d.insert("userinfo".to_string(), Value::from(u.userinfo.as_str()));
        Ok(Value::map(d))
    });
    m.fixed("urlJoin", &[MapP], |a| {
        let get = |k: &str| {
            arg(a, 0)
                .as_map()
                .and_then(|m| m.get(k))
                .map(|v| strval(&v))
                .unwrap_or_default()
        };
        let u = Url {
            scheme: get("scheme"),
            opaque: get("opaque"),
            userinfo: get("userinfo"),
            host: get("host"),
            path: get("path"),
            query: get("query"),
            fragment: get("fragment"),
        };
        Ok(url_string(&u).into())
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(f: fn(Dec, Dec) -> Result<Dec>, a: f64, b: f64) -> f64 {
        let r = f(
            Dec::from_f64(a).expect("finite"),
            Dec::from_f64(b).expect("finite"),
        )
        .expect("op");
        r.to_f64()
    }

    #[test]
    fn float_functions_compute_in_decimal_like_sprig() {
        // {{ addf 1.1 2.2 }} 3.3, {{ mulf 1.1 3 }} 3.3, {{ divf 1 3 }} 0.3333333333333333
        assert_eq!(dec(Dec::add, 1.1, 2.2), 3.3);
        assert_eq!(dec(Dec::mul, 1.1, 3.0), 3.3);
        assert_eq!(dec(Dec::div, 1.0, 3.0), 0.333_333_333_333_333_3);
        assert_eq!(dec(Dec::sub, 9.9, 0.2), 9.7);
    }

    #[test]
    fn paths_are_go_path() {
        assert_eq!(clean("a//b/../c/."), "a/c");
        assert_eq!(clean("/../x"), "/x");
        assert_eq!(clean(""), ".");
        assert_eq!(base("/a/b/"), "b");
        assert_eq!(base("/"), "/");
        assert_eq!(dir("/a/b"), "/a");
        assert_eq!(dir("x"), ".");
        assert_eq!(ext("a/b.tar.gz"), ".gz");
        assert_eq!(ext("a.d/b"), "");
    }

    #[test]
    fn adler32_is_hash_adler32() {
        // {{ adler32sum "hello" }} → 103547413
        assert_eq!(adler32(b"hello"), 103_547_413);
    }
}
