//! Conversions Sprig applies to its `interface{}` arguments: `spf13/cast`'s `ToInt64`,
//! `ToInt` and `ToFloat64` (invalid input becomes 0), Sprig's `strval` and `strslice`, its
//! emptiness rule (`default`, `empty`, `coalesce`, `compact`), Go's `%q` quoting, and
//! `encoding/json` output (`toJson` and friends).

use super::dates::GoEnum;
use crate::value::{Cut, Elem, Path, Value, format_float};

/// `cast.ToInt64`: numbers truncate toward zero, strings parse as Go integer literals
/// (`0x1F`, `0o17`, `010` octal, `1_000`; a trailing `.0` is dropped), `true` is 1, and
/// `time.Month` and `time.Weekday` are their numbers, and anything else is 0.
pub fn to_int64(v: &Value) -> i64 {
    match v {
        Value::Int(i) | Value::Int64(i) => *i,
        #[allow(clippy::cast_possible_wrap)]
        Value::Uint64(u) => *u as i64,
        Value::Float(f) => float_to_int(*f),
        Value::Bool(b) => i64::from(*b),
        Value::String(s) => parse_go_int(trim_zero_decimal(s)).unwrap_or(0),
        other => GoEnum::number(other).unwrap_or(0),
    }
}

/// Go's `int64(f)` conversion: truncation; out-of-range values give Go's amd64 result.
pub fn float_to_int(f: f64) -> i64 {
    // 2^63, exactly representable.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    if f.is_nan() || !(-LIMIT..LIMIT).contains(&f) {
        return i64::MIN;
    }
    #[allow(clippy::cast_possible_truncation)]
    let i = f.trunc() as i64;
    i
}

/// `cast.ToFloat64`: strings parse as Go float literals, `true` is 1, anything else 0.
pub fn to_float64(v: &Value) -> f64 {
    match v {
        #[allow(clippy::cast_precision_loss)]
        Value::Int(i) | Value::Int64(i) => *i as f64,
        #[allow(clippy::cast_precision_loss)]
        Value::Uint64(u) => *u as f64,
        Value::Float(f) => *f,
        Value::Bool(b) => f64::from(u8::from(*b)),
        Value::String(s) => parse_go_float(s).unwrap_or(0.0),
        #[allow(clippy::cast_precision_loss)]
        other => GoEnum::number(other).map_or(0.0, |n| n as f64),
    }
}

fn trim_zero_decimal(s: &str) -> &str {
    // cast drops a fractional part made only of zeros ("1.00" reads as "1").
    if let Some((int, frac)) = s.split_once('.')
        && !frac.is_empty()
        && frac.bytes().all(|b| b == b'0')
    {
        return int;
    }
    s
}

/// `strconv.ParseInt(s, 0, 64)`: an optional sign, a base prefix (`0x`, `0o`, `0b`, or a
/// leading `0` for octal) and digits with optional `_` separators between them.
pub fn parse_go_int(s: &str) -> Option<i64> {
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let lower = body.to_ascii_lowercase();
    let (radix, digits, prefixed) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d, true)
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d, true)
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d, true)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, &lower[1..], true)
    } else {
        (10, lower.as_str(), false)
    };
    if digits.contains('_') {
        // Go allows `_` only between digits, or right after a base prefix.
        let b = digits.as_bytes();
        if b.last() == Some(&b'_')
            || digits.contains("__")
            || (b.first() == Some(&b'_') && !prefixed)
        {
            return None;
        }
    }
    let clean: String = digits.chars().filter(|c| *c != '_').collect();
    if clean.is_empty() || clean.starts_with(['+', '-']) {
        return None;
    }
    let magnitude = u64::from_str_radix(&clean, radix).ok()?;
    if neg {
        if magnitude > 1u64 << 63 {
            return None;
        }
        #[allow(clippy::cast_possible_wrap)]
        Some((magnitude as i64).wrapping_neg())
    } else {
        i64::try_from(magnitude).ok()
    }
}

