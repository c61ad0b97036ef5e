//! `semverCompare` against `helm template` (v4.1.4): every constraint below checked
//! against every version, with the results Helm rendered.

use weir_helm::sprig::semver::{Constraints, Version, compare};

const VERSIONS: &[&str] = &[
    "1.2.3",
    "1.2.0",
    "1.2.4",
    "1.3.0",
    "1.1.9",
    "2.0.0",
    "0.2.3",
    "0.2.5",
    "0.3.0",
    "0.0.3",
    "0.0.4",
    "0.1.0",
    "1.0.0",
    "0.0.0",
    "3.1.0",
    "3.1.0-beta",
    "1.4.5",
    "1.4.6",
    "1.2.3-beta",
    "1.2.3-alpha",
    "1.2.3-rc.2",
    "1.2.3-rc.1",
    "1.2.4-0",
    "2.0.0-rc1",
    "v1.2.3",
    "1.2.3+build",
    "1.2",
    "1",
    "1.5.0-beta.1",
    "v1.29.3-eks-adc7111",
    "v1.21.0",
    "1.20.15+k3s1",
    "v1.19.0-rc.1",
    "1.5.0",
];

/// Each constraint with one letter per version of [`VERSIONS`]: `T` satisfied, `.` not.
const TABLE: &[(&str, &str)] = &[
    ("1.2.3", "T.......................TT........"),
    ("=1.2.3", "T.......................TT........"),
    ("!=1.2.3", ".TTTTTTTTTTTTTT.TT........TT..TT.T"),
    ("!=1.2", "...TTTTTTTTTTTT.TT.........T..TT.T"),
    ("!=1.x", ".....TTTTTTT.TT..................."),
    (">1.2", "...T.T........T.TT............TT.T"),
    (">1.2.3", "..TT.T........T.TT............TT.T"),
    (">1", ".....T........T..................."),
    (">=1.2", "TTTT.T........T.TT......TTT...TT.T"),
    (">= 1.2.3", "T.TT.T........T.TT......TT....TT.T"),
    ("<1.2", "....T.TTTTTTTT.............T......"),
    ("<1.2.3", ".T..T.TTTTTTTT............TT......"),
    ("<=1.2", "TTT.T.TTTTTTTT..........TTTT......"),
    ("<=1", "TTTTT.TTTTTTTT..TT......TTTT..TT.T"),
    ("<=1.2.3", "TT..T.TTTTTTTT..........TTTT......"),
    ("=<1.2", "TTT.T.TTTTTTTT..........TTTT......"),
    ("=>1.2", "TTTT.T........T.TT......TTT...TT.T"),
    ("~1.2.3", "T.T.....................TT........"),
    ("~1.2", "TTT.....................TTT......."),
    ("~1", "TTTTT.......T...TT......TTTT..TT.T"),
    ("~>1.2", "TTT.....................TTT......."),
    ("~0", "......TTTTTT.T...................."),
    ("~0.0.0", "TTTTTTTTTTTTTTT.TT......TTTT..TT.T"),
    ("^1.2.3", "T.TT............TT......TT....TT.T"),
    ("^1.2", "TTTT............TT......TTT...TT.T"),
    ("^1", "TTTTT.......T...TT......TTTT..TT.T"),
    ("^0.2.3", "......TT.........................."),
    ("^0.2", "......TT.........................."),
    ("^0.0.3", ".........T........................"),
    ("^0.0", ".........TT..T...................."),
    ("^0", "......TTTTTT.T...................."),
    ("^0.0.0", ".............T...................."),
    ("1.x", "TTTTT.......T...TT......TTTT..TT.T"),
    ("1.2.x", "TTT.....................TTT......."),
    ("1.2.*", "TTT.....................TTT......."),
    ("*", "TTTTTTTTTTTTTTT.TT......TTTT..TT.T"),
    ("x", "TTTTTTTTTTTTTTT.TT......TTTT..TT.T"),
    ("1.X", "TTTTT.......T...TT......TTTT..TT.T"),
    (">= 1.2, < 2.0", "TTTT............TT......TTT...TT.T"),
    (">=1.2 <2.0", "TTTT............TT......TTT...TT.T"),
    ("1.2 - 1.4.5", "TTTT............T.......TTT......."),
    ("1.2 - 1.4", "TTTT............TT......TTT......."),
    ("1 - 2", "TTTTTT......T...TT......TTTT..TT.T"),
    (">=1.0.0-0", "TTTTTT......T.TTTTTTTTTTTTTTTTTTTT"),
    ("~1.2.3-beta", "T.T...............T.TTT.TT........"),
    (">1.2.3-alpha", "T.TT.T........TTTTT.TTTTTT..TTTTTT"),
    ("^1.2.3-rc.1", "T.TT............TT..TTT.TT..TTTTTT"),
    ("<2.0.0 || >=3.0.0", "TTTTT.TTTTTTTTT.TT......TTTT..TT.T"),
    ("1.2.3 || 2.x", "T....T..................TT........"),
    ("  >= 1.0  ", "TTTTTT......T.T.TT......TTTT..TT.T"),
    (">=1.2.3-0 <2", "T.TT............TTTTTTTTTT..TTTTTT"),
    ("v1.2", "TTT.....................TTT......."),
    ("=v1.2.3", "T.......................TT........"),
    (">1.x", ".....T........T..................."),
    (">1.2.x", "...T.T........T.TT............TT.T"),
    ("<=1.x", "TTTTT.TTTTTTTT..TT......TTTT..TT.T"),
    ("<=1.2.x", "TTT.T.TTTTTTTT..........TTTT......"),
    ("!=1.2.x", "...TTTTTTTTTTTT.TT.........T..TT.T"),
    ("!=1.2.3-beta.1", "TTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTT"),
    (
        ">= 1.2.0-0, < 1.3.0-0",
        "TTT...............TTTTT.TTT.......",
    ),
    (">=1.2.3-0 <2 || >3", "T.TT............TTTTTTTTTT..TTTTTT"),
    ("<2 >=1.2.3-0", "T.TT............TTTTTTTTTT..TTTTTT"),
    ("!=1.2.3-beta", "TTTTTTTTTTTTTTTTTT.TTTTTTTTTTTTTTT"),
    ("> 1.2.3-alpha.1", "T.TT.T........TTTTT.TTTTTT..TTTTTT"),
    (
        "<=1.2.3-rc.1 >=0.0.0-0",
        ".T..T.TTTTTTTT....TT.T....TT......",
    ),
    ("~1.2.x", "TTT.....................TTT......."),
    ("^1.x", "TTTTT.......T...TT......TTTT..TT.T"),
    ("^0.x", "......TTTTTT.T...................."),
    ("~0.2", "......TT.........................."),
    ("1.2.3 - 2.0.0-rc1", "T.TT............TT....TTTT..TTTTTT"),
    (">=1.19-0", ".....T........TT.......T.....TTTT."),
    ("<1.22-0", "TTTTT.TTTTTTTT..TTTTTTT.TTTTT.TTTT"),
    (">=1.16.0-0 <1.22.0-0", "..............................TTT."),
    (">= 1.21.0-0", ".....T........TT.......T.....TT..."),
    ("~1.20.0-0", "...............................T.."),
    ("=1.2.3-beta", "..................T..............."),
    ("1.2.3-beta", "..................T..............."),
    ("^1.2.x", "TTTT............TT......TTT...TT.T"),
    (
        "> 1.0, < 2.0, != 1.5.0",
        "TTTTT...........TT......TTT...TT..",
    ),
];

