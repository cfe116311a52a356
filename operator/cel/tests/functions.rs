//! Table test: every function, macro and operator family of kro's environment, evaluated the
//! way an RGD uses it, with the JSON a rendered object would hold.

mod common;

use common::eval;
use serde_json::{Value as Json, json};

fn check(cases: &[(&str, Json)]) {
    let mut failures = Vec::new();
    for (expr, want) in cases {
        match eval(expr) {
            Ok(got) if &got == want => {}
            Ok(got) => failures.push(format!("{expr}\n    want {want}\n    got  {got}")),
            Err(e) => failures.push(format!("{expr}\n    want {want}\n    error {e}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn check_errors(cases: &[(&str, &str)]) {
    let mut failures = Vec::new();
    for (expr, fragment) in cases {
        match eval(expr) {
            Ok(v) => failures.push(format!(
                "{expr}: expected an error containing {fragment:?}, got {v}"
            )),
            Err(e) if e.to_string().contains(fragment) => {}
            Err(e) => failures.push(format!("{expr}: expected {fragment:?} in {e}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn standard_library_and_macros() {
    check(&[
        ("schema.spec.replicas + 1", json!(4)),
        (
            "schema.spec.name + '-' + string(schema.spec.replicas)",
            json!("awesome-app-3"),
        ),
        ("schema.spec.replicas * 2 - 1", json!(5)),
        ("schema.spec.replicas / 2", json!(1)),
        ("schema.spec.replicas % 2", json!(1)),
        ("-schema.spec.replicas", json!(-3)),
        ("schema.spec.ratio * 4.0", json!(2.0)),
        ("schema.spec.enabled && !false", json!(true)),
        ("schema.spec.replicas > 2 || false", json!(true)),
        (
            "schema.spec.replicas >= 3 && schema.spec.replicas <= 3 && schema.spec.replicas < 4",
            json!(true),
        ),
        (
            "schema.spec.replicas == 3 && schema.spec.replicas != 4",
            json!(true),
        ),
        ("schema.spec.replicas == 3.0", json!(true)),
        ("schema.spec.enabled ? 'on' : 'off'", json!("on")),
        ("'b' in schema.spec.tags", json!(true)),
        ("'team' in schema.metadata.labels", json!(true)),
        ("size(schema.spec.tags)", json!(4)),
        ("schema.spec.tags.size()", json!(4)),
        ("size('héllo')", json!(5)),
        ("size({'a': 1})", json!(1)),
        ("schema.spec.image.contains('nginx')", json!(true)),
        ("schema.spec.image.startsWith('nginx')", json!(true)),
        ("schema.spec.image.endsWith('.1')", json!(true)),
        ("schema.spec.name.matches('^[a-z][a-z0-9-]*$')", json!(true)),
        ("matches('abc', 'b')", json!(true)),
        ("int('42') + int(2.7) + int(3u)", json!(47)),
        ("uint(3) == 3u", json!(true)),
        ("double(1) + double('0.5')", json!(1.5)),
        ("string(true) + string(1.5) + string(2u)", json!("true1.52")),
        ("string(b'abc')", json!("abc")),
        ("bool('true')", json!(true)),
        ("bytes('abc') == b'abc'", json!(true)),
        ("duration('1h30m')", json!("1h30m0s")),
        ("duration('1.5s')", json!("1.5s")),
        ("duration('500ms')", json!("500ms")),
        (
            "timestamp('2026-01-02T03:04:05Z')",
            json!("2026-01-02T03:04:05Z"),
        ),
        (
            "timestamp('2026-01-02T03:04:05+01:00')",
            json!("2026-01-02T02:04:05Z"),
        ),
        (
            "timestamp('2026-01-02T03:04:05Z') + duration('1h')",
            json!("2026-01-02T04:04:05Z"),
        ),
        (
            "timestamp('2026-01-02T03:04:05Z') - timestamp('2026-01-02T03:00:00Z')",
            json!("4m5s"),
        ),
        (
            "timestamp('2026-01-02T03:04:05Z').getFullYear()",
            json!(2026),
        ),
        ("timestamp('2026-01-02T03:04:05Z').getMonth()", json!(0)),
        (
            "timestamp('2026-01-02T03:04:05Z').getDayOfMonth()",
            json!(1),
        ),
        (
            "timestamp('2026-01-02T03:04:05Z').getHours('Europe/Paris')",
            json!(4),
        ),
        ("duration('90m').getHours()", json!(1)),
        ("type(schema.spec.replicas) == int", json!(true)),
        ("type(schema.spec.name) == string", json!(true)),
        ("dyn(schema.spec.replicas) + 1", json!(4)),
        ("has(schema.spec.image)", json!(true)),
        ("has(schema.spec.missing)", json!(false)),
        ("schema.spec.tags.all(t, t.size() == 1)", json!(true)),
        ("schema.spec.tags.exists(t, t == 'c')", json!(true)),
        ("schema.spec.tags.exists_one(t, t == 'b')", json!(true)),
        (
            "schema.spec.tags.map(t, t + '!')",
            json!(["b!", "a!", "c!", "a!"]),
        ),
        ("schema.spec.ports.map(p, p > 100, p + 1)", json!([444])),
        ("schema.spec.tags.filter(t, t != 'a')", json!(["b", "c"])),
        (
            "deployment.spec.template.spec.containers.map(c, c.name)",
            json!(["app", "sidecar"]),
        ),
        (
            "deployment.status.conditions.exists(c, c.type == 'Available' && c.status == 'True')",
            json!(true),
        ),
        ("[1, 2] + [3]", json!([1, 2, 3])),
        (
            "{'app': schema.spec.name, 'env': 'prod'}",
            json!({"app": "awesome-app", "env": "prod"}),
        ),
        ("null", Json::Null),
        ("deployment.metadata['labels']['app']", json!("awesome-app")),
    ]);
}

#[test]
fn optionals_v1_and_v2() {
    check(&[
        ("config.data.?DATABASE_URL", json!("postgres://db:5432/app")),
        ("config.data.?NOPE", Json::Null),
        ("config.data.?NOPE.orValue('default')", json!("default")),
        ("schema.spec.?replicas.orValue(1)", json!(3)),
        ("schema.spec.?missing.orValue(3)", json!(3)),
        (
            "deployment.?status.?loadBalancer.?ingress[0].?hostname.orValue('none')",
            json!("none"),
        ),
        ("schema.spec.tags[?9].orValue('z')", json!("z")),
        ("schema.spec.tags[?0].hasValue()", json!(true)),
        ("optional.of(1).value()", json!(1)),
        ("optional.none().hasValue()", json!(false)),
        ("optional.ofNonZeroValue('').hasValue()", json!(false)),
        ("optional.none().or(optional.of(2)).value()", json!(2)),
        ("optional.of(2).optMap(x, x * 10).value()", json!(20)),
        (
            "optional.of(2).optFlatMap(x, optional.of(x + 1)).value()",
            json!(3),
        ),
        ("[?optional.none(), 1]", json!([1])),
        ("{?'a': optional.none(), 'b': 1}", json!({"b": 1})),
        ("schema.spec.tags.first().value()", json!("b")),
        ("schema.spec.tags.last().value()", json!("a")),
        ("[].first().hasValue()", json!(false)),
        (
            "optional.unwrap([optional.of(1), optional.none(), optional.of(3)])",
            json!([1, 3]),
        ),
        (
            "[optional.of('x'), optional.none()].unwrapOpt()",
            json!(["x"]),
        ),
    ]);
}

#[test]
fn strings_extension() {
    check(&[
        ("'hello'.charAt(1)", json!("e")),
        ("'abcabc'.indexOf('c')", json!(2)),
        ("'abcabc'.indexOf('c', 3)", json!(5)),
        ("'abcabc'.lastIndexOf('b')", json!(4)),
        ("'abcabc'.lastIndexOf('b', 3)", json!(1)),
        ("'MiXeD'.lowerAscii()", json!("mixed")),
        ("'MiXeD'.upperAscii()", json!("MIXED")),
        ("'  pad  '.trim()", json!("pad")),
        ("'a-b-c'.replace('-', '_')", json!("a_b_c")),
        ("'a-b-c'.replace('-', '_', 1)", json!("a_b-c")),
        ("'a,b,c'.split(',')", json!(["a", "b", "c"])),
        ("'a,b,c'.split(',', 2)", json!(["a", "b,c"])),
        ("'abcdef'.substring(2)", json!("cdef")),
        ("'abcdef'.substring(1, 3)", json!("bc")),
        ("'abc'.reverse()", json!("cba")),
        ("['a', 'b'].join()", json!("ab")),
        ("['a', 'b'].join('-')", json!("a-b")),
        (
            "'%s-%d'.format([schema.spec.name, schema.spec.replicas])",
            json!("awesome-app-3"),
        ),
        (
            "'arn:aws:iam::%s:role/%s'.format(['123', 'r'])",
            json!("arn:aws:iam::123:role/r"),
        ),
        ("strings.quote('a\"b')", json!("\"a\\\"b\"")),
    ]);
}

#[test]
fn lists_and_encoders_extensions() {
    check(&[
        ("[1, 2, 3, 4].slice(1, 3)", json!([2, 3])),
        ("[[1], [2, [3]]].flatten()", json!([1, 2, [3]])),
        ("[[1], [2, [3]]].flatten(2)", json!([1, 2, 3])),
        ("schema.spec.tags.distinct()", json!(["b", "a", "c"])),
        ("[1, 2, 3].reverse()", json!([3, 2, 1])),
        ("schema.spec.tags.sort()", json!(["a", "a", "b", "c"])),
        (
            "deployment.spec.template.spec.containers.sortBy(c, c.image).map(c, c.name)",
            json!(["sidecar", "app"]),
        ),
        ("lists.range(4)", json!([0, 1, 2, 3])),
        ("base64.encode(b'hello')", json!("aGVsbG8=")),
        ("string(base64.decode('aGVsbG8='))", json!("hello")),
    ]);
}

#[test]
fn two_variable_comprehensions_and_bind() {
    check(&[
        ("cel.bind(x, 'ab', x + x + x)", json!("ababab")),
        (
            "cel.bind(a, 'hello', cel.bind(b, 'world', a + b + b + a))",
            json!("helloworldworldhello"),
        ),
        (
            "{'hello': 'world', 'taco': 'bell'}.all(k, v, k != v)",
            json!(true),
        ),
        ("[1, 2, 3].all(i, v, v > i)", json!(true)),
        (
            "{'a': 1, 'b': 5}.exists(k, v, v > 4 && k == 'b')",
            json!(true),
        ),
        ("[5, 6].existsOne(i, v, i == 1 && v == 6)", json!(true)),
        ("[5, 6].exists_one(i, v, v > 0)", json!(false)),
        (
            "{'APP': 'nginx', 'PORT': '8080'}.transformList(k, v, k + '=' + v)",
            json!(["APP=nginx", "PORT=8080"]),
        ),
        (
            "{'a': 1, 'b': 2}.transformList(k, v, v > 1, k)",
            json!(["b"]),
        ),
        (
            "{'cpu': 2, 'memory': 4}.transformMap(k, v, v * 2)",
            json!({"cpu": 4, "memory": 8}),
        ),
        (
            "{'a': 1, 'b': 5, 'c': 3}.transformMap(k, v, v > 1, v * 10)",
            json!({"b": 50, "c": 30}),
        ),
        (
            "[80, 443].transformMap(i, v, v + 1000)",
            json!({"0": 1080, "1": 1443}),
        ),
        (
            "{'us-east-1': 'primary', 'eu-west-1': 'secondary'}.transformMapEntry(k, v, {v: k})",
            json!({"primary": "us-east-1", "secondary": "eu-west-1"}),
        ),
        (
            "['app', 'db'].transformMapEntry(i, v, i > 0, {v: string(i)})",
            json!({"db": "1"}),
        ),
        ("schema.spec.tags.all(i, t, [1].all(i, i > 0))", json!(true)),
    ]);
}

#[test]
fn kubernetes_lists_and_regex() {
    check(&[
        ("[1, 2, 3].isSorted()", json!(true)),
        ("['b', 'a'].isSorted()", json!(false)),
        ("[1, 2, 3].sum()", json!(6)),
        ("[1.5, 2.5].sum()", json!(4.0)),
        ("[duration('1s'), duration('2s')].sum()", json!("3s")),
        ("[].sum()", json!(0)),
        ("[3, 1, 2].min()", json!(1)),
        ("[3, 1, 2].max()", json!(3)),
        ("schema.spec.tags.indexOf('a')", json!(1)),
        ("schema.spec.tags.lastIndexOf('a')", json!(3)),
        ("schema.spec.tags.indexOf('zz')", json!(-1)),
        ("'abc 123 def 456'.find('[0-9]+')", json!("123")),
        ("'abc'.find('[0-9]+')", json!("")),
        ("'abc 123 def 456'.findAll('[0-9]+')", json!(["123", "456"])),
        ("'a1b2c3'.findAll('[0-9]', 2)", json!(["1", "2"])),
    ]);
}

#[test]
fn kubernetes_url_ip_cidr_semver_quantity() {
    check(&[
        ("url(schema.spec.endpoint).getScheme()", json!("https")),
        (
            "url(schema.spec.endpoint).getHost()",
            json!("example.com:8443"),
        ),
        (
            "url(schema.spec.endpoint).getHostname()",
            json!("example.com"),
        ),
        ("url(schema.spec.endpoint).getPort()", json!("8443")),
        ("url(schema.spec.endpoint).getEscapedPath()", json!("/api")),
        (
            "url(schema.spec.endpoint).getQuery()",
            json!({"x": ["1", "2"], "y": ["z"]}),
        ),
        ("url('https://[::1]:80/').getHostname()", json!("::1")),
        (
            "url('/just/a/path').getEscapedPath()",
            json!("/just/a/path"),
        ),
        ("isURL('https://example.com')", json!(true)),
        ("isURL('not a url')", json!(false)),
        ("isIP('10.0.0.1')", json!(true)),
        ("isIP('::ffff:1.2.3.4')", json!(false)),
        ("ip('10.0.0.1').family()", json!(4)),
        ("ip('fe80::1').family()", json!(6)),
        ("ip('0.0.0.0').isUnspecified()", json!(true)),
        ("ip('127.0.0.1').isLoopback()", json!(true)),
        ("ip('224.0.0.1').isLinkLocalMulticast()", json!(true)),
        ("ip('169.254.1.1').isLinkLocalUnicast()", json!(true)),
        ("ip('10.0.0.1').isGlobalUnicast()", json!(true)),
        ("ip.isCanonical('2001:db8::1')", json!(true)),
        ("ip.isCanonical('2001:DB8::1')", json!(false)),
        ("string(ip('10.0.0.1'))", json!("10.0.0.1")),
        ("isCIDR('10.0.0.0/8')", json!(true)),
        ("isCIDR('10.0.0.0/33')", json!(false)),
        ("cidr('10.0.0.0/8').containsIP('10.1.2.3')", json!(true)),
        (
            "cidr('10.0.0.0/8').containsIP(ip('11.0.0.1'))",
            json!(false),
        ),
        (
            "cidr('10.0.0.0/8').containsCIDR('10.1.0.0/16')",
            json!(true),
        ),
        (
            "cidr('10.0.0.0/16').containsCIDR(cidr('10.0.0.0/8'))",
            json!(false),
        ),
        ("string(cidr('10.1.2.3/8').ip())", json!("10.1.2.3")),
        ("cidr('10.1.2.3/8').prefixLength()", json!(8)),
        ("string(cidr('10.1.2.3/8').masked())", json!("10.0.0.0/8")),
        ("isSemver('1.2.3')", json!(true)),
        ("isSemver('v1.2')", json!(false)),
        (
            "semver('1.2.3').major() + semver('1.2.3').minor() + semver('1.2.3').patch()",
            json!(6),
        ),
        (
            "semver('1.10.0').isGreaterThan(semver('1.9.0'))",
            json!(true),
        ),
        (
            "semver('1.0.0-alpha').isLessThan(semver('1.0.0'))",
            json!(true),
        ),
        ("semver('1.0.0').compareTo(semver('1.0.0+build'))", json!(0)),
        ("isQuantity('250m')", json!(true)),
        ("isQuantity('2x')", json!(false)),
        ("quantity('1Ki').asInteger()", json!(1024)),
        ("quantity('1.5G').asInteger()", json!(1_500_000_000i64)),
        (
            "quantity(schema.spec.cpu).asApproximateFloat()",
            json!(0.25),
        ),
        ("quantity('250m').isInteger()", json!(false)),
        ("quantity('1Gi').isGreaterThan(quantity('1G'))", json!(true)),
        ("quantity('500m').isLessThan(quantity('1'))", json!(true)),
        ("quantity('1000m').compareTo(quantity('1'))", json!(0)),
        (
            "quantity('1').add(quantity('500m')).asApproximateFloat()",
            json!(1.5),
        ),
        ("quantity('2').sub(1).asInteger()", json!(1)),
        ("quantity('1e3').add(24).asInteger()", json!(1024)),
        ("sign(quantity('-1'))", json!(-1)),
        ("quantity('0').sign()", json!(0)),
        ("quantity('128Mi')", json!("128Mi")),
    ]);
}

#[test]
fn kro_functions() {
    check(&[
        (
            "random.seededString(12, 'test-seed')",
            json!("5czheg3o5czh"),
        ),
        (
            "random.seededString(20, '6f1c0c1e')",
            json!("mgf1h6n0mgf1h6n0mgf1"),
        ),
        ("random.seededInt(30000, 32768, 'my-service')", json!(31247)),
        ("random.seededInt(-100, -50, 'seed')", json!(-58)),
        (
            "random.seededString(8, schema.metadata.uid).size()",
            json!(8),
        ),
        (
            "random.seededString(8, 'seed') == random.seededString(8, 'seed')",
            json!(true),
        ),
        (
            "random.seededString(40, 'seed').matches('^[0-9a-z]{40}$')",
            json!(true),
        ),
        (
            "random.seededInt(10, 20, 'seed') >= 10 && random.seededInt(10, 20, 'seed') < 20",
            json!(true),
        ),
        ("size(hash.sha256('x'))", json!(32)),
        ("size(hash.md5('x'))", json!(16)),
        ("size(hash.fnv64a('x'))", json!(8)),
        ("base64.encode(hash.fnv64a(''))", json!("y/Kc5IQiIyU=")),
        (
            "base64.encode(hash.md5(''))",
            json!("1B2M2Y8AsgTpgAmY7PhCfg=="),
        ),
        (
            "'%x'.format([hash.sha256('')])",
            json!("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ),
        (
            "json.unmarshal(config.data.settings).database.host",
            json!("db"),
        ),
        (
            "json.unmarshal(config.data.settings).database.port",
            json!(5432.0),
        ),
        ("json.marshal({'a': [1, 'b']})", json!("{\"a\":[1,\"b\"]}")),
        (
            "{'app': 'x', 'managed-by': 'kro'}.merge({'app': 'y'})",
            json!({"app": "y", "managed-by": "kro"}),
        ),
        (
            "{'a': {'b': 1, 'c': 2}, 'l': [1]}.deepMerge({'a': {'b': 3}, 'l': [2]})",
            json!({"a": {"b": 3, "c": 2}, "l": [2]}),
        ),
        ("lists.setAtIndex([1, 2, 3], 1, 9)", json!([1, 9, 3])),
        ("lists.insertAtIndex([1, 2], 2, 3)", json!([1, 2, 3])),
        ("lists.insertAtIndex([1, 2], 0, 0)", json!([0, 1, 2])),
        ("lists.removeAtIndex([1, 2, 3], 0)", json!([2, 3])),
        ("omit()", json!("<omit>")),
        ("[1, omit(), 3]", json!([1, 3])),
        ("{'a': 1, 'b': omit()}", json!({"a": 1})),
        ("schema.spec.enabled ? omit() : 'x'", json!("<omit>")),
    ]);
}

#[test]
fn runtime_conditions() {
    let env = kro_cel::Environment::new();
    let mut a = common::activation();
    a.bind_runtime(vec![
        json!({"type": "Ready", "status": "False", "reason": "Waiting"}),
    ]);
    let cases = [
        (
            "runtime.newCondition({type: 'DBReady', status: 'True', reason: 'Ok', message: 'up'})",
            json!({"type": "DBReady", "status": "True", "reason": "Ok", "message": "up"}),
        ),
        (
            "runtime.newCondition({type: 'X', status: deployment.status.conditions[0].status})",
            json!({"type": "X", "status": "True", "reason": "", "message": ""}),
        ),
        (
            "runtime.condition(deployment, 'Available').reason",
            json!("MinimumReplicasAvailable"),
        ),
        ("runtime.condition(deployment, 'Nope').status", json!("")),
        (
            "runtime.condition(schema, 'Ready').reason",
            json!("Waiting"),
        ),
    ];
    for (expr, want) in cases {
        let p = env.compile(expr).unwrap_or_else(|e| panic!("{e}"));
        let got = p.eval_json(&a).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(got, kro_cel::Rendered::Value(want), "{expr}");
    }
}

#[test]
fn runtime_errors_name_the_expression_and_the_problem() {
    check_errors(&[
        (
            "random.seededString(0, 'x')",
            "random.seededString length must be positive",
        ),
        ("random.seededInt(5, 5, 'x')", "min must be less than max"),
        ("json.unmarshal('{')", "json.unmarshal failed to parse JSON"),
        ("lists.setAtIndex([1], 1, 2)", "index 1 out of range"),
        ("lists.removeAtIndex([], 0)", "out of range"),
        ("quantity('abc')", "quantities must match"),
        ("semver('x')", "invalid semver"),
        ("ip('1.2.3')", "parse error"),
        ("[].min()", "min called on empty list"),
        (
            "[1, 2].transformMapEntry(i, v, {'same': v})",
            "repeated key",
        ),
        ("b'abc'", "bytes value cannot be used directly"),
        ("1 / 0", "division by zero of an int"),
        (
            "runtime.newCondition({type: '', status: 'True'})",
            "type must not be empty",
        ),
        (
            "runtime.newCondition({type: 'X', status: ['a'][0] + 'b'})",
            "status must be one of True, False, Unknown (got a string of 2 bytes)",
        ),
        (
            "schema.spec.name + 1",
            "unsupported binary operator 'add' on a string of",
        ),
    ]);
}

/// Errors go into status conditions, events and logs: they describe the values an expression
/// read (here `schema.spec.name`, "awesome-app", standing in for a Secret's payload) by type and
/// size, and never quote them.
#[test]
fn runtime_errors_never_quote_the_values_they_read() {
    let mut leaks = Vec::new();
    for (expr, fragment) in [
        ("schema.spec.name + 1", "a string of 11 bytes and an int"),
        ("schema.spec.name < 1", "no matching overload"),
        ("-schema.spec.name", "no matching overload"),
        ("int(schema.spec.name)", "string parse error"),
        ("quantity(schema.spec.name)", "got a string of 11 bytes"),
        (
            "semver(schema.spec.name)",
            "invalid semver (a string of 11 bytes)",
        ),
        ("ip(schema.spec.name)", "IP Address (a string of 11 bytes)"),
        (
            "cidr(schema.spec.name)",
            "network address (a string of 11 bytes)",
        ),
        (
            "url(schema.spec.name)",
            "invalid URL (a string of 11 bytes)",
        ),
        (
            "'x'.matches(schema.spec.name + '(')",
            "invalid regular expression (a string of 12 bytes)",
        ),
        (
            "runtime.newCondition({type: 'X', status: schema.spec.name})",
            "got a string of 11 bytes",
        ),
    ] {
        match eval(expr) {
            Ok(v) => leaks.push(format!("{expr}: expected an error, got {v}")),
            Err(e) => {
                let text = e.to_string();
                if text.contains("awesome") || !text.contains(fragment) {
                    leaks.push(format!("{expr}: want {fragment:?} and no value in {text}"));
                }
            }
        }
    }
    assert!(leaks.is_empty(), "{}", leaks.join("\n"));
}

#[test]
fn new_condition_is_validated_at_compile_time() {
    let env = kro_cel::Environment::new();
    for (expr, fragment) in [
        ("runtime.newCondition({type: 'X'})", "'status' is required"),
        (
            "runtime.newCondition({status: 'True'})",
            "'type' is required",
        ),
        (
            "runtime.newCondition({type: 'X', status: 'Maybe'})",
            "status must be one of True, False, Unknown (got \"Maybe\")",
        ),
        (
            "runtime.newCondition({type: 'X', status: 'True', color: 'red'})",
            "unknown key \"color\"",
        ),
        (
            "runtime.newCondition({type: 'X', type: 'Y', status: 'True'})",
            "duplicate key \"type\"",
        ),
        (
            "runtime.newCondition({'type': 'X', status: 'True'})",
            "keys must be bare identifiers",
        ),
        (
            "runtime.newCondition('x')",
            "argument must be a map literal",
        ),
    ] {
        match env.compile(expr) {
            Ok(_) => panic!("{expr} compiled"),
            Err(e) => assert!(e.to_string().contains(fragment), "{expr}: {e}"),
        }
    }
}
