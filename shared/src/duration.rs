//! Go-style durations (`90s`, `1m30s`, `1.5h`, `500ms`), the format of every `interval` and
//! `timeout` field in Weir's and Flux's APIs.

use std::time::Duration;

/// Parses a Go duration string. Units: `ms`, `s`, `m`, `h`; fractions allowed; at least one
/// component; no sign.
///
/// # Errors
/// A message naming the input when it is not a duration.
pub fn parse(input: &str) -> Result<Duration, String> {
    let bad =
        || format!("invalid duration {input:?}: expected a sequence like 1h30m, 90s or 500ms");
    if input.is_empty() {
        return Err(bad());
    }
    let mut total = 0f64;
    let mut rest = input;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        if num_len == 0 {
            return Err(bad());
        }
        let value: f64 = rest[..num_len].parse().map_err(|_| bad())?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let seconds = match &rest[..unit_len] {
            "ms" => 0.001,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(bad()),
        };
        total += value * seconds;
        rest = &rest[unit_len..];
    }
    Duration::try_from_secs_f64(total).map_err(|_| bad())
}

/// Formats a duration the way Go prints short ones (`1m30s`, `45s`, `200ms`).
pub fn format(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let secs = d.as_secs();
    let (h, m, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 || h > 0 {
        out.push_str(&format!("{m}m"));
    }
    out.push_str(&format!("{s}s"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_durations() {
        for (input, secs) in [
            ("90s", 90.0),
            ("1m30s", 90.0),
            ("1.5h", 5400.0),
            ("500ms", 0.5),
            ("2h0m1s", 7201.0),
        ] {
            assert_eq!(parse(input), Ok(Duration::from_secs_f64(secs)), "{input}");
        }
    }

    #[test]
    fn rejects_non_durations() {
        for input in ["", "10", "1d", "-5s", "m", "1m30", "five"] {
            let err = parse(input).expect_err(input);
            assert!(err.contains(&format!("{input:?}")), "{err}");
        }
    }

    #[test]
    fn formats_like_go() {
        assert_eq!(format(Duration::from_secs(90)), "1m30s");
        assert_eq!(format(Duration::from_millis(250)), "250ms");
        assert_eq!(format(Duration::from_secs(3600)), "1h0m0s");
    }
}
