//! `toToml`: a value written as github.com/BurntSushi/toml v1.6's encoder writes it.
//!
//! - A map's keys are sorted; plain values come first, then tables and arrays of tables
//!   (`[a]`, `[[a]]` headers, an empty line before each top-level table and before every
//!   `[[...]]`), each level of tables indented by two more spaces.
//! - Keys are bare when they are made of `A-Za-z0-9_-`, otherwise quoted; strings are
//!   basic strings with `\uXXXX` for control characters.
//! - Floats print as Go's `%g` with `.0` added to plain digits (`8080.0`, `1e+06`, `nan`,
//!   `-inf`); integers as they are.
//! - Other arrays are inline (`[1, "a", {b = 1}]`); an array holding nil is refused.
//! - Nil map values are left out (in an inline table their comma stays: `{b = 1, }`).
//! - `time.Time` is a TOML date-time (RFC 3339 with nanoseconds; the local date-times
//!   `fromToml` makes go back as local ones, through UTC as the library does).
//! - A top-level scalar or inline array is written alone, without a newline; a top-level
//!   array of tables is refused.

use crate::value::{Cut, MAX_DEPTH, Map, Object, Path, Value, format_float};

/// Why encoding stopped.
enum Stop {
    /// The library's error: Helm's `toToml` returns its text.
    Toml(&'static str),
    /// Where Go panics or overflows its stack: the call fails.
    Hard(String),
}

const NIL_ELEMENT: &str = "toml: cannot encode array with nil element";
const NO_KEY: &str = "toml: top-level values must be Go maps or structs";

/// Helm's `toToml`: the text, or the encoder's error text; `Err` where Go panics.
pub(super) fn to_toml(v: &Value) -> Result<String, String> {
    if v.is_nil() {
        // reflect.ValueOf(nil) is the zero Value; the encoder asks for its type.
        return Err("reflect: call of reflect.Value.Type on zero Value".into());
    }
    let mut e = Encoder::default();
    match e.encode(&[], v, 0) {
        Ok(()) => Ok(e.out),
        Err(Stop::Toml(message)) => Ok(message.into()),
        Err(Stop::Hard(message)) => Err(message),
    }
}

/// The TOML kinds that decide where a value goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Scalar,
    Array,
    /// A table.
    Hash,
    /// An array whose elements are all tables.
    ArrayHash,
}

fn too_deep() -> Stop {
    Stop::Hard(format!("toml: value nests deeper than {MAX_DEPTH} levels"))
}

fn is_time(o: &dyn Object) -> bool {
    o.type_name() == "time.Time"
}

#[derive(Default)]
struct Encoder {
    out: String,
    has_written: bool,
    path: Path,
}

impl Encoder {
    fn wf(&mut self, s: &str) {
        self.out.push_str(s);
        self.has_written = true;
    }

    fn newline(&mut self) {
        if self.has_written {
            self.wf("\n");
        }
    }

    fn encode(&mut self, key: &[String], v: &Value, depth: usize) -> Result<(), Stop> {
        if depth > MAX_DEPTH {
            return Err(too_deep());
        }
        match v {
            Value::Nil => Ok(()),
            Value::Map(m) => self.table(key, m, depth),
            Value::List(l) => {
                if kind_of(v, depth)? == Some(Kind::ArrayHash) {
                    self.array_of_tables(key, &l.items, depth)
                } else {
                    self.write_key_value(key, v, false, depth)
                }
            }
            Value::Object(o) if !is_time(o.as_ref()) => match o.as_map() {
                Some(m) => self.table(key, m, depth),
                None => self.encode(key, &o.to_data(), depth + 1),
            },
            _ => self.write_key_value(key, v, false, depth),
        }
    }

    fn write_key_value(
        &mut self,
        key: &[String],
        v: &Value,
        inline: bool,
        depth: usize,
    ) -> Result<(), Stop> {
        let Some(last) = key.last() else {
            return self.element(v, depth);
        };
        let line = format!("{}{} = ", indent(key), super::decode::maybe_quoted(last));
        self.wf(&line);
        self.element(v, depth)?;
        if !inline {
            self.newline();
        }
        Ok(())
    }

