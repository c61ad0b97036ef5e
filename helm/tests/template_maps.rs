//! Go's map reference semantics through the template engine and Sprig: maps are shared, and
//! `set`, `unset`, `merge` and `mergeOverwrite` change their first argument in place.
//!
//! The cases in [`GO_CASES`] were recorded by running the same templates through Go 1.19's
//! `text/template` (with `missingkey=zero`, as Helm sets it) and the same data decoded by
//! `encoding/json`, with Sprig's `dict`, `list`, `set`, `unset`, `hasKey`, `get`, `pick`,
//! `omit`, `pluck` and `dig` copied from Sprig v3's source, `deepEqual` as
//! `reflect.DeepEqual`, `typeOf` as `fmt.Sprintf("%T")`, `deepCopy` as a recursive copy of
//! the JSON types (what copystructure does for them) and Helm's `toJson`, `mustToJson` and
//! `fromJson`. Named data stood for `chartutil.Values` as a Go `type Values
//! map[string]interface{}` in package `main`; its `%T` (`main.Values`) is written here as
//! the type name given to the map (`chartutil.Values`).
//!
//! The cases in [`OTHER_CASES`] were not recorded from Go: `merge` and `mergeOverwrite`
//! (mergo is not available offline; they follow Sprig's documentation, "merge two or more
//! dictionaries into one, giving precedence to the dest dictionary", mergo's in-place
//! semantics, and the helm-recorded cases in `sprig_functions.rs`), and what Go cannot do
//! at all: printing, copying or merging a map that contains itself, where Go recurses until
//! its stack overflows (`fatal error: stack overflow`) and we print `...` or fail instead.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::sync::Arc;

use weir_helm::sprig::functions;
use weir_helm::template::TemplateSet;
use weir_helm::value::Value;

struct Case {
    /// Texts added to one set as `t0`, `t1`, ...; executed in order with the same data.
    tpls: &'static [&'static str],
    /// JSON data (`None`: nil).
    data: Option<&'static str>,
    /// Whether the data (and each map directly in it) is a `chartutil.Values`.
    named: bool,
    /// Each execution's output, or `ERR: ` and its error.
    want: &'static [&'static str],
}

const VALUES: &str = "chartutil.Values";

fn data(c: &Case) -> Value {
    let Some(text) = c.data else {
        return Value::Nil;
    };
    let json: serde_json::Value = serde_json::from_str(text).unwrap();
    let v = Value::from_json(&json);
    if !c.named {
        return v;
    }
    let named = |v: &Value| match v {
        Value::Map(m) => Value::Map(Arc::new(m.with_type(Some(VALUES.into())))),
        other => other.clone(),
    };
    let top = v.as_map().unwrap().snapshot();
    Value::named_map(
        VALUES,
        top.iter().map(|(k, v)| (k.clone(), named(v))).collect(),
    )
}

fn run(c: &Case) -> Vec<String> {
    let mut set = TemplateSet::new(functions());
    for (i, text) in c.tpls.iter().enumerate() {
        set.add(&format!("t{i}"), text).unwrap();
    }
    let data = data(c);
    (0..c.tpls.len())
        .map(|i| match set.execute(&format!("t{i}"), &data) {
            Ok(out) => out,
            Err(e) => format!("ERR: {e}"),
        })
        .collect()
}

