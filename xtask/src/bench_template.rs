//! `cargo xtask bench template`: `weir template` versus `helm template` on generated charts.
//!
//! Charts are written under `target/bench/template/` by the code below (nothing is copied):
//! `many-templates/` (200 templates over a `_helpers.tpl`, heavy on `include`, `tpl`,
//! `toYaml` and `range`), `umbrella/` (50 condition-enabled subcharts using globals),
//! `helm-create/bench/` (what the real `helm create bench` writes) and `tpl-N/` (one template
//! calling `tpl` N times next to a big values file). For each chart the two outputs must be
//! byte-identical before anything is timed; a chart whose outputs differ is reported with its
//! first differing lines, skipped, and makes the command fail once the others are done.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

use crate::bench::{Measure, measure};
use crate::util::{self, workspace_root};

/// Number of templates in `many-templates`, subcharts in `umbrella`, and the `tpl` call
/// counts measured (0 is the baseline subtracted to get a time per call).
const TEMPLATES: usize = 200;
const SUBCHARTS: usize = 50;
const TPL_CALLS: [usize; 3] = [0, 1000, 10000];
/// Keys of the big values file next to the `tpl` template.
const TPL_VALUES: usize = 5000;

/// Medians of wall and CPU seconds, the fastest wall time, and the largest peak RSS (KiB), of
/// one tool's runs.
#[derive(Clone, Copy)]
struct Stats {
    wall: f64,
    fastest: f64,
    cpu: f64,
    peak_kib: u64,
}

fn stats(runs: &[Measure]) -> Stats {
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    Stats {
        wall: median(runs.iter().map(|m| m.seconds).collect()),
        fastest: runs.iter().map(|m| m.seconds).fold(f64::INFINITY, f64::min),
        cpu: median(runs.iter().map(|m| m.cpu).collect()),
        peak_kib: runs.iter().map(|m| m.peak_kib).max().unwrap_or(0),
    }
}

/// The two binaries, and the private helm home (cache, config, data) helm runs with.
struct Tools {
    weir: PathBuf,
    helm: PathBuf,
    helm_home: PathBuf,
}

impl Tools {
    fn weir(&self, chart: &Path) -> Command {
        let mut cmd = Command::new(&self.weir);
        cmd.args(["template", "rel"]).arg(chart);
        cmd
    }

    /// `helm` through `env`, which sets the helm home and execs it (same process, so
    /// `/usr/bin/time` still measures helm itself; `measure` passes no environment).
    fn helm_with(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("env");
        for (var, sub) in [
            ("HELM_CACHE_HOME", "cache"),
            ("HELM_CONFIG_HOME", "config"),
            ("HELM_DATA_HOME", "data"),
        ] {
            cmd.arg(format!("{var}={}", self.helm_home.join(sub).display()));
        }
        cmd.arg(&self.helm).args(args);
        cmd
    }

    fn helm(&self, chart: &Path) -> Command {
        let mut cmd = self.helm_with(&["template", "rel"]);
        cmd.arg(chart);
        cmd
    }
}

/// What a chart printed (identical for both tools) and both tools' timings.
struct Compared {
    docs: usize,
    bytes: usize,
    weir: Stats,
    helm: Stats,
}

