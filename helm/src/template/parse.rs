//! The parser: Go's `text/template/parse` trees, with Go's checks (undefined variables and
//! functions, `break` outside `range`, non-executable pipeline stages) and error messages.

use std::fmt;
use std::sync::Arc;

use super::lex::{Kind, Token, lex};
use super::{ParseError, TemplateSet, builtins};

/// A parsed template.
#[derive(Debug)]
pub(crate) struct Tree {
    /// The template's name (the text's name, or a `define`'s).
    pub name: String,
    /// The name of the text it was parsed from (for error locations).
    pub parse_name: Arc<str>,
    /// The whole text it was parsed from (for error locations).
    pub text: Arc<str>,
    pub root: ListNode,
}

impl Tree {
    pub(crate) fn is_empty(&self) -> bool {
        self.root.nodes.iter().all(Node::is_empty)
    }

    /// Go's `ErrorContext`: `NAME:LINE:COL` and the node's text.
    pub(crate) fn error_context(&self, pos: usize, node: &str) -> (String, String) {
        let before = self.text.get(..pos).unwrap_or(&self.text);
        let line = 1 + before.matches('\n').count();
        let col = match before.rfind('\n') {
            Some(nl) => pos - nl - 1,
            None => pos,
        };
        let context = node.to_string();
        (format!("{}:{}:{}", self.parse_name, line, col), context)
    }
}

#[derive(Debug, Default)]
pub(crate) struct ListNode {
    pub nodes: Vec<Node>,
}

#[derive(Debug)]
pub(crate) enum Node {
    Text(Arc<str>),
    Action(Pipe),
    If(Control),
    Range(Control),
    With(Control),
    Template {
        pos: usize,
        name: String,
        pipe: Option<Pipe>,
    },
    Break,
    Continue,
}

impl Node {
    fn is_empty(&self) -> bool {
        match self {
            Node::Text(t) => t.trim_matches(|c: char| c.is_whitespace()).is_empty(),
            _ => false,
        }
    }
}

#[derive(Debug)]
pub(crate) struct Control {
    pub pos: usize,
    pub pipe: Pipe,
    pub list: ListNode,
    pub else_list: Option<ListNode>,
}

#[derive(Debug)]
pub(crate) struct Pipe {
    pub pos: usize,
    pub is_assign: bool,
    pub decl: Vec<String>,
    pub cmds: Vec<Command>,
}

#[derive(Debug)]
pub(crate) struct Command {
    pub pos: usize,
    pub args: Vec<Arg>,
}

/// A parsed number constant (Go's `NumberNode`).
#[derive(Clone, Debug, Default)]
pub(crate) struct Number {
    pub text: String,
    pub is_int: bool,
    pub is_uint: bool,
    pub is_float: bool,
    pub int: i64,
    pub uint: u64,
    pub float: f64,
    /// From a character constant (`'a'`).
    pub is_char: bool,
}

#[derive(Debug)]
pub(crate) enum Arg {
    Field {
        pos: usize,
        idents: Vec<String>,
    },
    Variable {
        pos: usize,
        idents: Vec<String>,
    },
    Chain {
        pos: usize,
        node: Box<Arg>,
        fields: Vec<String>,
    },
    Identifier {
        pos: usize,
        name: String,
    },
    Dot(usize),
    Nil(usize),
    Bool(usize, bool),
    Number(usize, Box<Number>),
    String {
        pos: usize,
        quoted: String,
        text: Arc<str>,
    },
    Pipe(Box<Pipe>),
}

impl Arg {
    pub(crate) fn pos(&self) -> usize {
        match self {
            Arg::Field { pos, .. }
            | Arg::Variable { pos, .. }
            | Arg::Chain { pos, .. }
            | Arg::Identifier { pos, .. }
            | Arg::String { pos, .. }
            | Arg::Dot(pos)
            | Arg::Nil(pos)
            | Arg::Bool(pos, _)
            | Arg::Number(pos, _) => *pos,
            Arg::Pipe(p) => p.pos,
        }
    }
}

