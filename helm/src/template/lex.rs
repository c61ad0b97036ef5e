//! The lexer: Go's `text/template/parse` tokens, including `{{-`/`-}}` trimming, comments,
//! raw strings, character constants and every Go number form.

/// Token kinds, in Go's order (keywords after `Keyword`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Error,
    Bool,
    Char,
    CharConstant,
    Complex,
    Assign,
    Declare,
    Eof,
    Field,
    Identifier,
    LeftDelim,
    LeftParen,
    Number,
    Pipe,
    RawString,
    RightDelim,
    RightParen,
    Space,
    String,
    Text,
    Variable,
    // Keywords.
    Block,
    Break,
    Continue,
    Dot,
    Define,
    Else,
    End,
    If,
    Nil,
    Range,
    Template,
    With,
}

impl Kind {
    fn is_keyword(self) -> bool {
        matches!(
            self,
            Kind::Block
                | Kind::Break
                | Kind::Continue
                | Kind::Dot
                | Kind::Define
                | Kind::Else
                | Kind::End
                | Kind::If
                | Kind::Nil
                | Kind::Range
                | Kind::Template
                | Kind::With
        )
    }
}

/// One token: its kind, byte offset, 1-based line and text.
#[derive(Clone, Debug)]
pub(crate) struct Token {
    pub kind: Kind,
    pub pos: usize,
    pub line: usize,
    pub val: String,
}

impl std::fmt::Display for Token {
    /// As Go's `item.String()` prints it in parse errors.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.kind {
            Kind::Eof => f.write_str("EOF"),
            Kind::Error => f.write_str(&self.val),
            k if k.is_keyword() => write!(f, "<{}>", self.val),
            _ => {
                if self.val.chars().count() > 10 {
                    let head: String = self.val.chars().take(10).collect();
                    write!(f, "{}...", super::fmt::quote(&head))
                } else {
                    f.write_str(&super::fmt::quote(&self.val))
                }
            }
        }
    }
}

const LEFT: &str = "{{";
const RIGHT: &str = "}}";

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

fn is_alnum(c: char) -> bool {
    c == '_' || c.is_alphabetic() || c.is_numeric()
}

fn has_left_trim(s: &str) -> bool {
    let mut it = s.chars();
    it.next() == Some('-') && it.next().is_some_and(is_space)
}

fn has_right_trim(s: &str) -> bool {
    let mut it = s.chars();
    it.next().is_some_and(is_space) && it.next() == Some('-')
}

/// Splits `input` into tokens, ending with `Eof` or an `Error` token.
pub(crate) fn lex(input: &str) -> Vec<Token> {
    let mut l = Lexer {
        input,
        pos: 0,
        start: 0,
        line: 1,
        start_line: 1,
        tokens: Vec::new(),
        paren_depth: 0,
    };
    l.run();
    l.tokens
}

struct Lexer<'a> {
    input: &'a str,
    pos: usize,
    start: usize,
    line: usize,
    start_line: usize,
    tokens: Vec<Token>,
    paren_depth: i64,
}

enum State {
    Text,
    LeftDelim,
    Inside,
    Done,
}

