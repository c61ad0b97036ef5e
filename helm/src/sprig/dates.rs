//! Sprig's date functions over a Go `time.Time`, with Go's reference-time layouts
//! (`"2006-01-02T15:04:05Z07:00"`), `time.Duration` text and `time.ParseDuration`.
//!
//! Zones come from the system zone database (`/usr/share/zoneinfo`), as for Go; "Local" is
//! the system zone (`TZ`), UTC when none is set up.

use std::sync::{Arc, LazyLock};
use std::time::Instant;

use jiff::Timestamp;
use jiff::civil::{Date, DateTime, Weekday};
use jiff::tz::{Offset, TimeZone};

use super::{Registry, arg, err, int_arg, str_arg};
use crate::template::{CallContext, FuncError, Param, Signature};
use crate::value::{Object, Value};

use Param::{Any, Int, String as Str};

/// A Go `time.Time`: an instant, the zone it is shown in, and whether it carries the
/// monotonic clock reading `now` gives (printed as `m=+0.001`).
#[derive(Debug, Clone)]
pub struct GoTime {
    ts: Timestamp,
    offset: i32,
    abbr: String,
    zone: Option<TimeZone>,
    monotonic: Option<f64>,
}

/// A Go integer type with a `String` method: `time.Month` and `time.Weekday`. It prints as
/// its name and is data as its number (`toJson`, `toYaml`); `spf13/cast` reads it as the
/// number (`int $t.Weekday`, see [`GoEnum::number`]).
#[derive(Debug, Clone)]
pub struct GoEnum {
    type_name: &'static str,
    n: i64,
    name: &'static str,
}

impl GoEnum {
    fn value(type_name: &'static str, n: usize, name: &'static str) -> Value {
        let n = i64::try_from(n).unwrap_or(0);
        Value::Object(std::sync::Arc::new(GoEnum { type_name, n, name }))
    }

    /// The number of a `time.Month` or `time.Weekday` (the two types `spf13/cast`
    /// converts), `None` for any other value.
    pub fn number(v: &Value) -> Option<i64> {
        match v {
            Value::Object(o) if matches!(o.type_name().as_str(), "time.Month" | "time.Weekday") => {
                match o.to_data() {
                    Value::Int(n) => Some(n),
                    _ => None,
                }
            }
            _ => None,
        }
    }
}

impl Object for GoEnum {
    fn type_name(&self) -> String {
        self.type_name.into()
    }

    fn kind(&self) -> &'static str {
        "int"
    }

    fn method(&self, name: &str) -> Option<Signature> {
        (name == "String").then(|| Signature::new(&[]))
    }

    fn call_method(
        &self,
        _name: &str,
        _ctx: &mut CallContext<'_>,
        _args: &[Value],
    ) -> std::result::Result<Value, FuncError> {
        Ok(self.name.into())
    }

    fn to_data(&self) -> Value {
        Value::Int(self.n)
    }

    fn fmt_v(&self, _plus: bool) -> String {
        self.name.into()
    }

    fn truth(&self) -> bool {
        self.n != 0
    }
}

static START: LazyLock<Instant> = LazyLock::new(Instant::now);

fn local_zone() -> TimeZone {
    TimeZone::try_system().unwrap_or(TimeZone::UTC)
}

impl GoTime {
    /// The instant `ts` shown in `zone`.
    pub fn in_zone(ts: Timestamp, zone: &TimeZone) -> GoTime {
        let info = zone.to_offset_info(ts);
        let abbr = info.abbreviation().to_string();
        GoTime {
            ts,
            offset: info.offset().seconds(),
            abbr,
            zone: Some(zone.clone()),
            monotonic: None,
        }
    }

    /// The current time in the local zone, with a monotonic reading like Go's `time.Now`.
    pub fn now() -> GoTime {
        let start = *START;
        let mut t = GoTime::in_zone(Timestamp::now(), &local_zone());
        t.monotonic = Some(start.elapsed().as_secs_f64());
        t
    }

    /// Go's zero time, `0001-01-01 00:00:00 +0000 UTC`.
    pub fn zero() -> GoTime {
        let ts = DateTime::constant(1, 1, 1, 0, 0, 0, 0)
            .to_zoned(TimeZone::UTC)
            .map(|z| z.timestamp())
            .unwrap_or(Timestamp::UNIX_EPOCH);
        GoTime::in_zone(ts, &TimeZone::UTC)
    }

    fn civil(&self) -> DateTime {
        Offset::from_seconds(self.offset)
            .unwrap_or(Offset::UTC)
            .to_datetime(self.ts)
    }

    fn unix(&self) -> i64 {
        self.ts.as_second()
    }

    /// The time formatted with a Go layout.
    pub fn format(&self, layout: &str) -> String {
        format_layout(&self.civil(), self.offset, &self.abbr, layout)
    }

    fn zone_name_for_string(&self) -> String {
        if self.abbr.is_empty() {
            format_offset(self.offset, false, false, false)
        } else {
            self.abbr.clone()
        }
    }
}

impl Object for GoTime {
    fn type_name(&self) -> String {
        "time.Time".into()
    }

