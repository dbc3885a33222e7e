//! Federation between two threatgate instances on 127.0.0.1 (a partner's exchange and the
//! hub's), with the real binary on both ends: `sync push` sends only what the partner's
//! policy releases through the federation channel, `sync pull` reads incrementally and
//! resumes after an interruption with no duplicate and no gap, and the hub's agreements
//! are enforced on everything that arrives.

#[path = "interop/harness.rs"]
mod harness;

use std::collections::BTreeSet;
use std::process::Command;

use harness::*;
use serde_json::Value;
use threatgate::model::*;
use threatgate::store::Store;

/// Run the CLI on a data directory; returns (success, stdout + stderr).
fn cli(dir: &std::path::Path, args: &[&str]) -> (bool, String) {
    let out = Command::new(BIN)
        .arg("--data")
        .arg(dir)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// `threatgate sync VERB --url URL --collection C --token T EXTRA...` run in `dir`.
fn sync(
    dir: &std::path::Path,
    verb: &str,
    url: &str,
    collection: &str,
    token: &str,
    extra: &[&str],
) -> (bool, String) {
    let mut args = vec![
        "sync",
        verb,
        "--url",
        url,
        "--collection",
        collection,
        "--token",
        token,
    ];
    args.extend_from_slice(extra);
    cli(dir, &args)
}

/// The STIX ids `org` has stored in `dir`, and the number of rows (to see duplicates).
fn stored(dir: &std::path::Path, org: &str) -> (BTreeSet<String>, usize) {
    let store = Store::open_dir(dir).unwrap();
    let o = store.org_by_name(org).unwrap().unwrap();
    let rows: Vec<String> = store
        .read(|c| {
            c.query(
                "SELECT stix_id FROM objects WHERE org_id = $1",
                &[o.id.into()],
            )?
            .iter()
            .map(|r| r.string(0))
            .collect()
        })
        .unwrap();
    let n = rows.len();
    (rows.into_iter().collect(), n)
}

struct Partner {
    dir: tempfile::TempDir,
    /// ids by TLP, submitted by the partner's own feed org.
    by_tlp: Vec<(Tlp, Vec<String>)>,
    /// Token of the hub's identity in the partner's exchange (a member, AMBER ceiling).
    tok_hub_link: String,
}

impl Partner {
    fn ids(&self, t: Tlp) -> Vec<String> {
        self.by_tlp.iter().find(|(x, _)| *x == t).unwrap().1.clone()
    }
}

const N: usize = 5;

fn partner_exchange() -> Partner {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_dir(dir.path()).unwrap();
    let _acme = org(&store, "acme", OrgKind::Hub, None);
    let feeds = org(&store, "acme-feeds", OrgKind::Partner, None);
    agree(&store, &feeds, AgreementRole::Provide, Tlp::Red, 1000);
    let link = org(&store, "hub-link", OrgKind::Member, Some("NL"));
    agree(&store, &link, AgreementRole::Receive, Tlp::Amber, 1000);
    let mut by_tlp = vec![];
    let mut all = vec![];
    for (ti, t) in [
        Tlp::Clear,
        Tlp::Green,
        Tlp::Amber,
        Tlp::AmberStrict,
        Tlp::Red,
    ]
    .into_iter()
    .enumerate()
    {
        let mut ids = vec![];
        for i in 0..N {
            let o = indicator(
                &format!("partner-{t}-{i}"),
                "2024-03-01T00:00:00.000Z",
                &format!("172.16.{ti}.{i}"),
                t,
            );
            ids.push(o["id"].as_str().unwrap().to_string());
            all.push(o);
        }
        by_tlp.push((t, ids));
    }
    put(&store, &feeds, &all);
    let tok_hub_link = token(&store, &link, TokenRole::Read);
    drop(store);
    Partner {
        dir,
        by_tlp,
        tok_hub_link,
    }
}

struct Hub {
    dir: tempfile::TempDir,
    tok_acme: String,
    tok_expired: String,
    tok_fr: String,
}

fn hub_exchange() -> Hub {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_dir(dir.path()).unwrap();
    let _hub = org(&store, "hub", OrgKind::Hub, None);
    let acme = org(&store, "acme", OrgKind::Partner, None);
    agree(&store, &acme, AgreementRole::Provide, Tlp::Amber, 1000);
    let puller = org(&store, "acme-pull", OrgKind::Partner, None);
    agree(&store, &puller, AgreementRole::Provide, Tlp::Amber, 1000);
    let expired = org(&store, "expired", OrgKind::Partner, None);
    agree(&store, &expired, AgreementRole::Provide, Tlp::Amber, -1);
    let fr = org(&store, "cert-fr", OrgKind::Member, Some("FR"));
    agree(&store, &fr, AgreementRole::Receive, Tlp::Amber, 365);
    let h = Hub {
        tok_acme: token(&store, &acme, TokenRole::Ingest),
        tok_expired: token(&store, &expired, TokenRole::Ingest),
        tok_fr: token(&store, &fr, TokenRole::Read),
        dir,
    };
    drop(store);
    h
}

#[test]
fn partner_pushes_to_hub_within_tlp_and_agreements() {
    let p = partner_exchange();
    let h = hub_exchange();
    let hub_srv = Server::sqlite(h.dir.path());
    let url = hub_srv.url("/taxii2/");
    // Push from the partner's exchange (as its hub) to its submissions at the hub.
    let (ok, out) = sync(
        p.dir.path(),
        "push",
        &url,
        "submissions",
        &h.tok_acme,
        &["--page-size", "4"],
    );
    assert!(ok, "{out}");
    assert!(!out.contains(&h.tok_acme), "the token is never printed");
    let (ids, rows) = stored(h.dir.path(), "acme");
    // Federation releases CLEAR, GREEN, AMBER; never AMBER+STRICT or RED.
    let expect: BTreeSet<String> = [Tlp::Clear, Tlp::Green, Tlp::Amber]
        .iter()
        .flat_map(|t| p.ids(*t))
        .collect();
    assert_eq!(ids, expect, "{out}");
    assert_eq!(rows, expect.len());
    // Incremental: only what is new is sent the second time.
    {
        let store = Store::open_dir(p.dir.path()).unwrap();
        let feeds = store.org_by_name("acme-feeds").unwrap().unwrap();
        put(
            &store,
            &feeds,
            &[indicator(
                "partner-late",
                "2024-03-05T00:00:00.000Z",
                "172.16.9.9",
                Tlp::Green,
            )],
        );
    }
    let (ok, out) = sync(p.dir.path(), "push", &url, "submissions", &h.tok_acme, &[]);
    assert!(ok, "{out}");
    assert!(out.contains("1 object(s), 1 stored"), "{out}");
    assert_eq!(stored(h.dir.path(), "acme").1, expect.len() + 1);
    // At the hub, the member sees the GREEN and CLEAR ones (AMBER needs a share).
    let http = Http::default();
    let shared = collection_url(&http, &hub_srv, &h.tok_fr, "shared-with-me");
    let (seen, _) = all_pages(&http, &format!("{shared}objects/"), &h.tok_fr, "limit=1000");
    let seen: BTreeSet<String> = seen.into_iter().collect();
    assert_eq!(seen.len(), 2 * N + 1);
    assert!(p.ids(Tlp::Amber).iter().all(|i| !seen.contains(i)));
    // A partner whose agreement has expired is refused whole, with the reason.
    let (ok, out) = sync(
        p.dir.path(),
        "push",
        &url,
        "submissions",
        &h.tok_expired,
        &[],
    );
    assert!(!ok);
    assert!(out.contains("expired"), "{out}");
    assert!(stored(h.dir.path(), "expired").0.is_empty());
}

#[test]
fn hub_pulls_from_partner_incrementally_and_resumes() {
    let p = partner_exchange();
    let h = hub_exchange();
    let partner_srv = Server::sqlite(p.dir.path());
    let url = partner_srv.url("/taxii2/");
    let pull = |extra: &[&str]| {
        let mut args = vec!["--as", "acme-pull"];
        args.extend_from_slice(extra);
        sync(
            h.dir.path(),
            "pull",
            &url,
            "shared-with-me",
            &p.tok_hub_link,
            &args,
        )
    };
    // What the partner's policy lets the hub's identity read in bulk: CLEAR and GREEN.
    let visible: BTreeSet<String> = [Tlp::Clear, Tlp::Green]
        .iter()
        .flat_map(|t| p.ids(*t))
        .collect();
    // An interrupted run: two pages of three, then stop.
    let (ok, out) = pull(&["--page-size", "3", "--max-pages", "2"]);
    assert!(ok, "{out}");
    let (ids, rows) = stored(h.dir.path(), "acme-pull");
    assert_eq!(ids.len(), 6, "{out}");
    assert_eq!(rows, 6);
    // The next run continues where it stopped: the rest, once.
    let (ok, out) = pull(&["--page-size", "3"]);
    assert!(ok, "{out}");
    let (ids, rows) = stored(h.dir.path(), "acme-pull");
    assert_eq!(ids, visible, "no gap");
    assert_eq!(rows, visible.len(), "no duplicate");
    // New data at the partner arrives with the next pull, and only it is fetched.
    {
        let store = Store::open_dir(p.dir.path()).unwrap();
        let feeds = store.org_by_name("acme-feeds").unwrap().unwrap();
        put(
            &store,
            &feeds,
            &[
                indicator(
                    "partner-new-green",
                    "2024-03-06T00:00:00.000Z",
                    "172.16.8.1",
                    Tlp::Green,
                ),
                indicator(
                    "partner-new-red",
                    "2024-03-06T00:00:00.000Z",
                    "172.16.8.2",
                    Tlp::Red,
                ),
            ],
        );
    }
    let (ok, out) = pull(&[]);
    assert!(ok, "{out}");
    assert!(out.contains("1 object(s), 1 stored"), "{out}");
    let (ids, rows) = stored(h.dir.path(), "acme-pull");
    assert_eq!(rows, visible.len() + 1);
    assert!(p
        .ids(Tlp::Red)
        .iter()
        .chain(p.ids(Tlp::AmberStrict).iter())
        .chain(p.ids(Tlp::Amber).iter())
        .all(|i| !ids.contains(i)));
    // Pulling as an org whose agreement expired stores nothing and says why.
    let (ok, out) = sync(
        h.dir.path(),
        "pull",
        &url,
        "shared-with-me",
        &p.tok_hub_link,
        &["--as", "expired"],
    );
    assert!(!ok);
    assert!(out.contains("expired"), "{out}");
    assert!(stored(h.dir.path(), "expired").0.is_empty());
    // A wrong token or collection is explained.
    let (ok, out) = sync(h.dir.path(), "pull", &url, "shared-with-me", "tg_nope", &[]);
    assert!(!ok && out.contains("401"), "{out}");
    let (ok, out) = sync(h.dir.path(), "pull", &url, "nope", &p.tok_hub_link, &[]);
    assert!(!ok && out.contains("not found"), "{out}");
    let _: Option<Value> = None;
}