/// `strconv.ParseFloat(s, 64)` for decimal forms, `inf`/`nan` spellings and `_` separators
/// (hexadecimal floats are refused, so they read as 0 through cast).
pub fn parse_go_float(s: &str) -> Option<f64> {
    let t = s.to_ascii_lowercase();
    let body = t.trim_start_matches(['+', '-']);
    match body {
        "inf" | "infinity" => {
            return Some(if t.starts_with('-') {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            });
        }
        "nan" => return Some(f64::NAN),
        _ => {}
    }
    if body.starts_with("0x") {
        return None;
    }
    if !body
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'+' | b'-' | b'_'))
    {
        return None;
    }
    let clean: String = s.chars().filter(|c| *c != '_').collect();
    clean.parse::<f64>().ok()
}

/// `strconv.Atoi`: decimal only, optional sign; invalid input is 0 in Sprig's `atoi`.
pub fn atoi(s: &str) -> i64 {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return 0;
    }
    s.parse::<i64>().unwrap_or(0)
}

/// Sprig's `strval` (`toString`): strings as they are, `[]byte` as text, anything else
/// as Go's `%v` prints it.
pub fn strval(v: &Value) -> String {
    match v {
        Value::String(s) => s.to_string(),
        Value::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
        other => other.to_string(),
    }
}

/// Sprig's `strslice` (`toStrings`, and how `join` reads its list): a `[]string` as it is,
/// other slices with nil items dropped and the rest through [`strval`], nil as an empty list,
/// any other value as a one-item list.
pub fn strslice(v: &Value) -> Vec<String> {
    match v {
        Value::Nil => Vec::new(),
        Value::List(l) if l.elem == Elem::String => l.items.iter().map(strval).collect(),
        Value::List(l) => l.items.iter().filter(|i| !i.is_nil()).map(strval).collect(),
        other => vec![strval(other)],
    }
}

/// Sprig's `empty`: nil, `false`, zero numbers, and empty strings, slices and maps.
/// Structs (objects) are never empty.
pub fn is_empty(v: &Value) -> bool {
    match v {
        Value::Nil => true,
        Value::Bool(b) => !b,
        Value::Int(i) | Value::Int64(i) => *i == 0,
        Value::Uint64(u) => *u == 0,
        Value::Float(f) => *f == 0.0,
        Value::String(s) => s.is_empty(),
        Value::Bytes(b) => b.is_empty(),
        Value::List(l) => l.items.is_empty(),
        Value::Map(m) => m.is_empty(),
        Value::Object(o) => {
            o.as_map().is_some_and(|m| m.is_empty()) || GoEnum::number(v) == Some(0)
        }
    }
}

/// Go's `strconv.Quote` (what `%q` prints for a string).
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if is_go_printable(c) => out.push(c),
            c if (c as u32) < 0x80 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push('"');
    out
}

/// Go's `strconv.IsPrint`: letters, marks, numbers, punctuation, symbols and the ASCII
/// space. Approximated outside ASCII by excluding control, format, separator, private-use
/// and unassigned-looking code points.
fn is_go_printable(c: char) -> bool {
    let u = c as u32;
    if u < 0x80 {
        return (0x20..0x7f).contains(&u);
    }
    if c.is_control() || c.is_whitespace() {
        return false;
    }
    !matches!(u,
        0xad | 0x600..=0x605 | 0x61c | 0x6dd | 0x70f | 0x180e | 0x200b..=0x200f
        | 0x2028..=0x202e | 0x2060..=0x206f | 0xd800..=0xdfff | 0xe000..=0xf8ff
        | 0xfeff | 0xfff9..=0xfffb | 0xfffe | 0xffff | 0xf0000..=0x10ffff)
}

/// How [`go_json`] writes.
#[derive(Clone, Copy, Debug, Default)]
pub struct JsonStyle {
    /// Escape `<`, `>` and `&` as `\u003c`... (Go's default; off for `toRawJson`).
    pub escape_html: bool,
    /// Indent nested values by two spaces per level (`toPrettyJson`).
    pub pretty: bool,
}

