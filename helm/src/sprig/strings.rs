//! Sprig's string, conversion, sequence and regular-expression functions.
//!
//! Regular expressions are Go's RE2 syntax, run by the `regex` crate (the same syntax;
//! `\d`, `\w`, `\s` and `\b` are Unicode-aware here where Go's are ASCII-only).

use std::collections::BTreeMap;

use rand::Rng as _;
use rand::seq::SliceRandom as _;
use regex::Regex;

use super::convert::{atoi, go_quote, strslice, strval, to_float64, to_int64};
use super::text;
use super::{MAX_ITEMS, Registry, Result, arg, check_len, err, int_arg, str_arg};
use crate::template::Param;
use crate::value::{Elem, Value};

use Param::{Any, Int, String as Str};

pub(super) fn register(m: &mut Registry) {
    m.fixed("trim", &[Str], |a| Ok(str_arg(a, 0).trim().into()));
    m.alias(&["trimAll", "trimall"], &[Str, Str], |a| {
        let cutset = str_arg(a, 0);
        Ok(str_arg(a, 1).trim_matches(|c| cutset.contains(c)).into())
    });
    m.fixed("trimSuffix", &[Str, Str], |a| {
        let s = str_arg(a, 1);
        Ok(s.strip_suffix(str_arg(a, 0)).unwrap_or(s).into())
    });
    m.fixed("trimPrefix", &[Str, Str], |a| {
        let s = str_arg(a, 1);
        Ok(s.strip_prefix(str_arg(a, 0)).unwrap_or(s).into())
    });
    m.fixed(
        "upper",
        &[Str],
        |a| Ok(text::go_upper(str_arg(a, 0)).into()),
    );
    m.fixed(
        "lower",
        &[Str],
        |a| Ok(text::go_lower(str_arg(a, 0)).into()),
    );
    m.fixed("title", &[Str], |a| Ok(text::title(str_arg(a, 0)).into()));
    m.fixed("untitle", &[Str], |a| {
        Ok(text::untitle(str_arg(a, 0)).into())
    });
    m.fixed("substr", &[Int, Int, Str], substr);
    m.fixed("repeat", &[Int, Str], |a| {
        let count = int_arg(a, 0);
        let s = str_arg(a, 1);
        let Ok(n) = usize::try_from(count) else {
            return err("strings: negative Repeat count");
        };
        check_len("repeat", s.len().saturating_mul(n))?;
        Ok(s.repeat(n).into())
    });
    m.fixed("nospace", &[Str], |a| {
        Ok(text::delete_white_space(str_arg(a, 0)).into())
    });
    m.fixed("initials", &[Str], |a| {
        Ok(text::initials(str_arg(a, 0)).into())
    });
    m.fixed("swapcase", &[Str], |a| {
        Ok(text::swap_case(str_arg(a, 0)).into())
    });
    m.fixed("snakecase", &[Str], |a| {
        Ok(text::camel_to_lower(str_arg(a, 0), '_').into())
    });
    m.fixed("kebabcase", &[Str], |a| {
        Ok(text::camel_to_lower(str_arg(a, 0), '-').into())
    });
    m.fixed("camelcase", &[Str], |a| {
        Ok(text::camelcase(str_arg(a, 0)).into())
    });
    m.fixed("shuffle", &[Str], |a| {
        let mut chars: Vec<char> = str_arg(a, 0).chars().collect();
        chars.shuffle(&mut rand::rng());
        Ok(chars.into_iter().collect::<String>().into())
    });
    m.fixed("wrap", &[Int, Str], |a| {
        Ok(text::wrap_custom(str_arg(a, 1), int_arg(a, 0), "", false).into())
    });
    m.fixed("wrapWith", &[Int, Str, Str], |a| {
        let out = text::wrap_custom(str_arg(a, 2), int_arg(a, 0), str_arg(a, 1), true);
        check_len("wrapWith", out.len())?;
        Ok(out.into())
    });
    m.fixed("abbrev", &[Int, Str], |a| {
        Ok(text::abbrev(int_arg(a, 0), str_arg(a, 1)).into())
    });
    m.fixed("abbrevboth", &[Int, Int, Str], |a| {
        Ok(text::abbrevboth(int_arg(a, 0), int_arg(a, 1), str_arg(a, 2)).into())
    });
    m.fixed("trunc", &[Int, Str], |a| {
        Ok(text::trunc(int_arg(a, 0), str_arg(a, 1)).into())
    });
    m.fixed("contains", &[Str, Str], |a| {
        Ok(str_arg(a, 1).contains(str_arg(a, 0)).into())
    });
    m.fixed("hasPrefix", &[Str, Str], |a| {
        Ok(str_arg(a, 1).starts_with(str_arg(a, 0)).into())
    });
    m.fixed("hasSuffix", &[Str, Str], |a| {
        Ok(str_arg(a, 1).ends_with(str_arg(a, 0)).into())
    });
    m.variadic("quote", &[], Any, |a| {
        let quoted: Vec<String> = a
            .iter()
            .filter(|v| !v.is_nil())
            .map(|v| go_quote(&strval(v)))
            .collect();
        Ok(quoted.join(" ").into())
    });
    m.variadic("squote", &[], Any, |a| {
        let quoted: Vec<String> = a
            .iter()
            .filter(|v| !v.is_nil())
            .map(|v| format!("'{}'", strval(v)))
            .collect();
        Ok(quoted.join(" ").into())
    });
    m.variadic("cat", &[], Any, |a| {
        let parts: Vec<String> = a
            .iter()
            .filter(|v| !v.is_nil())
            .map(ToString::to_string)
            .collect();
        Ok(parts.join(" ").into())
    });
    m.fixed("indent", &[Int, Str], |a| {
        Ok(indent(int_arg(a, 0), str_arg(a, 1))?.into())
    });
    m.fixed("nindent", &[Int, Str], |a| {
        Ok(format!("\n{}", indent(int_arg(a, 0), str_arg(a, 1))?).into())
    });
    m.fixed("replace", &[Str, Str, Str], |a| {
        let (old, new, s) = (str_arg(a, 0), str_arg(a, 1), str_arg(a, 2));
        let out = go_replace(s, old, new);
        check_len("replace", out.len())?;
        Ok(out.into())
    });
    m.fixed("plural", &[Str, Str, Int], |a| {
        let word = if int_arg(a, 2) == 1 {
            str_arg(a, 0)
        } else {
            str_arg(a, 1)
        };
        Ok(word.into())
    });
    m.fixed("toString", &[Any], |a| Ok(strval(arg(a, 0)).into()));
    m.fixed("toStrings", &[Any], |a| {
        Ok(Value::string_list(strslice(arg(a, 0))))
    });
    m.fixed("atoi", &[Str], |a| Ok(Value::Int(atoi(str_arg(a, 0)))));
    m.fixed("int64", &[Any], |a| Ok(Value::Int64(to_int64(arg(a, 0)))));
    m.fixed("int", &[Any], |a| Ok(Value::Int(to_int64(arg(a, 0)))));
    m.fixed("float64", &[Any], |a| {
        Ok(Value::Float(to_float64(arg(a, 0))))
    });
    m.variadic("seq", &[], Int, seq);
    m.fixed("until", &[Int], |a| {
        let count = int_arg(a, 0);
        let step = if count < 0 { -1 } else { 1 };
        Ok(int_list(until_step(0, count, step)?))
    });
    m.fixed("untilStep", &[Int, Int, Int], |a| {
        Ok(int_list(until_step(
            int_arg(a, 0),
            int_arg(a, 1),
            int_arg(a, 2),
        )?))
    });
    m.fixed("split", &[Str, Str], |a| {
        let parts = go_split(str_arg(a, 1), str_arg(a, 0), -1);
        Ok(indexed_map(parts))
    });
    m.fixed("splitn", &[Str, Int, Str], |a| {
        let parts = go_split(str_arg(a, 2), str_arg(a, 0), int_arg(a, 1));
        Ok(indexed_map(parts))
    });
    m.fixed("splitList", &[Str, Str], |a| {
        Ok(Value::string_list(go_split(
            str_arg(a, 1),
            str_arg(a, 0),
            -1,
        )))
    });
    m.fixed("join", &[Str, Any], |a| {
        Ok(strslice(arg(a, 1)).join(str_arg(a, 0)).into())
    });
    m.fixed("sortAlpha", &[Any], |a| {
        let mut items = match arg(a, 0) {
            Value::List(_) => strslice(arg(a, 0)),
            other => vec![strval(other)],
        };
        items.sort_unstable();
        Ok(Value::string_list(items))
    });
    for (name, must) in [
        ("randAlphaNum", 0),
        ("randAlpha", 1),
        ("randNumeric", 2),
        ("randAscii", 3),
    ] {
        m.fixed(name, &[Int], move |a| {
            random_string(name, must, int_arg(a, 0))
        });
    }
    register_regex(m);
}

