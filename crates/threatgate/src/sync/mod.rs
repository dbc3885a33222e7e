//! Federation with any TAXII 2.1 server, including another threatgate.
//!
//! - [`pull`]: read a remote collection incrementally (`added_after` plus `more`/`next`
//!   pagination) and ingest it as a local organisation, so that organisation's agreement
//!   is enforced exactly as for a file it submitted. The cursor (the `date_added` of the
//!   last page stored) is saved after each page, so an interrupted pull resumes where it
//!   stopped: no gap, and no duplicate (storing an object version twice is a no-op).
//! - [`push`]: send what the policy lets a local organisation release through
//!   [`Channel::Federation`] (never TLP:AMBER+STRICT or TLP:RED) to a remote collection,
//!   batch by batch, polling each status resource until it completes.
//!
//! The HTTP client is reqwest (blocking, rustls). The token is sent as a Bearer header and
//! never printed.

use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use chrono::Utc;
use reqwest::blocking::{Client, Response};
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use serde_json::{json, Value};

use crate::lookup::scope_for;
use crate::model::{format_time, Org};
use crate::policy::Channel;
use crate::store::{CollectionQuery, ObjectQuery, Store, VersionSelect};

/// The TAXII 2.1 media type.
pub const TAXII_MEDIA: &str = "application/taxii+json;version=2.1";
/// Objects asked for per page when pulling.
pub const PULL_PAGE: usize = 1_000;
/// Objects per envelope when pushing.
pub const PUSH_BATCH: usize = 500;
/// How long one HTTP request may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);
/// How long to wait for a pushed envelope's status to complete.
pub const STATUS_TIMEOUT: Duration = Duration::from_secs(300);
/// Pause between status polls.
pub const STATUS_POLL: Duration = Duration::from_millis(500);
/// Pages fetched by [`fetch_collection_objects`] at most (a runaway server stops here).
pub const MAX_FETCH_PAGES: usize = 100_000;

/// A remote TAXII collection.
pub struct Remote {
    client: Client,
    token: Option<String>,
    /// The collection's URL, ending with '/'.
    pub url: String,
}

/// One page of a remote read.
#[derive(Debug, Clone)]
pub struct Page {
    pub objects: Vec<Value>,
    pub more: bool,
    pub next: Option<String>,
    /// X-TAXII-Date-Added-Last, when the server sent it.
    pub date_added_last: Option<String>,
}

fn client() -> Result<Client> {
    Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .user_agent(concat!("threatgate/", env!("CARGO_PKG_VERSION")))
        .build()
        .context("building the HTTP client")
}

fn with_slash(s: &str) -> String {
    if s.ends_with('/') {
        s.to_string()
    } else {
        format!("{s}/")
    }
}

/// Turn an HTTP error answer into a message naming the URL, status and the server's words.
fn check(resp: Response, what: &str) -> Result<Response> {
    let status = resp.status();
    if status.is_success() {
        return Ok(resp);
    }
    let url = resp.url().to_string();
    let body = resp.text().unwrap_or_default();
    let detail = serde_json::from_str::<Value>(&body)
        .ok()
        .and_then(|v| {
            let t = v.get("title")?.as_str()?.to_string();
            let d = v.get("description").and_then(Value::as_str).unwrap_or("");
            Some(format!("{t}: {d}"))
        })
        .unwrap_or_else(|| body.chars().take(300).collect());
    let hint = match status.as_u16() {
        401 => " (check --token)",
        403 => " (the token's role or the collection does not allow this)",
        404 => " (check --url and --collection)",
        _ => "",
    };
    bail!("{what}: {url} answered {status}{hint}: {detail}")
}

impl Remote {
    /// Resolve `collection` (an id, alias or title) under the server at `url` (a discovery
    /// URL, an API root, or a collection URL when `collection` is empty).
    pub fn connect(url: &str, collection: &str, token: Option<&str>) -> Result<Remote> {
        let mut r = Remote {
            client: client()?,
            token: token.map(str::to_string),
            url: with_slash(url),
        };
        if collection.is_empty() {
            return Ok(r);
        }
        let mut root = r.url.clone();
        // A discovery URL names API roots; take the default (or the first). An API root
        // answers with its own information instead.
        let d = r.get_json(&root, &[])?;
        if d.get("api_roots").is_some() {
            let chosen = d
                .get("default")
                .and_then(Value::as_str)
                .or_else(|| d["api_roots"].get(0).and_then(Value::as_str))
                .ok_or_else(|| anyhow!("{root} lists no API root"))?;
            root = with_slash(
                reqwest::Url::parse(&root)?
                    .join(chosen)
                    .context("API root URL")?
                    .as_ref(),
            );
        }
        let list = r.get_json(&format!("{root}collections/"), &[])?;
        let cols = list
            .get("collections")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let found = cols.iter().find(|c| {
            ["id", "alias", "title"]
                .iter()
                .any(|k| c.get(*k).and_then(Value::as_str) == Some(collection))
        });
        let Some(c) = found else {
            let names: Vec<String> = cols
                .iter()
                .map(|c| {
                    format!(
                        "{} ({})",
                        c["id"].as_str().unwrap_or("?"),
                        c.get("alias")
                            .or_else(|| c.get("title"))
                            .and_then(Value::as_str)
                            .unwrap_or("")
                    )
                })
                .collect();
            bail!(
                "collection {collection:?} not found at {root}; this token sees: {}",
                if names.is_empty() {
                    "none".into()
                } else {
                    names.join(", ")
                }
            );
        };
        r.url = format!(
            "{root}collections/{}/",
            c["id"]
                .as_str()
                .ok_or_else(|| anyhow!("collection without id"))?
        );
        Ok(r)
    }

