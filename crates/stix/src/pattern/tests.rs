//! Parser, printer and evaluator tests on hand-picked cases. The large corpora checked
//! against the OASIS tools live in `crates/stix/tests/`.

use serde_json::json;

use super::*;

fn ok(p: &str) -> Pattern {
    parse(p).unwrap_or_else(|e| panic!("{p}: {e}"))
}

fn err(p: &str) -> ParseError {
    match parse(p) {
        Ok(t) => panic!("{p} should be refused, parsed as {t}"),
        Err(e) => e,
    }
}

#[test]
fn parses_every_operator() {
    for p in [
        "[a:b = 'x']",
        "[a:b == 'x']",
        "[a:b != 'x']",
        "[a:b <> 'x']",
        "[a:b < 1]",
        "[a:b <= 1.5]",
        "[a:b > -1]",
        "[a:b >= -.5]",
        "[a:b IN ('x', 'y')]",
        "[a:b IN ()]",
        "[a:b LIKE 'x%']",
        "[a:b MATCHES '^x$']",
        "[a:b ISSUBSET '10.0.0.0/8']",
        "[a:b ISSUPERSET '10.0.0.1']",
        "[EXISTS a:b]",
        "[NOT EXISTS a:b]",
        "[a:b NOT = 'x']",
        "[a:b NOT IN ('x')]",
        "[a:b = true]",
        "[a:b = t'2020-01-01T00:00:00.123Z']",
        "[a:b = h'0aFF']",
        "[a:b = b'YWJj']",
        "[file:hashes.'SHA-256' = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855']",
        "[a:b[*].c[0].'d-e' = 1]",
        "[x-custom-type:extensions.'x-ext'.prop = 1]",
    ] {
        ok(p);
    }
}

#[test]
fn canonical_display_round_trips() {
    for (input, canonical) in [
        ("[a:b == 'x']", "[a:b = 'x']"),
        ("[a:b <> 'x']", "[a:b != 'x']"),
        ("  [ a : b = 'it\\'s' ]  ", "[a:b = 'it\\'s']"),
        (
            "[a:b = 1 OR a:c = 2 AND a:d = 3]",
            "[a:b = 1 OR a:c = 2 AND a:d = 3]",
        ),
        (
            "[(a:b = 1 OR a:c = 2) AND a:d = 3]",
            "[(a:b = 1 OR a:c = 2) AND a:d = 3]",
        ),
        (
            "([a:b = 1] OR [a:c = 2]) AND [a:d = 3]",
            "([a:b = 1] OR [a:c = 2]) AND [a:d = 3]",
        ),
        ("(([a:b = 1]))", "[a:b = 1]"),
        (
            "[a:b = 1] REPEATS +2 TIMES WITHIN 5.50 SECONDS",
            "[a:b = 1] REPEATS 2 TIMES WITHIN 5.5 SECONDS",
        ),
        (
            "([a:b = 1] WITHIN 1 SECONDS) WITHIN 2 SECONDS",
            "([a:b = 1] WITHIN 1 SECONDS) WITHIN 2 SECONDS",
        ),
        (
            "([a:b = 1] AND [a:c = 2]) WITHIN 2 SECONDS",
            "([a:b = 1] AND [a:c = 2]) WITHIN 2 SECONDS",
        ),
        ("[a:'b' = h'0AFF']", "[a:b = h'0aff']"),
        ("[a:'true'.'x y' = 1.0]", "[a:'true'.'x y' = 1.0]"),
        ("[a:b = b'YQ==']", "[a:b = b'YQ==']"),
    ] {
        let p = ok(input);
        assert_eq!(p.to_string(), canonical, "{input}");
        let again = ok(&p.to_string());
        assert_eq!(again.to_string(), canonical);
    }
}

