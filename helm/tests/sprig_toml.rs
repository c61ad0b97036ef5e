//! `toToml`, `fromToml` and `toYamlPretty` rendered through the template engine, against what
//! `helm template` (v4.1.4, TZ unset: the local zone is UTC) printed for the same expression.
//!
//! Every expected string was recorded from the real helm binary: the expression `EXPR` of a
//! case `{{ EXPR }}` was rendered in a scratch chart as `# {{ EXPR | toJson }}` (a YAML
//! comment, so that any text passes helm's manifest check) and the JSON string decoded. Number
//! inputs made with `fromJson` are `float64`, as values files give them; template literals are
//! `int`, `int64 5` stands for a `--set` number.

use weir_helm::sprig::functions;
use weir_helm::template::TemplateSet;
use weir_helm::value::{MAX_DEPTH, Value};

/// Renders `text` as a template with the Sprig functions and no data.
fn render(text: &str) -> Result<String, String> {
    let mut set = TemplateSet::new(functions());
    set.add("t", text).map_err(|e| e.to_string())?;
    set.execute("t", &Value::Nil).map_err(|e| e.to_string())
}

fn check(cases: &[(&str, &str)]) {
    for (template, want) in cases {
        assert_eq!(render(template).as_deref(), Ok(*want), "{template}");
    }
}