    fn auth(&self, rb: reqwest::blocking::RequestBuilder) -> reqwest::blocking::RequestBuilder {
        match &self.token {
            Some(t) => rb.bearer_auth(t),
            None => rb,
        }
    }

    fn get_json(&self, url: &str, query: &[(&str, String)]) -> Result<Value> {
        let resp = self
            .auth(
                self.client
                    .get(url)
                    .header(ACCEPT, TAXII_MEDIA)
                    .query(query),
            )
            .send()
            .with_context(|| format!("GET {url}"))?;
        let resp = check(resp, "GET")?;
        resp.json()
            .with_context(|| format!("GET {url}: the answer is not JSON"))
    }

    /// One page of objects (all versions, so that nothing is skipped).
    pub fn objects_page(
        &self,
        added_after: Option<&str>,
        next: Option<&str>,
        limit: usize,
    ) -> Result<Page> {
        let url = format!("{}objects/", self.url);
        let mut q: Vec<(&str, String)> = vec![
            ("limit", limit.to_string()),
            ("match[version]", "all".into()),
        ];
        if let Some(a) = added_after {
            q.push(("added_after", a.to_string()));
        }
        if let Some(n) = next {
            q.push(("next", n.to_string()));
        }
        let resp = self
            .auth(self.client.get(&url).header(ACCEPT, TAXII_MEDIA).query(&q))
            .send()
            .with_context(|| format!("GET {url}"))?;
        let resp = check(resp, "reading objects")?;
        let last = resp
            .headers()
            .get("x-taxii-date-added-last")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let v: Value = resp
            .json()
            .with_context(|| format!("GET {url}: the answer is not a TAXII envelope"))?;
        Ok(Page {
            objects: v
                .get("objects")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default(),
            more: v.get("more").and_then(Value::as_bool).unwrap_or(false),
            next: v.get("next").and_then(Value::as_str).map(str::to_string),
            date_added_last: last,
        })
    }

    /// POST an envelope; returns the status resource.
    pub fn add_objects(&self, objects: &[Value]) -> Result<Value> {
        let url = format!("{}objects/", self.url);
        let body = serde_json::to_vec(&json!({ "objects": objects }))?;
        let resp = self
            .auth(
                self.client
                    .post(&url)
                    .header(ACCEPT, TAXII_MEDIA)
                    .header(CONTENT_TYPE, TAXII_MEDIA)
                    .body(body),
            )
            .send()
            .with_context(|| format!("POST {url}"))?;
        let resp = check(resp, "adding objects")?;
        resp.json()
            .with_context(|| format!("POST {url}: the answer is not a status resource"))
    }

    /// Poll a status resource until it is complete (or [`STATUS_TIMEOUT`] passes).
    pub fn wait_status(&self, status: Value) -> Result<Value> {
        let started = Instant::now();
        let mut s = status;
        while s.get("status").and_then(Value::as_str) != Some("complete") {
            if started.elapsed() > STATUS_TIMEOUT {
                bail!(
                    "status {} still pending after {:?}",
                    s["id"],
                    STATUS_TIMEOUT
                );
            }
            std::thread::sleep(STATUS_POLL);
            let id = s["id"].as_str().unwrap_or_default().to_string();
            let status_url = reqwest::Url::parse(&self.url)?
                .join(&format!("../../status/{id}/"))?
                .to_string();
            s = self.get_json(&status_url, &[])?;
        }
        Ok(s)
    }
}