    fn kind(&self) -> &'static str {
        "struct"
    }

    fn method(&self, name: &str) -> Option<Signature> {
        match name {
            "Format" => Some(Signature::new(&[Str])),
            "AddDate" => Some(Signature::new(&[Int, Int, Int])),
            "Before" | "After" | "Equal" => Some(Signature::new(&[Any])),
            "Unix" | "UnixNano" | "UnixMilli" | "UTC" | "Local" | "Year" | "Month" | "Day"
            | "Hour" | "Minute" | "Second" | "Nanosecond" | "YearDay" | "Weekday" | "IsZero"
            | "String" => Some(Signature::new(&[])),
            _ => None,
        }
    }

    fn call_method(
        &self,
        name: &str,
        _ctx: &mut CallContext<'_>,
        args: &[Value],
    ) -> std::result::Result<Value, FuncError> {
        let c = self.civil();
        Ok(match name {
            "Format" => self.format(str_arg(args, 0)).into(),
            "Unix" => Value::Int64(self.unix()),
            "UnixNano" => Value::Int64(i64::try_from(self.ts.as_nanosecond()).unwrap_or(i64::MIN)),
            "UnixMilli" => Value::Int64(self.ts.as_millisecond()),
            "UTC" => time_value(GoTime::in_zone(self.ts, &TimeZone::UTC)),
            "Local" => time_value(GoTime::in_zone(self.ts, &local_zone())),
            "Year" => Value::Int(i64::from(c.year())),
            "Month" => {
                let m = usize::try_from(c.month() - 1).unwrap_or(0);
                GoEnum::value("time.Month", m + 1, MONTHS[m])
            }
            "Day" => Value::Int(i64::from(c.day())),
            "Hour" => Value::Int(i64::from(c.hour())),
            "Minute" => Value::Int(i64::from(c.minute())),
            "Second" => Value::Int(i64::from(c.second())),
            "Nanosecond" => Value::Int(i64::from(c.subsec_nanosecond())),
            "YearDay" => Value::Int(i64::from(c.day_of_year())),
            "Weekday" => {
                let d = weekday_index(c.weekday());
                GoEnum::value("time.Weekday", d, DAYS[d])
            }
            "IsZero" => (self.ts == GoTime::zero().ts).into(),
            "String" => self.fmt_v(false).into(),
            "AddDate" => {
                let (y, m, d) = (int_arg(args, 0), int_arg(args, 1), int_arg(args, 2));
                time_value(add_date(self, y, m, d)?)
            }
            _ => {
                let other = time_of(arg(args, 0))?;
                match name {
                    "Before" => (self.ts < other.ts).into(),
                    "After" => (self.ts > other.ts).into(),
                    _ => (self.ts == other.ts).into(),
                }
            }
        })
    }

    fn to_data(&self) -> Value {
        // encoding/json writes RFC 3339 with nanoseconds.
        self.format("2006-01-02T15:04:05.999999999Z07:00").into()
    }

    fn fmt_v(&self, _plus: bool) -> String {
        let mut s = format!(
            "{} {}",
            self.format("2006-01-02 15:04:05.999999999 -0700"),
            self.zone_name_for_string()
        );
        if let Some(m) = self.monotonic {
            s.push_str(&format!(" m=+{m:.9}"));
        }
        s
    }
}

fn time_value(t: GoTime) -> Value {
    Value::Object(Arc::new(t))
}

/// The `time.Time` behind a value, read back from its RFC 3339 data.
fn time_of(v: &Value) -> std::result::Result<GoTime, FuncError> {
    match v {
        Value::Object(o) if o.type_name() == "time.Time" => {
            let text = o.to_data();
            let text = text.as_str().unwrap_or("");
            parse_layout("2006-01-02T15:04:05.999999999Z07:00", text, &TimeZone::UTC)
                .map_err(FuncError::new)
        }
        other => Err(FuncError::new(format!(
            "wrong type for value; expected time.Time; got {}",
            other.type_name()
        ))),
    }
}

/// What `date`, `dateInZone` and `ago` accept as a date: a `time.Time`, or Unix seconds as
/// `int`/`int64`; anything else means now.
fn date_arg(v: &Value) -> GoTime {
    match v {
        Value::Object(o) if o.type_name() == "time.Time" => {
            time_of(v).unwrap_or_else(|_| GoTime::now())
        }
        Value::Int(s) | Value::Int64(s) => GoTime::in_zone(
            Timestamp::from_second(*s).unwrap_or(Timestamp::UNIX_EPOCH),
            &local_zone(),
        ),
        _ => GoTime::now(),
    }
}

fn zone(name: &str) -> TimeZone {
    match name {
        "" | "UTC" => TimeZone::UTC,
        "Local" => local_zone(),
        other => TimeZone::get(other).unwrap_or(TimeZone::UTC),
    }
}

fn date_in_zone(layout: &str, date: &Value, zone_name: &str) -> String {
    let t = date_arg(date);
    GoTime::in_zone(t.ts, &zone(zone_name)).format(layout)
}