fn substr(a: &[Value]) -> Result {
    let (start, end, s) = (int_arg(a, 0), int_arg(a, 1), str_arg(a, 2));
    let len = i64::try_from(s.len()).unwrap_or(i64::MAX);
    let (from, to) = if start < 0 {
        (0, end)
    } else if end < 0 || end > len {
        (start, len)
    } else {
        (start, end)
    };
    if to < 0 || to > len {
        return err(format!(
            "runtime error: slice bounds out of range [:{to}] with length {len}"
        ));
    }
    if from > to {
        return err(format!(
            "runtime error: slice bounds out of range [{from}:{to}]"
        ));
    }
    Ok(text::byte_slice(
        s,
        usize::try_from(from).unwrap_or(0),
        usize::try_from(to).unwrap_or(0),
    )
    .into())
}

fn indent(spaces: i64, s: &str) -> Result<String> {
    let Ok(n) = usize::try_from(spaces) else {
        return err("strings: negative Repeat count");
    };
    let lines = s.matches('\n').count() + 1;
    check_len("indent", n.saturating_mul(lines).saturating_add(s.len()))?;
    let pad = " ".repeat(n);
    Ok(format!("{pad}{}", s.replace('\n', &format!("\n{pad}"))))
}

/// Go's `strings.Replace(s, old, new, -1)` (an empty `old` matches before every rune and
/// at the end).
pub(super) fn go_replace(s: &str, old: &str, new: &str) -> String {
    if !old.is_empty() {
        return s.replace(old, new);
    }
    let mut out = String::with_capacity(s.len() + new.len() * (s.len() + 1));
    out.push_str(new);
    for c in s.chars() {
        out.push(c);
        out.push_str(new);
    }
    out
}

