//! `.helmignore`: which files of a chart directory are left out when it is loaded.
//!
//! Helm's rules, which differ from `.gitignore`: one pattern a line (blank lines and `#`
//! comments skipped, surrounding space trimmed), Go `filepath.Match` globs (`*`, `?`, `[...]`,
//! `\` escapes; `**` is an error), a trailing `/` matches directories only, a leading `/` or
//! any inner `/` matches the whole path, otherwise the file's base name. See
//! [`Rules::ignore`] for how `!` patterns decide (Helm 4.1's first-verdict rule, recorded
//! with the real binary). `templates/.?*` (dotfiles in `templates/`) is always added.
//! Archives are never filtered.

/// Parsed `.helmignore` rules.
#[derive(Clone, Debug, Default)]
pub struct Rules {
    patterns: Vec<Pattern>,
}

#[derive(Clone, Debug)]
struct Pattern {
    glob: String,
    negate: bool,
    must_dir: bool,
    /// Match against the whole path (the pattern has a `/`), or only the base name.
    full_path: bool,
}

impl Rules {
    /// Parses a `.helmignore` file (a UTF-8 byte-order mark at the start is skipped).
    ///
    /// # Errors
    /// `double-star (**) syntax is not supported`, or `syntax error in pattern` for a glob Go
    /// cannot compile.
    pub fn parse(text: &str) -> Result<Rules, String> {
        let mut rules = Rules::default();
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        for line in text.lines() {
            rules.add(line)?;
        }
        Ok(rules)
    }

    /// Adds Helm's default: dotfiles in `templates/` are ignored.
    pub fn add_defaults(&mut self) {
        // The default pattern compiles.
        let _ = self.add("templates/.?*");
    }

    fn add(&mut self, line: &str) -> Result<(), String> {
        let rule = line.trim();
        if rule.is_empty() || rule.starts_with('#') {
            return Ok(());
        }
        if rule.contains("**") {
            return Err("double-star (**) syntax is not supported".into());
        }
        if glob_match(rule, "abc").is_err() {
            return Err("syntax error in pattern".into());
        }
        let mut glob = rule;
        let negate = glob.starts_with('!');
        if negate {
            glob = &glob[1..];
        }
        let must_dir = glob.ends_with('/');
        if must_dir {
            glob = &glob[..glob.len() - 1];
        }
        let full_path = glob.contains('/');
        let glob = glob.strip_prefix('/').unwrap_or(glob);
        self.patterns.push(Pattern {
            glob: glob.to_string(),
            negate,
            must_dir,
            full_path,
        });
        Ok(())
    }

    /// Whether the path (relative to the chart root, `/`-separated) is ignored.
    ///
    /// Helm 4.1 evaluates the patterns in order and stops at the first verdict: a positive
    /// pattern that matches ignores the path; a `!` pattern that does *not* match ignores it
    /// too (so `!` patterns act as a whitelist of everything after them), one that matches
    /// moves on to the next pattern.
    pub fn ignore(&self, path: &str, is_dir: bool) -> bool {
        if path.is_empty() || path == "." || path == "./" {
            return false;
        }
        for p in &self.patterns {
            let subject = if p.full_path {
                path
            } else {
                path.rsplit('/').next().unwrap_or(path)
            };
            if p.negate {
                if p.must_dir && !is_dir {
                    return true;
                }
                if !glob_match(&p.glob, subject).unwrap_or(false) {
                    return true;
                }
                continue;
            }
            if p.must_dir && !is_dir {
                continue;
            }
            if glob_match(&p.glob, subject).unwrap_or(false) {
                return true;
            }
        }
        false
    }
}

/// Go's `path/filepath.Match` on `/`-separated names: `*` matches any run of non-`/`
/// characters, `?` one non-`/` character, `[...]` a class (`^` negates, `a-z` ranges), `\`
/// escapes.
///
/// # Errors
/// A malformed pattern (`ErrBadPattern`), reported even when the name does not match.
#[allow(clippy::result_unit_err)]
pub fn glob_match(pattern: &str, name: &str) -> Result<bool, ()> {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    let matched = match_from(&p, &n)?;
    if !matched {
        // Go keeps scanning the pattern to report syntax errors.
        check_syntax(&p)?;
    }
    Ok(matched)
}

fn check_syntax(p: &[char]) -> Result<(), ()> {
    let mut i = 0;
    while i < p.len() {
        match p[i] {
            '\\' => {
                if i + 1 >= p.len() {
                    return Err(());
                }
                i += 2;
            }
            '[' => {
                let (_, next) = match_class(p, i, None)?;
                i = next;
            }
            _ => i += 1,
        }
    }
    Ok(())
}

