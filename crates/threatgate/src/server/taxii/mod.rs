//! TAXII 2.1 (OASIS) over the store: discovery at `/taxii2/`, one API root at
//! `/taxii2/api/`, collections derived from the policy ([`super::collections`]), objects
//! (GET with the spec's filters and `more`/`next` pagination, POST answered with a status
//! resource), one object (GET, DELETE), versions, manifest and status.
//!
//! Every read builds its scope with [`crate::lookup::scope_for`] and reads through the
//! store's scoped methods; a collection only narrows that. Objects the caller may not read
//! are indistinguishable from objects that do not exist (404, or absent from a page).

pub mod buffers;
pub mod cache;
pub mod query;
pub mod submit;

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono::Utc;
use serde_json::json;

use super::auth::Caller;
use super::collections::{self, Collection};
use super::error::{Problem, STIX_MEDIA, TAXII_MEDIA};
use super::limits::MAX_BODY_BYTES;
use super::AppState;
use crate::lookup::scope_for;
use crate::model::{Org, StoredObject};
use crate::policy::{Action, ReadScope};
use crate::store::{AuditEvent, CollectionPage, CollectionQuery, Store};
use buffers::BufferPool;
use cache::{CachedPage, PageCache};

/// Where the one API root lives.
pub const API_ROOT: &str = "/taxii2/api/";

/// The TAXII routes.
pub fn router() -> Router<AppState> {
    let mut r = Router::new();
    for (path, mr) in [
        ("/taxii2/", get(discovery)),
        ("/taxii2/api/", get(api_root)),
        ("/taxii2/api/status/{status_id}/", get(status)),
        ("/taxii2/api/collections/", get(collections_list)),
        ("/taxii2/api/collections/{cid}/", get(collection_one)),
        (
            "/taxii2/api/collections/{cid}/objects/",
            get(objects_get).post(objects_post),
        ),
        (
            "/taxii2/api/collections/{cid}/objects/{oid}/",
            get(object_get).delete(object_delete),
        ),
        (
            "/taxii2/api/collections/{cid}/objects/{oid}/versions/",
            get(object_versions),
        ),
        ("/taxii2/api/collections/{cid}/manifest/", get(manifest)),
    ] {
        // The spec's URLs end with '/'; accept them without it too.
        r = r.route(path, mr.clone());
        r = r.route(path.trim_end_matches('/'), mr);
    }
    r
}

/// Run a TAXII handler body, rendering any error as a TAXII error message.
async fn run(f: impl std::future::Future<Output = Result<Response, Problem>>) -> Response {
    match f.await {
        Ok(r) => r,
        Err(p) => p.taxii().into_response(),
    }
}

/// Run store work on the blocking pool (the store API is synchronous).
pub async fn blocking<T: Send + 'static>(
    store: &Arc<Store>,
    f: impl FnOnce(&Store) -> Result<T, Problem> + Send + 'static,
) -> Result<T, Problem> {
    let store = store.clone();
    tokio::task::spawn_blocking(move || f(&store)).await?
}

/// Check the Accept header: TAXII 2.1 (or STIX 2.1 where objects are served). A missing
/// header or a wildcard gets the TAXII media type. Anything else is a 406.
pub fn check_accept(headers: &HeaderMap, stix_ok: bool) -> Result<(), Problem> {
    let Some(v) = headers.get(header::ACCEPT) else {
        return Ok(());
    };
    let text = v.to_str().unwrap_or("");
    let ok = text.split(',').any(|range| {
        let mut parts = range.split(';').map(|p| p.trim().to_ascii_lowercase());
        let mt = parts.next().unwrap_or_default();
        let mut version_ok = true;
        for p in parts {
            if let Some(ver) = p.strip_prefix("version=") {
                version_ok = ver.trim_matches('"') == "2.1";
            }
        }
        match mt.as_str() {
            "*/*" | "application/*" => true,
            "application/taxii+json" => version_ok,
            "application/stix+json" => stix_ok && version_ok,
            _ => false,
        }
    });
    if ok {
        Ok(())
    } else {
        Err(Problem::not_acceptable(format!(
            "this endpoint answers {TAXII_MEDIA}{}, but the Accept header asks for {text:?}; send Accept: {TAXII_MEDIA}",
            if stix_ok { format!(" (or {STIX_MEDIA})") } else { String::new() }
        )))
    }
}

