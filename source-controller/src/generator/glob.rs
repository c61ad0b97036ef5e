//! Glob patterns as Flux's ArtifactGenerator matches them, in its two dialects:
//!
//! - [`Dialect::GoPath`], Go's `path.Match` (what `io/fs.Glob` uses, so `from` patterns of
//!   the Overwrite and Merge strategies): `*` any run of characters but `/`, `?` one such
//!   character, `[a-z]` / `[^a-z]` a class, `\` escapes. `**` is two `*`s, so it matches one
//!   path segment, like `*`.
//! - [`Dialect::Doublestar`], github.com/bmatcuk/doublestar v4 (`from` patterns of the
//!   Extract strategy, and every `exclude` pattern): the same, plus `**` as a whole segment
//!   for zero or more directories (`a/**` also matches `a` itself), `{a,b}` alternatives, and
//!   `[!a-z]` negation.
//!
//! A pattern is compiled to a small automaton matched in one pass over the name (no
//! backtracking), so no pattern can make matching slow; brace alternatives are expanded, at
//! most [`MAX_ALTERNATIVES`] of them.

use super::tree::{Tree, join};

/// Most alternatives a doublestar pattern's `{...}` groups may expand to (`{a,b}/{c,d}` is
/// four). Each alternative costs one pass over every name matched.
pub const MAX_ALTERNATIVES: usize = 256;

/// Deepest nesting of `{...}` groups.
const MAX_GROUP_DEPTH: usize = 16;

/// The pattern language.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    /// Go's `path.Match`.
    GoPath,
    /// bmatcuk/doublestar v4's `Match`.
    Doublestar,
}

/// A malformed pattern. The text starts as Go's `path.ErrBadPattern` does.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    /// Bad syntax, with what is wrong.
    #[error("syntax error in pattern: {0}")]
    Syntax(&'static str),
    /// The `{...}` groups expand to too many alternatives.
    #[error("pattern has more than {MAX_ALTERNATIVES} alternatives in '{{}}' groups")]
    TooManyAlternatives,
}

/// Whether Flux treats a `from` path as a glob: it contains `*`, `?`, `[` or `]`. Braces
/// alone do not make a glob.
pub fn has_glob_chars(path: &str) -> bool {
    path.contains(['*', '?', '[', ']'])
}

/// A compiled pattern, matched against a whole name or path.
#[derive(Clone, Debug)]
pub struct Pattern {
    /// One automaton per brace alternative; the pattern matches if any does.
    alternatives: Vec<Program>,
}

impl Pattern {
    /// Compiles `text`. The whole pattern is checked, as Go and doublestar check it.
    ///
    /// # Errors
    /// A malformed pattern, or one with more than [`MAX_ALTERNATIVES`] alternatives.
    pub fn new(text: &str, dialect: Dialect) -> Result<Pattern, PatternError> {
        let mut parser = Parser {
            chars: text.chars().collect(),
            pos: 0,
            dialect,
        };
        let atoms = parser.sequence(0)?;
        let alternatives = expand(&atoms)?
            .iter()
            .map(|tokens| Program::compile(tokens, dialect))
            .collect();
        Ok(Pattern { alternatives })
    }

    /// Whether the whole of `name` matches.
    pub fn matches(&self, name: &str) -> bool {
        self.alternatives
            .iter()
            .any(|program| program.matches(name))
    }
}

/// A `from` glob compiled for its dialect, to list the paths of a tree it matches.
#[derive(Clone, Debug)]
pub struct Glob {
    text: String,
    matcher: Matcher,
}

#[derive(Clone, Debug)]
enum Matcher {
    /// Go's `io/fs.Glob`: the directory up to the first segment with meta characters is
    /// read as written; every later segment is matched against the entries of the
    /// directories matched so far.
    Go {
        base: String,
        segments: Vec<Pattern>,
    },
    /// doublestar's `Glob`: every path of the tree is matched against the whole pattern.
    Doublestar(Pattern),
}

