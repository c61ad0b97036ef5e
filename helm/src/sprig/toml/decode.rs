//! `fromToml`: TOML read as github.com/BurntSushi/toml v1.6 reads it into a Go
//! `map[string]interface{}` (TOML 1.1: newlines and trailing commas in inline tables, `\e`
//! and `\xHH` escapes, times without seconds).
//!
//! The library's lexer ([`super::lex`]) and parser are followed step by step, because what they accept beyond the TOML grammar and what their errors say
//! are part of Helm's behaviour: `a = {b = 1}` followed by `a.c = 2` extends the inline
//! table, `[a]` after `a.b = 1` is accepted, a backslash at the very end of a string is an
//! error on "line 0", and an error reads `toml: line 2 (last key "t.a"): Key 't.a' has
//! already been defined.`
//!
//! Values: integers are `int64`, floats `float64`, `[[tables]]` are
//! `[]map[string]interface {}` while inline arrays are `[]interface {}`, and date-times are
//! `time.Time`: with their offset (the local zone when the offset is the local one), or, for
//! local date-times, dates and times, in zones named `datetime-local`, `date-local` and
//! `time-local` whose offset is the local zone's offset when first asked (the library takes
//! it when the process starts).
//!
//! Hostile input is bounded: nesting (tables, dotted keys, arrays, inline tables together)
//! stops at [`MAX_DEPTH`] levels with an error. The lexer keeps its state stack on the heap;
//! the parser recurses once per array or inline table, about 2.5 KiB of stack a level in a
//! debug build, so the deepest document needs 3 MiB (template functions run on a thread of
//! at least 8 MiB).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::LazyLock;

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::{Offset, TimeZone};

use super::lex::{Item, ItemType, Lexer, is_bare, is_hex, quote_rune};
use crate::sprig::dates::GoTime;
use crate::template::fmt::quote;
use crate::value::{Elem, Value};

/// The deepest nesting `fromToml` builds: table names, dotted keys, arrays and inline tables
/// together. BurntSushi/toml has no bound.
pub const MAX_DEPTH: usize = 1000;

/// Helm's `fromToml`: the document as a map, or a map holding the error under `Error`.
/// Errors are `Err` only where Go panics outside the library's error handling (its bugs).
pub(super) fn from_toml(text: &str) -> Result<Value, String> {
    match parse(text) {
        Ok(v) => Ok(v),
        Err(Fail::Parse(e)) => {
            let mut m = BTreeMap::new();
            m.insert("Error".to_string(), Value::from(e.to_string()));
            Ok(Value::map(m))
        }
        Err(Fail::Bug(message)) => Err(message),
    }
}

/// The library's `ParseError`: its `Error()` text names the line and, when the parser was
/// inside a key, that key.
#[derive(Debug)]
struct ParseError {
    message: String,
    line: usize,
    last_key: String,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.last_key.is_empty() {
            write!(f, "toml: line {}: {}", self.line, self.message)
        } else {
            write!(
                f,
                "toml: line {} (last key {}): {}",
                self.line,
                quote(&self.last_key),
                self.message
            )
        }
    }
}

#[derive(Debug)]
enum Fail {
    Parse(ParseError),
    /// A Go panic that is not a `ParseError` (the library's "BUG" panics).
    Bug(String),
}

type Res<T> = Result<T, Fail>;

fn parse(text: &str) -> Res<Value> {
    // A UTF-8 byte order mark is skipped (UTF-16 ones cannot start a Rust string).
    let data = text.strip_prefix('\u{feff}').unwrap_or(text);
    let head = &data.as_bytes()[..data.len().min(6)];
    if head.contains(&0) {
        return Err(Fail::Parse(ParseError {
            message:
                "files cannot contain NULL bytes; probably using UTF-16; TOML files must be UTF-8"
                    .into(),
            line: 1,
            last_key: String::new(),
        }));
    }
    let mut p = Parser::new(data);
    loop {
        let item = p.next()?;
        if item.typ == ItemType::Eof {
            break;
        }
        p.top_level(item)?;
    }
    Ok(p.table_value(ROOT))
}

// ---------------------------------------------------------------------------------------
// Parser

/// A Go value in the parser's mapping: tables live in an arena (Go maps are references).
#[derive(Clone, Debug)]
enum Node {
    Scalar(Value),
    /// `map[string]interface{}`.
    Table(usize),
    /// `[]map[string]interface{}` (`[[table]]` arrays).
    TableArray(Vec<usize>),
    /// `[]interface{}`.
    Array(Vec<Node>),
}

/// The TOML types the parser remembers per key (only these matter).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Other,
    Array,
    Hash,
    ArrayHash,
}

const ROOT: usize = 0;

struct Parser<'a> {
    lx: Lexer<'a>,
    /// The full key of the table in scope (Go's `p.context`).
    context: Vec<String>,
    current_key: String,
    /// The line of the last key or table name read (Go's `p.pos.Line`).
    pos_line: usize,
    key_info: HashMap<String, Kind>,
    implicits: HashSet<String>,
    tables: Vec<BTreeMap<String, Node>>,
    /// Arrays being read (inline tables count through `context`).
    arrays: usize,
}

/// Go's `Key.String()`: parts that are not bare keys are quoted.
fn key_string(key: &[String]) -> String {
    let mut out = String::new();
    for (i, k) in key.iter().enumerate() {
        if i > 0 {
            out.push('.');
        }
        out.push_str(&maybe_quoted(k));
    }
    out
}