#[test]
fn errors_name_position_and_expectation() {
    let e = err("[a:b = 'x' and a:c = 'y']");
    assert_eq!((e.line, e.column), (1, 12));
    assert!(
        e.found.starts_with("'and' (keywords are upper case: AND)"),
        "{e}"
    );
    assert!(
        e.to_string().starts_with("line 1, column 12: expected"),
        "{e}"
    );

    assert!(e.message().starts_with("expected "), "{e}");
    let e = err("[a:b = 1]\n AND");
    assert_eq!((e.line, e.column), (2, 5));
    assert_eq!(e.found, "end of pattern");

    let e = err("[a:b NOT 5]");
    assert!(e.expected.contains("after NOT"), "{e}");

    let e = err("[a:b IN 'x']");
    assert!(e.expected.contains("'('"), "{e}");

    let e = err("[a:b = 1] WITHIN -1 SECONDS");
    assert!(e.expected.contains("seconds"), "{e}");

    assert!(err("[a:b = 1] WITHIN 1 SECONDS WITHIN 2 SECONDS")
        .to_string()
        .contains("duplicate WITHIN"));
    assert!(err("[file:hashes.MD5 = 'abc']")
        .to_string()
        .contains("not a valid MD5 hash"));
    assert!(err("[a:b[-1] = 1]").to_string().contains("non-negative"));
    let e = err("[a:b = 1] WITHIN 1 SECONDS\n  WITHIN 2 SECONDS");
    assert_eq!((e.line, e.column), (2, 3), "{e}");
    assert_eq!(err("(( /* c */ [a:b = 1]))").column, 4);
    assert!(err("/* c */ [a:b = 1]")
        .to_string()
        .contains("must start with '['"));
    err("");
    err("[]");
    err("[a:b]");
    err("[a:b = TRUE]");
    err("[a:b > true]");
    assert!(err("[a:b = b'YQ']").to_string().contains("padded base64"));
    assert!(err("[a:b = t'2020-13-01T00:00:00Z']")
        .to_string()
        .contains("malformed timestamp"));
    assert!(err("[a:b = 'x\\q']").found.contains("quote"));
    err("[a:c-d = 1]");
}

#[test]
fn nesting_is_bounded() {
    let deep = format!("{}[a:b = 1]{}", "(".repeat(100_000), ")".repeat(100_000));
    assert!(err(&deep).to_string().contains("nesting"));
    let deep = format!("[{}a:b = 1{}]", "(".repeat(100_000), ")".repeat(100_000));
    assert!(err(&deep).to_string().contains("nesting"));
    let ok_depth = format!("{}[a:b = 1]{}", "(".repeat(50), ")".repeat(50));
    ok(&ok_depth);
    let huge = format!("[a:b = '{}']", "x".repeat(MAX_PATTERN_BYTES));
    assert!(err(&huge).to_string().contains("limit"));
    let long = vec!["[a:b = 1]"; 20_000].join(" AND ");
    let p = ok(&long);
    assert_eq!(p.to_string(), long);
}

fn od(first: &str, last: &str, n: u64, objects: serde_json::Value) -> serde_json::Value {
    json!({"type": "observed-data", "id": "observed-data--x", "first_observed": first,
           "last_observed": last, "number_observed": n, "objects": objects})
}

fn m(p: &str, data: &[serde_json::Value]) -> bool {
    ok(p).matches(data).unwrap_or_else(|e| panic!("{p}: {e}"))
}