impl fmt::Display for Arg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Arg::Field { idents, .. } => {
                for i in idents {
                    write!(f, ".{i}")?;
                }
                Ok(())
            }
            Arg::Variable { idents, .. } => f.write_str(&idents.join(".")),
            Arg::Chain { node, fields, .. } => {
                if let Arg::Pipe(p) = node.as_ref() {
                    write!(f, "({p})")?;
                } else {
                    write!(f, "{node}")?;
                }
                for field in fields {
                    write!(f, ".{field}")?;
                }
                Ok(())
            }
            Arg::Identifier { name, .. } => f.write_str(name),
            Arg::Dot(_) => f.write_str("."),
            Arg::Nil(_) => f.write_str("nil"),
            Arg::Bool(_, b) => write!(f, "{b}"),
            Arg::Number(_, n) => f.write_str(&n.text),
            Arg::String { quoted, .. } => f.write_str(quoted),
            Arg::Pipe(p) => write!(f, "{p}"),
        }
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, arg) in self.args.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            if let Arg::Pipe(p) = arg {
                write!(f, "({p})")?;
            } else {
                write!(f, "{arg}")?;
            }
        }
        Ok(())
    }
}

impl fmt::Display for Pipe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.decl.is_empty() {
            f.write_str(&self.decl.join(", "))?;
            f.write_str(" := ")?;
        }
        for (i, c) in self.cmds.iter().enumerate() {
            if i > 0 {
                f.write_str(" | ")?;
            }
            write!(f, "{c}")?;
        }
        Ok(())
    }
}

impl fmt::Display for ListNode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for n in &self.nodes {
            write!(f, "{n}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let control = |f: &mut fmt::Formatter<'_>, kw: &str, c: &Control| {
            write!(f, "{{{{{kw} {}}}}}{}", c.pipe, c.list)?;
            if let Some(e) = &c.else_list {
                write!(f, "{{{{else}}}}{e}")?;
            }
            f.write_str("{{end}}")
        };
        match self {
            Node::Text(t) => f.write_str(t),
            Node::Action(p) => write!(f, "{{{{{p}}}}}"),
            Node::If(c) => control(f, "if", c),
            Node::Range(c) => control(f, "range", c),
            Node::With(c) => control(f, "with", c),
            Node::Template { name, pipe, .. } => match pipe {
                Some(p) => write!(f, "{{{{template {} {p}}}}}", super::fmt::quote(name)),
                None => write!(f, "{{{{template {}}}}}", super::fmt::quote(name)),
            },
            Node::Break => f.write_str("{{break}}"),
            Node::Continue => f.write_str("{{continue}}"),
        }
    }
}

/// What `itemList` stopped at.
enum Stop {
    End,
    Else,
}

/// A bail-out carrying the formatted message (Go panics and recovers).
struct Fail(String);

type Res<T> = Result<T, Fail>;

struct Parser<'a> {
    name: Arc<str>,
    text: Arc<str>,
    tokens: Vec<Token>,
    i: usize,
    last_line: usize,
    vars: Vec<String>,
    range_depth: usize,
    action_line: usize,
    depth: usize,
    max_depth: usize,
    set: &'a TemplateSet,
    extra: Option<&'a dyn Fn(&str) -> bool>,
    trees: Vec<Tree>,
}

/// Parses `text` named `name`: the main tree and one tree per `define`/`block`.
pub(crate) fn parse(
    name: &str,
    text: &str,
    set: &TemplateSet,
    extra_funcs: Option<&dyn Fn(&str) -> bool>,
) -> Result<Vec<Tree>, ParseError> {
    let mut p = Parser {
        name: name.into(),
        text: text.into(),
        tokens: lex(text),
        i: 0,
        last_line: 1,
        vars: vec!["$".into()],
        range_depth: 0,
        action_line: 0,
        depth: 0,
        max_depth: set.options().limits.max_parse_depth,
        set,
        extra: extra_funcs,
        trees: Vec::new(),
    };
    match p.parse_top(name) {
        Ok(()) => Ok(p.trees),
        Err(Fail(message)) => Err(ParseError {
            name: name.to_string(),
            line: p.last_line,
            message,
        }),
    }
}