/// Check a request body's Content-Type is the TAXII 2.1 media type (415 otherwise).
fn check_content_type(headers: &HeaderMap) -> Result<(), Problem> {
    let text = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mut parts = text.split(';').map(|p| p.trim().to_ascii_lowercase());
    let mt = parts.next().unwrap_or_default();
    let mut version_ok = true;
    for p in parts {
        if let Some(ver) = p.strip_prefix("version=") {
            version_ok = ver.trim_matches('"') == "2.1";
        }
    }
    if mt == "application/taxii+json" && version_ok {
        Ok(())
    } else {
        Err(Problem::unsupported_media(format!(
            "the body must be a TAXII envelope sent as Content-Type: {TAXII_MEDIA}; got {text:?}"
        )))
    }
}

/// A 200 (or other) answer with a TAXII JSON body.
fn taxii(status: StatusCode, body: impl Into<axum::body::Body>) -> Response {
    let mut r = (status, body.into()).into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(TAXII_MEDIA));
    r
}

fn taxii_json(status: StatusCode, v: &serde_json::Value) -> Response {
    taxii(status, serde_json::to_vec(v).expect("json serialises"))
}

/// The `date_added` of a page's first and last object.
fn date_range(objects: &[StoredObject]) -> Option<(String, String)> {
    let (first, last) = (objects.first()?, objects.last()?);
    Some((
        crate::model::format_time(first.date_added),
        crate::model::format_time(last.date_added),
    ))
}

/// Add X-TAXII-Date-Added-First/-Last for a page.
fn date_headers(r: &mut Response, objects: &[StoredObject]) {
    set_date_headers(r, date_range(objects).as_ref());
}

fn set_date_headers(r: &mut Response, dates: Option<&(String, String)>) {
    if let Some((first, last)) = dates {
        for (name, v) in [
            ("x-taxii-date-added-first", first),
            ("x-taxii-date-added-last", last),
        ] {
            if let Ok(v) = HeaderValue::from_str(v) {
                r.headers_mut().insert(HeaderName::from_static(name), v);
            }
        }
    }
}

/// Absolute base URL of this server as the client addressed it.
fn base_url(headers: &HeaderMap, tls: bool) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .filter(|h| {
            h.chars()
                .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
        })
        .unwrap_or("localhost");
    format!("{}://{host}", if tls { "https" } else { "http" })
}

async fn discovery(State(st): State<AppState>, caller: Caller, headers: HeaderMap) -> Response {
    run(async move {
        check_accept(&headers, false)?;
        let _ = caller;
        let root = format!("{}{API_ROOT}", base_url(&headers, st.config.tls));
        Ok(taxii_json(
            StatusCode::OK,
            &json!({
                "title": st.config.title,
                "description": "threatgate TAXII 2.1 server: collections are derived from the exchange's policy for the calling organisation.",
                "default": root,
                "api_roots": [root],
            }),
        ))
    })
    .await
}

async fn api_root(State(st): State<AppState>, _caller: Caller, headers: HeaderMap) -> Response {
    run(async move {
        check_accept(&headers, false)?;
        Ok(taxii_json(
            StatusCode::OK,
            &json!({
                "title": format!("{} API root", st.config.title),
                "description": "The exchange's one API root.",
                "versions": [TAXII_MEDIA],
                "max_content_length": MAX_BODY_BYTES,
            }),
        ))
    })
    .await
}

fn collection_json(c: &Collection) -> serde_json::Value {
    json!({
        "id": c.id.to_string(),
        "title": c.title,
        "description": c.description,
        "alias": c.alias,
        "can_read": c.can_read,
        "can_write": c.can_write,
        "media_types": [STIX_MEDIA],
    })
}

async fn collections_list(
    State(st): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
) -> Response {
    run(async move {
        check_accept(&headers, false)?;
        let list = blocking(&st.store, move |s| {
            Ok(collections::for_org(s, &caller.org, caller.token.role)?)
        })
        .await?;
        let cols: Vec<_> = list.iter().map(collection_json).collect();
        Ok(taxii_json(StatusCode::OK, &json!({ "collections": cols })))
    })
    .await
}