impl Glob {
    /// Compiles `text`.
    ///
    /// # Errors
    /// A malformed pattern. Go patterns are also checked segment by segment, as
    /// `io/fs.Glob` does, so `a[/]b` (a class holding `/`) is malformed.
    pub fn new(text: &str, dialect: Dialect) -> Result<Glob, PatternError> {
        let whole = Pattern::new(text, dialect)?;
        let matcher = match dialect {
            Dialect::Doublestar => Matcher::Doublestar(whole),
            Dialect::GoPath => {
                let has_meta = |s: &str| s.contains(['*', '?', '[', '\\']);
                let all: Vec<&str> = text.split('/').collect();
                let literal = all.iter().take_while(|s| !has_meta(s)).count();
                let base = if literal == 0 {
                    ".".to_string()
                } else {
                    all[..literal].join("/")
                };
                let segments = all[literal..]
                    .iter()
                    .map(|segment| Pattern::new(segment, Dialect::GoPath))
                    .collect::<Result<_, _>>()?;
                Matcher::Go { base, segments }
            }
        };
        Ok(Glob {
            text: text.to_string(),
            matcher,
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The paths (files and directories, never the root) of `tree` the glob matches.
    ///
    /// Go globs list them in directory-listing order. As in `io/fs`, a literal part that is
    /// not a clean path (`a//b/*`, `a/../*`) matches nothing, but `./*` reads the root; a
    /// glob without meta characters (only `]`) matches the path it names, if it exists.
    /// Doublestar globs list them depth first in lexical order, a directory before its
    /// contents.
    pub fn paths(&self, tree: &Tree) -> Vec<String> {
        match &self.matcher {
            Matcher::Go { base, segments } => {
                if segments.is_empty() {
                    return if tree.get(base).is_some() {
                        vec![base.clone()]
                    } else {
                        Vec::new()
                    };
                }
                let mut current = vec![base.clone()];
                for segment in segments {
                    let mut next = Vec::new();
                    for dir in current.iter().filter(|dir| tree.is_directory(dir)) {
                        next.extend(
                            tree.children(dir)
                                .filter(|name| segment.matches(name))
                                .map(|name| join(dir, name)),
                        );
                    }
                    current = next;
                }
                current
            }
            Matcher::Doublestar(pattern) => {
                let mut matches: Vec<&str> = tree
                    .descendants(".")
                    .map(|(path, _)| path)
                    .filter(|path| pattern.matches(path))
                    .collect();
                matches.sort_by(|a, b| a.split('/').cmp(b.split('/')));
                matches.into_iter().map(str::to_string).collect()
            }
        }
    }
}

/// A character class.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Class {
    negated: bool,
    /// Inclusive ranges; a single character is a range of one.
    ranges: Vec<(char, char)>,
}

impl Class {
    fn contains(&self, c: char) -> bool {
        self.ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) != self.negated
    }
}

/// A pattern element once `{...}` groups are expanded.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Token {
    Literal(char),
    /// `?`
    AnyChar,
    /// `*` (a pair at a segment boundary is doublestar's `**`).
    AnyRun,
    Class(Class),
}

/// A parsed pattern element.
enum Atom {
    Token(Token),
    /// `{a,b}`: alternatives, each a sequence.
    Group(Vec<Vec<Atom>>),
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
    dialect: Dialect,
}

