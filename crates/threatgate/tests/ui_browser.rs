//! End-to-end tests of the web UI in headless Chromium, against the real binary.
//!
//! The test prepares a data directory with the library, starts `threatgate serve` on a
//! free 127.0.0.1 port and Debian's `chromedriver` on another, and drives Chromium over
//! WebDriver (fantoccini). It checks, as a person would:
//! 1. a member logged in sees only what it may: another source's TLP:RED value is absent
//!    from the source of every page it can reach, searched for or not;
//! 2. the hub opens an operation, moves a target to taken-down with evidence, and the
//!    counts and the state chart change;
//! 3. the map shades exactly the countries that have targets.
//!
//! Screenshots go to `target/ui-screenshots/` for people to look at.
//! Without Chromium the test is skipped locally, and fails when `CI` is set.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod support;

use chrono::{Duration as Days, Utc};
use fantoccini::{Client, ClientBuilder, Locator};
use threatgate::auth;
use threatgate::model::*;
use threatgate::ops::{Category, NewTarget, Observation, Snapshot, TargetState};
use threatgate::store::{NewObject, Store, SubmissionMeta};

use support::new_org;

const RED_VALUE: &str = "red-secret.example";
/// Matches the RED value in any form (plain, defanged in reports, in a URL).
const RED_STEM: &str = "red-secret";
const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// A child process killed when dropped.
struct Proc(Child);
impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn browser_paths() -> Option<(PathBuf, PathBuf)> {
    let chromium = std::env::var("THREATGATE_CHROMIUM").unwrap_or_else(|_| CHROMIUM.into());
    let driver = std::env::var("THREATGATE_CHROMEDRIVER").unwrap_or_else(|_| CHROMEDRIVER.into());
    let (c, d) = (PathBuf::from(chromium), PathBuf::from(driver));
    if c.exists() && d.exists() {
        return Some((c, d));
    }
    if std::env::var_os("CI").is_some() {
        panic!(
            "CI is set but Chromium ({}) or chromedriver ({}) is missing: install Debian's chromium and chromium-driver (.ci/run does)",
            c.display(),
            d.display()
        );
    }
    eprintln!(
        "skipping the browser tests: no {} / {}",
        c.display(),
        d.display()
    );
    None
}

fn screenshots_dir() -> PathBuf {
    let d = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/ui-screenshots");
    std::fs::create_dir_all(&d).unwrap();
    d
}

// ----- the data -----

struct Data {
    member_token: String,
    hub_token: String,
    op_id: i64,
    /// Target to move in scenario 2 (reported, in NL).
    movable: i64,
    /// Countries with targets the hub sees.
    countries: BTreeSet<String>,
    member_agreement: i64,
    vendor_renewal: i64,
}

#[allow(clippy::too_many_arguments)]
fn agreement(
    store: &Store,
    o: &Org,
    role: AgreementRole,
    from: Time,
    until: Time,
    max: Tlp,
    renews: Option<i64>,
    hub: &Org,
) -> Agreement {
    store
        .add_agreement(
            &NewAgreement {
                org_id: o.id,
                role,
                signed_on: from - Days::days(20),
                valid_from: from,
                valid_until: until,
                max_tlp: max,
                scope: None,
                purpose: "botnet disruption".into(),
                retention_days: Some(730),
                renews,
            },
            Some(hub.id),
        )
        .unwrap()
}

/// (value, TLP, country, ASN, network, malware)
type Item = (
    &'static str,
    Tlp,
    &'static str,
    u32,
    &'static str,
    &'static str,
);

