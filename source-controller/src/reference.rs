//! Which Git reference a GitRepository wants, and how to resolve it against the remote's
//! advertised refs. Pure: no I/O.

use weir_api::source::{DEFAULT_BRANCH, GitRepositoryRef};

/// The reference to check out, after applying Flux's precedence
/// (`commit` > `name` > `semver` > `tag` > `branch`, default branch `master`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RefPlan {
    /// A branch tip.
    Branch(String),
    /// A tag (annotated tags are peeled to their commit).
    Tag(String),
    /// The highest tag matching a semantic version range.
    Semver(String),
    /// A full reference name.
    Name(String),
    /// A fixed commit, optionally required to be on `branch`.
    Commit {
        /// 40 lowercase hex characters.
        commit: String,
        /// The branch fetched to find the commit; all branches when absent.
        branch: Option<String>,
    },
}

/// A remote ref as advertised: its full name, the object it points to, and for annotated
/// tags the commit it peels to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteRef {
    /// e.g. `refs/heads/main`.
    pub name: String,
    /// Hex object id the ref points to.
    pub target: String,
    /// Hex commit id of a peeled annotated tag.
    pub peeled: Option<String>,
}

impl RemoteRef {
    /// The commit this ref designates.
    pub fn commit(&self) -> &str {
        self.peeled.as_deref().unwrap_or(&self.target)
    }
}

/// What a plan resolved to on the remote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolved {
    /// The full ref name to fetch (absent when fetching a commit directly).
    pub ref_name: Option<String>,
    /// The commit to package.
    pub commit: String,
    /// Flux-format revision: `<branch>@sha1:<commit>`, `<tag>@sha1:...`, `<ref name>@sha1:...`
    /// or `sha1:<commit>`.
    pub revision: String,
}

/// Applies precedence and validates the values.
///
/// # Errors
/// A message naming the invalid field and value.
pub fn plan(reference: Option<&GitRepositoryRef>) -> Result<RefPlan, String> {
    let r = reference.cloned().unwrap_or_default();
    let nonempty = |v: Option<String>| v.filter(|s| !s.trim().is_empty());
    if let Some(commit) = nonempty(r.commit) {
        let commit = commit.to_lowercase();
        if commit.len() != 40 || !commit.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(format!(
                "spec.ref.commit {commit:?} is not a full 40-character SHA-1"
            ));
        }
        return Ok(RefPlan::Commit {
            commit,
            branch: nonempty(r.branch),
        });
    }
    if let Some(name) = nonempty(r.name) {
        if !name.starts_with("refs/") || name.contains("..") || name.contains(char::is_whitespace) {
            return Err(format!(
                "spec.ref.name {name:?} must be a full reference name such as refs/heads/main"
            ));
        }
        return Ok(RefPlan::Name(name));
    }
    if let Some(range) = nonempty(r.semver) {
        parse_range(&range)?;
        return Ok(RefPlan::Semver(range));
    }
    if let Some(tag) = nonempty(r.tag) {
        validate_short_name("spec.ref.tag", &tag)?;
        return Ok(RefPlan::Tag(tag));
    }
    let branch = nonempty(r.branch).unwrap_or_else(|| DEFAULT_BRANCH.to_string());
    validate_short_name("spec.ref.branch", &branch)?;
    Ok(RefPlan::Branch(branch))
}

fn validate_short_name(field: &str, name: &str) -> Result<(), String> {
    let bad = name.starts_with('-')
        || name.contains("..")
        || name.contains(|c: char| c.is_whitespace() || c.is_control() || "~^:?*[\\".contains(c));
    if bad {
        Err(format!(
            "{field} {name:?} is not a valid Git reference name"
        ))
    } else {
        Ok(())
    }
}

/// The fetch refspec for a plan, once resolved.
pub fn refspec(plan: &RefPlan, resolved: &Resolved) -> String {
    match (plan, &resolved.ref_name) {
        (RefPlan::Commit { branch: None, .. }, _) => {
            "+refs/heads/*:refs/remotes/origin/*".to_string()
        }
        (_, Some(name)) => format!("+{name}:{name}"),
        (_, None) => resolved.commit.clone(),
    }
}

/// Whether the plan may be fetched shallowly (depth 1).
pub fn shallow(plan: &RefPlan) -> bool {
    !matches!(plan, RefPlan::Commit { .. })
}

