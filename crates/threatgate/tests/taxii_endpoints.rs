//! TAXII 2.1 end to end against the real `threatgate serve` binary: every endpoint, the
//! filters, pagination to the end, the status codes (401/403/404/406/413/415/429), media
//! types and headers, and isolation between organisations.

#[path = "interop/harness.rs"]
mod harness;

use harness::*;
use serde_json::{json, Value};
use threatgate::model::Tlp;

fn setup() -> (tempfile::TempDir, World, Server, Http) {
    let (dir, w) = sqlite_world();
    let s = Server::sqlite(dir.path());
    (dir, w, s, Http::default())
}

#[test]
fn discovery_api_root_and_collections() {
    let (_d, w, s, http) = setup();
    let d = http.json(&s.url("/taxii2/"), &w.tok_fr);
    let root = format!("{}/taxii2/api/", s.base);
    assert_eq!(d["api_roots"], json!([root]));
    assert_eq!(d["default"], json!(root));
    let r = http.json(&s.url("/taxii2/api/"), &w.tok_fr);
    assert_eq!(r["versions"], json!([TAXII]));
    assert!(r["max_content_length"].as_u64().unwrap() > 1_000_000);
    let cols = http.json(&s.url("/taxii2/api/collections/"), &w.tok_fr);
    let cols = cols["collections"].as_array().unwrap();
    assert_eq!(cols.len(), 2);
    let shared = cols
        .iter()
        .find(|c| c["alias"] == "shared-with-me")
        .unwrap();
    assert_eq!(shared["can_read"], true);
    assert_eq!(shared["can_write"], false);
    // A read token may not write even its own submissions.
    let subs = cols.iter().find(|c| c["alias"] == "submissions").unwrap();
    assert_eq!(subs["can_write"], false);
    let one = http.json(
        &s.url(&format!(
            "/taxii2/api/collections/{}/",
            shared["id"].as_str().unwrap()
        )),
        &w.tok_fr,
    );
    assert_eq!(&one, shared);
    // Collection ids are stable: the same for every org and on every node.
    let cols_de = http.json(&s.url("/taxii2/api/collections/"), &w.tok_de);
    assert_eq!(cols_de["collections"][0]["id"], cols[0]["id"]);
    // The ingest token may write its submissions.
    let cols_v = http.json(&s.url("/taxii2/api/collections/"), &w.tok_vendor_ingest);
    let subs_v = cols_v["collections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["alias"] == "submissions")
        .unwrap()
        .clone();
    assert_eq!(subs_v["can_write"], true);
    // Also without the trailing slash, and by alias.
    http.json(&s.url("/taxii2/api/collections"), &w.tok_fr);
    http.json(&s.url("/taxii2/api/collections/shared-with-me/"), &w.tok_fr);
}

#[test]
fn authentication_and_status_codes() {
    let (_d, w, s, http) = setup();
    let c = &http.client;
    // 401 without a token, with a wrong one, with a revoked-looking one; body is a TAXII error.
    let r = c
        .get(s.url("/taxii2/"))
        .header("Accept", TAXII)
        .send()
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers().contains_key("www-authenticate"));
    assert_eq!(r.headers()["content-type"], TAXII);
    let e: Value = r.json().unwrap();
    assert_eq!(e["http_status"], "401");
    assert!(e["title"].is_string() && e["description"].is_string());
    assert_eq!(http.get(&s.url("/taxii2/"), "tg_wrong").status(), 401);
    // Basic auth with the token as password.
    let r = c
        .get(s.url("/taxii2/"))
        .basic_auth("anyone", Some(&w.tok_fr))
        .header("Accept", TAXII)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    // 406 for an Accept this server does not produce; 2.0 is not 2.1.
    for bad in [
        "text/html",
        "application/taxii+json;version=2.0",
        "application/xml",
    ] {
        let r = c
            .get(s.url("/taxii2/api/collections/"))
            .bearer_auth(&w.tok_fr)
            .header("Accept", bad)
            .send()
            .unwrap();
        assert_eq!(r.status(), 406, "{bad}");
        assert_eq!(r.headers()["content-type"], TAXII);
    }
    // The objects endpoint also answers to the STIX media type and wildcards.
    let objs = collection_url(&http, &s, &w.tok_fr, "shared-with-me") + "objects/";
    for ok in [
        "application/stix+json;version=2.1",
        "*/*",
        "application/taxii+json",
    ] {
        let r = c
            .get(&objs)
            .bearer_auth(&w.tok_fr)
            .header("Accept", ok)
            .send()
            .unwrap();
        assert_eq!(r.status(), 200, "{ok}");
    }
    // 404: unknown collection, unknown object, unknown status.
    assert_eq!(
        http.get(
            &s.url("/taxii2/api/collections/9c1f2b0e-0000-4000-8000-000000000000/"),
            &w.tok_fr
        )
        .status(),
        404
    );
    assert_eq!(
        http.get(
            &format!("{objs}indicator--00000000-0000-4000-8000-000000000000/"),
            &w.tok_fr
        )
        .status(),
        404
    );
    assert_eq!(
        http.get(
            &s.url("/taxii2/api/status/1b2c3d4e-0000-4000-8000-000000000000/"),
            &w.tok_fr
        )
        .status(),
        404
    );
    // 400 for malformed filters.
    for q in [
        "limit=0",
        "limit=abc",
        "added_after=yesterday",
        "match[version]=newest",
        "next=garbage",
    ] {
        assert_eq!(
            http.get(&format!("{objs}?{q}"), &w.tok_fr).status(),
            400,
            "{q}"
        );
    }
}