impl Parser<'_> {
    fn eof_token(&self) -> Token {
        Token {
            kind: Kind::Eof,
            pos: self.text.len(),
            line: self.last_line,
            val: String::new(),
        }
    }

    fn next(&mut self) -> Token {
        let t = self
            .tokens
            .get(self.i)
            .cloned()
            .unwrap_or_else(|| self.eof_token());
        if self.i < self.tokens.len() {
            self.i += 1;
        }
        self.last_line = t.line;
        t
    }

    fn backup(&mut self) {
        self.i = self.i.saturating_sub(1);
    }

    fn peek(&mut self) -> Token {
        let t = self.next();
        self.backup();
        t
    }

    fn next_non_space(&mut self) -> Token {
        loop {
            let t = self.next();
            if t.kind != Kind::Space {
                return t;
            }
        }
    }

    fn peek_non_space(&mut self) -> Token {
        let t = self.next_non_space();
        self.backup();
        t
    }

    fn fail<T>(&self, msg: String) -> Res<T> {
        Err(Fail(msg))
    }

    fn unexpected<T>(&mut self, token: &Token, context: &str) -> Res<T> {
        if token.kind == Kind::Error {
            let mut extra = String::new();
            if self.action_line != 0 && self.action_line != token.line {
                extra = format!(" in action started at {}:{}", self.name, self.action_line);
                if token.val.ends_with(" action") {
                    extra = extra.get(" in action".len()..).unwrap_or("").to_string();
                }
            }
            return self.fail(format!("{token}{extra}"));
        }
        self.fail(format!("unexpected {token} in {context}"))
    }

    fn expect(&mut self, kind: Kind, context: &str) -> Res<Token> {
        let t = self.next_non_space();
        if t.kind != kind {
            return self.unexpected(&t, context);
        }
        Ok(t)
    }

    fn enter(&mut self) -> Res<()> {
        self.depth += 1;
        if self.depth > self.max_depth {
            return self.fail("max expression depth exceeded".into());
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    fn has_function(&self, name: &str) -> bool {
        builtins::is_builtin(name)
            || self.set.funcs().contains_key(name)
            || self.extra.is_some_and(|f| f(name))
    }

    fn add_tree(&mut self, tree: Tree) -> Res<()> {
        match self.trees.iter().position(|t| t.name == tree.name) {
            None => self.trees.push(tree),
            Some(i) => {
                let old_empty = self.trees.get(i).is_none_or(Tree::is_empty);
                if old_empty {
                    if let Some(slot) = self.trees.get_mut(i) {
                        *slot = tree;
                    }
                } else if !tree.is_empty() {
                    return self.fail(format!(
                        "template: multiple definition of template {}",
                        super::fmt::quote(&tree.name)
                    ));
                }
            }
        }
        Ok(())
    }

    fn new_tree(&self, name: String, root: ListNode) -> Tree {
        Tree {
            name,
            parse_name: self.name.clone(),
            text: self.text.clone(),
            root,
        }
    }

    fn parse_top(&mut self, name: &str) -> Res<()> {
        let mut root = ListNode::default();
        while self.peek().kind != Kind::Eof {
            if self.peek().kind == Kind::LeftDelim {
                let save = self.i;
                self.next();
                if self.next_non_space().kind == Kind::Define {
                    self.parse_definition()?;
                    continue;
                }
                self.i = save;
            }
            match self.text_or_action()? {
                Item::Node(n) => root.nodes.push(n),
                Item::Stop(Stop::End) => return self.fail("unexpected {{end}}".into()),
                Item::Stop(Stop::Else) => return self.fail("unexpected {{else}}".into()),
            }
        }
        let tree = self.new_tree(name.to_string(), root);
        self.add_tree(tree)
    }

    /// `{{define "name"}} ... {{end}}`, after the `define` keyword.
    fn parse_definition(&mut self) -> Res<()> {
        let context = "define clause";
        let t = self.next_non_space();
        if !matches!(t.kind, Kind::String | Kind::RawString) {
            return self.unexpected(&t, context);
        }
        let name = self.unquote(&t)?;
        self.expect(Kind::RightDelim, context)?;
        let saved_vars = std::mem::replace(&mut self.vars, vec!["$".into()]);
        let saved_range = std::mem::replace(&mut self.range_depth, 0);
        let (list, stop) = self.item_list()?;
        self.vars = saved_vars;
        self.range_depth = saved_range;
        if let Stop::Else = stop {
            return self.fail(format!("unexpected {{{{else}}}} in {context}"));
        }
        let tree = self.new_tree(name, list);
        self.add_tree(tree)
    }

    fn item_list(&mut self) -> Res<(ListNode, Stop)> {
        self.enter()?;
        let mut list = ListNode::default();
        while self.peek_non_space().kind != Kind::Eof {
            match self.text_or_action()? {
                Item::Node(n) => list.nodes.push(n),
                Item::Stop(s) => {
                    self.leave();
                    return Ok((list, s));
                }
            }
        }
        self.fail("unexpected EOF".into())
    }

    fn text_or_action(&mut self) -> Res<Item> {
        let t = self.next_non_space();
        match t.kind {
            Kind::Text => Ok(Item::Node(Node::Text(t.val.as_str().into()))),
            Kind::LeftDelim => {
                let saved = self.action_line;
                self.action_line = t.line;
                let r = self.action();
                self.action_line = saved;
                r
            }
            _ => self.unexpected(&t, "input"),
        }
    }

    fn action(&mut self) -> Res<Item> {
        let t = self.next_non_space();
        match t.kind {
            Kind::Block => return self.block_control().map(Item::Node),
            Kind::Break | Kind::Continue => {
                let word = if t.kind == Kind::Break {
                    "{{break}}"
                } else {
                    "{{continue}}"
                };
                let n = self.next_non_space();
                if n.kind != Kind::RightDelim {
                    return self.unexpected(&n, word);
                }
                if self.range_depth == 0 {
                    return self.fail(format!("{word} outside {{{{range}}}}"));
                }
                return Ok(Item::Node(if t.kind == Kind::Break {
                    Node::Break
                } else {
                    Node::Continue
                }));
            }
            Kind::Else => return self.else_control(),
            Kind::End => {
                self.expect(Kind::RightDelim, "end")?;
                return Ok(Item::Stop(Stop::End));
            }
            Kind::If => return self.control("if").map(|c| Item::Node(Node::If(c))),
            Kind::Range => return self.control("range").map(|c| Item::Node(Node::Range(c))),
            Kind::Template => return self.template_control().map(Item::Node),
            Kind::With => return self.control("with").map(|c| Item::Node(Node::With(c))),
            _ => {}
        }
        self.backup();
        let pipe = self.pipeline("command", Kind::RightDelim)?;
        Ok(Item::Node(Node::Action(pipe)))
    }

    fn else_control(&mut self) -> Res<Item> {
        let peek = self.peek_non_space();
        if matches!(peek.kind, Kind::If | Kind::With) {
            return Ok(Item::Stop(Stop::Else));
        }
        self.expect(Kind::RightDelim, "else")?;
        Ok(Item::Stop(Stop::Else))
    }

    fn control(&mut self, context: &str) -> Res<Control> {
        let nvars = self.vars.len();
        let pipe = self.pipeline(context, Kind::RightDelim)?;
        if context == "range" {
            self.range_depth += 1;
        }
        let (list, stop) = self.item_list()?;
        if context == "range" {
            self.range_depth -= 1;
        }
        let mut else_list = None;
        if let Stop::Else = stop {
            let peek = self.peek();
            if context == "if" && peek.kind == Kind::If {
                self.next();
                let c = self.control("if")?;
                else_list = Some(ListNode {
                    nodes: vec![Node::If(c)],
                });
            } else if context == "with" && peek.kind == Kind::With {
                self.next();
                let c = self.control("with")?;
                else_list = Some(ListNode {
                    nodes: vec![Node::With(c)],
                });
            } else {
                let (list, stop) = self.item_list()?;
                if let Stop::Else = stop {
                    return self.fail("expected end; found {{else}}".into());
                }
                else_list = Some(list);
            }
        }
        self.vars.truncate(nvars);
        Ok(Control {
            pos: pipe.pos,
            pipe,
            list,
            else_list,
        })
    }

    fn template_name(&mut self, t: &Token, context: &str) -> Res<String> {
        match t.kind {
            Kind::String | Kind::RawString => self.unquote(t),
            _ => self.unexpected(t, context),
        }
    }

    fn template_control(&mut self) -> Res<Node> {
        let context = "template clause";
        let t = self.next_non_space();
        let name = self.template_name(&t, context)?;
        let pipe = if self.next_non_space().kind != Kind::RightDelim {
            self.backup();
            Some(self.pipeline(context, Kind::RightDelim)?)
        } else {
            None
        };
        Ok(Node::Template {
            pos: t.pos,
            name,
            pipe,
        })
    }

    fn block_control(&mut self) -> Res<Node> {
        let context = "block clause";
        let t = self.next_non_space();
        let name = self.template_name(&t, context)?;
        let pipe = self.pipeline(context, Kind::RightDelim)?;
        let saved_vars = std::mem::replace(&mut self.vars, vec!["$".into()]);
        let saved_range = std::mem::replace(&mut self.range_depth, 0);
        let (list, stop) = self.item_list()?;
        self.vars = saved_vars;
        self.range_depth = saved_range;
        if let Stop::Else = stop {
            return self.fail(format!("unexpected {{{{else}}}} in {context}"));
        }
        let tree = self.new_tree(name.clone(), list);
        self.add_tree(tree)?;
        Ok(Node::Template {
            pos: t.pos,
            name,
            pipe: Some(pipe),
        })
    }

    fn pipeline(&mut self, context: &str, end: Kind) -> Res<Pipe> {
        let start = self.peek_non_space();
        let mut pipe = Pipe {
            pos: start.pos,
            is_assign: false,
            decl: Vec::new(),
            cmds: Vec::new(),
        };
        'decls: loop {
            let v = self.peek_non_space();
            if v.kind != Kind::Variable {
                break;
            }
            let before = self.i;
            self.next_non_space();
            let after_var = self.peek();
            let next = self.peek_non_space();
            if matches!(next.kind, Kind::Assign | Kind::Declare) {
                pipe.is_assign = next.kind == Kind::Assign;
                self.next_non_space();
                pipe.decl.push(v.val.clone());
                self.vars.push(v.val);
            } else if next.kind == Kind::Char && next.val == "," {
                self.next_non_space();
                pipe.decl.push(v.val.clone());
                self.vars.push(v.val);
                if context == "range" && pipe.decl.len() < 2 {
                    match self.peek_non_space().kind {
                        Kind::Variable | Kind::RightDelim | Kind::RightParen => continue 'decls,
                        _ => return self.fail("range can only initialize variables".into()),
                    }
                }
                return self.fail(format!("too many declarations in {context}"));
            } else {
                let _ = after_var;
                self.i = before;
            }
            break;
        }
        loop {
            let t = self.next_non_space();
            if t.kind == end {
                self.check_pipeline(&pipe, context)?;
                return Ok(pipe);
            }
            match t.kind {
                Kind::Bool
                | Kind::CharConstant
                | Kind::Complex
                | Kind::Dot
                | Kind::Field
                | Kind::Identifier
                | Kind::Number
                | Kind::Nil
                | Kind::RawString
                | Kind::String
                | Kind::Variable
                | Kind::LeftParen => {
                    self.backup();
                    let c = self.command()?;
                    pipe.cmds.push(c);
                }
                _ => return self.unexpected(&t, context),
            }
        }
    }

    fn check_pipeline(&self, pipe: &Pipe, context: &str) -> Res<()> {
        if pipe.cmds.is_empty() {
            return self.fail(format!("missing value for {context}"));
        }
        for (i, c) in pipe.cmds.iter().enumerate().skip(1) {
            if matches!(
                c.args.first(),
                Some(
                    Arg::Bool(..)
                        | Arg::Dot(_)
                        | Arg::Nil(_)
                        | Arg::Number(..)
                        | Arg::String { .. }
                )
            ) {
                return self.fail(format!(
                    "non executable command in pipeline stage {}",
                    i + 1
                ));
            }
        }
        Ok(())
    }

    fn command(&mut self) -> Res<Command> {
        let mut cmd = Command {
            pos: self.peek_non_space().pos,
            args: Vec::new(),
        };
        loop {
            self.peek_non_space();
            if let Some(op) = self.operand()? {
                cmd.args.push(op);
            }
            let t = self.next();
            match t.kind {
                Kind::Space => continue,
                Kind::RightDelim | Kind::RightParen => self.backup(),
                Kind::Pipe => {}
                _ => return self.unexpected(&t, "operand"),
            }
            break;
        }
        if cmd.args.is_empty() {
            return self.fail("empty command".into());
        }
        Ok(cmd)
    }

    fn operand(&mut self) -> Res<Option<Arg>> {
        let Some(node) = self.term()? else {
            return Ok(None);
        };
        if self.peek().kind != Kind::Field {
            return Ok(Some(node));
        }
        let chain_pos = self.peek().pos;
        let mut fields = Vec::new();
        while self.peek().kind == Kind::Field {
            let t = self.next();
            fields.push(t.val.get(1..).unwrap_or("").to_string());
        }
        Ok(Some(match node {
            Arg::Field { mut idents, .. } => {
                idents.extend(fields);
                Arg::Field {
                    pos: chain_pos,
                    idents,
                }
            }
            Arg::Variable { mut idents, .. } => {
                idents.extend(fields);
                Arg::Variable {
                    pos: chain_pos,
                    idents,
                }
            }
            Arg::Bool(..) | Arg::String { .. } | Arg::Number(..) | Arg::Nil(_) | Arg::Dot(_) => {
                return self.fail(format!(
                    "unexpected . after term {}",
                    super::fmt::quote(&node.to_string())
                ));
            }
            node => Arg::Chain {
                pos: chain_pos,
                node: Box::new(node),
                fields,
            },
        }))
    }

    fn term(&mut self) -> Res<Option<Arg>> {
        let t = self.next_non_space();
        Ok(Some(match t.kind {
            Kind::Identifier => {
                if !self.has_function(&t.val) {
                    return self.fail(format!(
                        "function {} not defined",
                        super::fmt::quote(&t.val)
                    ));
                }
                Arg::Identifier {
                    pos: t.pos,
                    name: t.val,
                }
            }
            Kind::Dot => Arg::Dot(t.pos),
            Kind::Nil => Arg::Nil(t.pos),
            Kind::Variable => {
                if !self.vars.contains(&t.val) {
                    return self.fail(format!("undefined variable {}", super::fmt::quote(&t.val)));
                }
                Arg::Variable {
                    pos: t.pos,
                    idents: vec![t.val],
                }
            }
            Kind::Field => Arg::Field {
                pos: t.pos,
                idents: vec![t.val.get(1..).unwrap_or("").to_string()],
            },
            Kind::Bool => Arg::Bool(t.pos, t.val == "true"),
            Kind::CharConstant | Kind::Complex | Kind::Number => {
                let n = parse_number(&t.val, t.kind).map_err(Fail)?;
                Arg::Number(t.pos, Box::new(n))
            }
            Kind::LeftParen => {
                self.enter()?;
                let p = self.pipeline("parenthesized pipeline", Kind::RightParen)?;
                self.leave();
                Arg::Pipe(Box::new(p))
            }
            Kind::String | Kind::RawString => {
                let text = self.unquote(&t)?;
                Arg::String {
                    pos: t.pos,
                    quoted: t.val,
                    text: text.into(),
                }
            }
            _ => {
                self.backup();
                return Ok(None);
            }
        }))
    }

    fn unquote(&self, t: &Token) -> Res<String> {
        unquote(&t.val).ok_or_else(|| Fail("invalid syntax".into()))
    }
}

