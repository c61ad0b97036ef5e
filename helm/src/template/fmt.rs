//! Go's `fmt` over [`Value`]s: [`sprint`], [`sprintln`], [`sprintf`] with Go's verbs, flags,
//! width and precision, and Go's error text for bad verbs (`%!d(string=x)`), missing
//! (`%!d(MISSING)`) and extra arguments (`%!(EXTRA int=1)`); and [`quote`] (`strconv.Quote`).

use crate::value::{Path, Value, format_float};

/// Go's `fmt.Sprint`: operands in `%v`, with spaces between operands when neither is a string.
pub fn sprint(args: &[Value]) -> String {
    let mut out = String::new();
    let mut prev_string = false;
    for (i, arg) in args.iter().enumerate() {
        let is_string = matches!(arg, Value::String(_));
        if i > 0 && !is_string && !prev_string {
            out.push(' ');
        }
        print_arg(&mut out, arg, 'v', &Flags::default());
        prev_string = is_string;
    }
    out
}

/// Go's `fmt.Sprintln`: operands in `%v` separated by spaces, and a newline.
pub fn sprintln(args: &[Value]) -> String {
    let mut out = String::new();
    for (i, arg) in args.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        print_arg(&mut out, arg, 'v', &Flags::default());
    }
    out.push('\n');
    out
}

/// Go's `strconv.Quote`: a double-quoted Go string literal, non-printable runes escaped.
pub fn quote(s: &str) -> String {
    quote_with(s, '"', false)
}

fn quote_with(s: &str, q: char, ascii_only: bool) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push(q);
    for c in s.chars() {
        push_quoted_char(&mut out, c, q, ascii_only);
    }
    out.push(q);
    out
}

fn push_quoted_char(out: &mut String, c: char, q: char, ascii_only: bool) {
    if c == q || c == '\\' {
        out.push('\\');
        out.push(c);
        return;
    }
    if ascii_only {
        if c.is_ascii() && is_print(c) {
            out.push(c);
            return;
        }
    } else if is_print(c) {
        out.push(c);
        return;
    }
    match c {
        '\u{7}' => out.push_str("\\a"),
        '\u{8}' => out.push_str("\\b"),
        '\u{c}' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\u{b}' => out.push_str("\\v"),
        c if (c as u32) < 0x20 || c as u32 == 0x7f => {
            out.push_str(&format!("\\x{:02x}", c as u32));
        }
        '\u{fffd}' => out.push_str("\\ufffd"),
        c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
        c => out.push_str(&format!("\\U{:08x}", c as u32)),
    }
}

/// Approximates Go's `strconv.IsPrint`: letters, marks, numbers, punctuation, symbols and
/// the ASCII space.
fn is_print(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    if c.is_control() || c.is_whitespace() {
        return false;
    }
    let u = c as u32;
    // Format characters, surrogates (impossible), private use, unassigned specials.
    !matches!(u, 0xAD | 0x600..=0x605 | 0x61C | 0x6DD | 0x70F | 0x180E | 0x200B..=0x200F
        | 0x202A..=0x202E | 0x2060..=0x206F | 0xFEFF | 0xFFF9..=0xFFFB | 0xE000..=0xF8FF
        | 0xFFFE | 0xFFFF | 0xF0000..=0x10FFFF)
}

#[derive(Clone, Debug, Default)]
struct Flags {
    plus: bool,
    minus: bool,
    sharp: bool,
    space: bool,
    zero: bool,
    wid: Option<usize>,
    prec: Option<usize>,
    /// `%+v`.
    plus_v: bool,
    /// `%#v`.
    sharp_v: bool,
}

/// Go's `fmt.Sprintf`.
pub fn sprintf(format: &str, args: &[Value]) -> String {
    let mut p = Printf {
        out: String::new(),
        reordered: false,
        good_argnum: true,
    };
    p.run(format, args);
    p.out
}

struct Printf {
    out: String,
    reordered: bool,
    good_argnum: bool,
}