#[test]
fn semver_compare_matches_helm() {
    let mut wrong = Vec::new();
    for (constraint, expected) in TABLE {
        for (version, want) in VERSIONS.iter().zip(expected.chars()) {
            let got = compare(constraint, version).expect("valid constraint and version");
            if got != (want == 'T') {
                wrong.push(format!(
                    "{constraint:?} {version:?}: want {want}, got {got}"
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} mismatches:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

#[test]
fn bad_constraints_are_refused_with_helms_messages() {
    let cases = [
        ("", "improper constraint: "),
        ("foo", "improper constraint: foo"),
        ("1|2", "constraint parser error"),
    ];
    for (constraint, message) in cases {
        let err = Constraints::parse(constraint).expect_err(constraint);
        assert_eq!(err.to_string(), message, "{constraint:?}");
    }
}

#[test]
fn bad_versions_are_refused_with_helms_messages() {
    let cases = [
        ("foo", "invalid semantic version"),
        ("x", "invalid semantic version"),
        ("1.2.3-01", "version segment starts with 0"),
    ];
    for (version, message) in cases {
        let err = Version::parse(version).expect_err(version);
        assert_eq!(err.to_string(), message, "{version:?}");
    }
}

#[test]
fn versions_read_leniently_as_helm_prints_them() {
    // {{ semver "v1.2" }} → 1.2.0, .Original → v1.2; {{ semver "1.02.3" }} → 1.2.3
    let v = Version::parse("v1.2").expect("version");
    assert_eq!(v.to_string(), "1.2.0");
    assert_eq!(v.original(), "v1.2");
    assert_eq!(
        Version::parse("1.02.3").expect("version").to_string(),
        "1.2.3"
    );
    let v = Version::parse("1.2.3-rc.1+build.5").expect("version");
    assert_eq!(
        (
            v.major(),
            v.minor(),
            v.patch(),
            v.prerelease(),
            v.metadata()
        ),
        (1, 2, 3, "rc.1", "build.5")
    );
}