/// Resolves a plan against the remote's refs.
///
/// # Errors
/// A message naming the missing branch, tag or ref, or the range no tag matched.
pub fn resolve(plan: &RefPlan, refs: &[RemoteRef]) -> Result<Resolved, String> {
    let find = |name: &str| refs.iter().find(|r| r.name == name);
    match plan {
        RefPlan::Branch(b) => {
            let r = find(&format!("refs/heads/{b}"))
                .ok_or_else(|| format!("branch {b:?} not found on the remote"))?;
            Ok(resolved(&r.name, r.commit(), b))
        }
        RefPlan::Tag(t) => {
            let r = find(&format!("refs/tags/{t}"))
                .ok_or_else(|| format!("tag {t:?} not found on the remote"))?;
            Ok(resolved(&r.name, r.commit(), t))
        }
        RefPlan::Name(n) => {
            let r = find(n).ok_or_else(|| format!("reference {n:?} not found on the remote"))?;
            Ok(resolved(&r.name, r.commit(), n))
        }
        RefPlan::Semver(range) => {
            let reqs = parse_range(range)?;
            let best = refs
                .iter()
                .filter_map(|r| {
                    let tag = r.name.strip_prefix("refs/tags/")?;
                    let v = semver::Version::parse(tag.strip_prefix('v').unwrap_or(tag)).ok()?;
                    reqs.iter()
                        .any(|req| req.matches(&v))
                        .then_some((v, tag, r))
                })
                .max_by(|a, b| a.0.cmp(&b.0).then_with(|| b.1.cmp(a.1)))
                .ok_or_else(|| format!("no tag matches semver range {range:?}"))?;
            Ok(resolved(&best.2.name, best.2.commit(), best.1))
        }
        RefPlan::Commit { commit, branch } => match branch {
            Some(b) => {
                let r = find(&format!("refs/heads/{b}"))
                    .ok_or_else(|| format!("branch {b:?} not found on the remote"))?;
                Ok(Resolved {
                    ref_name: Some(r.name.clone()),
                    commit: commit.clone(),
                    revision: format!("{b}@sha1:{commit}"),
                })
            }
            None => Ok(Resolved {
                ref_name: None,
                commit: commit.clone(),
                revision: format!("sha1:{commit}"),
            }),
        },
    }
}

fn resolved(ref_name: &str, commit: &str, short: &str) -> Resolved {
    Resolved {
        ref_name: Some(ref_name.to_string()),
        commit: commit.to_string(),
        revision: format!("{short}@sha1:{commit}"),
    }
}

