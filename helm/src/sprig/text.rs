//! Pure string helpers behind Sprig's string functions, with the exact rules of the Go
//! libraries Sprig calls: `strings.Title`, the `goutils` abbreviation, wrapping, initials
//! and case swapping, and the `xstrings` snake/kebab/camel case conversions.
//!
//! Go slices strings by bytes; where a Go function cuts a byte offset that may fall inside
//! a UTF-8 sequence, the cut here is the same and an incomplete sequence becomes U+FFFD.

/// Go's `unicode.ToUpper` of one rune: the single-rune mapping, or the rune itself when
/// Unicode's upper case is longer (Go keeps `ß`).
pub fn upper_rune(c: char) -> char {
    let mut it = c.to_uppercase();
    match (it.next(), it.next()) {
        (Some(u), None) => u,
        _ => c,
    }
}

/// Go's `unicode.ToLower` of one rune.
pub fn lower_rune(c: char) -> char {
    let mut it = c.to_lowercase();
    match (it.next(), it.next()) {
        (Some(l), None) => l,
        (Some(l), Some(_)) if c == '\u{130}' => l,
        _ => c,
    }
}

/// Go's `strings.ToUpper`.
pub fn go_upper(s: &str) -> String {
    s.chars().map(upper_rune).collect()
}

/// Go's `strings.ToLower` (no final-sigma rule).
pub fn go_lower(s: &str) -> String {
    s.chars().map(lower_rune).collect()
}

/// Go's `unicode.IsSpace`.
pub fn is_go_space(c: char) -> bool {
    c.is_whitespace()
}

/// `s[from..to]` by bytes, as Go slices, with incomplete UTF-8 at the cuts replaced.
pub fn byte_slice(s: &str, from: usize, to: usize) -> String {
    let bytes = s.as_bytes();
    let to = to.min(bytes.len());
    let from = from.min(to);
    match s.get(from..to) {
        Some(part) => part.to_string(),
        None => String::from_utf8_lossy(&bytes[from..to]).into_owned(),
    }
}

/// Go's (deprecated) `strings.Title`: upper-cases each letter that starts a word, where
/// words are separated by spaces and by ASCII characters other than letters, digits and `_`.
pub fn title(s: &str) -> String {
    fn is_separator(c: char) -> bool {
        if c.is_ascii() {
            return !(c.is_ascii_alphanumeric() || c == '_');
        }
        if c.is_alphabetic() || c.is_numeric() {
            return false;
        }
        is_go_space(c)
    }
    let mut prev = ' ';
    s.chars()
        .map(|c| {
            let out = if is_separator(prev) { upper_rune(c) } else { c };
            prev = c;
            out
        })
        .collect()
}

/// `goutils.Uncapitalize`: lower-cases the first rune of each whitespace-separated word.
pub fn untitle(s: &str) -> String {
    let mut gap = true;
    s.chars()
        .map(|c| {
            if is_go_space(c) {
                gap = true;
                c
            } else if gap {
                gap = false;
                lower_rune(c)
            } else {
                c
            }
        })
        .collect()
}

/// `goutils.SwapCase`: upper to lower, lower to upper (title case after whitespace).
pub fn swap_case(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_uppercase() {
                lower_rune(c)
            } else if c.is_lowercase() {
                upper_rune(c)
            } else {
                c
            }
        })
        .collect()
}

/// `goutils.Initials`: the first character of each whitespace-separated word. Like the Go
/// code, it walks bytes and reads each byte as a Latin-1 character.
pub fn initials(s: &str) -> String {
    let mut gap = true;
    let mut out = String::new();
    for b in s.bytes() {
        let c = char::from(b);
        if is_go_space(c) {
            gap = true;
        } else if gap {
            out.push(c);
            gap = false;
        }
    }
    out
}

/// `goutils.DeleteWhiteSpace`.
pub fn delete_white_space(s: &str) -> String {
    s.chars().filter(|c| !is_go_space(*c)).collect()
}

/// `goutils.AbbreviateFull`: `None` where the Go function returns an error (widths
/// too small), which Sprig turns into an empty string.
pub fn abbreviate_full(s: &str, offset: i64, max_width: i64) -> Option<String> {
    if s.is_empty() {
        return Some(String::new());
    }
    if max_width < 4 {
        return None;
    }
    let len = i64::try_from(s.len()).unwrap_or(i64::MAX);
    if len <= max_width {
        return Some(s.to_string());
    }
    let mut offset = offset.min(len);
    if len - offset < max_width - 3 {
        offset = len - (max_width - 3);
    }
    let cut = |from: i64, to: i64| {
        byte_slice(
            s,
            usize::try_from(from).unwrap_or(0),
            usize::try_from(to).unwrap_or(0),
        )
    };
    if offset <= 4 {
        return Some(format!("{}...", cut(0, max_width - 3)));
    }
    if max_width < 7 {
        return None;
    }
    if offset + max_width - 3 < len {
        let rest = cut(offset, len);
        return abbreviate_full(&rest, 0, max_width - 3).map(|a| format!("...{a}"));
    }
    Some(format!("...{}", cut(len - (max_width - 3), len)))
}

