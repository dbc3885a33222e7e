//! Pages rendered as strings (no browser): the isolation rule on every page, CSRF
//! rejection on every POST, and login failures.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{Duration, Utc};
use tower::ServiceExt;

use super::*;
use crate::auth;
use crate::model::*;
use crate::ops::{Category, NewTarget, Snapshot};
use crate::store::SubmissionMeta;

const RED_VALUE: &str = "red-secret.example";
const GREEN_VALUE: &str = "198.51.100.7";
const OWN_VALUE: &str = "own-member.example";

struct Fixture {
    _dir: tempfile::TempDir,
    store: Arc<Store>,
    hub: Org,
    member: Org,
    member_token: String,
    hub_token: String,
    op_id: i64,
}

fn submit(store: &Store, org: &Org, value: &str, tlp: Tlp, country: Option<&str>) -> i64 {
    let mut w = store
        .begin_submission(SubmissionMeta {
            org_id: org.id,
            agreement_id: None,
            format: "text".into(),
            source_name: format!("{}-feed.txt", org.name),
        })
        .unwrap();
    let obs = Observable::detect(value).unwrap();
    let claim = Claim {
        tlp: Some(tlp),
        pap: Some(Pap::Green),
        labels: vec!["c2".into()],
        confidence: Some(80),
        ..Default::default()
    };
    let (oid, _) = w.add_claim(&obs, &claim, None).unwrap();
    w.finish(0, serde_json::json!({})).unwrap();
    if let Some(cc) = country {
        store
            .set_enrichment(&[(
                oid,
                Enrichment {
                    country: Some(cc.into()),
                    asn: Some(64500),
                    network: Some("EXAMPLE-NET".into()),
                    registered_domain: None,
                },
            )])
            .unwrap();
    }
    oid
}

fn agreement(store: &Store, org: &Org, role: AgreementRole, hub: &Org, days_left: i64) {
    let now = Utc::now();
    store
        .add_agreement(
            &NewAgreement {
                org_id: org.id,
                role,
                signed_on: now - Duration::days(400),
                valid_from: now - Duration::days(400),
                valid_until: now + Duration::days(days_left),
                max_tlp: Tlp::Amber,
                scope: None,
                purpose: "test".into(),
                retention_days: None,
                renews: None,
            },
            Some(hub.id),
        )
        .unwrap();
}

fn token(store: &Store, org: &Org, role: TokenRole) -> String {
    let secret = auth::generate_secret();
    store
        .create_token(org.id, role, "ui test", &auth::hash_secret(&secret), None)
        .unwrap();
    secret
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open_dir(dir.path()).unwrap());
    let org = |name: &str, kind: OrgKind, cc: Option<&str>| {
        store
            .create_org(
                &NewOrg {
                    name: name.into(),
                    kind,
                    country: cc.map(str::to_string),
                },
                None,
            )
            .unwrap()
    };
    let hub = org("hub", OrgKind::Hub, None);
    let vendor = org("vendor", OrgKind::Partner, None);
    let member = org("cert-fr", OrgKind::Member, Some("FR"));
    agreement(&store, &vendor, AgreementRole::Both, &hub, 1000);
    agreement(&store, &member, AgreementRole::Both, &hub, 30);
    let green = submit(&store, &vendor, GREEN_VALUE, Tlp::Green, Some("FR"));
    let red = submit(&store, &vendor, RED_VALUE, Tlp::Red, Some("DE"));
    submit(&store, &member, OWN_VALUE, Tlp::Amber, None);
    let op = store
        .create_operation(
            "Endgame",
            (
                Utc::now() - Duration::days(10),
                Utc::now() + Duration::days(10),
            ),
            "label = c2",
            hub.id,
        )
        .unwrap();
    let target = |oid: i64, value: &str, cc: &str| NewTarget {
        observable_id: oid,
        kind: Observable::detect(value).unwrap().kind,
        value: value.into(),
        category: Category::C2,
        country: Some(cc.into()),
        asn: Some(64500),
        network: Some("EXAMPLE-NET".into()),
        registered_domain: None,
        abuse_contact: None,
        snapshot: Snapshot::default(),
        needs_consent: false,
        tlp: Tlp::Green,
    };
    store
        .upsert_targets(
            op.id,
            &[
                target(green, GREEN_VALUE, "FR"),
                target(red, RED_VALUE, "DE"),
            ],
            hub.id,
        )
        .unwrap();
    let member_token = token(&store, &member, TokenRole::Analyst);
    let hub_token = token(&store, &hub, TokenRole::Admin);
    Fixture {
        _dir: dir,
        store,
        hub,
        member,
        member_token,
        hub_token,
        op_id: op.id,
    }
}