/// The caller's collection `cid`, or 404 (a collection another org has is not revealed).
fn find_collection(s: &Store, caller: &Caller, cid: &str) -> Result<Collection, Problem> {
    collections::find(s, &caller.org, caller.token.role, cid)?
        .ok_or_else(|| not_found_collection(cid))
}

fn not_found_collection(cid: &str) -> Problem {
    Problem::not_found(format!(
        "collection {cid:?} not found in API root {API_ROOT}; GET {API_ROOT}collections/ lists yours"
    ))
}

fn require_read(c: &Collection) -> Result<(), Problem> {
    if c.can_read {
        Ok(())
    } else {
        Err(Problem::forbidden(format!(
            "this token may not read collection {:?} ({}); use a token whose role may read",
            c.alias, c.id
        )))
    }
}

async fn collection_one(
    State(st): State<AppState>,
    caller: Caller,
    Path(cid): Path<String>,
    headers: HeaderMap,
) -> Response {
    run(async move {
        check_accept(&headers, false)?;
        let c = blocking(&st.store, move |s| find_collection(s, &caller, &cid)).await?;
        Ok(taxii_json(StatusCode::OK, &collection_json(&c)))
    })
    .await
}

/// The caller's readable collection `cid`, the scope its reads use and `filters` narrowed
/// to it.
fn resolve(
    s: &Store,
    caller: &Caller,
    cid: &str,
    filters: query::Filters,
) -> Result<(Collection, ReadScope, CollectionQuery), Problem> {
    let bulk = scope_for(s, &caller.org, Utc::now(), crate::policy::Channel::Bulk)?;
    let c = collections::find_scoped(s, &caller.org, caller.token.role, &bulk, cid)?
        .ok_or_else(|| not_found_collection(cid))?;
    require_read(&c)?;
    let scope = if c.channel == crate::policy::Channel::Bulk {
        bulk
    } else {
        scope_for(s, &caller.org, Utc::now(), c.channel)?
    };
    let mut q = filters.query;
    c.restrict(caller.org.id, &mut q);
    Ok((c, scope, q))
}

/// One audit entry per read: its first page (continuations carry `next`).
fn audit_read(
    s: &Store,
    caller: &Caller,
    c: &Collection,
    q: &CollectionQuery,
    what: &str,
    objects: usize,
    more: bool,
) -> Result<(), Problem> {
    s.audit(AuditEvent::new(
        Some(caller.org.id),
        "taxii.read",
        format!("collection:{}", c.alias),
        json!({
            "endpoint": what,
            "objects": objects,
            "more": more,
            "ids": q.base.ids,
            "types": q.base.types,
            "added_after": q.added_after,
        }),
    ))?;
    Ok(())
}

/// Read one page of a collection for the caller, auditing the start of each read.
fn read_page(
    s: &Store,
    caller: &Caller,
    cid: &str,
    filters: query::Filters,
    what: &str,
) -> Result<(Collection, CollectionPage), Problem> {
    let continued = filters.continued;
    let (c, scope, q) = resolve(s, caller, cid, filters)?;
    let page = s.collection_page(&scope, &q)?;
    if !continued {
        audit_read(s, caller, &c, &q, what, page.objects.len(), page.more)?;
    }
    Ok((c, page))
}

/// An objects page rendered, from the page cache when the same reader scope read it at
/// the same data generation.
fn objects_page(
    s: &Store,
    pages: &PageCache,
    caller: &Caller,
    cid: &str,
    filters: query::Filters,
) -> Result<CachedPage, Problem> {
    let continued = filters.continued;
    let (c, scope, q) = resolve(s, caller, cid, filters)?;
    // Read before the page: a page is never newer-keyed than the data it was read from.
    let generation = s.data_generation()?;
    let key = pages.key("objects", &scope.fingerprint(), &q, generation);
    let page = match key.as_deref().and_then(|k| pages.get(k, generation)) {
        Some(hit) => hit,
        None => {
            let rendered = render_objects_page_into(s, &scope, &q, pages.buffers())?;
            if let Some(k) = key {
                pages.put(k, generation, &rendered);
            }
            rendered
        }
    };
    if !continued {
        audit_read(s, caller, &c, &q, "objects", page.objects, page.more)?;
    }
    Ok(page)
}