/// Every object of a remote collection (`url` is the collection's URL), following the
/// pagination to the end. Used by `threatgate match --indicators https://…`.
pub fn fetch_collection_objects(url: &str, token: Option<&str>) -> Result<Vec<Value>> {
    let r = Remote::connect(url, "", token)?;
    let mut out = vec![];
    let mut next: Option<String> = None;
    let mut added_after: Option<String> = None;
    for _ in 0..MAX_FETCH_PAGES {
        let p = r.objects_page(added_after.as_deref(), next.as_deref(), PULL_PAGE)?;
        let n = p.objects.len();
        out.extend(p.objects);
        if !p.more || n == 0 {
            return Ok(out);
        }
        match p.next {
            Some(nx) => next = Some(nx),
            None => {
                next = None;
                added_after = p.date_added_last;
                if added_after.is_none() {
                    bail!("{url} says there is more but gives neither `next` nor X-TAXII-Date-Added-Last");
                }
            }
        }
    }
    bail!("{url}: stopped after {MAX_FETCH_PAGES} pages")
}

/// The hub's sightings route, under a base URL (`https://hub.example`).
pub const SIGHTINGS_PATH: &str = "/api/v1/sightings";
/// Sightings per request (the hub accepts up to 10,000).
pub const SIGHTINGS_BATCH: usize = 5_000;

/// POST a bundle of STIX sightings to the hub at `base` (its base URL, or the full
/// [`SIGHTINGS_PATH`] URL); returns `(stored, ignored)` summed over the batches.
pub fn post_sightings(base: &str, token: Option<&str>, bundle: &Value) -> Result<(u64, u64)> {
    let url = if base.trim_end_matches('/').ends_with(SIGHTINGS_PATH) {
        base.trim_end_matches('/').to_string()
    } else {
        format!("{}{SIGHTINGS_PATH}", base.trim_end_matches('/'))
    };
    let client = client()?;
    let objects = bundle
        .get("objects")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let (mut stored, mut ignored) = (0, 0);
    for chunk in objects.chunks(SIGHTINGS_BATCH) {
        let mut rb = client
            .post(&url)
            .json(&json!({"type": "bundle", "objects": chunk}));
        if let Some(t) = token {
            rb = rb.bearer_auth(t);
        }
        let resp = rb.send().with_context(|| format!("POST {url}"))?;
        let r: Value = check(resp, "reporting sightings")?
            .json()
            .with_context(|| format!("POST {url}: the answer is not JSON"))?;
        stored += r.get("stored").and_then(Value::as_u64).unwrap_or(0);
        ignored += r.get("ignored").and_then(Value::as_u64).unwrap_or(0);
    }
    Ok((stored, ignored))
}

/// What a pull or push did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct SyncReport {
    pub pages: usize,
    pub objects: usize,
    pub stored: usize,
    pub failed: usize,
    /// First few failure reasons, for the summary.
    pub reasons: Vec<String>,
    pub cursor: Option<String>,
}

/// Maximum failure reasons kept in a [`SyncReport`].
const MAX_REASONS: usize = 10;

impl SyncReport {
    /// A report for the link `key`, starting from its saved cursor: how pull and push both
    /// pick up where the last run stopped.
    fn resume(store: &Store, key: &str) -> Result<SyncReport> {
        Ok(SyncReport {
            cursor: store.sync_cursor(key)?,
            ..Default::default()
        })
    }

    /// Keep a failure reason (made only if there is room) among the first [`MAX_REASONS`].
    fn keep_reason(&mut self, why: impl FnOnce() -> String) {
        if self.reasons.len() < MAX_REASONS {
            self.reasons.push(why());
        }
    }
}

/// How much one run does.
#[derive(Debug, Clone)]
pub struct RunLimits {
    /// Objects per page (pull) or per envelope (push).
    pub page_size: usize,
    /// Stop after this many pages; the next run continues from the saved cursor.
    pub max_pages: Option<usize>,
}

impl RunLimits {
    pub fn pull() -> RunLimits {
        RunLimits {
            page_size: PULL_PAGE,
            max_pages: None,
        }
    }
    pub fn push() -> RunLimits {
        RunLimits {
            page_size: PUSH_BATCH,
            max_pages: None,
        }
    }
    fn done(&self, pages: usize) -> bool {
        self.max_pages.is_some_and(|m| pages >= m)
    }
}

/// The sync_state key of a link: direction, remote collection, local org, and which
/// remote credential (a hash prefix of the token, never the token): another credential
/// is another organisation at the remote end, with its own progress.
fn link_key(direction: &str, remote: &Remote, org: &Org) -> String {
    let who = remote
        .token
        .as_deref()
        .map(|t| crate::auth::hash_secret(t)[..16].to_string())
        .unwrap_or_else(|| "anonymous".into());
    format!("{direction} {} as {} with {who}", remote.url, org.name)
}

/// Store objects as `org` through the ingest path; returns (stored, failed reasons).
fn ingest_as(store: &Store, org: &Org, name: &str, objects: Vec<Value>) -> (usize, Vec<String>) {
    match crate::server::taxii::submit::ingest_envelope(store, org, name, objects.clone()) {
        Ok(outcomes) => {
            let failed: Vec<String> = outcomes.iter().flatten().cloned().collect();
            (outcomes.len() - failed.len(), failed)
        }
        Err(why) => (0, vec![why; objects.len()]),
    }
}