/// Go's `strings.SplitN` (`n < 0` is `strings.Split`); an empty separator splits runes.
pub(super) fn go_split(s: &str, sep: &str, n: i64) -> Vec<String> {
    if n == 0 {
        return Vec::new();
    }
    let limit = usize::try_from(n).unwrap_or(usize::MAX);
    if sep.is_empty() {
        let chars: Vec<char> = s.chars().collect();
        let mut out: Vec<String> = Vec::new();
        for (i, c) in chars.iter().enumerate() {
            if out.len() + 1 == limit {
                out.push(chars[i..].iter().collect());
                return out;
            }
            out.push(c.to_string());
        }
        return out;
    }
    s.splitn(limit, sep).map(str::to_string).collect()
}

fn indexed_map(parts: Vec<String>) -> Value {
    let entries: BTreeMap<String, Value> = parts
        .into_iter()
        .enumerate()
        .map(|(i, p)| (format!("_{i}"), Value::from(p)))
        .collect();
    Value::string_map(
        entries
            .into_iter()
            .map(|(k, v)| (k, std::sync::Arc::<str>::from(v.as_str().unwrap_or("")))),
    )
}

fn int_list(items: Vec<i64>) -> Value {
    Value::typed_list(Elem::Int, items.into_iter().map(Value::Int).collect())
}

/// Sprig's `untilStep`: `start, start+step, ...` up to but excluding `stop`.
fn until_step(start: i64, stop: i64, step: i64) -> Result<Vec<i64>> {
    let count = if stop < start {
        if step >= 0 {
            return Ok(Vec::new());
        }
        (i128::from(start) - i128::from(stop) + i128::from(-step) - 1) / i128::from(-step)
    } else {
        if step <= 0 {
            return Ok(Vec::new());
        }
        (i128::from(stop) - i128::from(start) + i128::from(step) - 1) / i128::from(step)
    };
    if count > MAX_ITEMS as i128 {
        return err(format!(
            "sequence of {count} items exceeds the limit of {MAX_ITEMS}"
        ));
    }
    let mut out = Vec::new();
    let mut i = start;
    for _ in 0..count {
        out.push(i);
        i = i.wrapping_add(step);
    }
    Ok(out)
}