enum Item {
    Node(Node),
    Stop(Stop),
}

/// Go's `strconv.Unquote` for `"..."` and `` `...` `` strings.
pub(crate) fn unquote(s: &str) -> Option<String> {
    if let Some(raw) = s.strip_prefix('`') {
        let body = raw.strip_suffix('`')?;
        if body.contains('`') {
            return None;
        }
        return Some(body.replace('\r', ""));
    }
    let body = s.strip_prefix('"')?.strip_suffix('"')?;
    let mut out = String::new();
    let mut bytes: Vec<u8> = Vec::new();
    let mut chars = body.chars().peekable();
    // Collect bytes, since \x escapes may produce invalid UTF-8 (Go strings are bytes).
    while let Some(c) = chars.next() {
        if c == '"' || c == '\n' {
            return None;
        }
        if c != '\\' {
            let mut buf = [0u8; 4];
            bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            continue;
        }
        let e = chars.next()?;
        match e {
            'a' => bytes.push(7),
            'b' => bytes.push(8),
            'f' => bytes.push(12),
            'n' => bytes.push(b'\n'),
            'r' => bytes.push(b'\r'),
            't' => bytes.push(b'\t'),
            'v' => bytes.push(11),
            '\\' => bytes.push(b'\\'),
            '"' => bytes.push(b'"'),
            'x' => {
                let h: String = (0..2).filter_map(|_| chars.next()).collect();
                if h.len() != 2 {
                    return None;
                }
                bytes.push(u8::from_str_radix(&h, 16).ok()?);
            }
            '0'..='7' => {
                let mut v = e.to_digit(8)?;
                for _ in 0..2 {
                    v = v * 8 + chars.next()?.to_digit(8)?;
                }
                bytes.push(u8::try_from(v).ok()?);
            }
            'u' | 'U' => {
                let n = if e == 'u' { 4 } else { 8 };
                let h: String = (0..n).filter_map(|_| chars.next()).collect();
                if h.len() != n || !h.chars().all(|c| c.is_ascii_hexdigit()) {
                    return None;
                }
                let c = char::from_u32(u32::from_str_radix(&h, 16).ok()?)?;
                let mut buf = [0u8; 4];
                bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
            _ => return None,
        }
    }
    // Invalid UTF-8 from \x escapes is kept lossily (Rust strings are UTF-8).
    out.push_str(&String::from_utf8_lossy(&bytes));
    Some(out)
}

/// Go's `strconv.UnquoteChar` on a whole `'x'` constant: `invalid syntax` when the first
/// character is not a valid (escaped) character, `malformed character constant` when more
/// follows it.
fn unquote_char(s: &str) -> Result<char, String> {
    let body = s.get(1..).unwrap_or("");
    let mut chars = body.chars();
    let first = chars.next();
    let c = match first {
        None | Some('\'') | Some('\n') => return Err("invalid syntax".into()),
        Some('\\') => {
            // Find the escape's extent and decode it.
            let e = chars.next().ok_or("invalid syntax")?;
            let n = match e {
                'x' => 2,
                'u' => 4,
                'U' => 8,
                '0'..='7' => 2,
                _ => 0,
            };
            let digits: String = chars.clone().take(n).collect();
            let esc = format!("'\\{e}{digits}'");
            for _ in 0..n {
                chars.next();
            }
            unquote_char_simple(&esc).ok_or("invalid syntax")?
        }
        Some(c) => c,
    };
    if chars.as_str() != "'" {
        return Err(format!("malformed character constant: {s}"));
    }
    Ok(c)
}

fn unquote_char_simple(s: &str) -> Option<char> {
    let body = s.strip_prefix('\'')?.strip_suffix('\'')?;
    let mut chars = body.chars();
    let c = chars.next()?;
    if c == '\'' || c == '\n' {
        return None;
    }
    if c != '\\' {
        return if chars.next().is_none() {
            Some(c)
        } else {
            None
        };
    }
    let e = chars.next()?;
    let rest: String = chars.collect();
    let simple = |v: u32| -> Option<char> {
        if rest.is_empty() {
            char::from_u32(v)
        } else {
            None
        }
    };
    match e {
        'a' => simple(7),
        'b' => simple(8),
        'f' => simple(12),
        'n' => simple(10),
        'r' => simple(13),
        't' => simple(9),
        'v' => simple(11),
        '\\' => simple(u32::from('\\')),
        '\'' => simple(u32::from('\'')),
        'x' | 'u' | 'U' => {
            let n = match e {
                'x' => 2,
                'u' => 4,
                _ => 8,
            };
            if rest.len() != n || !rest.chars().all(|c| c.is_ascii_hexdigit()) {
                return None;
            }
            char::from_u32(u32::from_str_radix(&rest, 16).ok()?)
        }
        '0'..='7' => {
            if rest.len() != 2 {
                return None;
            }
            let v = u32::from_str_radix(&format!("{e}{rest}"), 8).ok()?;
            if v > 255 {
                return None;
            }
            char::from_u32(v)
        }
        _ => None,
    }
}

/// Go's `parse.newNumber`.
fn parse_number(text: &str, kind: Kind) -> Result<Number, String> {
    let mut n = Number {
        text: text.to_string(),
        ..Number::default()
    };
    if kind == Kind::CharConstant {
        let c = unquote_char(text)?;
        let v = i64::from(u32::from(c));
        n.is_int = true;
        n.is_uint = true;
        n.is_float = true;
        n.int = v;
        n.uint = v.unsigned_abs();
        n.float = v as f64;
        n.is_char = true;
        return Ok(n);
    }
    if kind == Kind::Complex || text.ends_with('i') {
        return Err(format!("complex numbers are not supported: {text}"));
    }
    let u = parse_uint(text);
    if let Some(u) = u {
        n.is_uint = true;
        n.uint = u;
    }
    if let Some(i) = parse_int(text) {
        n.is_int = true;
        n.int = i;
        if i == 0 {
            n.is_uint = true;
            n.uint = 0;
        }
    }
    if n.is_int {
        n.is_float = true;
        n.float = n.int as f64;
    } else if n.is_uint {
        n.is_float = true;
        n.float = n.uint as f64;
    } else if let Some(f) = parse_float(text) {
        if !text.contains(['.', 'e', 'E', 'p', 'P']) {
            return Err(format!("integer overflow: {}", super::fmt::quote(text)));
        }
        n.is_float = true;
        n.float = f;
        #[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]
        {
            if f.fract() == 0.0
                && (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&f)
            {
                n.is_int = true;
                n.int = f as i64;
            }
            if f.fract() == 0.0 && (0.0..18_446_744_073_709_551_616.0).contains(&f) {
                n.is_uint = true;
                n.uint = f as u64;
            }
        }
    }
    if !n.is_int && !n.is_uint && !n.is_float {
        return Err(format!(
            "illegal number syntax: {}",
            super::fmt::quote(text)
        ));
    }
    Ok(n)
}

/// Splits a Go integer literal into sign, base and digits (underscores checked, removed).
fn int_parts(text: &str) -> Option<(bool, u32, String)> {
    let (neg, body) = match text.as_bytes().first() {
        Some(b'-') => (true, text.get(1..)?),
        Some(b'+') => (false, text.get(1..)?),
        _ => (false, text),
    };
    let lower = body.to_ascii_lowercase();
    let (base, digits, prefixed) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d.to_string(), true)
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d.to_string(), true)
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d.to_string(), true)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, lower.get(1..)?.to_string(), true)
    } else {
        (10, lower, false)
    };
    if !underscore_ok(&digits, prefixed) {
        return None;
    }
    let digits: String = digits.chars().filter(|c| *c != '_').collect();
    if digits.is_empty() {
        return None;
    }
    Some((neg, base, digits))
}