/// Runs both tools once on `chart` and compares their output byte for byte. On a difference
/// (or a failure) both outputs are written next to the chart and the first differing lines
/// are returned as the error text.
fn check_identical(tools: &Tools, chart: &Path) -> Result<Vec<u8>, String> {
    let run = |mut cmd: Command, who: &str| {
        cmd.output()
            .map_err(|e| format!("could not run {who}: {e}"))
    };
    let ours = run(tools.weir(chart), "weir")?;
    let theirs = run(tools.helm(chart), "helm")?;
    if !theirs.status.success() {
        return Err(format!(
            "helm template failed on {}: {}",
            chart.display(),
            String::from_utf8_lossy(&theirs.stderr).trim()
        ));
    }
    let saved = |tag: &str, bytes: &[u8]| {
        let path = chart.with_extension(format!("{tag}.out.yaml"));
        match std::fs::write(&path, bytes) {
            Ok(()) => path.display().to_string(),
            Err(e) => format!("(could not write {}: {e})", path.display()),
        }
    };
    if !ours.status.success() {
        return Err(format!(
            "weir template failed on {} (helm printed {} bytes, saved as {}):\n{}",
            chart.display(),
            theirs.stdout.len(),
            saved("helm", &theirs.stdout),
            String::from_utf8_lossy(&ours.stderr).trim()
        ));
    }
    if ours.stdout == theirs.stdout {
        return Ok(ours.stdout);
    }
    let (w, h) = (saved("weir", &ours.stdout), saved("helm", &theirs.stdout));
    Err(format!(
        "weir and helm printed different output for {}\n{}  full outputs: {w} and {h}\n  \
         (diff -u {h} {w})",
        chart.display(),
        first_difference(&ours.stdout, &theirs.stdout)
    ))
}

/// The first differing line of two outputs, with three lines of context before it and two
/// after, from both sides.
fn first_difference(ours: &[u8], theirs: &[u8]) -> String {
    let ours = String::from_utf8_lossy(ours);
    let theirs = String::from_utf8_lossy(theirs);
    let (w, h): (Vec<&str>, Vec<&str>) = (ours.split('\n').collect(), theirs.split('\n').collect());
    let at = w
        .iter()
        .zip(&h)
        .position(|(a, b)| a != b)
        .unwrap_or(w.len().min(h.len()));
    // The template a line came from: the nearest `# Source:` above it.
    let source = h[..at.min(h.len())]
        .iter()
        .rev()
        .find(|l| l.starts_with("# Source: "))
        .map_or("", |l| l.trim_start_matches("# Source: "));
    let mut out = format!(
        "  first difference at line {} (weir {} lines, helm {} lines), in {source}\n",
        at + 1,
        w.len(),
        h.len()
    );
    let from = at.saturating_sub(3);
    for (tag, lines) in [("weir", &w), ("helm", &h)] {
        for (i, line) in lines.iter().enumerate().skip(from).take(at + 3 - from) {
            let mark = if i == at { '>' } else { ' ' };
            let _ = writeln!(out, "  {tag} {mark}{:>6} | {line}", i + 1);
        }
        if lines.len() <= at {
            let _ = writeln!(out, "  {tag} >       (output ends here)");
        }
    }
    out
}

/// Times `runs` alternating runs of each tool on `chart`, after one warm-up run of each.
fn time_both(tools: &Tools, chart: &Path, runs: usize) -> anyhow::Result<(Stats, Stats)> {
    measure(&mut tools.weir(chart))?;
    measure(&mut tools.helm(chart))?;
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        ours.push(measure(&mut tools.weir(chart))?);
        theirs.push(measure(&mut tools.helm(chart))?);
    }
    Ok((stats(&ours), stats(&theirs)))
}

/// Checks then times one chart; on an output difference prints it and returns `None`.
fn compare(tools: &Tools, chart: &Path, runs: usize) -> anyhow::Result<Option<Compared>> {
    let out = match check_identical(tools, chart) {
        Ok(out) => out,
        Err(mismatch) => {
            println!("MISMATCH: {mismatch}");
            return Ok(None);
        }
    };
    let (weir, helm) = time_both(tools, chart, runs)?;
    let docs = String::from_utf8_lossy(&out)
        .lines()
        .filter(|l| *l == "---")
        .count();
    Ok(Some(Compared {
        docs,
        bytes: out.len(),
        weir,
        helm,
    }))
}

