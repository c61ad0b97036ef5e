//! Writing `serde_json::Value` the way sigs.k8s.io/yaml prints JSON (yaml.v2's emitter):
//! natural key order, two-space indentation, sequences not indented under their key,
//! YAML 1.1-aware quoting, literal blocks for multi-line strings, and folding at 80 columns.

use std::borrow::Cow;

use serde_json::{Map, Number, Value};

const BEST_WIDTH: usize = 80;
const INDENT: usize = 2;

/// Prints one document (without a `---` separator), ending in a newline.
pub fn to_string(value: &Value) -> String {
    let mut e = Emitter::default();
    e.document(value);
    e.out
}

/// The text of a non-string scalar as it would be printed (`true`, `2`, `1.5`); compound
/// values as compact JSON.
pub fn scalar_text(value: &Value) -> String {
    match value {
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => number(n),
        Value::Null => "null".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Prints one value as Helm's `toYaml` does (sigs.k8s.io/yaml `Marshal`): keys sorted at
/// every level in yaml.v2's natural order, ending in a newline (the template function trims
/// that newline itself).
///
/// The order never depends on how the value was built: the emitter sorts every mapping, so
/// this holds whether or not `serde_json`'s `preserve_order` feature is on (it is off in this
/// workspace, where `Map` is a `BTreeMap` in byte order, which is not yaml.v2's order).
pub fn to_string_sorted(value: &Value) -> String {
    to_string(value)
}

/// Prints documents separated by `---` lines, as `kubectl kustomize` does.
pub fn to_string_multi(values: &[Value]) -> String {
    let mut e = Emitter::default();
    for (i, value) in values.iter().enumerate() {
        if i > 0 {
            e.out.push_str("---\n");
        }
        e.document(value);
    }
    e.out
}

/// [`to_string_multi`] written to `out` a document at a time, so that the whole text is never
/// in memory at once.
///
/// # Errors
/// Errors of `out`.
pub fn to_writer_multi(values: &[Value], out: &mut dyn std::io::Write) -> std::io::Result<()> {
    let mut e = Emitter::default();
    for (i, value) in values.iter().enumerate() {
        e.out.clear();
        if i > 0 {
            e.out.push_str("---\n");
        }
        e.document(value);
        out.write_all(e.out.as_bytes())?;
    }
    Ok(())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Context {
    Root,
    /// Value of a mapping key (written after `key:`).
    MapValue,
    /// Item of a block sequence (written after `- `).
    SeqItem,
}

/// Writes into one buffer, tracking the column (in characters) for folding. Text is written
/// in runs, never a character at a time, and nothing is allocated per scalar.
#[derive(Default)]
struct Emitter {
    out: String,
    column: usize,
}

impl Emitter {
    /// Writes one document at the end of the buffer (which is empty or ends in a newline),
    /// ending it with a newline.
    fn document(&mut self, value: &Value) {
        self.column = 0;
        self.node(value, 0, Context::Root);
        if !self.out.ends_with('\n') {
            self.out.push('\n');
        }
    }

    /// Writes text without `\n` (libyaml's writer starts a new column count only there;
    /// the callers split at line breaks or escape them).
    fn write_run(&mut self, s: &str) {
        debug_assert!(!s.contains('\n'));
        self.column += s.chars().count();
        self.out.push_str(s);
    }

    /// Writes ASCII text without line breaks.
    fn write_ascii(&mut self, s: &str) {
        debug_assert!(s.is_ascii() && !s.contains('\n'));
        self.column += s.len();
        self.out.push_str(s);
    }

    fn spaces(&mut self, n: usize) {
        const SPACES: &str = "                                                                ";
        let mut left = n;
        while left > 0 {
            let k = left.min(SPACES.len());
            self.out.push_str(&SPACES[..k]);
            left -= k;
        }
        self.column += n;
    }

    fn newline_indent(&mut self, indent: usize) {
        if !self.out.is_empty() && !self.out.ends_with('\n') {
            self.out.push('\n');
        }
        self.column = 0;
        self.spaces(indent);
    }

    /// Writes `value` whose block content is indented by `indent`.
    fn node(&mut self, value: &Value, indent: usize, ctx: Context) {
        match value {
            Value::Object(map) if !map.is_empty() => self.mapping(map, indent, ctx),
            Value::Array(items) if !items.is_empty() => self.sequence(items, indent, ctx),
            Value::Object(_) => self.inline("{}", ctx),
            Value::Array(_) => self.inline("[]", ctx),
            Value::Null => self.inline("null", ctx),
            Value::Bool(b) => self.inline(if *b { "true" } else { "false" }, ctx),
            Value::Number(n) => self.inline(&number(n), ctx),
            Value::String(s) => {
                if ctx == Context::MapValue {
                    self.write_ascii(" ");
                }
                // Scalars nested in a block collection continue one level deeper.
                self.string(
                    s,
                    indent + if ctx == Context::Root { 0 } else { INDENT },
                    false,
                );
            }
        }
    }

    fn inline(&mut self, text: &str, ctx: Context) {
        if ctx == Context::MapValue {
            self.write_ascii(" ");
        }
        self.write_ascii(text);
    }

    fn mapping(&mut self, map: &Map<String, Value>, indent: usize, ctx: Context) {
        let mut entries: Vec<(&String, &Value)> = map.iter().collect();
        // Byte order (the map's) mostly agrees with the natural order already, which the
        // stable sort finds in one pass.
        entries.sort_by(|a, b| natural_order(a.0, b.0));
        for (i, (key, value)) in entries.into_iter().enumerate() {
            // The first key of a sequence item shares the `- ` line.
            if !(i == 0 && ctx == Context::SeqItem) {
                self.newline_indent(indent);
            }
            self.string(key, indent, true);
            self.write_ascii(":");
            match value {
                Value::Object(m) if !m.is_empty() => {
                    self.mapping(m, indent + INDENT, Context::MapValue)
                }
                // Block sequences under a key are not indented.
                Value::Array(a) if !a.is_empty() => self.sequence(a, indent, Context::MapValue),
                _ => self.node(value, indent, Context::MapValue),
            }
        }
    }

    fn sequence(&mut self, items: &[Value], indent: usize, ctx: Context) {
        for (i, item) in items.iter().enumerate() {
            if !(i == 0 && ctx == Context::SeqItem) {
                self.newline_indent(indent);
            }
            self.write_ascii("- ");
            match item {
                Value::Object(m) if !m.is_empty() => {
                    self.mapping(m, indent + INDENT, Context::SeqItem);
                }
                Value::Array(a) if !a.is_empty() => {
                    self.sequence(a, indent + INDENT, Context::SeqItem);
                }
                Value::String(s) => self.string(s, indent + INDENT, false),
                other => self.node(other, indent + INDENT, Context::SeqItem),
            }
        }
    }

    /// Writes a string scalar in the style yaml.v2 picks. `indent` is where continuation
    /// lines and block content start.
    fn string(&mut self, s: &str, indent: usize, simple_key: bool) {
        // Most keys and many values are words (`name`, `apps/v1`, `my-app.v2`) that print
        // as they are: skip the analysis for them.
        if is_simple_plain(s) {
            self.write_ascii(s);
            return;
        }
        let a = analyze(s);
        let style = if s.contains('\n') {
            Style::Literal
        } else if plain_is_unambiguous(s) {
            Style::Plain
        } else {
            Style::Double
        };
        let style = match style {
            Style::Literal if simple_key || !a.block_allowed => Style::Double,
            Style::Plain if simple_key && a.multiline => Style::Double,
            Style::Plain if !a.block_plain_allowed || (s.is_empty() && simple_key) => {
                if a.single_quoted_allowed {
                    Style::Single
                } else {
                    Style::Double
                }
            }
            other => other,
        };
        // A folded line of a document-level scalar starts at column 0, where `---` or `...`
        // would end the document (found by fuzzing): document-level scalars are not folded.
        let allow_breaks = !simple_key && indent > 0;
        match style {
            Style::Plain => self.plain(s, indent, allow_breaks),
            Style::Single => self.single_quoted(s, indent, allow_breaks),
            Style::Double => self.double_quoted(s, indent, allow_breaks),
            // A document-level literal (Helm's `toYaml "a\nb"`) has its lines indented by
            // two, as yaml.v2 writes it (recorded from helm v4.1.4), so that no line of it
            // can read as `---` or `...` and an indentation indicator (`|2`) reads back.
            Style::Literal if indent == 0 => self.literal(s, 2),
            Style::Literal => self.literal(s, indent),
        }
    }

    /// Folds at a space once past [`BEST_WIDTH`], unless the space starts or continues a run
    /// of spaces.
    fn plain(&mut self, s: &str, indent: usize, allow_breaks: bool) {
        let b = s.as_bytes();
        let mut spaces = false;
        let mut start = 0;
        for i in (0..b.len()).filter(|&i| b[i] == b' ') {
            if start < i {
                self.write_run(&s[start..i]);
                spaces = false;
            }
            let next_is_space = b.get(i + 1) == Some(&b' ');
            if allow_breaks && !spaces && self.column > BEST_WIDTH && !next_is_space {
                self.newline_indent(indent);
            } else {
                self.write_ascii(" ");
            }
            spaces = true;
            start = i + 1;
        }
        if start < b.len() {
            self.write_run(&s[start..]);
        }
    }

    fn single_quoted(&mut self, s: &str, indent: usize, allow_breaks: bool) {
        self.write_ascii("'");
        let b = s.as_bytes();
        let mut spaces = false;
        let mut start = 0;
        for i in (0..b.len()).filter(|&i| matches!(b[i], b' ' | b'\'')) {
            if start < i {
                self.write_run(&s[start..i]);
                spaces = false;
            }
            if b[i] == b'\'' {
                self.write_ascii("''");
                spaces = false;
            } else {
                let next_is_space = b.get(i + 1) == Some(&b' ');
                if allow_breaks
                    && !spaces
                    && self.column > BEST_WIDTH
                    && i != 0
                    && i + 1 != b.len()
                    && !next_is_space
                {
                    self.newline_indent(indent);
                } else {
                    self.write_ascii(" ");
                }
                spaces = true;
            }
            start = i + 1;
        }
        if start < b.len() {
            self.write_run(&s[start..]);
        }
        self.write_ascii("'");
    }

    fn double_quoted(&mut self, s: &str, indent: usize, allow_breaks: bool) {
        self.write_ascii("\"");
        let b = s.as_bytes();
        let mut spaces = false;
        let mut start = 0;
        let mut i = 0;
        while i < b.len() {
            // ASCII is decided by its byte; other characters are decoded.
            let (c, len) = if b[i].is_ascii() {
                (char::from(b[i]), 1)
            } else {
                let c = s[i..].chars().next().unwrap_or_default();
                (c, c.len_utf8())
            };
            let escaped = needs_escape(c);
            if !escaped && c != ' ' {
                i += len;
                continue;
            }
            if start < i {
                self.write_run(&s[start..i]);
                spaces = false;
            }
            if escaped {
                self.write_ascii(&escape(c));
                spaces = false;
            } else {
                if allow_breaks && !spaces && self.column > BEST_WIDTH && i != 0 && i + 1 != b.len()
                {
                    self.newline_indent(indent);
                    if b.get(i + 1) == Some(&b' ') {
                        self.write_ascii("\\");
                    }
                } else {
                    self.write_ascii(" ");
                }
                spaces = true;
            }
            i += len;
            start = i;
        }
        if start < b.len() {
            self.write_run(&s[start..]);
        }
        self.write_ascii("\"");
    }

    /// Every line break (`\r`, NEL and the Unicode separators too) is written as `\n`; empty
    /// lines get no indentation.
    fn literal(&mut self, s: &str, indent: usize) {
        self.write_ascii("|");
        if s.chars().next().is_some_and(|c| c == ' ' || is_break(c)) {
            self.write_ascii("2");
        }
        let mut rev = s.chars().rev();
        let (last, before_last) = (rev.next(), rev.next());
        if !last.is_some_and(is_break) {
            self.write_ascii("-");
        } else if before_last.is_none_or(is_break) {
            self.write_ascii("+");
        }
        self.out.push('\n');
        self.column = 0;
        if s.is_ascii() && !s.as_bytes().contains(&b'\r') {
            // Only `\n` breaks these lines: let the library's fast search find them.
            for (i, text) in s.split('\n').enumerate() {
                if i > 0 {
                    self.out.push('\n');
                    self.column = 0;
                }
                self.line(text, indent);
            }
            return;
        }
        let mut start = 0;
        while let Some((i, len)) = next_break(s, start) {
            self.line(&s[start..i], indent);
            self.out.push('\n');
            self.column = 0;
            start = i + len;
        }
        self.line(&s[start..], indent);
    }

    /// One line of a literal block: indented unless empty.
    fn line(&mut self, text: &str, indent: usize) {
        if !text.is_empty() {
            self.spaces(indent);
            self.write_run(text);
        }
    }
}

/// The next line break (as [`is_break`] knows them) at or after byte `from` of `s`: its
/// offset and length in bytes.
fn next_break(s: &str, from: usize) -> Option<(usize, usize)> {
    let b = s.as_bytes();
    let mut i = from;
    while i < b.len() {
        match b[i] {
            b'\n' | b'\r' => return Some((i, 1)),
            // U+0085, U+2028 and U+2029 (0xC2 and 0xE2 only ever lead a character).
            0xC2 if b.get(i + 1) == Some(&0x85) => return Some((i, 2)),
            0xE2 if b.get(i + 1) == Some(&0x80) && matches!(b.get(i + 2), Some(0xA8 | 0xA9)) => {
                return Some((i, 3));
            }
            _ => i += 1,
        }
    }
    None
}

/// A word that prints plain with no analysis: an ASCII letter, then letters, digits and
/// `-_./`, and not one of the words YAML 1.1 reads as something else. Every check of
/// [`analyze`] and [`plain_is_unambiguous`] passes for such a string.
fn is_simple_plain(s: &str) -> bool {
    let b = s.as_bytes();
    b.first().is_some_and(u8::is_ascii_alphabetic)
        && b.iter()
            .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.' | b'/'))
        && !is_yaml11_special(s)
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Style {
    Plain,
    Single,
    Double,
    Literal,
}

/// Which styles can represent a string (libyaml's scalar analysis).
struct Analysis {
    multiline: bool,
    block_plain_allowed: bool,
    single_quoted_allowed: bool,
    block_allowed: bool,
}

fn is_break(c: char) -> bool {
    matches!(c, '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

fn is_blank_or_end(c: Option<char>) -> bool {
    matches!(c, None | Some(' ' | '\t')) || c.is_some_and(is_break)
}

fn is_printable(c: char) -> bool {
    // Characters outside the Basic Multilingual Plane are not printable to kubectl's
    // emitter: a string holding one is double-quoted with a `\U` escape.
    matches!(c, '\n' | '\u{20}'..='\u{7E}' | '\u{85}' | '\u{A0}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}')
        && c != '\u{FEFF}'
}

fn analyze(s: &str) -> Analysis {
    if s.is_empty() {
        return Analysis {
            multiline: false,
            block_plain_allowed: true,
            single_quoted_allowed: true,
            block_allowed: false,
        };
    }
    let block_indicators = s.starts_with("---") || s.starts_with("...");
    // Most strings are ASCII, where one byte decides each step.
    if s.is_ascii() {
        analyze_ascii(s.as_bytes(), block_indicators)
    } else {
        analyze_chars(s.chars(), block_indicators)
    }
    .verdict()
}

/// What libyaml's scalar analysis notices in a non-empty string.
#[derive(Default)]
struct Found {
    block_indicators: bool,
    leading_space: bool,
    leading_break: bool,
    trailing_space: bool,
    trailing_break: bool,
    break_space: bool,
    space_break: bool,
    line_breaks: bool,
    special: bool,
}

impl Found {
    fn verdict(self) -> Analysis {
        let mut a = Analysis {
            multiline: self.line_breaks,
            block_plain_allowed: true,
            single_quoted_allowed: true,
            block_allowed: true,
        };
        if self.leading_space || self.leading_break || self.trailing_space || self.trailing_break {
            a.block_plain_allowed = false;
        }
        if self.trailing_space {
            a.block_allowed = false;
        }
        if self.break_space {
            a.block_plain_allowed = false;
            a.single_quoted_allowed = false;
        }
        if self.space_break || self.special {
            a.block_plain_allowed = false;
            a.single_quoted_allowed = false;
            a.block_allowed = false;
        }
        if self.line_breaks || self.block_indicators {
            a.block_plain_allowed = false;
        }
        a
    }
}

/// [`analyze_chars`] for a non-empty ASCII string, a byte at a time.
fn analyze_ascii(b: &[u8], block_indicators: bool) -> Found {
    let blank_or_break = |c: u8| matches!(c, b' ' | b'\t' | b'\r' | b'\n');
    let followed_by_whitespace = |i: usize| b.get(i + 1).is_none_or(|&c| blank_or_break(c));
    let (first, last) = (b[0], b[b.len() - 1]);
    let mut f = Found {
        block_indicators: block_indicators
            || b"#,[]{}&*!|>'\"%@`".contains(&first)
            || (matches!(first, b'?' | b':' | b'-') && followed_by_whitespace(0)),
        leading_space: first == b' ',
        leading_break: matches!(first, b'\r' | b'\n'),
        trailing_space: last == b' ',
        trailing_break: matches!(last, b'\r' | b'\n'),
        ..Found::default()
    };
    let (mut previous_space, mut previous_break) = (false, false);
    for (i, &c) in b.iter().enumerate() {
        let (space, line_break) = match c {
            b' ' => (true, false),
            b'\n' | b'\r' => {
                // `\r` is a break that is not printable.
                f.special |= c == b'\r';
                (false, true)
            }
            b':' if i > 0 && followed_by_whitespace(i) => {
                f.block_indicators = true;
                (false, false)
            }
            b'#' if i > 0 && blank_or_break(b[i - 1]) => {
                f.block_indicators = true;
                (false, false)
            }
            0x21..=0x7E => (false, false),
            _ => {
                f.special = true;
                (false, false)
            }
        };
        f.break_space |= space && previous_break;
        f.space_break |= line_break && previous_space;
        f.line_breaks |= line_break;
        previous_space = space;
        previous_break = line_break;
    }
    f
}

/// libyaml's `yaml_emitter_analyze_scalar` over the characters of a non-empty string.
fn analyze_chars(chars: impl Iterator<Item = char>, block_indicators: bool) -> Found {
    let mut f = Found {
        block_indicators,
        ..Found::default()
    };
    let (mut previous_space, mut previous_break) = (false, false);
    let mut preceded_by_whitespace = true;
    let mut chars = chars.peekable();
    let mut first = true;
    while let Some(c) = chars.next() {
        let next = chars.peek().copied();
        let followed_by_whitespace = is_blank_or_end(next);
        if first {
            if "#,[]{}&*!|>'\"%@`".contains(c) {
                f.block_indicators = true;
            }
            if (c == '?' || c == ':') && followed_by_whitespace {
                f.block_indicators = true;
            }
            if c == '-' && followed_by_whitespace {
                f.block_indicators = true;
            }
        } else {
            if c == ':' && followed_by_whitespace {
                f.block_indicators = true;
            }
            if c == '#' && preceded_by_whitespace {
                f.block_indicators = true;
            }
        }
        if !is_printable(c) {
            f.special = true;
        }
        if is_break(c) {
            f.line_breaks = true;
        }
        let last = next.is_none();
        if c == ' ' {
            f.leading_space |= first;
            f.trailing_space |= last;
            f.break_space |= previous_break;
            previous_space = true;
            previous_break = false;
        } else if is_break(c) {
            f.leading_break |= first;
            f.trailing_break |= last;
            f.space_break |= previous_space;
            previous_break = true;
            previous_space = false;
        } else {
            previous_space = false;
            previous_break = false;
        }
        preceded_by_whitespace = is_blank_or_end(Some(c));
        first = false;
    }
    f
}

/// yaml.v2 prints a string plain only if YAML 1.1 reads it back as the same string.
fn plain_is_unambiguous(s: &str) -> bool {
    if s.is_empty() || is_yaml11_special(s) {
        return false;
    }
    let first = s.as_bytes()[0];
    if first.is_ascii_digit() || first == b'-' || first == b'+' || first == b'.' {
        let plain = if s.contains('_') {
            std::borrow::Cow::Owned(s.replace('_', ""))
        } else {
            std::borrow::Cow::Borrowed(s)
        };
        if super::read::go_parse_int(&plain).is_some()
            || super::read::is_yaml_float(&plain)
            || super::read::timestamp(s).is_some()
            || is_base60_float(s)
            || binary_int(&plain)
        {
            return false;
        }
    }
    true
}

/// The words YAML 1.1 reads as null, booleans, infinities, NaN or the merge key.
fn is_yaml11_special(s: &str) -> bool {
    matches!(
        s,
        "~" | "null"
            | "Null"
            | "NULL"
            | "y"
            | "Y"
            | "yes"
            | "Yes"
            | "YES"
            | "n"
            | "N"
            | "no"
            | "No"
            | "NO"
            | "true"
            | "True"
            | "TRUE"
            | "false"
            | "False"
            | "FALSE"
            | "on"
            | "On"
            | "ON"
            | "off"
            | "Off"
            | "OFF"
            | ".inf"
            | ".Inf"
            | ".INF"
            | "+.inf"
            | "+.Inf"
            | "+.INF"
            | "-.inf"
            | "-.Inf"
            | "-.INF"
            | ".nan"
            | ".NaN"
            | ".NAN"
            | "<<"
    )
}

fn binary_int(s: &str) -> bool {
    let body = s.strip_prefix('-').unwrap_or(s);
    body.strip_prefix("0b")
        .is_some_and(|d| !d.is_empty() && d.bytes().all(|c| c == b'0' || c == b'1'))
}

/// `^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$`
fn is_base60_float(s: &str) -> bool {
    let body = s.strip_prefix(['-', '+']).unwrap_or(s);
    let (main, frac) = match body.split_once('.') {
        Some((m, f)) => (m, Some(f)),
        None => (body, None),
    };
    if frac.is_some_and(|f| !f.bytes().all(|c| c.is_ascii_digit() || c == b'_')) {
        return false;
    }
    let mut parts = main.split(':');
    let Some(head) = parts.next() else {
        return false;
    };
    if !head.as_bytes().first().is_some_and(u8::is_ascii_digit)
        || !head.bytes().all(|c| c.is_ascii_digit() || c == b'_')
    {
        return false;
    }
    let rest: Vec<&str> = parts.collect();
    !rest.is_empty()
        && rest.iter().all(|p| {
            let b = p.as_bytes();
            match b.len() {
                1 => b[0].is_ascii_digit(),
                2 => (b'0'..=b'5').contains(&b[0]) && b[1].is_ascii_digit(),
                _ => false,
            }
        })
}

/// Characters a double-quoted scalar writes as escapes.
fn needs_escape(c: char) -> bool {
    if c.is_ascii() {
        return !(' '..='~').contains(&c) || c == '"' || c == '\\';
    }
    !is_printable(c) || is_break(c)
}

fn escape(c: char) -> Cow<'static, str> {
    match c {
        '\0' => "\\0".into(),
        '\u{7}' => "\\a".into(),
        '\u{8}' => "\\b".into(),
        '\t' => "\\t".into(),
        '\n' => "\\n".into(),
        '\u{B}' => "\\v".into(),
        '\u{C}' => "\\f".into(),
        '\r' => "\\r".into(),
        '\u{1B}' => "\\e".into(),
        '"' => "\\\"".into(),
        '\\' => "\\\\".into(),
        '\u{85}' => "\\N".into(),
        '\u{A0}' => "\\_".into(),
        '\u{2028}' => "\\L".into(),
        '\u{2029}' => "\\P".into(),
        c if (c as u32) <= 0xFF => Cow::Owned(format!("\\x{:02X}", c as u32)),
        c if (c as u32) <= 0xFFFF => Cow::Owned(format!("\\u{:04X}", c as u32)),
        c => Cow::Owned(format!("\\U{:08X}", c as u32)),
    }
}

/// yaml.v2's key order: runs of digits compare as numbers, letters sort after other
/// characters at the first difference.
pub fn natural_order(a: &str, b: &str) -> std::cmp::Ordering {
    if a.is_ascii() && b.is_ascii() {
        natural_order_of(a.as_bytes(), b.as_bytes())
    } else {
        let ar: Vec<char> = a.chars().collect();
        let br: Vec<char> = b.chars().collect();
        natural_order_of(&ar, &br)
    }
}

/// A character of a key as [`natural_order`] sees it: bytes of ASCII keys, `char`s of others.
trait Unit: Copy + Ord {
    fn is_letter(self) -> bool;
    /// The decimal digit's value.
    fn digit(self) -> Option<u8>;
}

impl Unit for u8 {
    fn is_letter(self) -> bool {
        self.is_ascii_alphabetic()
    }
    fn digit(self) -> Option<u8> {
        self.is_ascii_digit().then(|| self - b'0')
    }
}

impl Unit for char {
    fn is_letter(self) -> bool {
        self.is_alphabetic()
    }
    fn digit(self) -> Option<u8> {
        self.is_ascii_digit().then(|| self as u8 - b'0')
    }
}

fn natural_order_of<T: Unit>(ar: &[T], br: &[T]) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    let Some(i) = ar.iter().zip(br).position(|(a, b)| a != b) else {
        return ar.len().cmp(&br.len());
    };
    let (al, bl) = (ar[i].is_letter(), br[i].is_letter());
    if al && bl {
        return ar[i].cmp(&br[i]);
    }
    if al || bl {
        return if bl {
            Ordering::Less
        } else {
            Ordering::Greater
        };
    }
    // Compare the digit runs starting here numerically; a zero inside a number that
    // started earlier keeps both sides non-zero so that the run lengths decide.
    let (mut an, mut bn): (i128, i128) = (0, 0);
    if ar[i].digit() == Some(0) || br[i].digit() == Some(0) {
        let mut j = i;
        while j > 0 && ar[j - 1].digit().is_some() {
            j -= 1;
            if ar[j].digit() != Some(0) {
                an = 1;
                bn = 1;
                break;
            }
        }
    }
    let run = |units: &[T], n: &mut i128| {
        let mut k = i;
        while let Some(d) = units.get(k).and_then(|u| u.digit()) {
            *n = n.saturating_mul(10).saturating_add(i128::from(d));
            k += 1;
        }
        k
    };
    let (ai, bi) = (run(ar, &mut an), run(br, &mut bn));
    if an != bn {
        return an.cmp(&bn);
    }
    if ai != bi {
        return ai.cmp(&bi);
    }
    ar[i].cmp(&br[i])
}

/// A number as JSON (Go's encoding) then yaml.v2 print it: integral values as integers,
/// others in Go's shortest `%g` form (`1.5`, `1e-07`, `1.234567895e+08`).
fn number(n: &Number) -> String {
    if let Some(i) = n.as_i64() {
        return i.to_string();
    }
    if let Some(u) = n.as_u64() {
        return u.to_string();
    }
    let f = n.as_f64().unwrap_or(0.0);
    if f == f.trunc() && f.abs() < 1e21 {
        let text = format!("{f:.0}");
        let text = if text == "-0" { "0".to_string() } else { text };
        if text.parse::<i64>().is_ok() || text.parse::<u64>().is_ok() {
            return text;
        }
    }
    go_format_g(f)
}

/// Go's `strconv.FormatFloat(f, 'g', -1, 64)`.
fn go_format_g(f: f64) -> String {
    if f == 0.0 {
        return "0".into();
    }
    let sci = format!("{:e}", f.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let nd = digits.len() as i32;
    let dp = exp + 1;
    let mut eprec = 6;
    if eprec > nd && nd >= dp {
        eprec = nd;
    }
    let sign = if f < 0.0 { "-" } else { "" };
    if exp < -4 || exp >= eprec {
        let frac = &digits[1..];
        let m = if frac.is_empty() {
            digits[..1].to_string()
        } else {
            format!("{}.{frac}", &digits[..1])
        };
        let es = if exp < 0 { '-' } else { '+' };
        return format!("{sign}{m}e{es}{:02}", exp.abs());
    }
    if dp <= 0 {
        return format!("{sign}0.{}{digits}", "0".repeat((-dp) as usize));
    }
    let dp = dp as usize;
    if dp >= digits.len() {
        format!("{sign}{digits}{}", "0".repeat(dp - digits.len()))
    } else {
        format!("{sign}{}.{}", &digits[..dp], &digits[dp..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_deepest_readable_value_prints_on_a_small_stack() {
        use crate::read::tests::on_stack;
        // Mappings and sequences alternating, MAX_DEPTH levels: the deepest value the reader
        // accepts. Printing recurses once per level; half a default 2 MiB thread suffices.
        let half = crate::MAX_DEPTH / 2;
        let doc = format!("{}1{}", "{a: [".repeat(half), "]}".repeat(half));
        let started = std::time::Instant::now();
        let (text, again) = on_stack(1024 * 1024, move || {
            let value = crate::from_str(&doc).expect("at the limit");
            let text = to_string(&value);
            let again = to_string_multi(&[value.clone(), value]);
            (text, again)
        });
        assert!(text.starts_with("a:\n- a:\n  - a:\n"), "{}", &text[..40]);
        assert_eq!(again.len(), 2 * text.len() + 4);
        let mut written = Vec::new();
        let value = crate::from_str(&text).expect("reads back");
        to_writer_multi(&[value.clone(), value], &mut written).expect("in memory");
        assert_eq!(written, again.as_bytes());
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
    }

    #[test]
    fn a_document_string_with_a_leading_space_reads_back() -> Result<(), crate::YamlError> {
        // Found by fuzzing (yaml_roundtrip): `|2` with content at column 1 did not read back.
        let long = format!("-{} ... x", "\u{fffd}".repeat(40)).repeat(3);
        for s in [
            " I\n",
            "\n I\n",
            " a\nb",
            long.as_str(),
            "a\n---\nb",
            "a\n...\n",
        ] {
            let text = to_string(&Value::String(s.into()));
            assert_eq!(crate::from_str(&text)?, Value::String(s.into()), "{text}");
        }
        Ok(())
    }

    #[test]
    fn sorted_output_orders_keys_at_every_level() {
        let value =
            json!({"z": 1, "a10": {"y": [{"b": 1, "a": 2}], "x": true}, "a9": "on", "B": []});
        assert_eq!(
            to_string_sorted(&value),
            "B: []\na9: \"on\"\na10:\n  x: true\n  \"y\":\n  - a: 2\n    b: 1\nz: 1\n"
        );
        assert_eq!(to_string_sorted(&json!({})), "{}\n");
        assert_eq!(to_string_sorted(&json!(["b", "a"])), "- b\n- a\n");
    }

    #[test]
    fn keys_sort_naturally() {
        let mut keys = vec!["zz", "a10", "a9", "A", "_u", "1", "-", "Z", "Null2"];
        keys.sort_by(|a, b| natural_order(a, b));
        assert_eq!(keys, ["-", "_u", "1", "A", "Null2", "Z", "a9", "a10", "zz"]);
    }

    #[test]
    fn numbers_print_like_go() {
        let cases = [
            (1.0, "1"),
            (1.5, "1.5"),
            (123456789.5, "1.234567895e+08"),
            (0.000001, "1e-06"),
            (1e-7, "1e-07"),
            (1e21, "1e+21"),
            (-0.0, "0"),
            (0.25, "0.25"),
        ];
        for (f, want) in cases {
            assert_eq!(number(&Number::from_f64(f).expect("finite")), want, "{f}");
        }
    }

    #[test]
    fn strings_are_quoted_like_yaml_v2() {
        let doc = json!({"data": {
            "colon": "a: b", "colon2": "a:b", "hash": "a #b", "star": "*x", "lead": " x", "trail": "x ",
            "empty": "", "yes": "yes", "b60": "1:20", "tab": "a\tb", "uni": "héllo", "ctrl": "a\u{1}b",
            "nl_trail": "line1\nline2\n", "nl_notrail": "line1\nline2", "nl_lead_space": "  line1\nline2\n",
            "nl_multi": "a\n\n\n", "nl_trailspace": "a \nb\n", "float": "1.5", "q": "it's", "dq": "say \"hi\"",
            "qm2": "?x", "ip": "10.0.0.1", "date": "2001-12-14", "0": "zero",
            "long": "aaaa bbbb cccc dddd eeee ffff gggg hhhh iiii jjjj kkkk llll mmmm nnnn oooo pppp qqqq rrrr ssss tttt"
        }});
        let want = r#"data:
  "0": zero
  b60: "1:20"
  colon: 'a: b'
  colon2: a:b
  ctrl: "a\x01b"
  date: "2001-12-14"
  dq: say "hi"
  empty: ""
  float: "1.5"
  hash: 'a #b'
  ip: 10.0.0.1
  lead: ' x'
  long: aaaa bbbb cccc dddd eeee ffff gggg hhhh iiii jjjj kkkk llll mmmm nnnn oooo
    pppp qqqq rrrr ssss tttt
  nl_lead_space: |2
      line1
    line2
  nl_multi: |+
    a


  nl_notrail: |-
    line1
    line2
  nl_trail: |
    line1
    line2
  nl_trailspace: "a \nb\n"
  q: it's
  qm2: ?x
  star: '*x'
  tab: "a\tb"
  trail: 'x '
  uni: héllo
  "yes": "yes"
"#;
        assert_eq!(to_string(&doc), want);
    }

    #[test]
    fn collections_indent_like_kubectl() {
        let doc = json!({"apiVersion": "apps/v1", "spec": {"template": {"spec": {"containers": [
            {"name": "c", "image": "nginx", "args": ["a", "b"], "env": []}
        ]}}, "list": [[1, 2], {}], "n": null}});
        let want = "apiVersion: apps/v1\nspec:\n  list:\n  - - 1\n    - 2\n  - {}\n  \"n\": null\n  template:\n    spec:\n      containers:\n      - args:\n        - a\n        - b\n        env: []\n        image: nginx\n        name: c\n";
        assert_eq!(to_string(&doc), want);
    }
}

#[cfg(test)]
mod root_literal_tests {
    /// Multi-line strings at the document root print as yaml.v2 prints them (a literal block
    /// indented by two; recorded from helm v4.1.4's `toYaml`) and read back unchanged.
    #[test]
    fn root_literals_are_indented_and_read_back() {
        assert_eq!(
            super::to_string(&serde_json::json!("multi\nline\n")),
            "|\n  multi\n  line\n"
        );
        assert_eq!(
            super::to_string(&serde_json::json!(" lead\nx")),
            "|2-\n   lead\n  x\n"
        );
        for s in [
            "a\nb",
            " lead\nx",
            "x\n---\ny",
            "x\n\n",
            "\n",
            "...\n",
            "a\n...",
            "---\n",
            "\n\nx",
            "a\n  b\n",
            "\tx\ny",
            "x\r\ny",
        ] {
            let text = super::to_string(&serde_json::json!(s));
            let back = crate::from_str(&text).expect(&text);
            assert_eq!(back, serde_json::json!(s), "{s:?} printed as {text:?}");
        }
    }
}