fn viewer(f: &Fixture, org: &Org, role: TokenRole) -> Viewer {
    Viewer::new(&f.store, org.clone(), role, "csrf-test".into()).unwrap()
}

/// Every page a member can reach, rendered as strings.
fn member_pages(f: &Fixture, v: &Viewer) -> Vec<(String, String)> {
    let s = &f.store;
    let mut pages = vec![
        (
            "dashboard".to_string(),
            dashboard::render(s, v).unwrap().into_string(),
        ),
        (
            "search red".into(),
            search::render(s, v, RED_VALUE).unwrap().into_string(),
        ),
        (
            "search defanged red".into(),
            search::render(s, v, "red-secret[.]example")
                .unwrap()
                .into_string(),
        ),
        (
            "search green".into(),
            search::render(s, v, GREEN_VALUE).unwrap().into_string(),
        ),
        (
            "agreements".into(),
            agreements::list(s, v).unwrap().into_string(),
        ),
        (
            "operations".into(),
            operations::list(s, v).unwrap().into_string(),
        ),
        (
            "operation".into(),
            operations::detail(s, v, f.op_id, None)
                .unwrap()
                .into_string(),
        ),
    ];
    for a in s.agreements(Some(v.org.id)).unwrap() {
        pages.push((
            format!("agreement {}", a.id),
            agreements::detail(s, v, a.id).unwrap().into_string(),
        ));
    }
    pages
}

