//! Chart URLs from an index made absolute, as Helm's `ResolveReferenceURL` does it with Go's
//! `net/url`.
//!
//! The rules (Helm 4.1, checked against what the real `helm pull --repo` requests, see
//! `helm/tests/repo_against_helm.rs`):
//!
//! - a chart URL with a scheme is used exactly as written;
//! - anything else is resolved (RFC 3986, Go's `ResolveReference`) against the repository
//!   URL with a `/` added to its path, so `https://h/charts` + `a.tgz` is
//!   `https://h/charts/a.tgz`; `../a.tgz`, `/a.tgz` and `//other/a.tgz` resolve as in a
//!   browser;
//! - the result always takes the repository URL's query string (a token in
//!   `https://h/charts?token=x` reaches the chart download), replacing any query the chart
//!   URL had — also for a scheme-relative `//other-host/...`, as in Helm;
//! - the path is printed as Go prints it: kept as written when it is valid percent-encoding,
//!   otherwise escaped (`a b.tgz` becomes `a%20b.tgz`).

/// A URL split as Go's `url.Parse` splits it. `path` and `fragment` hold the escaped form
/// that Go's `String` prints.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct GoUrl {
    scheme: String,
    opaque: String,
    user: Option<String>,
    host: String,
    path: String,
    force_query: bool,
    raw_query: String,
    fragment: String,
}

/// Resolves a chart URL from an index (`urls[0]`) against the repository URL.
///
/// # Errors
/// Either URL not parseable by Go's rules, with Helm's message
/// (`failed to parse <url> as URL: ...`).
pub fn resolve_chart_url(repo_url: &str, chart_url: &str) -> Result<String, String> {
    let reference = parse(chart_url)
        .map_err(|e| format!("failed to parse {chart_url} as URL: parse {chart_url:?}: {e}"))?;
    if !reference.scheme.is_empty() {
        return Ok(chart_url.to_string());
    }
    let mut base = parse(repo_url)
        .map_err(|e| format!("failed to parse {repo_url} as URL: parse {repo_url:?}: {e}"))?;
    base.path = format!("{}/", base.path.trim_end_matches('/'));
    let mut resolved = resolve(&base, &reference);
    resolved.raw_query.clone_from(&base.raw_query);
    Ok(resolved.to_string())
}

/// Go's `url.Parse` (the subset a chart URL needs; hosts and user info are kept as written).
fn parse(raw: &str) -> Result<GoUrl, String> {
    if raw.bytes().any(|b| b < 0x20 || b == 0x7f) {
        return Err("net/url: invalid control character in URL".into());
    }
    let (rest, fragment) = match raw.split_once('#') {
        Some((r, f)) => (r, Some(f)),
        None => (raw, None),
    };
    let mut url = GoUrl::default();
    if let Some(f) = fragment {
        url.fragment = escaped(f, Part::Fragment)?;
    }
    if rest.is_empty() {
        return Ok(url);
    }
    if rest == "*" {
        url.path = "*".into();
        return Ok(url);
    }
    let (scheme, mut rest) = split_scheme(rest)?;
    url.scheme = scheme.to_ascii_lowercase();
    if rest.ends_with('?') && rest.matches('?').count() == 1 {
        url.force_query = true;
        rest = &rest[..rest.len() - 1];
    } else if let Some((r, q)) = rest.split_once('?') {
        url.raw_query = q.to_string();
        rest = r;
    }
    if !rest.starts_with('/') {
        if !url.scheme.is_empty() {
            url.opaque = rest.to_string();
            return Ok(url);
        }
        let first_segment = rest.split('/').next().unwrap_or(rest);
        if first_segment.contains(':') {
            return Err("first path segment in URL cannot contain colon".into());
        }
    }
    if (!url.scheme.is_empty() || !rest.starts_with("///")) && rest.starts_with("//") {
        let after = &rest[2..];
        let (authority, path) = match after.find('/') {
            Some(i) => (&after[..i], &after[i..]),
            None => (after, ""),
        };
        let (user, host) = match authority.rfind('@') {
            Some(i) => (Some(authority[..i].to_string()), &authority[i + 1..]),
            None => (None, authority),
        };
        check_host(host)?;
        url.user = user;
        url.host = host.to_string();
        rest = path;
    }
    url.path = escaped(rest, Part::Path)?;
    Ok(url)
}

/// Go's `getScheme`: letters, then letters, digits, `+`, `-`, `.`, up to a `:`.
fn split_scheme(raw: &str) -> Result<(&str, &str), String> {
    for (i, c) in raw.bytes().enumerate() {
        match c {
            b'a'..=b'z' | b'A'..=b'Z' => {}
            b'0'..=b'9' | b'+' | b'-' | b'.' if i > 0 => {}
            b':' if i == 0 => return Err("missing protocol scheme".into()),
            b':' => return Ok((&raw[..i], &raw[i + 1..])),
            _ => return Ok(("", raw)),
        }
    }
    Ok(("", raw))
}

