//! Go's `time.Time` as `encoding/json` writes and reads it, for the timestamps of a release.
//!
//! Go writes RFC 3339 with nanoseconds, trailing zeros of the fraction dropped
//! (`2026-12-01T21:30:36.150727076Z`, `2026-12-01T21:30:36Z`). An unset time is Go's zero
//! time, `0001-01-01T00:00:00Z`: Helm 4 leaves it out where the field is `omitzero` and
//! writes it elsewhere (`schemamodtime`, a lock's `generated`); Helm 3 wrote it everywhere,
//! and Helm 4 also reads an empty string as unset. Here an unset time is `None`.
//!
//! Times are written in UTC: Helm writes the local time of the machine that ran it, which is
//! the same instant.

pub use jiff::Timestamp;
use serde::{Deserialize, Deserializer, Serializer};

/// What Go's `encoding/json` writes for the zero `time.Time`.
pub const GO_ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// `t` as Go's `time.Time.MarshalJSON` writes it in UTC (RFC 3339, nanoseconds, trailing
/// zeros dropped).
pub fn format_go_time(t: Timestamp) -> String {
    let dt = t.to_zoned(jiff::tz::TimeZone::UTC).datetime();
    let mut out = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        dt.year(),
        dt.month(),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second()
    );
    let nanos = dt.subsec_nanosecond();
    if nanos != 0 {
        let fraction = format!("{nanos:09}");
        out.push('.');
        out.push_str(fraction.trim_end_matches('0'));
    }
    out.push('Z');
    out
}

/// Reads a time as Go's `time.Time.UnmarshalJSON` (RFC 3339 with any offset); Go's zero time
/// and, as Helm 4 reads it, the empty string, are `None`.
///
/// # Errors
/// Text that is not RFC 3339.
pub fn parse_go_time(text: &str) -> Result<Option<Timestamp>, jiff::Error> {
    if text.is_empty() || text == GO_ZERO_TIME {
        return Ok(None);
    }
    let t: Timestamp = text.parse()?;
    // Go's zero instant written with another offset is still the zero time.
    if format_go_time(t) == GO_ZERO_TIME {
        return Ok(None);
    }
    Ok(Some(t))
}

/// Serde `with` for an `Option<Timestamp>` holding a Go `time.Time`: an unset time is written
/// as Go's zero time. For an `omitzero` field add `skip_serializing_if = "Option::is_none"`
/// and `default`.
///
/// # Errors
/// Only the serializer's.
pub fn serialize<S: Serializer>(t: &Option<Timestamp>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_str(&format_go_time(*t)),
        None => s.serialize_str(GO_ZERO_TIME),
    }
}

/// Serde `with` for an `Option<Timestamp>`: null, empty and Go's zero time are unset.
///
/// # Errors
/// A value that is not a string, or text that is not RFC 3339.
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Timestamp>, D::Error> {
    match Option::<String>::deserialize(d)? {
        None => Ok(None),
        Some(text) => parse_go_time(&text)
            .map_err(|e| serde::de::Error::custom(format!("time {text:?}: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_as_go_rfc3339_nano() {
        let t: Timestamp = "2026-12-01T21:30:36.150727076Z".parse().expect("time");
        assert_eq!(format_go_time(t), "2026-12-01T21:30:36.150727076Z");
        let t: Timestamp = "2026-12-01T21:31:51.2506112Z".parse().expect("time");
        assert_eq!(format_go_time(t), "2026-12-01T21:31:51.2506112Z");
        let t: Timestamp = "2026-12-01T22:30:36+01:00".parse().expect("time");
        assert_eq!(format_go_time(t), "2026-12-01T21:30:36Z");
    }

    #[test]
    fn zero_and_empty_are_unset() {
        assert_eq!(parse_go_time(GO_ZERO_TIME).expect("zero"), None);
        assert_eq!(parse_go_time("").expect("empty"), None);
        assert_eq!(
            parse_go_time("0001-01-01T01:00:00+01:00").expect("zero elsewhere"),
            None
        );
        assert!(parse_go_time("yesterday").is_err());
    }
}