impl Parser {
    fn next(&mut self) -> Option<char> {
        let c = self.chars.get(self.pos).copied();
        self.pos += 1;
        c
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    /// Atoms up to the end of the pattern or, inside a group (`depth > 0`), up to the `,` or
    /// `}` that ends the alternative (left for the caller).
    fn sequence(&mut self, depth: usize) -> Result<Vec<Atom>, PatternError> {
        let braces = self.dialect == Dialect::Doublestar;
        let mut atoms = Vec::new();
        loop {
            let Some(c) = self.peek() else {
                if depth > 0 {
                    return Err(PatternError::Syntax("'{' without '}'"));
                }
                return Ok(atoms);
            };
            if braces && depth > 0 && (c == ',' || c == '}') {
                return Ok(atoms);
            }
            self.pos += 1;
            let token = match c {
                '{' if braces => {
                    if depth >= MAX_GROUP_DEPTH {
                        return Err(PatternError::Syntax("'{}' groups nested too deep"));
                    }
                    let mut alternatives = vec![self.sequence(depth + 1)?];
                    while self.next() == Some(',') {
                        alternatives.push(self.sequence(depth + 1)?);
                    }
                    atoms.push(Atom::Group(alternatives));
                    continue;
                }
                '}' if braces => return Err(PatternError::Syntax("'}' without '{'")),
                '\\' => Token::Literal(
                    self.next()
                        .ok_or(PatternError::Syntax("'\\' at the end of the pattern"))?,
                ),
                '*' => Token::AnyRun,
                '?' => Token::AnyChar,
                '[' => Token::Class(match self.dialect {
                    Dialect::GoPath => self.go_class()?,
                    Dialect::Doublestar => self.doublestar_class()?,
                }),
                other => Token::Literal(other),
            };
            atoms.push(Atom::Token(token));
        }
    }

    /// The rest of a class after `[`, by Go's grammar: `^` negates; every item is a
    /// character or a range `lo-hi`, where `-`, `]` and `\` must be escaped; the class is not
    /// empty.
    fn go_class(&mut self) -> Result<Class, PatternError> {
        let negated = self.peek() == Some('^');
        if negated {
            self.pos += 1;
        }
        let mut ranges = Vec::new();
        loop {
            if self.peek() == Some(']') && !ranges.is_empty() {
                self.pos += 1;
                return Ok(Class { negated, ranges });
            }
            let lo = self.go_class_char()?;
            let hi = if self.peek() == Some('-') {
                self.pos += 1;
                self.go_class_char()?
            } else {
                lo
            };
            ranges.push((lo, hi));
        }
    }

    fn go_class_char(&mut self) -> Result<char, PatternError> {
        match self.next() {
            None => Err(PatternError::Syntax("'[' without ']'")),
            Some('-' | ']') => Err(PatternError::Syntax(
                "'-' or ']' must be escaped inside '[...]'",
            )),
            Some('\\') => self.next().ok_or(PatternError::Syntax("'[' without ']'")),
            Some(c) => Ok(c),
        }
    }

    /// The rest of a class after `[`, by doublestar's rules: `^` or `!` negates; the class is
    /// not empty; `-` between two characters is a range, elsewhere a literal; `\` escapes.
    fn doublestar_class(&mut self) -> Result<Class, PatternError> {
        let unclosed = PatternError::Syntax("'[' without ']'");
        let negated = matches!(self.peek(), Some('^' | '!'));
        if negated {
            self.pos += 1;
        }
        if matches!(self.peek(), None | Some(']')) {
            return Err(PatternError::Syntax("empty '[]' class"));
        }
        let mut ranges = Vec::new();
        // The character before a `-`, while it may still start a range.
        let mut range_start: Option<char> = None;
        loop {
            let c = self.next().ok_or(unclosed.clone())?;
            match c {
                ']' => return Ok(Class { negated, ranges }),
                '-' if range_start.is_some() && !matches!(self.peek(), None | Some(']')) => {
                    let mut hi = self.next().ok_or(unclosed.clone())?;
                    if hi == '\\' {
                        hi = self.next().ok_or(unclosed.clone())?;
                    }
                    // The start already matches on its own; the range adds the rest.
                    if let Some(lo) = range_start.take() {
                        ranges.push((lo, hi));
                    }
                }
                _ => {
                    let c = if c == '\\' {
                        self.next().ok_or(unclosed.clone())?
                    } else {
                        c
                    };
                    ranges.push((c, c));
                    range_start = Some(c);
                }
            }
        }
    }
}

/// Every brace-free sequence a parsed pattern stands for, in order.
fn expand(atoms: &[Atom]) -> Result<Vec<Vec<Token>>, PatternError> {
    let mut results: Vec<Vec<Token>> = vec![Vec::new()];
    for atom in atoms {
        match atom {
            Atom::Token(token) => {
                for result in &mut results {
                    result.push(token.clone());
                }
            }
            Atom::Group(alternatives) => {
                let mut options = Vec::new();
                for alternative in alternatives {
                    options.extend(expand(alternative)?);
                    if options.len() > MAX_ALTERNATIVES {
                        return Err(PatternError::TooManyAlternatives);
                    }
                }
                if results.len().saturating_mul(options.len()) > MAX_ALTERNATIVES {
                    return Err(PatternError::TooManyAlternatives);
                }
                results = results
                    .iter()
                    .flat_map(|prefix| {
                        options.iter().map(move |option| {
                            let mut joined = prefix.clone();
                            joined.extend(option.iter().cloned());
                            joined
                        })
                    })
                    .collect();
            }
        }
    }
    Ok(results)
}

/// What one step of an automaton accepts.
#[derive(Clone, Debug)]
enum Test {
    Exactly(char),
    NotSlash,
    Anything,
    Class(Class),
}

impl Test {
    fn accepts(&self, c: char) -> bool {
        match self {
            Test::Exactly(want) => c == *want,
            Test::NotSlash => c != '/',
            Test::Anything => true,
            Test::Class(class) => class.contains(c),
        }
    }
}

/// A state of an automaton; the targets are state indices, and the index one past the last
/// state accepts.
#[derive(Clone, Debug)]
enum State {
    /// Consumes one character passing the test, then goes to the target.
    One(Test, usize),
    /// Consumes any number of characters passing the test, then goes on to the target.
    Many(Test, usize),
    /// Goes to both targets without consuming anything.
    Fork(usize, usize),
}

/// A non-deterministic automaton for one brace-free pattern.
#[derive(Clone, Debug)]
struct Program {
    states: Vec<State>,
}

impl Program {
    fn compile(tokens: &[Token], dialect: Dialect) -> Program {
        let doublestar = dialect == Dialect::Doublestar;
        let mut states = Vec::new();
        let mut segment_start = true;
        let mut i = 0;
        while i < tokens.len() {
            let here = states.len();
            // `/**` ending the pattern: anything below the directory, or the directory itself.
            if doublestar
                && tokens[i] == Token::Literal('/')
                && tokens[i + 1..] == [Token::AnyRun, Token::AnyRun]
            {
                states.push(State::Fork(here + 3, here + 1));
                states.push(State::One(Test::Exactly('/'), here + 2));
                states.push(State::Many(Test::Anything, here + 3));
                break;
            }
            match &tokens[i] {
                Token::Literal(c) => {
                    states.push(State::One(Test::Exactly(*c), here + 1));
                    segment_start = *c == '/';
                    i += 1;
                }
                Token::AnyChar => {
                    states.push(State::One(Test::NotSlash, here + 1));
                    segment_start = false;
                    i += 1;
                }
                Token::Class(class) => {
                    states.push(State::One(Test::Class(class.clone()), here + 1));
                    segment_start = false;
                    i += 1;
                }
                Token::AnyRun
                    if doublestar && segment_start && tokens.get(i + 1) == Some(&Token::AnyRun) =>
                {
                    match tokens.get(i + 2) {
                        // `**` as the whole (rest of the) pattern: anything.
                        None => {
                            states.push(State::Many(Test::Anything, here + 1));
                            i += 2;
                        }
                        // `**/`: zero or more whole directories.
                        Some(Token::Literal('/')) => {
                            states.push(State::Fork(here + 3, here + 1));
                            states.push(State::Many(Test::Anything, here + 2));
                            states.push(State::One(Test::Exactly('/'), here + 3));
                            i += 3;
                        }
                        // `**x`: bash globstar rules, a plain `*`.
                        Some(_) => {
                            states.push(State::Many(Test::NotSlash, here + 1));
                            segment_start = false;
                            i += 2;
                        }
                    }
                }
                Token::AnyRun => {
                    states.push(State::Many(Test::NotSlash, here + 1));
                    segment_start = false;
                    i += 1;
                }
            }
        }
        Program { states }
    }