fn submit(store: &Store, o: &Org, items: &[Item]) -> Vec<i64> {
    let mut w = store
        .begin_submission(SubmissionMeta {
            org_id: o.id,
            agreement_id: None,
            format: "stix".into(),
            source_name: format!("{}-c2-feed.json", o.name),
        })
        .unwrap();
    let mut ids = vec![];
    let mut enrich = vec![];
    for (i, (value, tlp, cc, asn, net, malware)) in items.iter().enumerate() {
        let obs = Observable::detect(value).unwrap();
        let json = serde_json::json!({
            "type": "indicator", "spec_version": "2.1",
            "id": format!("indicator--{}", uuid::Uuid::new_v4()),
            "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
            "name": format!("{malware} C2 {value}"),
            "pattern": format!("[domain-name:value = '{value}']"), "pattern_type": "stix",
            "valid_from": "2026-01-01T00:00:00Z"
        });
        let pk = w
            .add_object(&NewObject {
                stix_id: json["id"].as_str().unwrap().into(),
                stix_type: "indicator".into(),
                version: "2026-01-01T00:00:00.000Z".into(),
                spec_version: "2.1".into(),
                tlp: *tlp,
                json: json.to_string(),
            })
            .unwrap();
        let claim = Claim {
            tlp: Some(*tlp),
            pap: Some(Pap::Green),
            labels: vec!["c2".into()],
            malware: vec![malware.to_string()],
            confidence: Some(60 + (i as u8 * 3) % 40),
            first_seen: Some(Utc::now() - Days::days(40 + i as i64)),
            last_seen: Some(Utc::now() - Days::days(2)),
            reliability: Some('B'),
            credibility: Some(2),
            ..Default::default()
        };
        let (oid, _) = w.add_claim(&obs, &claim, pk).unwrap();
        ids.push(oid);
        enrich.push((
            oid,
            Enrichment {
                country: Some(cc.to_string()),
                asn: Some(*asn),
                network: Some(net.to_string()),
                registered_domain: None,
            },
        ));
    }
    w.finish(0, serde_json::json!({})).unwrap();
    store.set_enrichment(&enrich).unwrap();
    ids
}

fn token(store: &Store, o: &Org, role: TokenRole) -> String {
    let s = auth::generate_secret();
    store
        .create_token(o.id, role, "browser test", &auth::hash_secret(&s), None)
        .unwrap();
    s
}