fn next_of(page: &CollectionPage) -> Option<String> {
    if !page.more {
        return None;
    }
    page.objects
        .last()
        .map(|o| query::encode_cursor(&crate::model::format_time(o.date_added), o.pk))
}

/// Bytes left free before a missed page's objects for its envelope head (`{"more":…,
/// "next":"…","objects":[`), which depends on the last row and so is written last, right
/// before the objects: ~100 bytes with a cursor; a longer head falls back to a shift.
const HEAD_ROOM: usize = 256;

/// An objects page rendered straight from the rows the store lends: each stored JSON text
/// (already canonical) is appended to the envelope, with no per-object copy or parse.
/// Byte-identical to [`render_collection_page`] of [`Store::collection_page`].
pub fn render_objects_page(
    s: &Store,
    scope: &ReadScope,
    q: &CollectionQuery,
) -> crate::store::Result<CachedPage> {
    render_objects_page_into(s, scope, q, &Arc::default())
}

/// [`render_objects_page`] written into a response buffer taken from `buffers`: the
/// objects go in after [`HEAD_ROOM`] free bytes and the head is written in front of them
/// once known, so the body is never copied after rendering (a 500 KB copy per miss).
pub fn render_objects_page_into(
    s: &Store,
    scope: &ReadScope,
    q: &CollectionQuery,
    buffers: &Arc<BufferPool>,
) -> crate::store::Result<CachedPage> {
    let mut count = 0usize;
    let mut first_added = String::new();
    let mut last_added = String::new();
    let mut last_pk = 0;
    let mut more = false;
    let mut dates = None;
    let body = buffers.written(|out| -> crate::store::Result<std::ops::Range<usize>> {
        out.reserve(HEAD_ROOM + 64 * 1024);
        out.resize(HEAD_ROOM, b' ');
        more = s.collection_page_rows(scope, q, &mut |r| {
            if count == 0 {
                first_added.push_str(r.date_added);
            } else {
                out.push(b',');
            }
            out.extend_from_slice(r.json.trim_ascii());
            last_added.clear();
            last_added.push_str(r.date_added);
            last_pk = r.pk;
            count += 1;
            Ok(())
        })?;
        // The stored texts are lent as unchecked bytes (`PageRow::json`): they were written
        // by this server from Rust `String`s, so they are valid UTF-8 unless the database
        // was altered behind its back. One check over the whole page (a fast ASCII scan,
        // STIX JSON being nearly all ASCII) replaces a check per row, and a page that fails
        // it is refused as corrupt, as the per-row check refused it.
        let objects = &out[HEAD_ROOM..];
        if !objects.is_ascii() {
            std::str::from_utf8(objects).map_err(|e| {
                crate::store::StoreError::Corrupt(format!("stored object JSON: {e}"))
            })?;
        }
        let formatted = |stored: &str| {
            crate::model::parse_stored_time(stored)
                .map(crate::model::format_time)
                .ok_or_else(|| {
                    crate::store::StoreError::Corrupt(format!("bad date_added {stored:?}"))
                })
        };
        if count > 0 {
            dates = Some((formatted(&first_added)?, formatted(&last_added)?));
        }
        let next = match &dates {
            Some((_, last)) if more => Some(query::encode_cursor(last, last_pk)),
            _ => None,
        };
        let mut head = String::with_capacity(128);
        envelope_head(&mut head, more, next.as_deref());
        if count > 0 {
            head.push_str(",\"objects\":[");
            out.push(b']');
        }
        out.push(b'}');
        let start = match HEAD_ROOM.checked_sub(head.len()) {
            Some(start) => {
                out[start..HEAD_ROOM].copy_from_slice(head.as_bytes());
                start
            }
            None => {
                out.splice(0..HEAD_ROOM, head.bytes());
                0
            }
        };
        Ok(start..out.len())
    })?;
    Ok(CachedPage {
        body,
        dates,
        objects: count,
        more,
    })
}