    fn matches(&self, name: &str) -> bool {
        let accept = self.states.len();
        let mut current = StateSet::new(accept + 1);
        let mut next = StateSet::new(accept + 1);
        self.enter(&mut current, 0);
        for c in name.chars() {
            next.clear();
            for &index in &current.members {
                match self.states.get(index) {
                    Some(State::One(test, target)) if test.accepts(c) => {
                        self.enter(&mut next, *target);
                    }
                    Some(State::Many(test, _)) if test.accepts(c) => self.enter(&mut next, index),
                    _ => {}
                }
            }
            if next.members.is_empty() {
                return false;
            }
            std::mem::swap(&mut current, &mut next);
        }
        current.contains(accept)
    }

    /// Adds `start` and every state reachable from it without consuming a character.
    fn enter(&self, set: &mut StateSet, start: usize) {
        let mut pending = vec![start];
        while let Some(index) = pending.pop() {
            if !set.insert(index) {
                continue;
            }
            match self.states.get(index) {
                Some(State::Fork(a, b)) => pending.extend([*b, *a]),
                Some(State::Many(_, target)) => pending.push(*target),
                _ => {}
            }
        }
    }
}

/// A set of state indices with insertion in O(1) and iteration over members only.
struct StateSet {
    present: Vec<bool>,
    members: Vec<usize>,
}

impl StateSet {
    fn new(size: usize) -> StateSet {
        StateSet {
            present: vec![false; size],
            members: Vec::new(),
        }
    }