pub(super) fn register(m: &mut Registry) {
    m.fixed("now", &[], |_| Ok(time_value(GoTime::now())));
    m.fixed("date", &[Str, Any], |a| {
        Ok(date_in_zone(str_arg(a, 0), arg(a, 1), "Local").into())
    });
    for name in ["dateInZone", "date_in_zone"] {
        m.fixed(name, &[Str, Any, Str], |a| {
            Ok(date_in_zone(str_arg(a, 0), arg(a, 1), str_arg(a, 2)).into())
        });
    }
    m.fixed("htmlDate", &[Any], |a| {
        Ok(date_in_zone("2006-01-02", arg(a, 0), "Local").into())
    });
    m.fixed("htmlDateInZone", &[Any, Str], |a| {
        Ok(date_in_zone("2006-01-02", arg(a, 0), str_arg(a, 1)).into())
    });
    m.fixed("unixEpoch", &[Any], |a| {
        Ok(time_of(arg(a, 0))?.unix().to_string().into())
    });
    for (name, must) in [
        ("dateModify", false),
        ("date_modify", false),
        ("mustDateModify", true),
        ("must_date_modify", true),
    ] {
        m.fixed(name, &[Str, Any], move |a| {
            let t = time_of(arg(a, 1))?;
            match parse_duration(str_arg(a, 0)) {
                Ok(d) => {
                    let ts = Timestamp::from_nanosecond(t.ts.as_nanosecond() + i128::from(d))
                        .unwrap_or(t.ts);
                    let z = t.zone.clone().unwrap_or(TimeZone::fixed(
                        Offset::from_seconds(t.offset).unwrap_or(Offset::UTC),
                    ));
                    Ok(time_value(GoTime::in_zone(ts, &z)))
                }
                Err(e) if must => err(e),
                Err(_) => Ok(time_value(t)),
            }
        });
    }
    for (name, must) in [("toDate", false), ("mustToDate", true)] {
        m.fixed(name, &[Str, Str], move |a| {
            match parse_layout(str_arg(a, 0), str_arg(a, 1), &local_zone()) {
                Ok(t) => Ok(time_value(t)),
                Err(e) if must => err(e),
                Err(_) => Ok(time_value(GoTime::zero())),
            }
        });
    }
    m.fixed("ago", &[Any], |a| {
        let t = date_arg(arg(a, 0));
        let since = Timestamp::now().as_nanosecond() - t.ts.as_nanosecond();
        let since = i64::try_from(since).unwrap_or(i64::MAX);
        Ok(format_duration(round_duration(since, 1_000_000_000)).into())
    });
    m.fixed("duration", &[Any], |a| {
        let secs = match arg(a, 0) {
            Value::String(s) => s.parse::<i64>().unwrap_or(0),
            Value::Int64(n) => *n,
            _ => 0,
        };
        Ok(format_duration(secs.wrapping_mul(1_000_000_000)).into())
    });
    m.fixed("durationRound", &[Any], |a| {
        let d: i64 = match arg(a, 0) {
            Value::String(s) => parse_duration(s).unwrap_or(0),
            Value::Int64(n) => *n,
            v @ Value::Object(_) => match time_of(v) {
                Ok(t) => i64::try_from(Timestamp::now().as_nanosecond() - t.ts.as_nanosecond())
                    .unwrap_or(i64::MAX),
                Err(_) => 0,
            },
            _ => 0,
        };
        Ok(duration_round(d).into())
    });
}

fn add_date(
    t: &GoTime,
    years: i64,
    months: i64,
    days: i64,
) -> std::result::Result<GoTime, FuncError> {
    let c = t.civil();
    // Go normalises month and day overflow (Oct 31 + 1 month = Dec 1).
    let total_months = i64::from(c.year()) * 12 + i64::from(c.month() - 1) + years * 12 + months;
    let year = total_months.div_euclid(12);
    let month = total_months.rem_euclid(12) + 1;
    let first = Date::new(
        i16::try_from(year).map_err(|_| FuncError::new("year out of range"))?,
        i8::try_from(month).unwrap_or(1),
        1,
    )
    .map_err(|e| FuncError::new(e.to_string()))?;
    let date = first
        .checked_add(jiff::Span::new().days(i64::from(c.day()) - 1 + days))
        .map_err(|e| FuncError::new(e.to_string()))?;
    let dt = date.to_datetime(c.time());
    let z = t.zone.clone().unwrap_or(TimeZone::fixed(
        Offset::from_seconds(t.offset).unwrap_or(Offset::UTC),
    ));
    let ts = z
        .to_timestamp(dt)
        .map_err(|e| FuncError::new(e.to_string()))?;
    Ok(GoTime::in_zone(ts, &z))
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

fn weekday_index(w: Weekday) -> usize {
    usize::try_from(w.to_sunday_zero_offset()).unwrap_or(0)
}

/// One piece of a Go layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    LongMonth,
    Month,
    NumMonth,
    ZeroMonth,
    LongWeekDay,
    WeekDay,
    Day,
    UnderDay,
    ZeroDay,
    UnderYearDay,
    ZeroYearDay,
    Hour,
    Hour12,
    ZeroHour12,
    Minute,
    ZeroMinute,
    Second,
    ZeroSecond,
    LongYear,
    Year,
    PM,
    Pm,
    TZ,
    /// Numeric zone: (with Z for UTC, colons, seconds, hours only).
    Offset(bool, bool, bool, bool),
    /// Fractional seconds: digits, trailing zeros trimmed (`.999`).
    Frac(usize, bool),
}

