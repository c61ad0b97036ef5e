//! BurntSushi/toml v1.6's lexer, state for state: a state function per step, a stack of
//! states for nesting (on the heap), items handed out one at a time as the parser asks, and
//! the library's error texts and line numbers (an error at the end of the input that follows
//! a newline belongs to the line before; some to the line before in any case).

use std::collections::VecDeque;

use crate::template::fmt::quote;

/// What the lexer's `next` returns at the end of the input.
pub(super) const EOF: char = '\0';
/// What it returns for a character it reported as an error.
const RUNE_ERROR: char = '\u{fffd}';

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ItemType {
    Error,
    Eof,
    Text,
    String,
    StringEsc,
    RawString,
    MultilineString,
    RawMultilineString,
    Bool,
    Integer,
    Float,
    Datetime,
    Array,
    ArrayEnd,
    TableStart,
    TableEnd,
    ArrayTableStart,
    ArrayTableEnd,
    KeyStart,
    KeyEnd,
    CommentStart,
    InlineTableStart,
    InlineTableEnd,
}

impl ItemType {
    /// The Go `itemType.String()` (used in the library's "BUG" messages).
    pub(super) fn name(self) -> &'static str {
        match self {
            ItemType::Error => "Error",
            ItemType::Eof => "EOF",
            ItemType::Text => "Text",
            ItemType::String
            | ItemType::StringEsc
            | ItemType::RawString
            | ItemType::MultilineString
            | ItemType::RawMultilineString => "String",
            ItemType::Bool => "Bool",
            ItemType::Integer => "Integer",
            ItemType::Float => "Float",
            ItemType::Datetime => "DateTime",
            ItemType::Array => "Array",
            ItemType::ArrayEnd => "ArrayEnd",
            ItemType::TableStart => "TableStart",
            ItemType::TableEnd => "TableEnd",
            ItemType::ArrayTableStart => "ArrayTableStart",
            ItemType::ArrayTableEnd => "ArrayTableEnd",
            ItemType::KeyStart => "KeyStart",
            ItemType::KeyEnd => "KeyEnd",
            ItemType::CommentStart => "CommentStart",
            ItemType::InlineTableStart => "InlineTableStart",
            ItemType::InlineTableEnd => "InlineTableEnd",
        }
    }
}

/// A token: its type, its text (an error's message) and its line.
#[derive(Clone, Debug)]
pub(super) struct Item {
    pub(super) typ: ItemType,
    pub(super) val: String,
    pub(super) line: usize,
}

#[derive(Clone, Copy, Debug)]
enum State {
    Top,
    TopEnd,
    TableStart,
    TableEnd,
    ArrayTableEnd,
    TableNameStart,
    TableNameEnd,
    BareName,
    QuotedName,
    KeyStart,
    KeyNameStart,
    KeyEnd,
    Value,
    ArrayValue,
    ArrayValueEnd,
    ArrayEnd,
    InlineTableValue,
    InlineTableValueEnd,
    InlineTableEnd,
    String,
    MultilineString,
    RawString,
    MultilineRawString,
    MultilineStringEscape,
    StringEscape,
    HexEscape,
    ShortUnicodeEscape,
    LongUnicodeEscape,
    NumberOrDateStart,
    NumberOrDate,
    Datetime,
    HexInteger,
    OctalInteger,
    BinaryInteger,
    DecimalNumber,
    DecimalNumberStart,
    BaseNumberOrDate,
    Float,
    Bool,
    CommentStart,
    Comment,
}

pub(super) struct Lexer<'a> {
    input: &'a str,
    start: usize,
    pos: usize,
    line: usize,
    state: Option<State>,
    items: VecDeque<Item>,
    esc: bool,
    /// The widths of the last four characters read, for `backup`.
    prev_widths: [usize; 4],
    nprev: usize,
    at_eof: bool,
    stack: Vec<State>,
    /// A Go panic inside the lexer ("BUG in lexer: ...").
    bug: Option<String>,
}

fn is_ws(c: char) -> bool {
    c == '\t' || c == ' '
}

fn is_nl(c: char) -> bool {
    c == '\n' || c == '\r'
}