impl Printf {
    fn run(&mut self, format: &str, args: &[Value]) {
        let bytes = format.as_bytes();
        let end = bytes.len();
        let mut argnum = 0usize;
        let mut i = 0usize;
        self.reordered = false;
        while i < end {
            self.good_argnum = true;
            let lasti = i;
            while i < end && bytes.get(i) != Some(&b'%') {
                i += 1;
            }
            if i > lasti {
                self.out.push_str(format.get(lasti..i).unwrap_or(""));
            }
            if i >= end {
                break;
            }
            i += 1;
            let mut f = Flags::default();
            while i < end {
                match bytes.get(i) {
                    Some(b'#') => f.sharp = true,
                    Some(b'0') => f.zero = !f.minus,
                    Some(b'+') => f.plus = true,
                    Some(b'-') => {
                        f.minus = true;
                        f.zero = false;
                    }
                    Some(b' ') => f.space = true,
                    _ => break,
                }
                i += 1;
            }
            let mut after_index;
            (argnum, i, after_index) = self.arg_number(argnum, format, i, args.len());
            if bytes.get(i) == Some(&b'*') {
                i += 1;
                let (w, ok, n) = int_from_arg(args, argnum);
                argnum = n;
                if ok {
                    if w < 0 {
                        f.minus = true;
                        f.zero = false;
                    }
                    f.wid = usize::try_from(w.unsigned_abs()).ok();
                } else {
                    self.out.push_str("%!(BADWIDTH)");
                }
                after_index = false;
            } else {
                let (n, ni) = parse_num(format, i);
                f.wid = n;
                i = ni;
                if after_index && f.wid.is_some() {
                    self.good_argnum = false;
                }
            }
            if i + 1 < end && bytes.get(i) == Some(&b'.') {
                i += 1;
                if after_index {
                    self.good_argnum = false;
                }
                (argnum, i, after_index) = self.arg_number(argnum, format, i, args.len());
                if bytes.get(i) == Some(&b'*') {
                    i += 1;
                    let (pr, ok, n) = int_from_arg(args, argnum);
                    argnum = n;
                    f.prec = if ok && pr >= 0 {
                        usize::try_from(pr).ok()
                    } else {
                        None
                    };
                    if !ok {
                        self.out.push_str("%!(BADPREC)");
                    }
                    after_index = false;
                } else {
                    let (n, ni) = parse_num(format, i);
                    f.prec = Some(n.unwrap_or(0));
                    i = ni;
                }
            }
            if !after_index {
                (argnum, i, _) = self.arg_number(argnum, format, i, args.len());
            }
            if i >= end {
                self.out.push_str("%!(NOVERB)");
                break;
            }
            let verb = format
                .get(i..)
                .and_then(|s| s.chars().next())
                .unwrap_or('%');
            i += verb.len_utf8();
            let out = &mut self.out;
            match verb {
                '%' => out.push('%'),
                _ if !self.good_argnum => {
                    out.push_str("%!");
                    out.push(verb);
                    out.push_str("(BADINDEX)");
                }
                _ if argnum >= args.len() => {
                    out.push_str("%!");
                    out.push(verb);
                    out.push_str("(MISSING)");
                }
                _ => {
                    if verb == 'v' {
                        if f.sharp {
                            f.sharp = false;
                            f.sharp_v = true;
                        }
                        if f.plus {
                            f.plus = false;
                            f.plus_v = true;
                        }
                    }
                    if let Some(a) = args.get(argnum) {
                        if verb == 'w' {
                            bad_verb(out, a, verb);
                        } else {
                            print_arg(out, a, verb, &f);
                        }
                    }
                    argnum += 1;
                }
            }
        }
        if !self.reordered && argnum < args.len() {
            self.out.push_str("%!(EXTRA ");
            for (k, a) in args.iter().enumerate().skip(argnum) {
                if k > argnum {
                    self.out.push_str(", ");
                }
                if a.is_nil() {
                    self.out.push_str("<nil>");
                } else {
                    self.out.push_str(&a.type_name());
                    self.out.push('=');
                    print_arg(&mut self.out, a, 'v', &Flags::default());
                }
            }
            self.out.push(')');
        }
    }

    /// Go's `argNumber`: an explicit `[n]` argument index at `i`.
    fn arg_number(
        &mut self,
        argnum: usize,
        s: &str,
        i: usize,
        nargs: usize,
    ) -> (usize, usize, bool) {
        let b = s.as_bytes();
        if b.get(i) != Some(&b'[') {
            return (argnum, i, false);
        }
        self.reordered = true;
        let rest = s.get(i..).unwrap_or("");
        let (index, wid, ok) = parse_arg_number(rest);
        if ok && index < nargs {
            return (index, i + wid, true);
        }
        self.good_argnum = false;
        (argnum, i + wid, ok)
    }
}