/// Splits a layout into literal text and chunks, as Go's `nextStdChunk`.
fn chunks(layout: &str) -> Vec<Result2<'_>> {
    let b = layout.as_bytes();
    let mut out = Vec::new();
    let mut lit = 0;
    let mut i = 0;
    let starts = |i: usize, s: &str| layout[i..].starts_with(s);
    while i < b.len() {
        let found: Option<(Chunk, usize)> = match b[i] {
            b'J' if starts(i, "January") => Some((Chunk::LongMonth, 7)),
            b'J' if starts(i, "Jan") => Some((Chunk::Month, 3)),
            b'M' if starts(i, "Monday") => Some((Chunk::LongWeekDay, 6)),
            b'M' if starts(i, "Mon") => Some((Chunk::WeekDay, 3)),
            b'M' if starts(i, "MST") => Some((Chunk::TZ, 3)),
            b'0' if starts(i, "002") => Some((Chunk::ZeroYearDay, 3)),
            b'0' => match b.get(i + 1) {
                Some(b'1') => Some((Chunk::ZeroMonth, 2)),
                Some(b'2') => Some((Chunk::ZeroDay, 2)),
                Some(b'3') => Some((Chunk::ZeroHour12, 2)),
                Some(b'4') => Some((Chunk::ZeroMinute, 2)),
                Some(b'5') => Some((Chunk::ZeroSecond, 2)),
                Some(b'6') => Some((Chunk::Year, 2)),
                _ => None,
            },
            b'1' if starts(i, "15") => Some((Chunk::Hour, 2)),
            b'1' => Some((Chunk::NumMonth, 1)),
            b'2' if starts(i, "2006") => Some((Chunk::LongYear, 4)),
            b'2' => Some((Chunk::Day, 1)),
            b'_' if starts(i, "_2006") => None,
            b'_' if starts(i, "__2") => Some((Chunk::UnderYearDay, 3)),
            b'_' if starts(i, "_2") => Some((Chunk::UnderDay, 2)),
            b'3' => Some((Chunk::Hour12, 1)),
            b'4' => Some((Chunk::Minute, 1)),
            b'5' => Some((Chunk::Second, 1)),
            b'P' if starts(i, "PM") => Some((Chunk::PM, 2)),
            b'p' if starts(i, "pm") => Some((Chunk::Pm, 2)),
            c @ (b'-' | b'Z') => {
                let z = c == b'Z';
                if starts(i + 1, "07:00:00") {
                    Some((Chunk::Offset(z, true, true, false), 9))
                } else if starts(i + 1, "070000") {
                    Some((Chunk::Offset(z, false, true, false), 7))
                } else if starts(i + 1, "07:00") {
                    Some((Chunk::Offset(z, true, false, false), 6))
                } else if starts(i + 1, "0700") {
                    Some((Chunk::Offset(z, false, false, false), 5))
                } else if starts(i + 1, "07") {
                    Some((Chunk::Offset(z, false, false, true), 3))
                } else {
                    None
                }
            }
            b'.' | b',' if matches!(b.get(i + 1), Some(b'0' | b'9')) => {
                let ch = b[i + 1];
                let mut j = i + 1;
                while j < b.len() && b[j] == ch {
                    j += 1;
                }
                if j < b.len() && b[j].is_ascii_digit() {
                    None
                } else {
                    Some((Chunk::Frac(j - i - 1, ch == b'9'), j - i))
                }
            }
            _ => None,
        };
        if let Some((chunk, len)) = found {
            if lit < i {
                out.push(Result2::Lit(&layout[lit..i]));
            }
            out.push(Result2::Chunk(chunk, b.get(i).copied().unwrap_or(b'.')));
            i += len;
            lit = i;
        } else {
            i += 1;
        }
    }
    if lit < b.len() {
        out.push(Result2::Lit(&layout[lit..]));
    }
    out
}

/// A layout piece: literal text or a chunk (with its first layout byte, `.` or `,` for
/// fractions).
#[derive(Debug)]
enum Result2<'a> {
    Lit(&'a str),
    Chunk(Chunk, u8),
}

fn format_offset(offset: i32, colons: bool, seconds: bool, hours_only: bool) -> String {
    let sign = if offset < 0 { '-' } else { '+' };
    let abs = offset.unsigned_abs();
    let (h, m, s) = (abs / 3600, abs / 60 % 60, abs % 60);
    let mut out = format!("{sign}{h:02}");
    if hours_only {
        return out;
    }
    if colons {
        out.push(':');
    }
    out.push_str(&format!("{m:02}"));
    if seconds {
        if colons {
            out.push(':');
        }
        out.push_str(&format!("{s:02}"));
    }
    out
}

/// Go's `Time.Format` for a civil time with its zone offset and abbreviation.
pub fn format_layout(c: &DateTime, offset: i32, abbr: &str, layout: &str) -> String {
    let mut out = String::new();
    let hour12 = |h: i8| if h % 12 == 0 { 12 } else { h % 12 };
    for piece in chunks(layout) {
        let chunk = match piece {
            Result2::Lit(s) => {
                out.push_str(s);
                continue;
            }
            Result2::Chunk(chunk, first) => (chunk, first),
        };
        let (chunk, first) = chunk;
        let month = usize::try_from(c.month() - 1).unwrap_or(0);
        match chunk {
            Chunk::LongMonth => out.push_str(MONTHS[month]),
            Chunk::Month => out.push_str(&MONTHS[month][..3]),
            Chunk::NumMonth => out.push_str(&c.month().to_string()),
            Chunk::ZeroMonth => out.push_str(&format!("{:02}", c.month())),
            Chunk::LongWeekDay => out.push_str(DAYS[weekday_index(c.weekday())]),
            Chunk::WeekDay => out.push_str(&DAYS[weekday_index(c.weekday())][..3]),
            Chunk::Day => out.push_str(&c.day().to_string()),
            Chunk::UnderDay => out.push_str(&format!("{:>2}", c.day())),
            Chunk::ZeroDay => out.push_str(&format!("{:02}", c.day())),
            Chunk::UnderYearDay => out.push_str(&format!("{:>3}", c.day_of_year())),
            Chunk::ZeroYearDay => out.push_str(&format!("{:03}", c.day_of_year())),
            Chunk::Hour => out.push_str(&format!("{:02}", c.hour())),
            Chunk::Hour12 => out.push_str(&hour12(c.hour()).to_string()),
            Chunk::ZeroHour12 => out.push_str(&format!("{:02}", hour12(c.hour()))),
            Chunk::Minute => out.push_str(&c.minute().to_string()),
            Chunk::ZeroMinute => out.push_str(&format!("{:02}", c.minute())),
            Chunk::Second => out.push_str(&c.second().to_string()),
            Chunk::ZeroSecond => out.push_str(&format!("{:02}", c.second())),
            Chunk::LongYear => {
                let y = c.year();
                if y < 0 {
                    out.push_str(&format!("-{:04}", -i32::from(y)));
                } else {
                    out.push_str(&format!("{y:04}"));
                }
            }
            Chunk::Year => out.push_str(&format!("{:02}", i32::from(c.year()).rem_euclid(100))),
            Chunk::PM => out.push_str(if c.hour() >= 12 { "PM" } else { "AM" }),
            Chunk::Pm => out.push_str(if c.hour() >= 12 { "pm" } else { "am" }),
            Chunk::TZ => {
                if abbr.is_empty() {
                    out.push_str(&format_offset(offset, false, false, false));
                } else {
                    out.push_str(abbr);
                }
            }
            Chunk::Offset(z, colons, seconds, hours_only) => {
                if z && offset == 0 {
                    out.push('Z');
                } else {
                    out.push_str(&format_offset(offset, colons, seconds, hours_only));
                }
            }
            Chunk::Frac(digits, trim) => {
                let nanos = format!("{:09}", c.subsec_nanosecond());
                let mut frac = nanos[..digits.min(9)].to_string();
                while frac.len() < digits {
                    frac.push('0');
                }
                if trim {
                    let trimmed = frac.trim_end_matches('0');
                    if !trimmed.is_empty() {
                        out.push(char::from(first));
                        out.push_str(trimmed);
                    }
                } else {
                    out.push(char::from(first));
                    out.push_str(&frac);
                }
            }
        }
    }
    out
}