/// Parses a Masterminds-style range (`>=1.0.0 <2.0.0`, `~1.2`, `^1`, `1.x`, `a || b`) into
/// alternatives of `semver` requirements.
///
/// # Errors
/// A message naming the range.
pub fn parse_range(range: &str) -> Result<Vec<semver::VersionReq>, String> {
    let bad =
        |e: &dyn std::fmt::Display| format!("spec.ref.semver {range:?} is not a valid range: {e}");
    range
        .split("||")
        .map(|alt| {
            let mut parts: Vec<String> = Vec::new();
            let mut pending_op = String::new();
            for token in alt
                .split(|c: char| c == ',' || c.is_whitespace())
                .filter(|t| !t.is_empty())
            {
                if token.chars().all(|c| "<>=!~^".contains(c)) {
                    pending_op.push_str(token);
                    continue;
                }
                let token = token.trim_start_matches('v');
                parts.push(format!(
                    "{}{}",
                    std::mem::take(&mut pending_op),
                    token.replace("=v", "=")
                ));
            }
            if parts.is_empty() {
                return Err(bad(&"empty range"));
            }
            semver::VersionReq::parse(&parts.join(", ")).map_err(|e| bad(&e))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(name: &str, target: &str) -> RemoteRef {
        RemoteRef {
            name: name.into(),
            target: target.into(),
            peeled: None,
        }
    }

    fn git_ref(f: impl FnOnce(&mut GitRepositoryRef)) -> GitRepositoryRef {
        let mut r = GitRepositoryRef::default();
        f(&mut r);
        r
    }

    const C1: &str = "1111111111111111111111111111111111111111";
    const C2: &str = "2222222222222222222222222222222222222222";
    const C3: &str = "3333333333333333333333333333333333333333";

    #[test]
    fn precedence_follows_flux() {
        let all = git_ref(|r| {
            r.branch = Some("main".into());
            r.tag = Some("v1".into());
            r.semver = Some(">=1".into());
            r.name = Some("refs/heads/x".into());
            r.commit = Some(C1.into());
        });
        assert_eq!(
            plan(Some(&all)),
            Ok(RefPlan::Commit {
                commit: C1.into(),
                branch: Some("main".into())
            })
        );
        let no_commit = GitRepositoryRef {
            commit: None,
            ..all.clone()
        };
        assert_eq!(
            plan(Some(&no_commit)),
            Ok(RefPlan::Name("refs/heads/x".into()))
        );
        let no_name = GitRepositoryRef {
            name: None,
            ..no_commit
        };
        assert_eq!(plan(Some(&no_name)), Ok(RefPlan::Semver(">=1".into())));
        let no_semver = GitRepositoryRef {
            semver: None,
            ..no_name
        };
        assert_eq!(plan(Some(&no_semver)), Ok(RefPlan::Tag("v1".into())));
        assert_eq!(plan(None), Ok(RefPlan::Branch("master".into())));
    }

    #[test]
    fn invalid_values_name_the_field() {
        let cases = [
            (
                git_ref(|r| r.commit = Some("abc".into())),
                "spec.ref.commit",
            ),
            (git_ref(|r| r.name = Some("main".into())), "spec.ref.name"),
            (
                git_ref(|r| r.semver = Some(">=banana".into())),
                "spec.ref.semver",
            ),
            (
                git_ref(|r| r.branch = Some("a..b".into())),
                "spec.ref.branch",
            ),
            (git_ref(|r| r.tag = Some("v 1".into())), "spec.ref.tag"),
        ];
        for (reference, field) in cases {
            let err = plan(Some(&reference)).expect_err(field);
            assert!(err.contains(field), "{err}");
        }
    }

    #[test]
    fn resolves_branch_tag_and_name_revisions() {
        let refs = [
            r("refs/heads/main", C1),
            RemoteRef {
                name: "refs/tags/v1.0.0".into(),
                target: C2.into(),
                peeled: Some(C3.into()),
            },
        ];
        assert_eq!(
            resolve(&RefPlan::Branch("main".into()), &refs).map(|r| r.revision),
            Ok(format!("main@sha1:{C1}"))
        );
        let tag = resolve(&RefPlan::Tag("v1.0.0".into()), &refs).expect("tag");
        assert_eq!(
            (tag.commit.as_str(), tag.revision),
            (C3, format!("v1.0.0@sha1:{C3}"))
        );
        assert_eq!(
            resolve(&RefPlan::Name("refs/heads/main".into()), &refs).map(|r| r.revision),
            Ok(format!("refs/heads/main@sha1:{C1}"))
        );
        let missing = resolve(&RefPlan::Branch("dev".into()), &refs).expect_err("missing");
        assert!(missing.contains("\"dev\""), "{missing}");
    }

    #[test]
    fn semver_picks_highest_matching_tag() {
        let refs = [
            r("refs/tags/v1.0.0", C1),
            r("refs/tags/v1.2.0", C2),
            r("refs/tags/v2.0.0", C3),
            r("refs/tags/v1.3.0-rc.1", C3),
            r("refs/tags/not-a-version", C3),
        ];
        let pick = |range: &str| resolve(&RefPlan::Semver(range.into()), &refs).map(|r| r.revision);
        assert_eq!(pick(">=1.0.0 <2.0.0"), Ok(format!("v1.2.0@sha1:{C2}")));
        assert_eq!(pick("~1.0"), Ok(format!("v1.0.0@sha1:{C1}")));
        assert_eq!(pick("^2"), Ok(format!("v2.0.0@sha1:{C3}")));
        assert_eq!(pick("1.0.0 || >= 2.0.0"), Ok(format!("v2.0.0@sha1:{C3}")));
        assert!(pick(">=3").expect_err("none").contains("no tag matches"));
    }

    #[test]
    fn commit_revisions() {
        let refs = [r("refs/heads/main", C1)];
        let plain = RefPlan::Commit {
            commit: C2.into(),
            branch: None,
        };
        assert_eq!(
            resolve(&plain, &refs).map(|r| r.revision),
            Ok(format!("sha1:{C2}"))
        );
        let on_branch = RefPlan::Commit {
            commit: C2.into(),
            branch: Some("main".into()),
        };
        assert_eq!(
            resolve(&on_branch, &refs).map(|r| r.revision),
            Ok(format!("main@sha1:{C2}"))
        );
        assert!(!shallow(&plain));
    }
}