fn parse_arg_number(s: &str) -> (usize, usize, bool) {
    if s.len() < 3 {
        return (0, 1, false);
    }
    let b = s.as_bytes();
    for i in 1..b.len() {
        if b.get(i) == Some(&b']') {
            let (n, ni) = parse_num(s, 1);
            return match n {
                Some(n) if ni == i && n >= 1 => (n - 1, i + 1, true),
                Some(_) if ni == i => (usize::MAX, i + 1, true),
                _ => (0, i + 1, false),
            };
        }
    }
    (0, 1, false)
}

fn parse_num(s: &str, mut i: usize) -> (Option<usize>, usize) {
    let b = s.as_bytes();
    let start = i;
    let mut n: usize = 0;
    while let Some(d) = b.get(i).filter(|d| d.is_ascii_digit()) {
        if n > 1_000_000 {
            return (None, s.len());
        }
        n = n.saturating_mul(10).saturating_add(usize::from(d - b'0'));
        i += 1;
    }
    if i == start { (None, i) } else { (Some(n), i) }
}

/// Go's `intFromArg`: the width or precision argument, whether it is a usable int, and the
/// next argument index.
fn int_from_arg(args: &[Value], n: usize) -> (i64, bool, usize) {
    let Some(a) = args.get(n) else {
        return (0, false, n);
    };
    let v = match a {
        Value::Int(i) | Value::Int64(i) => Some(*i),
        Value::Uint64(u) => i64::try_from(*u).ok(),
        _ => None,
    };
    match v {
        Some(v) if (-1_000_000..=1_000_000).contains(&v) => (v, true, n + 1),
        _ => (0, false, n + 1),
    }
}

fn pad(out: &mut String, s: &str, f: &Flags) {
    let Some(w) = f.wid else {
        out.push_str(s);
        return;
    };
    let n = s.chars().count();
    if n >= w {
        out.push_str(s);
        return;
    }
    let fill = w - n;
    if f.minus {
        out.push_str(s);
        out.extend(std::iter::repeat_n(' ', fill));
    } else {
        let c = if f.zero { '0' } else { ' ' };
        out.extend(std::iter::repeat_n(c, fill));
        out.push_str(s);
    }
}

fn bad_verb(out: &mut String, v: &Value, verb: char) {
    out.push_str("%!");
    out.push(verb);
    out.push('(');
    if v.is_nil() {
        out.push_str("<nil>");
    } else {
        out.push_str(&v.type_name());
        out.push('=');
        print_value(out, v, 'v', &Flags::default(), &mut Path::default());
    }
    out.push(')');
}

fn print_arg(out: &mut String, v: &Value, verb: char, f: &Flags) {
    if v.is_nil() {
        match verb {
            'T' | 'v' => pad(out, "<nil>", f),
            _ => bad_verb(out, v, verb),
        }
        return;
    }
    if verb == 'T' {
        pad(out, &v.type_name(), f);
        return;
    }
    if verb == 'p' {
        bad_verb(out, v, verb);
        return;
    }
    print_value(out, v, verb, f, &mut Path::default());
}