/// Go's `time.ParseInLocation(layout, value, loc)`.
///
/// # Errors
///
/// Go's `parsing time "VALUE" as "LAYOUT": cannot parse "REST" as "ELEM"`.
pub fn parse_layout(
    layout: &str,
    value: &str,
    loc: &TimeZone,
) -> std::result::Result<GoTime, String> {
    let fail = |rest: &str, elem: &str| {
        format!("parsing time \"{value}\" as \"{layout}\": cannot parse \"{rest}\" as \"{elem}\"")
    };
    let (mut year, mut month, mut day, mut hour, mut min, mut sec, mut nanos) =
        (1i64, 1i64, 1i64, 0i64, 0i64, 0i64, 0i64);
    let mut pm: Option<bool> = None;
    let mut offset: Option<i32> = None;
    let mut abbr: Option<String> = None;
    let mut rest = value;
    let number = |rest: &mut &str, min_digits: usize, max_digits: usize| -> Option<i64> {
        let digits = rest
            .bytes()
            .take(max_digits)
            .take_while(u8::is_ascii_digit)
            .count();
        if digits < min_digits {
            return None;
        }
        let n = rest[..digits].parse().ok()?;
        *rest = &rest[digits..];
        Some(n)
    };
    for piece in chunks(layout) {
        let (chunk, _) = match piece {
            Result2::Lit(lit) => {
                let trimmed_lit = lit.trim_start_matches(' ');
                let skipped_rest = if lit.len() != trimmed_lit.len() {
                    rest.trim_start_matches(' ')
                } else {
                    rest
                };
                match skipped_rest.strip_prefix(trimmed_lit) {
                    Some(r) => rest = r,
                    None => return Err(fail(rest, lit)),
                }
                continue;
            }
            Result2::Chunk(c, f) => (c, f),
        };
        let before = rest;
        let elem = chunk_layout_text(chunk);
        let ok = match chunk {
            Chunk::LongYear => {
                if rest.len() >= 4 && rest.as_bytes()[..4].iter().all(u8::is_ascii_digit) {
                    year = rest[..4].parse().unwrap_or(0);
                    rest = &rest[4..];
                    true
                } else {
                    false
                }
            }
            Chunk::Year => number(&mut rest, 2, 2)
                .map(|y| year = if y >= 69 { 1900 + y } else { 2000 + y })
                .is_some(),
            Chunk::ZeroMonth | Chunk::NumMonth => {
                let n = if chunk == Chunk::ZeroMonth {
                    number(&mut rest, 2, 2)
                } else {
                    number(&mut rest, 1, 2)
                };
                n.filter(|m| (1..=12).contains(m))
                    .map(|m| month = m)
                    .is_some()
            }
            Chunk::LongMonth | Chunk::Month => {
                let found = MONTHS.iter().position(|name| {
                    let name = if chunk == Chunk::Month {
                        &name[..3]
                    } else {
                        name
                    };
                    rest.len() >= name.len() && rest[..name.len()].eq_ignore_ascii_case(name)
                });
                match found {
                    Some(i) => {
                        let len = if chunk == Chunk::Month {
                            3
                        } else {
                            MONTHS[i].len()
                        };
                        rest = &rest[len..];
                        month = i64::try_from(i).unwrap_or(0) + 1;
                        true
                    }
                    None => false,
                }
            }
            Chunk::LongWeekDay | Chunk::WeekDay => {
                let found = DAYS.iter().find(|name| {
                    let name = if chunk == Chunk::WeekDay {
                        &name[..3]
                    } else {
                        name
                    };
                    rest.len() >= name.len() && rest[..name.len()].eq_ignore_ascii_case(name)
                });
                match found {
                    Some(name) => {
                        rest = &rest[if chunk == Chunk::WeekDay {
                            3
                        } else {
                            name.len()
                        }..];
                        true
                    }
                    None => false,
                }
            }
            Chunk::ZeroDay | Chunk::Day | Chunk::UnderDay => {
                if chunk == Chunk::UnderDay {
                    rest = rest.strip_prefix(' ').unwrap_or(rest);
                }
                let n = if chunk == Chunk::ZeroDay {
                    number(&mut rest, 2, 2)
                } else {
                    number(&mut rest, 1, 2)
                };
                n.map(|d| day = d).is_some()
            }
            Chunk::ZeroYearDay | Chunk::UnderYearDay => number(&mut rest, 1, 3).is_some(),
            Chunk::Hour => number(&mut rest, 2, 2)
                .filter(|h| *h < 24)
                .map(|h| hour = h)
                .is_some(),
            Chunk::Hour12 | Chunk::ZeroHour12 => {
                let n = if chunk == Chunk::ZeroHour12 {
                    number(&mut rest, 2, 2)
                } else {
                    number(&mut rest, 1, 2)
                };
                n.filter(|h| *h <= 12).map(|h| hour = h).is_some()
            }
            Chunk::Minute | Chunk::ZeroMinute => {
                let n = if chunk == Chunk::ZeroMinute {
                    number(&mut rest, 2, 2)
                } else {
                    number(&mut rest, 1, 2)
                };
                n.filter(|m| *m < 60).map(|m| min = m).is_some()
            }
            Chunk::Second | Chunk::ZeroSecond => {
                let n = if chunk == Chunk::ZeroSecond {
                    number(&mut rest, 2, 2)
                } else {
                    number(&mut rest, 1, 2)
                };
                let ok = n.filter(|s| *s < 60).map(|s| sec = s).is_some();
                // Go accepts a fraction after the seconds even when the layout has none.
                if ok
                    && rest.starts_with(['.', ','])
                    && rest[1..].starts_with(|c: char| c.is_ascii_digit())
                    && !layout_has_frac(layout)
                {
                    let digits = rest[1..].bytes().take_while(u8::is_ascii_digit).count();
                    nanos = frac_nanos(&rest[1..=digits]);
                    rest = &rest[1 + digits..];
                }
                ok
            }
            Chunk::PM | Chunk::Pm => {
                let head = rest.get(..2).unwrap_or("");
                match head.to_ascii_uppercase().as_str() {
                    "PM" => {
                        pm = Some(true);
                        rest = &rest[2..];
                        true
                    }
                    "AM" => {
                        pm = Some(false);
                        rest = &rest[2..];
                        true
                    }
                    _ => false,
                }
            }
            Chunk::TZ => {
                if let Some(r) = rest.strip_prefix("UTC") {
                    rest = r;
                    offset = Some(0);
                    abbr = Some("UTC".into());
                    true
                } else {
                    let letters = rest.bytes().take_while(u8::is_ascii_uppercase).count();
                    if letters >= 3 {
                        abbr = Some(rest[..letters].to_string());
                        rest = &rest[letters..];
                        true
                    } else {
                        false
                    }
                }
            }
            Chunk::Offset(z, colons, seconds, hours_only) => {
                if z && rest.starts_with('Z') {
                    rest = &rest[1..];
                    offset = Some(0);
                    true
                } else {
                    match parse_offset(rest, colons, seconds, hours_only) {
                        Some((o, len)) => {
                            offset = Some(o);
                            rest = &rest[len..];
                            true
                        }
                        None => false,
                    }
                }
            }
            Chunk::Frac(digits, trim) => {
                if let Some(r) = rest.strip_prefix(['.', ',']) {
                    let n = r.bytes().take_while(u8::is_ascii_digit).count();
                    if (trim && n > 0) || (!trim && n == digits) {
                        nanos = frac_nanos(&r[..n]);
                        rest = &r[n..];
                        true
                    } else {
                        false
                    }
                } else {
                    trim
                }
            }
        };
        if !ok {
            return Err(fail(before, elem));
        }
    }
    if !rest.is_empty() {
        return Err(format!("parsing time \"{value}\": extra text: \"{rest}\""));
    }
    if let Some(pm) = pm {
        if pm && hour < 12 {
            hour += 12;
        } else if !pm && hour == 12 {
            hour = 0;
        }
    }
    let date = Date::new(
        i16::try_from(year).map_err(|_| fail(value, "2006"))?,
        i8::try_from(month).unwrap_or(1),
        i8::try_from(day).unwrap_or(1),
    )
    .map_err(|_| format!("parsing time \"{value}\": day out of range"))?;
    let dt = date.at(
        i8::try_from(hour).unwrap_or(0),
        i8::try_from(min).unwrap_or(0),
        i8::try_from(sec).unwrap_or(0),
        i32::try_from(nanos).unwrap_or(0),
    );
    let zone = match offset {
        Some(o) => {
            let fixed = TimeZone::fixed(Offset::from_seconds(o).map_err(|e| e.to_string())?);
            // An offset equal to the location's keeps the location.
            let ts = fixed.to_timestamp(dt).map_err(|e| e.to_string())?;
            if loc.to_offset_info(ts).offset().seconds() == o {
                return Ok(GoTime::in_zone(ts, loc));
            }
            return Ok(GoTime::in_zone(ts, &fixed));
        }
        None => match abbr {
            Some(a) if a == "UTC" => TimeZone::UTC,
            Some(a) => {
                let ts = loc.to_timestamp(dt).map_err(|e| e.to_string())?;
                if loc.to_offset_info(ts).abbreviation() == a {
                    loc.clone()
                } else {
                    // An unknown abbreviation: a zero offset under that name.
                    let ts = TimeZone::UTC.to_timestamp(dt).map_err(|e| e.to_string())?;
                    let mut t = GoTime::in_zone(ts, &TimeZone::UTC);
                    t.abbr = a;
                    t.zone = None;
                    return Ok(t);
                }
            }
            None => loc.clone(),
        },
    };
    let ts = zone.to_timestamp(dt).map_err(|e| e.to_string())?;
    Ok(GoTime::in_zone(ts, &zone))
}