#[test]
fn evaluates_comparisons() {
    let data = [od(
        "2020-01-01T00:00:00Z",
        "2020-01-01T00:00:10Z",
        1,
        json!({"0": {"type": "ipv4-addr", "value": "10.1.2.3"},
               "1": {"type": "network-traffic", "src_ref": "0", "dst_port": 443,
                     "protocols": ["tcp", "tls"], "payload_hex": "414243"},
               "2": {"type": "file", "hashes": {"custom": "ab"}, "name": "Evil.EXE", "size": 10}}),
    )];
    assert!(m("[ipv4-addr:value = '10.1.2.3']", &data));
    assert!(!m("[ipv4-addr:value = '10.1.2.4']", &data));
    assert!(m("[ipv4-addr:value ISSUBSET '10.0.0.0/8']", &data));
    assert!(m("[network-traffic:src_ref.value = '10.1.2.3']", &data));
    assert!(m("[network-traffic:protocols[*] = 'tls']", &data));
    assert!(m("[network-traffic:protocols[1] = 'tls']", &data));
    assert!(!m("[network-traffic:protocols[0] = 'tls']", &data));
    assert!(m("[network-traffic:dst_port IN (80, 443)]", &data));
    assert!(m("[network-traffic:dst_port >= 443.0]", &data));
    assert!(m("[network-traffic:payload_hex = h'414243']", &data));
    assert!(m("[network-traffic:payload_hex = 'ABC']", &data));
    assert!(m(
        "[file:name LIKE 'evil.%' OR file:name MATCHES '(?i)^evil']",
        &data
    ));
    assert!(!m("[file:name LIKE 'evil.%']", &data));
    assert!(m("[file:hashes.custom LIKE 'a_']", &data));
    assert!(m("[file:size = 10 AND file:name != 'x']", &data));
    // AND inside brackets needs one object to pass both tests.
    assert!(!m(
        "[file:size = 10 AND ipv4-addr:value = '10.1.2.3']",
        &data
    ));
    assert!(m("[EXISTS file:size]", &data));
    assert!(!m("[EXISTS file:mtime]", &data));
    assert!(m("[NOT EXISTS file:mtime]", &data));
    // Missing properties never satisfy a negated test.
    assert!(!m("[file:mtime != 'x']", &data));
}

#[test]
fn evaluates_observation_operators_and_qualifiers() {
    let a = |t: &str, n: u64| {
        od(
            t,
            t,
            n,
            json!({"0": {"type": "domain-name", "value": "a.example"}}),
        )
    };
    let b = |t: &str| {
        od(
            t,
            t,
            1,
            json!({"0": {"type": "domain-name", "value": "b.example"}}),
        )
    };
    let data = [a("2020-01-01T00:00:00Z", 1), b("2020-01-01T00:01:00Z")];
    let pa = "[domain-name:value = 'a.example']";
    let pb = "[domain-name:value = 'b.example']";
    assert!(m(&format!("{pa} AND {pb}"), &data));
    assert!(m(&format!("{pa} FOLLOWEDBY {pb}"), &data));
    assert!(!m(&format!("{pb} FOLLOWEDBY {pa}"), &data));
    assert!(m(&format!("({pa} AND {pb}) WITHIN 60 SECONDS"), &data));
    assert!(!m(&format!("({pa} AND {pb}) WITHIN 59.9 SECONDS"), &data));
    assert!(!m(&format!("{pa} AND {pa}"), &data));
    assert!(!m(&format!("{pa} REPEATS 2 TIMES"), &data));
    let data2 = [a("2020-01-01T00:00:00Z", 3)];
    assert!(m(&format!("{pa} REPEATS 3 TIMES"), &data2));
    assert!(!m(&format!("{pa} REPEATS 4 TIMES"), &data2));
    assert!(m(&format!("{pa} AND {pa}"), &data2));
    assert!(m(
        &format!("{pa} START t'2020-01-01T00:00:00Z' STOP t'2020-01-01T00:00:01Z'"),
        &data
    ));
    assert!(!m(
        &format!("{pa} START t'2019-01-01T00:00:00Z' STOP t'2020-01-01T00:00:00Z'"),
        &data
    ));
}

#[test]
fn evaluates_stix21_object_refs() {
    let data = [
        json!({"type": "observed-data", "id": "observed-data--1", "first_observed": "2020-01-01T00:00:00Z",
               "last_observed": "2020-01-01T00:00:00Z", "number_observed": 1,
               "object_refs": ["email-message--1", "email-addr--1"]}),
        json!({"type": "email-message", "id": "email-message--1", "from_ref": "email-addr--1",
               "to_refs": ["email-addr--1", "email-addr--missing"]}),
        json!({"type": "email-addr", "id": "email-addr--1", "value": "x@evil.example"}),
    ];
    assert!(m(
        "[email-message:from_ref.value = 'x@evil.example']",
        &data
    ));
    assert!(m(
        "[email-message:to_refs[*].value LIKE '%@evil.example']",
        &data
    ));
    assert!(m(
        "[email-message:to_refs[0].value = 'x@evil.example']",
        &data
    ));
    assert!(!m(
        "[email-message:to_refs[1].value = 'x@evil.example']",
        &data
    ));
    let bundle = [json!({"type": "bundle", "id": "bundle--1", "objects": data.to_vec()})];
    assert!(m("[email-addr:value = 'x@evil.example']", &bundle));
}