#[test]
fn a_member_never_sees_another_sources_red_data() {
    let f = fixture();
    let v = viewer(&f, &f.member, TokenRole::Analyst);
    for (name, html) in member_pages(&f, &v) {
        // The search box shows back what the member typed; nothing else may name it.
        let html = html.replace(&format!("value=\"{RED_VALUE}\""), "");
        assert!(!html.contains(RED_VALUE), "{name} shows the RED value");
        assert!(!html.contains("TLP:RED"), "{name} hints at a RED record");
        assert!(html.contains("lang=\"en\""), "{name} has no lang");
        assert!(
            html.contains("Skip to main content"),
            "{name} has no skip link"
        );
    }
    let search = search::render(&f.store, &v, RED_VALUE)
        .unwrap()
        .into_string();
    assert!(search.contains("Nothing you may see matches"), "{search}");
    // A filter search evaluates only the records the member may see.
    for filter in ["label = c2", "country = DE", "source = vendor"] {
        let hits = search::render(&f.store, &v, filter).unwrap().into_string();
        assert!(!hits.contains(RED_VALUE), "{filter}: {hits}");
    }
    let hits = search::render(&f.store, &v, "label = c2 AND country = FR")
        .unwrap()
        .into_string();
    assert!(
        hits.contains("1 matching observable") && hits.contains(GREEN_VALUE),
        "{hits}"
    );
    let bad = search::render(&f.store, &v, "label = ")
        .unwrap()
        .into_string();
    assert!(bad.contains("neither an observable"), "{bad}");
    let hub = viewer(&f, &f.hub, TokenRole::Admin);
    let hits = search::render(&f.store, &hub, "country = DE")
        .unwrap()
        .into_string();
    assert!(
        hits.contains(RED_VALUE),
        "the hub's filter finds the RED record: {hits}"
    );
    // An unknown value reads the same.
    let unknown = search::render(&f.store, &v, "never-seen.example")
        .unwrap()
        .into_string();
    assert!(unknown.contains("Nothing you may see matches"));
    // The green one, own data and the shared operation target are there.
    // The member's own sighting of the green value shows on its detail page.
    let oid = f
        .store
        .observable(Kind::Ipv4, GREEN_VALUE)
        .unwrap()
        .unwrap()
        .id;
    f.store
        .add_sighting(&crate::store::NewSighting {
            observable_id: oid,
            org_id: f.member.id,
            count: 17,
            first_seen: Utc::now() - Duration::days(2),
            last_seen: Utc::now(),
            where_sighted: "proxy logs".into(),
        })
        .unwrap();
    let green = search::render(&f.store, &v, GREEN_VALUE)
        .unwrap()
        .into_string();
    assert!(
        green.contains("Sightings (1)") && green.contains("proxy logs"),
        "{green}"
    );
    assert!(
        green.contains("vendor") && green.contains("AS64500") && green.contains("France (FR)"),
        "{green}"
    );
    let own = search::render(&f.store, &v, OWN_VALUE)
        .unwrap()
        .into_string();
    assert!(own.contains("TLP:AMBER"));
    let op = operations::detail(&f.store, &v, f.op_id, None)
        .unwrap()
        .into_string();
    assert!(op.contains(GREEN_VALUE));
    assert!(
        op.contains(r#"data-country="FR" data-count="1""#),
        "map shades FR"
    );
    assert!(
        !op.contains(r#"data-country="DE" data-count"#),
        "map must not shade the hidden DE target"
    );
    // Dashboard counts only what the member may see: the green record and its own.
    let dash = dashboard::render(&f.store, &v).unwrap().into_string();
    assert!(dash.contains("<strong>2</strong> source records"), "{dash}");
    // The member's agreement ends in 30 days: amber marker, with words.
    assert!(
        dash.contains("marker-amber") && dash.contains("Expires in"),
        "{dash}"
    );
}

#[test]
fn the_hub_sees_everything_and_the_audit_log() {
    let f = fixture();
    let v = viewer(&f, &f.hub, TokenRole::Admin);
    let search = search::render(&f.store, &v, RED_VALUE)
        .unwrap()
        .into_string();
    assert!(search.contains("TLP:RED"), "{search}");
    let op = operations::detail(&f.store, &v, f.op_id, None)
        .unwrap()
        .into_string();
    assert!(op.contains(r#"data-country="DE" data-count="1""#));
    let audit = audit::render(&f.store, &v, None).unwrap().into_string();
    assert!(audit.contains("Chain verified"), "{audit}");
    let member = viewer(&f, &f.member, TokenRole::Analyst);
    assert!(matches!(
        audit::render(&f.store, &member, None),
        Err(UiError::Forbidden(_))
    ));
    // Another org's agreement reads like a missing one.
    let hub_agreements = f.store.agreements(None).unwrap();
    let foreign = hub_agreements
        .iter()
        .find(|a| a.org_id != f.member.id)
        .unwrap();
    assert!(matches!(
        agreements::detail(&f.store, &member, foreign.id),
        Err(UiError::NotFound(_))
    ));
}

#[test]
fn a_member_moves_only_its_countrys_targets() {
    let f = fixture();
    let v = viewer(&f, &f.member, TokenRole::Analyst);
    let targets = f.store.targets(f.op_id).unwrap();
    let fr = targets.iter().find(|t| t.value == GREEN_VALUE).unwrap();
    let de = targets.iter().find(|t| t.value == RED_VALUE).unwrap();
    let form = |to: &str, ev: &str| -> HashMap<String, String> {
        [
            ("to".to_string(), to.to_string()),
            ("evidence".into(), ev.into()),
        ]
        .into()
    };
    // Not visible: reads like a missing target.
    assert!(matches!(
        operations::move_target(&f.store, &v, f.op_id, de.id, &form("rejected", "x")),
        Err(UiError::NotFound(_))
    ));
    // identified -> reported is the hub's move.
    assert!(matches!(
        operations::move_target(&f.store, &v, f.op_id, fr.id, &form("reported", "sent")),
        Err(UiError::BadRequest(_)) | Err(UiError::Forbidden(_))
    ));
    let hub = viewer(&f, &f.hub, TokenRole::Admin);
    operations::move_target(
        &f.store,
        &hub,
        f.op_id,
        fr.id,
        &form("reported", "report sent"),
    )
    .unwrap();
    assert!(matches!(
        operations::move_target(&f.store, &v, f.op_id, fr.id, &form("taken-down", "")),
        Err(UiError::BadRequest(_))
    ));
    operations::move_target(
        &f.store,
        &v,
        f.op_id,
        fr.id,
        &form("taken-down", "hoster ticket 1"),
    )
    .unwrap();
    let page = operations::detail(&f.store, &v, f.op_id, None)
        .unwrap()
        .into_string();
    assert!(
        page.contains(r#"<strong id="count-actioned">1</strong>"#),
        "{page}"
    );
    // A read token sees no move forms.
    let reader = viewer(&f, &f.hub, TokenRole::Read);
    let page = operations::detail(&f.store, &reader, f.op_id, None)
        .unwrap()
        .into_string();
    assert!(!page.contains("name=\"evidence\""));
}

// ----- over HTTP (the router, without a browser) -----

async fn send(app: &Router, req: Request<Body>) -> (StatusCode, axum::http::HeaderMap, String) {
    let r = app.clone().oneshot(req).await.unwrap();
    let status = r.status();
    let headers = r.headers().clone();
    let body = axum::body::to_bytes(r.into_body(), 1 << 22).await.unwrap();
    (status, headers, String::from_utf8_lossy(&body).into_owned())
}

fn post(path: &str, cookie: &str, body: String) -> Request<Body> {
    Request::post(path)
        .header("cookie", cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(body))
        .unwrap()
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn login_failures_and_success() {
    let f = fixture();
    let ui = Ui::new(f.store.clone(), false);
    let app: Router = router_with(ui.clone());
    // No session: every page sends you to the login form.
    let (st, h, _) = send(&app, Request::get("/").body(Body::empty()).unwrap()).await;
    assert_eq!(st, StatusCode::SEE_OTHER);
    assert_eq!(h["location"], "/login");
    // The form sets the pre-login cookie.
    let (st, h, body) = send(&app, Request::get("/login").body(Body::empty()).unwrap()).await;
    assert_eq!(st, StatusCode::OK);
    let set = h["set-cookie"].to_str().unwrap().to_string();
    let nonce = set
        .split(';')
        .next()
        .unwrap()
        .split_once('=')
        .unwrap()
        .1
        .to_string();
    assert!(body.contains(&nonce) && body.contains("<label for=\"token\">"));
    let cookie = format!("tg_login={nonce}");
    // A wrong token: 401, no session cookie.
    let (st, h, body) = send(
        &app,
        post("/login", &cookie, format!("csrf={nonce}&token=tg_wrong")),
    )
    .await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    assert!(body.contains("not valid"));
    assert!(h
        .get_all("set-cookie")
        .iter()
        .all(|c| !c.to_str().unwrap().starts_with("tg_session=")));
    // A right token without the form's nonce (login CSRF): refused.
    let (st, _, _) = send(
        &app,
        post("/login", "", format!("token={}", enc(&f.member_token))),
    )
    .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    // A revoked token: refused.
    let (st, _, _) = send(
        &app,
        post(
            "/login",
            &cookie,
            format!("csrf={nonce}&token={}", enc(&f.member_token)),
        ),
    )
    .await;
    assert_eq!(st, StatusCode::SEE_OTHER);
    let sessions_before = ui.sessions().len();
    let t = f.store.tokens(Some(f.member.id)).unwrap().remove(0);
    f.store.revoke_token(t.id, None).unwrap();
    let (st, _, _) = send(
        &app,
        post(
            "/login",
            &cookie,
            format!("csrf={nonce}&token={}", enc(&f.member_token)),
        ),
    )
    .await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    assert_eq!(ui.sessions().len(), sessions_before);
}

#[tokio::test]
async fn sessions_cookies_and_csrf() {
    let f = fixture();
    let ui = Ui::new(f.store.clone(), false);
    let app: Router = router_with(ui.clone());
    let (_, h, _) = send(&app, Request::get("/login").body(Body::empty()).unwrap()).await;
    let nonce = h["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .split_once('=')
        .unwrap()
        .1
        .to_string();
    let (st, h, _) = send(
        &app,
        post(
            "/login",
            &format!("tg_login={nonce}"),
            format!("csrf={nonce}&token={}", enc(&f.hub_token)),
        ),
    )
    .await;
    assert_eq!(st, StatusCode::SEE_OTHER);
    let set: Vec<String> = h
        .get_all("set-cookie")
        .iter()
        .map(|c| c.to_str().unwrap().to_string())
        .collect();
    let session = set
        .iter()
        .find(|c| c.starts_with("tg_session="))
        .expect("session cookie");
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age="] {
        assert!(session.contains(flag), "{session} lacks {flag}");
    }
    assert!(
        !session.contains(&f.hub_token),
        "the cookie must not carry the token"
    );
    let sid = session
        .split(';')
        .next()
        .unwrap()
        .split_once('=')
        .unwrap()
        .1
        .to_string();
    let cookie = format!("tg_session={sid}");
    let csrf = ui.sessions().get(&sid).unwrap().csrf;

    let (st, h, body) = send(
        &app,
        Request::get("/")
            .header("cookie", &cookie)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    assert!(h["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("default-src 'none'"));
    assert!(
        body.contains(&csrf),
        "the logout form carries the CSRF token"
    );

    // A move without, or with a wrong, CSRF token is refused and changes nothing.
    let target = f.store.targets(f.op_id).unwrap().remove(0);
    let path = format!("/operations/{}/targets/{}/state", f.op_id, target.id);
    for bad in ["", "csrf=0000&"] {
        let (st, _, body) = send(
            &app,
            post(&path, &cookie, format!("{bad}to=reported&evidence=x")),
        )
        .await;
        assert_eq!(st, StatusCode::FORBIDDEN, "{body}");
        assert!(body.contains("CSRF"));
    }
    // Another session's token does not do either.
    let other = ui.sessions().create(f.hub.id, 1, TokenRole::Admin);
    let (st, _, _) = send(
        &app,
        post(
            &path,
            &cookie,
            format!("csrf={}&to=reported&evidence=x", other.csrf),
        ),
    )
    .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    assert_eq!(
        f.store.target(target.id).unwrap().state,
        crate::ops::TargetState::Identified
    );
    // With the session's token it works.
    let (st, h, _) = send(
        &app,
        post(
            &path,
            &cookie,
            format!("csrf={csrf}&to=reported&evidence=sent"),
        ),
    )
    .await;
    assert_eq!(st, StatusCode::SEE_OTHER);
    assert!(h["location"]
        .to_str()
        .unwrap()
        .starts_with(&format!("/operations/{}", f.op_id)));
    assert_eq!(
        f.store.target(target.id).unwrap().state,
        crate::ops::TargetState::Reported
    );
    // Logout also needs the token, then ends the session.
    let (st, _, _) = send(&app, post("/logout", &cookie, String::new())).await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, _, _) = send(&app, post("/logout", &cookie, format!("csrf={csrf}"))).await;
    assert_eq!(st, StatusCode::SEE_OTHER);
    let (st, h, _) = send(
        &app,
        Request::get("/")
            .header("cookie", &cookie)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(st, StatusCode::SEE_OTHER);
    assert_eq!(h["location"], "/login");
}

#[tokio::test]
async fn revoking_the_token_ends_the_session() {
    let f = fixture();
    let ui = Ui::new(f.store.clone(), false);
    let app: Router = router_with(ui.clone());
    let t = f.store.tokens(Some(f.member.id)).unwrap().remove(0);
    let s = ui.sessions().create(f.member.id, t.id, t.role);
    let cookie = format!("tg_session={}", s.id);
    let (st, _, body) = send(
        &app,
        Request::get("/audit")
            .header("cookie", &cookie)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(
        st,
        StatusCode::FORBIDDEN,
        "analysts do not read the audit log: {body}"
    );
    f.store.revoke_token(t.id, None).unwrap();
    let (st, _, _) = send(
        &app,
        Request::get("/")
            .header("cookie", &cookie)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(st, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn failed_logins_are_limited_per_address() {
    let f = fixture();
    let ui = Ui::new(f.store.clone(), false).with_limiter(Arc::new(AuthLimiter::new(2.0)));
    let app: Router = router_with(ui);
    let from = |body: String| {
        let mut r = post("/login", "tg_login=n1", body);
        r.extensions_mut()
            .insert(axum::extract::ConnectInfo(SocketAddr::from((
                [192, 0, 2, 7],
                4000,
            ))));
        r
    };
    for _ in 0..2 {
        let (st, _, _) = send(&app, from("csrf=n1&token=tg_wrong".into())).await;
        assert_eq!(st, StatusCode::UNAUTHORIZED);
    }
    // The budget is spent: even the right token waits.
    let (st, _, body) = send(&app, from(format!("csrf=n1&token={}", enc(&f.hub_token)))).await;
    assert_eq!(st, StatusCode::TOO_MANY_REQUESTS);
    assert!(body.contains("Too many failed logins"), "{body}");
}
