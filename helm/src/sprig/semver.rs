//! Semantic versions and version constraints as Helm reads them (the Masterminds
//! `semver/v3` rules): used by the `semver`/`semverCompare` template functions, by chart
//! dependency resolution and by `kubeVersion` checks.
//!
//! Versions are parsed leniently, as Helm does: a leading `v`, and a missing minor or
//! patch (`1.2` is `1.2.0`). Constraints are `||`-separated alternatives of
//! comma/space-separated comparisons: `=`, `!=`, `>`, `<`, `>=`, `<=` (also `=>`, `=<`),
//! `~` / `~>` (tilde ranges), `^` (caret ranges), wildcards (`1.x`, `1.2.*`, `*`) and
//! hyphen ranges (`1.2 - 1.4.5`). A version with a pre-release only satisfies a
//! conjunction in which some comparison names a pre-release.

use std::cmp::Ordering;
use std::fmt;
use std::sync::LazyLock;

use regex::Regex;

/// Why a version or a constraint could not be read. The messages are Helm's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SemverError {
    /// The text is not a version.
    #[error("invalid semantic version")]
    InvalidVersion,
    /// A numeric segment does not fit 64 bits.
    #[error("error parsing version segment: {0}")]
    Segment(String),
    /// A numeric pre-release identifier has a leading zero.
    #[error("version segment starts with 0")]
    SegmentStartsZero,
    /// A constraint alternative is not a list of comparisons.
    #[error("improper constraint: {0}")]
    ImproperConstraint(String),
    /// A comparison's version could not be read.
    #[error("constraint parser error")]
    ConstraintParser,
}

/// A semantic version: `major.minor.patch[-prerelease][+metadata]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    major: u64,
    minor: u64,
    patch: u64,
    pre: String,
    metadata: String,
    original: String,
}

/// Go's RE2 `\s`: ASCII space, tab, newline, form feed, carriage return.
const WS: &str = r"[\t\n\f\r ]";

const VERSION_RE: &str = r"v?([0-9]+)(\.[0-9]+)?(\.[0-9]+)?(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?";
/// A comparison's version: like a version, with wildcards. (The `|` inside the class is
/// the original grammar's and is kept: `1|2` reads as a version that then fails.)
const CV_RE: &str = r"v?([0-9|xX*]+)(\.[0-9|xX*]+)?(\.[0-9|xX*]+)?(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?";
const OPS_RE: &str = r"=||!=|>|<|>=|=>|<=|=<|~|~>|\^";

fn compile(pattern: &str) -> Regex {
    // The patterns are constants of this module; they compile.
    Regex::new(pattern).expect("semver pattern compiles")
}

static VERSION: LazyLock<Regex> = LazyLock::new(|| compile(&format!("^{VERSION_RE}$")));
static CONSTRAINT: LazyLock<Regex> =
    LazyLock::new(|| compile(&format!("^{WS}*({OPS_RE}){WS}*({CV_RE}){WS}*$")));
static RANGE: LazyLock<Regex> =
    LazyLock::new(|| compile(&format!("{WS}*({CV_RE}){WS}+-{WS}+({CV_RE}){WS}*")));
static FIND: LazyLock<Regex> = LazyLock::new(|| compile(&format!("({OPS_RE}){WS}*({CV_RE})")));
static VALID: LazyLock<Regex> = LazyLock::new(|| {
    compile(&format!(
        "^({WS}*({OPS_RE}){WS}*({CV_RE}){WS}*)((?:{WS}+|,{WS}*)({OPS_RE}){WS}*({CV_RE}){WS}*)*$"
    ))
});

impl Version {
    /// Reads a version leniently (`v1.2` is `1.2.0`).
    ///
    /// # Errors
    ///
    /// When the text is not a version, a segment overflows 64 bits, or a numeric
    /// pre-release identifier has a leading zero.
    pub fn parse(text: &str) -> Result<Version, SemverError> {
        let caps = VERSION.captures(text).ok_or(SemverError::InvalidVersion)?;
        let segment = |i: usize| -> Result<u64, SemverError> {
            match caps.get(i) {
                None => Ok(0),
                Some(m) => {
                    let digits = m.as_str().trim_start_matches('.');
                    digits.parse::<u64>().map_err(|_| {
                        SemverError::Segment(format!(
                            "strconv.ParseUint: parsing \"{digits}\": value out of range"
                        ))
                    })
                }
            }
        };
        let major = segment(1)?;
        let minor = segment(2)?;
        let patch = segment(3)?;
        let pre = caps.get(5).map_or("", |m| m.as_str()).to_string();
        let metadata = caps.get(8).map_or("", |m| m.as_str()).to_string();
        for part in pre.split('.') {
            if part.len() > 1 && part.starts_with('0') && part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(SemverError::SegmentStartsZero);
            }
        }
        Ok(Version {
            major,
            minor,
            patch,
            pre,
            metadata,
            original: text.to_string(),
        })
    }

    /// The major number.
    pub fn major(&self) -> u64 {
        self.major
    }

    /// The minor number (0 when the text had none).
    pub fn minor(&self) -> u64 {
        self.minor
    }

    /// The patch number (0 when the text had none).
    pub fn patch(&self) -> u64 {
        self.patch
    }

    /// The pre-release, without its `-`; empty when none.
    pub fn prerelease(&self) -> &str {
        &self.pre
    }

    /// The build metadata, without its `+`; empty when none.
    pub fn metadata(&self) -> &str {
        &self.metadata
    }

    /// The text the version was read from.
    pub fn original(&self) -> &str {
        &self.original
    }

    /// Precedence order: numbers, then a pre-release sorts before its release;
    /// metadata is ignored.
    pub fn compare(&self, other: &Version) -> Ordering {
        (self.major, self.minor, self.patch)
            .cmp(&(other.major, other.minor, other.patch))
            .then_with(|| match (self.pre.is_empty(), other.pre.is_empty()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => compare_prerelease(&self.pre, &other.pre),
            })
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)?;
        if !self.pre.is_empty() {
            write!(f, "-{}", self.pre)?;
        }
        if !self.metadata.is_empty() {
            write!(f, "+{}", self.metadata)?;
        }
        Ok(())
    }
}