/// (template, what helm rendered): BurntSushi/toml's encoder.
const TO_TOML: &[(&str, &str)] = &[
    (
        r#"{{ dict "a" 1 "b" "x" "c" true "i" (int64 5) "u" (list "a" "b") | toToml }}"#,
        r#"a = 1
b = "x"
c = true
i = 5
u = ["a", "b"]
"#,
    ),
    (
        r#"{{ fromJson "{\"port\": 8080, \"ratio\": 1.5, \"big\": 1000000, \"tiny\": 1e-7, \"neg\": -3, \"huge\": 1e21}" | toToml }}"#,
        r#"big = 1e+06
huge = 1e+21
neg = -3.0
port = 8080.0
ratio = 1.5
tiny = 1e-07
"#,
    ),
    (
        r#"{{ dict "f" (list 8080.0 1e6 123456.0 1234567.0 0.0001 0.00001 1e20 -0.5 0.1 (float64 "-0") (float64 "inf") (float64 "-inf") (float64 "nan") 5e-324) | toToml }}"#,
        r#"f = [8080.0, 1e+06, 123456.0, 1.234567e+06, 0.0001, 1e-05, 1e+20, -0.5, 0.1, -0.0, inf, -inf, nan, 5e-324]
"#,
    ),
    (
        r#"{{ dict "a\"b" 1 "dotted.key" 2 "with space" 3 "" 4 "ünï" 5 "a-b_C9" 6 "k\\" (dict "x.y" (dict "" 1)) | toToml }}"#,
        r#""" = 4
"a\"b" = 1
a-b_C9 = 6
"dotted.key" = 2
"with space" = 3
"ünï" = 5

["k\\"]
  ["k\\"."x.y"]
    "" = 1
"#,
    ),
    (
        r#"{{ dict "z" 1 "a" (dict "b" (dict "c" (dict "d" 1)) "y" "s") "m" (dict) | toToml }}"#,
        r#"z = 1

[a]
  y = "s"
  [a.b]
    [a.b.c]
      d = 1

[m]
"#,
    ),
    (
        r#"{{ fromJson "{\"name\": \"web\", \"servers\": [{\"host\": \"a\", \"port\": 1}, {\"host\": \"b\", \"sub\": {\"k\": \"v\"}, \"tags\": [\"x\"]}]}" | toToml }}"#,
        r#"name = "web"

[[servers]]
  host = "a"
  port = 1.0

[[servers]]
  host = "b"
  tags = ["x"]
  [servers.sub]
    k = "v"
"#,
    ),
    (
        r#"{{ dict "t" (dict "a" (list (dict "b" (list (dict "c" 1)) "z" 2)) "x" 1) | toToml }}"#,
        r#"[t]
  x = 1

  [[t.a]]
    z = 2

    [[t.a.b]]
      c = 1
"#,
    ),
    (
        r#"{{ dict "l" (list (dict "m" (dict "n" 1) "arr" (list (dict "q" 1)))) | toToml }}"#,
        r#"[[l]]

  [[l.arr]]
    q = 1
  [l.m]
    n = 1
"#,
    ),
    (
        r#"{{ dict "mixed" (list 1 (dict "a" 1 "s" (dict "t" 2) "l" (list (dict "x" 1))) "s") "lol" (list (list 1 2) (list "a")) "empty" (list) | toToml }}"#,
        r#"empty = []
lol = [[1, 2], ["a"]]
mixed = [1, {a = 1, l = [{x = 1}], s = {t = 2}}, "s"]
"#,
    ),
    (
        r#"{{ dict "a" nil "b" (list 1 (dict "c" 1 "d" nil)) "e" (list (dict "x" 1 "y" nil)) "f" (list 1 (dict "g" nil)) | toToml }}"#,
        r#"b = [1, {c = 1, }]
f = [1, {}]

[[e]]
  x = 1
"#,
    ),
    (
        r#"{{ dict "a" (dict "b" (list 1 nil)) | toToml }}"#,
        r#"toml: cannot encode array with nil element"#,
    ),
    (
        r#"{{ list (toToml "s") (toToml 1.5) (toToml (list 1 "a")) (toToml (list)) (toToml (list (dict "a" 1))) (toToml (list (dict "a" 1) 2)) (toToml (dict)) (toToml (list nil)) | toJson }}"#,
        r#"["\"s\"","1.5","[1, \"a\"]","[]","toml: top-level values must be Go maps or structs","[{a = 1}, 2]","","toml: cannot encode array with nil element"]"#,
    ),
    (
        r#"{{ dict "s" "q\"b\\n\nt\tr\rx\x01\x7f\x1b\b\fé😀" | toToml }}"#,
        r#"s = "q\"b\\n\nt\tr\rx\u0001\u007f\u001b\b\fé😀"
"#,
    ),
    (
        r#"{{ dict "t" (toDate "2006-01-02" "2020-03-04") "u" (toDate "2006-01-02T15:04:05.999Z07:00" "2020-03-04T05:06:07.25+05:30") | toToml }}"#,
        r#"t = 2020-03-04T00:00:00Z
u = 2020-03-04T05:06:07.25+05:30
"#,
    ),
    (
        r#"{{ toDate "2006-01-02" "2020-03-04" | toToml }}"#,
        r#"2020-03-04T00:00:00Z"#,
    ),
    (
        r#"{{ fromToml "a = 1979-05-27T07:32:00\nb = 1979-05-27\nc = 07:32:00.5\nd = 1979-05-27T07:32:00Z\ne = 1979-05-27T07:32:00.123-07:00" | toToml }}"#,
        r#"a = 1979-05-27T07:32:00
b = 1979-05-27
c = 07:32:00.5
d = 1979-05-27T07:32:00Z
e = 1979-05-27T07:32:00.123-07:00
"#,
    ),
    (
        r#"{{ fromToml "[[a]]\nb = 1\n[[a]]\nb = 2\n[a.c]\nd = [1, 2]\n[x]\ny = {z = 1}" | toToml }}"#,
        r#"[[a]]
  b = 1

[[a]]
  b = 2
  [a.c]
    d = [1, 2]

[x]
  [x.y]
    z = 1
"#,
    ),
];

