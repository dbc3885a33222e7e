//! Crash consistency: SIGKILL the real binary at random points during 50 ingests of real
//! data, on SQLite and (with THREATGATE_TEST_PG) PostgreSQL. Afterwards every acknowledged
//! submission is complete, no submission is partial, the audit chain is intact, and
//! ingesting the same files again changes nothing.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::*;
use threatgate::store::Store;

const ROUNDS: usize = 50;

/// A small deterministic generator, so a failing run can be replayed from its seed.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

fn inputs() -> Vec<PathBuf> {
    let d = shared_data();
    vec![
        d.join("maltrail/trails/static/malware/emotet.txt"),
        d.join("maltrail/trails/static/malware/qakbot.txt"),
        d.join("urlhaus/urlhaus_online_2025-04-21.csv"),
        d.join("eset-malware-ioc/mozi/mozi.misp-event.json"),
        d.join("oasis-stix-examples/apt1.json"),
        d.join("maltrail/trails/static/malware/cobaltstrike.txt"),
    ]
}

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_threatgate")
}

/// Global arguments selecting the store.
fn store_args(data: &Path, pg: Option<&str>) -> Vec<String> {
    match pg {
        Some(url) => vec!["--database-url".into(), url.into()],
        None => vec!["--data".into(), data.display().to_string()],
    }
}

fn run_ok(args: &[String]) -> String {
    let out = Command::new(bin())
        .args(args)
        .output()
        .expect("run threatgate");
    assert!(
        out.status.success(),
        "threatgate {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn counts(store: &Store) -> (i64, i64, i64) {
    let n = |t: &str| {
        store
            .read(|c| {
                c.query_one(&format!("SELECT COUNT(*) FROM {t}"), &[])?
                    .unwrap()
                    .i64(0)
            })
            .unwrap()
    };
    (n("observables"), n("records"), n("objects"))
}

fn crash_rounds(data: &Path, pg: Option<&str>, open: &dyn Fn() -> Store) {
    let g = store_args(data, pg);
    let with = |extra: &[&str]| -> Vec<String> {
        g.iter()
            .cloned()
            .chain(extra.iter().map(|s| s.to_string()))
            .collect()
    };
    run_ok(&with(&["init"]));
    run_ok(&with(&["org", "add", "vendor", "--kind", "partner"]));
    run_ok(&with(&[
        "agreement",
        "add",
        "--org",
        "vendor",
        "--role",
        "provide",
        "--signed-on",
        "2024-07-03",
        "--valid-from",
        "2024-07-03",
        "--valid-until",
        "2029-07-03",
    ]));

    let files = inputs();
    let mut rng = Lcg(std::env::var("CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed));
    let mut acknowledged: Vec<(i64, PathBuf)> = vec![];
    let mut killed = 0;
    for round in 0..ROUNDS {
        let file = &files[(rng.next() as usize) % files.len()];
        let args = with(&[
            "ingest",
            &file.display().to_string(),
            "--as",
            "vendor",
            "--partial",
            "--json",
        ]);
        let mut child = Command::new(bin())
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Kill somewhere in the first ~1.5 s: before, during or after the transaction.
        let delay = Duration::from_millis(rng.next() % 1500);
        let start = Instant::now();
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                let mut out = String::new();
                use std::io::Read;
                child
                    .stdout
                    .take()
                    .unwrap()
                    .read_to_string(&mut out)
                    .unwrap();
                assert!(
                    status.success(),
                    "round {round}: ingest failed without a crash"
                );
                let report: serde_json::Value =
                    serde_json::from_str(&out).expect("ingest --json prints its report");
                for s in report["submissions"].as_array().unwrap() {
                    acknowledged.push((s["id"].as_i64().unwrap(), file.clone()));
                }
                break;
            }
            if start.elapsed() >= delay {
                child.kill().unwrap(); // SIGKILL
                child.wait().unwrap();
                killed += 1;
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    eprintln!(
        "{ROUNDS} rounds, {killed} killed, {} acknowledged",
        acknowledged.len()
    );
    assert!(killed > 0, "no round was killed: the test proved nothing");

    let store = open();
    // Every acknowledged submission is there with its audit entry.
    for (id, file) in &acknowledged {
        let row = store
            .read(|c| {
                c.query_one(
                    "SELECT objects, records FROM submissions WHERE id = $1",
                    &[(*id).into()],
                )
            })
            .unwrap();
        assert!(
            row.is_some(),
            "acknowledged submission #{id} ({}) is missing",
            file.display()
        );
    }
    // No partial submission: each stored submission committed its audit entry in the same
    // transaction, so a submission row without one would be a torn write.
    let subs: Vec<i64> = store
        .read(|c| {
            c.query("SELECT id FROM submissions", &[])?
                .iter()
                .map(|r| r.i64(0))
                .collect()
        })
        .unwrap();
    for id in &subs {
        let audited = store
            .read(|c| {
                c.query_one(
                    "SELECT COUNT(*) FROM audit_log WHERE action = 'submission' AND subject = $1",
                    &[format!("submission:{id}").into()],
                )
            })
            .unwrap()
            .unwrap()
            .i64(0)
            .unwrap();
        assert_eq!(audited, 1, "submission #{id} has no audit entry: partial");
    }
    // Records and objects only reference committed submissions.
    let orphans = store
        .read(|c| c.query_one("SELECT COUNT(*) FROM records r WHERE NOT EXISTS (SELECT 1 FROM submissions s WHERE s.id = r.submission_id)", &[]))
        .unwrap()
        .unwrap()
        .i64(0)
        .unwrap();
    assert_eq!(orphans, 0);
    assert!(
        store.verify_audit().unwrap().is_ok(),
        "audit chain broken after crashes"
    );

    // Ingesting every file again, to completion, and then once more changes nothing.
    for f in &files {
        run_ok(&with(&[
            "ingest",
            &f.display().to_string(),
            "--as",
            "vendor",
            "--partial",
        ]));
    }
    let before = counts(&store);
    for f in &files {
        run_ok(&with(&[
            "ingest",
            &f.display().to_string(),
            "--as",
            "vendor",
            "--partial",
        ]));
    }
    assert_eq!(
        counts(&store),
        before,
        "re-ingesting the same files changed the data"
    );
    assert!(store.verify_audit().unwrap().is_ok());
}

#[test]
fn sigkill_during_ingest_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    crash_rounds(&data, None, &|| Store::open_dir(&data).unwrap());
}

#[test]
fn sigkill_during_ingest_on_postgres() {
    let Some(url) = pg_url() else { return };
    // Each run gets its own database, dropped at the end.
    let db = format!("tg_crash_{}", uuid::Uuid::new_v4().simple());
    let admin = |sql: &str| {
        let out = Command::new("psql")
            .args([&url, "-v", "ON_ERROR_STOP=1", "-qc", sql])
            .output()
            .expect("psql");
        assert!(
            out.status.success(),
            "{sql}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    admin(&format!("CREATE DATABASE {db}"));
    let db_url = match url.rsplit_once('/') {
        Some((base, _)) => format!("{base}/{db}"),
        None => panic!("THREATGATE_TEST_PG must end in /DATABASE"),
    };
    let result = std::panic::catch_unwind(|| {
        crash_rounds(Path::new("unused"), Some(&db_url), &|| {
            Store::open_postgres(&db_url, None).unwrap()
        })
    });
    admin(&format!("DROP DATABASE {db} WITH (FORCE)"));
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}