fn prepare(dir: &Path) -> Data {
    let store = Store::open_dir(dir).unwrap();
    let now = Utc::now();
    let hub = new_org(&store, "europol-hub", OrgKind::Hub, None, None);
    let vendor = new_org(&store, "vendor-a", OrgKind::Partner, None, None);
    let other = new_org(&store, "vendor-b", OrgKind::Partner, None, None);
    let member = new_org(&store, "cert-fr", OrgKind::Member, Some("FR"), None);
    let old = new_org(&store, "cert-nl", OrgKind::Member, Some("NL"), None);
    let first = agreement(
        &store,
        &vendor,
        AgreementRole::Both,
        now - Days::days(6 * 365),
        now - Days::days(365),
        Tlp::Amber,
        None,
        &hub,
    );
    let renewal = agreement(
        &store,
        &vendor,
        AgreementRole::Both,
        now - Days::days(365),
        now + Days::days(4 * 365),
        Tlp::Amber,
        Some(first.id),
        &hub,
    );
    agreement(
        &store,
        &other,
        AgreementRole::Provide,
        now - Days::days(700),
        now + Days::days(60),
        Tlp::Red,
        None,
        &hub,
    );
    let member_agreement = agreement(
        &store,
        &member,
        AgreementRole::Receive,
        now - Days::days(335),
        now + Days::days(30),
        Tlp::Amber,
        None,
        &hub,
    );
    agreement(
        &store,
        &old,
        AgreementRole::Receive,
        now - Days::days(800),
        now - Days::days(3),
        Tlp::Green,
        None,
        &hub,
    );

    let green: Vec<Item> = vec![
        ("c2-alpha.example", Tlp::Green, "FR", 16276, "OVH", "emotet"),
        (
            "c2-bravo.example",
            Tlp::Green,
            "FR",
            12876,
            "SCALEWAY",
            "emotet",
        ),
        (
            "c2-charlie.example",
            Tlp::Green,
            "DE",
            24940,
            "HETZNER",
            "qakbot",
        ),
        (
            "c2-delta.example",
            Tlp::Green,
            "DE",
            24940,
            "HETZNER",
            "qakbot",
        ),
        (
            "c2-echo.example",
            Tlp::Green,
            "DE",
            51167,
            "CONTABO",
            "trickbot",
        ),
        (
            "c2-foxtrot.example",
            Tlp::Green,
            "NL",
            60781,
            "LEASEWEB",
            "dridex",
        ),
        (
            "c2-golf.example",
            Tlp::Green,
            "NL",
            60781,
            "LEASEWEB",
            "dridex",
        ),
        (
            "c2-hotel.example",
            Tlp::Green,
            "US",
            14061,
            "DIGITALOCEAN",
            "emotet",
        ),
        (
            "c2-india.example",
            Tlp::Clear,
            "BR",
            28573,
            "CLARO",
            "trickbot",
        ),
        (
            "c2-juliet.example",
            Tlp::Green,
            "RU",
            49505,
            "SELECTEL",
            "qakbot",
        ),
        ("c2-kilo.example", Tlp::Amber, "FR", 16276, "OVH", "emotet"),
    ];
    let mut oids = submit(&store, &vendor, &green);
    let red: Vec<Item> = vec![(RED_VALUE, Tlp::Red, "DE", 24940, "HETZNER", "secret-family")];
    oids.extend(submit(&store, &other, &red));
    let values: Vec<Item> = green.iter().chain(red.iter()).cloned().collect();

    let op = store
        .create_operation(
            "Endgame",
            (now - Days::days(30), now + Days::days(30)),
            "label = c2",
            hub.id,
        )
        .unwrap();
    let targets: Vec<NewTarget> = values
        .iter()
        .zip(&oids)
        .map(|((v, tlp, cc, asn, net, mw), oid)| NewTarget {
            observable_id: *oid,
            kind: Kind::Domain,
            value: v.to_string(),
            category: Category::C2,
            country: Some(cc.to_string()),
            asn: Some(*asn),
            network: Some(net.to_string()),
            registered_domain: None,
            abuse_contact: Some(format!("abuse@{}.example", net.to_lowercase())),
            snapshot: Snapshot {
                labels: vec!["c2".into()],
                malware: vec![mw.to_string()],
                ..Default::default()
            },
            needs_consent: false,
            tlp: *tlp,
        })
        .collect();
    store.upsert_targets(op.id, &targets, hub.id).unwrap();
    // The FR report goes to cert-fr: the policy then lets it read the AMBER FR target.
    threatgate::ops::report::disseminate(&store, &op, &hub, "FR").unwrap();

    // Report most targets a few days ago; some went offline, some were taken down.
    let all = store.targets(op.id).unwrap();
    let by_value = |v: &str| all.iter().find(|t| t.value == v).unwrap().clone();
    let mut obs = vec![];
    for (i, v) in [
        "c2-charlie.example",
        "c2-delta.example",
        "c2-echo.example",
        "c2-foxtrot.example",
        "c2-golf.example",
        "c2-hotel.example",
        "c2-juliet.example",
    ]
    .iter()
    .enumerate()
    {
        let t = by_value(v);
        let reported = now - Days::days(6) + Days::hours(i as i64);
        store
            .move_target(
                t.id,
                TargetState::Identified,
                TargetState::Reported,
                reported,
                hub.id,
                "report sent to the national contact point",
            )
            .unwrap();
        if i < 4 {
            obs.push(Observation {
                target_id: t.id,
                at: reported + Days::hours([10, 30, 70, 100][i]),
                online: false,
                method: "http".into(),
                detail: "connection refused".into(),
            });
        }
    }
    store
        .add_observations(op.id, &obs, Some(hub.id), "browser-test")
        .unwrap();
    let charlie = by_value("c2-charlie.example");
    store
        .move_target(
            charlie.id,
            TargetState::Reported,
            TargetState::TakenDown,
            now - Days::days(5),
            hub.id,
            "hoster suspended the server, ticket 4711",
        )
        .unwrap();
    let movable = by_value("c2-golf.example").id;

    let countries = values.iter().map(|v| v.2.to_string()).collect();
    Data {
        member_token: token(&store, &member, TokenRole::Analyst),
        hub_token: token(&store, &hub, TokenRole::Admin),
        op_id: op.id,
        movable,
        countries,
        member_agreement: member_agreement.id,
        vendor_renewal: renewal.id,
    }
}

// ----- the server and the browser -----

fn start_server(dir: &Path) -> (Proc, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_threatgate"))
        .arg("--data")
        .arg(dir)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start threatgate serve");
    let out = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if let Some(a) = line.strip_prefix("threatgate listening on ") {
                let _ = tx.send(a.trim().to_string());
            }
        }
    });
    let proc = Proc(child);
    let addr = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("threatgate serve did not print its address within 60 s");
    (proc, format!("http://{addr}"))
}

fn start_chromedriver(driver: &Path) -> (Proc, String) {
    let port = free_port();
    let child = Command::new(driver)
        .arg(format!("--port={port}"))
        .arg("--allowed-ips=127.0.0.1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromedriver");
    let proc = Proc(child);
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let start = Instant::now();
    while TcpStream::connect(addr).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "chromedriver did not listen within 30 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    (proc, format!("http://{addr}"))
}