/// (template, what helm rendered): BurntSushi/toml's decoder, its quirks and error texts.
const FROM_TOML: &[(&str, &str)] = &[
    (
        r#"{{ printf "%T %T %T %T %T %T %T %T %T %T" (fromToml "a = 1").a (fromToml "a = 1.0").a (fromToml "a = [1]").a (fromToml "[[a]]\nb=1").a (fromToml "a = [{b=1}]").a (fromToml "a = {b=1}").a (fromToml "a = inf").a (fromToml "a = \"s\"").a (fromToml "a = true").a (fromToml "a = 1979-05-27").a }}"#,
        r#"int64 float64 []interface {} []map[string]interface {} []interface {} map[string]interface {} float64 string bool time.Time"#,
    ),
    (
        r#"{{ fromToml "title = \"TOML\"\n# comment\n[owner]\nname = \"Tom\" # trailing\ndob = 1979-05-27T07:32:00-08:00\n\n[database]\nports = [ 8000, 8001, 8002 ]\nenabled = true\ntemp_targets = { cpu = 79.5, case = 72.0 }\n\n[servers.alpha]\nip = \"10.0.0.1\"\n\n[[products]]\nname = \"Hammer\"\n\n[[products]]\n\n[[products]]\nname = \"Nail\"\ncolor = \"gray\"" | toJson }}"#,
        r#"{"database":{"enabled":true,"ports":[8000,8001,8002],"temp_targets":{"case":72,"cpu":79.5}},"owner":{"dob":"1979-05-27T07:32:00-08:00","name":"Tom"},"products":[{"name":"Hammer"},{},{"color":"gray","name":"Nail"}],"servers":{"alpha":{"ip":"10.0.0.1"}},"title":"TOML"}"#,
    ),
    (
        r#"{{ list (fromToml "a = 1979-05-27T07:32:00Z").a (fromToml "a = 1979-05-27T07:32:00-07:00").a (fromToml "a = 1979-05-27 07:32:00.999999+01:30").a (fromToml "a = 1979-05-27T07:32:00").a (fromToml "a = 1979-05-27").a (fromToml "a = 07:32:00.5").a (fromToml "a = 07:32").a (fromToml "a = 1979-05-27t07:32z").a (fromToml "a = 1979-05-27T07:32:00.1234567891Z").a | toString }}"#,
        r#"[1979-05-27 07:32:00 +0000 UTC 1979-05-27 07:32:00 -0700 -0700 1979-05-27 07:32:00.999999 +0130 +0130 1979-05-27 07:32:00 +0000 datetime-local 1979-05-27 00:00:00 +0000 date-local 0000-01-01 07:32:00.5 +0000 time-local 0000-01-01 07:32:00 +0000 time-local 1979-05-27 07:32:00 +0000 UTC 1979-05-27 07:32:00.123456789 +0000 UTC]"#,
    ),
    (
        r#"{{ list (fromToml "a = {b = 1}\na.c = 2") (fromToml "a.b = 1\n[a]\nc = 3") (fromToml "[[a.b]]\n[a]\nx = 1") (fromToml "a = [1]\na.b = 2") (fromToml "[t.u]\nx = 1\n[t]\nu.y = 2") (fromToml "a = {}\n[a.b]") (fromToml "a = {b = [{c = 1}]}") | toJson }}"#,
        r#"[{"a":{"b":1,"c":2}},{"a":{"b":1,"c":3}},{"a":{"b":[{}],"x":1}},{"a":{"b":2}},{"t":{"u":{"x":1,"y":2}}},{"a":{"b":{}}},{"a":{"b":[{"c":1}]}}]"#,
    ),
    (
        r#"{{ list (fromToml "a = 1\na = 2") (fromToml "[t]\na.b = 1\na.b = 2") (fromToml "[a]\nb = 1\n[a]") (fromToml "a = [1]\n[[a]]") (fromToml "[a]\n[[a]]") (fromToml "a = 1\na.b = 2") (fromToml "a = {b = 1, b.c = 2}") (fromToml "a = [{b=1}]\n[a.c]") (fromToml "\"a.b\" = 1\n\"a.b\" = 2") (fromToml "[x.\"y z\"]\nq = 1\nq = 2") (fromToml "a.b = 1\na = {c = 2}") (fromToml "[t]\nx = [{b=1}]\n[t.x.c]") | toJson }}"#,
        r#"[{"Error":"toml: line 2 (last key \"a\"): Key 'a' has already been defined."},{"Error":"toml: line 3 (last key \"t.a.b\"): Key 't.a.b' has already been defined."},{"Error":"toml: line 3: Key 'a' has already been defined."},{"Error":"toml: line 2: Key 'a' was already created and cannot be used as an array."},{"Error":"toml: line 2: Key 'a' was already created and cannot be used as an array."},{"Error":"toml: line 2 (last key \"a.b\"): Key 'a' has already been defined."},{"Error":"toml: line 1 (last key \"a.b.c\"): Key 'a.b' has already been defined."},{"Error":"toml: line 2: Key 'a' was already created as a hash."},{"Error":"toml: line 2 (last key \"a.b\"): Key '\"a.b\"' has already been defined."},{"Error":"toml: line 3 (last key \"x.\\\"y z\\\".q\"): Key 'x.\"y z\".q' has already been defined."},{"Error":"toml: line 2 (last key \"a\"): Key 'a' has already been defined."},{"Error":"toml: line 3 (last key \"t\"): Key 't.x' was already created as a hash."}]"#,
    ),
    (
        r#"{{ list (fromToml "a = ") (fromToml "a = \"unterminated") (fromToml "[a\nb=1") (fromToml "= 1") (fromToml "a = 1 b = 2") (fromToml "x = [1, 2") (fromToml "a = tru") (fromToml "a = inx") (fromToml "ünï = 1") (fromToml "[]") (fromToml "a = [1,,2]") (fromToml "a = {x = 1 y = 2}") (fromToml "[[a]") | toJson }}"#,
        r#"[{"Error":"toml: line 1 (last key \"a\"): unexpected EOF; expected value"},{"Error":"toml: line 1 (last key \"a\"): unexpected EOF; expected '\"'"},{"Error":"toml: line 2: expected '.' or ']' to end table name, but got '\\n' instead"},{"Error":"toml: line 1: unexpected '=': key name appears blank"},{"Error":"toml: line 1: expected a top-level item to end with a newline, comment, or EOF, but got 'b' instead"},{"Error":"toml: line 1 (last key \"x\"): expected a comma (',') or array terminator (']'), but got end of file"},{"Error":"toml: line 1 (last key \"a\"): expected value but found \"tru\" instead"},{"Error":"toml: line 1 (last key \"a\"): expected value but found \"nx\" instead"},{"Error":"toml: line 1: expected '.' or '=', but got 'ü' instead"},{"Error":"toml: line 1: unexpected end of table name (table names cannot be empty)"},{"Error":"toml: line 1 (last key \"a\"): unexpected comma"},{"Error":"toml: line 1 (last key \"a.x\"): expected a comma or an inline table terminator '}', but got 'y' instead"},{"Error":"toml: line 1: expected end of table array name delimiter ']', but got '\\x00' instead"}]"#,
    ),
    (
        r#"{{ list (fromToml "a = \"x\\") (fromToml "a = 0x") (fromToml "a = 0o8") (fromToml "a = -0x1") (fromToml "a = 1\u0000") (fromToml "a = 1\nb = \"\u0001\"") (fromToml "a = \"\\q\"") (fromToml "a = \"\\uD800\"") (fromToml "a = \"\\x4\"") (fromToml "a = \"\"\"x\"\"\"\"\"\"") (fromToml "a = \"\\ \"") (fromToml "a = \"a\r\"") | toJson }}"#,
        r#"[{"Error":"toml: line 0 (last key \"a\"): invalid escape in string '\\\u0000'"},{"Error":"toml: line 1 (last key \"a\"): not a hexadecimal number: '0x\u0000'"},{"Error":"toml: line 1 (last key \"a\"): not an octal number: '0o8'"},{"Error":"toml: line 1 (last key \"a\"): cannot use sign with non-decimal numbers: '-0x'"},{"Error":"toml: line 1: files cannot contain NULL bytes; probably using UTF-16; TOML files must be UTF-8"},{"Error":"toml: line 2 (last key \"b\"): TOML files cannot contain control characters: '0x01'"},{"Error":"toml: line 1 (last key \"a\"): invalid escape in string '\\q'"},{"Error":"toml: line 1 (last key \"a\"): Escaped character '\\uD800' is not valid UTF-8."},{"Error":"toml: line 1 (last key \"a\"): expected two hexadecimal digits after '\\x', but got \"\\\\x4\\\"\" instead"},{"Error":"toml: line 1 (last key \"a\"): unexpected '\"\"\"\"\"\"'"},{"Error":"toml: line 1 (last key \"a\"): invalid escape: '\\ '"},{"Error":"toml: line 1 (last key \"a\"): TOML files cannot contain control characters: '0x0d'"}]"#,
    ),
    (
        r#"{{ list (fromToml "a = 1__0") (fromToml "a = 01") (fromToml "a = 1.") (fromToml "a = .5") (fromToml "a = 1e") (fromToml "a = 1.5e-") (fromToml "a = 0_1") (fromToml "a = 99999999999999999999") (fromToml "a = 1e400") (fromToml "a = 1979-13-27") (fromToml "a = 2000-02-30") (fromToml "a = 1979-05-27T7:32:00Z") (fromToml "a = 1979-05-27T07:32:00+25:00") | toJson }}"#,
        r#"[{"Error":"toml: line 1 (last key \"a\"): Invalid integer \"1__0\": underscores must be surrounded by digits"},{"Error":"toml: line 1 (last key \"a\"): Invalid integer \"01\": cannot have leading zeroes"},{"Error":"toml: line 1 (last key \"a\"): Invalid float \"1.\": '.' must be followed by one or more digits"},{"Error":"toml: line 1 (last key \"a\"): floats must start with a digit, not '.'"},{"Error":"toml: line 1 (last key \"a\"): Invalid float value: \"1e\""},{"Error":"toml: line 1 (last key \"a\"): Invalid float \"1.5e-\": underscores must be surrounded by digits"},{"Error":"toml: line 1 (last key \"a\"): Invalid integer \"0_1\": cannot have leading zeroes"},{"Error":"toml: line 1 (last key \"a\"): 99999999999999999999 is out of range for int64"},{"Error":"toml: line 1 (last key \"a\"): 1e400 is out of range for float64"},{"Error":"toml: line 1 (last key \"a\"): invalid datetime: \"1979-13-27\""},{"Error":"toml: line 1 (last key \"a\"): invalid datetime: \"2000-02-30\""},{"Error":"toml: line 1 (last key \"a\"): invalid datetime: \"1979-05-27T7:32:00Z\""},{"Error":"toml: line 1 (last key \"a\"): invalid datetime: \"1979-05-27T07:32:00+25:00\""}]"#,
    ),
    (
        r#"{{ fromToml "a = 0xff\nb = 0o17\nc = 0b101\nd = 1_000\ne = 1e3\nf = -0.0\ng = +1\nh = 1.5e+3_0\ni = 3_000.1_5\nj = -9223372036854775808\nk = 0xDEAD_beef\nl = 1e-400\nm = nan\nn = -inf" | toString }}"#,
        r#"map[a:255 b:15 c:5 d:1000 e:1000 f:-0 g:1 h:1.5e+30 i:3000.15 j:-9223372036854775808 k:3735928559 l:0 m:NaN n:-Inf]"#,
    ),
    (
        r#"{{ fromToml "a = \"\\u00e9\\U0001F600\\x41\\e\\t\"\nb = \"\"\"\nline1\\\n     line2\"\"\"\nc = 'C:\\path'\nd = '''\nraw\nx'''\ne = \"\"\"q\"\"\"\"\"\n\"key with space\" = 1\n'lit' = 2" | toJson }}"#,
        r#"{"a":"é😀A\u001b\t","b":"line1line2","c":"C:\\path","d":"raw\nx","e":"q\"\"","key with space":1,"lit":2}"#,
    ),
    (
        r#"{{ fromToml "a = {x = 1,\n y = 2, # c\n}\nb = [\n  1, # one\n  2,\n]\n  # c\n\n[ t . \"u\" ]  # x\n k = 1" | toJson }}"#,
        r#"{"a":{"x":1,"y":2},"b":[1,2],"t":{"u":{"k":1}}}"#,
    ),
    (r#"{{ fromToml "" | toJson }}"#, r#"{}"#),
    (
        r#"{{ fromToml "\ufeffa = 1\r\nb = 2\r\n" | toJson }}"#,
        r#"{"a":1,"b":2}"#,
    ),
];

/// (template, what helm rendered): yaml.v3's encoder with two-space indentation.
const TO_YAML_PRETTY: &[(&str, &str)] = &[
    (
        r#"{{ fromJson "{\"name\": \"web\", \"port\": 8080, \"ratio\": 1.5, \"big\": 1000000, \"tiny\": 1e-7, \"nested\": {\"z\": 1, \"inner\": {\"deep\": true, \"list\": [1, [2, 3], {\"k\": \"v\"}]}}, \"servers\": [{\"host\": \"a\", \"port\": 1}, {\"host\": \"b\", \"sub\": {\"k\": \"v\"}, \"l\": [\"x\", \"y\"]}], \"lol\": [[1, 2], [\"a\"]], \"emptyMap\": {}, \"emptyList\": [], \"nothing\": null}" | toYamlPretty }}"#,
        r#"big: 1e+06
emptyList: []
emptyMap: {}
lol:
  - - 1
    - 2
  - - a
name: web
nested:
  inner:
    deep: true
    list:
      - 1
      - - 2
        - 3
      - k: v
  z: 1
nothing: null
port: 8080
ratio: 1.5
servers:
  - host: a
    port: 1
  - host: b
    l:
      - x
      - "y"
    sub:
      k: v
tiny: 1e-07"#,
    ),
    (
        r#"{{ list 1 "a" (dict "k" "v") (list (list (dict "a" 1 "b" 2))) (list) (dict) nil true 3.5 | toYamlPretty }}"#,
        r#"- 1
- a
- k: v
- - - a: 1
      b: 2
- []
- {}
- null
- true
- 3.5"#,
    ),
    (
        "{{ list \"\" \"-\" \"~\" \"null\" \"Null\" \"yes\" \"no\" \"y\" \"n\" \"on\" \"off\" \"0x1F\" \"+1\" \".inf\" \"-.inf\" \".nan\" \"1_000\" \"0o17\" \"0b101\" \"1:20\" \"12:30:45\" \"@a\" \"`a\" \"%a\" \"!a\" \"&a\" \"a&\" \"[a]\" \"{a}\" \"a,b\" \"a]\" \"?\" \"? a\" \"a?\" \":a\" \"a:\" \"a:b\" \"-a\" \"--- a\" \"...\" \"#a\" \"a#\" \"a #\" \"<<\" \"=\" \"0\" \"-0\" \"00\" \"08\" \"1e3\" \"1e400\" \"0.5\" \".5\" \"5.\" \"2001-12-14t21:59:43.10-05:00\" \"2001-12-14\" \"2001-1-4\" \"True\" \"FALSE\" \"NULL\" \"Yes\" \"ON\" \"Off\" \"it's\" \"say \\\"hi\\\"\" | toYamlPretty }}",
        r#"- ""
- '-'
- "~"
- "null"
- "Null"
- "yes"
- "no"
- "y"
- "n"
- "on"
- "off"
- "0x1F"
- "+1"
- ".inf"
- "-.inf"
- ".nan"
- "1_000"
- "0o17"
- "0b101"
- "1:20"
- "12:30:45"
- '@a'
- '`a'
- '%a'
- '!a'
- '&a'
- a&
- '[a]'
- '{a}'
- a,b
- a]
- '?'
- '? a'
- a?
- :a
- 'a:'
- a:b
- -a
- '--- a'
- '...'
- '#a'
- a#
- 'a #'
- <<
- =
- "0"
- "-0"
- "00"
- "08"
- "1e3"
- 1e400
- "0.5"
- ".5"
- "5."
- "2001-12-14t21:59:43.10-05:00"
- "2001-12-14"
- "2001-1-4"
- "True"
- "FALSE"
- "NULL"
- "Yes"
- "ON"
- "Off"
- it's
- say "hi""#,
    ),
    (
        r#"{{ list "😀" "é" "\u0085" "\u200b" "\r" "a\r\nb" "\nlead" "trail\n" " " "a  b" "a\tb" "\tlead" "x\u2028y" "\u00a0x" "\ufeffxyz" "a\ufeffxyz" (repeat 20 "word ") | toYamlPretty }}"#,
        "- \"\\U0001F600\"\n- é\n- \"\\N\"\n- \u{200b}\n- \"\\r\"\n- \"a\\r\\nb\"\n- |2-\n\n  lead\n- |\n  trail\n- ' '\n- a  b\n- \"a\\tb\"\n- \"\\tlead\"\n- 'x\u{2028}  y'\n- \u{a0}x\n- \"\\uFEFF\\x78\\x79\\x7A\"\n- \"a\\uFEFFxyz\"\n- 'word word word word word word word word word word word word word word word word word word word word '",
    ),
    (
        r#"{{ dict "multi" "line1\nline2\n" "multi2" "line1\nline2" "multi3" "a\n\nb\n\n" "lead" "  two\nlines" "trail" "trail \nx" "tab" "a\tb\nc" "m" (dict "a" "x\ny") "l" (list "a\nb") | toYamlPretty }}"#,
        "l:\n  - |-\n    a\n    b\nlead: |2-\n    two\n  lines\nm:\n  a: |-\n    x\n    y\nmulti: |\n  line1\n  line2\nmulti2: |-\n  line1\n  line2\nmulti3: |+\n  a\n\n  b\n\ntab: |-\n  a\tb\n  c\ntrail: \"trail \\nx\"",
    ),
    (
        r#"{{ list (toYamlPretty "hello") (toYamlPretty "multi\nline") (toYamlPretty "a\n\n") (toYamlPretty nil) (toYamlPretty (dict)) (toYamlPretty (list)) (toYamlPretty 1.0) (toYamlPretty 1e6) (toYamlPretty (int64 3)) (toYamlPretty (float64 "inf")) (toYamlPretty (float64 "-inf")) (toYamlPretty (float64 "nan")) (toYamlPretty -0.0) | toJson }}"#,
        r#"["hello","|-\n  multi\n  line","|+\n  a\n","null","{}","[]","1","1e+06","3",".inf","-.inf",".nan","-0"]"#,
    ),
    (
        r#"{{ dict "a1b" 1 "a10" 2 "a1" 3 "a1_" 4 "ab" 5 "a_" 6 "a01" 7 "a001" 8 "a2" 9 "B" 10 "_" 11 "1" 12 "10" 13 "9" 14 "z" 16 | toYamlPretty }}"#,
        r#"_: 11
"1": 12
"9": 14
"10": 13
B: 10
a_: 6
a1: 3
a1b: 1
a1_: 4
a01: 7
a001: 8
a2: 9
a10: 2
ab: 5
z: 16"#,
    ),
    (
        r#"{{ dict (repeat 129 "k") (dict "a" 1 "b" 2) (repeat 128 "j") 1 "x\ny" (list 1 2) "" 1 " " 2 "- x" 3 | toYamlPretty }}"#,
        r#""": 1
' ': 2
'- x': 3
jjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjj: 1
? kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk
: a: 1
  b: 2
? |-
  x
  y
: - 1
  - 2"#,
    ),
    (
        r#"{{ dict "t" (toDate "2006-01-02" "2020-03-04") "l" (list (toDate "2006-01-02T15:04:05Z07:00" "2020-03-04T05:06:07+01:00")) | toYamlPretty }}"#,
        r#"l:
  - 2020-03-04T05:06:07+01:00
t: 2020-03-04T00:00:00Z"#,
    ),
    (
        r#"{{ fromToml "a = 1\nb = 1979-05-27\nc = [1.5, 2]\n[[d]]\ne = \"x\"" | toYamlPretty }}"#,
        r#"a: 1
b: 1979-05-27T00:00:00Z
c:
  - 1.5
  - 2
d:
  - e: x"#,
    ),
    (
        r#"{{ dict "a" (dict "b" (dict)) "c" (list (list)) | toYamlPretty }}"#,
        r#"a:
  b: {}
c:
  - []"#,
    ),
];