fn check(cases: &[Case]) {
    let mut failures = Vec::new();
    for c in cases {
        let got = run(c);
        if got != c.want {
            failures.push(format!(
                "{:?}\n   want {:?}\n   got  {got:?}",
                c.tpls, c.want
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// Recorded from Go (see the module docs).
const GO_CASES: &[Case] = &[
    // set, then read through the variable.
    Case {
        tpls: &[r#"{{ $d := dict }}{{ $_ := set $d "k" "v" }}{{ $d.k }}"#],
        data: None,
        named: false,
        want: &["v"],
    },
    // set returns its argument: both names are one map.
    Case {
        tpls: &[
            r#"{{ $d := dict "a" 1 }}{{ $e := set $d "b" 2 }}{{ $_ := set $e "c" 3 }}{{ $d }}|{{ $e }}|{{ deepEqual $d $e }}"#,
        ],
        data: None,
        named: false,
        want: &["map[a:1 b:2 c:3]|map[a:1 b:2 c:3]|true"],
    },
    // set through a nested path is visible from the parent.
    Case {
        tpls: &[r#"{{ $p := dict "c" (dict) }}{{ $_ := set $p.c "x" 1 }}{{ $p }}|{{ $p.c.x }}"#],
        data: None,
        named: false,
        want: &["map[c:map[x:1]]|1"],
    },
    // One map held by two maps: a change through one path shows through every other.
    Case {
        tpls: &[
            r#"{{ $c := dict }}{{ $p := dict "c" $c }}{{ $q := dict "also" $c }}{{ $_ := set $p.c "x" 1 }}{{ $c }}|{{ $q.also.x }}|{{ index $q "also" "x" }}"#,
        ],
        data: None,
        named: false,
        want: &["map[x:1]|1|1"],
    },
    // A map inside a list is shared too (the list itself stays a value).
    Case {
        tpls: &[
            r#"{{ $c := dict }}{{ $l := list $c "s" }}{{ $_ := set $c "x" 1 }}{{ index $l 0 }}|{{ (index $l 0).x }}|{{ $l }}"#,
        ],
        data: None,
        named: false,
        want: &["map[x:1]|1|[map[x:1] s]"],
    },
    // Data changed by one template is seen by the next execution with the same data.
    Case {
        tpls: &[
            r#"{{ $_ := set .a "added" "yes" }}{{ .a.added }}|{{ .a }}"#,
            r#"{{ .a.added }}|{{ hasKey .a "added" }}"#,
        ],
        data: Some(r#"{"a": {"b": 1}}"#),
        named: false,
        want: &["yes|map[added:yes b:1]", "yes|true"],
    },
    // `.Values` as a chartutil.Values, changed in one template, seen in the next.
    Case {
        tpls: &[
            r#"{{ $_ := set .Values "x" 1 }}{{ $_ := set .Values.sub "y" 2 }}done"#,
            r#"{{ .Values.x }}|{{ .Values.sub.y }}|{{ .Values }}|{{ typeOf .Values }}"#,
        ],
        data: Some(r#"{"Values": {"sub": {}}}"#),
        named: true,
        want: &["done", "1|2|map[sub:map[y:2] x:1]|chartutil.Values"],
    },
    // A named map passed to set is converted to the parameter's type, still the same map.
    Case {
        tpls: &[r#"{{ typeOf (set . "x" 1) }}|{{ .x }}|{{ typeOf . }}"#],
        data: Some("{}"),
        named: true,
        want: &["map[string]interface {}|1|chartutil.Values"],
    },
    // unset, directly and through another variable holding the map.
    Case {
        tpls: &[
            r#"{{ $d := dict "a" 1 "b" 2 }}{{ $_ := unset $d "a" }}{{ $d }}|{{ hasKey $d "a" }}|{{ $e := $d }}{{ $_ := unset $e "b" }}{{ len $d }}"#,
        ],
        data: None,
        named: false,
        want: &["map[b:2]|false|0"],
    },
    // deepCopy is independent, nested maps and maps in lists included.
    Case {
        tpls: &[
            r#"{{ $d := dict "n" (dict "x" 1) "l" (list (dict "y" 1)) }}{{ $c := deepCopy $d }}{{ $_ := set $c.n "x" 2 }}{{ $_ := set (index $c.l 0) "y" 2 }}{{ $_ := set $c "new" 3 }}{{ $d }}|{{ $c }}"#,
        ],
        data: None,
        named: false,
        want: &["map[l:[map[y:1]] n:map[x:1]]|map[l:[map[y:2]] n:map[x:2] new:3]"],
    },
    Case {
        tpls: &[
            r#"{{ $d := dict "a" (dict "b" 1) }}{{ $e := deepCopy $d }}{{ deepEqual $d $e }}|{{ $_ := set $e.a "b" 2 }}{{ deepEqual $d $e }}"#,
        ],
        data: None,
        named: false,
        want: &["true|false"],
    },
    // dict makes a fresh map each time it is called.
    Case {
        tpls: &[
            r#"{{ range $i := list 1 2 3 }}{{ $d := dict }}{{ $_ := set $d (printf "k%v" $i) $i }}{{ $d }}{{ end }}"#,
        ],
        data: None,
        named: false,
        want: &["map[k1:1]map[k2:2]map[k3:3]"],
    },
    // pick and omit make fresh maps.
    Case {
        tpls: &[
            r#"{{ $d := dict "a" 1 "b" 2 }}{{ $p := pick $d "a" }}{{ $o := omit $d "a" }}{{ $_ := set $p "a" 9 }}{{ $_ := set $o "b" 9 }}{{ $d }}|{{ $p }}|{{ $o }}"#,
        ],
        data: None,
        named: false,
        want: &["map[a:1 b:2]|map[a:9]|map[b:9]"],
    },
    // fromJson makes fresh maps.
    Case {
        tpls: &[
            r#"{{ $s := `{"a":{"b":1}}` }}{{ $x := fromJson $s }}{{ $y := fromJson $s }}{{ $_ := set $x.a "b" 2 }}{{ $y.a.b }}|{{ $x.a.b }}"#,
        ],
        data: None,
        named: false,
        want: &["1|2"],
    },
    // range takes the keys and values when it starts; the body may change the map.
    Case {
        tpls: &[
            r#"{{ $d := dict "a" 1 "b" 2 "c" 3 }}{{ range $k, $v := $d }}{{ $_ := set $d "z" 26 }}{{ $_ := unset $d "b" }}{{ $_ := set $d "c" 33 }}{{ $k }}={{ $v }};{{ end }}|{{ $d }}"#,
        ],
        data: None,
        named: false,
        want: &["a=1;b=2;c=3;|map[a:1 c:33 z:26]"],
    },
    // The values range gives are the maps themselves.
    Case {
        tpls: &[
            r#"{{ $d := dict "m" (dict) "n" (dict) }}{{ range $k, $v := $d }}{{ $_ := set $v "x" $k }}{{ end }}{{ $d }}"#,
        ],
        data: None,
        named: false,
        want: &["map[m:map[x:m] n:map[x:n]]"],
    },
    // Field access, index, get, hasKey, pluck and dig see what set put in.
    Case {
        tpls: &[
            r#"{{ $d := dict }}{{ $_ := set $d "k" "v" }}{{ index $d "k" }}|{{ get $d "k" }}|{{ hasKey $d "k" }}|{{ pluck "k" $d (dict "k" 2) }}|{{ dig "k" "dflt" $d }}"#,
        ],
        data: None,
        named: false,
        want: &["v|v|true|[v 2]|v"],
    },
    // A map passed to a template, or made dot by with, is the same map.
    Case {
        tpls: &[
            r#"{{ define "mut" }}{{ $_ := set . "seen" true }}{{ end }}{{ $d := dict }}{{ template "mut" $d }}{{ $d.seen }}"#,
        ],
        data: None,
        named: false,
        want: &["true"],
    },
    Case {
        tpls: &[r#"{{ $d := dict "x" 1 }}{{ with $d }}{{ $_ := set . "y" 2 }}{{ end }}{{ $d }}"#],
        data: None,
        named: false,
        want: &["map[x:1 y:2]"],
    },
    // A map inside itself: reading through it works, toJson gives "" (Helm swallows the
    // error), deepEqual ends (Go's visited pairs), range sees the keys once.
    Case {
        tpls: &[
            r#"{{ $d := dict "a" 1 }}{{ $_ := set $d "self" $d }}{{ len $d }}|{{ len $d.self.self.self }}|{{ $d.self.self.a }}|{{ hasKey $d.self "self" }}|{{ toJson $d }}|{{ deepEqual $d $d.self }}|{{ range $k, $v := $d }}{{ $k }};{{ end }}"#,
        ],
        data: None,
        named: false,
        want: &["2|2|1|true||true|a;self;"],
    },
    Case {
        tpls: &[r#"{{ $d := dict "a" 1 }}{{ $_ := set $d "self" $d }}{{ mustToJson $d }}"#],
        data: None,
        named: false,
        want: &[
            r#"ERR: template: t0:1:53: executing "t0" at <mustToJson $d>: error calling mustToJson: json: unsupported value: encountered a cycle via map[string]interface {}"#,
        ],
    },
    // set $d "k" $d: no deadlock, and changes through the cycle are the map's.
    Case {
        tpls: &[
            r#"{{ $d := dict "a" 1 }}{{ $_ := set $d "k" $d }}{{ $d.k.a }}|{{ hasKey $d.k.k.k "k" }}|{{ $_ := set $d.k.k "b" 2 }}{{ $d.b }}"#,
        ],
        data: None,
        named: false,
        want: &["1|true|2"],
    },
    // A cycle through a list.
    Case {
        tpls: &[
            r#"{{ $d := dict "a" 1 }}{{ $l := list $d }}{{ $_ := set $d "l" $l }}{{ len (index $d.l 0).l }}|{{ toJson $d }}"#,
        ],
        data: None,
        named: false,
        want: &["1|"],
    },
    // Two distinct maps that each contain themselves are deeply equal in Go.
    Case {
        tpls: &[
            r#"{{ $a := dict }}{{ $_ := set $a "self" $a }}{{ $b := dict }}{{ $_ := set $b "self" $b }}{{ deepEqual $a $b }}|{{ deepEqual $a (dict "self" $a) }}"#,
        ],
        data: None,
        named: false,
        want: &["true|true"],
    },
    // set on a nil map panics in Go; unset, hasKey and get on nil are fine.
    Case {
        tpls: &[r#"{{ $_ := set nil "a" 1 }}"#],
        data: None,
        named: false,
        want: &[
            r#"ERR: template: t0:1:9: executing "t0" at <set nil "a" 1>: error calling set: assignment to entry in nil map"#,
        ],
    },
    Case {
        tpls: &[
            r#"{{ unset nil "a" }}|{{ hasKey nil "a" }}|{{ get nil "a" }}|{{ typeOf (unset nil "a") }}"#,
        ],
        data: None,
        named: false,
        want: &["map[]|false||map[string]interface {}"],
    },
    // A missing key is a nil interface{}, not a map.
    Case {
        tpls: &[r#"{{ $_ := set .nothing "a" 1 }}"#],
        data: Some("{}"),
        named: false,
        want: &[
            r#"ERR: template: t0:1:13: executing "t0" at <.nothing>: wrong type for value; expected map[string]interface {}; got interface {}"#,
        ],
    },
];

/// Not recorded from Go (see the module docs).
const OTHER_CASES: &[Case] = &[
    // merge and mergeOverwrite change the destination in place and return it.
    Case {
        tpls: &[
            r#"{{ $dst := dict "a" 1 }}{{ $_ := merge $dst (dict "a" 2 "b" 2) (dict "c" 3) }}{{ $dst }}|{{ $o := dict "a" 1 }}{{ $_ := mergeOverwrite $o (dict "a" 2 "b" 2) }}{{ $o }}"#,
        ],
        data: None,
        named: false,
        want: &["map[a:1 b:2 c:3]|map[a:2 b:2]"],
    },
    Case {
        tpls: &[
            r#"{{ $dst := dict "a" 1 }}{{ $r := mustMerge $dst (dict "b" 2) }}{{ $_ := set $r "c" 3 }}{{ $dst }}|{{ $r2 := mustMergeOverwrite $dst (dict "a" 9) }}{{ $dst.a }}|{{ deepEqual $r2 $dst }}"#,
        ],
        data: None,
        named: false,
        want: &["map[a:1 b:2 c:3]|9|true"],
    },
    // mergo merges nested maps into the destination's own nested map, in place.
    Case {
        tpls: &[
            r#"{{ $inner := dict "x" 1 }}{{ $dst := dict "n" $inner }}{{ $_ := merge $dst (dict "n" (dict "x" 5 "y" 2)) }}{{ $inner }}|{{ $_ := mergeOverwrite $dst (dict "n" (dict "x" 5)) }}{{ $inner }}"#,
        ],
        data: None,
        named: false,
        want: &["map[x:1 y:2]|map[x:5 y:2]"],
    },
    // merge into .Values is seen by the next template.
    Case {
        tpls: &[
            r#"{{ $_ := merge .Values (dict "x" 1 "sub" (dict "y" 2)) }}{{ typeOf (merge .Values) }}"#,
            r#"{{ .Values.x }}|{{ .Values.sub }}"#,
        ],
        data: Some(r#"{"Values": {"sub": {"z": 3}}}"#),
        named: true,
        want: &["map[string]interface {}", "1|map[y:2 z:3]"],
    },
    // merge $d $d and mergeOverwrite $d $d leave $d as it was, with or without a cycle.
    Case {
        tpls: &[
            r#"{{ $d := dict "a" 1 "n" (dict "b" 2) }}{{ $_ := merge $d $d }}{{ $_ := mergeOverwrite $d $d }}{{ $d }}|{{ $_ := set $d "self" $d }}{{ $_ := merge $d $d }}{{ $_ := mergeOverwrite $d $d }}{{ len $d }} {{ $d.self.self.a }}"#,
        ],
        data: None,
        named: false,
        want: &["map[a:1 n:map[b:2]]|3 1"],
    },
    // Merging a map with a cycle into another map: the cycle is shared, the merge ends.
    Case {
        tpls: &[
            r#"{{ $c := dict "a" 1 }}{{ $_ := set $c "self" $c }}{{ $dst := dict "self" (dict) }}{{ $_ := merge $dst $c }}{{ $dst.a }} {{ $dst.self.self.a }}"#,
        ],
        data: None,
        named: false,
        want: &["1 1"],
    },
    // Printing a map inside itself: `...` where it would repeat (Go overflows its stack).
    Case {
        tpls: &[
            r#"{{ $d := dict "a" 1 }}{{ $_ := set $d "self" $d }}{{ $d }}|{{ printf "%v %+v" $d $d }}|{{ printf "%#v" $d }}|{{ toString $d }}|{{ list $d }}"#,
        ],
        data: None,
        named: false,
        want: &[
            r#"map[a:1 self:...]|map[a:1 self:...] map[a:1 self:...]|map[string]interface {}{"a":1, "self":...}|map[a:1 self:...]|[map[a:1 self:...]]"#,
        ],
    },
    // A map that appears twice without a cycle prints twice.
    Case {
        tpls: &[
            r#"{{ $c := dict "x" 1 }}{{ dict "a" $c "b" $c }}|{{ toJson (dict "a" $c "b" $c) }}"#,
        ],
        data: None,
        named: false,
        want: &[r#"map[a:map[x:1] b:map[x:1]]|{"a":{"x":1},"b":{"x":1}}"#],
    },
    // toYaml gives "" for a cycle, as Helm does for what sigs.k8s.io/yaml cannot marshal.
    Case {
        tpls: &[
            r#"{{ $d := dict "a" 1 }}{{ $_ := set $d "self" $d }}[{{ toYaml $d }}][{{ toPrettyJson $d }}][{{ toRawJson $d }}]"#,
        ],
        data: None,
        named: false,
        want: &["[][][]"],
    },
    // deepCopy of a map inside itself fails (copystructure would overflow Go's stack).
    Case {
        tpls: &[
            r#"{{ $d := dict "a" 1 }}{{ $_ := set $d "self" $d }}{{ deepCopy $d }}"#,
            r#"{{ $d := dict "a" 1 }}{{ $_ := set $d "self" $d }}{{ mustDeepCopy (list $d) }}"#,
        ],
        data: None,
        named: false,
        want: &[
            r#"ERR: template: t0:1:53: executing "t0" at <deepCopy $d>: error calling deepCopy: deepCopy error: cannot copy a value that contains itself (a map[string]interface {} inside itself)"#,
            r#"ERR: template: t1:1:53: executing "t1" at <mustDeepCopy (list $d)>: error calling mustDeepCopy: cannot copy a value that contains itself (a map[string]interface {} inside itself)"#,
        ],
    },
    // keys and values see set and unset.
    Case {
        tpls: &[
            r#"{{ $d := dict "b" 2 }}{{ $_ := set $d "a" 1 }}{{ $_ := unset $d "b" }}{{ $_ := set $d "c" 3 }}{{ keys $d | sortAlpha }}|{{ values $d }}"#,
        ],
        data: None,
        named: false,
        want: &["[a c]|[1 3]"],
    },
];

#[test]
fn maps_are_references_as_in_go() {
    check(GO_CASES);
}

#[test]
fn merge_cycles_and_printing() {
    check(OTHER_CASES);
}

#[test]
fn nesting_beyond_the_depth_bound_is_cut_not_a_crash() {
    let mut set = TemplateSet::new(functions());
    set.add(
        "t",
        r#"{{ $d := dict }}{{ range until 1050 }}{{ $d = dict "x" $d }}{{ end }}{{ $s := toString $d }}{{ len $s }} {{ printf "%.20s" $s }} {{ len (toJson $d) }}"#,
    )
    .unwrap();
    let out = set.execute("t", &Value::Nil).unwrap();
    // 1000 levels of "map[x:" and "]", and "..." where the nesting is cut.
    assert_eq!(out, "7003 map[x:map[x:map[x:ma 0");
    set.add("copy", r#"{{ $d := dict }}{{ range until 1050 }}{{ $d = dict "x" $d }}{{ end }}{{ mustDeepCopy $d }}"#)
        .unwrap();
    let e = set.execute("copy", &Value::Nil).unwrap_err().to_string();
    assert!(e.contains("nested more than 1000 levels"), "{e}");
}

#[test]
fn data_changed_by_a_template_is_the_callers_value() {
    // The Value passed in is the map the templates changed (as Helm's `.Values` is).
    let values = Value::named_map(VALUES, BTreeMap::new());
    let top = Value::named_map(
        VALUES,
        BTreeMap::from([("Values".to_string(), values.clone())]),
    );
    let mut set = TemplateSet::new(functions());
    set.add("a", r#"{{ $_ := set .Values "x" (dict "y" 1) }}"#)
        .unwrap();
    set.add("b", r#"{{ $_ := set .Values.x "z" 2 }}{{ .Values.x }}"#)
        .unwrap();
    assert_eq!(set.execute("a", &top).unwrap(), "");
    assert_eq!(set.execute("b", &top).unwrap(), "map[y:1 z:2]");
    assert_eq!(values.to_string(), "map[x:map[y:1 z:2]]");
    let batch = set.execute_batch(&[("b", &top), ("b", &top)]);
    assert!(batch.iter().all(|r| r.as_deref() == Ok("map[y:1 z:2]")));
}

#[test]
fn deep_values_a_template_stores_in_its_data_are_safe_on_a_small_stack() {
    // A template can build deep nesting and keep it in the data; the caller then prints and
    // drops it on its own thread (here one with a 2 MiB stack).
    let values = Value::map(BTreeMap::new());
    let mut set = TemplateSet::new(functions());
    set.add(
        "t",
        r#"{{ $d := dict }}{{ range until 20000 }}{{ $d = dict "x" $d }}{{ end }}{{ $_ := set . "deep" $d }}"#,
    )
    .unwrap();
    assert_eq!(set.execute("t", &values).unwrap(), "");
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || {
            let text = values.to_string();
            assert!(text.starts_with("map[deep:map[x:map[x:"), "{text:.40}");
            assert!(text.contains(":...]]]"), "{text:.40}");
            let copy = Value::from_json(&values.to_json());
            assert!(!values.deep_equal(&copy));
            assert!(format!("{values:?}").contains("Map(...)"));
            drop(values);
        })
        .unwrap()
        .join()
        .unwrap();
}