fn compare_prerelease(a: &str, b: &str) -> Ordering {
    let a: Vec<&str> = a.split('.').collect();
    let b: Vec<&str> = b.split('.').collect();
    for i in 0..a.len().max(b.len()) {
        let x = a.get(i).copied().unwrap_or("");
        let y = b.get(i).copied().unwrap_or("");
        let order = compare_identifier(x, y);
        if order != Ordering::Equal {
            return order;
        }
    }
    Ordering::Equal
}

/// One pre-release identifier against another: a missing one sorts first, numbers
/// before words, numbers by value, words by bytes.
fn compare_identifier(x: &str, y: &str) -> Ordering {
    if x == y {
        return Ordering::Equal;
    }
    if x.is_empty() {
        return Ordering::Less;
    }
    if y.is_empty() {
        return Ordering::Greater;
    }
    match (x.parse::<u64>(), y.parse::<u64>()) {
        (Ok(a), Ok(b)) => a.cmp(&b),
        (Ok(_), Err(_)) => Ordering::Less,
        (Err(_), Ok(_)) => Ordering::Greater,
        (Err(_), Err(_)) => x.cmp(y),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    TildeOrEqual,
    NotEqual,
    Greater,
    Less,
    GreaterEqual,
    LessEqual,
    Tilde,
    Caret,
}

/// One comparison, e.g. `>= 1.2` or `1.x`.
#[derive(Debug, Clone)]
struct Comparison {
    op: Op,
    version: Version,
    dirty: bool,
    minor_dirty: bool,
    patch_dirty: bool,
}

/// Alternatives (`||`) of conjunctions of comparisons.
#[derive(Debug, Clone)]
pub struct Constraints {
    alternatives: Vec<Vec<Comparison>>,
    text: String,
}

fn is_wildcard(s: &str) -> bool {
    matches!(s, "x" | "X" | "*")
}

impl Constraints {
    /// Reads a constraint such as `>= 1.2, < 2.0 || ^3`.
    ///
    /// # Errors
    ///
    /// When an alternative is not a list of comparisons, or a comparison's version
    /// cannot be read.
    pub fn parse(text: &str) -> Result<Constraints, SemverError> {
        let rewritten = rewrite_ranges(text);
        let mut alternatives = Vec::new();
        for alternative in rewritten.split("||") {
            if !VALID.is_match(alternative) {
                return Err(SemverError::ImproperConstraint(alternative.to_string()));
            }
            let found: Vec<&str> = FIND.find_iter(alternative).map(|m| m.as_str()).collect();
            let found = if found.is_empty() {
                vec![alternative]
            } else {
                found
            };
            let comparisons = found
                .into_iter()
                .map(parse_comparison)
                .collect::<Result<Vec<_>, _>>()?;
            alternatives.push(comparisons);
        }
        Ok(Constraints {
            alternatives,
            text: text.to_string(),
        })
    }

    /// Whether the version satisfies any alternative.
    pub fn matches(&self, version: &Version) -> bool {
        self.alternatives.iter().any(|all| {
            // A comparison naming a pre-release lets pre-releases through the whole
            // conjunction (`>=1.2.3-0 <2` admits `1.5.0-beta`).
            let prereleases = all.iter().any(|c| !c.version.pre.is_empty());
            all.iter().all(|c| c.check(version, prereleases))
        })
    }

    /// The text the constraints were read from.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

fn rewrite_ranges(text: &str) -> String {
    let mut out = text.to_string();
    for caps in RANGE.captures_iter(text) {
        let whole = caps.get(0).map_or("", |m| m.as_str());
        let low = caps.get(1).map_or("", |m| m.as_str());
        let high = caps.get(11).map_or("", |m| m.as_str());
        out = out.replacen(whole, &format!(">= {low}, <= {high}"), 1);
    }
    out
}

fn parse_comparison(text: &str) -> Result<Comparison, SemverError> {
    if text.is_empty() {
        return Ok(Comparison {
            op: Op::TildeOrEqual,
            version: Version::parse("0.0.0")?,
            dirty: true,
            minor_dirty: false,
            patch_dirty: false,
        });
    }
    let caps = CONSTRAINT
        .captures(text)
        .ok_or_else(|| SemverError::ImproperConstraint(text.to_string()))?;
    let group = |i: usize| caps.get(i).map_or("", |m| m.as_str());
    let op = match group(1) {
        "" | "=" => Op::TildeOrEqual,
        "!=" => Op::NotEqual,
        ">" => Op::Greater,
        "<" => Op::Less,
        ">=" | "=>" => Op::GreaterEqual,
        "<=" | "=<" => Op::LessEqual,
        "~" | "~>" => Op::Tilde,
        _ => Op::Caret,
    };
    let (major, minor, patch, pre) = (group(3), group(4), group(5), group(6));
    let minor_bare = minor.trim_start_matches('.');
    let patch_bare = patch.trim_start_matches('.');
    let (mut dirty, mut minor_dirty, mut patch_dirty) = (false, false, false);
    let written = if is_wildcard(major) {
        dirty = true;
        format!("0.0.0{pre}")
    } else if is_wildcard(minor_bare) || minor.is_empty() {
        dirty = true;
        minor_dirty = true;
        format!("{major}.0.0{pre}")
    } else if is_wildcard(patch_bare) || patch.is_empty() {
        dirty = true;
        patch_dirty = true;
        format!("{major}{minor}.0{pre}")
    } else {
        group(2).to_string()
    };
    let version = Version::parse(&written).map_err(|_| SemverError::ConstraintParser)?;
    Ok(Comparison {
        op,
        version,
        dirty,
        minor_dirty,
        patch_dirty,
    })
}

impl Comparison {
    fn check(&self, v: &Version, prereleases: bool) -> bool {
        let c = &self.version;
        // A pre-release only satisfies comparisons that name one.
        if !v.pre.is_empty() && !prereleases {
            return false;
        }
        match self.op {
            Op::TildeOrEqual => {
                if self.dirty {
                    self.tilde(v)
                } else {
                    v.compare(c) == Ordering::Equal
                }
            }
            Op::NotEqual => self.not_equal(v),
            Op::Greater => self.greater(v),
            Op::Less => v.compare(c) == Ordering::Less,
            Op::GreaterEqual => v.compare(c) != Ordering::Less,
            Op::LessEqual => self.less_equal(v),
            Op::Tilde => self.tilde(v),
            Op::Caret => self.caret(v),
        }
    }

    fn not_equal(&self, v: &Version) -> bool {
        let c = &self.version;
        if self.dirty {
            if c.major != v.major {
                return true;
            }
            if c.minor != v.minor && !self.minor_dirty {
                return true;
            }
            if self.minor_dirty {
                return false;
            }
            if c.patch != v.patch && !self.patch_dirty {
                return true;
            }
            if self.patch_dirty {
                if !v.pre.is_empty() || !c.pre.is_empty() {
                    return compare_prerelease(&v.pre, &c.pre) != Ordering::Equal;
                }
                return false;
            }
        }
        v.compare(c) != Ordering::Equal
    }

    fn greater(&self, v: &Version) -> bool {
        let c = &self.version;
        if !self.dirty {
            return v.compare(c) == Ordering::Greater;
        }
        if v.major > c.major {
            true
        } else if v.major < c.major || self.minor_dirty {
            false
        } else if self.patch_dirty {
            v.minor > c.minor
        } else {
            v.compare(c) == Ordering::Greater
        }
    }

    fn less_equal(&self, v: &Version) -> bool {
        let c = &self.version;
        if !self.dirty {
            return v.compare(c) != Ordering::Greater;
        }
        if v.major > c.major {
            return false;
        }
        !(v.major == c.major && v.minor > c.minor && !self.minor_dirty)
    }

    fn tilde(&self, v: &Version) -> bool {
        let c = &self.version;
        if v.compare(c) == Ordering::Less {
            return false;
        }
        if c.major == 0 && c.minor == 0 && c.patch == 0 && !self.minor_dirty && !self.patch_dirty {
            return true;
        }
        if v.major != c.major {
            return false;
        }
        v.minor == c.minor || self.minor_dirty
    }

    fn caret(&self, v: &Version) -> bool {
        let c = &self.version;
        if v.compare(c) == Ordering::Less {
            return false;
        }
        if c.major > 0 || self.minor_dirty {
            return v.major == c.major;
        }
        if v.major > 0 {
            return false;
        }
        if c.minor > 0 || self.patch_dirty {
            return v.minor == c.minor;
        }
        if v.minor > 0 {
            return false;
        }
        c.patch == v.patch
    }
}

/// `semverCompare`: whether `version` satisfies `constraint`.
///
/// # Errors
///
/// When either cannot be read.
pub fn compare(constraint: &str, version: &str) -> Result<bool, SemverError> {
    let constraints = Constraints::parse(constraint)?;
    let version = Version::parse(version)?;
    Ok(constraints.matches(&version))
}