#[test]
fn to_toml() {
    check(TO_TOML);
}

#[test]
fn from_toml() {
    check(FROM_TOML);
}

#[test]
fn to_yaml_pretty() {
    check(TO_YAML_PRETTY);
}

/// helm: `error calling toToml: reflect: call of reflect.Value.Type on zero Value` (Go
/// panics on a nil argument; Helm reports the panic as the call's error).
#[test]
fn to_toml_of_nil_fails_the_call() {
    let err = render("{{ toToml nil }}").expect_err("toToml nil");
    assert!(
        err.ends_with("error calling toToml: reflect: call of reflect.Value.Type on zero Value"),
        "{err}"
    );
}

/// Hostile nesting is an error, never a stack overflow. Helm (whose Go stacks grow) reads
/// `a = [[[...` 3000 deep to the end and says `toml: line 1 (last key "a"): unexpected EOF;
/// expected value`; here nesting stops at 1000 levels (a known difference).
#[test]
fn hostile_nesting_is_refused() {
    for (opener, key) in [("[", "a"), ("{b = ", "a.b.b")] {
        let text =
            format!(r#"{{{{ (fromToml (printf "a = %s" (repeat 1000000 "{opener}"))).Error }}}}"#);
        let got = render(&text).expect("render");
        assert!(
            got.starts_with(&format!("toml: line 1 (last key \"{key}"))
                && got.ends_with("): nesting deeper than 1000 levels"),
            "{opener}: {}",
            &got[..got.len().min(200)]
        );
    }
    // Table names and dotted keys nest too.
    let text = r#"{{ (fromToml (printf "[%s]" (repeat 100000 "a." | trimSuffix "."))).Error }}"#;
    let got = render(text).expect("render");
    assert!(got.ends_with("nesting deeper than 1000 levels"), "{got}");
    // Below the bound, deep documents read and print (helm: "1806 1806").
    let text = r#"{{ $d := fromToml (printf "a = %s1%s" (repeat 900 "[") (repeat 900 "]")) }}{{ len (toToml $d) }} {{ len (toYamlPretty $d) }}"#;
    assert_eq!(render(text).expect("render"), "1806 1806");
}

/// A map inside itself, on which Go overflows its stack, fails the call.
#[test]
fn cycles_fail() {
    for f in ["toToml", "toYamlPretty"] {
        let text = format!(
            r#"{{{{ $d := dict "a" 1 }}}}{{{{ $_ := set $d "self" $d }}}}{{{{ {f} $d }}}}"#
        );
        let err = render(&text).expect_err(f);
        assert!(err.contains("contains itself"), "{err}");
    }
}

/// Values a template nests in a loop: deep ones print, beyond the walk bound
/// ([`MAX_DEPTH`]) the call fails (Go recurses on; nothing here may overflow the stack).
#[test]
fn deep_values_print_or_fail() {
    for f in ["toToml", "toYamlPretty"] {
        let n = MAX_DEPTH - 10;
        let text = format!(
            r#"{{{{ $x := list 1 }}}}{{{{ range until {n} }}}}{{{{ $x = list $x }}}}{{{{ end }}}}{{{{ $d := dict "a" $x }}}}{{{{ len ({f} $d) }}}}"#
        );
        let got = render(&text);
        assert!(got.is_ok(), "{f}: {got:?}");
        let n = MAX_DEPTH + 10;
        let text = format!(
            r#"{{{{ $x := dict }}}}{{{{ range until {n} }}}}{{{{ $x = dict "a" $x }}}}{{{{ end }}}}{{{{ {f} $x }}}}"#
        );
        let err = render(&text).expect_err(f);
        assert!(
            err.contains(&format!("nests deeper than {MAX_DEPTH} levels")),
            "{err}"
        );
    }
}
