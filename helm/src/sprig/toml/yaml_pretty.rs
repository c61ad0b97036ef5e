//! `toYamlPretty`: a value written by gopkg.in/yaml.v3's encoder with `SetIndent(2)`.
//!
//! It differs from `toYaml` (sigs.k8s.io/yaml: JSON first, then yaml.v2) in ways a chart
//! can see:
//!
//! - sequences are indented under their key (`a:\n  - 1`);
//! - numbers are Go's own (`1e+06` for a float64 million, which JSON would make 1000000);
//!   `.inf`, `-.inf`, `.nan`;
//! - strings are quoted by YAML 1.2 rules plus yaml.v3's extras: `"1e3"`, `"0o17"`,
//!   `"2001-12-14"`, `"yes"`/`"on"` (old booleans) and `"1:20"` (base-60 numbers) are
//!   double-quoted, `no` is not special beyond that; a string holding a newline is a literal
//!   block (`|-`), also at the top level; lines are never folded;
//! - keys are sorted by yaml.v3's rule (digit runs compare as numbers; after a digit a
//!   letter sorts before other characters), keys over 128 bytes or with line breaks are
//!   written as `? key` / `: value`;
//! - `time.Time` is its RFC 3339 text, unquoted.
//!
//! The scalar analysis (which styles a string allows) is libyaml's, as yaml.v3 has it: tabs
//! rule out plain and single-quoted styles but not literal blocks, characters outside the
//! Basic Multilingual Plane and U+0085 are not printable (`"\U0001F600"`, `"\N"`), and a
//! string starting with a byte order mark has every character escaped.

use std::cmp::Ordering;

use crate::value::{Cut, MAX_DEPTH, Map, Object, Path, Value, format_float};

/// The document with its final newline; `Err` where Go overflows its stack (a map inside
/// itself, nesting beyond [`MAX_DEPTH`]).
pub(super) fn to_yaml_pretty(v: &Value) -> Result<String, String> {
    let mut e = Emitter::default();
    e.node(v, 0, Ctx::Root, 0)?;
    if !e.out.ends_with('\n') {
        e.out.push('\n');
    }
    Ok(e.out)
}

const INDENT: usize = 2;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Ctx {
    Root,
    /// After `key:`.
    MapValue,
    /// After `-`.
    SeqItem,
    /// After `:` of a `? key`.
    ComplexValue,
}