/// Sprig's `abbrev`.
pub fn abbrev(width: i64, s: &str) -> String {
    if width < 4 {
        return s.to_string();
    }
    abbreviate_full(s, 0, width).unwrap_or_default()
}

/// Sprig's `abbrevboth`.
pub fn abbrevboth(left: i64, right: i64, s: &str) -> String {
    if right < 4 || (left > 0 && right < 7) {
        return s.to_string();
    }
    abbreviate_full(s, left, right).unwrap_or_default()
}

/// `goutils.WrapCustom`: breaks lines at spaces so they are at most `width` bytes; long
/// words are cut when `long_words`, left whole otherwise.
pub fn wrap_custom(s: &str, width: i64, newline: &str, long_words: bool) -> String {
    if s.is_empty() {
        return String::new();
    }
    let newline = if newline.is_empty() { "\n" } else { newline };
    let width = usize::try_from(width.max(1)).unwrap_or(usize::MAX);
    let bytes = s.as_bytes();
    let len = bytes.len();
    let mut offset = 0usize;
    let mut out = String::new();
    while len - offset > width {
        if bytes[offset] == b' ' {
            offset += 1;
            continue;
        }
        let end = (width + offset + 1).min(len);
        let window = &bytes[offset..end];
        if let Some(space) = window.iter().rposition(|b| *b == b' ') {
            out.push_str(&byte_slice(s, offset, offset + space));
            out.push_str(newline);
            offset += space + 1;
        } else if long_words {
            out.push_str(&byte_slice(s, offset, offset + width));
            out.push_str(newline);
            offset += width;
        } else {
            let end = offset + width;
            match bytes[end..].iter().position(|b| *b == b' ') {
                None => {
                    out.push_str(&byte_slice(s, offset, len));
                    offset = len;
                }
                Some(i) => {
                    out.push_str(&byte_slice(s, offset, end + i));
                    out.push_str(newline);
                    offset = end + i + 1;
                }
            }
        }
    }
    out.push_str(&byte_slice(s, offset, len));
    out
}

/// Sprig's `trunc`: the first `n` bytes, or with a negative `n` the last `-n`.
pub fn trunc(n: i64, s: &str) -> String {
    let len = i64::try_from(s.len()).unwrap_or(i64::MAX);
    if n < 0 && len + n > 0 {
        return byte_slice(s, usize::try_from(len + n).unwrap_or(0), s.len());
    }
    if n >= 0 && len > n {
        return byte_slice(s, 0, usize::try_from(n).unwrap_or(0));
    }
    s.to_string()
}

fn is_connector(c: char) -> bool {
    c == '-' || c == '_' || is_go_space(c)
}