/// Go's rule: underscores only between digits, or right after a base prefix.
fn underscore_ok(digits: &str, prefixed: bool) -> bool {
    let mut prev_digit = prefixed;
    let mut saw_underscore = false;
    for c in digits.chars() {
        if c == '_' {
            if !prev_digit {
                return false;
            }
            prev_digit = false;
            saw_underscore = true;
        } else {
            prev_digit = true;
        }
    }
    !saw_underscore || prev_digit
}

fn parse_uint(text: &str) -> Option<u64> {
    let (neg, base, digits) = int_parts(text)?;
    if neg || text.starts_with('+') {
        return None;
    }
    u64::from_str_radix(&digits, base).ok()
}

fn parse_int(text: &str) -> Option<i64> {
    let (neg, base, digits) = int_parts(text)?;
    let mag = u128::from_str_radix(&digits, base).ok()?;
    let v = if neg {
        -(i128::try_from(mag).ok()?)
    } else {
        i128::try_from(mag).ok()?
    };
    i64::try_from(v).ok()
}

/// Go's `strconv.ParseFloat(text, 64)` for decimal and hex literals with underscores.
fn parse_float(text: &str) -> Option<f64> {
    let (neg, body) = match text.as_bytes().first() {
        Some(b'-') => (true, text.get(1..)?),
        Some(b'+') => (false, text.get(1..)?),
        _ => (false, text),
    };
    let lower = body.to_ascii_lowercase();
    let v = if let Some(hex) = lower.strip_prefix("0x") {
        let hex: String = hex.chars().filter(|c| *c != '_').collect();
        let (mant, exp) = hex.split_once('p')?;
        let exp: i32 = exp.parse().ok()?;
        let (int, frac) = mant.split_once('.').unwrap_or((mant, ""));
        let mut v = 0f64;
        for c in int.chars().chain(frac.chars()) {
            v = v * 16.0 + f64::from(c.to_digit(16)?);
        }
        let frac_len = i32::try_from(frac.len()).ok()?;
        Some(v * 2f64.powi(exp - 4 * frac_len)).filter(|f| f.is_finite())?
    } else {
        if lower.contains('_') && !underscore_ok(&lower.replace(['.', 'e', '+', '-'], "_"), false) {
            return None;
        }
        let clean: String = lower.chars().filter(|c| *c != '_').collect();
        if clean.starts_with('e') || clean == "." {
            return None;
        }
        clean.parse::<f64>().ok().filter(|f| f.is_finite())?
    };
    Some(if neg { -v } else { v })
}