/// Pull the remote collection into the store as `org`, from the saved cursor on.
/// A page the policy refuses whole (no agreement in force, types out of scope) stops the
/// pull with the refusal, the cursor left before that page.
pub fn pull(
    store: &Store,
    remote: &Remote,
    org: &Org,
    limits: &RunLimits,
    progress: &dyn Fn(&SyncReport),
) -> Result<SyncReport> {
    let key = link_key("pull", remote, org);
    let mut rep = SyncReport::resume(store, &key)?;
    let mut next: Option<String> = None;
    // `added_after` stays fixed while following `next` (servers may tie `next` to the
    // original query); the saved cursor moves with every stored page.
    let mut start = rep.cursor.clone();
    loop {
        let p = remote.objects_page(start.as_deref(), next.as_deref(), limits.page_size)?;
        rep.pages += 1;
        rep.objects += p.objects.len();
        if !p.objects.is_empty() {
            let n = p.objects.len();
            let (stored, failed) =
                ingest_as(store, org, &format!("taxii-pull:{}", remote.url), p.objects);
            rep.stored += stored;
            rep.failed += failed.len();
            if failed.len() == n && stored == 0 {
                if let Some(why) = failed.first() {
                    bail!("{}: nothing of this page was stored: {why}", remote.url);
                }
            }
            for f in failed {
                rep.keep_reason(|| f);
            }
            if let Some(last) = &p.date_added_last {
                store.set_sync_cursor(&key, "pull", &remote.url, org.id, last)?;
                rep.cursor = Some(last.clone());
            }
        }
        progress(&rep);
        if !p.more || limits.done(rep.pages) {
            break;
        }
        match p.next {
            Some(n) => next = Some(n),
            None => {
                if p.date_added_last.is_none() {
                    bail!(
                        "{} says there is more but gives neither `next` nor X-TAXII-Date-Added-Last",
                        remote.url
                    );
                }
                next = None;
                start = rep.cursor.clone();
            }
        }
    }
    Ok(rep)
}

/// Push what `org` may release through [`Channel::Federation`] to the remote collection,
/// from the saved cursor on.
pub fn push(
    store: &Store,
    remote: &Remote,
    org: &Org,
    limits: &RunLimits,
    progress: &dyn Fn(&SyncReport),
) -> Result<SyncReport> {
    let key = link_key("push", remote, org);
    let mut rep = SyncReport::resume(store, &key)?;
    loop {
        // The scope is taken per batch: an agreement that ends mid-push ends the push.
        let scope = scope_for(store, org, Utc::now(), Channel::Federation)?;
        let after = rep.cursor.as_deref().and_then(decode_push_cursor);
        let page = store.collection_page(
            &scope,
            &CollectionQuery {
                base: ObjectQuery {
                    after,
                    limit: limits.page_size,
                    ..Default::default()
                },
                versions: VersionSelect::every(),
                ..Default::default()
            },
        )?;
        if page.objects.is_empty() {
            break;
        }
        let objects: Vec<Value> = page
            .objects
            .iter()
            .filter_map(|o| serde_json::from_str(&o.json).ok())
            .collect();
        rep.pages += 1;
        rep.objects += objects.len();
        let status = remote.wait_status(remote.add_objects(&objects)?)?;
        rep.stored += status
            .get("success_count")
            .and_then(Value::as_u64)
            .unwrap_or(0) as usize;
        let failed = status
            .get("failure_count")
            .and_then(Value::as_u64)
            .unwrap_or(0) as usize;
        rep.failed += failed;
        for f in status
            .get("failures")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            rep.keep_reason(|| {
                format!(
                    "{}: {}",
                    f["id"].as_str().unwrap_or("?"),
                    f["message"].as_str().unwrap_or("refused")
                )
            });
        }
        if failed == objects.len() && failed > 0 {
            bail!(
                "{}: the remote refused the whole batch: {}",
                remote.url,
                rep.reasons.first().cloned().unwrap_or_default()
            );
        }
        let last = page.objects.last().expect("non-empty page");
        let c = format!("{}|{}", format_time(last.date_added), last.pk);
        store.set_sync_cursor(&key, "push", &remote.url, org.id, &c)?;
        rep.cursor = Some(c);
        progress(&rep);
        if !page.more || limits.done(rep.pages) {
            break;
        }
    }
    Ok(rep)
}

fn decode_push_cursor(c: &str) -> Option<(String, i64)> {
    let (a, pk) = c.split_once('|')?;
    Some((a.to_string(), pk.parse().ok()?))
}