/// Backtracking matcher over chars; `*` never crosses `/`.
fn match_from(p: &[char], n: &[char]) -> Result<bool, ()> {
    let (mut pi, mut ni) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    loop {
        if pi < p.len() {
            match p[pi] {
                '*' => {
                    star = Some((pi, ni));
                    pi += 1;
                    continue;
                }
                '?' if ni < n.len() && n[ni] != '/' => {
                    pi += 1;
                    ni += 1;
                    continue;
                }
                '[' if ni < n.len() => {
                    let (ok, next) = match_class(p, pi, Some(n[ni]))?;
                    if ok {
                        pi = next;
                        ni += 1;
                        continue;
                    }
                }
                '\\' => {
                    let c = *p.get(pi + 1).ok_or(())?;
                    if ni < n.len() && n[ni] == c {
                        pi += 2;
                        ni += 1;
                        continue;
                    }
                }
                c if c != '?' && c != '[' && ni < n.len() && n[ni] == c => {
                    pi += 1;
                    ni += 1;
                    continue;
                }
                _ => {}
            }
        } else if ni == n.len() {
            return Ok(true);
        }
        // Mismatch: let the last star take one more character (never a separator).
        match star {
            Some((sp, sn)) if sn < n.len() && n[sn] != '/' => {
                star = Some((sp, sn + 1));
                pi = sp + 1;
                ni = sn + 1;
            }
            _ => return Ok(false),
        }
    }
}

/// Matches a `[...]` class starting at `p[start]` against `c` (or only checks its syntax
/// when `c` is `None`); returns the match and the index after the class.
fn match_class(p: &[char], start: usize, c: Option<char>) -> Result<(bool, usize), ()> {
    let mut i = start + 1;
    let negated = p.get(i) == Some(&'^');
    if negated {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    loop {
        let ch = *p.get(i).ok_or(())?;
        if ch == ']' && !first {
            i += 1;
            break;
        }
        first = false;
        let lo = class_char(p, &mut i)?;
        let mut hi = lo;
        if p.get(i) == Some(&'-') {
            i += 1;
            hi = class_char(p, &mut i)?;
        }
        if let Some(c) = c
            && lo <= c
            && c <= hi
        {
            matched = true;
        }
    }
    let ok = match c {
        Some('/') => false,
        Some(_) => matched != negated,
        None => false,
    };
    Ok((ok, i))
}

fn class_char(p: &[char], i: &mut usize) -> Result<char, ()> {
    let ch = *p.get(*i).ok_or(())?;
    if ch == '-' || ch == ']' {
        return Err(());
    }
    if ch == '\\' {
        let esc = *p.get(*i + 1).ok_or(())?;
        *i += 2;
        return Ok(esc);
    }
    *i += 1;
    Ok(ch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_like_go() {
        let yes = [
            ("*.tmp", "a.tmp"),
            ("a?c", "abc"),
            ("[a-c]x", "bx"),
            ("[^a-c]x", "dx"),
            ("templates/.?*", "templates/.hidden"),
            ("a\\*b", "a*b"),
            ("*", ""),
        ];
        for (p, n) in yes {
            assert_eq!(glob_match(p, n), Ok(true), "{p} {n}");
        }
        let no = [
            ("*.tmp", "d/a.tmp"),
            ("a?c", "a/c"),
            ("[^a-c]x", "bx"),
            ("templates/.?*", "templates/."),
        ];
        for (p, n) in no {
            assert_eq!(glob_match(p, n), Ok(false), "{p} {n}");
        }
        assert_eq!(glob_match("[", "x"), Err(()));
        assert_eq!(glob_match("a\\", "b"), Err(()));
    }

    #[test]
    fn the_first_verdict_wins() {
        // Recorded with helm 4.1.4 (`.Files` of a chart with a.tmp, keep.tmp, d/x.txt,
        // d/keep.tmp): `*.tmp` + `!keep.tmp` ignores keep.tmp too and, because the negation
        // does not match it, Chart.yaml ("Chart.yaml file is missing").
        let rules = Rules::parse("# c\n*.tmp\nlogs/\n!keep.tmp\n").expect("parses");
        assert!(rules.ignore("conf/t.tmp", false));
        assert!(rules.ignore("keep.tmp", false));
        assert!(rules.ignore("logs", true));
        assert!(rules.ignore("Chart.yaml", false));
        let only_negation = Rules::parse("!Chart.yaml").expect("parses");
        assert!(!only_negation.ignore("Chart.yaml", false));
        assert!(only_negation.ignore("templates", true));
        let dirs = Rules::parse("d/").expect("parses");
        assert!(dirs.ignore("d", true));
        assert!(!dirs.ignore("d", false));
        assert_eq!(
            Rules::parse("a/**").expect_err("fails"),
            "double-star (**) syntax is not supported"
        );
        assert_eq!(
            Rules::parse("[").expect_err("fails"),
            "syntax error in pattern"
        );
    }

    #[test]
    fn rooted_and_structural_patterns_match_the_whole_path() {
        let rules = Rules::parse("/top.txt\nconf/*.txt").expect("parses");
        assert!(rules.ignore("top.txt", false));
        assert!(!rules.ignore("sub/top.txt", false));
        assert!(rules.ignore("conf/a.txt", false));
        assert!(!rules.ignore("x/conf/a.txt", false));
    }
}