#[test]
fn writes_need_a_writable_collection_role_and_media_type() {
    let (_d, w, s, http) = setup();
    let env = json!({"objects": [indicator("new-1", "2024-07-01T00:00:00.000Z", "198.51.100.1", Tlp::Green)]});
    let shared_v = collection_url(&http, &s, &w.tok_vendor_ingest, "shared-with-me");
    let subs_v = collection_url(&http, &s, &w.tok_vendor_ingest, "submissions");
    // 403: shared-with-me is read-only; a read token may not write.
    let r = http.post(&format!("{shared_v}objects/"), &w.tok_vendor_ingest, &env);
    assert_eq!(r.status(), 403);
    assert_eq!(r.headers()["content-type"], TAXII);
    assert_eq!(
        http.post(&format!("{subs_v}objects/"), &w.tok_vendor_read, &env)
            .status(),
        403
    );
    // 415 for a body that is not a TAXII envelope media type.
    for ct in [
        "application/json",
        "application/taxii+json;version=2.0",
        "text/plain",
    ] {
        let r = http
            .client
            .post(format!("{subs_v}objects/"))
            .bearer_auth(&w.tok_vendor_ingest)
            .header("Accept", TAXII)
            .header("Content-Type", ct)
            .body(env.to_string())
            .send()
            .unwrap();
        assert_eq!(r.status(), 415, "{ct}");
    }
    // 400 for nesting past the limit, 413 for a body past the limit.
    let deep = format!("{{\"objects\": [{}1{}]}}", "[".repeat(200), "]".repeat(200));
    let r = http
        .client
        .post(format!("{subs_v}objects/"))
        .bearer_auth(&w.tok_vendor_ingest)
        .header("Content-Type", TAXII)
        .body(deep)
        .send()
        .unwrap();
    assert_eq!(r.status(), 400);
    let huge = vec![b' '; threatgate::server::limits::MAX_BODY_BYTES + 10];
    let r = http
        .client
        .post(format!("{subs_v}objects/"))
        .bearer_auth(&w.tok_vendor_ingest)
        .header("Content-Type", TAXII)
        .body(huge)
        .send();
    if let Ok(r) = r {
        assert_eq!(r.status(), 413);
    }
    // 202 with a status: one good object and one bad.
    let env = json!({"objects": [
        indicator("new-1", "2024-07-01T00:00:00.000Z", "198.51.100.1", Tlp::Green),
        {"type": "indicator", "id": "indicator--not-a-uuid", "spec_version": "2.1"},
    ]});
    let r = http.post(&format!("{subs_v}objects/"), &w.tok_vendor_ingest, &env);
    assert_eq!(r.status(), 202);
    assert_eq!(r.headers()["content-type"], TAXII);
    let st: Value = r.json().unwrap();
    assert_eq!(st["status"], "complete");
    assert_eq!(st["total_count"], 2);
    assert_eq!(st["success_count"], 1);
    assert_eq!(st["failure_count"], 1);
    assert_eq!(st["pending_count"], 0);
    assert!(st["failures"][0]["message"]
        .as_str()
        .unwrap()
        .contains("/objects/1"));
    // The status resource is there for its org, and only for it.
    let surl = s.url(&format!(
        "/taxii2/api/status/{}/",
        st["id"].as_str().unwrap()
    ));
    assert_eq!(http.json(&surl, &w.tok_vendor_read), st);
    assert_eq!(http.get(&surl, &w.tok_fr).status(), 404);
    // The new object is readable from submissions and, being GREEN, by FR.
    let id = env["objects"][0]["id"].as_str().unwrap();
    http.json(&format!("{subs_v}objects/{id}/"), &w.tok_vendor_read);
    let shared_fr = collection_url(&http, &s, &w.tok_fr, "shared-with-me");
    http.json(&format!("{shared_fr}objects/{id}/"), &w.tok_fr);
    // An org without an agreement: every object fails with the policy's reason.
    let subs_x = collection_url(&http, &s, &w.tok_stranger, "submissions");
    let r = http.post(&format!("{subs_x}objects/"), &w.tok_stranger, &json!({"objects": [indicator("x", "2024-07-01T00:00:00.000Z", "203.0.113.9", Tlp::Green)]}));
    assert_eq!(r.status(), 202);
    let st: Value = r.json().unwrap();
    assert_eq!(st["failure_count"], 1);
    assert_eq!(st["success_count"], 0);
    assert!(
        st["failures"][0]["message"]
            .as_str()
            .unwrap()
            .contains("no agreement"),
        "{st}"
    );
}