    fn insert(&mut self, index: usize) -> bool {
        match self.present.get_mut(index) {
            Some(seen) if !*seen => {
                *seen = true;
                self.members.push(index);
                true
            }
            _ => false,
        }
    }

    fn contains(&self, index: usize) -> bool {
        self.present.get(index).copied().unwrap_or(false)
    }

    fn clear(&mut self) {
        for index in self.members.drain(..) {
            self.present[index] = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generator::tree::File;

    fn go(pattern: &str, name: &str) -> Result<bool, PatternError> {
        Ok(Pattern::new(pattern, Dialect::GoPath)?.matches(name))
    }

    fn ds(pattern: &str, name: &str) -> Result<bool, PatternError> {
        Ok(Pattern::new(pattern, Dialect::Doublestar)?.matches(name))
    }

    /// Cases of Go's path.Match tests.
    #[test]
    fn go_path_match() -> Result<(), PatternError> {
        for (pattern, name, want) in [
            ("abc", "abc", true),
            ("*", "abc", true),
            ("*c", "abc", true),
            ("a*", "a", true),
            ("a*", "abc", true),
            ("a*", "ab/c", false),
            ("a*/b", "abc/b", true),
            ("a*/b", "a/c/b", false),
            ("a*b*c*d*e*/f", "axbxcxdxe/f", true),
            ("a*b*c*d*e*/f", "axbxcxdxexxx/f", true),
            ("a*b*c*d*e*/f", "axbxcxdxe/xxx/f", false),
            ("a*b*c*d*e*/f", "axbxcxdxexxx/fff", false),
            ("a*b?c*x", "abxbbxdbxebxczzx", true),
            ("a*b?c*x", "abxbbxdbxebxczzy", false),
            ("ab[c]", "abc", true),
            ("ab[b-d]", "abc", true),
            ("ab[e-g]", "abc", false),
            ("ab[^c]", "abc", false),
            ("ab[^b-d]", "abc", false),
            ("ab[^e-g]", "abc", true),
            ("a\\*b", "a*b", true),
            ("a\\*b", "ab", false),
            ("a?b", "a☺b", true),
            ("a[^a]b", "a☺b", true),
            ("a???b", "a☺b", false),
            ("[a-ζ]*", "α", true),
            ("*[a-ζ]", "A", false),
            ("a?b", "a/b", false),
            ("a*b", "a/b", false),
            ("[\\]a]", "]", true),
            ("[\\-]", "-", true),
            ("[x\\-]", "-", true),
            ("[x\\-]", "z", false),
            ("*x", "xxx", true),
            // `**` is two stars: one segment, never a directory boundary.
            ("**", "a", true),
            ("**", "a/b", false),
            ("a/**", "a/b", true),
            ("a/**", "a/b/c", false),
            ("a/**", "a", false),
            // No braces and no `!` negation in Go.
            ("{a,b}", "{a,b}", true),
            ("{a,b}", "a", false),
            ("[!a]", "!", true),
            ("[!a]", "b", false),
        ] {
            assert_eq!(
                go(pattern, name)?,
                want,
                "path.Match({pattern:?}, {name:?})"
            );
        }
        for bad in [
            "[]a]", "[-]", "[x-]", "[-x]", "\\", "[a-b-c]", "[", "[^", "[^bc", "a[", "[^]",
        ] {
            assert!(
                matches!(go(bad, "a"), Err(PatternError::Syntax(_))),
                "{bad} is malformed in Go"
            );
        }
        Ok(())
    }

    /// Cases of doublestar v4's Match tests.
    #[test]
    fn doublestar_match() -> Result<(), PatternError> {
        for (pattern, name, want) in [
            ("*", "abc", true),
            ("a*", "ab/c", false),
            ("ab[^c]", "abc", false),
            ("ab[!c]", "abc", false),
            ("ab[!e-g]", "abc", true),
            ("a/**", "a", true),
            ("a/**", "a/b", true),
            ("a/**", "a/b/c", true),
            ("a/**", "ab", false),
            ("**/c", "c", true),
            ("**/c", "b/c", true),
            ("**/c", "a/b/c", true),
            ("**/c", "a/b", false),
            ("**/c", "abcd", false),
            ("**/c", "a/abc", false),
            ("a/**/b", "a/b", true),
            ("a/**/c", "a/b/c", true),
            ("a/**/d", "a/b/c/d", true),
            ("a/**/d", "a/b/c/e", false),
            ("a/\\**", "a/b/c", false),
            ("a/\\**", "a/*x", true),
            ("**", "", true),
            ("**", "a/b/c", true),
            ("abc**", "abc", true),
            ("abc**", "abc/d", false),
            ("**abc", "abc", true),
            ("**abc", "x/abc", false),
            ("a/**.txt", "a/b.txt", true),
            ("a/**.txt", "a/b/c.txt", false),
            ("ab{c,d}", "abc", true),
            ("ab{c,d,*}", "abcde", true),
            ("ab{c,d}", "abe", false),
            ("{a/b,c}/*.yaml", "a/b/x.yaml", true),
            ("{a/b,c}/*.yaml", "c/x.yaml", true),
            ("*.{yaml,yml}", "d/x.yml", false),
            ("**/*.{yaml,yml}", "d/x.yml", true),
            ("{a,{b,c}d}", "cd", true),
            ("[-x]", "-", true),
            ("[x-]", "-", true),
            ("[a-b-c]", "-", true),
            ("[a-b-c]", "c", true),
        ] {
            assert_eq!(
                ds(pattern, name)?,
                want,
                "doublestar.Match({pattern:?}, {name:?})"
            );
        }
        for bad in [
            "[", "[^", "[]", "[!]", "[^bc", "\\", "{a,b", "a}", "ab{c,d}[",
        ] {
            assert!(
                matches!(ds(bad, "a"), Err(PatternError::Syntax(_))),
                "{bad} is malformed for doublestar"
            );
        }
        Ok(())
    }

    #[test]
    fn alternatives_are_bounded() {
        let nine = "{a,b,c,d,e,f,g,h,i}";
        assert!(Pattern::new(&nine.repeat(2), Dialect::Doublestar).is_ok());
        assert_eq!(
            Pattern::new(&nine.repeat(3), Dialect::Doublestar).err(),
            Some(PatternError::TooManyAlternatives)
        );
        let nested = format!("{}a{}", "{".repeat(40), "}".repeat(40));
        assert!(Pattern::new(&nested, Dialect::Doublestar).is_err());
    }

    #[test]
    fn many_stars_match_in_linear_time() -> Result<(), PatternError> {
        let pattern = Pattern::new(&format!("{}b", "*a".repeat(200)), Dialect::Doublestar)?;
        let started = std::time::Instant::now();
        assert!(!pattern.matches(&"a".repeat(5000)));
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
        Ok(())
    }

    fn tree(paths: &[&str]) -> Tree {
        let mut tree = Tree::default();
        for path in paths {
            tree.insert_file(
                path,
                File {
                    contents: Vec::new(),
                    executable: false,
                },
            )
            .expect("valid path");
        }
        tree
    }

    fn go_glob(t: &Tree, pattern: &str) -> Result<Vec<String>, PatternError> {
        Ok(Glob::new(pattern, Dialect::GoPath)?.paths(t))
    }

    #[test]
    fn go_glob_matches_one_segment_per_star() -> Result<(), PatternError> {
        let t = tree(&[
            "a.yaml",
            "b.json",
            "deploy/app.yaml",
            "deploy/prod/app.yaml",
            "deploy/prod/db/x.yaml",
            "deploy-x/y.yaml",
            ".hidden.yaml",
            "odd]name",
        ]);
        assert_eq!(go_glob(&t, "*.yaml")?, [".hidden.yaml", "a.yaml"]);
        assert_eq!(go_glob(&t, "deploy/*")?, ["deploy/app.yaml", "deploy/prod"]);
        assert_eq!(
            go_glob(&t, "deploy/**")?,
            ["deploy/app.yaml", "deploy/prod"],
            "** is one segment"
        );
        assert_eq!(go_glob(&t, "deploy/**/*.yaml")?, ["deploy/prod/app.yaml"]);
        assert_eq!(
            go_glob(&t, "*/*.yaml")?,
            ["deploy/app.yaml", "deploy-x/y.yaml"]
        );
        assert_eq!(go_glob(&t, "deploy/pro?/a*")?, ["deploy/prod/app.yaml"]);
        assert_eq!(
            go_glob(&t, "./*.json")?,
            ["b.json"],
            "./ is read as the root"
        );
        assert_eq!(
            go_glob(&t, "odd]name")?,
            ["odd]name"],
            "no meta: the path itself"
        );
        assert!(go_glob(&t, "no]such")?.is_empty());
        assert!(go_glob(&t, "deploy//*")?.is_empty());
        assert!(go_glob(&t, "../*")?.is_empty());
        assert!(go_glob(&t, "a.yaml/*")?.is_empty(), "a file has no entries");
        assert!(go_glob(&t, "*/")?.is_empty());
        assert!(go_glob(&t, "a[/]b").is_err(), "malformed once split at '/'");
        assert!(go_glob(&t, "[").is_err());
        Ok(())
    }

    #[test]
    fn doublestar_glob_recurses_depth_first() -> Result<(), PatternError> {
        let t = tree(&[
            "charts/a.tgz",
            "charts/sub/b.tgz",
            "charts-x/c.tgz",
            "d.tgz",
        ]);
        let all = Glob::new("**/*.tgz", Dialect::Doublestar)?;
        assert_eq!(
            all.paths(&t),
            [
                "charts/a.tgz",
                "charts/sub/b.tgz",
                "charts-x/c.tgz",
                "d.tgz"
            ]
        );
        assert_eq!(Glob::new("**", Dialect::Doublestar)?.paths(&t).len(), 7);
        assert_eq!(
            Glob::new("{d,charts/sub/*}.tgz", Dialect::Doublestar)?.paths(&t),
            ["charts/sub/b.tgz", "d.tgz"]
        );
        Ok(())
    }
}