fn print_compared(title: &str, c: &Compared) {
    let (w, h) = (c.weir, c.helm);
    let mib = |kib: u64| kib as f64 / 1024.0;
    println!(
        "{title}: {} documents, {:.1} kB printed, byte-identical",
        c.docs,
        c.bytes as f64 / 1e3
    );
    println!(
        "  weir template : {:>7.3}s wall {:>7.3}s CPU {:>7.1} MiB peak",
        w.wall,
        w.cpu,
        mib(w.peak_kib)
    );
    println!(
        "  helm template : {:>7.3}s wall {:>7.3}s CPU {:>7.1} MiB peak",
        h.wall,
        h.cpu,
        mib(h.peak_kib)
    );
    let faster = h.wall / w.wall.max(1e-6);
    let memory = h.peak_kib as f64 / w.peak_kib.max(1) as f64;
    println!(
        "  ratio helm/weir: {faster:.1}x faster (wall), {:.1}x less CPU, {memory:.1}x less memory",
        h.cpu / w.cpu.max(0.001)
    );
    let met = faster >= 10.0 && memory > 1.0;
    println!(
        "  goal ≥ 10× faster and less memory: {}",
        if met { "met" } else { "not met" }
    );
}

/// Writes `text` to `path`, creating its folder.
fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

/// The `_helpers.tpl` of `helm create`, for a chart named `name`.
fn helpers(name: &str) -> String {
    format!(
        r#"{{{{/*
Expand the name of the chart.
*/}}}}
{{{{- define "{name}.name" -}}}}
{{{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}}}
{{{{- end }}}}

{{{{/*
Create a default fully qualified app name.
*/}}}}
{{{{- define "{name}.fullname" -}}}}
{{{{- if .Values.fullnameOverride }}}}
{{{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}}}
{{{{- else }}}}
{{{{- $name := default .Chart.Name .Values.nameOverride }}}}
{{{{- if contains $name .Release.Name }}}}
{{{{- .Release.Name | trunc 63 | trimSuffix "-" }}}}
{{{{- else }}}}
{{{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}}}
{{{{- end }}}}
{{{{- end }}}}
{{{{- end }}}}

{{{{- define "{name}.chart" -}}}}
{{{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}}}
{{{{- end }}}}

{{{{- define "{name}.labels" -}}}}
helm.sh/chart: {{{{ include "{name}.chart" . }}}}
{{{{ include "{name}.selectorLabels" . }}}}
{{{{- if .Chart.AppVersion }}}}
app.kubernetes.io/version: {{{{ .Chart.AppVersion | quote }}}}
{{{{- end }}}}
app.kubernetes.io/managed-by: {{{{ .Release.Service }}}}
{{{{- with .Values.global.labels }}}}
{{{{ toYaml . }}}}
{{{{- end }}}}
{{{{- end }}}}

{{{{- define "{name}.selectorLabels" -}}}}
app.kubernetes.io/name: {{{{ include "{name}.name" . }}}}
app.kubernetes.io/instance: {{{{ .Release.Name }}}}
{{{{- end }}}}
"#
    )
}

