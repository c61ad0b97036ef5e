//! Errors of Sprig functions, against the messages `helm template` (v4.1.4) printed after
//! `executing "..." at <...>: ` for the same template text.

use weir_helm::sprig::functions;
use weir_helm::template::TemplateSet;
use weir_helm::value::Value;

/// (template, Helm's message)
const CASES: &[(&str, &str)] = &[
    (
        r#"{{ first "abc" }}"#,
        r#"error calling first: Cannot find first on type string"#,
    ),
    (
        r#"{{ first nil }}"#,
        r#"error calling first: runtime error: invalid memory address or nil pointer dereference"#,
    ),
    (
        r#"{{ append "x" 1 }}"#,
        r#"error calling append: Cannot push on type string"#,
    ),
    (
        r#"{{ has 1 "x" }}"#,
        r#"error calling has: Cannot find has on type string"#,
    ),
    (
        r#"{{ concat (list 1) "x" }}"#,
        r#"error calling concat: Cannot concat type string as list"#,
    ),
    (
        r#"{{ div 1 0 }}"#,
        r#"error calling div: runtime error: integer divide by zero"#,
    ),
    (
        r#"{{ mod 1 0 }}"#,
        r#"error calling mod: runtime error: integer divide by zero"#,
    ),
    (
        r#"{{ repeat -1 "x" }}"#,
        r#"error calling repeat: strings: negative Repeat count"#,
    ),
    (
        r#"{{ semver "foo" }}"#,
        r#"error calling semver: invalid semantic version"#,
    ),
    (
        r#"{{ semverCompare "foo" "1.2.3" }}"#,
        r#"error calling semverCompare: improper constraint: foo"#,
    ),
    (
        r#"{{ semverCompare "1.x" "bar" }}"#,
        r#"error calling semverCompare: invalid semantic version"#,
    ),
    (
        r#"{{ mustRegexMatch "(" "x" }}"#,
        r#"error calling mustRegexMatch: error parsing regexp: missing closing ): `(`"#,
    ),
    (
        r#"{{ regexFind "[" "x" }}"#,
        r#"error calling regexFind: regexp: Compile(`[`): error parsing regexp: missing closing ]: `[`"#,
    ),
    (
        r#"{{ dig "a" "b" "c" "x" (dict "a" (dict "b" "s")) }}"#,
        r#"error calling dig: interface conversion: interface {} is string, not map[string]interface {}"#,
    ),
    (
        r#"{{ dig "a" (dict) }}"#,
        r#"error calling dig: dig needs at least three arguments"#,
    ),
    (
        r#"{{ mustFromJson "{bad" }}"#,
        r#"error calling mustFromJson: invalid character 'b' looking for beginning of object key string"#,
    ),
    (
        r#"{{ mustDateModify "bad" now }}"#,
        r#"error calling mustDateModify: time: invalid duration "bad""#,
    ),
    (
        r#"{{ mustToDate "2006-01-02" "x" }}"#,
        r#"error calling mustToDate: parsing time "x" as "2006-01-02": cannot parse "x" as "2006""#,
    ),
    (
        r#"{{ randInt 5 5 }}"#,
        r#"error calling randInt: invalid argument to Intn"#,
    ),
    (
        r#"{{ slice (list 1 2) 3 }}"#,
        r#"error calling slice: reflect.Value.Slice: slice index out of bounds"#,
    ),
    (
        r#"{{ substr 4 2 "hello" }}"#,
        r#"error calling substr: runtime error: slice bounds out of range [4:2]"#,
    ),
    (
        r#"{{ chunk 0 (list 1) }}"#,
        r#"error calling chunk: runtime error: makeslice: len out of range"#,
    ),
    (
        r#"{{ without "s" 1 }}"#,
        r#"error calling without: Cannot find without on type string"#,
    ),
    (
        r#"{{ uniq 1 }}"#,
        r#"error calling uniq: Cannot find uniq on type int"#,
    ),
];

#[test]
fn errors_read_as_helms() {
    let mut wrong = Vec::new();
    for (text, want) in CASES {
        let mut set = TemplateSet::new(functions());
        set.add("t", text).expect("parses");
        match set.execute("t", &Value::Nil) {
            Ok(out) => wrong.push(format!("{text}: rendered {out:?}, want error {want:?}")),
            Err(e) if e.to_string().contains(want) => {}
            Err(e) => wrong.push(format!("{text}:\n  want {want}\n  got  {e}")),
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} differ:\n{}",
        wrong.len(),
        CASES.len(),
        wrong.join("\n")
    );
}
