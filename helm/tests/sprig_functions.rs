//! Sprig functions rendered through the template engine, against what `helm template`
//! (v4.1.4) printed for the same template text.

use weir_helm::sprig::functions;
use weir_helm::template::TemplateSet;
use weir_helm::value::Value;

/// Renders `text` as a template with the Sprig functions and no data.
fn render(text: &str) -> Result<String, String> {
    let mut set = TemplateSet::new(functions());
    set.add("t", text).map_err(|e| e.to_string())?;
    set.execute("t", &Value::Nil).map_err(|e| e.to_string())
}

/// (template, what helm rendered)
const CASES: &[(&str, &str)] = &[
    (
        r#"{{ trim "  a b  " }}|{{ trimAll "$" "$$5.00$" }}|{{ trimSuffix "-" "hello-" }}|{{ trimPrefix "-" "-hello" }}|{{ trimall "x" "xax" }}"#,
        r#"a b|5.00|hello|hello|a"#,
    ),
    (
        r#"{{ upper "straße ǆ" }}|{{ lower "HELLO ΣΑΣ İ" }}|{{ title "hello wORLD foo-bar a_b" }}|{{ untitle "Hello World" }}"#,
        r#"STRAßE Ǆ|hello σασ i|Hello WORLD Foo-Bar A_b|hello world"#,
    ),
    (
        r#"{{ substr 0 5 "hello world" }}|{{ repeat 3 "ab" }}|{{ nospace "h e l\tl\no" }}|{{ initials "First Try" }}"#,
        r#"hello|ababab|hello|FT"#,
    ),
    (
        r#"{{ swapcase "This Is A.Test" }}|{{ snakecase "FirstName" }}|{{ camelcase "http_server" }}|{{ kebabcase "FirstName" }}"#,
        r#"tHIS iS a.tEST|first_name|HttpServer|first-name"#,
    ),
    (
        r#"{{ wrap 5 "Hello World" }}|{{ wrapWith 5 "\t" "Hello World" }}|{{ abbrev 5 "hello world" }}|{{ abbrevboth 5 10 "1234 5678 9123" }}"#,
        r#"Hello
World|Hello	World|he...|...5678..."#,
    ),
    (
        r#"{{ trunc 5 "hello world" }}|{{ trunc -5 "hello world" }}|{{ contains "cat" "catch" }}|{{ hasPrefix "cat" "catch" }}|{{ hasSuffix "ch" "catch" }}"#,
        r#"hello|world|true|true|true"#,
    ),
    (
        r#"{{ quote "a" 1 nil "b\"c" }}|{{ squote "a" 1 }}|{{ cat "hello" "beautiful" "world" nil 3 }}"#,
        r#""a" "1" "b\"c"|'a' '1'|hello beautiful world 3"#,
    ),
    (
        r#"{{ indent 4 "a\nb" }}|{{ nindent 2 "x\ny" }}|{{ replace " " "-" "I Am Henry VIII" }}|{{ plural "anchovy" "anchovies" 2 }}"#,
        r#"    a
    b|
  x
  y|I-Am-Henry-VIII|anchovies"#,
    ),
    (
        r#"{{ toString 1e6 }}|{{ toString 3.0 }}|{{ toString 0.1 }}|{{ toString true }}|{{ toString nil }}|{{ toString (list "a" 1) }}|{{ toString (dict "k" "v") }}"#,
        r#"1e+06|3|0.1|true|<nil>|[a 1]|map[k:v]"#,
    ),
    (
        r#"{{ toStrings (list 1 2 3) }}|{{ typeOf (toStrings (list 1)) }}|{{ join "_" (list "a" "b" 1) }}|{{ splitList "$" "foo$bar$baz" }}"#,
        r#"[1 2 3]|[]string|a_b_1|[foo bar baz]"#,
    ),
    (
        r#"{{ $a := split "$" "foo$bar$baz" }}{{ $a._0 }}{{ $a._2 }}|{{ (splitn "$" 2 "foo$bar$baz")._1 }}|{{ sortAlpha (list "c" "a" "b") }}"#,
        r#"foobaz|bar$baz|[a b c]"#,
    ),
    (
        r#"{{ atoi "42" }}|{{ int64 "42" }}|{{ int 3.99 }}|{{ float64 "3.5" }}|{{ int "0x10" }}|{{ typeOf (int64 1) }}|{{ typeOf (float64 1) }}"#,
        r#"42|42|3|3.5|16|int64|float64"#,
    ),
    (
        r#"{{ add 1 2 3 }}|{{ add1 5 }}|{{ sub 10 3 }}|{{ div 10 3 }}|{{ mod 10 3 }}|{{ mul 2 3 4 }}|{{ max 1 9 3 }}|{{ min 4 2 8 }}|{{ biggest 1 5 }}"#,
        r#"6|6|7|3|1|24|9|2|5"#,
    ),
    (
        r#"{{ addf 1.5 2 }}|{{ subf 10 3.3 }}|{{ mulf 1.5 2 }}|{{ divf 10 4 }}|{{ maxf 1 2.5 3 }}|{{ minf 1 2.5 0.3 }}|{{ floor 1.5 }}|{{ ceil 1.5 }}|{{ round 123.555555 3 }}|{{ round 123.5 0 0.6 }}"#,
        r#"3.5|6.7|3|2.5|3|0.3|1|2|123.556|123"#,
    ),
    (
        r#"{{ add 9223372036854775807 1 }}|{{ mul 4294967296 4294967296 }}|{{ add "3" "4" }}|{{ sub "a" 1 }}|{{ add1f 1.1 }}"#,
        r#"-9223372036854775808|0|7|-1|2.1"#,
    ),
    (
        r#"{{ until 5 }}|{{ untilStep 3 6 2 }}|{{ seq 1 3 }}|{{ until -3 }}|{{ typeOf (until 1) }}"#,
        r#"[0 1 2 3 4]|[3 5]|1 2 3|[0 -1 -2]|[]int"#,
    ),
    (
        r#"{{ list 1 2 3 | first }}|{{ list 1 2 3 | rest }}|{{ list 1 2 3 | last }}|{{ list 1 2 3 | initial }}|{{ append (list 1 2) 3 }}|{{ prepend (list 1 2) 0 }}"#,
        r#"1|[2 3]|3|[1 2]|[1 2 3]|[0 1 2]"#,
    ),
    (
        r#"{{ concat (list 1 2) (list 3) (list) }}|{{ reverse (list 1 2 3) }}|{{ uniq (list 1 1 2 "a" "a") }}|{{ without (list 1 2 3 2) 2 }}|{{ has 2 (list 1 2) }}|{{ has "x" nil }}"#,
        r#"[1 2 3]|[3 2 1]|[1 2 a]|[1 3]|true|false"#,
    ),
    (
        r#"{{ compact (list 1 "" nil 0 false "a" (list)) }}|{{ slice (list 1 2 3 4) 1 3 }}|{{ slice (list 1 2 3 4) 2 }}|{{ chunk 2 (list 1 2 3 4 5) }}|{{ typeOf (chunk 2 (list 1)) }}"#,
        r#"[1 a]|[2 3]|[3 4]|[[1 2] [3 4] [5]]|[][]interface {}"#,
    ),
    (
        r#"{{ first (list) }}|{{ rest (list) }}|{{ last (list) }}|{{ typeOf (list 1 | rest) }}|{{ mustFirst (list "x") }}|{{ push (list) "a" }}"#,
        r#"<no value>|[]|<no value>|[]interface {}|x|[a]"#,
    ),
    (
        r#"{{ $d := dict "name1" "value1" "name2" "value2" }}{{ get $d "name1" }}|{{ hasKey $d "name2" }}|{{ keys $d | sortAlpha }}|{{ values $d | sortAlpha }}|{{ pick $d "name1" }}|{{ omit $d "name1" }}"#,
        r#"value1|true|[name1 name2]|[value1 value2]|map[name1:value1]|map[name2:value2]"#,
    ),
    (
        r#"{{ $d := dict "a" 1 }}{{ $e := set $d "b" 2 }}{{ $e }}|{{ unset $e "a" }}|{{ pluck "a" (dict "a" 1) (dict "a" 2) }}|{{ dig "x" "y" "z" "dflt" (dict "x" (dict "y" (dict "z" "found"))) }}"#,
        r#"map[a:1 b:2]|map[b:2]|[1 2]|found"#,
    ),
    (
        r#"{{ merge (dict "a" 1) (dict "a" 2 "b" 2) }}|{{ mergeOverwrite (dict "a" 1) (dict "a" 2 "b" 2) }}|{{ deepCopy (dict "a" (list 1)) }}|{{ dict "k" }}"#,
        r#"map[a:1 b:2]|map[a:2 b:2]|map[a:[1]]|map[k:]"#,
    ),
    (
        r#"{{ default "foo" "" }}|{{ default "foo" "bar" }}|{{ default "foo" nil }}|{{ default "foo" 0 }}|{{ default "foo" (list) }}|{{ default "foo" false }}|{{ default 5 }}"#,
        r#"foo|bar|foo|foo|foo|foo|5"#,
    ),
    (
        r#"{{ empty "" }}|{{ empty 0 }}|{{ empty 0.0 }}|{{ empty (dict) }}|{{ empty "a" }}|{{ empty nil }}|{{ coalesce "" 0 "x" "y" }}|{{ coalesce "" nil }}|{{ all 1 "a" true }}|{{ all 1 "" }}|{{ any "" 0 "z" }}|{{ any "" }}"#,
        r#"true|true|true|true|false|true|x|<no value>|true|false|true|false"#,
    ),
    (
        r#"{{ ternary "yes" "no" true }}|{{ ternary "yes" "no" false }}|{{ toJson (dict "a" (list 1 2.5 "x<") "b" nil) }}|{{ toRawJson (list "<>") }}|{{ toPrettyJson (dict "a" 1) }}"#,
        r#"yes|no|{"a":[1,2.5,"x\u003c"],"b":null}|["<>"]|{
  "a": 1
}"#,
    ),
    (
        r#"{{ (fromJson "{\"a\":{\"b\":[1,2]}}").a.b }}|{{ fromJsonArray "[1,2]" }}|{{ mustFromJson "[1]" }}|{{ mustToJson (list 1) }}"#,
        r#"[1 2]|[1 2]|[1]|[1]"#,
    ),
    (
        r#"{{ typeOf 1 }}|{{ typeOf 1.5 }}|{{ typeOf "s" }}|{{ typeOf (list) }}|{{ typeOf (dict) }}|{{ kindOf (list) }}|{{ kindOf 1 }}|{{ kindIs "map" (dict) }}|{{ typeIs "string" "x" }}|{{ typeIsLike "string" "x" }}|{{ deepEqual (list 1) (list 1) }}|{{ deepEqual 1 1.0 }}"#,
        r#"int|float64|string|[]interface {}|map[string]interface {}|slice|int|true|true|true|true|false"#,
    ),
    (
        r#"{{ base "/a/b.txt" }}|{{ dir "/a/b.txt" }}|{{ clean "a/../b//c" }}|{{ ext "x.tar.gz" }}|{{ isAbs "/x" }}|{{ osBase "a/b" }}|{{ osDir "a/b" }}|{{ osClean "./a" }}|{{ osExt "a.b" }}|{{ osIsAbs "a" }}"#,
        r#"b.txt|/a|b/c|.gz|true|b|a|a|.b|false"#,
    ),
    (
        r#"{{ b64enc "hello" }}|{{ b64dec "aGVsbG8=" }}|{{ b32enc "hello" }}|{{ b32dec "NBSWY3DP" }}|{{ b64dec "aGVsbG8" }}"#,
        r#"aGVsbG8=|hello|NBSWY3DP|hello|illegal base64 data at input byte 4"#,
    ),
    (
        r#"{{ sha1sum "hello" }}|{{ sha256sum "hello" }}|{{ adler32sum "hello" }}|{{ sha512sum "hi" }}"#,
        r#"aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d|2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824|103547413|150a14ed5bea6cc731cf86c41566ac427a8db48ef1b9fd626664b3bfbb99071fa4c922f33dde38719b8c8354e2b7ab9d77e0e67fc12843920a712e73d558e197"#,
    ),
    (
        r#"{{ semver "1.2.3-beta.1+b5" }}|{{ (semver "1.2.3").Major }}|{{ (semver "v2.3").Minor }}|{{ (semver "1.2.3-rc").Prerelease }}|{{ semverCompare ">=1.2" "1.3.0" }}|{{ semverCompare "^1" "2.0.0" }}|{{ (semver "1.0.0").LessThan (semver "1.0.1") }}"#,
        r#"1.2.3-beta.1+b5|1|3|rc|true|false|true"#,
    ),
    (
        r#"{{ regexMatch "^[a-z]+$" "abc" }}|{{ regexMatch "(" "x" }}|{{ regexFindAll "[2,4,6,8]" "123456789" -1 }}|{{ regexFindAll "[2,4,6,8]" "123456789" 2 }}|{{ regexFind "[a-zA-Z][1-9]" "abcd1234" }}"#,
        r#"true|false|[2 4 6 8]|[2 4]|d1"#,
    ),
    (
        r#"{{ regexReplaceAll "a(x*)b" "-ab-axxb-" "${1}W" }}|{{ regexReplaceAllLiteral "a(x*)b" "-ab-axxb-" "${1}" }}|{{ regexSplit "z+" "pizza" -1 }}|{{ regexSplit "z+" "pizza" 1 }}|{{ regexQuoteMeta "1.5-2.0?" }}"#,
        r#"-W-xxW-|-${1}-${1}-|[pi a]|[pizza]|1\.5-2\.0\?"#,
    ),
    (
        r#"{{ (urlParse "https://user:pw@example.com:8080/a%20b/c?q=1&r=2#frag").host }}|{{ (urlParse "https://user:pw@example.com:8080/a%20b/c?q=1#frag").path }}|{{ (urlParse "https://user:pw@example.com:8080/x?q=1#frag").hostname }}|{{ (urlParse "https://user:pw@example.com/x?q=1#frag").userinfo }}|{{ (urlParse "https://example.com/x?q=1#frag").query }}|{{ (urlParse "mailto:a@b.c").opaque }}"#,
        r#"example.com:8080|/a b/c|example.com|user:pw|q=1|a@b.c"#,
    ),
    (
        r#"{{ urlJoin (dict "fragment" "fragment" "host" "host:80" "path" "/path" "query" "query" "scheme" "http") }}|{{ urlJoin (dict "scheme" "https" "host" "h" "path" "a b") }}"#,
        r#"http://host:80/path?query#fragment|https://h/a%20b"#,
    ),
    (
        r#"{{ date "2006-01-02" 0 }}|{{ dateInZone "2006-01-02 15:04:05 MST" (int64 1700000000) "UTC" }}|{{ dateInZone "Mon Jan _2 15:04:05 -0700 2006" (int64 1700000000) "America/New_York" }}|{{ htmlDateInZone (int64 86400) "UTC" }}"#,
        r#"1970-01-01|2023-11-14 22:13:20 UTC|Tue Nov 14 17:13:20 -0500 2023|1970-01-02"#,
    ),
    (
        r#"{{ toDate "2006-01-02" "2017-12-31" | date "02/01/2006" }}|{{ (toDate "2006-01-02T15:04:05Z07:00" "2021-03-04T05:06:07+02:00") | unixEpoch }}|{{ toDate "2006-01-02" "bad" | unixEpoch }}|{{ dateModify "+1h30m" (toDate "2006-01-02" "2020-01-01") | date "15:04" }}"#,
        r#"31/12/2017|1614827167|-62135596800|01:30"#,
    ),
    (
        r#"{{ duration "3661" }}|{{ duration (int64 59) }}|{{ durationRound "1h1m" }}|{{ durationRound "26h" }}|{{ dateInZone "3:04:05.000 PM Z07:00" (int64 1700000000) "Asia/Kolkata" }}"#,
        r#"1h1m1s|59s|1h|1d|3:43:20.000 AM +05:30"#,
    ),
    (
        r#"{{ derivePassword 1 "long" "password" "user" "example.com" }}|{{ derivePassword 1 "pin" "pw" "u" "s" }}|{{ decryptAES "secretkey" "D/c5ISZb07X8VyUaWUUpi/RTNStpkWGOolFs+3XNjF8=" }}"#,
        r#"ZedaFaxcZaso9*|6287|plaintext"#,
    ),
    (
        r#"{{ getHostByName "example.com" }}|{{ lookup "v1" "Pod" "ns" "n" }}|{{ required "msg" "ok" }}|{{ len (randAlphaNum 7) }}|{{ len (uuidv4) }}"#,
        r#"|map[]|ok|7|36"#,
    ),
    (
        r#"{{ initial (list) }}|{{ typeOf (initial (list)) }}|{{ typeOf (rest (list)) }}|{{ typeOf (first (list)) }}|{{ reverse (list) }}|{{ typeOf (reverse (list)) }}|{{ typeOf (rest (list "a" "b" | toStrings)) }}|{{ typeOf (first (toStrings (list 1))) }}|{{ uniq (list) }}|{{ slice (list 1 2) 2 }}|{{ typeOf (slice (toStrings (list 1 2)) 1) }}|{{ typeOf (append (toStrings (list 1)) 2) }}|{{ typeOf (compact (list)) }}"#,
        r#"[]|[]interface {}|[]interface {}|<nil>|[]|[]interface {}|[]interface {}|string|[]|[]|[]string|[]interface {}|[]interface {}"#,
    ),
    (
        r#"{{ quote }}|{{ quote "" }}|{{ squote nil }}|{{ cat }}|{{ toJson nil }}|{{ toJson "" }}|{{ toPrettyJson (list) }}|{{ b64enc "" }}|{{ sha256sum "" }}|{{ join "," nil }}|{{ sortAlpha "x" }}|{{ splitList "," "" }}|{{ len (splitList "," "") }}"#,
        r#"|""|||null|""|[]||e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855||[x]|[]|1"#,
    ),
    (
        r#"{{ title "" }}|{{ snakecase "" }}|{{ wrap 0 "a b" }}|{{ abbrev 0 "abc" }}|{{ trunc 0 "abc" }}|{{ substr 0 0 "abc" }}|{{ repeat 0 "x" }}|{{ indent 0 "x" }}|{{ until 0 }}|{{ seq }}|{{ untilStep 0 0 0 }}"#,
        r#"||a
b|abc||||x|[]||[]"#,
    ),
    (
        r#"{{ semverCompare "~1.2.3" "1.2.9" }}|{{ semverCompare "1.2 - 1.4.5" "1.4.5" }}|{{ semverCompare ">1.0 <2.0 || 3.x" "3.2.1" }}|{{ semverCompare ">=1.0.0-0" "1.0.0-alpha" }}|{{ semverCompare ">= 1.19.0-0" "v1.29.3-eks-adc7111" }}|{{ (semver "1.2.3+meta").Metadata }}|{{ (semver "v1.2.3").Original }}"#,
        r#"true|true|true|true|true|meta|v1.2.3"#,
    ),
    (
        r#"{{ regexFindAll "a*" "baaab" -1 }}|{{ regexFindAll "" "abc" -1 }}|{{ regexSplit "" "abc" -1 }}|{{ regexReplaceAll "a*" "baaac" "X" }}|{{ regexReplaceAll "(?P<first>\\w+) (?P<last>\\w+)" "John Smith" "${last}, ${first}" }}|{{ regexReplaceAll "(a)" "a" "$1x" }}"#,
        r#"[ aaa ]|[   ]|[a b c]|XbXcX|Smith, John|"#,
    ),
    (
        r#"{{ toYaml (dict "b" (list 1 "two" (dict "z" 1.5 "a" nil)) "a" "yes" "c" "" "d" (dict) "e" 1e6 "f" "multi\nline" "g" 0.000001) }}"#,
        r#"a: "yes"
b:
- 1
- two
- a: null
  z: 1.5
c: ""
d: {}
e: 1000000
f: |-
  multi
  line
g: 1e-06"#,
    ),
    (
        r#"{{ (fromYaml "a: 1\nb: yes\nc: [x, 2]\nd: 2001-12-14") | toJson }}|{{ fromYaml "- 1" | toJson }}|{{ fromYamlArray "- a\n- 1" | toJson }}|{{ fromYamlArray "a: 1" | toJson }}|{{ toYaml "s" }}|{{ toYaml nil }}|{{ toYaml (list) }}"#,
        r#"{"a":1,"b":true,"c":["x",2],"d":"2001-12-14"}|{"Error":"error unmarshaling JSON: while decoding JSON: json: cannot unmarshal array into Go value of type map[string]interface {}"}|["a",1]|["error unmarshaling JSON: while decoding JSON: json: cannot unmarshal object into Go value of type []interface {}"]|s|null|[]"#,
    ),
    (
        r#"{{ hello }}|{{ toDecimal "0777" }}|{{ toDecimal 777 }}|{{ toDecimal "9" }}|{{ typeOf (toDecimal 1) }}|{{ toDecimal "-17" }}|{{ toDecimal 1.5 }}"#,
        r#"Hello!|511|511|0|int64|-15|0"#,
    ),
    (
        r#"{{ regexMatch "^\\d$" "٥" }}|{{ regexFindAll "\\w+" "héllo wörld" -1 }}|{{ regexReplaceAll "\\s+" "a\u00a0 b\tc" "_" }}|{{ regexSplit "[,;&]" "a,b;c&d" -1 }}|{{ regexMatch "^[\\w.-]+@[a-z]+\\.com$" "x.y-z@ab.com" }}"#,
        r#"false|[h llo w rld]|a _b_c|[a b c d]|true"#,
    ),
    // typeIsLike(target, v) is `target == T || "*"+target == T` for v's type T.
    (
        r#"{{ typeIsLike "float64" 1.5 }}|{{ typeIsLike "*float64" 1.5 }}|{{ typeIsLike "*int" 1 }}|{{ typeIsLike "int" 1 }}|{{ typeIsLike "map[string]interface {}" (dict) }}"#,
        r#"true|false|false|true|true"#,
    ),
    // `.Weekday` and `.Month` are Go integer types with a String method: printed by name,
    // numbers to cast (`int`), JSON, and `empty`/`if`.
    (
        r#"{{ $t := toDate "2006-01-02" "2024-03-05" }}{{ $t.Weekday }}|{{ int $t.Weekday }}|{{ int64 $t.Month }}|{{ float64 $t.Month }}|{{ typeOf $t.Weekday }}|{{ kindOf $t.Month }}|{{ toJson (list $t.Month $t.Weekday) }}|{{ toString $t.Month }}|{{ $t.Month.String }}|{{ empty $t.Month }}|{{ empty (toDate "2006-01-02" "2024-03-03").Weekday }}|{{ if (toDate "2006-01-02" "2024-03-03").Weekday }}t{{ else }}f{{ end }}"#,
        r#"Tuesday|2|3|3|time.Weekday|int|[3,2]|March|March|false|true|f"#,
    ),
    // Decoded bytes that are not UTF-8 count as bytes (Go strings are bytes).
    (
        r#"{{ b64dec "AAECYmluYXJ5/w==" | len }}|{{ randBytes 24 | b64dec | len }}|{{ encryptAES "k" "plain text" | b64dec | len }}|{{ b32dec "74======" | len }}|{{ b64dec "w6k=" | len }}|{{ typeOf (b64dec "w6k=") }}"#,
        r#"10|24|32|1|2|string"#,
    ),
];

#[test]
fn functions_render_as_helm_renders_them() {
    let mut wrong = Vec::new();
    for (text, want) in CASES {
        match render(text) {
            Ok(got) if got == *want => {}
            Ok(got) => wrong.push(format!("{text}\n  want {want:?}\n  got  {got:?}")),
            Err(e) => wrong.push(format!("{text}\n  want {want:?}\n  error {e}")),
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

#[test]
fn now_is_the_current_time() {
    let out =
        render(r#"{{ now | unixEpoch }}|{{ now | date "2006" }}|{{ typeOf now }}|{{ ago now }}"#)
            .expect("renders");
    let parts: Vec<&str> = out.split('|').collect();
    let epoch: i64 = parts[0].parse().expect("seconds");
    let system = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    assert!(
        (epoch - i64::try_from(system).expect("fits")).abs() < 5,
        "{out}"
    );
    assert_eq!(parts[1].len(), 4, "{out}");
    assert_eq!(parts[2], "time.Time");
    assert_eq!(parts[3], "0s");
    // Go's Time.String() with the monotonic reading: 2006-01-02 15:04:05.999999999 -0700 MST m=+0.000000001
    let printed = render("{{ now }}").expect("renders");
    assert!(printed.contains(" m=+"), "{printed}");
}