fn layout_has_frac(layout: &str) -> bool {
    chunks(layout)
        .iter()
        .any(|p| matches!(p, Result2::Chunk(Chunk::Frac(..), _)))
}

fn frac_nanos(digits: &str) -> i64 {
    let mut d: String = digits.chars().take(9).collect();
    while d.len() < 9 {
        d.push('0');
    }
    d.parse().unwrap_or(0)
}

fn parse_offset(s: &str, colons: bool, seconds: bool, hours_only: bool) -> Option<(i32, usize)> {
    let sign = match s.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let digits = |from: usize| -> Option<i32> {
        let part = s.get(from..from + 2)?;
        if part.bytes().all(|b| b.is_ascii_digit()) {
            part.parse().ok()
        } else {
            None
        }
    };
    let h = digits(1)?;
    if hours_only {
        return Some((sign * h * 3600, 3));
    }
    let (m, mut len) = if colons {
        if s.as_bytes().get(3) != Some(&b':') {
            return None;
        }
        (digits(4)?, 6)
    } else {
        (digits(3)?, 5)
    };
    let mut secs = 0;
    if seconds {
        let at = if colons {
            if s.as_bytes().get(6) != Some(&b':') {
                return None;
            }
            7
        } else {
            5
        };
        secs = digits(at)?;
        len = at + 2;
    }
    Some((sign * (h * 3600 + m * 60 + secs), len))
}

