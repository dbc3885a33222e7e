//! `threatgate pattern check` and `threatgate pattern match` on the real binary: exit codes,
//! `true`/`false` on observed data, and errors that say where the input is wrong.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::json;

fn tg(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_threatgate"))
        .args(args)
        .output()
        .expect("run threatgate")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The caret line `check` prints under the offending line: the caret's 1-based column.
fn caret_column(out: &str) -> usize {
    let line = out
        .lines()
        .find(|l| l.trim_end().ends_with('^') && l.trim() == "^")
        .unwrap_or_else(|| panic!("no caret line in {out:?}"));
    // The pattern is echoed with a two-space indent; so is the caret.
    line.find('^').unwrap() - 2 + 1
}

#[test]
fn check_accepts_valid_patterns() {
    for p in [
        "[ipv4-addr:value = '198.51.100.1']",
        "[ipv4-addr:value ISSUBSET '198.51.100.0/24'] AND [domain-name:value = 'evil.example']",
        "[file:hashes.'SHA-256' = 'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f'] REPEATS 2 TIMES WITHIN 60 SECONDS",
        "[network-traffic:dst_ref.value = '203.0.113.5' AND network-traffic:dst_port = 443] FOLLOWEDBY [url:value LIKE 'http://%/gate.php'] START t'2024-01-01T00:00:00Z' STOP t'2025-01-01T00:00:00Z'",
    ] {
        let o = tg(&["pattern", "check", p]);
        assert_eq!(o.status.code(), Some(0), "{p}: {}{}", stdout(&o), stderr(&o));
        assert!(stdout(&o).starts_with("valid: "), "{p}: {}", stdout(&o));
    }
}

#[test]
fn check_rejects_invalid_patterns_naming_line_and_column() {
    // (pattern, line, column) of the first character the grammar cannot accept.
    let cases = [
        // `~` is not an operator: that is where it goes wrong.
        ("[ipv4-addr:value ~ '198.51.100.1']", 1, 18),
        // A comparison needs a constant after its operator.
        ("[ipv4-addr:value = ]", 1, 20),
        // An observation expression must be closed.
        ("[ipv4-addr:value = '198.51.100.1'", 1, 34),
        // An error on the second line is reported there, not at the start.
        (
            "[ipv4-addr:value = '198.51.100.1']\nAND [domain-name:value ~ 'x']",
            2,
            24,
        ),
    ];
    for (p, line, column) in cases {
        let o = tg(&["pattern", "check", p]);
        let out = stdout(&o);
        assert_eq!(o.status.code(), Some(1), "{p}: {out}{}", stderr(&o));
        let lib = stix::pattern::parse(p).expect_err("invalid");
        assert_eq!(
            (lib.line, lib.column),
            (line, column),
            "{p}: the parser's position"
        );
        assert!(
            out.contains(&format!(
                "invalid pattern at line {line}, column {column}: "
            )),
            "{p}: {out}"
        );
        assert!(
            out.contains(lib.message().as_str()),
            "{p}: the message says what was expected: {out}"
        );
        assert_eq!(
            caret_column(&out),
            column,
            "{p}: caret under the error: {out}"
        );
    }
}

#[test]
fn check_rejects_an_empty_pattern() {
    let o = tg(&["pattern", "check", ""]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(
        stdout(&o).contains("invalid pattern at line 1, column 1"),
        "{}",
        stdout(&o)
    );
}

fn observed(dir: &Path, name: &str, v: &serde_json::Value) -> String {
    let p = dir.join(name);
    std::fs::write(&p, serde_json::to_vec_pretty(v).unwrap()).unwrap();
    p.to_str().unwrap().to_string()
}

fn observed_data(ip: &str, port: u16) -> serde_json::Value {
    json!({
        "type": "observed-data",
        "spec_version": "2.1",
        "id": "observed-data--b67d30ff-02ac-498a-92f9-32f845f448cf",
        "created": "2024-03-01T10:00:00.000Z",
        "modified": "2024-03-01T10:00:00.000Z",
        "first_observed": "2024-03-01T10:00:00Z",
        "last_observed": "2024-03-01T10:00:05Z",
        "number_observed": 1,
        "objects": {
            "0": {"type": "ipv4-addr", "value": ip},
            "1": {"type": "network-traffic", "dst_ref": "0", "dst_port": port, "protocols": ["tcp"]}
        }
    })
}

fn matched(pattern: &str, file: &str) -> String {
    let o = tg(&["pattern", "match", pattern, "--observed", file]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{pattern} on {file}: {}{}",
        stdout(&o),
        stderr(&o)
    );
    stdout(&o).trim().to_string()
}

#[test]
fn match_prints_true_or_false_on_arrays_and_bundles() {
    let dir = tempfile::tempdir().unwrap();
    let array = observed(
        dir.path(),
        "array.json",
        &json!([observed_data("198.51.100.7", 443)]),
    );
    let bundle = observed(
        dir.path(),
        "bundle.json",
        &json!({
            "type": "bundle",
            "id": "bundle--6b8a1e5b-1c6a-4b55-8d3c-3c2bc0b1f9a1",
            "objects": [observed_data("198.51.100.7", 443)]
        }),
    );
    for file in [&array, &bundle] {
        assert_eq!(matched("[ipv4-addr:value = '198.51.100.7']", file), "true");
        assert_eq!(matched("[ipv4-addr:value = '198.51.100.8']", file), "false");
        assert_eq!(
            matched("[ipv4-addr:value ISSUBSET '198.51.100.0/24']", file),
            "true"
        );
        assert_eq!(
            matched(
                "[network-traffic:dst_ref.value = '198.51.100.7' AND network-traffic:dst_port = 443]",
                file
            ),
            "true"
        );
        assert_eq!(
            matched(
                "[network-traffic:dst_ref.value = '198.51.100.7' AND network-traffic:dst_port = 80]",
                file
            ),
            "false"
        );
        // One observation cannot satisfy a pattern that needs it twice.
        assert_eq!(
            matched("[ipv4-addr:value = '198.51.100.7'] REPEATS 2 TIMES", file),
            "false"
        );
    }
}

#[test]
fn match_reports_bad_patterns_and_bad_files_with_their_position() {
    let dir = tempfile::tempdir().unwrap();
    let good = observed(
        dir.path(),
        "good.json",
        &json!([observed_data("198.51.100.7", 443)]),
    );

    let o = tg(&[
        "pattern",
        "match",
        "[ipv4-addr:value ~ '1']",
        "--observed",
        &good,
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    assert!(
        stderr(&o).contains("invalid pattern at line 1, column 18"),
        "{}",
        stderr(&o)
    );
    assert!(
        stdout(&o).is_empty(),
        "no verdict on a bad pattern: {}",
        stdout(&o)
    );

    let broken = dir.path().join("broken.json");
    std::fs::write(
        &broken,
        "[\n  {\"type\": \"observed-data\",\n  \"objects\": }\n]\n",
    )
    .unwrap();
    let o = tg(&[
        "pattern",
        "match",
        "[ipv4-addr:value = '198.51.100.7']",
        "--observed",
        broken.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    let err = stderr(&o);
    assert!(err.contains("broken.json"), "names the file: {err}");
    assert!(
        err.contains("line 3, column 14"),
        "names the position: {err}"
    );

    let scalar = observed(dir.path(), "scalar.json", &json!(42));
    let o = tg(&[
        "pattern",
        "match",
        "[ipv4-addr:value = '198.51.100.7']",
        "--observed",
        &scalar,
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    assert!(
        stderr(&o).contains("expected a JSON array of observed-data or a STIX bundle"),
        "{}",
        stderr(&o)
    );

    let missing = dir.path().join("missing.json");
    let o = tg(&[
        "pattern",
        "match",
        "[ipv4-addr:value = '198.51.100.7']",
        "--observed",
        missing.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("missing.json"), "{}", stderr(&o));
}
