//! Hostile charts: each must end in an error (or a bounded output) quickly and without a
//! crash — a push to a watched repository must never take a controller down.

#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use weir_helm::action::{self, TemplateOptions};
use weir_helm::chart::{self, File};

fn chart(values: &str, templates: &[(&str, &str)]) -> weir_helm::chart::Chart {
    let mut files = vec![
        File {
            name: "Chart.yaml".into(),
            data: b"apiVersion: v2\nname: c\nversion: 0.1.0\n".to_vec(),
        },
        File {
            name: "values.yaml".into(),
            data: values.as_bytes().to_vec(),
        },
    ];
    for (name, text) in templates {
        files.push(File {
            name: format!("templates/{name}"),
            data: text.as_bytes().to_vec(),
        });
    }
    chart::load_files(files).unwrap()
}

/// Renders on a thread (as a controller would) and returns the error, checking the time.
fn render_fails(c: weir_helm::chart::Chart) -> String {
    let started = Instant::now();
    let result = std::thread::spawn(move || {
        let options = TemplateOptions {
            release_name: "r".into(),
            ..TemplateOptions::default()
        };
        action::template(c, &Default::default(), &options)
    })
    .join()
    .expect("the render does not panic");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "took {:?}",
        started.elapsed()
    );
    result.expect_err("the render fails").message
}

#[test]
fn exponential_tpl_nesting_stops_at_the_depth_bound() {
    // Each level calls tpl on itself twice: 2^depth calls unless the depth is bounded.
    let c = chart(
        "x: '{{ tpl $.Values.x $ }}{{ tpl $.Values.x $ }}'\n",
        &[("a.yaml", "a: {{ tpl .Values.x . }}\n")],
    );
    let message = render_fails(c);
    assert!(
        message.contains("exceeded maximum template depth"),
        "{}",
        &message[..message.len().min(300)]
    );
}

#[test]
fn an_include_of_itself_stops_with_helms_message() {
    let c = chart(
        "",
        &[(
            "a.yaml",
            "{{ define \"loop\" }}{{ include \"loop\" . }}{{ end }}{{ include \"loop\" . }}\n",
        )],
    );
    let message = render_fails(c);
    assert!(
        message.ends_with(
            "rendering template has a nested reference name: loop: unable to execute template"
        ),
        "{}",
        &message[message.len().saturating_sub(300)..]
    );
}

#[test]
fn exponential_output_stops_at_the_output_budget() {
    // Each define doubles the previous one's output: 2^40 bytes unless bounded.
    let mut text = String::from("{{ define \"d0\" }}xxxxxxxxxxxxxxxx{{ end }}");
    for i in 1..=40 {
        text.push_str(&format!(
            "{{{{ define \"d{i}\" }}}}{{{{ include \"d{p}\" . }}}}{{{{ include \"d{p}\" . }}}}{{{{ end }}}}",
            p = i - 1
        ));
    }
    text.push_str("a: {{ include \"d40\" . }}\n");
    let message = render_fails(chart("", &[("a.yaml", &text)]));
    assert!(
        message.contains("output") || message.contains("steps"),
        "{}",
        &message[..message.len().min(300)]
    );
}

#[test]
fn deeply_nested_values_are_refused_while_loading() {
    let deep = format!("{}1{}", "[".repeat(5000), "]".repeat(5000));
    let values = format!("x: {deep}\n");
    let files = vec![
        File {
            name: "Chart.yaml".into(),
            data: b"apiVersion: v2\nname: c\nversion: 0.1.0\n".to_vec(),
        },
        File {
            name: "values.yaml".into(),
            data: values.into_bytes(),
        },
    ];
    let result = std::thread::spawn(move || chart::load_files(files))
        .join()
        .expect("loading does not panic");
    assert!(result.is_err(), "5000 levels of nesting are refused");
}

#[test]
fn a_deep_range_of_if_nesting_is_a_parse_error_not_a_crash() {
    let text = format!(
        "{}x{}",
        "{{ if true }}".repeat(10_000),
        "{{ end }}".repeat(10_000)
    );
    let message = render_fails(chart("", &[("a.yaml", &text)]));
    assert!(
        message.starts_with("parse error at (c/templates/a.yaml:1)"),
        "{message}"
    );
}