fn chunk_layout_text(c: Chunk) -> &'static str {
    match c {
        Chunk::LongMonth => "January",
        Chunk::Month => "Jan",
        Chunk::NumMonth => "1",
        Chunk::ZeroMonth => "01",
        Chunk::LongWeekDay => "Monday",
        Chunk::WeekDay => "Mon",
        Chunk::Day => "2",
        Chunk::UnderDay => "_2",
        Chunk::ZeroDay => "02",
        Chunk::UnderYearDay => "__2",
        Chunk::ZeroYearDay => "002",
        Chunk::Hour => "15",
        Chunk::Hour12 => "3",
        Chunk::ZeroHour12 => "03",
        Chunk::Minute => "4",
        Chunk::ZeroMinute => "04",
        Chunk::Second => "5",
        Chunk::ZeroSecond => "05",
        Chunk::LongYear => "2006",
        Chunk::Year => "06",
        Chunk::PM => "PM",
        Chunk::Pm => "pm",
        Chunk::TZ => "MST",
        Chunk::Offset(true, true, true, _) => "Z07:00:00",
        Chunk::Offset(true, false, true, _) => "Z070000",
        Chunk::Offset(true, true, false, _) => "Z07:00",
        Chunk::Offset(true, false, false, true) => "Z07",
        Chunk::Offset(true, false, false, false) => "Z0700",
        Chunk::Offset(false, true, true, _) => "-07:00:00",
        Chunk::Offset(false, false, true, _) => "-070000",
        Chunk::Offset(false, true, false, _) => "-07:00",
        Chunk::Offset(false, false, false, true) => "-07",
        Chunk::Offset(false, false, false, false) => "-0700",
        Chunk::Frac(..) => ".000",
    }
}

/// Go's `time.Duration.String()`: `1h2m3.5s`, `1.5ms`, `0s`.
pub fn format_duration(d: i64) -> String {
    if d == 0 {
        return "0s".into();
    }
    let neg = d < 0;
    let u = d.unsigned_abs();
    let mut out = String::new();
    if u < 1_000_000_000 {
        // Sub-second: one unit with a fraction.
        let (unit, scale) = if u < 1_000 {
            ("ns", 1)
        } else if u < 1_000_000 {
            ("\u{b5}s", 1_000)
        } else {
            ("ms", 1_000_000)
        };
        out.push_str(&frac_text(u, scale));
        out.push_str(unit);
    } else {
        let secs = u / 1_000_000_000;
        let nanos = u % 1_000_000_000;
        let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
        if h > 0 {
            out.push_str(&format!("{h}h"));
        }
        if h > 0 || m > 0 {
            out.push_str(&format!("{m}m"));
        }
        out.push_str(&frac_text(s * 1_000_000_000 + nanos, 1_000_000_000));
        out.push('s');
    }
    if neg {
        out.insert(0, '-');
    }
    out
}

fn frac_text(v: u64, scale: u64) -> String {
    let int = v / scale;
    let frac = v % scale;
    if frac == 0 {
        return int.to_string();
    }
    let width = scale.to_string().len() - 1;
    let digits = format!("{frac:0width$}");
    format!("{int}.{}", digits.trim_end_matches('0'))
}

/// Go's `Duration.Round(m)`: half away from zero.
fn round_duration(d: i64, m: i64) -> i64 {
    let r = d % m;
    if d < 0 {
        let r = -r;
        if r + r < m {
            d + r
        } else {
            d.saturating_sub(m - r)
        }
    } else if r + r < m {
        d - r
    } else {
        d.saturating_add(m - r)
    }
}