/// One key part as the library writes it.
pub(super) fn maybe_quoted(k: &str) -> String {
    if k.is_empty() {
        return "\"\"".into();
    }
    if k.chars().all(is_bare) {
        return k.to_string();
    }
    format!("\"{}\"", super::encode::escape_basic(k))
}

impl<'a> Parser<'a> {
    fn new(input: &'a str) -> Parser<'a> {
        Parser {
            lx: Lexer::new(input),
            context: Vec::new(),
            current_key: String::new(),
            pos_line: 0,
            key_info: HashMap::new(),
            implicits: HashSet::new(),
            tables: vec![BTreeMap::new()],
            arrays: 0,
        }
    }

    fn new_table(&mut self) -> usize {
        self.tables.push(BTreeMap::new());
        self.tables.len() - 1
    }

    /// Go's `p.current()`: the full key being read.
    fn current(&self) -> String {
        if self.current_key.is_empty() {
            return key_string(&self.context);
        }
        if self.context.is_empty() {
            return self.current_key.clone();
        }
        format!("{}.{}", key_string(&self.context), self.current_key)
    }

    fn fail(&self, line: usize, message: String) -> Fail {
        Fail::Parse(ParseError {
            message,
            line,
            last_key: self.current(),
        })
    }

    /// Go's `panicf`: at the last key read.
    fn panicf(&self, message: String) -> Fail {
        self.fail(self.pos_line, message)
    }

    fn bug(message: String) -> Fail {
        Fail::Bug(format!("BUG: {message}\n\n"))
    }

    fn next(&mut self) -> Res<Item> {
        let item = self.lx.next_item().map_err(Fail::Bug)?;
        if item.typ == ItemType::Error {
            return Err(self.fail(item.line, item.val));
        }
        Ok(item)
    }

    fn next_pos(&mut self) -> Res<Item> {
        let item = self.next()?;
        self.pos_line = item.line;
        Ok(item)
    }

    fn expect(&mut self, typ: ItemType) -> Res<Item> {
        let item = self.next()?;
        Self::assert_eq(typ, item.typ)?;
        Ok(item)
    }

    fn assert_eq(expected: ItemType, got: ItemType) -> Res<()> {
        if expected != got {
            return Err(Self::bug(format!(
                "Expected '{}' but got '{}'.",
                expected.name(),
                got.name()
            )));
        }
        Ok(())
    }

    /// Refuses nesting deeper than [`MAX_DEPTH`] (`extra` more levels than now).
    fn check_depth(&self, extra: usize, line: usize) -> Res<()> {
        if self.context.len() + self.arrays + extra > MAX_DEPTH {
            return Err(self.fail(line, format!("nesting deeper than {MAX_DEPTH} levels")));
        }
        Ok(())
    }

    fn top_level(&mut self, item: Item) -> Res<()> {
        match item.typ {
            ItemType::CommentStart => {
                self.expect(ItemType::Text)?;
            }
            ItemType::TableStart | ItemType::ArrayTableStart => {
                let array = item.typ == ItemType::ArrayTableStart;
                let end = if array {
                    ItemType::ArrayTableEnd
                } else {
                    ItemType::TableEnd
                };
                let mut name = self.next_pos()?;
                let mut key = Vec::new();
                while name.typ != end && name.typ != ItemType::Eof {
                    key.push(self.key_part(name)?);
                    if key.len() > MAX_DEPTH {
                        return Err(self.fail(
                            self.pos_line,
                            format!("nesting deeper than {MAX_DEPTH} levels"),
                        ));
                    }
                    name = self.next()?;
                }
                Self::assert_eq(end, name.typ)?;
                self.add_context(&key, array)?;
                self.set_type("", if array { Kind::ArrayHash } else { Kind::Hash });
            }
            ItemType::KeyStart => {
                let outer = self.context.clone();
                self.keyval()?;
                self.context = outer;
                self.current_key.clear();
            }
            other => {
                return Err(Self::bug(format!(
                    "Unexpected type at top level: {}",
                    other.name()
                )));
            }
        }
        Ok(())
    }

    /// Reads the key parts of a `key = value` (its `KeyStart` is read) up to `KeyEnd` and
    /// sets the implicit tables of a dotted key. The last part becomes the current key; the
    /// others are returned.
    #[inline(never)]
    fn read_key(&mut self) -> Res<Vec<String>> {
        let mut k = self.next_pos()?;
        let mut key = Vec::new();
        while k.typ != ItemType::KeyEnd && k.typ != ItemType::Eof {
            key.push(self.key_part(k)?);
            k = self.next()?;
        }
        Self::assert_eq(ItemType::KeyEnd, k.typ)?;
        let Some(last) = key.pop() else {
            return Err(Self::bug("empty key".into()));
        };
        self.current_key = last;
        for part in &key {
            self.check_depth(1, self.pos_line)?;
            let mut implicit = self.context.clone();
            implicit.push(part.clone());
            self.add_implicit_context(&implicit)?;
        }
        Ok(key)
    }

    fn keyval(&mut self) -> Res<()> {
        self.read_key()?;
        let v_item = self.next()?;
        let (val, kind) = self.value(v_item, false)?;
        let key = self.current_key.clone();
        self.set_value(&key, val)?;
        self.set_type(&key, kind);
        Ok(())
    }

    /// A key or table name part.
    fn key_part(&mut self, item: Item) -> Res<String> {
        match item.typ {
            ItemType::Text => Ok(item.val),
            ItemType::String
            | ItemType::StringEsc
            | ItemType::MultilineString
            | ItemType::RawString
            | ItemType::RawMultilineString => match self.value(item, false)?.0 {
                Node::Scalar(Value::String(s)) => Ok(s.to_string()),
                _ => Err(Self::bug("key is not a string".into())),
            },
            other => Err(Self::bug(format!("Unexpected key type: {}", other.name()))),
        }
    }

    /// A value; arrays and inline tables recurse here, so this frame stays small.
    fn value(&mut self, item: Item, parent_is_array: bool) -> Res<(Node, Kind)> {
        match item.typ {
            ItemType::Array => self.value_array(&item),
            ItemType::InlineTableStart => self.value_inline_table(&item, parent_is_array),
            _ => self.value_scalar(item),
        }
    }

    #[inline(never)]
    fn value_scalar(&mut self, item: Item) -> Res<(Node, Kind)> {
        let string = |s: String| Ok((Node::Scalar(Value::from(s)), Kind::Other));
        match item.typ {
            ItemType::String | ItemType::RawString => string(item.val),
            ItemType::StringEsc => {
                let s = self.replace_escapes(&item, &item.val)?;
                string(s)
            }
            ItemType::MultilineString => {
                let trimmed = strip_escaped_newlines(strip_first_newline(&item.val));
                let s = self.replace_escapes(&item, &trimmed)?;
                string(s)
            }
            ItemType::RawMultilineString => string(strip_first_newline(&item.val).to_string()),
            ItemType::Integer => self.value_integer(&item),
            ItemType::Float => self.value_float(&item),
            ItemType::Bool => match item.val.as_str() {
                "true" => Ok((Node::Scalar(Value::Bool(true)), Kind::Other)),
                "false" => Ok((Node::Scalar(Value::Bool(false)), Kind::Other)),
                other => Err(Self::bug(format!(
                    "Expected boolean value, but got '{other}'."
                ))),
            },
            ItemType::Datetime => self.value_datetime(&item),
            other => Err(Self::bug(format!(
                "Unexpected value type: {}",
                other.name()
            ))),
        }
    }

    fn value_integer(&self, item: &Item) -> Res<(Node, Kind)> {
        let val = &item.val;
        if !num_underscores_ok(val) {
            return Err(self.fail(
                item.line,
                format!(
                    "Invalid integer {}: underscores must be surrounded by digits",
                    quote(val)
                ),
            ));
        }
        if num_has_leading_zero(val) {
            return Err(self.fail(
                item.line,
                format!("Invalid integer {}: cannot have leading zeroes", quote(val)),
            ));
        }
        match go_parse_int(val) {
            Ok(n) => Ok((Node::Scalar(Value::Int64(n)), Kind::Other)),
            Err(NumError::Range) => {
                Err(self.fail(item.line, format!("{val} is out of range for int64")))
            }
            Err(NumError::Syntax) => Err(Self::bug(format!(
                "Expected integer value, but got '{val}'."
            ))),
        }
    }

    fn value_float(&self, item: &Item) -> Res<(Node, Kind)> {
        let val = &item.val;
        let parts: Vec<&str> = val
            .split(['.', 'e', 'E'])
            .filter(|p| !p.is_empty())
            .collect();
        if parts.iter().any(|p| !num_underscores_ok(p)) {
            return Err(self.fail(
                item.line,
                format!(
                    "Invalid float {}: underscores must be surrounded by digits",
                    quote(val)
                ),
            ));
        }
        if parts.first().is_some_and(|p| num_has_leading_zero(p)) {
            return Err(self.fail(
                item.line,
                format!("Invalid float {}: cannot have leading zeroes", quote(val)),
            ));
        }
        if !num_periods_ok(val) {
            return Err(self.fail(
                item.line,
                format!(
                    "Invalid float {}: '.' must be followed by one or more digits",
                    quote(val)
                ),
            ));
        }
        let mut plain = val.replace('_', "");
        let mut negative_nan = false;
        if plain == "+nan" || plain == "-nan" {
            negative_nan = plain == "-nan";
            plain = "nan".into();
        }
        match go_parse_float(&plain) {
            Ok(mut f) => {
                if negative_nan {
                    f = -f.abs();
                }
                Ok((Node::Scalar(Value::Float(f)), Kind::Other))
            }
            Err(NumError::Range) => {
                Err(self.fail(item.line, format!("{val} is out of range for float64")))
            }
            Err(NumError::Syntax) => {
                Err(self.fail(item.line, format!("Invalid float value: {}", quote(val))))
            }
        }
    }

    fn value_datetime(&self, item: &Item) -> Res<(Node, Kind)> {
        let val: String = item
            .val
            .chars()
            .map(|c| match c {
                'z' => 'Z',
                't' | ' ' => 'T',
                c => c,
            })
            .collect();
        for (layout, zone) in &TOML_LAYOUTS {
            if let Some(parsed) = go_parse_time(layout, &val) {
                if missing_leading_zero(&val, layout) {
                    break;
                }
                if let Some(t) = toml_time(&parsed, zone) {
                    return Ok((Node::Scalar(t), Kind::Other));
                }
                break;
            }
        }
        Err(self.fail(item.line, format!("invalid datetime: {}", quote(&val))))
    }

    fn value_array(&mut self, item: &Item) -> Res<(Node, Kind)> {
        let key = self.current_key.clone();
        self.set_type(&key, Kind::Array);
        self.check_depth(1, item.line)?;
        self.arrays += 1;
        let mut items = Vec::new();
        loop {
            let it = self.next()?;
            if it.typ == ItemType::ArrayEnd {
                break;
            }
            if it.typ == ItemType::CommentStart {
                self.expect(ItemType::Text)?;
                continue;
            }
            let (v, _) = self.value(it, true)?;
            items.push(v);
        }
        self.arrays -= 1;
        Ok((Node::Array(items), Kind::Array))
    }

    fn value_inline_table(&mut self, item: &Item, parent_is_array: bool) -> Res<(Node, Kind)> {
        let (top, outer_context, outer_key) = self.inline_table_open(item, parent_is_array)?;
        let prev_context = self.context.clone();
        loop {
            let it = self.next()?;
            if it.typ == ItemType::InlineTableEnd {
                break;
            }
            if it.typ == ItemType::CommentStart {
                self.expect(ItemType::Text)?;
                continue;
            }
            let parents = self.read_key()?;
            let v_item = self.next()?;
            let (val, kind) = self.value(v_item, false)?;
            self.inline_table_set(top, &parents, val, kind)?;
            self.context.clone_from(&prev_context);
        }
        self.context = outer_context;
        self.current_key = outer_key;
        Ok((Node::Table(top), Kind::Hash))
    }

    /// Enters an inline table: its key becomes the context (the library also builds it in
    /// the document at that key). Returns the new table and the context to restore.
    #[inline(never)]
    fn inline_table_open(
        &mut self,
        item: &Item,
        parent_is_array: bool,
    ) -> Res<(usize, Vec<String>, String)> {
        self.check_depth(1, item.line)?;
        let top = self.new_table();
        let outer_context = self.context.clone();
        let outer_key = std::mem::take(&mut self.current_key);
        self.context.push(outer_key.clone());
        let context = self.context.clone();
        self.add_implicit(&context);
        self.add_context(&context, parent_is_array)?;
        Ok((top, outer_context, outer_key))
    }

    /// Sets one `key = value` of an inline table, in the document and in the table itself.
    #[inline(never)]
    fn inline_table_set(
        &mut self,
        top: usize,
        parents: &[String],
        val: Node,
        kind: Kind,
    ) -> Res<()> {
        let key = self.current_key.clone();
        self.set_value(&key, val.clone())?;
        self.set_type(&key, kind);
        let mut hash = top;
        for c in parents {
            let h = match self.tables[hash].get(c) {
                Some(h) => h.clone(),
                None => {
                    let t = self.new_table();
                    self.tables[hash].insert(c.clone(), Node::Table(t));
                    Node::Table(t)
                }
            };
            match h {
                Node::Table(id) => hash = id,
                _ => {
                    return Err(
                        self.panicf(format!("{} is not a table", quote_key_list(&self.context)))
                    );
                }
            }
        }
        self.tables[hash].insert(key, val);
        Ok(())
    }

    /// Go's `addContext`: makes `key` the table in scope, creating implicit parents, a new
    /// element when it names an array of tables.
    fn add_context(&mut self, key: &[String], array: bool) -> Res<()> {
        let Some((last, parents)) = key.split_last() else {
            return Err(Self::bug("empty table name".into()));
        };
        let mut hash = ROOT;
        let mut key_ctx: Vec<String> = Vec::with_capacity(key.len());
        for k in parents {
            key_ctx.push(k.clone());
            if !self.tables[hash].contains_key(k) {
                self.add_implicit(&key_ctx);
                let t = self.new_table();
                self.tables[hash].insert(k.clone(), Node::Table(t));
            }
            hash = match self.tables[hash].get(k) {
                Some(Node::TableArray(v)) => match v.last() {
                    Some(id) => *id,
                    None => return Err(Self::bug("empty array of tables".into())),
                },
                Some(Node::Table(id)) => *id,
                _ => {
                    return Err(self.panicf(format!(
                        "Key '{}' was already created as a hash.",
                        key_string(&key_ctx)
                    )));
                }
            };
        }
        self.context = key_ctx;
        if array {
            if !self.tables[hash].contains_key(last) {
                self.tables[hash].insert(last.clone(), Node::TableArray(Vec::new()));
            }
            if matches!(self.tables[hash].get(last), Some(Node::TableArray(_))) {
                let t = self.new_table();
                if let Some(Node::TableArray(v)) = self.tables[hash].get_mut(last) {
                    v.push(t);
                }
            } else {
                return Err(self.panicf(format!(
                    "Key '{}' was already created and cannot be used as an array.",
                    key_string(key)
                )));
            }
        } else {
            let t = self.new_table();
            self.set_value(last, Node::Table(t))?;
        }
        self.context.push(last.clone());
        Ok(())
    }

    /// Go's `setValue`: sets `key` in the table in scope, unless it is already defined
    /// (which is allowed once for a table that was only implied, and replaces it when it was
    /// an array).
    fn set_value(&mut self, key: &str, value: Node) -> Res<()> {
        let mut hash = ROOT;
        let mut key_ctx: Vec<String> = Vec::with_capacity(self.context.len() + 1);
        for k in &self.context {
            key_ctx.push(k.clone());
            hash = match self.tables[hash].get(k) {
                None => {
                    return Err(Self::bug(format!(
                        "Context for key '{}' has not been established.",
                        key_string(&key_ctx)
                    )));
                }
                Some(Node::TableArray(v)) => match v.last() {
                    Some(id) => *id,
                    None => return Err(Self::bug("empty array of tables".into())),
                },
                Some(Node::Table(id)) => *id,
                Some(_) => {
                    return Err(self.panicf(format!(
                        "Key '{}' has already been defined.",
                        key_string(&key_ctx)
                    )));
                }
            };
        }
        key_ctx.push(key.to_string());
        if self.tables[hash].contains_key(key) {
            let ks = key_string(&key_ctx);
            if self.implicits.contains(&ks) {
                if self.key_info.get(&ks) == Some(&Kind::Array) {
                    self.tables[hash].insert(key.to_string(), value);
                }
                self.implicits.remove(&ks);
                return Ok(());
            }
            return Err(self.panicf(format!("Key '{ks}' has already been defined.")));
        }
        self.tables[hash].insert(key.to_string(), value);
        Ok(())
    }

    fn set_type(&mut self, key: &str, kind: Kind) {
        let mut key_ctx = self.context.clone();
        if !key.is_empty() {
            key_ctx.push(key.to_string());
        }
        if key_ctx.is_empty() {
            key_ctx.push(String::new());
        }
        self.key_info.insert(key_string(&key_ctx), kind);
    }

    fn add_implicit(&mut self, key: &[String]) {
        self.implicits.insert(key_string(key));
    }

    fn add_implicit_context(&mut self, key: &[String]) -> Res<()> {
        self.add_implicit(key);
        self.add_context(key, false)
    }

    fn replace_escapes(&self, item: &Item, s: &str) -> Res<String> {
        let mut out = String::with_capacity(s.len());
        let bytes = s.as_bytes();
        let mut skip = 0;
        for (i, c) in s.char_indices() {
            if skip > 0 {
                skip -= 1;
                continue;
            }
            if c != '\\' {
                out.push(c);
                continue;
            }
            let Some(&e) = bytes.get(i + 1) else {
                return Err(Self::bug("Escape sequence at end of string.".into()));
            };
            let hex = |n: usize| s.get(i + 2..i + 2 + n).unwrap_or("");
            match e {
                b' ' | b'\t' => {
                    return Err(
                        self.fail(item.line, format!("invalid escape: '\\{}'", char::from(e)))
                    );
                }
                b'b' => out.push('\u{8}'),
                b't' => out.push('\t'),
                b'n' => out.push('\n'),
                b'f' => out.push('\u{c}'),
                b'r' => out.push('\r'),
                b'e' => out.push('\u{1b}'),
                b'"' => out.push('"'),
                b'\\' => out.push('\\'),
                b'x' => out.push(self.ascii_escape_to_unicode(item, hex(2))?),
                b'u' => out.push(self.ascii_escape_to_unicode(item, hex(4))?),
                b'U' => out.push(self.ascii_escape_to_unicode(item, hex(8))?),
                other => {
                    return Err(Self::bug(format!(
                        "Expected valid escape code after \\, but got {}.",
                        quote_rune(char::from(other))
                    )));
                }
            }
            skip = match e {
                b'x' => 3,
                b'u' => 5,
                b'U' => 9,
                _ => 1,
            };
        }
        Ok(out)
    }

    fn ascii_escape_to_unicode(&self, item: &Item, hex: &str) -> Res<char> {
        let Ok(n) = u32::from_str_radix(hex, 16) else {
            return Err(Self::bug(format!(
                "Could not parse '{hex}' as a hexadecimal number, but the lexer claims it's OK"
            )));
        };
        char::from_u32(n).ok_or_else(|| {
            self.fail(
                item.line,
                format!("Escaped character '\\u{hex}' is not valid UTF-8."),
            )
        })
    }

    /// The Go value of a table.
    fn table_value(&self, id: usize) -> Value {
        let entries = self.tables[id]
            .iter()
            .map(|(k, v)| (k.clone(), self.node_value(v)))
            .collect();
        Value::map(entries)
    }

    fn node_value(&self, node: &Node) -> Value {
        match node {
            Node::Scalar(v) => v.clone(),
            Node::Table(id) => self.table_value(*id),
            Node::TableArray(ids) => Value::typed_list(
                Elem::Map,
                ids.iter().map(|id| self.table_value(*id)).collect(),
            ),
            Node::Array(items) => Value::list(items.iter().map(|n| self.node_value(n)).collect()),
        }
    }
}

/// Go's `%q` of a `[]string`: `["a" "b"]`.
fn quote_key_list(key: &[String]) -> String {
    let parts: Vec<String> = key.iter().map(|k| quote(k)).collect();
    format!("[{}]", parts.join(" "))
}

fn strip_first_newline(s: &str) -> &str {
    s.strip_prefix('\n')
        .or_else(|| s.strip_prefix("\r\n"))
        .unwrap_or(s)
}

/// Removes line-ending backslashes and the whitespace after them.
fn strip_escaped_newlines(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut s = s;
    let mut i = 0;
    loop {
        let Some(ix) = s[i..].find('\\') else {
            out.push_str(s);
            return out;
        };
        i += ix;
        let b = s.as_bytes();
        if b.get(i + 1) == Some(&b'\\') {
            i += 2;
            continue;
        }
        let mut j = i + 1;
        while j < b.len() && matches!(b[j], b' ' | b'\t' | b'\r' | b'\n') {
            j += 1;
        }
        if j == i + 1 || !s[i..j].contains('\n') {
            i += 1;
            continue;
        }
        out.push_str(&s[..i]);
        s = &s[j..];
        i = 0;
    }
}

fn num_has_leading_zero(s: &str) -> bool {
    let b = s.as_bytes();
    (b.len() > 1 && b[0] == b'0' && !matches!(b[1], b'b' | b'o' | b'x'))
        || (b.len() > 2 && matches!(b[0], b'-' | b'+') && b[1] == b'0')
}

fn num_underscores_ok(s: &str) -> bool {
    if matches!(s, "nan" | "+nan" | "-nan" | "inf" | "-inf" | "+inf") {
        return true;
    }
    let mut accept = false;
    for c in s.chars() {
        if c == '_' && !accept {
            return false;
        }
        accept = is_hex(c);
    }
    accept
}

fn num_periods_ok(s: &str) -> bool {
    let mut period = false;
    for c in s.chars() {
        if period && !c.is_ascii_digit() {
            return false;
        }
        period = c == '.';
    }
    !period
}

#[derive(Debug, PartialEq, Eq)]
pub(super) enum NumError {
    Syntax,
    Range,
}

/// Go's `strconv.ParseInt(s, 0, 64)`: base prefixes (`0x`, `0o`, `0b`, a leading `0` for
/// octal) and underscores.
pub(super) fn go_parse_int(s: &str) -> Result<i64, NumError> {
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let magnitude = go_parse_uint(body)?;
    if neg {
        if magnitude > 1u64 << 63 {
            return Err(NumError::Range);
        }
        Ok((magnitude as i64).wrapping_neg())
    } else {
        i64::try_from(magnitude).map_err(|_| NumError::Range)
    }
}

/// Go's `strconv.ParseUint(s, 0, 64)`.
pub(super) fn go_parse_uint(s: &str) -> Result<u64, NumError> {
    if s.is_empty() {
        return Err(NumError::Syntax);
    }
    let b = s.as_bytes();
    let (radix, digits) = if b[0] == b'0' && b.len() >= 3 {
        match b[1].to_ascii_lowercase() {
            b'b' => (2, &s[2..]),
            b'o' => (8, &s[2..]),
            b'x' => (16, &s[2..]),
            _ => (8, &s[1..]),
        }
    } else if b[0] == b'0' {
        (8, &s[1..])
    } else {
        (10, s)
    };
    let mut n: u64 = 0;
    let mut any = radix == 8 && digits.len() < s.len();
    for c in digits.chars() {
        if c == '_' {
            continue;
        }
        let d = c.to_digit(radix).ok_or(NumError::Syntax)?;
        n = n
            .checked_mul(u64::from(radix))
            .and_then(|n| n.checked_add(u64::from(d)))
            .ok_or(NumError::Range)?;
        any = true;
    }
    if !any {
        return Err(NumError::Syntax);
    }
    Ok(n)
}

/// Go's `strconv.ParseFloat(s, 64)` for decimal text, `inf` and `nan`: out of range is an
/// error, underflow is zero.
pub(super) fn go_parse_float(s: &str) -> Result<f64, NumError> {
    let f: f64 = s.parse().map_err(|_| NumError::Syntax)?;
    if f.is_infinite() && !s.to_ascii_lowercase().contains("inf") {
        return Err(NumError::Range);
    }
    Ok(f)
}

// ---------------------------------------------------------------------------------------
// Date-times

/// An element of a Go time layout (only those these layouts use).
#[derive(Clone, Copy, Debug)]
pub(super) enum El {
    Lit(&'static str),
    /// `2006`.
    Year,
    /// `01` (`true`: two digits) or `1`.
    Month(bool),
    /// `02` or `2`.
    Day(bool),
    /// `15` (one or two digits).
    Hour,
    /// `04` or `4`.
    Minute(bool),
    /// `05` or `5`.
    Second(bool),
    /// `.999999999`.
    Frac,
    /// `Z07:00`.
    Zone,
}

/// A layout: its text (for the library's leading-zero check) and elements.
pub(super) type Layout = (&'static str, &'static [El]);

/// What a layout read from a value.
#[derive(Debug, Default)]
pub(super) struct Parsed {
    year: i16,
    month: i8,
    day: i8,
    hour: i8,
    minute: i8,
    second: i8,
    nanos: i32,
    /// `Some(None)` for `Z`, `Some(Some(seconds))` for an offset.
    zone: Option<Option<i32>>,
}

/// Go's `getnum`: one or two digits (exactly two when `fixed`).
fn getnum(s: &str, fixed: bool) -> Option<(i32, &str)> {
    let b = s.as_bytes();
    if !b.first()?.is_ascii_digit() {
        return None;
    }
    if !b.get(1).is_some_and(u8::is_ascii_digit) {
        if fixed {
            return None;
        }
        return Some((i32::from(b[0] - b'0'), &s[1..]));
    }
    Some((
        i32::from(b[0] - b'0') * 10 + i32::from(b[1] - b'0'),
        &s[2..],
    ))
}

fn days_in(month: i32, year: i32) -> i32 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Go's `time.Parse` for the layouts of [`El`] elements, or `None` where Go fails.
pub(super) fn go_parse_time(layout: &Layout, value: &str) -> Option<Parsed> {
    let (mut year, mut month, mut day) = (0i32, 1i32, 1i32);
    let (mut hour, mut minute, mut second, mut nanos) = (0i32, 0i32, 0i32, 0i32);
    let mut zone = None;
    let mut rest = value;
    for el in layout.1 {
        match *el {
            El::Lit(lit) => rest = rest.strip_prefix(lit)?,
            El::Year => {
                let y = rest.get(..4)?;
                if !y.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                year = y.parse().ok()?;
                rest = &rest[4..];
            }
            El::Month(fixed) => {
                let (m, r) = getnum(rest, fixed)?;
                if !(1..=12).contains(&m) {
                    return None;
                }
                (month, rest) = (m, r);
            }
            El::Day(fixed) => (day, rest) = getnum(rest, fixed)?,
            El::Hour => {
                let (h, r) = getnum(rest, false)?;
                if h >= 24 {
                    return None;
                }
                (hour, rest) = (h, r);
            }
            El::Minute(fixed) => {
                let (m, r) = getnum(rest, fixed)?;
                if m >= 60 {
                    return None;
                }
                (minute, rest) = (m, r);
            }
            El::Second(fixed) => {
                let (s, r) = getnum(rest, fixed)?;
                if s >= 60 {
                    return None;
                }
                (second, rest) = (s, r);
            }
            El::Frac => {
                let b = rest.as_bytes();
                if b.len() >= 2 && matches!(b[0], b'.' | b',') && b[1].is_ascii_digit() {
                    let n = 1 + b[1..].iter().take_while(|c| c.is_ascii_digit()).count();
                    let digits = &rest[1..n.min(10)];
                    let mut ns: i32 = digits.parse().ok()?;
                    for _ in digits.len()..9 {
                        ns *= 10;
                    }
                    nanos = ns;
                    rest = &rest[n..];
                }
            }
            El::Zone => {
                if let Some(r) = rest.strip_prefix('Z') {
                    zone = Some(None);
                    rest = r;
                } else {
                    let b = rest.as_bytes();
                    if b.len() < 6 || b[3] != b':' {
                        return None;
                    }
                    let (hr, _) = getnum(&rest[1..3], true)?;
                    let (mm, _) = getnum(&rest[4..6], true)?;
                    if hr > 24 || mm > 60 {
                        return None;
                    }
                    let offset = (hr * 60 + mm) * 60;
                    let offset = match b[0] {
                        b'+' => offset,
                        b'-' => -offset,
                        _ => return None,
                    };
                    zone = Some(Some(offset));
                    rest = &rest[6..];
                }
            }
        }
    }
    if !rest.is_empty() || day < 1 || day > days_in(month, year) {
        return None;
    }
    Some(Parsed {
        year: i16::try_from(year).ok()?,
        month: i8::try_from(month).ok()?,
        day: i8::try_from(day).ok()?,
        hour: i8::try_from(hour).ok()?,
        minute: i8::try_from(minute).ok()?,
        second: i8::try_from(second).ok()?,
        nanos,
        zone,
    })
}

/// Where a TOML date-time without an offset is placed.
#[derive(Clone, Copy, Debug)]
enum TomlZone {
    /// `time.Local` (the layout has an offset).
    Local,
    Datetime,
    Date,
    Time,
}

const DATE: [El; 5] = [
    El::Year,
    El::Lit("-"),
    El::Month(true),
    El::Lit("-"),
    El::Day(true),
];

const TOML_LAYOUTS: [(Layout, TomlZone); 7] = [
    (
        (
            "2006-01-02T15:04:05.999999999Z07:00",
            &[
                DATE[0],
                DATE[1],
                DATE[2],
                DATE[3],
                DATE[4],
                El::Lit("T"),
                El::Hour,
                El::Lit(":"),
                El::Minute(true),
                El::Lit(":"),
                El::Second(true),
                El::Frac,
                El::Zone,
            ],
        ),
        TomlZone::Local,
    ),
    (
        (
            "2006-01-02T15:04:05.999999999",
            &[
                DATE[0],
                DATE[1],
                DATE[2],
                DATE[3],
                DATE[4],
                El::Lit("T"),
                El::Hour,
                El::Lit(":"),
                El::Minute(true),
                El::Lit(":"),
                El::Second(true),
                El::Frac,
            ],
        ),
        TomlZone::Datetime,
    ),
    (("2006-01-02", &DATE), TomlZone::Date),
    (
        (
            "15:04:05.999999999",
            &[
                El::Hour,
                El::Lit(":"),
                El::Minute(true),
                El::Lit(":"),
                El::Second(true),
                El::Frac,
            ],
        ),
        TomlZone::Time,
    ),
    (
        (
            "2006-01-02T15:04Z07:00",
            &[
                DATE[0],
                DATE[1],
                DATE[2],
                DATE[3],
                DATE[4],
                El::Lit("T"),
                El::Hour,
                El::Lit(":"),
                El::Minute(true),
                El::Zone,
            ],
        ),
        TomlZone::Local,
    ),
    (
        (
            "2006-01-02T15:04",
            &[
                DATE[0],
                DATE[1],
                DATE[2],
                DATE[3],
                DATE[4],
                El::Lit("T"),
                El::Hour,
                El::Lit(":"),
                El::Minute(true),
            ],
        ),
        TomlZone::Datetime,
    ),
    (
        ("15:04", &[El::Hour, El::Lit(":"), El::Minute(true)]),
        TomlZone::Time,
    ),
];

/// The library's check for a one-digit hour (which Go's parser accepts): a separator of
/// the layout not where the layout has it.
fn missing_leading_zero(value: &str, layout: &Layout) -> bool {
    let v = value.as_bytes();
    for (i, c) in layout.0.bytes().enumerate() {
        if c == b'.' || c == b'Z' {
            return false;
        }
        if !c.is_ascii_digit() && v.get(i) != Some(&c) {
            return true;
        }
    }
    false
}

/// The system's local zone (Go's `time.Local`).
fn local_zone() -> TimeZone {
    TimeZone::try_system().unwrap_or(TimeZone::UTC)
}

/// The local zone's offset when the process started looking (the library takes it once).
static LOCAL_OFFSET: LazyLock<i32> =
    LazyLock::new(|| local_zone().to_offset(Timestamp::now()).seconds());

/// A zone with a fixed offset and a name: Go's `time.FixedZone(name, offset)`. An empty
/// name shows as the offset (`-0700`), as Go shows it.
fn fixed_zone(name: &str, offset: i32) -> TimeZone {
    let a = offset.unsigned_abs();
    let (h, m, s) = (a / 3600, a / 60 % 60, a % 60);
    let name = if name.is_empty() {
        format!("{}{h:02}{m:02}", if offset < 0 { '-' } else { '+' })
    } else {
        name.to_string()
    };
    // POSIX offsets count west of UTC.
    let sign = if offset > 0 { '-' } else { '+' };
    let posix = format!("<{name}>{sign}{h}:{m:02}:{s:02}");
    TimeZone::posix(&posix)
        .unwrap_or_else(|_| Offset::from_seconds(offset).map_or(TimeZone::UTC, TimeZone::fixed))
}

/// The `time.Time` the library makes of a parsed TOML date-time.
fn toml_time(p: &Parsed, zone: &TomlZone) -> Option<Value> {
    let dt = Date::new(p.year, p.month, p.day)
        .ok()?
        .at(p.hour, p.minute, p.second, p.nanos);
    let t = match (zone, p.zone) {
        (TomlZone::Local, Some(None)) => {
            GoTime::in_zone(TimeZone::UTC.to_timestamp(dt).ok()?, &TimeZone::UTC)
        }
        (TomlZone::Local, Some(Some(offset))) => {
            let ts = Offset::from_seconds(offset).ok()?.to_timestamp(dt).ok()?;
            let local = local_zone();
            if local.to_offset(ts).seconds() == offset {
                GoTime::in_zone(ts, &local)
            } else {
                GoTime::in_zone(ts, &fixed_zone("", offset))
            }
        }
        (TomlZone::Local, None) => return None,
        (local, _) => {
            let name = match local {
                TomlZone::Datetime => "datetime-local",
                TomlZone::Date => "date-local",
                _ => "time-local",
            };
            let tz = fixed_zone(name, *LOCAL_OFFSET);
            GoTime::in_zone(tz.to_timestamp(dt).ok()?, &tz)
        }
    };
    Some(Value::Object(std::sync::Arc::new(t)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_of(text: &str) -> String {
        match parse(text) {
            Err(Fail::Parse(e)) => e.to_string(),
            other => panic!("{text:?}: {other:?}"),
        }
    }

    #[test]
    fn fixed_zones_are_named_like_go() {
        let t = GoTime::in_zone(Timestamp::UNIX_EPOCH, &fixed_zone("", -4 * 3600));
        assert_eq!(t.format("MST -0700"), "-0400 -0400");
        let t = GoTime::in_zone(Timestamp::UNIX_EPOCH, &fixed_zone("datetime-local", 5400));
        assert_eq!(t.format("MST -07:00"), "datetime-local +01:30");
    }

    #[test]
    fn go_integers() {
        assert_eq!(go_parse_int("0x_ff"), Ok(255));
        assert_eq!(go_parse_int("-9223372036854775808"), Ok(i64::MIN));
        assert_eq!(go_parse_int("9223372036854775808"), Err(NumError::Range));
        assert_eq!(go_parse_int("0"), Ok(0));
        assert_eq!(go_parse_int("0x"), Err(NumError::Syntax));
        assert_eq!(go_parse_int("0755"), Ok(493));
        assert_eq!(go_parse_int("08"), Err(NumError::Syntax));
    }

    /// Template functions run on a thread with at least 8 MiB of stack (the executor's
    /// smallest); the deepest document allowed must parse on it.
    fn on_exec_stack<T: Send>(f: impl FnOnce() -> T + Send) -> T {
        std::thread::scope(|s| {
            std::thread::Builder::new()
                .stack_size(8 << 20)
                .spawn_scoped(s, f)
                .map(|h| h.join())
        })
        .ok()
        .and_then(Result::ok)
        .expect("thread")
    }

    #[test]
    fn deep_nesting_is_an_error() {
        on_exec_stack(|| {
            let text = format!("a = {}", "[".repeat(200_000));
            assert_eq!(
                error_of(&text),
                "toml: line 1 (last key \"a\"): nesting deeper than 1000 levels"
            );
            let text = format!("[{}]", vec!["a"; 5000].join("."));
            assert!(error_of(&text).contains("nesting deeper than 1000 levels"));
            let text = format!("{} = 1", vec!["a"; 5000].join("."));
            assert!(error_of(&text).contains("nesting deeper than 1000 levels"));
            let text = format!("a = {}", "{b = ".repeat(5000));
            assert!(error_of(&text).contains("nesting deeper than 1000 levels"));
            // The deepest allowed: 999 levels under `a`, arrays and inline tables mixed.
            let text = format!("a = {}1{}", "[{b = ".repeat(499), "}]".repeat(499));
            assert!(matches!(parse(&text), Ok(Value::Map(_))));
        });
    }
}