/// `many-templates`: 200 templates (Deployments, Services, ConfigMaps in turn) over one
/// `_helpers.tpl`, each reading its own block of `values.yaml`. Returns the number of leaf
/// values written.
fn make_many_templates(dir: &Path) -> anyhow::Result<usize> {
    write(
        &dir.join("Chart.yaml"),
        "apiVersion: v2\nname: many\ndescription: Benchmark chart with many templates\ntype: application\nversion: 0.3.1\nappVersion: \"2.4.0\"\n",
    )?;
    write(&dir.join("templates/_helpers.tpl"), &helpers("many"))?;
    let mut values = String::from(
        "nameOverride: \"\"\nfullnameOverride: \"\"\nglobal:\n  labels:\n    team: platform\n    cost-center: \"1234\"\n  domain: apps.example.com\nservice:\n  type: ClusterIP\nresources:\n  limits:\n    cpu: 500m\n    memory: 256Mi\n  requests:\n    cpu: 100m\n    memory: 128Mi\npodSecurityContext:\n  runAsNonRoot: true\n  runAsUser: 1000\n  fsGroup: 2000\ncomponents:\n",
    );
    let mut leaves = 15;
    for i in 0..TEMPLATES {
        let c = format!("c{i:03}");
        let _ = write!(
            values,
            "  {c}:\n    enabled: {}\n    replicas: {}\n    image:\n      repository: registry.example.com/team-{}/{c}\n      tag: \"{}\"\n    port: {}\n    note: \"{{{{ .Release.Name }}}}-{c}.{{{{ .Values.global.domain }}}} ({{{{ .Chart.Name }}}} {{{{ .Chart.Version }}}}, {{{{ .Release.Namespace }}}})\"\n",
            i % 10 != 9,
            1 + (i / 3) % 3,
            i % 7,
            if i % 2 == 0 {
                String::new()
            } else {
                format!("1.{}.{}", i % 5, i)
            },
            8000 + i,
        );
        leaves += 6;
        if i % 4 == 0 {
            let _ = write!(
                values,
                "    resources:\n      limits:\n        cpu: {}m\n        memory: {}Mi\n      requests:\n        cpu: {}m\n        memory: {}Mi\n",
                200 + 50 * (i % 8),
                128 * (1 + i % 4),
                50 + 10 * (i % 5),
                64 * (1 + i % 3)
            );
            leaves += 4;
        }
        let _ = write!(
            values,
            "    env:\n      - name: LOG_LEVEL\n        value: {}\n      - name: INDEX\n        value: \"{i}\"\n      - name: FEATURE_FLAGS\n        value: \"a,b,{c}\"\n    annotations:\n      owner: team-{}@example.com\n      prometheus.io/scrape: \"{}\"\n    config:\n      level: {}\n      retries: {}\n      timeout: {}s\n      cache: {}\n      endpoint: https://{c}.internal:{}/v1\n",
            ["info", "debug", "warn"][i % 3],
            i % 7,
            i % 2 == 0,
            ["info", "debug", "warn"][i % 3],
            i % 5,
            10 + i % 50,
            i % 3 == 0,
            9000 + i
        );
        leaves += 12;
    }
    write(&dir.join("values.yaml"), &values)?;
    for i in 0..TEMPLATES {
        let c = format!("c{i:03}");
        let head = format!(
            "{{{{- $c := index .Values.components \"{c}\" }}}}\n{{{{- if $c.enabled }}}}\n"
        );
        let meta = format!(
            "metadata:\n  name: {{{{ include \"many.fullname\" . }}}}-{c}\n  labels:\n    {{{{- include \"many.labels\" . | nindent 4 }}}}\n    app.kubernetes.io/component: {c}\n  annotations:\n    note: {{{{ tpl $c.note . | quote }}}}\n    {{{{- range $k, $v := $c.annotations }}}}\n    {{{{ $k }}}}: {{{{ $v | quote }}}}\n    {{{{- end }}}}\n"
        );
        let body = match i % 3 {
            0 => format!(
                "apiVersion: apps/v1\nkind: Deployment\n{meta}spec:\n  replicas: {{{{ $c.replicas | default 1 }}}}\n  selector:\n    matchLabels:\n      {{{{- include \"many.selectorLabels\" . | nindent 6 }}}}\n      app.kubernetes.io/component: {c}\n  template:\n    metadata:\n      annotations:\n        checksum/config: {{{{ toYaml $c.config | sha256sum }}}}\n      labels:\n        {{{{- include \"many.selectorLabels\" . | nindent 8 }}}}\n        app.kubernetes.io/component: {c}\n    spec:\n      securityContext:\n        {{{{- toYaml .Values.podSecurityContext | nindent 8 }}}}\n      containers:\n        - name: {{{{ .Chart.Name }}}}\n          image: \"{{{{ $c.image.repository }}}}:{{{{ $c.image.tag | default .Chart.AppVersion }}}}\"\n          ports:\n            - name: http\n              containerPort: {{{{ $c.port }}}}\n              protocol: TCP\n          env:\n            {{{{- range $c.env }}}}\n            - name: {{{{ .name }}}}\n              value: {{{{ .value | quote }}}}\n            {{{{- end }}}}\n            {{{{- range $k, $v := $c.config }}}}\n            - name: CONFIG_{{{{ $k | upper }}}}\n              value: {{{{ $v | toString | quote }}}}\n            {{{{- end }}}}\n          resources:\n            {{{{- toYaml (default .Values.resources $c.resources) | nindent 12 }}}}\n"
            ),
            1 => format!(
                "apiVersion: v1\nkind: Service\n{meta}spec:\n  type: {{{{ .Values.service.type }}}}\n  ports:\n    - port: {{{{ $c.port }}}}\n      targetPort: http\n      protocol: TCP\n      name: http\n  selector:\n    {{{{- include \"many.selectorLabels\" . | nindent 4 }}}}\n    app.kubernetes.io/component: {c}\n"
            ),
            _ => format!(
                "apiVersion: v1\nkind: ConfigMap\n{meta}data:\n  {{{{- range $k, $v := $c.config }}}}\n  {{{{ $k }}}}: {{{{ $v | quote }}}}\n  {{{{- end }}}}\n  env: {{{{ range $i, $e := $c.env }}}}{{{{ if $i }}}},{{{{ end }}}}{{{{ $e.name }}}}={{{{ $e.value }}}}{{{{ end }}}}\n  config.yaml: |\n    {{{{- toYaml $c.config | nindent 4 }}}}\n  resources.yaml: |\n    {{{{- toYaml (default .Values.resources $c.resources) | nindent 4 }}}}\n"
            ),
        };
        write(
            &dir.join(format!("templates/{c}.yaml")),
            &format!("{head}{body}{{{{- end }}}}\n"),
        )?;
    }
    Ok(leaves)
}