/// `v` inside the maps and lists of `path`: `...` where a map would repeat (Go recurses
/// until its stack overflows) or the nesting passes [`crate::value::MAX_DEPTH`].
fn print_value(out: &mut String, v: &Value, verb: char, f: &Flags, path: &mut Path) {
    match v {
        Value::Nil => {
            if f.sharp_v {
                pad(out, "interface {}(nil)", f);
            } else {
                pad(out, "<nil>", f);
            }
        }
        Value::Bool(b) => match verb {
            't' | 'v' => pad(out, if *b { "true" } else { "false" }, f),
            _ => bad_verb(out, v, verb),
        },
        Value::Int(i) | Value::Int64(i) => fmt_int(out, v, i.unsigned_abs(), *i < 0, verb, f),
        Value::Uint64(u) => fmt_int(out, v, *u, false, verb, f),
        Value::Float(x) => match verb {
            'v' => fmt_float(out, *x, 'g', None, f),
            'b' | 'g' | 'G' | 'x' | 'X' => fmt_float(out, *x, verb, None, f),
            'f' | 'e' | 'E' | 'F' => fmt_float(out, *x, verb, Some(6), f),
            _ => bad_verb(out, v, verb),
        },
        Value::String(s) => fmt_string(out, s.as_bytes(), v, verb, f),
        Value::Bytes(b) => match verb {
            's' | 'q' | 'x' | 'X' => fmt_string(out, b, v, verb, f),
            'v' | 'd' if !f.sharp_v => {
                out.push('[');
                for (i, byte) in b.iter().enumerate() {
                    if i > 0 {
                        out.push(' ');
                    }
                    fmt_int(
                        out,
                        &Value::Int(i64::from(*byte)),
                        u64::from(*byte),
                        false,
                        verb,
                        f,
                    );
                }
                out.push(']');
            }
            _ => {
                out.push('[');
                for (i, byte) in b.iter().enumerate() {
                    if i > 0 {
                        out.push(' ');
                    }
                    fmt_int(
                        out,
                        &Value::Uint64(u64::from(*byte)),
                        u64::from(*byte),
                        false,
                        verb,
                        f,
                    );
                }
                out.push(']');
            }
        },
        Value::List(l) => {
            if path.enter_list().is_err() {
                out.push_str("...");
                return;
            }
            if f.sharp_v {
                out.push_str(&l.go_type());
                out.push('{');
                for (i, item) in l.items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    print_value(out, item, verb, f, path);
                }
                out.push('}');
            } else {
                out.push('[');
                for (i, item) in l.items.iter().enumerate() {
                    if i > 0 {
                        out.push(' ');
                    }
                    print_value(out, item, verb, f, path);
                }
                out.push(']');
            }
            path.leave();
        }
        Value::Map(m) => {
            if path.enter_map(m).is_err() {
                out.push_str("...");
                return;
            }
            let entries = m.snapshot();
            if f.sharp_v {
                out.push_str(&m.go_type());
                out.push('{');
                for (i, (k, item)) in entries.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    out.push_str(&quote(k));
                    out.push(':');
                    print_value(out, item, verb, f, path);
                }
                out.push('}');
            } else {
                out.push_str("map[");
                for (i, (k, item)) in entries.iter().enumerate() {
                    if i > 0 {
                        out.push(' ');
                    }
                    fmt_string(out, k.as_bytes(), &Value::from(k.as_str()), verb, f);
                    out.push(':');
                    print_value(out, item, verb, f, path);
                }
                out.push(']');
            }
            path.leave();
        }
        Value::Object(o) => match verb {
            'v' | 's' => pad(out, &o.fmt_v(f.plus_v), f),
            _ => bad_verb(out, v, verb),
        },
    }
}

fn fmt_int(out: &mut String, v: &Value, u: u64, negative: bool, verb: char, f: &Flags) {
    match verb {
        'v' if f.sharp_v => fmt_integer(out, u, negative, 10, false, f),
        'v' | 'd' => fmt_integer(out, u, negative, 10, false, f),
        'b' => fmt_integer(out, u, negative, 2, false, f),
        'o' | 'O' => {
            if verb == 'O' {
                let mut f2 = f.clone();
                f2.sharp = false;
                let mut s = String::new();
                fmt_integer(&mut s, u, negative, 8, false, &Flags { wid: None, ..f2 });
                let (sign, digits) = match s.strip_prefix(['-', '+', ' ']) {
                    Some(d) => (s.get(..1).unwrap_or(""), d),
                    None => ("", s.as_str()),
                };
                pad(
                    out,
                    &format!("{sign}0o{digits}"),
                    &Flags {
                        zero: false,
                        ..f.clone()
                    },
                );
            } else {
                fmt_integer(out, u, negative, 8, false, f);
            }
        }
        'x' => fmt_integer(out, u, negative, 16, false, f),
        'X' => fmt_integer(out, u, negative, 16, true, f),
        'c' => {
            let c = if negative {
                None
            } else {
                u32::try_from(u).ok().and_then(char::from_u32)
            };
            pad(out, &c.unwrap_or('\u{fffd}').to_string(), f);
        }
        'q' => {
            let c = if negative {
                None
            } else {
                u32::try_from(u).ok().and_then(char::from_u32)
            };
            let c = c.unwrap_or('\u{fffd}');
            let mut s = String::from('\'');
            push_quoted_char(&mut s, c, '\'', f.plus);
            s.push('\'');
            pad(out, &s, f);
        }
        'U' => {
            let mut s = format!("U+{u:04X}");
            if negative {
                s = format!("U+{:04X}", (u as i64).wrapping_neg() as u64);
            }
            if f.sharp
                && let Some(c) = u32::try_from(u).ok().and_then(char::from_u32)
                && is_print(c)
            {
                s.push_str(&format!(" '{c}'"));
            }
            pad(
                out,
                &s,
                &Flags {
                    zero: false,
                    ..f.clone()
                },
            );
        }
        _ => bad_verb(out, v, verb),
    }
}