fn seq(a: &[Value]) -> Result {
    let p: Vec<i64> = a
        .iter()
        .map(|v| int_arg(std::slice::from_ref(v), 0))
        .collect();
    let items = match p.as_slice() {
        [end] => {
            let inc = if *end < 1 { -1 } else { 1 };
            until_step(1, end.wrapping_add(inc), inc)?
        }
        [start, end] => {
            let step = if end < start { -1 } else { 1 };
            until_step(*start, end.wrapping_add(step), step)?
        }
        [start, step, end] => {
            let mut inc = 1;
            if end < start {
                inc = -1;
                if *step > 0 {
                    return Ok("".into());
                }
            }
            until_step(*start, end.wrapping_add(inc), *step)?
        }
        _ => Vec::new(),
    };
    let text: Vec<String> = items.iter().map(ToString::to_string).collect();
    Ok(text.join(" ").into())
}

fn random_string(name: &str, kind: u8, count: i64) -> Result {
    let Ok(n) = usize::try_from(count) else {
        // goutils refuses a negative length; Sprig then returns "".
        return Ok("".into());
    };
    check_len(name, n)?;
    const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    let out: String = (0..n)
        .map(|_| match kind {
            0 => char::from(ALNUM[rng.random_range(0..ALNUM.len())]),
            1 => char::from(ALNUM[rng.random_range(0..52)]),
            2 => char::from(ALNUM[rng.random_range(52..62)]),
            _ => char::from(rng.random_range(32u8..127)),
        })
        .collect();
    Ok(out.into())
}

/// Compiles a Go regular expression, with Go's error text (`error parsing regexp: missing
/// closing ): `(``); `must == false` adds the `regexp.MustCompile` panic's prefix that the
/// non-`must` functions show.
fn compile_as(pattern: &str, must: bool) -> Result<Regex> {
    regex::RegexBuilder::new(&ascii_classes(pattern))
        .size_limit(32 << 20)
        .build()
        .map_err(|e| {
            let detail = match &e {
                regex::Error::Syntax(s) => go_regex_error(s, pattern),
                other => other.to_string(),
            };
            let message = format!("error parsing regexp: {detail}");
            super::FuncError::new(if must {
                message
            } else {
                format!("regexp: Compile(`{pattern}`): {message}")
            })
        })
}

/// Rewrites Perl classes to Go's ASCII meaning (`\\d` is `[0-9]`, `\\w` is
/// `[0-9A-Za-z_]`, `\\s` is `[\\t\\n\\f\\r ]`, `\\b` an ASCII word boundary); the
/// `regex` crate's are Unicode-aware.
fn ascii_classes(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 16);
    let mut chars = pattern.chars().peekable();
    let mut depth = 0usize;
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let Some(next) = chars.next() else {
                    out.push(c);
                    break;
                };
                let class = match next {
                    'd' => Some(("0-9", false)),
                    'D' => Some(("0-9", true)),
                    'w' => Some(("0-9A-Za-z_", false)),
                    'W' => Some(("0-9A-Za-z_", true)),
                    's' => Some(("\\t\\n\\f\\r ", false)),
                    'S' => Some(("\\t\\n\\f\\r ", true)),
                    _ => None,
                };
                match (class, depth) {
                    (Some((set, false)), 0) => out.push_str(&format!("[{set}]")),
                    (Some((set, true)), _) => out.push_str(&format!("[^{set}]")),
                    (Some((set, false)), _) => out.push_str(set),
                    (None, 0) if next == 'b' || next == 'B' => {
                        out.push_str(&format!("(?-u:\\{next})"));
                    }
                    (None, _) => {
                        out.push('\\');
                        out.push(next);
                    }
                }
            }
            '[' if depth > 0 => {
                if chars.peek() == Some(&':') {
                    // A POSIX class, `[:alpha:]`, as it is.
                    out.push(c);
                    while let Some(n) = chars.next() {
                        out.push(n);
                        if n == ':' && chars.peek() == Some(&']') {
                            out.push(']');
                            chars.next();
                            break;
                        }
                    }
                } else {
                    // A literal `[` in Go; the regex crate would open a nested class.
                    out.push_str("\\[");
                }
            }
            '&' | '~' if depth > 0 => {
                // Literal in Go; doubled they are set operations for the regex crate.
                out.push('\\');
                out.push(c);
            }
            '[' => {
                depth = 1;
                out.push(c);
                // A `]` right after the opening bracket (or `[^`) is literal.
                if chars.peek() == Some(&'^') {
                    out.push('^');
                    chars.next();
                }
                if chars.peek() == Some(&']') {
                    out.push_str("\\]");
                    chars.next();
                }
            }
            ']' if depth > 0 => {
                depth -= 1;
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

fn compile(pattern: &str) -> Result<Regex> {
    compile_as(pattern, true)
}

/// Go's wording for the common syntax errors; others keep the `regex` crate's words.
fn go_regex_error(rust: &str, pattern: &str) -> String {
    let last = rust
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with("error:"))
        .unwrap_or("")
        .trim()
        .trim_start_matches("error: ");
    let code = match last {
        "unclosed group" => "missing closing )",
        "unclosed character class" => "missing closing ]",
        "unopened group" => "unexpected )",
        "repetition operator missing expression" => "missing argument to repetition operator",
        "invalid escape sequence found in character class" | "unrecognized escape sequence" => {
            "invalid escape sequence"
        }
        other => other,
    };
    format!("{code}: `{pattern}`")
}

