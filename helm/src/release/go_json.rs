//! JSON written as Go's `encoding/json` writes it, so that a release Weir stores is the
//! byte-for-byte JSON Helm would have stored for the same release.
//!
//! Two things differ from `serde_json`'s own output: floats (Go writes `2` and `1e+21` where
//! `serde_json` writes `2.0` and `1e21`) and HTML characters (Go escapes `<`, `>`,
//! `&`, U+2028 and U+2029 as `\u003c` ... so JSON is safe to embed in HTML). Map keys are
//! sorted in both (`serde_json::Map` is a `BTreeMap`), and both escape control characters
//! alike (`\b`, `\f`, `\n`, `\r`, `\t`, others `\u00xx`, as Go does since 1.22).

use std::io;

use serde::Serialize;
use serde_json::ser::Formatter;

/// A `serde_json` formatter with Go's float format and HTML escaping.
struct GoFormatter;

impl Formatter for GoFormatter {
    fn write_f64<W: ?Sized + io::Write>(&mut self, writer: &mut W, value: f64) -> io::Result<()> {
        writer.write_all(go_float(value).as_bytes())
    }

    fn write_f32<W: ?Sized + io::Write>(&mut self, writer: &mut W, value: f32) -> io::Result<()> {
        writer.write_all(go_float(f64::from(value)).as_bytes())
    }

    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            let escaped = match c {
                '<' => "\\u003c",
                '>' => "\\u003e",
                '&' => "\\u0026",
                '\u{2028}' => "\\u2028",
                '\u{2029}' => "\\u2029",
                _ => continue,
            };
            writer.write_all(&fragment.as_bytes()[start..i])?;
            writer.write_all(escaped.as_bytes())?;
            start = i + c.len_utf8();
        }
        writer.write_all(&fragment.as_bytes()[start..])
    }
}

/// A float as Go's `encoding/json` writes a float64: the shortest text that reads back as the
/// same number, in exponent form (`1e+21`, `1e-7`) below 1e-6 and from 1e21 on.
pub fn go_float(value: f64) -> String {
    let abs = value.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let text = format!("{value:e}");
        let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
        return match exponent.strip_prefix('-') {
            Some(negative) => format!("{mantissa}e-{negative}"),
            None => format!("{mantissa}e+{exponent:0>2}"),
        };
    }
    format!("{value}")
}

/// `value` as Go's `json.Marshal` writes it.
///
/// # Errors
/// Whatever the value's `Serialize` reports.
pub fn to_vec<T: Serialize + ?Sized>(value: &T) -> serde_json::Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, GoFormatter);
    value.serialize(&mut serializer)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn floats_as_go_writes_them() {
        for (value, go) in [
            (2.0, "2"),
            (1.5, "1.5"),
            (-0.25, "-0.25"),
            (0.0, "0"),
            (1e21, "1e+21"),
            (1.5e300, "1.5e+300"),
            (1e20, "100000000000000000000"),
            (1e-6, "0.000001"),
            (1e-7, "1e-7"),
            (-2.5e-10, "-2.5e-10"),
            (123456789.125, "123456789.125"),
        ] {
            assert_eq!(go_float(value), go, "{value}");
        }
    }

    #[test]
    fn html_characters_escaped_and_keys_sorted() {
        let v = json!({"z": "<a href=\"x\">&</a>\u{2028}", "a": [1, 2.0, "\n\u{1}"]});
        let text = String::from_utf8(to_vec(&v).expect("json")).expect("utf-8");
        assert_eq!(
            text,
            r#"{"a":[1,2,"\n\u0001"],"z":"\u003ca href=\"x\"\u003e\u0026\u003c/a\u003e\u2028"}"#
        );
    }
}