fn fmt_integer(out: &mut String, u: u64, negative: bool, base: u32, upper: bool, f: &Flags) {
    let mut prec = 0usize;
    if let Some(p) = f.prec {
        prec = p;
        if p == 0 && u == 0 {
            if let Some(w) = f.wid {
                out.extend(std::iter::repeat_n(' ', w));
            }
            return;
        }
    } else if f.zero
        && let Some(w) = f.wid
    {
        prec = w;
        if negative || f.plus || f.space {
            prec = prec.saturating_sub(1);
        }
    }
    let mut digits = match base {
        2 => format!("{u:b}"),
        8 => format!("{u:o}"),
        16 if upper => format!("{u:X}"),
        16 => format!("{u:x}"),
        _ => u.to_string(),
    };
    if digits.len() < prec {
        digits = format!("{}{digits}", "0".repeat(prec - digits.len()));
    }
    let mut prefix = String::new();
    if f.sharp {
        match base {
            2 => prefix.push_str("0b"),
            8 if !digits.starts_with('0') => prefix.push('0'),
            16 => prefix.push_str(if upper { "0X" } else { "0x" }),
            _ => {}
        }
    }
    let sign = if negative {
        "-"
    } else if f.plus {
        "+"
    } else if f.space {
        " "
    } else {
        ""
    };
    let s = format!("{sign}{prefix}{digits}");
    pad(
        out,
        &s,
        &Flags {
            zero: false,
            ..f.clone()
        },
    );
}

fn fmt_float(out: &mut String, x: f64, verb: char, default_prec: Option<usize>, f: &Flags) {
    let prec = f.prec.or(default_prec);
    let fmt = match verb {
        'F' => 'f',
        'x' | 'X' | 'b' => 'g',
        v => v,
    };
    let mut num = match verb {
        'x' | 'X' if x.is_finite() => hex_float(x, prec, verb == 'X'),
        'b' if x.is_finite() => binary_float(x),
        _ => format_float(x, fmt, prec),
    };
    if f.sharp && verb != 'b' && x.is_finite() {
        // Ensure a decimal point.
        let (mant, exp) = match num.find(['e', 'E']) {
            Some(k) => (
                num.get(..k).unwrap_or("").to_string(),
                num.get(k..).unwrap_or("").to_string(),
            ),
            None => (num.clone(), String::new()),
        };
        let mut mant = mant;
        if !mant.contains('.') {
            mant.push('.');
        }
        if matches!(verb, 'g' | 'G' | 'v') {
            let digits = mant.chars().filter(char::is_ascii_digit).count();
            let want = prec.unwrap_or(6).max(1);
            let sig = mant
                .trim_start_matches(['-', '0', '.'])
                .chars()
                .filter(char::is_ascii_digit)
                .count();
            let _ = digits;
            if sig < want {
                mant.push_str(&"0".repeat(want - sig.max(1)));
                if sig == 0 {
                    mant.push('0');
                }
            }
        }
        num = mant + &exp;
    }
    let (neg, body) = match num.strip_prefix('-') {
        Some(b) => (true, b.to_string()),
        None => (false, num.strip_prefix('+').unwrap_or(&num).to_string()),
    };
    if x.is_nan() || x.is_infinite() {
        let mut s = body;
        if x.is_nan() {
            if f.plus {
                s = format!("+{s}");
            } else if f.space {
                s = format!(" {s}");
            }
        } else if neg {
            s = format!("-{s}");
        } else if f.space && !f.plus {
            s = format!(" {s}");
        } else {
            s = format!("+{s}");
        }
        pad(
            out,
            &s,
            &Flags {
                zero: false,
                ..f.clone()
            },
        );
        return;
    }
    let sign = if neg {
        "-"
    } else if f.plus {
        "+"
    } else if f.space {
        " "
    } else {
        ""
    };
    if !sign.is_empty() {
        if f.zero
            && let Some(w) = f.wid
            && w > body.len() + 1
        {
            out.push_str(sign);
            out.extend(std::iter::repeat_n('0', w - body.len() - 1));
            out.push_str(&body);
            return;
        }
        pad(out, &format!("{sign}{body}"), f);
        return;
    }
    pad(out, &body, f);
}

/// Go's `strconv.FormatFloat(x, 'b', -1, 64)`: `-5629499534213120p-51`.
fn binary_float(x: f64) -> String {
    let bits = x.to_bits();
    let neg = bits >> 63 != 0;
    let exp = i64::try_from((bits >> 52) & 0x7ff).unwrap_or(0);
    let mut mant = bits & ((1 << 52) - 1);
    let e = if exp == 0 {
        -1074
    } else {
        mant |= 1 << 52;
        exp - 1075
    };
    let sign = if neg { "-" } else { "" };
    let esign = if e >= 0 { "+" } else { "" };
    format!("{sign}{mant}p{esign}{e}")
}