/// The rendering of a page read whole (the reference for [`render_objects_page`]).
pub fn render_collection_page(page: &CollectionPage) -> CachedPage {
    CachedPage {
        body: Bytes::from(envelope(page)),
        dates: date_range(&page.objects),
        objects: page.objects.len(),
        more: page.more,
    }
}

fn envelope_head(out: &mut String, more: bool, next: Option<&str>) {
    out.push_str("{\"more\":");
    out.push_str(if more { "true" } else { "false" });
    if let Some(n) = next {
        out.push_str(",\"next\":\"");
        out.push_str(n);
        out.push('"');
    }
}

/// The envelope, assembled from the stored JSON texts without re-serialising them.
fn envelope(page: &CollectionPage) -> String {
    let mut out =
        String::with_capacity(64 + page.objects.iter().map(|o| o.json.len() + 1).sum::<usize>());
    envelope_head(&mut out, page.more, next_of(page).as_deref());
    if !page.objects.is_empty() {
        out.push_str(",\"objects\":[");
        for (i, o) in page.objects.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(o.json.trim());
        }
        out.push(']');
    }
    out.push('}');
    out
}

async fn objects_get(
    State(st): State<AppState>,
    caller: Caller,
    Path(cid): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    run(async move {
        check_accept(&headers, true)?;
        caller.require(Action::Read)?;
        let filters = query::parse(raw.as_deref(), query::OBJECTS)?;
        let pages = st.pages.clone();
        let page = blocking(&st.store, move |s| {
            objects_page(s, &pages, &caller, &cid, filters)
        })
        .await?;
        let mut r = taxii(StatusCode::OK, page.body);
        set_date_headers(&mut r, page.dates.as_ref());
        Ok(r)
    })
    .await
}

/// The rows of one object in a collection (`what`: "object" or "versions"); 404 when the
/// caller sees none of them on a first page.
async fn one_object_page(
    st: &AppState,
    caller: Caller,
    cid: String,
    oid: String,
    raw: Option<String>,
    allowed: query::Allowed,
    what: &'static str,
) -> Result<CollectionPage, Problem> {
    caller.require(Action::Read)?;
    let mut filters = query::parse(raw.as_deref(), allowed)?;
    filters.query.base.ids = vec![oid.clone()];
    let continued = filters.continued;
    let (_, page) = blocking(&st.store, move |s| {
        read_page(s, &caller, &cid, filters, what)
    })
    .await?;
    if page.objects.is_empty() && !continued {
        return Err(Problem::not_found(format!(
            "object {oid:?} not found in this collection (or not with these filters)"
        )));
    }
    Ok(page)
}