/// `Regexp.FindAllString(s, n)`.
fn find_all(re: &Regex, s: &str, n: i64) -> Vec<String> {
    let limit = usize::try_from(n).unwrap_or(usize::MAX);
    if n == 0 {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut prev_end: Option<usize> = None;
    for m in re.find_iter(s) {
        // Go drops an empty match that abuts the previous match.
        if m.is_empty() && prev_end == Some(m.start()) {
            continue;
        }
        prev_end = Some(m.end());
        out.push(m.as_str().to_string());
        if out.len() >= limit {
            break;
        }
    }
    out
}

/// `Regexp.Split(s, n)`.
fn regex_split(re: &Regex, s: &str, n: i64) -> Vec<String> {
    if n == 0 {
        return Vec::new();
    }
    if !re.as_str().is_empty() && s.is_empty() {
        return vec![String::new()];
    }
    let limit = usize::try_from(n).unwrap_or(usize::MAX);
    let mut matches = Vec::new();
    let mut prev_end: Option<usize> = None;
    for m in re.find_iter(s) {
        if m.is_empty() && prev_end == Some(m.start()) {
            continue;
        }
        prev_end = Some(m.end());
        matches.push((m.start(), m.end()));
        if matches.len() >= limit {
            break;
        }
    }
    let mut out = Vec::new();
    let (mut beg, mut end) = (0, 0);
    for (start, stop) in matches {
        if n > 0 && out.len() == limit - 1 {
            break;
        }
        end = start;
        if stop != 0 {
            out.push(s[beg..end].to_string());
        }
        beg = stop;
    }
    if end != s.len() {
        out.push(s[beg..].to_string());
    }
    out
}

fn register_regex(m: &mut Registry) {
    m.fixed("regexMatch", &[Str, Str], |a| {
        Ok(compile(str_arg(a, 0))
            .is_ok_and(|re| re.is_match(str_arg(a, 1)))
            .into())
    });
    m.fixed("mustRegexMatch", &[Str, Str], |a| {
        Ok(compile(str_arg(a, 0))?.is_match(str_arg(a, 1)).into())
    });
    for (name, must) in [("regexFindAll", false), ("mustRegexFindAll", true)] {
        m.fixed(name, &[Str, Str, Int], move |a| {
            let re = compile_as(str_arg(a, 0), must)?;
            Ok(Value::string_list(find_all(
                &re,
                str_arg(a, 1),
                int_arg(a, 2),
            )))
        });
    }
    for (name, must) in [("regexFind", false), ("mustRegexFind", true)] {
        m.fixed(name, &[Str, Str], move |a| {
            let re = compile_as(str_arg(a, 0), must)?;
            Ok(re.find(str_arg(a, 1)).map_or("", |m| m.as_str()).into())
        });
    }
    for (name, must) in [("regexReplaceAll", false), ("mustRegexReplaceAll", true)] {
        m.fixed(name, &[Str, Str, Str], move |a| {
            let re = compile_as(str_arg(a, 0), must)?;
            let out = re.replace_all(str_arg(a, 1), str_arg(a, 2)).into_owned();
            check_len("regexReplaceAll", out.len())?;
            Ok(out.into())
        });
    }
    for (name, must) in [
        ("regexReplaceAllLiteral", false),
        ("mustRegexReplaceAllLiteral", true),
    ] {
        m.fixed(name, &[Str, Str, Str], move |a| {
            let re = compile_as(str_arg(a, 0), must)?;
            let out = re
                .replace_all(str_arg(a, 1), regex::NoExpand(str_arg(a, 2)))
                .into_owned();
            check_len("regexReplaceAllLiteral", out.len())?;
            Ok(out.into())
        });
    }
    for (name, must) in [("regexSplit", false), ("mustRegexSplit", true)] {
        m.fixed(name, &[Str, Str, Int], move |a| {
            let re = compile_as(str_arg(a, 0), must)?;
            Ok(Value::string_list(regex_split(
                &re,
                str_arg(a, 1),
                int_arg(a, 2),
            )))
        });
    }
    m.fixed("regexQuoteMeta", &[Str], |a| {
        // Go's QuoteMeta escapes exactly these.
        let mut out = String::new();
        for c in str_arg(a, 0).chars() {
            if r"\.+*?()|[]{}^$".contains(c) {
                out.push('\\');
            }
            out.push(c);
        }
        Ok(out.into())
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn re(p: &str) -> Regex {
        compile(p).expect("valid")
    }

    #[test]
    fn perl_classes_are_ascii_as_in_go() {
        assert!(!re(r"^\d$").is_match("\u{665}"));
        assert!(re(r"^\d+$").is_match("0123"));
        assert!(!re(r"^\w$").is_match("\u{e9}"));
        assert!(re(r"^[\w.-]+$").is_match("a.b-c_1"));
        assert!(re(r"^[^\d]+$").is_match("abc"));
        assert!(re(r"^[\D]+$").is_match("abc"));
        assert!(!re(r"^\s$").is_match("\u{a0}"));
        assert!(re(r"^[[:alpha:]]+$").is_match("abc"));
        assert!(re(r"^[]a]+$").is_match("]a"));
        assert!(re(r"\bfoo\b").is_match("a foo b"));
        assert!(re(r"^[a[]+$").is_match("a[a"));
        assert!(re(r"^[a&&b]+$").is_match("a&b"));
    }

    #[test]
    fn regex_all_matches_like_go() {
        // {{ regexFindAll "a*" "baaab" -1 }} → ["","aaa",""]
        assert_eq!(find_all(&re("a*"), "baaab", -1), ["", "aaa", ""]);
        // {{ regexSplit "a" "banana" -1 }} → ["b","n","n",""]
        assert_eq!(regex_split(&re("a"), "banana", -1), ["b", "n", "n", ""]);
        // {{ regexSplit "x*" "abc" -1 }} → ["a","b","c"]
        assert_eq!(regex_split(&re("x*"), "abc", -1), ["a", "b", "c"]);
    }

    #[test]
    fn sequences_match_helm() {
        let s = |p: &[i64]| {
            let args: Vec<Value> = p.iter().map(|i| Value::Int(*i)).collect();
            seq(&args).expect("seq").as_str().unwrap_or("").to_string()
        };
        assert_eq!(s(&[5]), "1 2 3 4 5");
        assert_eq!(s(&[2, 5]), "2 3 4 5");
        assert_eq!(s(&[5, 2]), "5 4 3 2");
        assert_eq!(s(&[1, 2, 10]), "1 3 5 7 9");
        assert_eq!(s(&[10, -3, 1]), "10 7 4 1");
        assert_eq!(s(&[0]), "1 0");
        assert_eq!(until_step(0, 10, 3).expect("ok"), [0, 3, 6, 9]);
        assert_eq!(until_step(10, 0, -4).expect("ok"), [10, 6, 2]);
        assert!(until_step(0, i64::MAX, 1).is_err());
    }

    #[test]
    fn splits_match_go() {
        assert_eq!(go_split("a/b/c", "/", 2), ["a", "b/c"]);
        assert_eq!(go_split("abc", "", -1), ["a", "b", "c"]);
        assert_eq!(go_replace("abc", "", "-"), "-a-b-c-");
    }

    #[test]
    fn substr_matches_helm() {
        let call = |s: i64, e: i64, t: &str| {
            substr(&[Value::Int(s), Value::Int(e), Value::from(t)])
                .map(|v| v.as_str().unwrap_or("").to_string())
        };
        assert_eq!(call(1, 3, "hello").expect("ok"), "el");
        assert_eq!(call(-1, 3, "hello").expect("ok"), "hel");
        assert_eq!(call(2, -1, "hello").expect("ok"), "llo");
        assert_eq!(call(2, 99, "hello").expect("ok"), "llo");
        assert!(call(4, 2, "hello").is_err());
    }
}
