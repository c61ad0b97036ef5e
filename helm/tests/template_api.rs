//! The template API as Helm's engine uses it: a shared namespace of defines across texts,
//! functions calling back into the set (`include`, `tpl`), limits, and the `Value` type.
//! Expected values follow Go's `text/template` (`include` is `ExecuteTemplate`, `tpl` parses
//! into a clone of the set).

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use weir_helm::template::{Func, FuncMap, Limits, Options, Param, TemplateSet};
use weir_helm::value::Value;

fn helm_like_funcs() -> FuncMap {
    let mut funcs = FuncMap::new();
    // Go: func(name string, data interface{}) (string, error)
    funcs.insert(
        "include".into(),
        Func::new(&[Param::String, Param::Any], |ctx, args| {
            let name = args
                .first()
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let data = args.get(1).cloned().unwrap_or_default();
            let n = ctx.counter(&name);
            *n += 1;
            if *n > 1000 {
                return Err(weir_helm::template::FuncError::new(format!(
                    "rendering template has a nested reference name: {name}"
                )));
            }
            let r = ctx.execute(&name, &data);
            *ctx.counter(&name) -= 1;
            Ok(Value::from(r?))
        }),
    );
    // Go: func(text string, data interface{}) (string, error)
    funcs.insert(
        "tpl".into(),
        Func::new(&[Param::String, Param::Any], |ctx, args| {
            let text = args
                .first()
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let data = args.get(1).cloned().unwrap_or_default();
            let name = ctx.template_name().to_string();
            Ok(Value::from(ctx.execute_text(&name, &text, &data)?))
        }),
    );
    funcs
}

fn values(pairs: &[(&str, Value)]) -> Value {
    let m: BTreeMap<String, Value> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    Value::map(m)
}

#[test]
fn defines_are_shared_across_texts_and_include_calls_back() {
    let mut set = TemplateSet::new(helm_like_funcs());
    set.add(
        "_helpers.tpl",
        r#"{{ define "name" }}{{ .n | printf "%s-app" }}{{ end }}"#,
    )
    .unwrap();
    set.add(
        "a.yaml",
        r#"name: {{ include "name" . }} / {{ template "name" . }}"#,
    )
    .unwrap();
    let out = set
        .execute("a.yaml", &values(&[("n", Value::from("web"))]))
        .unwrap();
    assert_eq!(out, "name: web-app / web-app");
}