/// `umbrella`: a parent chart with 50 subcharts in `charts/`, each enabled by a
/// `condition:` (every seventh is off), each with its own helpers, three templates and
/// values, all reading the parent's `global:` block.
fn make_umbrella(dir: &Path) -> anyhow::Result<()> {
    let mut chart = String::from(
        "apiVersion: v2\nname: umbrella\ndescription: Benchmark umbrella chart\ntype: application\nversion: 1.0.0\nappVersion: \"1.0.0\"\ndependencies:\n",
    );
    let mut values = String::from(
        "global:\n  registry: registry.example.com\n  environment: production\n  labels:\n    team: platform\n    cost-center: \"1234\"\n  domain: example.com\n",
    );
    for i in 0..SUBCHARTS {
        let s = format!("sub{i:02}");
        let _ = write!(
            chart,
            "  - name: {s}\n    version: 0.1.{i}\n    condition: {s}.enabled\n"
        );
        let _ = write!(
            values,
            "{s}:\n  enabled: {}\n  replicaCount: {}\n  config:\n    region: eu-{}\n",
            i % 7 != 6,
            1 + i % 4,
            i % 3
        );
        let sub = dir.join("charts").join(&s);
        write(
            &sub.join("Chart.yaml"),
            &format!(
                "apiVersion: v2\nname: {s}\ndescription: Subchart {i}\ntype: application\nversion: 0.1.{i}\nappVersion: \"3.{i}.0\"\n"
            ),
        )?;
        write(
            &sub.join("values.yaml"),
            &format!(
                "enabled: true\nreplicaCount: 1\nimage:\n  repository: apps/{s}\n  pullPolicy: IfNotPresent\n  tag: \"\"\nservice:\n  type: ClusterIP\n  port: {}\nconfig:\n  region: us-1\n  level: info\n  workers: {}\nextraEnv:\n  - name: SUBCHART\n    value: {s}\n  - name: SLOT\n    value: \"{i}\"\nglobal:\n  labels: {{}}\n",
                8080 + i,
                2 + i % 6
            ),
        )?;
        write(&sub.join("templates/_helpers.tpl"), &helpers(&s))?;
        write(
            &sub.join("templates/deployment.yaml"),
            &format!(
                "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{{{ include \"{s}.fullname\" . }}}}\n  labels:\n    {{{{- include \"{s}.labels\" . | nindent 4 }}}}\n    environment: {{{{ .Values.global.environment }}}}\nspec:\n  replicas: {{{{ .Values.replicaCount }}}}\n  selector:\n    matchLabels:\n      {{{{- include \"{s}.selectorLabels\" . | nindent 6 }}}}\n  template:\n    metadata:\n      annotations:\n        checksum/config: {{{{ include (print $.Template.BasePath \"/configmap.yaml\") . | sha256sum }}}}\n      labels:\n        {{{{- include \"{s}.selectorLabels\" . | nindent 8 }}}}\n    spec:\n      containers:\n        - name: {{{{ .Chart.Name }}}}\n          image: \"{{{{ .Values.global.registry }}}}/{{{{ .Values.image.repository }}}}:{{{{ .Values.image.tag | default .Chart.AppVersion }}}}\"\n          imagePullPolicy: {{{{ .Values.image.pullPolicy }}}}\n          ports:\n            - name: http\n              containerPort: {{{{ .Values.service.port }}}}\n          env:\n            - name: ENVIRONMENT\n              value: {{{{ .Values.global.environment | quote }}}}\n            {{{{- with .Values.extraEnv }}}}\n            {{{{- toYaml . | nindent 12 }}}}\n            {{{{- end }}}}\n          envFrom:\n            - configMapRef:\n                name: {{{{ include \"{s}.fullname\" . }}}}\n"
            ),
        )?;
        write(
            &sub.join("templates/service.yaml"),
            &format!(
                "apiVersion: v1\nkind: Service\nmetadata:\n  name: {{{{ include \"{s}.fullname\" . }}}}\n  labels:\n    {{{{- include \"{s}.labels\" . | nindent 4 }}}}\nspec:\n  type: {{{{ .Values.service.type }}}}\n  ports:\n    - port: {{{{ .Values.service.port }}}}\n      targetPort: http\n      protocol: TCP\n      name: http\n  selector:\n    {{{{- include \"{s}.selectorLabels\" . | nindent 4 }}}}\n"
            ),
        )?;
        write(
            &sub.join("templates/configmap.yaml"),
            &format!(
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{{{ include \"{s}.fullname\" . }}}}\n  labels:\n    {{{{- include \"{s}.labels\" . | nindent 4 }}}}\ndata:\n  {{{{- range $k, $v := .Values.config }}}}\n  {{{{ $k | upper }}}}: {{{{ $v | quote }}}}\n  {{{{- end }}}}\n  URL: {{{{ printf \"https://%s.%s\" .Chart.Name .Values.global.domain | quote }}}}\n"
            ),
        )?;
    }
    write(&dir.join("Chart.yaml"), &chart)?;
    write(&dir.join("values.yaml"), &values)?;
    write(&dir.join("templates/_helpers.tpl"), &helpers("umbrella"))?;
    write(
        &dir.join("templates/inventory.yaml"),
        &format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{{{ include \"umbrella.fullname\" . }}}}-inventory\n  labels:\n    {{{{- include \"umbrella.labels\" . | nindent 4 }}}}\ndata:\n  {{{{- range $i := until {SUBCHARTS} }}}}\n  {{{{- $name := printf \"sub%02d\" $i }}}}\n  {{{{- $sub := index $.Values $name }}}}\n  {{{{ $name }}}}: {{{{ ternary \"enabled\" \"disabled\" $sub.enabled | quote }}}}\n  {{{{- end }}}}\n"
        ),
    )?;
    Ok(())
}

/// `tpl-N`: one template calling `tpl` N times on a small string, among 50 other small
/// templates (which a `tpl` that re-parses the chart would pay for on every call), with a
/// values file of 5,000 keys.
fn make_tpl_chart(dir: &Path, calls: usize) -> anyhow::Result<()> {
    write(
        &dir.join("Chart.yaml"),
        "apiVersion: v2\nname: tplscale\nversion: 0.1.0\nappVersion: \"1.0\"\n",
    )?;
    write(&dir.join("templates/_helpers.tpl"), &helpers("tplscale"))?;
    let mut values = format!(
        "global:\n  labels: {{}}\ncalls: {calls}\nsuffix: svc\nsmall: \"{{{{ .Release.Name }}}}-{{{{ .Values.suffix }}}}\"\nbig:\n"
    );
    for g in 0..TPL_VALUES / 100 {
        let _ = writeln!(values, "  group{g:02}:");
        for k in 0..100 {
            let _ = writeln!(
                values,
                "    key{k:02}: value {g}-{k} with some text to make it longer"
            );
        }
    }
    write(&dir.join("values.yaml"), &values)?;
    write(
        &dir.join("templates/tpl.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-tpl\ndata:\n  {{- range $i := until (int .Values.calls) }}\n  k{{ $i }}: {{ tpl $.Values.small $ | quote }}\n  {{- end }}\n  groups: {{ len .Values.big | quote }}\n",
    )?;
    for i in 0..50 {
        write(
            &dir.join(format!("templates/filler{i:02}.yaml")),
            &format!(
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{{{ include \"tplscale.fullname\" . }}}}-filler{i:02}\n  labels:\n    {{{{- include \"tplscale.labels\" . | nindent 4 }}}}\ndata:\n  {{{{- range $k, $v := .Values.big.group{:02} }}}}\n  {{{{- if lt (len $k) 6 }}}}\n  {{{{ $k }}}}: {{{{ $v | upper | quote }}}}\n  {{{{- end }}}}\n  {{{{- end }}}}\n",
                i % (TPL_VALUES / 100)
            ),
        )?;
    }
    Ok(())
}

/// The `weir` binary to measure: `WEIR_BENCH_WEIR`, or a fresh release build.
fn weir_binary(root: &Path) -> anyhow::Result<PathBuf> {
    if let Some(bin) = std::env::var_os("WEIR_BENCH_WEIR") {
        return Ok(PathBuf::from(bin));
    }
    util::run(Command::new(env!("CARGO")).current_dir(root).args([
        "build",
        "--release",
        "--package",
        "weir-cli",
    ]))?;
    Ok(root.join("target/release/weir"))
}

/// Compares `weir template` with `helm template` (helm v4.1.4) on the generated charts under
/// `target/bench/template/`, then measures how `tpl` scales with its number of calls.
/// `WEIR_BENCH_RUNS` sets the number of timed runs after one warm-up (default 7; at least 15
/// for `tpl`); `WEIR_BENCH_WEIR` names a `weir` binary to measure instead of building one. The
/// charts (and, for a chart whose outputs differ, both outputs) are left in place.
pub fn run() -> anyhow::Result<()> {
    util::ensure_debian_packages(&["time"])?;
    let root = workspace_root();
    let weir = weir_binary(&root)?;
    let helm = crate::helm::helm_binary()?;
    let work = root.join("target/bench/template");
    let _ = std::fs::remove_dir_all(&work);
    let helm_home = work.join("helm-home");
    for sub in ["cache", "config", "data"] {
        std::fs::create_dir_all(helm_home.join(sub))?;
    }
    let tools = Tools {
        weir,
        helm,
        helm_home,
    };
    let runs: usize = std::env::var("WEIR_BENCH_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(7)
        .max(1);

    let many = work.join("many-templates");
    let leaves = make_many_templates(&many)?;
    let umbrella = work.join("umbrella");
    make_umbrella(&umbrella)?;
    let create_dir = work.join("helm-create");
    std::fs::create_dir_all(&create_dir)?;
    let mut create = tools.helm_with(&["create", "bench"]);
    let out = create.current_dir(&create_dir).output()?;
    if !out.status.success() {
        bail!(
            "helm create bench failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let created = create_dir.join("bench");
    for n in TPL_CALLS {
        make_tpl_chart(&work.join(format!("tpl-{n}")), n)?;
    }

    println!(
        "bench template: weir template vs helm template (helm {}), {runs} timed runs after 1 \
         warm-up, medians; peak RSS the largest over the runs",
        helm_version(&tools)
    );
    let mut mismatched = Vec::new();
    let charts = [
        (
            format!("many-templates ({TEMPLATES} templates, {leaves} values)"),
            &many,
        ),
        (
            format!("umbrella ({SUBCHARTS} subcharts, condition-enabled, globals)"),
            &umbrella,
        ),
        ("helm create bench".to_string(), &created),
    ];
    for (title, chart) in &charts {
        match compare(&tools, chart, runs)? {
            Some(c) => print_compared(title, &c),
            None => mismatched.push(chart.display().to_string()),
        }
    }

    // The N=1000 increment is a few milliseconds, about the run-to-run noise: more runs,
    // interleaved across the N so that a change in machine load hits all of them alike, and
    // the fastest of each.
    let tpl_runs = runs.max(15);
    println!(
        "tpl scaling: one template calling tpl N times on a small string, 50 other templates, \
         values.yaml of {TPL_VALUES} keys; fastest of {tpl_runs} interleaved runs"
    );
    let tpl_charts: Vec<(usize, PathBuf)> = TPL_CALLS
        .iter()
        .map(|&n| (n, work.join(format!("tpl-{n}"))))
        .filter(|(_, chart)| match check_identical(&tools, chart) {
            Ok(_) => true,
            Err(mismatch) => {
                println!("MISMATCH: {mismatch}");
                mismatched.push(chart.display().to_string());
                false
            }
        })
        .collect();
    let mut timings: Vec<(Vec<Measure>, Vec<Measure>)> = tpl_charts
        .iter()
        .map(|_| (Vec::new(), Vec::new()))
        .collect();
    for run in 0..=tpl_runs {
        for ((_, chart), (ours, theirs)) in tpl_charts.iter().zip(&mut timings) {
            let (w, h) = (
                measure(&mut tools.weir(chart))?,
                measure(&mut tools.helm(chart))?,
            );
            // Run 0 is the warm-up.
            if run > 0 {
                ours.push(w);
                theirs.push(h);
            }
        }
    }
    println!(
        "  {:>6}  {:>11} {:>13}  {:>11} {:>13}",
        "N", "weir wall", "weir per call", "helm wall", "helm per call"
    );
    let fastest: Vec<(usize, f64, f64)> = tpl_charts
        .iter()
        .zip(&timings)
        .map(|((n, _), (ours, theirs))| (*n, stats(ours).fastest, stats(theirs).fastest))
        .collect();
    let mut per_call = Vec::new();
    let base = fastest.iter().find(|(n, ..)| *n == 0).copied();
    for &(n, w, h) in &fastest {
        let per = |now: f64, then: f64| (now - then) / n as f64 * 1e6;
        match base {
            Some((_, w0, h0)) if n > 0 => {
                let (wp, hp) = (per(w, w0), per(h, h0));
                println!("  {n:>6}  {w:>10.3}s {wp:>11.2}µs  {h:>10.3}s {hp:>11.2}µs");
                per_call.push((n, wp, hp));
            }
            _ => println!(
                "  {n:>6}  {w:>10.3}s {:>13}  {h:>10.3}s {:>13}",
                "(baseline)", "(baseline)"
            ),
        }
    }
    if let [(n1, w1, h1), (n2, w2, h2)] = per_call[..] {
        println!("  per call = (wall(N) - wall(N=0)) / N, on the fastest runs");
        if w1 <= 0.0 {
            println!(
                "  weir: N={n1} is within run-to-run noise of N=0; N={n2} costs {w2:.2}µs a call"
            );
        } else {
            let ratio = w2 / w1;
            println!(
                "  weir per call N={n2} / N={n1}: {ratio:.2} ({}); helm: {:.2}",
                if ratio <= 2.0 {
                    "linear: a call does not get dearer as N grows"
                } else {
                    "NOT linear: calls get dearer as N grows"
                },
                h2 / h1.max(1e-9)
            );
        }
    }
    println!("charts left in {}", work.display());
    if !mismatched.is_empty() {
        bail!(
            "weir template and helm template differ on: {}",
            mismatched.join(", ")
        );
    }
    Ok(())
}

/// `helm version --short`, for the heading.
fn helm_version(tools: &Tools) -> String {
    Command::new(&tools.helm)
        .args(["version", "--short"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}