impl Lexer<'_> {
    fn rest(&self) -> &str {
        self.input.get(self.pos..).unwrap_or("")
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        if c == '\n' {
            self.line += 1;
        }
        Some(c)
    }

    fn backup(&mut self, c: char) {
        self.pos -= c.len_utf8();
        if c == '\n' {
            self.line -= 1;
        }
    }

    /// Moves `pos` forward by `n` bytes, counting newlines.
    fn skip(&mut self, n: usize) {
        let end = (self.pos + n).min(self.input.len());
        let skipped = self.input.get(self.pos..end).unwrap_or("");
        self.line += skipped.matches('\n').count();
        self.pos = end;
    }

    fn emit(&mut self, kind: Kind) {
        let val = self
            .input
            .get(self.start..self.pos)
            .unwrap_or("")
            .to_string();
        self.tokens.push(Token {
            kind,
            pos: self.start,
            line: self.start_line,
            val,
        });
        self.ignore();
    }

    fn ignore(&mut self) {
        self.start = self.pos;
        self.start_line = self.line;
    }

    fn error(&mut self, message: String) -> State {
        self.tokens.push(Token {
            kind: Kind::Error,
            pos: self.start,
            line: self.start_line,
            val: message,
        });
        State::Done
    }

    fn run(&mut self) {
        let mut state = State::Text;
        loop {
            state = match state {
                State::Text => self.lex_text(),
                State::LeftDelim => self.lex_left_delim(),
                State::Inside => self.lex_inside(),
                State::Done => return,
            };
        }
    }

    fn lex_text(&mut self) -> State {
        if let Some(x) = self.rest().find(LEFT) {
            if x > 0 {
                self.skip(x);
                let mut trim_end = self.pos;
                let after = self.input.get(self.pos + LEFT.len()..).unwrap_or("");
                if has_left_trim(after) {
                    let text = self.input.get(self.start..self.pos).unwrap_or("");
                    trim_end = self.start + text.trim_end_matches(is_space).len();
                }
                if trim_end > self.start {
                    let saved = (self.pos, self.line);
                    let text = self.input.get(self.start..trim_end).unwrap_or("");
                    self.line = self.start_line + text.matches('\n').count();
                    self.pos = trim_end;
                    self.emit(Kind::Text);
                    (self.pos, self.line) = saved;
                }
                self.ignore();
            }
            return State::LeftDelim;
        }
        self.skip(self.input.len().saturating_sub(self.pos));
        if self.pos > self.start {
            self.emit(Kind::Text);
        }
        self.emit(Kind::Eof);
        State::Done
    }

    /// At `{{`, possibly a comment.
    fn lex_left_delim(&mut self) -> State {
        self.skip(LEFT.len());
        let trim = has_left_trim(self.rest());
        let after_marker = if trim { 2 } else { 0 };
        if self
            .input
            .get(self.pos + after_marker..)
            .is_some_and(|s| s.starts_with("/*"))
        {
            self.skip(after_marker);
            self.ignore();
            return self.lex_comment();
        }
        self.emit(Kind::LeftDelim);
        self.skip(after_marker);
        self.ignore();
        self.paren_depth = 0;
        State::Inside
    }

    fn lex_comment(&mut self) -> State {
        self.skip(2);
        let Some(x) = self.rest().find("*/") else {
            return self.error("unclosed comment".into());
        };
        self.skip(x + 2);
        let (delim, trim) = self.at_right_delim();
        if !delim {
            return self.error("comment ends before closing delimiter".into());
        }
        // Comments are dropped (Go emits them only in ParseComments mode).
        if trim {
            self.skip(2);
        }
        self.skip(RIGHT.len());
        if trim {
            self.skip_space();
        }
        self.ignore();
        State::Text
    }

    fn skip_space(&mut self) {
        let n = self.rest().len() - self.rest().trim_start_matches(is_space).len();
        self.skip(n);
    }

    /// Whether the input is at a closing delimiter, and whether it has a trim marker.
    fn at_right_delim(&self) -> (bool, bool) {
        let rest = self.rest();
        if has_right_trim(rest) && rest.get(2..).is_some_and(|s| s.starts_with(RIGHT)) {
            return (true, true);
        }
        (rest.starts_with(RIGHT), false)
    }

    fn lex_right_delim(&mut self) -> State {
        let (_, trim) = self.at_right_delim();
        if trim {
            self.skip(2);
            self.ignore();
        }
        self.skip(RIGHT.len());
        self.emit(Kind::RightDelim);
        if trim {
            self.skip_space();
            self.ignore();
        }
        State::Text
    }

    fn lex_inside(&mut self) -> State {
        let (delim, _) = self.at_right_delim();
        if delim {
            if self.paren_depth == 0 {
                return self.lex_right_delim();
            }
            return self.error("unclosed left paren".into());
        }
        let Some(c) = self.next() else {
            return self.error("unclosed action".into());
        };
        match c {
            c if is_space(c) => {
                self.backup(c);
                self.lex_space()
            }
            '=' => {
                self.emit(Kind::Assign);
                State::Inside
            }
            ':' => {
                if self.next() != Some('=') {
                    return self.error("expected :=".into());
                }
                self.emit(Kind::Declare);
                State::Inside
            }
            '|' => {
                self.emit(Kind::Pipe);
                State::Inside
            }
            '"' => self.lex_quote(),
            '`' => self.lex_raw_quote(),
            '$' => self.lex_field_or_variable(Kind::Variable),
            '\'' => self.lex_char(),
            '.' if self.peek().is_some_and(|d| !d.is_ascii_digit()) => {
                self.lex_field_or_variable(Kind::Field)
            }
            '.' | '+' | '-' | '0'..='9' => {
                self.backup(c);
                self.lex_number()
            }
            c if is_alnum(c) => {
                self.backup(c);
                self.lex_identifier()
            }
            '(' => {
                self.emit(Kind::LeftParen);
                self.paren_depth += 1;
                State::Inside
            }
            ')' => {
                self.emit(Kind::RightParen);
                self.paren_depth -= 1;
                if self.paren_depth < 0 {
                    return self.error(format!("unexpected right paren {}", sharp_u(c)));
                }
                State::Inside
            }
            c if c.is_ascii() && !c.is_ascii_control() => {
                self.emit(Kind::Char);
                State::Inside
            }
            c => self.error(format!("unrecognized character in action: {}", sharp_u(c))),
        }
    }

    fn lex_space(&mut self) -> State {
        let mut n = 0;
        while let Some(c) = self.peek() {
            if !is_space(c) {
                break;
            }
            self.next();
            n += 1;
        }
        // A space before `-}}` belongs to the delimiter.
        let before = self.pos - 1;
        let tail = self.input.get(before..).unwrap_or("");
        if has_right_trim(tail) && tail.get(2..).is_some_and(|s| s.starts_with(RIGHT)) {
            let c = self
                .input
                .get(before..self.pos)
                .and_then(|s| s.chars().next());
            if let Some(c) = c {
                self.backup(c);
            }
            if n == 1 {
                return State::Inside;
            }
        }
        self.emit(Kind::Space);
        State::Inside
    }

    fn at_terminator(&self) -> bool {
        match self.peek() {
            None => true,
            Some(c) => is_space(c) || matches!(c, '.' | ',' | '|' | ':' | ')' | '(' | '}'),
        }
    }

    fn lex_identifier(&mut self) -> State {
        while let Some(c) = self.peek() {
            if !is_alnum(c) {
                break;
            }
            self.next();
        }
        if !self.at_terminator() {
            let c = self.peek().unwrap_or(' ');
            return self.error(format!("bad character {}", sharp_u(c)));
        }
        let word = self.input.get(self.start..self.pos).unwrap_or("");
        let kind = match word {
            "block" => Kind::Block,
            "break" => Kind::Break,
            "continue" => Kind::Continue,
            "define" => Kind::Define,
            "else" => Kind::Else,
            "end" => Kind::End,
            "if" => Kind::If,
            "range" => Kind::Range,
            "nil" => Kind::Nil,
            "template" => Kind::Template,
            "with" => Kind::With,
            "true" | "false" => Kind::Bool,
            _ => Kind::Identifier,
        };
        self.emit(kind);
        State::Inside
    }

    fn lex_field_or_variable(&mut self, kind: Kind) -> State {
        if self.at_terminator() {
            self.emit(if kind == Kind::Variable {
                Kind::Variable
            } else {
                Kind::Dot
            });
            return State::Inside;
        }
        while let Some(c) = self.peek() {
            if !is_alnum(c) {
                break;
            }
            self.next();
        }
        if !self.at_terminator() {
            let c = self.peek().unwrap_or(' ');
            return self.error(format!("bad character {}", sharp_u(c)));
        }
        self.emit(kind);
        State::Inside
    }

    fn lex_char(&mut self) -> State {
        loop {
            match self.next() {
                Some('\\') => {
                    if let Some(c) = self.next()
                        && c != '\n'
                    {
                        continue;
                    }
                    return self.error("unterminated character constant".into());
                }
                None | Some('\n') => {
                    return self.error("unterminated character constant".into());
                }
                Some('\'') => break,
                Some(_) => {}
            }
        }
        self.emit(Kind::CharConstant);
        State::Inside
    }

    fn lex_quote(&mut self) -> State {
        loop {
            match self.next() {
                Some('\\') => {
                    if let Some(c) = self.next()
                        && c != '\n'
                    {
                        continue;
                    }
                    return self.error("unterminated quoted string".into());
                }
                None | Some('\n') => return self.error("unterminated quoted string".into()),
                Some('"') => break,
                Some(_) => {}
            }
        }
        self.emit(Kind::String);
        State::Inside
    }

    fn lex_raw_quote(&mut self) -> State {
        loop {
            match self.next() {
                None => return self.error("unterminated raw quoted string".into()),
                Some('`') => break,
                Some(_) => {}
            }
        }
        self.emit(Kind::RawString);
        State::Inside
    }

    fn lex_number(&mut self) -> State {
        if !self.scan_number() {
            let text = self.input.get(self.start..self.pos).unwrap_or("");
            let msg = format!("bad number syntax: {}", super::fmt::quote(text));
            return self.error(msg);
        }
        if let Some(sign @ ('+' | '-')) = self.peek() {
            let _ = sign;
            // Complex: 1+2i.
            if !self.scan_number() || !self.input.get(..self.pos).is_some_and(|s| s.ends_with('i'))
            {
                let text = self.input.get(self.start..self.pos).unwrap_or("");
                let msg = format!("bad number syntax: {}", super::fmt::quote(text));
                return self.error(msg);
            }
            self.emit(Kind::Complex);
        } else {
            self.emit(Kind::Number);
        }
        State::Inside
    }

    fn accept(&mut self, valid: &str) -> bool {
        if let Some(c) = self.peek()
            && valid.contains(c)
        {
            self.next();
            return true;
        }
        false
    }

    fn accept_run(&mut self, valid: &str) {
        while self.accept(valid) {}
    }

    fn scan_number(&mut self) -> bool {
        self.accept("+-");
        let mut digits = "0123456789_";
        if self.accept("0") {
            if self.accept("xX") {
                digits = "0123456789abcdefABCDEF_";
            } else if self.accept("oO") {
                digits = "01234567_";
            } else if self.accept("bB") {
                digits = "01_";
            }
        }
        self.accept_run(digits);
        if self.accept(".") {
            self.accept_run(digits);
        }
        if digits.len() == 11 && self.accept("eE") {
            self.accept("+-");
            self.accept_run("0123456789_");
        }
        if digits.len() == 23 && self.accept("pP") {
            self.accept("+-");
            self.accept_run("0123456789_");
        }
        self.accept("i");
        if let Some(c) = self.peek()
            && is_alnum(c)
        {
            self.next();
            return false;
        }
        true
    }
}

/// Go's `%#U`: `U+0023 '#'`.
pub(crate) fn sharp_u(c: char) -> String {
    if c.is_control() {
        format!("U+{:04X}", u32::from(c))
    } else {
        format!("U+{:04X} '{c}'", u32::from(c))
    }
}