/// Go's host checks that matter here: a closed IPv6 bracket and a numeric port.
fn check_host(host: &str) -> Result<(), String> {
    let port = if let Some(inner) = host.strip_prefix('[') {
        let Some(end) = inner.find(']') else {
            return Err("missing ']' in host".into());
        };
        &inner[end + 1..]
    } else {
        match host.rfind(':') {
            Some(i) => &host[i..],
            None => "",
        }
    };
    if port.is_empty() {
        return Ok(());
    }
    let digits = port.strip_prefix(':').unwrap_or("x");
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("invalid port {port:?} after host"));
    }
    Ok(())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Part {
    Path,
    Fragment,
}

/// Whether Go leaves the byte as is when escaping this part.
fn unescaped_ok(b: u8, part: Part) -> bool {
    match b {
        b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => true,
        b'$' | b'&' | b'+' | b',' | b'/' | b':' | b';' | b'=' | b'@' => true,
        b'?' => part == Part::Fragment,
        b'!' | b'(' | b')' | b'*' => part == Part::Fragment,
        _ => false,
    }
}

/// The escaped form Go prints for a path or fragment written as `raw`: `raw` itself when it
/// is valid percent-encoding (Go's `validEncoded`), else the decoded text escaped again.
fn escaped(raw: &str, part: Part) -> Result<String, String> {
    let decoded = unescape(raw)?;
    let valid = raw.bytes().all(|b| {
        matches!(
            b,
            b'!' | b'$'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b';'
                | b'='
                | b':'
                | b'@'
                | b'['
                | b']'
                | b'%'
        ) || unescaped_ok(b, part)
    });
    if valid {
        return Ok(raw.to_string());
    }
    let mut out = String::with_capacity(decoded.len() * 3);
    for &b in &decoded {
        if unescaped_ok(b, part) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    Ok(out)
}

/// Percent-decoding; a `%` not followed by two hex digits is Go's error.
fn unescape(s: &str) -> Result<Vec<u8>, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b.get(i + 1..i + 3).and_then(|h| {
                std::str::from_utf8(h)
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
            });
            let Some(v) =
                hex.filter(|_| b[i + 1].is_ascii_hexdigit() && b[i + 2].is_ascii_hexdigit())
            else {
                let end = (i + 3).min(b.len());
                return Err(format!(
                    "invalid URL escape {:?}",
                    String::from_utf8_lossy(&b[i..end])
                ));
            };
            out.push(v);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Ok(out)
}

/// Go's `URL.ResolveReference` for a reference without a scheme.
fn resolve(base: &GoUrl, reference: &GoUrl) -> GoUrl {
    let mut url = reference.clone();
    url.scheme.clone_from(&base.scheme);
    if !reference.host.is_empty() || reference.user.is_some() {
        url.path = remove_dot_segments(&reference.path, "");
        return url;
    }
    if reference.path.is_empty() && !reference.force_query && reference.raw_query.is_empty() {
        url.raw_query.clone_from(&base.raw_query);
        if reference.fragment.is_empty() {
            url.fragment.clone_from(&base.fragment);
        }
    }
    if reference.path.is_empty() && !base.opaque.is_empty() {
        url.opaque.clone_from(&base.opaque);
        url.user = None;
        url.host.clear();
        url.path.clear();
        return url;
    }
    url.host.clone_from(&base.host);
    url.user.clone_from(&base.user);
    url.path = remove_dot_segments(&base.path, &reference.path);
    url
}