/// Sprig's `durationRound`: the largest whole unit (`y`, `mo`, `d`, `h`, `m`, `s`).
fn duration_round(d: i64) -> String {
    let u = d.unsigned_abs();
    const S: u64 = 1_000_000_000;
    let units = [
        (S * 3600 * 24 * 365, "y"),
        (S * 3600 * 24 * 30, "mo"),
        (S * 3600 * 24, "d"),
        (S * 3600, "h"),
        (S * 60, "m"),
        (S, "s"),
    ];
    for (size, name) in units {
        if u > size {
            return format!("{}{name}", u / size);
        }
    }
    "0s".into()
}

/// Go's `time.ParseDuration`: `300ms`, `-1.5h`, `2h45m`.
///
/// # Errors
///
/// `time: invalid duration "TEXT"` (and Go's other messages).
pub fn parse_duration(text: &str) -> std::result::Result<i64, String> {
    let invalid = || format!("time: invalid duration \"{text}\"");
    let mut s = text;
    let mut neg = false;
    if let Some(r) = s.strip_prefix('-') {
        neg = true;
        s = r;
    } else if let Some(r) = s.strip_prefix('+') {
        s = r;
    }
    if s == "0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err(invalid());
    }
    let mut total: u128 = 0;
    while !s.is_empty() {
        let int_len = s.bytes().take_while(u8::is_ascii_digit).count();
        let int_part = &s[..int_len];
        s = &s[int_len..];
        let mut frac_part = "";
        if let Some(r) = s.strip_prefix('.') {
            let n = r.bytes().take_while(u8::is_ascii_digit).count();
            frac_part = &r[..n];
            s = &r[n..];
        }
        if int_part.is_empty() && frac_part.is_empty() {
            return Err(invalid());
        }
        let unit_len = s
            .char_indices()
            .find(|(_, c)| *c == '.' || c.is_ascii_digit())
            .map_or(s.len(), |(i, _)| i);
        let unit = &s[..unit_len];
        s = &s[unit_len..];
        let scale: u128 = match unit {
            "ns" => 1,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            "" => return Err(format!("time: missing unit in duration \"{text}\"")),
            other => {
                return Err(format!(
                    "time: unknown unit \"{other}\" in duration \"{text}\""
                ));
            }
        };
        let int: u128 = if int_part.is_empty() {
            0
        } else {
            int_part.parse().map_err(|_| invalid())?
        };
        let mut value = int.checked_mul(scale).ok_or_else(invalid)?;
        if !frac_part.is_empty() {
            let digits: String = frac_part.chars().take(30).collect();
            let frac: u128 = digits.parse().map_err(|_| invalid())?;
            let denom = 10u128.pow(u32::try_from(digits.len()).unwrap_or(0));
            value += frac * scale / denom;
        }
        total = total.checked_add(value).ok_or_else(invalid)?;
        if total > 1u128 << 63 {
            return Err(invalid());
        }
    }
    let total = i128::try_from(total).map_err(|_| invalid())?;
    let signed = if neg { -total } else { total };
    i64::try_from(signed).map_err(|_| invalid())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(layout: &str) -> String {
        // 2009-11-10 23:04:05.012345 UTC, shown at -05:00 named EST.
        let dt = DateTime::constant(2009, 11, 10, 18, 4, 5, 12_345_000);
        format_layout(&dt, -5 * 3600, "EST", layout)
    }

    #[test]
    fn layouts_format_like_go() {
        assert_eq!(at("2006-01-02"), "2009-11-10");
        assert_eq!(
            at("Mon Jan _2 15:04:05 MST 2006"),
            "Tue Nov 10 18:04:05 EST 2009"
        );
        assert_eq!(at("2006-01-02T15:04:05Z07:00"), "2009-11-10T18:04:05-05:00");
        assert_eq!(
            at("3:04PM .000 .999 ,9 .999999999"),
            "6:04PM .012 .012  .012345"
        );
        assert_eq!(
            at("January 2, 06 -0700 -07 002 __2"),
            "November 10, 09 -0500 -05 314 314"
        );
        assert_eq!(at("_2006"), "_2009");
    }

    #[test]
    fn layouts_parse_like_go() {
        let t = parse_layout("2006-01-02", "2024-02-29", &TimeZone::UTC).expect("parse");
        assert_eq!(
            t.format("2006-01-02 15:04:05 MST"),
            "2024-02-29 00:00:00 UTC"
        );
        let t = parse_layout(
            "2006-01-02T15:04:05Z07:00",
            "2024-01-02T03:04:05+02:00",
            &TimeZone::UTC,
        )
        .expect("parse");
        assert_eq!(t.unix(), 1_704_157_445);
        assert!(parse_layout("2006-01-02", "2024-13-01", &TimeZone::UTC).is_err());
    }

    #[test]
    fn durations_match_go() {
        // {{ duration "95" }} 1m35s, {{ durationRound "2h10m" }} 2h, "49h" 2d, "800h" 1mo
        assert_eq!(format_duration(95_000_000_000), "1m35s");
        assert_eq!(format_duration(0), "0s");
        assert_eq!(format_duration(1_500_000), "1.5ms");
        assert_eq!(format_duration(-3_600_000_000_000), "-1h0m0s");
        assert_eq!(duration_round(parse_duration("2h10m").expect("d")), "2h");
        assert_eq!(duration_round(parse_duration("49h").expect("d")), "2d");
        assert_eq!(duration_round(parse_duration("800h").expect("d")), "1mo");
        assert_eq!(duration_round(parse_duration("9000h").expect("d")), "1y");
        assert_eq!(duration_round(parse_duration("-3s").expect("d")), "3s");
        assert_eq!(duration_round(400_000_000_000_000), "4d");
        assert_eq!(parse_duration("1.5h").expect("d"), 5_400_000_000_000);
        assert!(parse_duration("bad").is_err());
    }
}
