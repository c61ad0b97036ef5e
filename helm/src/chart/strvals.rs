//! `--set`, `--set-string`, `--set-json`, `--set-file` and `--set-literal`: Helm's
//! `strvals` grammar, applied onto a values map.
//!
//! `a.b=1,c[0].d=x,e={p,q}`: `,` separates assignments, `.` descends into maps, `[n]` into
//! lists (growing them with `null`s), `{...}` is a list value, `\` escapes the next
//! character (`\,`, `\.`, `\=`). With `--set`, values are typed: `true`/`false` (any case)
//! are booleans, `null` is null (it deletes the chart default when coalesced), decimal
//! integers not starting with `0` (and `0` itself) are int64, everything else a string.

use serde_json::{Map, Value};

use super::Values;

/// Most list index `--set` accepts (Helm's limit).
pub const MAX_INDEX: usize = 65536;
/// Most nesting of names in one assignment (Helm's limit).
pub const MAX_NESTED_NAME_LEVEL: usize = 30;

/// Which flag the text came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// `--set`: typed scalars.
    Typed,
    /// `--set-string`: every value a string.
    String,
    /// `--set-json`: each value a JSON document (numbers float64).
    Json,
    /// `--set-file`: each value a path; the reader gives the contents.
    File,
    /// `--set-literal`: one assignment, the whole rest after `=` the value.
    Literal,
}

/// Applies one flag's text onto `data`.
///
/// `read_file` is called for [`Mode::File`] with the path; it returns the file's contents.
///
/// # Errors
/// Helm's messages (`key "x" has no value`, ...).
pub fn parse_into(
    text: &str,
    data: &mut Values,
    mode: Mode,
    read_file: &dyn Fn(&str) -> Result<String, String>,
) -> Result<(), String> {
    let mut p = Parser {
        chars: text.chars().collect(),
        pos: 0,
        mode,
        read_file,
    };
    while p.pos < p.chars.len() {
        p.key(data, 0)?;
    }
    Ok(())
}

/// `--set` text applied onto an empty map.
///
/// # Errors
/// As [`parse_into`].
pub fn parse(text: &str) -> Result<Values, String> {
    let mut out = Values::new();
    parse_into(text, &mut out, Mode::Typed, &|_| Err("no files".into()))?;
    Ok(out)
}

struct Parser<'a> {
    chars: Vec<char>,
    pos: usize,
    mode: Mode,
    read_file: &'a dyn Fn(&str) -> Result<String, String>,
}

/// Helm's `typedVal`.
pub fn typed_value(val: &str) -> Value {
    if val.eq_ignore_ascii_case("true") {
        return Value::Bool(true);
    }
    if val.eq_ignore_ascii_case("false") {
        return Value::Bool(false);
    }
    if val.eq_ignore_ascii_case("null") {
        return Value::Null;
    }
    if val == "0" {
        return Value::from(0i64);
    }
    if !val.is_empty()
        && !val.starts_with('0')
        && go_parse_int(val)
        && let Ok(i) = val.parse::<i64>()
    {
        return Value::from(i);
    }
    Value::String(val.to_string())
}