/// Writes a value as Go's `encoding/json` marshals it: map keys sorted, Go's float format
/// (`1e+21`, `1e-7`), `[]byte` as base64, objects through their data.
///
/// # Errors
///
/// What Go refuses: non-finite floats (`json: unsupported value: +Inf`) and a map inside
/// itself (`json: unsupported value: encountered a cycle via map[string]interface {}`);
/// also nesting beyond [`crate::value::MAX_DEPTH`].
pub fn go_json(v: &Value, style: JsonStyle) -> Result<String, String> {
    let mut out = String::new();
    write_json(&mut out, v, style, 0, &mut Path::default())?;
    Ok(out)
}

/// The error for a walk that stopped at `cut` in a value of Go type `go_type`.
fn json_cut(cut: Cut, go_type: &str) -> String {
    match cut {
        Cut::Cycle => format!("json: unsupported value: encountered a cycle via {go_type}"),
        Cut::TooDeep => "json: exceeded max depth".into(),
    }
}

fn newline(out: &mut String, style: JsonStyle, depth: usize) {
    if style.pretty {
        out.push('\n');
        for _ in 0..depth {
            out.push_str("  ");
        }
    }
}

/// `v` at indentation `depth`, inside the maps and lists of `path`.
fn write_json(
    out: &mut String,
    v: &Value,
    style: JsonStyle,
    depth: usize,
    path: &mut Path,
) -> Result<(), String> {
    match v {
        Value::Nil => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) | Value::Int64(i) => out.push_str(&i.to_string()),
        Value::Uint64(u) => out.push_str(&u.to_string()),
        Value::Float(f) => out.push_str(&json_float(*f)?),
        Value::String(s) => json_string(out, s, style.escape_html),
        Value::Bytes(b) => {
            use base64::Engine as _;
            json_string(
                out,
                &base64::engine::general_purpose::STANDARD.encode(b),
                style.escape_html,
            );
        }
        Value::List(l) => {
            if l.items.is_empty() {
                out.push_str("[]");
                return Ok(());
            }
            path.enter_list()
                .map_err(|cut| json_cut(cut, &l.go_type()))?;
            out.push('[');
            for (i, item) in l.items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, style, depth + 1);
                write_json(out, item, style, depth + 1, path)?;
            }
            newline(out, style, depth);
            out.push(']');
            path.leave();
        }
        Value::Map(m) => {
            let entries = m.snapshot();
            if entries.is_empty() {
                out.push_str("{}");
                return Ok(());
            }
            path.enter_map(m)
                .map_err(|cut| json_cut(cut, &m.go_type()))?;
            out.push('{');
            for (i, (k, item)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, style, depth + 1);
                json_string(out, k, style.escape_html);
                out.push(':');
                if style.pretty {
                    out.push(' ');
                }
                write_json(out, item, style, depth + 1, path)?;
            }
            newline(out, style, depth);
            out.push('}');
            path.leave();
        }
        Value::Object(o) => match o.as_map() {
            Some(m) => write_json(
                out,
                &Value::Map(std::sync::Arc::new(m.clone())),
                style,
                depth,
                path,
            )?,
            None => write_json(out, &o.to_data(), style, depth, path)?,
        },
    }
    Ok(())
}

/// Go's `encoding/json` float text: `%f`-like between 1e-6 and 1e21, exponent form
/// (`1e-07` cleaned to `1e-7`) outside.
pub fn json_float(f: f64) -> Result<String, String> {
    if !f.is_finite() {
        return Err(format!(
            "json: unsupported value: {}",
            format_float(f, 'g', None)
        ));
    }
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let s = format_float(f, 'e', None);
        // e-07 → e-7
        if let Some(pos) = s.find("e-0") {
            return Ok(format!("{}e-{}", &s[..pos], &s[pos + 3..]));
        }
        return Ok(s);
    }
    Ok(format_float(f, 'f', None))
}

fn json_string(out: &mut String, s: &str, escape_html: bool) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' if escape_html => out.push_str(&format!("\\u{:04x}", c as u32)),
            '\u{2028}' | '\u{2029}' => out.push_str(&format!("\\u{:04x}", c as u32)),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Reads JSON as Go's `json.Unmarshal` into `interface{}` (numbers are `float64`).
///
/// # Errors
///
/// Go-like messages for invalid JSON.
pub fn parse_json(text: &str) -> Result<Value, String> {
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(json) => Ok(Value::from_json(&json)),
        Err(e) => Err(go_json_error(text, &e)),
    }
}