impl Ctx {
    /// Whether a block collection here starts on the indicator's line.
    fn compact(self) -> bool {
        matches!(self, Ctx::SeqItem | Ctx::ComplexValue)
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Style {
    Plain,
    Single,
    Double,
    Literal,
}

fn too_deep() -> String {
    format!("toYamlPretty: value nests deeper than {MAX_DEPTH} levels")
}

fn is_time(o: &dyn Object) -> bool {
    o.type_name() == "time.Time"
}

#[derive(Default)]
struct Emitter {
    out: String,
    path: Path,
}

impl Emitter {
    /// Starts a line at `indent`, unless the output is at the start of a line already (after
    /// a line break, which may be a U+2028 or U+2029 written in a block or single-quoted
    /// scalar).
    fn newline_indent(&mut self, indent: usize) {
        if !self.out.is_empty() && !self.out.ends_with(['\n', '\u{2028}', '\u{2029}']) {
            self.out.push('\n');
        }
        self.pad(indent);
    }

    fn pad(&mut self, n: usize) {
        self.out.extend(std::iter::repeat_n(' ', n));
    }

    /// Writes `v` whose block content is at `indent` (a top-level scalar's at 2).
    fn node(&mut self, v: &Value, indent: usize, ctx: Ctx, depth: usize) -> Result<(), String> {
        if depth > MAX_DEPTH {
            return Err(too_deep());
        }
        let lead = if ctx == Ctx::Root { "" } else { " " };
        let scalar_indent = if ctx == Ctx::Root { INDENT } else { indent };
        match v {
            Value::Map(m) => self.map_node(m, indent, ctx, depth),
            Value::List(l) if !l.items.is_empty() => {
                self.block_start(ctx);
                self.sequence(&l.items, indent, ctx, depth)
            }
            Value::Bytes(b) if !b.is_empty() => {
                let items: Vec<Value> = b.iter().map(|x| Value::Int(i64::from(*x))).collect();
                self.block_start(ctx);
                self.sequence(&items, indent, ctx, depth)
            }
            Value::List(_) | Value::Bytes(_) => {
                self.out.push_str(lead);
                self.out.push_str("[]");
                Ok(())
            }
            Value::String(s) => {
                self.out.push_str(lead);
                self.string(s, scalar_indent, false);
                Ok(())
            }
            Value::Object(o) if is_time(o.as_ref()) => {
                self.out.push_str(lead);
                let data = o.to_data();
                self.out.push_str(data.as_str().unwrap_or(""));
                Ok(())
            }
            Value::Object(o) => match o.as_map() {
                Some(m) => self.map_node(m, indent, ctx, depth),
                None => self.node(&o.to_data(), indent, ctx, depth + 1),
            },
            scalar => {
                self.out.push_str(lead);
                self.out.push_str(&plain_scalar(scalar));
                Ok(())
            }
        }
    }

    /// The space between `-` or `:` and a block collection that starts on that line.
    fn block_start(&mut self, ctx: Ctx) {
        if ctx.compact() {
            self.out.push(' ');
        }
    }

    fn map_node(&mut self, m: &Map, indent: usize, ctx: Ctx, depth: usize) -> Result<(), String> {
        self.path.enter_map(m).map_err(|cut| match cut {
            Cut::Cycle => "toYamlPretty: cannot encode a map that contains itself".to_string(),
            Cut::TooDeep => too_deep(),
        })?;
        let entries = m.snapshot();
        let result = if entries.is_empty() {
            self.out
                .push_str(if ctx == Ctx::Root { "{}" } else { " {}" });
            Ok(())
        } else {
            self.block_start(ctx);
            let mut sorted: Vec<(&String, &Value)> = entries.iter().collect();
            sorted.sort_by(|a, b| key_order(a.0, b.0));
            self.mapping(&sorted, indent, ctx, depth)
        };
        self.path.leave();
        result
    }

    fn mapping(
        &mut self,
        entries: &[(&String, &Value)],
        indent: usize,
        ctx: Ctx,
        depth: usize,
    ) -> Result<(), String> {
        for (i, (key, value)) in entries.iter().enumerate() {
            if !(i == 0 && ctx.compact()) {
                self.newline_indent(indent);
            }
            let a = analyze(key);
            if key.len() <= 128 && !a.multiline {
                self.string(key, indent + INDENT, true);
                self.out.push(':');
                self.node(value, indent + INDENT, Ctx::MapValue, depth + 1)?;
            } else {
                self.out.push_str("? ");
                self.string(key, indent + INDENT, false);
                self.newline_indent(indent);
                self.out.push(':');
                self.node(value, indent + INDENT, Ctx::ComplexValue, depth + 1)?;
            }
        }
        Ok(())
    }

    fn sequence(
        &mut self,
        items: &[Value],
        indent: usize,
        ctx: Ctx,
        depth: usize,
    ) -> Result<(), String> {
        self.path.enter_list().map_err(|_| too_deep())?;
        for (i, item) in items.iter().enumerate() {
            if !(i == 0 && ctx.compact()) {
                self.newline_indent(indent);
            }
            self.out.push('-');
            if let Err(e) = self.node(item, indent + INDENT, Ctx::SeqItem, depth + 1) {
                self.path.leave();
                return Err(e);
            }
        }
        self.path.leave();
        Ok(())
    }

    /// A string in the style yaml.v3 picks; `indent` is where its continuation lines start.
    fn string(&mut self, s: &str, indent: usize, simple_key: bool) {
        let mut style = if s.contains('\n') {
            Style::Literal
        } else if can_use_plain(s) {
            Style::Plain
        } else {
            Style::Double
        };
        let a = analyze(s);
        if simple_key && a.multiline {
            style = Style::Double;
        }
        if style == Style::Plain && (!a.block_plain_allowed || (s.is_empty() && simple_key)) {
            style = Style::Single;
        }
        if style == Style::Single && !a.single_quoted_allowed {
            style = Style::Double;
        }
        if style == Style::Literal && (!a.block_allowed || simple_key) {
            style = Style::Double;
        }
        match style {
            Style::Plain => self.out.push_str(s),
            Style::Single => self.single_quoted(s, indent),
            Style::Double => self.double_quoted(s),
            Style::Literal => self.literal(s, indent),
        }
    }

    fn single_quoted(&mut self, s: &str, indent: usize) {
        self.out.push('\'');
        // Column since the last line break written, for the indentation after one.
        let mut column: Option<usize> = None;
        let mut breaks = false;
        for c in s.chars() {
            if c == ' ' {
                self.out.push(' ');
                column = column.map(|n| n + 1);
            } else if is_break(c) {
                self.out.push(c);
                column = Some(0);
                breaks = true;
            } else {
                if breaks {
                    match column {
                        Some(n) if n < indent => self.pad(indent - n),
                        _ => {
                            self.out.push('\n');
                            self.pad(indent);
                        }
                    }
                }
                if c == '\'' {
                    self.out.push('\'');
                }
                self.out.push(c);
                column = column.map(|n| n + 1);
                breaks = false;
            }
        }
        self.out.push('\'');
    }

    fn double_quoted(&mut self, s: &str) {
        // yaml.v3 escapes everything in a string that starts with a byte order mark.
        let escape_all = s.starts_with('\u{feff}');
        self.out.push('"');
        for c in s.chars() {
            if escape_all || !is_printable(c) || is_break(c) || c == '"' || c == '\\' {
                push_escape(&mut self.out, c);
            } else {
                self.out.push(c);
            }
        }
        self.out.push('"');
    }

    fn literal(&mut self, s: &str, indent: usize) {
        self.out.push('|');
        if s.starts_with(' ') || s.chars().next().is_some_and(is_break) {
            self.out.push('2');
        }
        let mut rev = s.chars().rev();
        match (rev.next(), rev.next()) {
            (Some(last), _) if !is_break(last) => self.out.push('-'),
            (Some(_), None) => self.out.push('+'),
            (Some(_), Some(before)) if is_break(before) => self.out.push('+'),
            _ => {}
        }
        self.out.push('\n');
        let mut breaks = true;
        for c in s.chars() {
            if is_break(c) {
                self.out.push(c);
                breaks = true;
            } else {
                if breaks {
                    self.pad(indent);
                }
                self.out.push(c);
                breaks = false;
            }
        }
    }
}

/// A non-string scalar as yaml.v3 writes it.
fn plain_scalar(v: &Value) -> String {
    match v {
        Value::Bool(b) => b.to_string(),
        Value::Int(n) | Value::Int64(n) => n.to_string(),
        Value::Uint64(n) => n.to_string(),
        Value::Float(f) => {
            if f.is_nan() {
                ".nan".into()
            } else if f.is_infinite() {
                if *f > 0.0 { ".inf" } else { "-.inf" }.into()
            } else {
                format_float(*f, 'g', None)
            }
        }
        _ => "null".into(),
    }
}

fn push_escape(out: &mut String, c: char) {
    let simple = match c {
        '\0' => "0",
        '\u{7}' => "a",
        '\u{8}' => "b",
        '\t' => "t",
        '\n' => "n",
        '\u{b}' => "v",
        '\u{c}' => "f",
        '\r' => "r",
        '\u{1b}' => "e",
        '"' => "\"",
        '\\' => "\\",
        '\u{85}' => "N",
        '\u{a0}' => "_",
        '\u{2028}' => "L",
        '\u{2029}' => "P",
        _ => "",
    };
    out.push('\\');
    if !simple.is_empty() {
        out.push_str(simple);
        return;
    }
    let n = c as u32;
    let text = if n <= 0xff {
        format!("x{n:02X}")
    } else if n <= 0xffff {
        format!("u{n:04X}")
    } else {
        format!("U{n:08X}")
    };
    out.push_str(&text);
}

fn is_break(c: char) -> bool {
    matches!(c, '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

fn is_blank_or_end(c: Option<char>) -> bool {
    match c {
        None => true,
        Some(c) => c == ' ' || c == '\t' || c == '\0' || is_break(c),
    }
}

/// yaml.v3's `is_printable`.
fn is_printable(c: char) -> bool {
    matches!(c, '\n' | '\u{20}'..='\u{7e}' | '\u{a0}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}')
        && c != '\u{feff}'
}

/// Which styles can represent a string (yaml.v3's `yaml_emitter_analyze_scalar`).
#[derive(Debug)]
struct Analysis {
    multiline: bool,
    block_plain_allowed: bool,
    single_quoted_allowed: bool,
    block_allowed: bool,
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
    let mut block_indicators = s.starts_with("---") || s.starts_with("...");
    let (mut leading_space, mut leading_break, mut trailing_space, mut trailing_break) =
        (false, false, false, false);
    let (mut break_space, mut space_break, mut tabs, mut special, mut line_breaks) =
        (false, false, false, false, false);
    let (mut previous_space, mut previous_break) = (false, false);
    let mut preceded_by_whitespace = true;
    let mut chars = s.chars().peekable();
    let mut first = true;
    while let Some(c) = chars.next() {
        let next = chars.peek().copied();
        let followed_by_whitespace = is_blank_or_end(next);
        if first {
            if "#,[]{}&*!|>'\"%@`".contains(c)
                || (matches!(c, '?' | ':' | '-') && followed_by_whitespace)
            {
                block_indicators = true;
            }
        } else if (c == ':' && followed_by_whitespace) || (c == '#' && preceded_by_whitespace) {
            block_indicators = true;
        }
        if c == '\t' {
            tabs = true;
        } else if !is_printable(c) {
            special = true;
        }
        if is_break(c) {
            line_breaks = true;
        }
        let last = next.is_none();
        if c == ' ' {
            leading_space |= first;
            trailing_space |= last;
            break_space |= previous_break;
            previous_space = true;
            previous_break = false;
        } else if is_break(c) {
            leading_break |= first;
            trailing_break |= last;
            space_break |= previous_space;
            previous_space = false;
            previous_break = true;
        } else {
            previous_space = false;
            previous_break = false;
        }
        preceded_by_whitespace = is_blank_or_end(Some(c));
        first = false;
    }
    let mut a = Analysis {
        multiline: line_breaks,
        block_plain_allowed: true,
        single_quoted_allowed: true,
        block_allowed: true,
    };
    if leading_space || leading_break || trailing_space || trailing_break {
        a.block_plain_allowed = false;
    }
    if trailing_space {
        a.block_allowed = false;
    }
    if break_space {
        a.block_plain_allowed = false;
        a.single_quoted_allowed = false;
    }
    if space_break || tabs || special {
        a.block_plain_allowed = false;
        a.single_quoted_allowed = false;
    }
    if space_break || special {
        a.block_allowed = false;
    }
    if line_breaks || block_indicators {
        a.block_plain_allowed = false;
    }
    a
}

/// yaml.v3 writes a string plain only if it would read back as a string and is neither a
/// YAML 1.1 boolean nor a base-60 number.
fn can_use_plain(s: &str) -> bool {
    resolves_to_string(s) && !is_base60_float(s) && !is_old_bool(s)
}

fn is_old_bool(s: &str) -> bool {
    matches!(
        s,
        "y" | "Y"
            | "yes"
            | "Yes"
            | "YES"
            | "on"
            | "On"
            | "ON"
            | "n"
            | "N"
            | "no"
            | "No"
            | "NO"
            | "off"
            | "Off"
            | "OFF"
    )
}

/// `^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$`
fn is_base60_float(s: &str) -> bool {
    if !s.contains(':') {
        return false;
    }
    let body = s.strip_prefix(['-', '+']).unwrap_or(s);
    let (main, frac) = match body.split_once('.') {
        Some((m, f)) => (m, Some(f)),
        None => (body, None),
    };
    if frac.is_some_and(|f| !f.bytes().all(|c| c.is_ascii_digit() || c == b'_')) {
        return false;
    }
    let mut parts = main.split(':');
    let head = parts.next().unwrap_or("");
    if !head.as_bytes().first().is_some_and(u8::is_ascii_digit)
        || !head.bytes().all(|c| c.is_ascii_digit() || c == b'_')
    {
        return false;
    }
    parts.all(|p| {
        let b = p.as_bytes();
        match b.len() {
            1 => b[0].is_ascii_digit(),
            2 => (b'0'..=b'5').contains(&b[0]) && b[1].is_ascii_digit(),
            _ => false,
        }
    })
}

/// yaml.v3's `resolve` of a plain scalar gives `!!str`.
fn resolves_to_string(s: &str) -> bool {
    let hint = match s.as_bytes().first() {
        None => b'N',
        Some(b'+' | b'-') => b'S',
        Some(b'0'..=b'9') => b'D',
        Some(b'y' | b'Y' | b'n' | b'N' | b't' | b'T' | b'f' | b'F' | b'o' | b'O' | b'~') => b'M',
        Some(b'.') => b'.',
        Some(_) => 0,
    };
    if hint == 0 {
        return true;
    }
    if matches!(
        s,
        "true"
            | "True"
            | "TRUE"
            | "false"
            | "False"
            | "FALSE"
            | ""
            | "~"
            | "null"
            | "Null"
            | "NULL"
            | ".nan"
            | ".NaN"
            | ".NAN"
            | ".inf"
            | ".Inf"
            | ".INF"
            | "+.inf"
            | "+.Inf"
            | "+.INF"
            | "-.inf"
            | "-.Inf"
            | "-.INF"
    ) {
        return false;
    }
    match hint {
        b'.' => super::decode::go_parse_float(s).is_err(),
        b'D' | b'S' => {
            if is_timestamp(s) {
                return false;
            }
            let plain = s.replace('_', "");
            if super::decode::go_parse_int(&plain).is_ok()
                || super::decode::go_parse_uint(&plain).is_ok()
                || (is_yaml_float(&plain) && super::decode::go_parse_float(&plain).is_ok())
            {
                return false;
            }
            // Its further `0b`/`0o` cases read what `ParseInt` with base 0 has read above.
            true
        }
        _ => true,
    }
}

/// `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`
fn is_yaml_float(s: &str) -> bool {
    let b = s.strip_prefix(['-', '+']).unwrap_or(s).as_bytes();
    let digits = |b: &[u8], i: usize| b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
    let mut i;
    if b.first() == Some(&b'.') {
        let n = digits(b, 1);
        if n == 0 {
            return false;
        }
        i = 1 + n;
    } else {
        let n = digits(b, 0);
        if n == 0 {
            return false;
        }
        i = n;
        if b.get(i) == Some(&b'.') {
            i += 1 + digits(b, i + 1);
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'-' | b'+')) {
            i += 1;
        }
        let n = digits(b, i);
        if n == 0 {
            return false;
        }
        i += n;
    }
    i == b.len()
}

use super::decode::{El, Layout, go_parse_time};

/// The timestamp layouts yaml.v3 resolves plain scalars with.
const TIMESTAMPS: [Layout; 4] = [
    (
        "2006-1-2T15:4:5.999999999Z07:00",
        &[
            El::Year,
            El::Lit("-"),
            El::Month(false),
            El::Lit("-"),
            El::Day(false),
            El::Lit("T"),
            El::Hour,
            El::Lit(":"),
            El::Minute(false),
            El::Lit(":"),
            El::Second(false),
            El::Frac,
            El::Zone,
        ],
    ),
    (
        "2006-1-2t15:4:5.999999999Z07:00",
        &[
            El::Year,
            El::Lit("-"),
            El::Month(false),
            El::Lit("-"),
            El::Day(false),
            El::Lit("t"),
            El::Hour,
            El::Lit(":"),
            El::Minute(false),
            El::Lit(":"),
            El::Second(false),
            El::Frac,
            El::Zone,
        ],
    ),
    (
        "2006-1-2 15:4:5.999999999",
        &[
            El::Year,
            El::Lit("-"),
            El::Month(false),
            El::Lit("-"),
            El::Day(false),
            El::Lit(" "),
            El::Hour,
            El::Lit(":"),
            El::Minute(false),
            El::Lit(":"),
            El::Second(false),
            El::Frac,
        ],
    ),
    (
        "2006-1-2",
        &[
            El::Year,
            El::Lit("-"),
            El::Month(false),
            El::Lit("-"),
            El::Day(false),
        ],
    ),
];

/// yaml.v3's `parseTimestamp`: four digits and `-`, then one of its layouts.
fn is_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    let i = b.iter().take_while(|c| c.is_ascii_digit()).count();
    if i != 4 || b.get(i) != Some(&b'-') {
        return false;
    }
    TIMESTAMPS
        .iter()
        .any(|layout| go_parse_time(layout, s).is_some())
}

/// yaml.v3's map key order: runs of digits compare as numbers; at the first difference a
/// letter sorts after another character, unless a digit came just before (then before).
/// Letters and digits are approximated by Rust's Unicode classes.
fn key_order(a: &str, b: &str) -> Ordering {
    if key_less(a, b) {
        Ordering::Less
    } else if key_less(b, a) {
        Ordering::Greater
    } else {
        Ordering::Equal
    }
}

fn is_digit(c: char) -> bool {
    c.is_ascii_digit()
}

fn key_less(a: &str, b: &str) -> bool {
    let ar: Vec<char> = a.chars().collect();
    let br: Vec<char> = b.chars().collect();
    let mut digits = false;
    let mut i = 0;
    while i < ar.len() && i < br.len() {
        if ar[i] == br[i] {
            digits = is_digit(ar[i]);
            i += 1;
            continue;
        }
        let al = ar[i].is_alphabetic();
        let bl = br[i].is_alphabetic();
        if al && bl {
            return ar[i] < br[i];
        }
        if al || bl {
            return if digits { al } else { bl };
        }
        let (mut an, mut bn): (i64, i64) = (0, 0);
        if ar[i] == '0' || br[i] == '0' {
            let mut j = i;
            while j > 0 && is_digit(ar[j - 1]) {
                j -= 1;
                if ar[j] != '0' {
                    an = 1;
                    bn = 1;
                    break;
                }
            }
        }
        let mut ai = i;
        while ai < ar.len() && is_digit(ar[ai]) {
            an = an
                .wrapping_mul(10)
                .wrapping_add(i64::from(ar[ai] as u32) - i64::from(u32::from('0')));
            ai += 1;
        }
        let mut bi = i;
        while bi < br.len() && is_digit(br[bi]) {
            bn = bn
                .wrapping_mul(10)
                .wrapping_add(i64::from(br[bi] as u32) - i64::from(u32::from('0')));
            bi += 1;
        }
        if an != bn {
            return an < bn;
        }
        if ai != bi {
            return ai < bi;
        }
        return ar[i] < br[i];
    }
    ar.len() < br.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_or_quoted() {
        for s in ["<<", "a&", "=", "-a", ":a", "a:b", "+inf", "1e400", "0x"] {
            assert!(can_use_plain(s), "{s}");
        }
        for s in [
            "",
            "~",
            "1_000",
            "0o17",
            "0b101",
            "0x1F",
            "+1",
            "1:20",
            "5.",
            ".5",
            "00",
            "08",
            "2001-12-14",
            "2001-12-14t21:59:43.10-05:00",
            "yes",
            "Off",
            "True",
            "NULL",
        ] {
            assert!(!can_use_plain(s), "{s}");
        }
    }

    #[test]
    fn keys_sort_like_yaml_v3() {
        let mut keys = vec![
            "a1b", "a10", "a1", "a1_", "ab", "a_", "a01", "a001", "a2", "B", "_", "1", "10", "9",
            "é", "z",
        ];
        keys.sort_by(|a, b| key_order(a, b));
        assert_eq!(
            keys,
            [
                "_", "1", "9", "10", "B", "a_", "a1", "a1b", "a1_", "a01", "a001", "a2", "a10",
                "ab", "z", "é"
            ]
        );
    }
}