/// Go's `unicode.IsPunct` (general category P): exact for ASCII and Latin-1, the common
/// blocks beyond.
pub fn is_punct(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_punctuation()
            && !matches!(c, '$' | '+' | '<' | '=' | '>' | '^' | '`' | '|' | '~');
    }
    matches!(c,
        '\u{a1}' | '\u{a7}' | '\u{ab}' | '\u{b6}' | '\u{b7}' | '\u{bb}' | '\u{bf}'
        | '\u{37e}' | '\u{387}' | '\u{55a}'..='\u{55f}' | '\u{589}' | '\u{58a}'
        | '\u{5be}' | '\u{5c0}' | '\u{5c3}' | '\u{5c6}' | '\u{5f3}' | '\u{5f4}'
        | '\u{609}' | '\u{60a}' | '\u{60c}' | '\u{60d}' | '\u{61b}' | '\u{61d}'..='\u{61f}'
        | '\u{66a}'..='\u{66d}' | '\u{6d4}' | '\u{964}' | '\u{965}' | '\u{970}'
        | '\u{2010}'..='\u{2027}' | '\u{2030}'..='\u{2043}' | '\u{2045}'..='\u{2051}'
        | '\u{2053}'..='\u{205e}' | '\u{207d}' | '\u{207e}' | '\u{208d}' | '\u{208e}'
        | '\u{2308}'..='\u{230b}' | '\u{2329}' | '\u{232a}' | '\u{2768}'..='\u{2775}'
        | '\u{27c5}' | '\u{27c6}' | '\u{27e6}'..='\u{27ef}' | '\u{2983}'..='\u{2998}'
        | '\u{29d8}'..='\u{29db}' | '\u{29fc}' | '\u{29fd}' | '\u{2cf9}'..='\u{2cfc}'
        | '\u{2cfe}' | '\u{2cff}' | '\u{2e00}'..='\u{2e2e}' | '\u{2e30}'..='\u{2e4f}'
        | '\u{3001}'..='\u{3003}' | '\u{3008}'..='\u{3011}' | '\u{3014}'..='\u{301f}'
        | '\u{3030}' | '\u{303d}' | '\u{30a0}' | '\u{30fb}' | '\u{fe10}'..='\u{fe19}'
        | '\u{fe30}'..='\u{fe52}' | '\u{fe54}'..='\u{fe61}' | '\u{fe63}' | '\u{fe68}'
        | '\u{fe6a}' | '\u{fe6b}' | '\u{ff01}'..='\u{ff03}' | '\u{ff05}'..='\u{ff0a}'
        | '\u{ff0c}'..='\u{ff0f}' | '\u{ff1a}' | '\u{ff1b}' | '\u{ff1f}' | '\u{ff20}'
        | '\u{ff3b}'..='\u{ff3d}' | '\u{ff3f}' | '\u{ff5b}' | '\u{ff5d}' | '\u{ff5f}'..='\u{ff65}')
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Word {
    None,
    Number,
    Upper,
    Alphabet,
    Connector,
    Punct,
    Other,
}

/// Splits the next word off `s`: a run of connectors, of punctuation, of digits, an
/// upper-case run (`HTTP` of `HTTPServer`), a capitalised or lower-case word, or other.
fn next_word(s: &str) -> (Word, &str, &str) {
    let mut chars = s.char_indices().peekable();
    let Some((_, first)) = chars.next() else {
        return (Word::None, "", "");
    };
    let end_while = |start: usize, pred: &dyn Fn(char) -> bool| -> usize {
        s[start..]
            .char_indices()
            .find(|(_, c)| !pred(*c))
            .map_or(s.len(), |(i, _)| start + i)
    };
    let after_first = first.len_utf8();
    let (kind, end) = if is_connector(first) {
        (Word::Connector, end_while(after_first, &is_connector))
    } else if is_punct(first) {
        (Word::Punct, end_while(after_first, &is_punct))
    } else if first.is_uppercase() {
        match s[after_first..].chars().next() {
            None => (Word::Upper, after_first),
            Some(c) if c.is_uppercase() => {
                // A run of capitals; its last one starts the next word when a letter follows
                // (`HTTPStatus` is `HTTP` + `Status`).
                let run_end = end_while(after_first, &char::is_uppercase);
                let next = s[run_end..].chars().next();
                match next {
                    Some(n) if n.is_alphabetic() => {
                        let last = s[..run_end].chars().next_back().map_or(0, char::len_utf8);
                        (Word::Upper, run_end - last)
                    }
                    _ => (Word::Upper, run_end),
                }
            }
            Some(c) if c.is_alphabetic() => (
                Word::Upper,
                end_while(after_first, &|c: char| {
                    c.is_alphabetic() && !c.is_uppercase()
                }),
            ),
            Some(_) => (Word::Upper, after_first),
        }
    } else if first.is_alphabetic() {
        (
            Word::Alphabet,
            end_while(after_first, &|c: char| {
                c.is_alphabetic() && !c.is_uppercase()
            }),
        )
    } else if first.is_numeric() {
        (Word::Number, end_while(after_first, &char::is_numeric))
    } else {
        (
            Word::Other,
            end_while(after_first, &|c: char| {
                !(is_connector(c) || c.is_alphabetic() || c.is_numeric() || is_punct(c))
            }),
        )
    };
    (kind, &s[..end], &s[end..])
}

fn push_lower(out: &mut String, kind: Word, word: &str, connector: char) {
    if kind != Word::Upper && kind != Word::Connector {
        out.push_str(word);
        return;
    }
    for c in word.chars() {
        if is_connector(c) {
            out.push(connector);
        } else if c.is_uppercase() {
            out.push(lower_rune(c));
        } else {
            out.push(c);
        }
    }
}