#[test]
fn filters_versions_and_headers() {
    let (_d, w, s, http) = setup();
    let url = collection_url(&http, &s, &w.tok_vendor_read, "submissions");
    let objs = format!("{url}objects/");
    // Default: latest versions only, everything the vendor submitted.
    let all = http.json(&format!("{objs}?limit=1000"), &w.tok_vendor_read);
    assert_eq!(ids_of(&all).len(), 5 * PER_TLP + 2);
    assert_eq!(all["more"], false);
    let vid = &w.versioned_id;
    let v = |q: &str| -> Vec<String> {
        let e = http.json(&format!("{objs}?match[id]={vid}&{q}"), &w.tok_vendor_read);
        e["objects"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["modified"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(v(""), vec![w.versions[2].clone()]);
    assert_eq!(v("match[version]=last"), vec![w.versions[2].clone()]);
    assert_eq!(v("match[version]=first"), vec![w.versions[0].clone()]);
    assert_eq!(v("match[version]=all"), w.versions);
    assert_eq!(
        v(&format!("match[version]={}", w.versions[1])),
        vec![w.versions[1].clone()]
    );
    assert_eq!(
        v(&format!("match[version]=first,{}", w.versions[1])),
        vec![w.versions[0].clone(), w.versions[1].clone()]
    );
    // match[type], match[id] lists, match[spec_version].
    let m = http.json(&format!("{objs}?match[type]=malware"), &w.tok_vendor_read);
    assert_eq!(ids_of(&m).len(), 1);
    let two = format!("{},{}", w.ids(Tlp::Green)[0], w.ids(Tlp::Clear)[3]);
    assert_eq!(
        ids_of(&http.json(&format!("{objs}?match[id]={two}"), &w.tok_vendor_read)).len(),
        2
    );
    assert_eq!(
        ids_of(&http.json(
            &format!("{objs}?match[spec_version]=2.1&limit=1000"),
            &w.tok_vendor_read
        ))
        .len(),
        52
    );
    assert!(ids_of(&http.json(
        &format!("{objs}?match[spec_version]=2.0"),
        &w.tok_vendor_read
    ))
    .is_empty());
    assert!(
        ids_of(&http.json(
            &format!("{objs}?match[type]=indicator,malware&limit=1000"),
            &w.tok_vendor_read
        ))
        .len()
            == 52
    );
    // Headers and added_after: everything after the first page's last date is the rest.
    let r = http.get(&format!("{objs}?limit=10"), &w.tok_vendor_read);
    let first = r.headers()["x-taxii-date-added-first"]
        .to_str()
        .unwrap()
        .to_string();
    let last = r.headers()["x-taxii-date-added-last"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(first <= last);
    let page: Value = r.json().unwrap();
    assert_eq!(page["more"], true);
    let rest = http.json(
        &format!("{objs}?limit=1000&added_after={last}"),
        &w.tok_vendor_read,
    );
    assert_eq!(ids_of(&rest).len(), 52 - 10);
    assert!(ids_of(&rest).iter().all(|i| !ids_of(&page).contains(i)));
    // Manifest: one entry per object with date_added, version and media type.
    let man = http.json(&format!("{url}manifest/?limit=1000"), &w.tok_vendor_read);
    let entries = man["objects"].as_array().unwrap();
    assert_eq!(entries.len(), 52);
    let e = entries.iter().find(|e| e["id"] == json!(vid)).unwrap();
    assert_eq!(e["version"], json!(w.versions[2]));
    assert_eq!(e["media_type"], "application/stix+json;version=2.1");
    let man_all = http.json(
        &format!("{url}manifest/?match[id]={vid}&match[version]=all"),
        &w.tok_vendor_read,
    );
    assert_eq!(man_all["objects"].as_array().unwrap().len(), 3);
    // Versions endpoint: all versions, oldest first.
    let vs = http.json(&format!("{objs}{vid}/versions/"), &w.tok_vendor_read);
    assert_eq!(vs["versions"], json!(w.versions));
    assert_eq!(vs["more"], false);
    let vs1 = http.json(
        &format!("{objs}{vid}/versions/?limit=2"),
        &w.tok_vendor_read,
    );
    assert_eq!(vs1["versions"].as_array().unwrap().len(), 2);
    assert_eq!(vs1["more"], true);
    // One object: latest by default, all versions on request, custom properties kept.
    let one = http.json(&format!("{objs}{vid}/"), &w.tok_vendor_read);
    assert_eq!(one["objects"].as_array().unwrap().len(), 1);
    assert_eq!(
        one["objects"][0]["x_threatgate_test"],
        json!({"custom": [1, 2, 3]})
    );
    let all_v = http.json(
        &format!("{objs}{vid}/?match[version]=all"),
        &w.tok_vendor_read,
    );
    assert_eq!(all_v["objects"].as_array().unwrap().len(), 3);
}

#[test]
fn pagination_to_the_end() {
    let (_d, w, s, http) = setup();
    let url = collection_url(&http, &s, &w.tok_vendor_read, "submissions") + "objects/";
    let (full, pages) = all_pages(&http, &url, &w.tok_vendor_read, "limit=1000");
    assert_eq!(pages, 1);
    for limit in [1, 7, 10, 51, 52] {
        let (ids, pages) = all_pages(&http, &url, &w.tok_vendor_read, &format!("limit={limit}"));
        assert_eq!(ids, full, "limit {limit}");
        assert_eq!(pages, full.len().div_ceil(limit), "limit {limit}");
    }
    // Manifest and versions paginate too.
    let man = collection_url(&http, &s, &w.tok_vendor_read, "submissions") + "manifest/";
    let mut next: Option<String> = None;
    let mut n = 0;
    loop {
        let u = match &next {
            Some(nx) => format!("{man}?limit=5&next={nx}"),
            None => format!("{man}?limit=5"),
        };
        let v = http.json(&u, &w.tok_vendor_read);
        n += v["objects"].as_array().map(|a| a.len()).unwrap_or(0);
        if v["more"] != true {
            break;
        }
        next = Some(v["next"].as_str().unwrap().to_string());
    }
    assert_eq!(n, full.len());
    // A page larger than the maximum is cut to it, with `more` telling the rest exists.
    let v = http.json(&format!("{url}?limit=100000"), &w.tok_vendor_read);
    assert_eq!(v["more"], false);
}

#[test]
fn one_object_delete_only_own() {
    let (_d, w, s, http) = setup();
    let subs = collection_url(&http, &s, &w.tok_vendor_ingest, "submissions");
    let vid = w.versioned_id.clone();
    // Delete one version, then the rest.
    let r = http
        .client
        .delete(format!(
            "{subs}objects/{vid}/?match[version]={}",
            w.versions[0]
        ))
        .bearer_auth(&w.tok_vendor_ingest)
        .header("Accept", TAXII)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let vs = http.json(
        &format!("{subs}objects/{vid}/versions/"),
        &w.tok_vendor_ingest,
    );
    assert_eq!(vs["versions"], json!(w.versions[1..]));
    let r = http
        .client
        .delete(format!("{subs}objects/{vid}/?match[version]=all"))
        .bearer_auth(&w.tok_vendor_ingest)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        http.get(&format!("{subs}objects/{vid}/"), &w.tok_vendor_ingest)
            .status(),
        404
    );
    // FR cannot delete the vendor's objects: read token 403; not in its submissions 404.
    let subs_fr = collection_url(&http, &s, &w.tok_fr, "submissions");
    let green = &w.ids(Tlp::Green)[0];
    let r = http
        .client
        .delete(format!("{subs_fr}objects/{green}/"))
        .bearer_auth(&w.tok_fr)
        .send()
        .unwrap();
    assert_eq!(r.status(), 403);
    let subs_de = collection_url(&http, &s, &w.tok_de, "submissions");
    let r = http
        .client
        .delete(format!("{subs_de}objects/{green}/"))
        .bearer_auth(&w.tok_de)
        .send()
        .unwrap();
    assert_eq!(r.status(), 404);
    let shared_de = collection_url(&http, &s, &w.tok_de, "shared-with-me");
    let r = http
        .client
        .delete(format!("{shared_de}objects/{green}/"))
        .bearer_auth(&w.tok_de)
        .send()
        .unwrap();
    assert_eq!(r.status(), 403);
    http.json(&format!("{shared_de}objects/{green}/"), &w.tok_de);
}

/// What each org must see in "shared-with-me", by TLP (policy: Channel::Bulk).
#[test]
fn isolation_through_every_endpoint() {
    let (_d, w, s, http) = setup();
    let forbidden_for = |tok: &str| -> Vec<String> {
        if tok == w.tok_fr {
            // FR (ceiling RED): RED never in bulk; AMBER and AMBER+STRICT only if shared.
            let mut v = w.ids(Tlp::Red);
            v.extend(w.ids(Tlp::AmberStrict));
            v.extend(
                w.ids(Tlp::Amber)
                    .into_iter()
                    .filter(|i| *i != w.shared_amber_id),
            );
            v
        } else {
            let mut v = w.ids(Tlp::Red);
            v.extend(w.ids(Tlp::AmberStrict));
            v.extend(w.ids(Tlp::Amber));
            v
        }
    };
    for (tok, expect) in [(&w.tok_fr, 23usize), (&w.tok_de, 22), (&w.tok_stranger, 0)] {
        let bad = forbidden_for(tok);
        for alias in ["shared-with-me", "submissions"] {
            let url = collection_url(&http, &s, tok, alias);
            if *tok == w.tok_stranger && alias == "shared-with-me" {
                // No receive agreement: the collection is listed as unreadable and refused.
                for path in [
                    "objects/",
                    "manifest/",
                    &format!("objects/{}/", w.ids(Tlp::Green)[0]),
                ] {
                    assert_eq!(
                        http.get(&format!("{url}{path}"), tok).status(),
                        403,
                        "{path}"
                    );
                }
                continue;
            }
            let (ids, _) = all_pages(
                &http,
                &format!("{url}objects/"),
                tok,
                "limit=3&match[version]=all",
            );
            if alias == "shared-with-me" {
                let uniq: std::collections::BTreeSet<&String> = ids.iter().collect();
                assert_eq!(uniq.len(), expect, "{alias}");
            } else {
                assert!(ids.is_empty(), "{alias}: members submitted nothing");
            }
            assert!(ids.iter().all(|i| !bad.contains(i)), "{alias} leaked");
            let man = http.json(
                &format!("{url}manifest/?limit=1000&match[version]=all"),
                tok,
            );
            let mids: Vec<String> = man["objects"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|e| e["id"].as_str().unwrap().to_string())
                        .collect()
                })
                .unwrap_or_default();
            assert!(
                mids.iter().all(|i| !bad.contains(i)),
                "{alias} manifest leaked"
            );
            for id in &bad {
                for path in [
                    format!("objects/{id}/"),
                    format!("objects/{id}/versions/"),
                    format!("objects/{id}/?match[version]=all"),
                ] {
                    let r = http.get(&format!("{url}{path}"), tok);
                    assert_eq!(r.status(), 404, "{alias} {path}");
                }
                let m = http.json(
                    &format!("{url}objects/?match[id]={id}&match[version]=all"),
                    tok,
                );
                assert!(ids_of(&m).is_empty());
                let m = http.json(&format!("{url}manifest/?match[id]={id}"), tok);
                assert!(m.get("objects").is_none());
            }
        }
    }
    // The vendor sees its own objects at every TLP, RED included.
    let url = collection_url(&http, &s, &w.tok_vendor_read, "shared-with-me");
    let (ids, _) = all_pages(
        &http,
        &format!("{url}objects/"),
        &w.tok_vendor_read,
        "limit=1000",
    );
    assert!(w.ids(Tlp::Red).iter().all(|i| ids.contains(i)));
    // The hub sees all but RED in bulk.
    let url = collection_url(&http, &s, &w.tok_admin, "shared-with-me");
    let (ids, _) = all_pages(&http, &format!("{url}objects/"), &w.tok_admin, "limit=1000");
    assert_eq!(ids.len(), 4 * PER_TLP + 2);
    assert!(w.ids(Tlp::Red).iter().all(|i| !ids.contains(i)));
}

#[test]
fn failed_authentications_are_rate_limited_and_metrics_count() {
    let (_d, w, s, http) = setup();
    let mut limited = false;
    for _ in 0..40 {
        let r = http.get(&s.url("/taxii2/"), "tg_guess");
        if r.status() == 429 {
            assert!(r.headers().contains_key("retry-after"));
            limited = true;
            break;
        }
        assert_eq!(r.status(), 401);
    }
    assert!(limited, "40 failures in a row were never limited");
    // Even a good token waits while the bucket is empty (no oracle for guessing).
    assert_eq!(http.get(&s.url("/taxii2/"), &w.tok_fr).status(), 429);
    let m = http.metrics(&s);
    assert!(
        m.contains(
            "threatgate_http_requests_total{method=\"GET\",route=\"/taxii2/\",status=\"401\"}"
        ),
        "{m}"
    );
    assert!(m.contains("threatgate_http_request_duration_seconds_bucket"));
    assert!(!m.contains(&w.tok_fr) && !m.contains("tg_guess"));
}

/// A page read again comes from the page cache, which keeps it compressed: the same bytes
/// and date headers as the first answer, counted as a hit in `/metrics`.
#[test]
fn a_page_read_again_comes_back_identical_from_the_compressed_cache() {
    let (_d, w, s, http) = setup();
    let url = collection_url(&http, &s, &w.tok_fr, "shared-with-me") + "objects/?limit=3";
    let answer = || {
        let r = http.get(&url, &w.tok_fr);
        assert_eq!(r.status(), 200);
        let h = r.headers().clone();
        let dates = ["x-taxii-date-added-first", "x-taxii-date-added-last"]
            .map(|n| h[n].to_str().unwrap().to_string());
        (r.bytes().unwrap(), dates)
    };
    let metric = |name: &str| -> u64 {
        let m = http.metrics(&s);
        m.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("{name} missing from {m}"))
    };
    let first = answer();
    assert_eq!(metric("threatgate_taxii_page_cache_hits_total"), 0);
    assert_eq!(metric("threatgate_taxii_page_cache_pages"), 1);
    let again = answer();
    assert_eq!(metric("threatgate_taxii_page_cache_hits_total"), 1);
    assert_eq!(again, first);
    let page: Value = serde_json::from_slice(&again.0).unwrap();
    assert_eq!(page["objects"].as_array().unwrap().len(), 3);
    assert!(
        metric("threatgate_taxii_page_cache_body_bytes") >= again.0.len() as u64,
        "the raw size of what is held is counted"
    );
}