fn is_control(c: char) -> bool {
    !matches!(c, '\t' | '\r' | '\n') && (c <= '\u{1f}' || c == '\u{7f}')
}

pub(super) fn is_hex(c: char) -> bool {
    c.is_ascii_hexdigit()
}

pub(super) fn is_bare(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

/// Go's `unicode.IsLetter`, approximated by Rust's alphabetic property.
fn is_letter(c: char) -> bool {
    c.is_alphabetic()
}

/// Go's `strconv.QuoteRune` (`%q` of a rune).
pub(super) fn quote_rune(c: char) -> String {
    match c {
        '\'' => "'\\''".into(),
        '"' => "'\"'".into(),
        RUNE_ERROR => "'\u{fffd}'".into(),
        c => {
            let q = quote(&c.to_string());
            format!("'{}'", &q[1..q.len() - 1])
        }
    }
}

/// The lexer's `runeOrEOF`.
fn rune_or_eof(c: char) -> String {
    if c == EOF {
        "end of file".into()
    } else {
        format!("'{c}'")
    }
}

impl<'a> Lexer<'a> {
    pub(super) fn new(input: &'a str) -> Lexer<'a> {
        Lexer {
            input,
            start: 0,
            pos: 0,
            line: 1,
            state: Some(State::Top),
            items: VecDeque::new(),
            esc: false,
            prev_widths: [0; 4],
            nprev: 0,
            at_eof: false,
            stack: Vec::new(),
            bug: None,
        }
    }

    /// The next item, running the state machine until one is ready (Go's `nextItem`).
    pub(super) fn next_item(&mut self) -> Result<Item, String> {
        loop {
            if let Some(bug) = self.bug.take() {
                return Err(bug);
            }
            if let Some(item) = self.items.pop_front() {
                return Ok(item);
            }
            match self.state {
                Some(s) => self.state = self.step(s),
                // Go would call a nil state function here.
                None => return Err("BUG in lexer: no state after the last item".into()),
            }
        }
    }

    fn current(&self) -> &'a str {
        self.input.get(self.start..self.pos).unwrap_or("")
    }

    fn push(&mut self, s: State) {
        self.stack.push(s);
    }

    fn pop(&mut self) -> Option<State> {
        match self.stack.pop() {
            Some(s) => Some(s),
            None => {
                self.bug = Some("BUG in lexer: no states to pop".into());
                None
            }
        }
    }

    fn emit(&mut self, typ: ItemType) {
        let val = self.current().to_string();
        self.items.push_back(Item {
            typ,
            val,
            line: self.line,
        });
        self.start = self.pos;
    }

    fn emit_trim(&mut self, typ: ItemType) {
        let val = self.current().trim().to_string();
        self.items.push_back(Item {
            typ,
            val,
            line: self.line,
        });
        self.start = self.pos;
    }

    fn next(&mut self) -> char {
        if self.at_eof {
            self.bug = Some("BUG in lexer: next called after EOF".into());
            return EOF;
        }
        let bytes = self.input.as_bytes();
        if self.pos >= bytes.len() {
            self.at_eof = true;
            return EOF;
        }
        if bytes[self.pos] == b'\n' {
            self.line += 1;
        }
        self.prev_widths = [
            self.prev_widths[0],
            self.prev_widths[0],
            self.prev_widths[1],
            self.prev_widths[2],
        ];
        if self.nprev < 4 {
            self.nprev += 1;
        }
        let c = self.input[self.pos..].chars().next().unwrap_or(EOF);
        let lone_cr = c == '\r' && (self.pos + 1 == bytes.len() || bytes[self.pos + 1] != b'\n');
        if is_control(c) || lone_cr {
            self.error_pos(format!(
                "TOML files cannot contain control characters: '0x{:02x}'",
                c as u32
            ));
            return RUNE_ERROR;
        }
        let w = c.len_utf8();
        self.prev_widths[0] = w;
        self.pos += w;
        c
    }

    fn ignore(&mut self) {
        self.start = self.pos;
    }

    fn backup(&mut self) {
        if self.at_eof {
            self.at_eof = false;
            return;
        }
        if self.nprev < 1 {
            self.bug = Some("BUG in lexer: backed up too far".into());
            return;
        }
        let w = self.prev_widths[0];
        self.prev_widths = [
            self.prev_widths[1],
            self.prev_widths[2],
            self.prev_widths[3],
            self.prev_widths[3],
        ];
        self.nprev -= 1;
        self.pos = self.pos.saturating_sub(w);
        while !self.input.is_char_boundary(self.pos) {
            self.pos -= 1;
        }
        if self.input.as_bytes().get(self.pos) == Some(&b'\n') {
            self.line -= 1;
        }
    }

    fn accept(&mut self, valid: char) -> bool {
        if self.next() == valid {
            return true;
        }
        self.backup();
        false
    }

    fn peek(&mut self) -> char {
        let r = self.next();
        self.backup();
        r
    }

    fn skip(&mut self, pred: fn(char) -> bool) {
        loop {
            let r = self.next();
            if pred(r) && self.bug.is_none() {
                continue;
            }
            self.backup();
            self.ignore();
            return;
        }
    }

    fn push_error(&mut self, message: String, line: usize) -> Option<State> {
        self.items.push_back(Item {
            typ: ItemType::Error,
            val: message,
            line,
        });
        None
    }

    /// Go's `errorf`: at the end of the input a message after a newline belongs to the
    /// line before.
    fn errorf(&mut self, message: String) -> Option<State> {
        let mut line = self.line;
        if self.at_eof && self.pos >= 1 && self.input.as_bytes()[self.pos - 1] == b'\n' {
            line = line.saturating_sub(1);
        }
        self.push_error(message, line)
    }

    /// Go's `error`: at the end of the input, always the line before.
    fn error(&mut self, message: String) -> Option<State> {
        if self.at_eof {
            return self.error_prev_line(message);
        }
        let line = self.line;
        self.push_error(message, line)
    }

    fn error_prev_line(&mut self, message: String) -> Option<State> {
        let line = self.line.saturating_sub(1);
        self.push_error(message, line)
    }

    fn error_pos(&mut self, message: String) -> Option<State> {
        let line = self.line;
        self.push_error(message, line)
    }

    /// One state function.
    fn step(&mut self, s: State) -> Option<State> {
        use State as S;
        match s {
            S::Top => {
                let r = self.next();
                if is_ws(r) || is_nl(r) {
                    self.ignore();
                    return Some(S::Top);
                }
                match r {
                    '#' => {
                        self.push(S::Top);
                        Some(S::CommentStart)
                    }
                    '[' => Some(S::TableStart),
                    EOF => {
                        if self.pos > self.start {
                            return self.errorf("unexpected EOF".into());
                        }
                        self.emit(ItemType::Eof);
                        None
                    }
                    _ => {
                        self.backup();
                        self.push(S::TopEnd);
                        Some(S::KeyStart)
                    }
                }
            }
            S::TopEnd => match self.next() {
                '#' => {
                    self.push(S::Top);
                    Some(S::CommentStart)
                }
                r if is_ws(r) => Some(S::TopEnd),
                r if is_nl(r) => {
                    self.ignore();
                    Some(S::Top)
                }
                EOF => {
                    self.emit(ItemType::Eof);
                    None
                }
                r => self.errorf(format!(
                    "expected a top-level item to end with a newline, comment, or EOF, but got {} instead",
                    quote_rune(r)
                )),
            },
            S::TableStart => {
                if self.peek() == '[' {
                    self.next();
                    self.emit(ItemType::ArrayTableStart);
                    self.push(S::ArrayTableEnd);
                } else {
                    self.emit(ItemType::TableStart);
                    self.push(S::TableEnd);
                }
                Some(S::TableNameStart)
            }
            S::TableEnd => {
                self.emit(ItemType::TableEnd);
                Some(S::TopEnd)
            }
            S::ArrayTableEnd => {
                let r = self.next();
                if r != ']' {
                    return self.errorf(format!(
                        "expected end of table array name delimiter ']', but got {} instead",
                        quote_rune(r)
                    ));
                }
                self.emit(ItemType::ArrayTableEnd);
                Some(S::TopEnd)
            }
            S::TableNameStart => {
                self.skip(is_ws);
                match self.peek() {
                    ']' | EOF => self.errorf(
                        "unexpected end of table name (table names cannot be empty)".into(),
                    ),
                    '.' => self.errorf(
                        "unexpected table separator (table names cannot be empty)".into(),
                    ),
                    '"' | '\'' => {
                        self.ignore();
                        self.push(S::TableNameEnd);
                        Some(S::QuotedName)
                    }
                    _ => {
                        self.push(S::TableNameEnd);
                        Some(S::BareName)
                    }
                }
            }
            S::TableNameEnd => {
                self.skip(is_ws);
                match self.next() {
                    '.' => {
                        self.ignore();
                        Some(S::TableNameStart)
                    }
                    ']' => self.pop(),
                    r => self.errorf(format!(
                        "expected '.' or ']' to end table name, but got {} instead",
                        quote_rune(r)
                    )),
                }
            }
            S::BareName => {
                let r = self.next();
                if is_bare(r) {
                    return Some(S::BareName);
                }
                self.backup();
                self.emit(ItemType::Text);
                self.pop()
            }
            S::QuotedName => match self.next() {
                '"' => {
                    self.ignore();
                    Some(S::String)
                }
                '\'' => {
                    self.ignore();
                    Some(S::RawString)
                }
                r if is_ws(r) => {
                    self.ignore();
                    Some(S::Value)
                }
                EOF => self.errorf("unexpected EOF; expected value".into()),
                r => self.errorf(format!("expected value but found {} instead", quote_rune(r))),
            },
            S::KeyStart => {
                self.skip(is_ws);
                match self.peek() {
                    '=' | EOF => self.errorf("unexpected '=': key name appears blank".into()),
                    '.' => self.errorf("unexpected '.': keys cannot start with a '.'".into()),
                    r => {
                        if r == '"' || r == '\'' {
                            self.ignore();
                        }
                        self.emit(ItemType::KeyStart);
                        Some(S::KeyNameStart)
                    }
                }
            }
            S::KeyNameStart => {
                self.skip(is_ws);
                match self.peek() {
                    '"' | '\'' => {
                        self.ignore();
                        self.push(S::KeyEnd);
                        Some(S::QuotedName)
                    }
                    '=' | EOF => self.errorf("unexpected '='".into()),
                    '.' => self.errorf("unexpected '.'".into()),
                    _ => {
                        self.push(S::KeyEnd);
                        Some(S::BareName)
                    }
                }
            }
            S::KeyEnd => {
                self.skip(is_ws);
                match self.next() {
                    r if is_ws(r) => {
                        self.ignore();
                        Some(S::KeyEnd)
                    }
                    EOF => self.errorf("unexpected EOF; expected key separator '='".into()),
                    '.' => {
                        self.ignore();
                        Some(S::KeyNameStart)
                    }
                    '=' => {
                        self.emit(ItemType::KeyEnd);
                        self.ignore();
                        Some(S::Value)
                    }
                    r => {
                        let message =
                            format!("expected '.' or '=', but got {} instead", quote_rune(r));
                        if r == '\n' {
                            self.error_prev_line(message)
                        } else {
                            self.errorf(message)
                        }
                    }
                }
            }
            S::Value => self.lex_value(),
            S::ArrayValue => {
                let r = self.next();
                if is_ws(r) || is_nl(r) {
                    self.ignore();
                    return Some(S::ArrayValue);
                }
                match r {
                    '#' => {
                        self.push(S::ArrayValue);
                        Some(S::CommentStart)
                    }
                    ',' => self.errorf("unexpected comma".into()),
                    ']' => Some(S::ArrayEnd),
                    _ => {
                        self.backup();
                        self.push(S::ArrayValueEnd);
                        Some(S::Value)
                    }
                }
            }
            S::ArrayValueEnd => {
                let r = self.next();
                if is_ws(r) || is_nl(r) {
                    self.ignore();
                    return Some(S::ArrayValueEnd);
                }
                match r {
                    '#' => {
                        self.push(S::ArrayValueEnd);
                        Some(S::CommentStart)
                    }
                    ',' => {
                        self.ignore();
                        Some(S::ArrayValue)
                    }
                    ']' => Some(S::ArrayEnd),
                    r => self.errorf(format!(
                        "expected a comma (',') or array terminator (']'), but got {}",
                        rune_or_eof(r)
                    )),
                }
            }
            S::ArrayEnd => {
                self.ignore();
                self.emit(ItemType::ArrayEnd);
                self.pop()
            }
            S::InlineTableValue => {
                let r = self.next();
                if is_ws(r) || is_nl(r) {
                    self.ignore();
                    return Some(S::InlineTableValue);
                }
                match r {
                    '#' => {
                        self.push(S::InlineTableValue);
                        Some(S::CommentStart)
                    }
                    ',' => self.errorf("unexpected comma".into()),
                    '}' => Some(S::InlineTableEnd),
                    _ => {
                        self.backup();
                        self.push(S::InlineTableValueEnd);
                        Some(S::KeyStart)
                    }
                }
            }
            S::InlineTableValueEnd => {
                let r = self.next();
                if is_ws(r) || is_nl(r) {
                    self.ignore();
                    return Some(S::InlineTableValueEnd);
                }
                match r {
                    '#' => {
                        self.push(S::InlineTableValueEnd);
                        Some(S::CommentStart)
                    }
                    ',' => {
                        self.ignore();
                        self.skip(is_ws);
                        if self.peek() == '}' {
                            return Some(S::InlineTableValueEnd);
                        }
                        Some(S::InlineTableValue)
                    }
                    '}' => Some(S::InlineTableEnd),
                    r => self.errorf(format!(
                        "expected a comma or an inline table terminator '}}', but got {} instead",
                        rune_or_eof(r)
                    )),
                }
            }
            S::InlineTableEnd => {
                self.ignore();
                self.emit(ItemType::InlineTableEnd);
                self.pop()
            }
            S::String => match self.next() {
                EOF => self.errorf("unexpected EOF; expected '\"'".into()),
                r if is_nl(r) => self.error_prev_line("strings cannot contain newlines".into()),
                '\\' => {
                    self.push(S::String);
                    Some(S::StringEscape)
                }
                '"' => {
                    self.backup();
                    if self.esc {
                        self.esc = false;
                        self.emit(ItemType::StringEsc);
                    } else {
                        self.emit(ItemType::String);
                    }
                    self.next();
                    self.ignore();
                    self.pop()
                }
                _ => Some(S::String),
            },
            S::MultilineString => match self.next() {
                EOF => self.errorf("unexpected EOF; expected '\"\"\"'".into()),
                '\\' => Some(S::MultilineStringEscape),
                '"' => {
                    if self.accept('"') {
                        if self.accept('"') {
                            if self.peek() == '"' {
                                let cur = self.current();
                                if cur.ends_with("\"\"\"\"\"") && !cur.ends_with("\\\"\"\"\"\"") {
                                    return self.errorf("unexpected '\"\"\"\"\"\"'".into());
                                }
                                self.backup();
                                self.backup();
                                return Some(S::MultilineString);
                            }
                            self.backup();
                            self.backup();
                            self.backup();
                            self.esc = false;
                            self.emit(ItemType::MultilineString);
                            self.next();
                            self.next();
                            self.next();
                            self.ignore();
                            return self.pop();
                        }
                        self.backup();
                    }
                    Some(S::MultilineString)
                }
                _ => Some(S::MultilineString),
            },
            S::RawString => match self.next() {
                EOF => self.errorf("unexpected EOF; expected \"'\"".into()),
                r if is_nl(r) => self.error_prev_line("strings cannot contain newlines".into()),
                '\'' => {
                    self.backup();
                    self.emit(ItemType::RawString);
                    self.next();
                    self.ignore();
                    self.pop()
                }
                _ => Some(S::RawString),
            },
            S::MultilineRawString => match self.next() {
                EOF => self.errorf("unexpected EOF; expected \"'''\"".into()),
                '\'' => {
                    if self.accept('\'') {
                        if self.accept('\'') {
                            if self.peek() == '\'' {
                                if self.current().ends_with("'''''") {
                                    return self.errorf("unexpected \"''''''\"".into());
                                }
                                self.backup();
                                self.backup();
                                return Some(S::MultilineRawString);
                            }
                            self.backup();
                            self.backup();
                            self.backup();
                            self.emit(ItemType::RawMultilineString);
                            self.next();
                            self.next();
                            self.next();
                            self.ignore();
                            return self.pop();
                        }
                        self.backup();
                    }
                    Some(S::MultilineRawString)
                }
                _ => Some(S::MultilineRawString),
            },
            S::MultilineStringEscape => {
                if is_nl(self.next()) {
                    return Some(S::MultilineString);
                }
                self.backup();
                self.push(S::MultilineString);
                self.step(S::StringEscape)
            }
            S::StringEscape => {
                self.esc = true;
                match self.next() {
                    'e' | 'b' | 't' | 'n' | 'f' | 'r' | '"' | ' ' | '\t' | '\\' => self.pop(),
                    'x' => Some(S::HexEscape),
                    'u' => Some(S::ShortUnicodeEscape),
                    'U' => Some(S::LongUnicodeEscape),
                    r => self.error(format!("invalid escape in string '\\{r}'")),
                }
            }
            S::HexEscape => self.hex_digits(2, "two", 'x'),
            S::ShortUnicodeEscape => self.hex_digits(4, "four", 'u'),
            S::LongUnicodeEscape => self.hex_digits(8, "eight", 'U'),
            S::NumberOrDateStart => {
                if self.next() == '0' {
                    Some(S::BaseNumberOrDate)
                } else {
                    Some(S::NumberOrDate)
                }
            }
            S::NumberOrDate => match self.next() {
                r if r.is_ascii_digit() => Some(S::NumberOrDate),
                '-' | ':' => Some(S::Datetime),
                '_' => Some(S::DecimalNumber),
                '.' | 'e' | 'E' => Some(S::Float),
                _ => {
                    self.backup();
                    self.emit(ItemType::Integer);
                    self.pop()
                }
            },
            S::Datetime => match self.next() {
                r if r.is_ascii_digit() => Some(S::Datetime),
                '-' | ':' | 'T' | 't' | ' ' | '.' | 'Z' | 'z' | '+' => Some(S::Datetime),
                _ => {
                    self.backup();
                    self.emit_trim(ItemType::Datetime);
                    self.pop()
                }
            },
            S::HexInteger => self.integer_digits(S::HexInteger, is_hex),
            S::OctalInteger => self.integer_digits(S::OctalInteger, |c| ('0'..='7').contains(&c)),
            S::BinaryInteger => self.integer_digits(S::BinaryInteger, |c| c == '0' || c == '1'),
            S::DecimalNumber => match self.next() {
                r if r.is_ascii_digit() => Some(S::DecimalNumber),
                '.' | 'e' | 'E' => Some(S::Float),
                '_' => Some(S::DecimalNumber),
                _ => {
                    self.backup();
                    self.emit(ItemType::Integer);
                    self.pop()
                }
            },
            S::DecimalNumberStart => {
                let r = self.next();
                match r {
                    'i' => {
                        if !self.accept('n') || !self.accept('f') {
                            return self.errorf(format!("invalid float: '{}'", self.current()));
                        }
                        self.emit(ItemType::Float);
                        return self.pop();
                    }
                    'n' => {
                        if !self.accept('a') || !self.accept('n') {
                            return self.errorf(format!("invalid float: '{}'", self.current()));
                        }
                        self.emit(ItemType::Float);
                        return self.pop();
                    }
                    '0' => {
                        let p = self.peek();
                        if matches!(p, 'b' | 'o' | 'x') {
                            return self.errorf(format!(
                                "cannot use sign with non-decimal numbers: '{}{p}'",
                                self.current()
                            ));
                        }
                    }
                    '.' => return self.errorf("floats must start with a digit, not '.'".into()),
                    _ => {}
                }
                if r.is_ascii_digit() {
                    return Some(S::DecimalNumber);
                }
                self.errorf(format!("expected a digit but got {}", quote_rune(r)))
            }
            S::BaseNumberOrDate => {
                let r = self.next();
                if r.is_ascii_digit() {
                    return Some(S::NumberOrDate);
                }
                match r {
                    '_' => Some(S::DecimalNumber),
                    '.' | 'e' | 'E' => Some(S::Float),
                    'b' | 'o' | 'x' => {
                        let p = self.peek();
                        let (ok, what, next) = match r {
                            'b' => (p == '0' || p == '1', "a binary", S::BinaryInteger),
                            'o' => (('0'..='7').contains(&p), "an octal", S::OctalInteger),
                            _ => (is_hex(p), "a hexadecimal", S::HexInteger),
                        };
                        if !ok {
                            // The library reports this and lexes on.
                            self.errorf(format!("not {what} number: '{}{p}'", self.current()));
                        }
                        Some(next)
                    }
                    _ => {
                        self.backup();
                        self.emit(ItemType::Integer);
                        self.pop()
                    }
                }
            }
            S::Float => match self.next() {
                r if r.is_ascii_digit() => Some(S::Float),
                '_' | '.' | '-' | '+' | 'e' | 'E' => Some(S::Float),
                _ => {
                    self.backup();
                    self.emit(ItemType::Float);
                    self.pop()
                }
            },
            S::Bool => {
                let mut s = String::new();
                loop {
                    let r = self.next();
                    if !is_letter(r) || self.bug.is_some() {
                        self.backup();
                        break;
                    }
                    s.push(r);
                }
                if s == "true" || s == "false" {
                    self.emit(ItemType::Bool);
                    return self.pop();
                }
                self.errorf(format!("expected value but found {} instead", quote(&s)))
            }
            S::CommentStart => {
                self.ignore();
                self.emit(ItemType::CommentStart);
                Some(S::Comment)
            }
            S::Comment => {
                let r = self.next();
                if is_nl(r) || r == EOF {
                    self.backup();
                    self.emit(ItemType::Text);
                    return self.pop();
                }
                Some(S::Comment)
            }
        }
    }

    fn lex_value(&mut self) -> Option<State> {
        use State as S;
        let r = self.next();
        if is_ws(r) {
            self.ignore();
            return Some(S::Value);
        }
        if r.is_ascii_digit() {
            self.backup();
            return Some(S::NumberOrDateStart);
        }
        match r {
            '[' => {
                self.ignore();
                self.emit(ItemType::Array);
                return Some(S::ArrayValue);
            }
            '{' => {
                self.ignore();
                self.emit(ItemType::InlineTableStart);
                return Some(S::InlineTableValue);
            }
            '"' | '\'' => {
                if self.accept(r) {
                    if self.accept(r) {
                        self.ignore();
                        return Some(if r == '"' {
                            S::MultilineString
                        } else {
                            S::MultilineRawString
                        });
                    }
                    self.backup();
                }
                self.ignore();
                return Some(if r == '"' { S::String } else { S::RawString });
            }
            '.' => return self.errorf("floats must start with a digit, not '.'".into()),
            'i' | 'n'
                if (self.accept('n') && self.accept('f'))
                    || (self.accept('a') && self.accept('n')) =>
            {
                self.emit(ItemType::Float);
                return self.pop();
            }
            '-' | '+' => return Some(S::DecimalNumberStart),
            _ => {}
        }
        if is_letter(r) {
            self.backup();
            return Some(S::Bool);
        }
        if r == EOF {
            return self.errorf("unexpected EOF; expected value".into());
        }
        let message = format!("expected value but found {} instead", quote_rune(r));
        if r == '\n' {
            return self.error_prev_line(message);
        }
        self.errorf(message)
    }

    fn hex_digits(&mut self, n: usize, count: &str, escape: char) -> Option<State> {
        for _ in 0..n {
            let r = self.next();
            if !is_hex(r) {
                return self.errorf(format!(
                    "expected {count} hexadecimal digits after '\\{escape}', but got {} instead",
                    quote(self.current())
                ));
            }
        }
        self.pop()
    }

    fn integer_digits(&mut self, me: State, digit: fn(char) -> bool) -> Option<State> {
        let r = self.next();
        if digit(r) || r == '_' {
            return Some(me);
        }
        self.backup();
        self.emit(ItemType::Integer);
        self.pop()
    }
}