fn go_json_error(text: &str, e: &serde_json::Error) -> String {
    if e.is_eof() || text.trim().is_empty() {
        return "unexpected end of JSON input".into();
    }
    // serde_json points at the offending character (line and 1-based column).
    let offset = text
        .split_inclusive('\n')
        .take(e.line().saturating_sub(1))
        .map(str::len)
        .sum::<usize>()
        + e.column().saturating_sub(1);
    let c = text
        .get(offset.min(text.len())..)
        .and_then(|r| r.chars().next())
        .unwrap_or(' ');
    let message = e.to_string();
    let context = if message.starts_with("key must be a string") {
        "looking for beginning of object key string"
    } else if message.starts_with("expected `:`") {
        "after object key"
    } else if message.starts_with("expected `,` or `}`") {
        "after object key:value pair"
    } else if message.starts_with("expected `,` or `]`") {
        "after array element"
    } else if message.starts_with("trailing characters") {
        "after top-level value"
    } else {
        "looking for beginning of value"
    };
    format!("invalid character {} {context}", go_char(c))
}

fn go_char(c: char) -> String {
    match c {
        '\'' => "'\\''".into(),
        '"' => "'\"'".into(),
        c => format!("'{c}'"),
    }
}

/// The Go type name of a JSON value's kind, for `json: cannot unmarshal X into ...`.
pub fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Nil => "null",
        Value::Bool(_) => "bool",
        Value::Float(_) | Value::Int(_) | Value::Int64(_) | Value::Uint64(_) => "number",
        Value::String(_) => "string",
        Value::List(_) => "array",
        _ => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cast_reads_strings_like_go() {
        // {{ add "010" 0 }} 8, "0x1F" 31, "1.0" 1, "1.5" 0, "1_000" 1000, " 5" 0, "abc" 0
        let cases = [
            ("010", 8),
            ("0x1F", 31),
            ("1.0", 1),
            ("1.5", 0),
            ("1_000", 1000),
            (" 5", 0),
            ("abc", 0),
            ("0b11", 3),
            ("-12", -12),
            ("0x_1F", 31),
            ("0_17", 15),
            ("_1", 0),
            ("1__0", 0),
            ("0b_1", 1),
        ];
        for (s, want) in cases {
            assert_eq!(to_int64(&Value::from(s)), want, "{s:?}");
        }
        assert_eq!(to_int64(&Value::Float(-3.9)), -3);
        assert_eq!(to_float64(&Value::from("1e3")), 1000.0);
        assert_eq!(to_float64(&Value::from("0x10")), 0.0);
        assert_eq!(atoi("12a"), 0);
        assert_eq!(atoi(" 12"), 0);
        assert_eq!(atoi("+12"), 12);
    }

    #[test]
    fn quote_is_go_percent_q() {
        assert_eq!(
            go_quote("a\"b\\c\n\t\u{263a}\u{1}\u{ff}"),
            "\"a\\\"b\\\\c\\n\\t\u{263a}\\x01\u{ff}\""
        );
    }

    #[test]
    fn json_is_go_encoding_json() {
        let mut m = std::collections::BTreeMap::new();
        m.insert("h".to_string(), Value::from("<a&b>"));
        m.insert("big".to_string(), Value::Float(1e21));
        m.insert("small".to_string(), Value::Float(1e-7));
        m.insert("i".to_string(), Value::Float(1e8));
        m.insert("u".to_string(), Value::from("\u{2028}\u{e9}"));
        let v = Value::map(m);
        assert_eq!(
            go_json(
                &v,
                JsonStyle {
                    escape_html: true,
                    pretty: false
                }
            )
            .expect("json"),
            r#"{"big":1e+21,"h":"\u003ca\u0026b\u003e","i":100000000,"small":1e-7,"u":"\u2028é"}"#
        );
        assert_eq!(
            json_float(1.2345678901234569e23).expect("finite"),
            "1.2345678901234569e+23"
        );
        assert_eq!(json_float(-0.0).expect("finite"), "-0");
    }
}