/// Go's `strconv.FormatFloat(x, 'x', prec, 64)`: `-0x1.4p+01`.
fn hex_float(x: f64, prec: Option<usize>, upper: bool) -> String {
    let bits = x.to_bits();
    let neg = bits >> 63 != 0;
    let raw_exp = i64::try_from((bits >> 52) & 0x7ff).unwrap_or(0);
    let mut mant = bits & ((1u64 << 52) - 1);
    let mut exp;
    if raw_exp == 0 {
        if mant == 0 {
            exp = 0;
        } else {
            // Normalise a subnormal.
            exp = -1022;
            while mant & (1u64 << 52) == 0 {
                mant <<= 1;
                exp -= 1;
            }
            mant &= (1u64 << 52) - 1;
        }
    } else {
        exp = raw_exp - 1023;
    }
    let zero = raw_exp == 0 && mant == 0;
    // 52 fraction bits = 13 hex digits.
    let mut frac = mant;
    let mut digits = 13usize;
    let mut lead = u64::from(!zero);
    if let Some(p) = prec
        && p < 13
    {
        // Round to p hex digits, half to even.
        let shift = 4 * (13 - p);
        let full = (lead << 52) | frac;
        let mask = (1u64 << shift) - 1;
        let rem = full & mask;
        let half = 1u64 << (shift - 1);
        let mut kept = full >> shift;
        if rem > half || (rem == half && kept & 1 == 1) {
            kept += 1;
        }
        let carry_limit = 1u64 << (4 * p);
        if kept >> (4 * p) >= 2 {
            kept >>= 1;
            exp += 1;
        }
        let _ = carry_limit;
        lead = kept >> (4 * p);
        frac = kept & ((1u64 << (4 * p)) - 1);
        digits = p;
    }
    let mut hex = if digits == 0 {
        String::new()
    } else {
        format!("{frac:0digits$x}")
    };
    if prec.is_none() {
        while hex.ends_with('0') {
            hex.pop();
        }
    } else if let Some(p) = prec
        && p > 13
    {
        hex.push_str(&"0".repeat(p - 13));
    }
    let mut s = String::new();
    if neg {
        s.push('-');
    }
    s.push_str("0x");
    s.push_str(&lead.to_string());
    if !hex.is_empty() {
        s.push('.');
        s.push_str(&hex);
    }
    s.push('p');
    s.push(if exp < 0 { '-' } else { '+' });
    let abs = exp.unsigned_abs();
    if abs < 10 {
        s.push('0');
    }
    s.push_str(&abs.to_string());
    if upper { s.to_uppercase() } else { s }
}

fn fmt_string(out: &mut String, bytes: &[u8], v: &Value, verb: char, f: &Flags) {
    let text = || String::from_utf8_lossy(bytes).into_owned();
    let truncated = |s: String| -> String {
        match f.prec {
            Some(p) => s.chars().take(p).collect(),
            None => s,
        }
    };
    match verb {
        'v' if f.sharp_v => pad(out, &quote(&text()), f),
        'v' | 's' => pad(out, &truncated(text()), f),
        'q' => {
            let s = truncated(text());
            if f.sharp && !s.contains('`') && s.chars().all(|c| c == '\t' || !c.is_control()) {
                pad(out, &format!("`{s}`"), f);
            } else {
                pad(out, &quote_with(&s, '"', f.plus), f);
            }
        }
        'x' | 'X' => {
            let digits: &[u8; 16] = if verb == 'X' {
                b"0123456789ABCDEF"
            } else {
                b"0123456789abcdef"
            };
            let n = f.prec.map_or(bytes.len(), |p| p.min(bytes.len()));
            let mut s = String::new();
            for (i, b) in bytes.iter().take(n).enumerate() {
                if f.space && i > 0 {
                    s.push(' ');
                }
                if f.sharp && (f.space || i == 0) {
                    s.push_str(if verb == 'X' { "0X" } else { "0x" });
                }
                s.push(char::from(digits[usize::from(b >> 4)]));
                s.push(char::from(digits[usize::from(b & 15)]));
            }
            pad(out, &s, f);
        }
        _ => bad_verb(out, v, verb),
    }
}