/// `xstrings`' snake/kebab case: words joined by `connector`, lower case.
pub fn camel_to_lower(s: &str, connector: char) -> String {
    let mut out = String::new();
    let (mut kind, mut word, mut rest) = next_word(s);
    while !rest.is_empty() {
        if kind != Word::Connector {
            push_lower(&mut out, kind, word, connector);
        }
        let prev = kind;
        let last = word;
        (kind, word, rest) = next_word(rest);
        match prev {
            Word::Number => {
                while kind == Word::Alphabet || kind == Word::Number {
                    push_lower(&mut out, kind, word, connector);
                    (kind, word, rest) = next_word(rest);
                }
                if !matches!(kind, Word::None | Word::Punct | Word::Connector) {
                    out.push(connector);
                }
            }
            Word::Connector => push_lower(&mut out, prev, last, connector),
            Word::Punct => {}
            _ => {
                if kind != Word::Number {
                    if kind != Word::Connector && kind != Word::Punct {
                        out.push(connector);
                    }
                    continue;
                }
                if rest.is_empty() {
                    continue;
                }
                let number = word;
                (kind, word, rest) = next_word(rest);
                if kind != Word::Alphabet {
                    push_lower(&mut out, Word::Number, number, connector);
                    if kind != Word::Connector && kind != Word::Punct {
                        out.push(connector);
                    }
                    continue;
                }
                out.push(connector);
                push_lower(&mut out, Word::Number, number, connector);
                while kind == Word::Alphabet || kind == Word::Number {
                    push_lower(&mut out, kind, word, connector);
                    (kind, word, rest) = next_word(rest);
                }
                if !matches!(kind, Word::None | Word::Connector | Word::Punct) {
                    out.push(connector);
                }
            }
        }
    }
    push_lower(&mut out, kind, word, connector);
    out
}