/// Go's `strconv.ParseInt(s, 10, 64)` syntax: optional sign, then decimal digits.
fn go_parse_int(s: &str) -> bool {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

impl Parser<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    /// Runes up to (not including) one of `stop`, with `\` escapes; returns the text and
    /// the stop character (consumed), or `None` at the end.
    fn until(&mut self, stop: &[char]) -> (String, Option<char>) {
        let mut out = String::new();
        while let Some(c) = self.peek() {
            self.pos += 1;
            if c == '\\' {
                if let Some(next) = self.peek() {
                    self.pos += 1;
                    out.push(next);
                }
                continue;
            }
            if stop.contains(&c) {
                return (out, Some(c));
            }
            out.push(c);
        }
        (out, None)
    }

    fn key(&mut self, data: &mut Map<String, Value>, depth: usize) -> Result<(), String> {
        if depth > MAX_NESTED_NAME_LEVEL {
            return Err(format!(
                "value name nested level is greater than maximum supported nested level of {MAX_NESTED_NAME_LEVEL}"
            ));
        }
        let (key, stop) = self.until(&['=', '[', ',', '.']);
        match stop {
            None => {
                if key.is_empty() {
                    Ok(())
                } else {
                    Err(format!("key {key:?} has no value"))
                }
            }
            Some(',') => Err(format!("key {key:?} has no value (cannot end with ,)")),
            Some('=') => {
                let v = self.value()?;
                data.insert(key, v);
                Ok(())
            }
            Some('.') => {
                if key.is_empty() {
                    return Err("key map has no name".into());
                }
                let mut inner = match data.remove(&key) {
                    Some(Value::Object(m)) => m,
                    _ => Map::new(),
                };
                let r = self.key(&mut inner, depth + 1);
                if inner.is_empty() && r.is_err() {
                    return r;
                }
                data.insert(key.clone(), Value::Object(inner));
                r.map_err(|e| {
                    if e.starts_with("key map") {
                        format!("key map {key:?} has no value")
                    } else {
                        e
                    }
                })
            }
            Some(_) => {
                // `[`: a list index.
                let idx = self.index()?;
                let mut list = match data.remove(&key) {
                    Some(Value::Array(a)) => a,
                    _ => Vec::new(),
                };
                let r = self.list_item(&mut list, idx, depth + 1);
                data.insert(key, Value::Array(list));
                r
            }
        }
    }

    fn index(&mut self) -> Result<usize, String> {
        let (text, stop) = self.until(&[']']);
        if stop.is_none() {
            return Err("error parsing index: unterminated [".into());
        }
        let n: i64 = text.parse().map_err(|_| {
            format!("error parsing index: strconv.Atoi: parsing {text:?}: invalid syntax")
        })?;
        if n < 0 {
            return Err(format!("negative {n} index not allowed"));
        }
        let n = usize::try_from(n).unwrap_or(usize::MAX);
        if n > MAX_INDEX {
            return Err(format!(
                "index of {n} is greater than maximum supported index {MAX_INDEX}"
            ));
        }
        Ok(n)
    }

    fn list_item(&mut self, list: &mut Vec<Value>, idx: usize, depth: usize) -> Result<(), String> {
        if depth > MAX_NESTED_NAME_LEVEL {
            return Err(format!(
                "value name nested level is greater than maximum supported nested level of {MAX_NESTED_NAME_LEVEL}"
            ));
        }
        if list.len() <= idx {
            list.resize(idx + 1, Value::Null);
        }
        match self.peek() {
            Some('=') => {
                self.pos += 1;
                list[idx] = self.value()?;
                Ok(())
            }
            Some('.') => {
                self.pos += 1;
                let mut inner = match std::mem::take(&mut list[idx]) {
                    Value::Object(m) => m,
                    _ => Map::new(),
                };
                let r = self.key(&mut inner, depth + 1);
                list[idx] = Value::Object(inner);
                r
            }
            Some('[') => {
                self.pos += 1;
                let next = self.index()?;
                let mut inner = match std::mem::take(&mut list[idx]) {
                    Value::Array(a) => a,
                    _ => Vec::new(),
                };
                let r = self.list_item(&mut inner, next, depth + 1);
                list[idx] = Value::Array(inner);
                r
            }
            _ => Err(format!(
                "parse error after index {idx}: expected '=', '.' or '['"
            )),
        }
    }

    /// A value after `=`, consuming the following `,`.
    fn value(&mut self) -> Result<Value, String> {
        match self.mode {
            Mode::Literal => {
                let rest: String = self.chars[self.pos..].iter().collect();
                self.pos = self.chars.len();
                Ok(Value::String(rest))
            }
            Mode::Json => {
                let rest: String = self.chars[self.pos..].iter().collect();
                let mut stream = serde_json::Deserializer::from_str(&rest).into_iter::<Value>();
                let v = match stream.next() {
                    Some(Ok(v)) => v,
                    Some(Err(e)) => return Err(format!("json: {e}")),
                    None => Value::Null,
                };
                let used = stream.byte_offset();
                let consumed = rest[..used].chars().count();
                self.pos += consumed;
                while self.peek().is_some_and(char::is_whitespace) {
                    self.pos += 1;
                }
                match self.peek() {
                    None => {}
                    Some(',') => self.pos += 1,
                    Some(c) => return Err(format!("invalid character {c:?} after JSON value")),
                }
                super::values::check_depth(&v, 0)?;
                Ok(super::values::to_float64(v))
            }
            Mode::Typed | Mode::String | Mode::File => {
                if self.peek() == Some('{') && self.mode != Mode::File {
                    self.pos += 1;
                    let list = self.list_value()?;
                    match self.peek() {
                        None => {}
                        Some(',') => self.pos += 1,
                        // Helm reads on: what follows the list starts the next key.
                        Some(_) => {}
                    }
                    return Ok(Value::Array(list));
                }
                let (text, _) = self.until(&[',']);
                Ok(match self.mode {
                    Mode::String => Value::String(text),
                    Mode::File => Value::String((self.read_file)(&text)?),
                    _ => typed_value(&text),
                })
            }
        }
    }

    /// `{a,b}` after the `{`.
    fn list_value(&mut self) -> Result<Vec<Value>, String> {
        let mut out = Vec::new();
        loop {
            let (text, stop) = self.until(&[',', '}']);
            match stop {
                None => return Err("list must terminate with '}'".into()),
                Some('}') => {
                    if !(text.is_empty() && out.is_empty()) {
                        out.push(self.scalar(&text));
                    }
                    return Ok(out);
                }
                Some(_) => out.push(self.scalar(&text)),
            }
        }
    }

    fn scalar(&self, text: &str) -> Value {
        if self.mode == Mode::String {
            Value::String(text.to_string())
        } else {
            typed_value(text)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn set(text: &str) -> Value {
        Value::Object(parse(text).expect("parses"))
    }

    #[test]
    fn typed_values() {
        assert_eq!(
            set("a=1,b=true,c=FALSE,d=null,e=007,f=1.5,g=0,h=,i=-3"),
            json!({"a":1,"b":true,"c":false,"d":null,"e":"007","f":"1.5","g":0,"h":"","i":-3})
        );
        assert!(set("a=1")["a"].is_i64());
    }

    #[test]
    fn paths_lists_and_escapes() {
        assert_eq!(set("a.b.c=x"), json!({"a":{"b":{"c":"x"}}}));
        assert_eq!(set("a[0].b=1,a[0].c=2"), json!({"a":[{"b":1,"c":2}]}));
        assert_eq!(set("a[2]=x"), json!({"a":[null,null,"x"]}));
        assert_eq!(set("a[0][1]=x"), json!({"a":[[null,"x"]]}));
        assert_eq!(set("a={x,2,true}"), json!({"a":["x",2,true]}));
        assert_eq!(set("a={},b=1"), json!({"a":[],"b":1}));
        assert_eq!(set(r"a\.b=x\,y"), json!({"a.b":"x,y"}));
        assert_eq!(set(r"a=x\=y"), json!({"a":"x=y"}));
        assert_eq!(set("a.b=1,a.c=2"), json!({"a":{"b":1,"c":2}}));
    }

    #[test]
    fn errors() {
        assert_eq!(parse("a").expect_err("fails"), "key \"a\" has no value");
        assert_eq!(
            parse("a=1,b,").expect_err("fails"),
            "key \"b\" has no value (cannot end with ,)"
        );
        assert_eq!(
            parse("a[-1]=1").expect_err("fails"),
            "negative -1 index not allowed"
        );
        assert!(
            parse("a[70000]=1")
                .expect_err("fails")
                .contains("maximum supported index")
        );
        let deep = format!("{}=1", vec!["a"; 40].join("."));
        assert!(parse(&deep).expect_err("fails").contains("nested level"));
    }

    #[test]
    fn other_modes() {
        let mut v = Values::new();
        let no = |_: &str| Err::<String, String>("x".into());
        parse_into("a=1,b={1,2}", &mut v, Mode::String, &no).expect("string");
        assert_eq!(Value::Object(v), json!({"a":"1","b":["1","2"]}));
        let mut v = Values::new();
        parse_into(r#"o={"x":1,"y":[true]},n=2"#, &mut v, Mode::Json, &no).expect("json");
        assert_eq!(
            Value::Object(v.clone()),
            json!({"o":{"x":1.0,"y":[true]},"n":2.0})
        );
        assert!(v["n"].is_f64());
        let mut v = Values::new();
        parse_into("a.b=x,y=z", &mut v, Mode::Literal, &no).expect("literal");
        assert_eq!(Value::Object(v), json!({"a":{"b":"x,y=z"}}));
        let mut v = Values::new();
        let read = |p: &str| Ok::<String, String>(format!("contents of {p}"));
        parse_into("f=/x/y", &mut v, Mode::File, &read).expect("file");
        assert_eq!(Value::Object(v), json!({"f":"contents of /x/y"}));
    }
}