#[test]
fn evaluation_errors_where_the_reference_matcher_raises() {
    let data = [od(
        "2020-01-01T00:00:00Z",
        "2020-01-01T00:00:00Z",
        1,
        json!({"0": {"type": "x", "s": "not a time", "ip": "300.1.1.1"}}),
    )];
    for p in [
        "[x:s = t'2020-01-01T00:00:00Z']",
        "[x:ip ISSUBSET '10.0.0.0/8']",
        "[x:s IN ('a', 1)]",
        "[x:s = 1] REPEATS 0 TIMES",
        "[x:s = 1] WITHIN 0 SECONDS",
        "[x:s = t'2021-02-29T00:00:00Z']",
    ] {
        assert!(ok(p).matches(&data).is_err(), "{p}");
    }
    let bad = [json!({"type": "observed-data", "objects": {}})];
    assert!(ok("[x:s = 1]").matches(&bad).is_err());
}

/// 300 single sightings, a minute apart, alternating a/b: the search must stop at the
/// first binding when one exists, and prune when none can (the reference matcher needs
/// more than 30 s for the WITHIN 300 SECONDS case; the answers here agree with it
/// wherever it finishes).
#[test]
fn evaluation_scales_on_many_observations() {
    let data: Vec<serde_json::Value> = (0..300)
        .map(|i| {
            let t = format!("2020-01-01T{:02}:{:02}:00Z", i / 60, i % 60);
            let v = if i % 2 == 0 { "a.example" } else { "b.example" };
            od(&t, &t, 1, json!({"0": {"type": "domain-name", "value": v}}))
        })
        .collect();
    let a = "[domain-name:value = 'a.example']";
    let b = "[domain-name:value = 'b.example']";
    for (p, expected) in [
        (format!("{a} REPEATS 150 TIMES"), true),
        (format!("{a} REPEATS 151 TIMES"), false),
        (format!("{a} AND {a} AND {a}"), true),
        (format!("({a} REPEATS 10 TIMES) WITHIN 3600 SECONDS"), true),
        (format!("({a} REPEATS 10 TIMES) WITHIN 300 SECONDS"), false),
        (format!("({a} FOLLOWEDBY {b}) REPEATS 3 TIMES"), true),
        (format!("({a} AND {b}) WITHIN 30 SECONDS"), false),
        (format!("({a} AND {b}) WITHIN 60 SECONDS"), true),
        (
            format!("{b} FOLLOWEDBY {a} FOLLOWEDBY {b} FOLLOWEDBY {a}"),
            true,
        ),
    ] {
        assert_eq!(m(&p, &data), expected, "{p}");
    }
}

#[test]
fn observations_read_once_serve_many_patterns() {
    let events = [od(
        "2020-01-01T00:00:00Z",
        "2020-01-01T00:00:00Z",
        2,
        json!({"0": {"type": "ipv4-addr", "value": "198.51.100.1"}}),
    )];
    let obs = Observations::new(&events).unwrap();
    assert_eq!(obs.len(), 1);
    for (p, expected) in [
        ("[ipv4-addr:value = '198.51.100.1']", true),
        ("[ipv4-addr:value = '198.51.100.2']", false),
        ("[ipv4-addr:value = '198.51.100.1'] REPEATS 2 TIMES", true),
        ("[ipv4-addr:value = '198.51.100.1'] REPEATS 3 TIMES", false),
    ] {
        let m = Matcher::new(&ok(p)).unwrap();
        assert_eq!(m.matches_observations(&obs).unwrap(), expected, "{p}");
        assert_eq!(m.matches(&events).unwrap(), expected, "{p}");
    }
    assert!(Observations::new(&[]).unwrap().is_empty());
}
