//! The administration commands as an operator types them, through the real binary: output
//! into a pipe that closes early, organisation names, renewals, table columns, the
//! quickstart's suggested commands, and errors said once.

mod support;

use std::io::Read;
use std::path::Path;
use std::process::Stdio;

use support::cli::{cmd, ok, tg};

fn fails(data: &Path, args: &[&str]) -> String {
    let o = tg(data, args);
    assert_eq!(o.status.code(), Some(2), "{args:?} should fail with 2");
    String::from_utf8(o.stderr).unwrap()
}

/// An exchange with a hub and one member with a receive agreement (#1).
fn exchange(d: &Path) {
    ok(d, &["init"]);
    ok(
        d,
        &[
            "org",
            "add",
            "cert-fr",
            "--kind",
            "member",
            "--country",
            "FR",
        ],
    );
    ok(
        d,
        &[
            "agreement",
            "add",
            "--org",
            "cert-fr",
            "--role",
            "receive",
            "--signed-on",
            "2025-01-15",
            "--valid-from",
            "2025-01-15",
            "--valid-until",
            "2030-01-15",
        ],
    );
}

#[test]
fn a_closed_pipe_ends_the_command_without_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    exchange(d);
    for args in [&["org", "list"][..], &["agreement", "list"][..]] {
        let mut child = cmd(d, args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The reader goes away before the command writes, as `| head -0` would.
        drop(child.stdout.take());
        let mut err = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        let status = child.wait().unwrap();
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert_ne!(status.code(), Some(101), "{args:?}: {err}");
    }
}

#[test]
fn org_names_follow_the_apis_rule() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(d, &["init"]);
    for bad in ["", "  ", "a b/c", " cert-it"] {
        let e = fails(
            d,
            &["org", "add", bad, "--kind", "member", "--country", "IT"],
        );
        assert!(
            e.contains("is not a usable organisation name"),
            "{bad:?}: {e}"
        );
    }
    ok(
        d,
        &[
            "org",
            "add",
            "cert-it",
            "--kind",
            "member",
            "--country",
            "IT",
        ],
    );
    let list = ok(d, &["org", "list"]);
    assert_eq!(list.lines().count(), 3, "{list}");
}

#[test]
fn an_agreement_is_renewed_once() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    exchange(d);
    let renew = [
        "agreement",
        "renew",
        "1",
        "--signed-on",
        "2029-12-01",
        "--valid-until",
        "2035-01-15",
    ];
    let out = ok(d, &renew);
    assert!(out.contains("Agreement #2 renews #1"), "{out}");
    let e = fails(d, &renew);
    assert!(
        e.contains("agreement #1 was already renewed by #2; renew #2 instead"),
        "{e}"
    );
    let list = ok(d, &["agreement", "list"]);
    assert_eq!(list.lines().count(), 3, "{list}");
}

/// `agreement add` of a receive agreement for cert-fr (2026-2031) with `scope`.
fn receive_with_scope(scope: &str) -> [&str; 14] {
    [
        "agreement",
        "add",
        "--org",
        "cert-fr",
        "--role",
        "receive",
        "--signed-on",
        "2026-01-01",
        "--valid-from",
        "2026-01-01",
        "--valid-until",
        "2031-01-01",
        "--scope",
        scope,
    ]
}

#[test]
fn agreement_scopes_name_real_types_and_overlaps_are_explained() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    exchange(d);
    let e = fails(d, &receive_with_scope("Indicator,indicatr,bundle"));
    assert!(
        e.contains("\"indicatr\" (did you mean \"indicator\"?)"),
        "{e}"
    );
    assert!(e.contains("\"bundle\""), "{e}");
    assert!(!e.contains("\"indicator\" ("), "{e}");
    let e = fails(d, &receive_with_scope(" , "));
    assert!(e.contains("cover nothing"), "{e}");
    // Nothing was recorded by the refused commands.
    assert_eq!(ok(d, &["agreement", "list"]).lines().count(), 2);

    let out = ok(d, &receive_with_scope("indicator,x-acme-sensor"));
    assert!(out.contains("Agreement #2"), "{out}");
    assert!(
        out.contains("note: overlaps agreement #1 (receive, 2025-01-15 until 2030-01-15"),
        "{out}"
    );
    assert!(
        out.contains("higher TLP ceiling and the union of their scopes"),
        "{out}"
    );
}

#[test]
fn table_columns_line_up() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    exchange(d);
    for (args, cols) in [
        (&["org", "list"][..], &["KIND", "COUNTRY", "AGREEMENT"][..]),
        (
            &["agreement", "list"][..],
            &["SIGNED", "MAX TLP", "STATUS"][..],
        ),
        (&["token", "list"][..], &["ROLE", "CREATED", "STATUS"][..]),
    ] {
        let out = ok(d, args);
        let header = out.lines().next().unwrap();
        for col in cols {
            let i = header.find(col).unwrap();
            // Each row's value starts where its header does.
            for row in out.lines().skip(1) {
                let b = row.as_bytes();
                assert!(
                    b.len() > i && b[i - 1] == b' ' && b[i] != b' ',
                    "{args:?}, column {col}:\n{header}\n{row}"
                );
            }
        }
    }
}