#[test]
fn tpl_defines_stay_local_and_see_the_set() {
    let mut set = TemplateSet::new(helm_like_funcs());
    set.add("_h.tpl", r#"{{ define "h" }}H{{ end }}"#).unwrap();
    set.add("t", r#"{{ tpl "{{ define \"x\" }}X{{ end }}{{ template \"x\" }}{{ include \"h\" . }}{{ .v }}" . }}"#)
        .unwrap();
    assert_eq!(
        set.execute("t", &values(&[("v", Value::from(1.5))]))
            .unwrap(),
        "XH1.5"
    );
    assert!(!set.has("x"));
}

#[test]
fn errors_from_included_templates_nest_like_go() {
    let mut set = TemplateSet::new(helm_like_funcs());
    set.add("_h.tpl", "{{ define \"bad\" }}{{ .a.b }}{{ end }}")
        .unwrap();
    set.add("t", "{{ include \"bad\" . }}").unwrap();
    let err = set.execute("t", &values(&[])).unwrap_err().to_string();
    assert_eq!(
        err,
        "template: t:1:3: executing \"t\" at <include \"bad\" .>: error calling include: \
         template: _h.tpl:1:23: executing \"bad\" at <.a.b>: nil pointer evaluating interface {}.b"
    );
}

#[test]
fn include_recursion_is_bounded() {
    let mut set = TemplateSet::new(helm_like_funcs());
    set.add(
        "t",
        r#"{{ define "r" }}{{ include "r" . }}{{ end }}{{ include "r" . }}"#,
    )
    .unwrap();
    // Helm's per-name counter (in this test's `include`) stops it at 1000 nested calls.
    let err = set.execute("t", &Value::Nil).unwrap_err().to_string();
    assert!(
        err.ends_with("error calling include: rendering template has a nested reference name: r")
    );
    assert_eq!(err.matches("error calling include").count(), 1001);
}

#[test]
fn template_recursion_and_output_are_bounded() {
    let mut set = TemplateSet::new(FuncMap::new()).with_options(Options {
        limits: Limits {
            max_output: 1000,
            ..Limits::default()
        },
        ..Options::default()
    });
    set.add(
        "t",
        r#"{{ define "r" }}{{ template "r" . }}{{ end }}{{ template "r" }}"#,
    )
    .unwrap();
    let err = set.execute("t", &Value::Nil).unwrap_err().to_string();
    assert!(err.contains("exceeded maximum template depth"), "{err}");
    set.add("big", r#"{{ range 2000 }}x{{ end }}"#).unwrap();
    let err = set.execute("big", &Value::Nil).unwrap_err().to_string();
    assert!(err.contains("output exceeds 1000 bytes"), "{err}");
}

#[test]
fn deep_nesting_is_a_parse_error_not_a_crash() {
    let text = "{{ if 1 }}".repeat(5000) + &"{{ end }}".repeat(5000);
    let mut set = TemplateSet::new(FuncMap::new());
    let err = set.add("deep", &text).unwrap_err().to_string();
    assert!(err.contains("max expression depth exceeded"), "{err}");
    let parens = "{{ ".to_string() + &"(".repeat(5000) + "1" + &")".repeat(5000) + " }}";
    assert!(set.add("parens", &parens).is_err());
}

#[test]
fn batch_execution_matches_single() {
    let mut set = TemplateSet::new(FuncMap::new());
    set.add("a", "A{{ . }}").unwrap();
    set.add("b", "B{{ . }}").unwrap();
    let one = Value::from("1");
    let two = Value::Int(2);
    let r = set.execute_batch(&[("a", &one), ("b", &two), ("c", &two)]);
    assert_eq!(r[0].as_ref().unwrap(), "A1");
    assert_eq!(r[1].as_ref().unwrap(), "B2");
    assert_eq!(
        r[2].as_ref().unwrap_err().to_string(),
        "template: no template \"c\" associated with template \"gotpl\""
    );
}

#[test]
fn values_print_and_type_like_go() {
    let json: serde_json::Value =
        serde_json::from_str(r#"{"n": 1000000, "l": ["a", 1, null], "m": {"b": 2, "a": true}}"#)
            .unwrap();
    let v = Value::from_json(&json);
    assert_eq!(
        v.to_string(),
        "map[l:[a 1 <nil>] m:map[a:true b:2] n:1e+06]"
    );
    assert_eq!(v.type_name(), "map[string]interface {}");
    assert_eq!(Value::string_list(["a"]).type_name(), "[]string");
    assert_eq!(Value::bytes(b"hi".to_vec()).type_name(), "[]uint8");
    assert_eq!(Value::Nil.kind(), "invalid");
    assert!(!Value::list(vec![]).truth());
    assert_eq!(v.to_json(), json);
}

#[test]
fn nesting_up_to_the_limit_parses_and_runs_on_a_small_stack() {
    let h = std::thread::Builder::new()
        .stack_size(2 * 1024 * 1024)
        .spawn(|| {
            let n = 199;
            let text = "{{ if 1 }}".repeat(n) + "x" + &"{{ end }}".repeat(n);
            let mut set = TemplateSet::new(FuncMap::new());
            set.add("deep", &text).unwrap();
            let parens = "{{ ".to_string() + &"(".repeat(n) + "1" + &")".repeat(n) + " }}";
            set.add("parens", &parens).unwrap();
            (
                set.execute("deep", &Value::Nil).unwrap(),
                set.execute("parens", &Value::Nil).unwrap(),
            )
        })
        .unwrap();
    assert_eq!(h.join().unwrap(), ("x".to_string(), "1".to_string()));
}

#[test]
fn hostile_format_precision_and_width_do_not_panic() {
    let mut set = TemplateSet::new(FuncMap::new());
    set.add(
        "t",
        r#"{{ printf "%.100000f|%.70000e|%.70000g|%100000d" 1.5 1.5 1.5 1 | len }}"#,
    )
    .unwrap();
    let out = set.execute("t", &Value::Nil).unwrap();
    assert_eq!(out, (100_002 + 70_006 + 3 + 100_000 + 3).to_string());
}