/// SQLite lends page JSON without a per-row UTF-8 check; the renderer checks the whole
/// page once. A row whose bytes are not UTF-8 (written behind the store's back) must
/// fail the page as a server error, never reach a client, and leave the server serving.
#[test]
fn a_stored_object_that_is_not_utf8_fails_its_page_and_nothing_else() {
    let (dir, w, s, http) = setup();
    let url = collection_url(&http, &s, &w.tok_fr, "shared-with-me") + "objects/";
    let db = rusqlite::Connection::open(dir.path().join(threatgate::store::SQLITE_FILE)).unwrap();
    let changed = db
        .execute(
            "UPDATE objects SET json = CAST(replace(json, '\"type\"', \
             '\"ty' || CAST(X'FF' AS TEXT) || 'pe\"') AS TEXT)",
            [],
        )
        .unwrap();
    assert!(changed > 0, "the world holds objects to corrupt");
    drop(db);
    let r = http.get(&url, &w.tok_fr);
    assert_eq!(r.status(), 500);
    let body: Value = serde_json::from_slice(&r.bytes().unwrap()).unwrap();
    assert_eq!(body["http_status"], "500", "a TAXII error body: {body}");
    assert!(
        body.get("objects").is_none(),
        "no object reaches the client: {body}"
    );
    // The server still answers what does not touch those rows.
    assert_eq!(http.get(&s.url("/taxii2/"), &w.tok_fr).status(), 200);
}