/// Go's `resolvePath`: `reference` merged onto `base` (both escaped), `.` and `..` removed;
/// the result starts with `/`, `..` above the root is dropped, and a trailing `.` or `..`
/// leaves a trailing `/`.
fn remove_dot_segments(base: &str, reference: &str) -> String {
    let full = if reference.is_empty() {
        base.to_string()
    } else if !reference.starts_with('/') {
        let cut = base.rfind('/').map_or(0, |i| i + 1);
        format!("{}{reference}", &base[..cut])
    } else {
        reference.to_string()
    };
    if full.is_empty() {
        return String::new();
    }
    let segments: Vec<&str> = full.split('/').collect();
    let mut out: Vec<&str> = Vec::new();
    for seg in &segments {
        match *seg {
            "." => {}
            ".." => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    // A path that starts with `/` splits into a leading empty segment; keep exactly one root.
    if out.first() == Some(&"") {
        out.remove(0);
    }
    let mut path = format!("/{}", out.join("/"));
    if matches!(segments.last(), Some(&".") | Some(&"..")) && !path.ends_with('/') {
        path.push('/');
    }
    path
}

impl std::fmt::Display for GoUrl {
    /// Go's `URL.String`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut buf = String::new();
        if !self.scheme.is_empty() {
            buf.push_str(&self.scheme);
            buf.push(':');
        }
        if !self.opaque.is_empty() {
            buf.push_str(&self.opaque);
        } else {
            if (!self.scheme.is_empty() || !self.host.is_empty() || self.user.is_some())
                && (!self.host.is_empty() || !self.path.is_empty() || self.user.is_some())
            {
                buf.push_str("//");
            }
            if let Some(user) = &self.user {
                buf.push_str(user);
                buf.push('@');
            }
            buf.push_str(&self.host);
            if !self.path.is_empty() && !self.path.starts_with('/') && !self.host.is_empty() {
                buf.push('/');
            }
            if buf.is_empty() {
                let first = self.path.split('/').next().unwrap_or("");
                if first.contains(':') {
                    buf.push_str("./");
                }
            }
            buf.push_str(&self.path);
        }
        if self.force_query || !self.raw_query.is_empty() {
            buf.push('?');
            buf.push_str(&self.raw_query);
        }
        if !self.fragment.is_empty() {
            buf.push('#');
            buf.push_str(&self.fragment);
        }
        f.write_str(&buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(base: &str, chart: &str) -> String {
        resolve_chart_url(base, chart).unwrap_or_else(|e| panic!("{base} + {chart}: {e}"))
    }

    #[test]
    fn absolute_chart_urls_are_kept_as_written() {
        assert_eq!(
            r("https://h/charts?token=x", "https://cdn/a-1.0.0.tgz"),
            "https://cdn/a-1.0.0.tgz"
        );
        assert_eq!(
            r("https://h/charts", "HTTPS://cdn/a b.tgz?sig=1"),
            "HTTPS://cdn/a b.tgz?sig=1"
        );
        assert_eq!(r("https://h", "oci://reg/a"), "oci://reg/a");
    }

    #[test]
    fn relative_chart_urls_resolve_under_the_repository_path() {
        assert_eq!(
            r("https://h/charts", "a-1.0.0.tgz"),
            "https://h/charts/a-1.0.0.tgz"
        );
        assert_eq!(
            r("https://h/charts/", "a-1.0.0.tgz"),
            "https://h/charts/a-1.0.0.tgz"
        );
        assert_eq!(r("https://h", "a-1.0.0.tgz"), "https://h/a-1.0.0.tgz");
        assert_eq!(r("https://h/", "./x/a.tgz"), "https://h/x/a.tgz");
        assert_eq!(r("https://h/a/b", "../c.tgz"), "https://h/a/c.tgz");
        assert_eq!(r("https://h/a", "../../../c.tgz"), "https://h/c.tgz");
        assert_eq!(r("https://h/charts", "/root/a.tgz"), "https://h/root/a.tgz");
        assert_eq!(r("https://h/charts", "x/."), "https://h/charts/x/");
        assert_eq!(r("https://h/charts", "x/.."), "https://h/charts/");
        assert_eq!(
            r("https://u:p@h:8443/c", "a.tgz"),
            "https://u:p@h:8443/c/a.tgz"
        );
    }

    #[test]
    fn the_repository_query_is_kept_and_replaces_the_charts() {
        assert_eq!(
            r("https://h/path?token=x", "a-1.0.0.tgz"),
            "https://h/path/a-1.0.0.tgz?token=x"
        );
        assert_eq!(
            r("https://h/path?token=x", "a-1.0.0.tgz?sig=1"),
            "https://h/path/a-1.0.0.tgz?token=x"
        );
        assert_eq!(r("https://h/path", "a.tgz?sig=1"), "https://h/path/a.tgz");
        // Scheme-relative: another host, still the repository's query (Helm's behaviour).
        assert_eq!(
            r("https://h/path?token=x", "//cdn/a.tgz"),
            "https://cdn/a.tgz?token=x"
        );
        assert_eq!(
            r("https://h/p?t=1#frag", "a.tgz#f"),
            "https://h/p/a.tgz?t=1#f"
        );
    }

    #[test]
    fn paths_print_as_go_escapes_them() {
        assert_eq!(r("https://h/c", "a b.tgz"), "https://h/c/a%20b.tgz");
        assert_eq!(r("https://h/c", "a%20b.tgz"), "https://h/c/a%20b.tgz");
        assert_eq!(r("https://h/c", "a+b@1.tgz"), "https://h/c/a+b@1.tgz");
        assert_eq!(r("https://h/c", "é.tgz"), "https://h/c/%C3%A9.tgz");
        assert_eq!(
            r("https://h/my%2Fcharts", "a.tgz"),
            "https://h/my%2Fcharts/a.tgz"
        );
    }

    #[test]
    fn errors_are_helms() {
        assert_eq!(
            resolve_chart_url("https://h", "a%zz.tgz").expect_err("escape"),
            "failed to parse a%zz.tgz as URL: parse \"a%zz.tgz\": invalid URL escape \"%zz\""
        );
        assert_eq!(
            resolve_chart_url("https://h:x/c", "a.tgz").expect_err("port"),
            "failed to parse https://h:x/c as URL: parse \"https://h:x/c\": invalid port \":x\" after host"
        );
        assert_eq!(
            resolve_chart_url("https://h", ":a.tgz").expect_err("scheme"),
            "failed to parse :a.tgz as URL: parse \":a.tgz\": missing protocol scheme"
        );
        assert_eq!(
            resolve_chart_url("https://h", "a\n.tgz").expect_err("ctl"),
            "failed to parse a\n.tgz as URL: parse \"a\\n.tgz\": net/url: invalid control character in URL"
        );
    }
}