    fn element(&mut self, v: &Value, depth: usize) -> Result<(), Stop> {
        if depth > MAX_DEPTH {
            return Err(too_deep());
        }
        match v {
            Value::Nil => Err(Stop::Toml(NIL_ELEMENT)),
            Value::Bool(b) => {
                self.wf(if *b { "true" } else { "false" });
                Ok(())
            }
            Value::Int(n) | Value::Int64(n) => {
                self.wf(&n.to_string());
                Ok(())
            }
            Value::Uint64(n) => {
                self.wf(&n.to_string());
                Ok(())
            }
            Value::Float(f) => {
                self.wf(&toml_float(*f));
                Ok(())
            }
            Value::String(s) => {
                self.wf(&format!("\"{}\"", escape_basic(s)));
                Ok(())
            }
            Value::Bytes(b) => {
                let items: Vec<String> = b.iter().map(u8::to_string).collect();
                self.wf(&format!("[{}]", items.join(", ")));
                Ok(())
            }
            Value::List(l) => {
                self.wf("[");
                for (i, item) in l.items.iter().enumerate() {
                    self.element(item, depth + 1)?;
                    if i + 1 != l.items.len() {
                        self.wf(", ");
                    }
                }
                self.wf("]");
                Ok(())
            }
            Value::Map(m) => self.map(&[], m, true, depth),
            Value::Object(o) => {
                if is_time(o.as_ref()) {
                    self.wf(&toml_time(o.as_ref()));
                    return Ok(());
                }
                match o.as_map() {
                    Some(m) => self.map(&[], m, true, depth),
                    None => self.element(&o.to_data(), depth + 1),
                }
            }
        }
    }

    /// A table: its header (none at the top level), then its entries.
    fn table(&mut self, key: &[String], m: &Map, depth: usize) -> Result<(), Stop> {
        if key.len() == 1 {
            self.newline();
        }
        if !key.is_empty() {
            let header = format!("{}[{}]", indent(key), key_string(key));
            self.wf(&header);
            self.newline();
        }
        self.map(key, m, false, depth)
    }

    fn array_of_tables(
        &mut self,
        key: &[String],
        items: &[Value],
        depth: usize,
    ) -> Result<(), Stop> {
        if key.is_empty() {
            return Err(Stop::Toml(NO_KEY));
        }
        for item in items {
            let m = match item {
                Value::Nil => continue,
                Value::Map(m) => Map::clone(m),
                Value::Object(o) => match o.as_map() {
                    Some(m) => m.clone(),
                    None => match o.to_data() {
                        Value::Map(m) => Map::clone(&m),
                        _ => continue,
                    },
                },
                _ => continue,
            };
            self.newline();
            let header = format!("{}[[{}]]", indent(key), key_string(key));
            self.wf(&header);
            self.newline();
            self.map(key, &m, false, depth + 1)?;
        }
        Ok(())
    }

    /// A map's entries: plain values first, then tables, each group in key order.
    fn map(&mut self, key: &[String], m: &Map, inline: bool, depth: usize) -> Result<(), Stop> {
        if depth > MAX_DEPTH {
            return Err(too_deep());
        }
        self.path.enter_map(m).map_err(|cut| match cut {
            Cut::Cycle => Stop::Hard("toml: cannot encode a map that contains itself".into()),
            Cut::TooDeep => too_deep(),
        })?;
        let result = self.map_entries(key, m, inline, depth);
        self.path.leave();
        result
    }

    fn map_entries(
        &mut self,
        key: &[String],
        m: &Map,
        inline: bool,
        depth: usize,
    ) -> Result<(), Stop> {
        let entries = m.snapshot();
        let mut direct = Vec::new();
        let mut sub = Vec::new();
        for (k, v) in entries.iter() {
            match kind_of(v, depth + 1)? {
                Some(Kind::Hash | Kind::ArrayHash) => sub.push((k, v)),
                _ => direct.push((k, v)),
            }
        }
        if inline {
            self.wf("{");
        }
        let trailing_comma = !sub.is_empty();
        self.write_entries(key, &direct, trailing_comma, inline, depth)?;
        self.write_entries(key, &sub, false, inline, depth)?;
        if inline {
            self.wf("}");
        }
        Ok(())
    }