/// Sprig's `camelcase` (`xstrings` Pascal case): connectors removed and the next letter
/// upper-cased; a capitalised run after a word start is lower-cased (`HTTPServer` →
/// `Httpserver`); leading, trailing and doubled connectors are kept.
pub fn camelcase(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    let mut first_upper = false;
    let mut r0 = None;
    for c in chars.by_ref() {
        if !is_connector(c) {
            first_upper = c.is_uppercase();
            r0 = Some(upper_rune(c));
            break;
        }
        out.push(c);
        r0 = Some(c);
    }
    let rest: Vec<char> = chars.collect();
    let Some(mut r0) = r0 else {
        return out;
    };
    if rest.is_empty() {
        out.push(r0);
        return out;
    }
    for c in rest {
        let r1 = r0;
        r0 = c;
        if is_connector(r0) && is_connector(r1) {
            out.push(r1);
            continue;
        }
        if is_connector(r1) {
            first_upper = r0.is_uppercase();
            r0 = upper_rune(r0);
        } else {
            if first_upper {
                if r0.is_uppercase() {
                    r0 = lower_rune(r0);
                } else {
                    first_upper = false;
                }
            }
            out.push(r1);
        }
    }
    out.push(r0);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected outputs rendered by `helm template` (v4.1.4).
    const CASES: &[(&str, &str, &str, &str, &str)] = &[
        // input, snakecase, kebabcase, camelcase, title
        (
            "HelloWorld",
            "hello_world",
            "hello-world",
            "HelloWorld",
            "HelloWorld",
        ),
        (
            "hello world",
            "hello_world",
            "hello-world",
            "HelloWorld",
            "Hello World",
        ),
        (
            "HTTPServer",
            "http_server",
            "http-server",
            "Httpserver",
            "HTTPServer",
        ),
        (
            "ServeHTTP",
            "serve_http",
            "serve-http",
            "ServeHTTP",
            "ServeHTTP",
        ),
        (
            "hello-world",
            "hello_world",
            "hello-world",
            "HelloWorld",
            "Hello-World",
        ),
        (
            "  hello  world  ",
            "__hello__world__",
            "--hello--world--",
            "  Hello World  ",
            "  Hello  World  ",
        ),
        ("foo__bar", "foo__bar", "foo--bar", "Foo_Bar", "Foo__bar"),
        ("a1b2", "a_1b2", "a-1b2", "A1b2", "A1b2"),
        (
            "version2Beta",
            "version2_beta",
            "version2-beta",
            "Version2Beta",
            "Version2Beta",
        ),
        ("ID", "id", "id", "Id", "ID"),
        ("iPhone", "i_phone", "i-phone", "IPhone", "IPhone"),
        (
            "ABC123def",
            "abc_123def",
            "abc-123def",
            "Abc123def",
            "ABC123def",
        ),
        ("123abc", "123abc", "123abc", "123abc", "123abc"),
        ("x-Y_z", "x_y_z", "x-y-z", "XYZ", "X-Y_z"),
        (
            "\u{c0}bcD\u{e9}f",
            "\u{e0}bc_d\u{e9}f",
            "\u{e0}bc-d\u{e9}f",
            "\u{c0}bcD\u{e9}f",
            "\u{c0}bcD\u{e9}f",
        ),
        ("a.b.c", "a.b.c", "a.b.c", "A.b.c", "A.B.C"),
        ("--lead", "__lead", "--lead", "--Lead", "--Lead"),
        ("trail--", "trail__", "trail--", "Trail--", "Trail--"),
        ("fooBAR", "foo_bar", "foo-bar", "FooBAR", "FooBAR"),
        ("Foo_Bar_", "foo_bar_", "foo-bar-", "FooBar_", "Foo_Bar_"),
        ("", "", "", "", ""),
        ("_", "_", "-", "__", "_"),
        ("http2xx", "http_2xx", "http-2xx", "Http2xx", "Http2xx"),
        ("ab3De", "ab3_de", "ab3-de", "Ab3De", "Ab3De"),
        (
            "hello$world",
            "hello_$_world",
            "hello-$-world",
            "Hello$world",
            "Hello$World",
        ),
        (
            "AbcDEFGhi",
            "abc_def_ghi",
            "abc-def-ghi",
            "AbcDEFGhi",
            "AbcDEFGhi",
        ),
    ];

    #[test]
    fn case_conversions_match_helm() {
        for (input, snake, kebab, camel, titled) in CASES {
            assert_eq!(camel_to_lower(input, '_'), *snake, "snakecase {input:?}");
            assert_eq!(camel_to_lower(input, '-'), *kebab, "kebabcase {input:?}");
            assert_eq!(camelcase(input), *camel, "camelcase {input:?}");
            assert_eq!(title(input), *titled, "title {input:?}");
        }
    }

    #[test]
    fn swapcase_untitle_initials_match_helm() {
        assert_eq!(swap_case("HTTPServer"), "httpsERVER");
        assert_eq!(swap_case("\u{c0}bcD\u{e9}f"), "\u{e0}BCd\u{c9}F");
        assert_eq!(untitle("Hello World"), "hello world");
        assert_eq!(untitle("ID"), "iD");
        assert_eq!(initials("Hello World"), "HW");
        assert_eq!(initials("  hello  world  "), "hw");
        assert_eq!(initials("\u{c0}bcD\u{e9}f"), "\u{c3}");
    }

    const SENTENCE: &str = "The quick brown fox jumps over the lazy dog";
    const GAPS: &str = "  leading spaces and   multiple   gaps here  ";
    const LONG: &str = "averyveryverylongwordwithoutspaces and more";

    #[test]
    fn wrap_matches_helm() {
        assert_eq!(
            wrap_custom(SENTENCE, 10, "", false),
            "The quick\nbrown fox\njumps over\nthe lazy\ndog"
        );
        assert_eq!(
            wrap_custom(GAPS, 5, "", false),
            "leading\nspaces\nand  \nmultiple\ngaps\nhere \n"
        );
        assert_eq!(
            wrap_custom(GAPS, 1, "", false),
            "leading\nspaces\nand\nmultiple\ngaps\nhere\n "
        );
        assert_eq!(
            wrap_custom(LONG, 10, "", false),
            "averyveryverylongwordwithoutspaces\nand more"
        );
        assert_eq!(
            wrap_custom(LONG, 10, "<br>", true),
            "averyveryv<br>erylongwor<br>dwithoutsp<br>aces and<br>more"
        );
        assert_eq!(
            wrap_custom("short", 1, "<br>", true),
            "s<br>h<br>o<br>r<br>t"
        );
        assert_eq!(
            wrap_custom(GAPS, 5, "<br>", true),
            "leadi<br>ng<br>space<br>s and<br>multi<br>ple  <br>gaps<br>here <br>"
        );
    }

    #[test]
    fn abbreviations_match_helm() {
        assert_eq!(abbrev(3, SENTENCE), SENTENCE);
        assert_eq!(abbrev(4, SENTENCE), "T...");
        assert_eq!(abbrev(5, "short"), "short");
        assert_eq!(abbrev(20, SENTENCE), "The quick brown f...");
        assert_eq!(abbrevboth(5, 10, SENTENCE), "...uick...");
        assert_eq!(abbrevboth(10, 6, SENTENCE), SENTENCE);
        assert_eq!(abbrevboth(10, 7, SENTENCE), "...b...");
        assert_eq!(abbrevboth(20, 10, "a b c d e f g h i j"), "...g h i j");
        assert_eq!(abbrevboth(20, 10, GAPS), "...   m...");
        assert_eq!(abbrevboth(-3, 8, SENTENCE), "The q...");
    }
}