#[test]
fn errors_say_their_cause_once() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    exchange(d);
    let missing = d.join("no-such.log");
    let e = fails(d, &["match", "--as", "hub", missing.to_str().unwrap()]);
    assert_eq!(e.matches("No such file or directory").count(), 1, "{e}");
    // An export that cannot be written names the file asked for.
    let out = d.join("no-dir").join("x.csv");
    let e = fails(
        d,
        &[
            "export",
            "--as",
            "cert-fr",
            "--format",
            "csv",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert!(e.contains(out.to_str().unwrap()), "{e}");
}

#[test]
fn quickstart_suggests_commands_that_work_as_printed() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("qs");
    let out = ok(&d, &["quickstart"]);
    let next = &out[out.find("Next, try:").expect(&out)..];
    let want = format!("threatgate --data {} ", d.display());
    let suggested: Vec<&str> = next.lines().skip(1).collect();
    assert!(!suggested.is_empty(), "{out}");
    for line in suggested {
        assert!(line.trim_start().starts_with(&want), "{line}\n{out}");
    }
    // The first one, run as printed.
    let list = ok(&d, &["agreement", "list"]);
    assert!(list.contains("cert-fr"), "{list}");
}

#[test]
fn partial_ingest_that_stores_nothing_fails() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    exchange(d);
    let list = d.join("ips.txt");
    std::fs::write(&list, "192.0.2.7\n").unwrap();
    // cert-fr only receives: its submission is refused whole.
    let o = tg(
        d,
        &[
            "ingest",
            list.to_str().unwrap(),
            "--as",
            "cert-fr",
            "--partial",
        ],
    );
    let out = String::from_utf8_lossy(&o.stdout);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{out}{err}");
    assert!(out.contains("receive-only"), "{out}");
    assert!(err.contains("nothing was stored"), "{err}");
}

#[test]
fn a_mistyped_data_directory_is_not_a_new_store() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    exchange(d);
    // Tokens name their org, not its row id.
    let tokens = ok(d, &["token", "list"]);
    assert!(tokens.lines().nth(1).unwrap().contains(" hub "), "{tokens}");
    let typo = dir.path().join("threatgate-dta");
    for args in [&["audit", "--verify"][..], &["org", "list"][..]] {
        let e = fails(&typo, args);
        assert!(e.contains("no threatgate store at"), "{args:?}: {e}");
    }
    assert!(!typo.exists(), "a read made a data directory");
    ok(&typo, &["init"]);
    let out = ok(&typo, &["audit", "--verify"]);
    assert!(out.contains("audit chain intact"), "{out}");
}

#[test]
fn search_shows_what_the_viewer_may_see_with_enrichment_and_defanged_input() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    exchange(d); // cert-fr receives (TLP:AMBER ceiling)
    ok(d, &["org", "add", "vendor", "--kind", "partner"]);
    ok(
        d,
        &[
            "org",
            "add",
            "cert-de",
            "--kind",
            "member",
            "--country",
            "DE",
        ],
    );
    ok(
        d,
        &[
            "agreement",
            "add",
            "--org",
            "vendor",
            "--role",
            "provide",
            "--signed-on",
            "2025-01-01",
            "--valid-from",
            "2025-01-01",
            "--valid-until",
            "2030-01-01",
        ],
    );
    let list = d.join("c2.txt");
    std::fs::write(&list, "203.0.113.7\nhttp://bad.example.com/x\n").unwrap();
    ok(
        d,
        &[
            "ingest",
            list.to_str().unwrap(),
            "--as",
            "vendor",
            "--tlp",
            "green",
        ],
    );
    let country = d.join("country.csv");
    std::fs::write(&country, "203.0.113.0,203.0.113.255,FR\n").unwrap();
    let asn = d.join("asn.csv");
    std::fs::write(&asn, "203.0.113.0,203.0.113.255,64500,Example Net\n").unwrap();
    ok(
        d,
        &[
            "enrich",
            "--ip-country",
            country.to_str().unwrap(),
            "--ip-asn",
            asn.to_str().unwrap(),
        ],
    );

    let ip = ok(d, &["search", "203.0.113.7", "--as", "cert-fr"]);
    for want in [
        "ipv4-addr 203.0.113.7",
        "country FR  network AS64500 Example Net",
        "source vendor: TLP:GREEN",
        "seen: no dates given by the source",
    ] {
        assert!(ip.contains(want), "{want:?} missing from:\n{ip}");
    }
    let url = ok(
        d,
        &["search", "hxxp://bad[.]example[.]com/x", "--as", "cert-fr"],
    );
    assert!(url.contains("url http://bad.example.com/x"), "{url}");
    assert!(url.contains("registered domain example.com"), "{url}");

    // A member without an agreement in force is told nothing, not that it is hidden.
    let o = tg(d, &["search", "203.0.113.7", "--as", "cert-de"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        "not found: 203.0.113.7"
    );
}