async fn object_get(
    State(st): State<AppState>,
    caller: Caller,
    Path((cid, oid)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    run(async move {
        check_accept(&headers, true)?;
        let page = one_object_page(&st, caller, cid, oid, raw, query::ONE_OBJECT, "object").await?;
        let mut r = taxii(StatusCode::OK, envelope(&page));
        date_headers(&mut r, &page.objects);
        Ok(r)
    })
    .await
}

async fn object_versions(
    State(st): State<AppState>,
    caller: Caller,
    Path((cid, oid)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    run(async move {
        check_accept(&headers, false)?;
        let page = one_object_page(&st, caller, cid, oid, raw, query::VERSIONS, "versions").await?;
        let versions: serde_json::Value = page.objects.iter().map(|o| o.version.clone()).collect();
        Ok(paged_json(&page, Some(("versions", versions))))
    })
    .await
}

async fn manifest(
    State(st): State<AppState>,
    caller: Caller,
    Path(cid): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    run(async move {
        check_accept(&headers, false)?;
        caller.require(Action::Read)?;
        let filters = query::parse(raw.as_deref(), query::OBJECTS)?;
        let (_, page) = blocking(&st.store, move |s| {
            read_page(s, &caller, &cid, filters, "manifest")
        })
        .await?;
        let objects = (!page.objects.is_empty()).then(|| {
            let records: serde_json::Value = page
                .objects
                .iter()
                .map(|o| {
                    json!({
                        "id": o.stix_id,
                        "date_added": crate::model::format_time(o.date_added),
                        "version": o.version,
                        "media_type": format!("application/stix+json;version={}", o.spec_version),
                    })
                })
                .collect();
            ("objects", records)
        });
        Ok(paged_json(&page, objects))
    })
    .await
}

/// A paged JSON answer (versions, manifest): `more`, `next` when there is more, then the
/// page's `list` under its name, with the page's date headers. One place, so both
/// endpoints page alike.
fn paged_json(page: &CollectionPage, list: Option<(&str, serde_json::Value)>) -> Response {
    let mut body = json!({ "more": page.more });
    if let Some(n) = next_of(page) {
        body["next"] = n.into();
    }
    if let Some((name, items)) = list {
        body[name] = items;
    }
    let mut r = taxii_json(StatusCode::OK, &body);
    date_headers(&mut r, &page.objects);
    r
}

/// The caller's writable collection `cid` (403 if it exists but is not writable).
fn writable(s: &Store, caller: &Caller, cid: &str) -> Result<Collection, Problem> {
    let c = find_collection(s, caller, cid)?;
    if !(c.can_write && c.accepts_writes()) {
        return Err(Problem::forbidden(format!(
            "this token may not write to collection {:?}; objects are added to your \"submissions\" collection with a token whose role may submit (ingest, analyst or admin)",
            c.alias
        )));
    }
    Ok(c)
}

async fn objects_post(
    State(st): State<AppState>,
    caller: Caller,
    Path(cid): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    run(async move {
        check_accept(&headers, false)?;
        check_content_type(&headers)?;
        // Collection and role first, so a refused write costs no parsing.
        let caller2 = caller.clone();
        let cid2 = cid.clone();
        blocking(&st.store, move |s| writable(s, &caller2, &cid2).map(|_| ())).await?;
        let objects = submit::parse_envelope(&body)?;
        let status = blocking(&st.store, move |s| {
            submit::submit(s, &caller.org, &cid, objects)
        })
        .await?;
        Ok(taxii_json(StatusCode::ACCEPTED, &status))
    })
    .await
}

async fn object_delete(
    State(st): State<AppState>,
    caller: Caller,
    Path((cid, oid)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    run(async move {
        check_accept(&headers, false)?;
        caller.require(Action::Submit)?;
        let mut filters = query::parse(raw.as_deref(), query::ONE_OBJECT)?;
        filters.query.base.ids = vec![oid.clone()];
        blocking(&st.store, move |s| {
            let c = writable(s, &caller, &cid)?;
            require_read(&c)?;
            delete_versions(s, &caller.org, &c, &oid, filters)
        })
        .await?;
        Ok(taxii(StatusCode::OK, Vec::new()))
    })
    .await
}

fn delete_versions(
    s: &Store,
    org: &Org,
    c: &Collection,
    oid: &str,
    filters: query::Filters,
) -> Result<(), Problem> {
    let scope = scope_for(s, org, Utc::now(), c.channel)?;
    let mut q = filters.query;
    c.restrict(org.id, &mut q);
    q.base.limit = crate::server::limits::MAX_PAGE_SIZE * 10;
    let page = s.collection_page(&scope, &q)?;
    let versions: Vec<String> = page
        .objects
        .iter()
        .filter(|o| o.org_id == org.id)
        .map(|o| o.version.clone())
        .collect();
    if versions.is_empty() {
        return Err(Problem::not_found(format!(
            "object {oid:?} not found among your submissions (or not with these filters)"
        )));
    }
    s.delete_own_object(org.id, oid, &versions, Some(org.id))?;
    Ok(())
}

async fn status(
    State(st): State<AppState>,
    caller: Caller,
    Path(sid): Path<String>,
    headers: HeaderMap,
) -> Response {
    run(async move {
        check_accept(&headers, false)?;
        let body = blocking(&st.store, move |s| {
            s.taxii_status(&sid, caller.org.id)?.ok_or_else(|| {
                Problem::not_found(format!(
                    "status {sid:?} not found; status resources are visible to the organisation that made the request only"
                ))
            })
        })
        .await?;
        Ok(taxii(StatusCode::OK, body))
    })
    .await
}