    fn write_entries(
        &mut self,
        key: &[String],
        entries: &[(&String, &Value)],
        trailing_comma: bool,
        inline: bool,
        depth: usize,
    ) -> Result<(), Stop> {
        for (i, (k, v)) in entries.iter().enumerate() {
            if v.is_nil() {
                continue;
            }
            if inline {
                self.write_key_value(std::slice::from_ref(*k), v, true, depth + 1)?;
                if trailing_comma || i + 1 != entries.len() {
                    self.wf(", ");
                }
            } else {
                let mut sub_key = key.to_vec();
                sub_key.push((*k).clone());
                self.encode(&sub_key, v, depth + 1)?;
            }
        }
        Ok(())
    }
}

/// The library's `tomlTypeOfGo` (`None` for nil): an array is an array of tables when all
/// its elements are tables, and holding nil anywhere is an error.
fn kind_of(v: &Value, depth: usize) -> Result<Option<Kind>, Stop> {
    if depth > MAX_DEPTH {
        return Err(too_deep());
    }
    Ok(Some(match v {
        Value::Nil => return Ok(None),
        Value::Map(_) => Kind::Hash,
        Value::Bytes(_) => Kind::Array,
        Value::List(l) => {
            if l.items.is_empty() {
                Kind::Array
            } else {
                let mut all_tables = true;
                for item in &l.items {
                    match kind_of(item, depth + 1)? {
                        None => return Err(Stop::Toml(NIL_ELEMENT)),
                        Some(Kind::Hash) => {}
                        Some(_) => all_tables = false,
                    }
                }
                if all_tables {
                    Kind::ArrayHash
                } else {
                    Kind::Array
                }
            }
        }
        Value::Object(o) => {
            if is_time(o.as_ref()) {
                Kind::Scalar
            } else if o.as_map().is_some() {
                Kind::Hash
            } else {
                return kind_of(&o.to_data(), depth + 1);
            }
        }
        _ => Kind::Scalar,
    }))
}

fn indent(key: &[String]) -> String {
    "  ".repeat(key.len().saturating_sub(1))
}

fn key_string(key: &[String]) -> String {
    let parts: Vec<String> = key.iter().map(|k| super::decode::maybe_quoted(k)).collect();
    parts.join(".")
}

/// The inside of a TOML basic string as the library writes it.
pub(super) fn escape_basic(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            c if c < '\u{20}' || c == '\u{7f}' => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// A float as the library writes it: Go's shortest `%g`, `.0` added to plain digits.
fn toml_float(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f < 0.0 { "-inf" } else { "inf" }.into();
    }
    let mut s = format_float(f, 'g', None);
    if s.bytes().all(|b| b.is_ascii_digit() || b == b'-') {
        s.push_str(".0");
    }
    s
}

/// A `time.Time` as a TOML date-time. Times in the local zones `fromToml` makes are written
/// in UTC without an offset, as the library does.
fn toml_time(o: &dyn Object) -> String {
    let data = o.to_data();
    let rfc3339 = data.as_str().unwrap_or("");
    // `%v` of a time.Time: "2006-01-02 15:04:05.999999999 -0700 ZONE".
    let shown = o.fmt_v(false);
    let zone = shown.split(' ').nth(3).unwrap_or("");
    let (date, time) = match zone {
        "datetime-local" => (true, true),
        "date-local" => (true, false),
        "time-local" => (false, true),
        _ => return rfc3339.to_string(),
    };
    let Ok(ts) = rfc3339.parse::<jiff::Timestamp>() else {
        return rfc3339.to_string();
    };
    let utc = ts.to_zoned(jiff::tz::TimeZone::UTC).datetime();
    let mut out = String::new();
    if date {
        out.push_str(&format!(
            "{:04}-{:02}-{:02}",
            utc.year(),
            utc.month(),
            utc.day()
        ));
    }
    if date && time {
        out.push('T');
    }
    if time {
        out.push_str(&format!(
            "{:02}:{:02}:{:02}",
            utc.hour(),
            utc.minute(),
            utc.second()
        ));
        let nanos = utc.subsec_nanosecond();
        if nanos != 0 {
            let frac = format!("{nanos:09}");
            out.push('.');
            out.push_str(frac.trim_end_matches('0'));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_like_the_library() {
        for (f, want) in [
            (8080.0, "8080.0"),
            (1e6, "1e+06"),
            (123_456.0, "123456.0"),
            (0.1, "0.1"),
            (-0.0, "-0.0"),
            (1e-5, "1e-05"),
        ] {
            assert_eq!(toml_float(f), want);
        }
    }
}