async fn browser(driver_url: &str, chromium: &Path, profile: &Path) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": chromium,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--window-size=1280,1000",
                format!("--user-data-dir={}", profile.display()),
            ]
        }),
    );
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(driver_url)
        .await
        .expect("a Chromium session through chromedriver")
}

async fn shot(c: &Client, name: &str) {
    let png = c.screenshot().await.unwrap();
    std::fs::write(screenshots_dir().join(format!("{name}.png")), png).unwrap();
}

/// A screenshot of the whole page height (the window grown to fit), for long pages.
async fn full_shot(c: &Client, name: &str) {
    let h = c
        .execute("return document.documentElement.scrollHeight", vec![])
        .await
        .ok()
        .and_then(|v| v.as_u64())
        .unwrap_or(1000)
        .clamp(600, 4000) as u32;
    c.set_window_size(1280, h + 120).await.unwrap();
    let _ = c.execute("window.scrollTo(0, 0)", vec![]).await;
    shot(c, name).await;
    c.set_window_size(1280, 1000).await.unwrap();
}

async fn login(c: &Client, base: &str, token: &str) {
    c.goto(&format!("{base}/")).await.unwrap();
    assert!(
        c.current_url().await.unwrap().path().ends_with("/login"),
        "not logged in: sent to the login page"
    );
    shot(c, "login").await;
    let field = c.find(Locator::Css("input#token")).await.unwrap();
    field.send_keys(token).await.unwrap();
    c.find(Locator::Css("form[action='/login'] button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.wait()
        .at_most(Duration::from_secs(60))
        .for_element(Locator::Css("header.top .who"))
        .await
        .expect("the dashboard after login");
}

/// The operation page's three views of "taken down": the actioned count, the state
/// chart's bar and the board's column.
async fn taken_down_counts(c: &Client) -> (i64, i64, usize) {
    let count = text_of(c, "#count-actioned").await.parse().unwrap();
    let bar = attr_of(
        c,
        "#chart-state g.bar[data-label='taken-down']",
        "data-value",
    )
    .await
    .parse()
    .unwrap();
    let column = c
        .find_all(Locator::Css(
            "section.column[data-state='taken-down'] article.card",
        ))
        .await
        .unwrap()
        .len();
    (count, bar, column)
}

async fn text_of(c: &Client, css: &str) -> String {
    c.find(Locator::Css(css))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

async fn attr_of(c: &Client, css: &str, attr: &str) -> String {
    c.find(Locator::Css(css))
        .await
        .unwrap()
        .attr(attr)
        .await
        .unwrap()
        .unwrap_or_default()
}

/// A plain HTTP/1.1 GET (status, body) with a cookie, for downloads.
fn http_get(base: &str, path: &str, cookie: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let addr = base.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = vec![];
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|x| x.1.to_string())
        .unwrap_or_default();
    (status, body)
}

// ----- scenarios -----

/// (1) A member sees only its data: the RED value of another source is on no page.
async fn member_sees_only_its_data(c: &Client, base: &str, d: &Data) {
    login(c, base, &d.member_token).await;
    shot(c, "member-dashboard").await;
    // Keyboard: the first Tab lands on the skip link, which leads to <main>.
    c.find(Locator::Css("body"))
        .await
        .unwrap()
        .send_keys("\u{E004}")
        .await
        .unwrap();
    let focused = c
        .execute("return document.activeElement.className + '|' + document.activeElement.getAttribute('href')", vec![])
        .await
        .unwrap();
    assert_eq!(focused.as_str(), Some("skip-link|#main"), "first tab stop");
    shot(c, "member-skip-link-focused").await;
    c.find(Locator::Css("a.skip-link"))
        .await
        .unwrap()
        .send_keys("\u{E007}")
        .await
        .unwrap();
    let focused = c
        .execute("return document.activeElement.id", vec![])
        .await
        .unwrap();
    assert_eq!(
        focused.as_str(),
        Some("main"),
        "the skip link moves focus to main"
    );
    let dash = c.source().await.unwrap();
    assert!(dash.contains("cert-fr"), "the member's name is shown");
    assert!(
        dash.contains("Expires in"),
        "the member's agreement ends in 30 days: amber marker"
    );
    // A wrong login attempt elsewhere is not needed here; the pages:
    let pages = [
        "/".to_string(),
        format!("/search?q={RED_VALUE}"),
        "/search?q=red-secret%5B.%5Dexample".to_string(),
        "/search?q=c2-alpha.example".into(),
        "/search?q=c2-kilo.example".into(),
        "/search?q=country+%3D+DE".into(),
        "/search?q=label+%3D+c2+OR+malware+%3D+secret-family".into(),
        "/agreements".into(),
        format!("/agreements/{}", d.member_agreement),
        "/operations".into(),
        format!("/operations/{}", d.op_id),
        format!("/operations/{}/reports/FR/html", d.op_id),
        format!("/operations/{}/reports/FR/csv", d.op_id),
        format!("/operations/{}/reports/FR/stix", d.op_id),
        format!("/operations/{}/reports/DE/html", d.op_id),
        "/audit".into(),
    ];
    for p in &pages {
        if p.contains("/reports/") {
            // Downloads: fetched with the browser's session cookie (the page's CSP forbids
            // script fetches, so the test makes the request itself).
            let sid = c.get_named_cookie("tg_session").await.unwrap();
            let (status, body) = http_get(base, p, &format!("tg_session={}", sid.value()));
            assert!(!body.contains(RED_STEM), "{p} contains the RED value");
            assert!(
                !body.contains("vendor-b"),
                "{p} names the RED value's source"
            );
            if p.contains("/FR/") {
                assert_eq!(status, 200, "{p}: {body:.300}");
                assert!(
                    body.contains("c2-alpha") || body.contains("c2-alpha[.]example"),
                    "{p} lists the FR targets: {body:.300}"
                );
            } else {
                assert_eq!(status, 404, "{p}: the DE report is not the member's");
            }
            continue;
        }
        c.goto(&format!("{base}{p}")).await.unwrap();
        let src = c.source().await.unwrap();
        // The search box shows back what the member typed; nothing else may name it.
        let typed: String = url::Url::parse(&format!("{base}{p}"))
            .unwrap()
            .query_pairs()
            .find(|(k, _)| k == "q")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default();
        let src = if typed.is_empty() {
            src
        } else {
            src.replace(&format!("value=\"{typed}\""), "")
        };
        assert!(!src.contains(RED_STEM), "{p} shows the RED value");
        assert!(
            !src.contains("vendor-b"),
            "{p} names the RED value's source"
        );
        assert!(
            !src.contains("secret-family"),
            "{p} shows the RED record's malware"
        );
    }
    c.goto(&format!("{base}/search?q={RED_VALUE}"))
        .await
        .unwrap();
    assert!(c
        .source()
        .await
        .unwrap()
        .contains("Nothing you may see matches"));
    shot(c, "member-search-red").await;
    c.goto(&format!("{base}/search?q=c2-kilo.example"))
        .await
        .unwrap();
    let kilo = c.source().await.unwrap();
    assert!(
        kilo.contains("TLP:AMBER") && kilo.contains("vendor-a"),
        "the FR report shared the AMBER record"
    );
    full_shot(c, "member-search-shared").await;
    c.goto(&format!(
        "{base}/search?q=label+%3D+c2+AND+country+IN+%28DE%2C+NL%29"
    ))
    .await
    .unwrap();
    let hits = c.source().await.unwrap();
    assert!(
        hits.contains("c2-charlie.example") && !hits.contains(RED_STEM),
        "filter search"
    );
    full_shot(c, "member-search-filter").await;
    c.goto(&format!("{base}/operations/{}", d.op_id))
        .await
        .unwrap();
    let shaded: BTreeSet<String> = shaded_countries(c).await;
    assert!(shaded.contains("FR"));
    full_shot(c, "member-operation").await;
    c.goto(&format!("{base}/audit")).await.unwrap();
    assert!(
        c.source().await.unwrap().contains("Not allowed"),
        "analysts do not read the audit log"
    );
    // Logging out ends the session.
    c.goto(&format!("{base}/")).await.unwrap();
    c.find(Locator::Css("form[action='/logout'] button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.wait()
        .at_most(Duration::from_secs(60))
        .for_element(Locator::Css("input#token"))
        .await
        .unwrap();
    c.goto(&format!("{base}/operations")).await.unwrap();
    assert!(c.current_url().await.unwrap().path().ends_with("/login"));
}

async fn shaded_countries(c: &Client) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for p in c
        .find_all(Locator::Css(
            "svg.choropleth path[data-country][data-count]",
        ))
        .await
        .unwrap()
    {
        let cc = p.attr("data-country").await.unwrap().unwrap();
        let class = p.attr("class").await.unwrap().unwrap_or_default();
        assert!(
            class
                .split(' ')
                .any(|k| k.starts_with("fill-") && k != "fill-0"),
            "{cc} has class {class:?}"
        );
        out.insert(cc);
    }
    out
}

/// (2) and (3) as the hub: the map, then a move on the takedown board.
async fn hub_moves_a_target(c: &Client, base: &str, d: &Data) {
    login(c, base, &d.hub_token).await;
    full_shot(c, "hub-dashboard").await;
    c.goto(&format!("{base}/agreements/{}", d.vendor_renewal))
        .await
        .unwrap();
    assert!(c.source().await.unwrap().contains("renewal signed"));
    shot(c, "hub-agreement-timeline").await;
    c.goto(&format!("{base}/agreements")).await.unwrap();
    let ag = c.source().await.unwrap();
    assert!(
        ag.contains("marker-red") && ag.contains("Expired"),
        "cert-nl's agreement ended: red marker"
    );
    assert!(
        ag.contains("marker-amber"),
        "agreements ending within 90 days: amber marker"
    );
    assert!(
        ag.contains(&format!("Renewed by #{}", d.vendor_renewal)),
        "an expired agreement that was renewed says so instead of a red marker"
    );
    shot(c, "hub-agreements").await;
    c.goto(&format!("{base}/audit")).await.unwrap();
    assert!(c.source().await.unwrap().contains("Chain verified"));
    shot(c, "hub-audit").await;
    c.goto(&format!("{base}/search?q={RED_VALUE}"))
        .await
        .unwrap();
    assert!(
        c.source().await.unwrap().contains("TLP:RED"),
        "the hub sees the RED record"
    );

    c.goto(&format!("{base}/operations/{}", d.op_id))
        .await
        .unwrap();
    // (3) The map shades exactly the countries with targets.
    let shaded = shaded_countries(c).await;
    assert_eq!(shaded, d.countries, "countries shaded on the map");
    let unshaded = c
        .find_all(Locator::Css("svg.choropleth path.fill-0[data-country]"))
        .await
        .unwrap()
        .len();
    assert!(
        unshaded > 150,
        "the other countries are drawn unshaded ({unshaded})"
    );
    let map = c.find(Locator::Css("svg.choropleth")).await.unwrap();
    std::fs::write(
        screenshots_dir().join("hub-map.png"),
        map.screenshot().await.unwrap(),
    )
    .unwrap();
    full_shot(c, "hub-operation-before").await;

    // (2) Move a reported target to taken-down.
    let (before, bar_before, col_before) = taken_down_counts(c).await;
    let card = format!("article#target-{}", d.movable);
    assert_eq!(attr_of(c, &card, "data-state").await, "reported");
    c.find(Locator::Css(&format!("{card} summary")))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let select = c
        .find(Locator::Css(&format!("{card} select[name=to]")))
        .await
        .unwrap();
    select.select_by_value("taken-down").await.unwrap();
    c.find(Locator::Css(&format!("{card} input[name=evidence]")))
        .await
        .unwrap()
        .send_keys("hoster confirmed suspension, ticket 4712")
        .await
        .unwrap();
    c.find(Locator::Css(&format!("{card} button[type=submit]")))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.wait()
        .at_most(Duration::from_secs(60))
        .for_element(Locator::Css(".notice-ok"))
        .await
        .expect("the moved notice");
    let (after, bar_after, col_after) = taken_down_counts(c).await;
    assert_eq!(after, before + 1, "taken-down count");
    assert_eq!(
        bar_after,
        bar_before + 1,
        "the state chart's taken-down bar"
    );
    assert_eq!(col_after, col_before + 1, "the board's taken-down column");
    assert_eq!(attr_of(c, &card, "data-state").await, "taken-down");
    full_shot(c, "hub-operation-after").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ui_in_headless_chromium() {
    let Some((chromium, driver)) = browser_paths() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = prepare(dir.path());
    let (_server, base) = start_server(dir.path());
    let (_driver, driver_url) = start_chromedriver(&driver);

    for (name, hub) in [("member", false), ("hub", true)] {
        let profile = tempfile::tempdir().unwrap();
        let c = browser(&driver_url, &chromium, profile.path()).await;
        if hub {
            hub_moves_a_target(&c, &base, &data).await;
        } else {
            member_sees_only_its_data(&c, &base, &data).await;
        }
        c.close()
            .await
            .unwrap_or_else(|e| panic!("closing the {name} browser: {e}"));
    }
}
