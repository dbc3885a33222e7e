#!/usr/bin/env python3
"""Drive a TAXII 2.1 server through the OASIS client (taxii2-client) and every endpoint.

Runs against threatgate and against the OASIS reference server (medallion) loaded with the
same data; prints a JSON summary of what each call returned, which the Rust test compares
between the two servers where the specification says they must agree. Exits non-zero, with
the failed checks listed, if any check that holds for every TAXII 2.1 server fails.

usage: taxii_client_check.py --discovery URL --user U --password P \
         --collection ID --forbidden-write ID --forbidden-read ID \
         [--forbidden-read-user U --forbidden-read-password P] [--out FILE]
"""
import argparse
import json
import sys
import uuid

import requests
from taxii2client.v21 import ApiRoot, Collection, Server, as_pages

FAILURES = []
MEDIA = "application/taxii+json;version=2.1"
# A page size both servers serve whole (threatgate and medallion are configured for 1000).
BIG = 1000


def check(cond, what):
    if not cond:
        FAILURES.append(what)
    return cond


def key(o):
    """An object's identity and version, as the comparison sees it."""
    return "%s@%s" % (o["id"], o.get("modified", o.get("created", "")))


def keys(envelope):
    return sorted(key(o) for o in envelope.get("objects", []))


def all_objects(col, per_request, **filters):
    """Every object through as_pages; returns (keys in order, number of pages)."""
    out, pages = [], 0
    for env in as_pages(col.get_objects, per_request=per_request, **filters):
        pages += 1
        out.extend(key(o) for o in env.get("objects", []))
    return out, pages


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--discovery", required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--collection", required=True, help="a readable and writable collection id")
    ap.add_argument("--forbidden-write", required=True, help="a collection id the user may not write")
    ap.add_argument("--forbidden-read", required=True, help="a collection id the user may not read")
    ap.add_argument("--forbidden-read-user")
    ap.add_argument("--forbidden-read-password")
    ap.add_argument("--page", type=int, default=7, help="objects per page for as_pages")
    ap.add_argument("--out")
    a = ap.parse_args()
    summary = {}

    # Discovery and API root.
    server = Server(a.discovery, user=a.user, password=a.password)
    check(server.title, "discovery has a title")
    check(len(server.api_roots) >= 1, "discovery lists an API root")
    root = server.default or server.api_roots[0]
    check(MEDIA in root.versions, "the API root supports TAXII 2.1")
    check(root.max_content_length > 0, "the API root states max_content_length")
    summary["api_root_versions"] = root.versions

    # Collections.
    cols = {c.id: c for c in root.collections}
    check(a.collection in cols, "the collection is listed")
    col = Collection(root.url + "collections/" + a.collection + "/", user=a.user, password=a.password)
    check(col.can_read and col.can_write, "the collection is readable and writable")
    summary["collection_media_types"] = col.media_types

    # Objects with every filter. Pages are asked as large as the servers allow, so that each
    # answer is the whole result (the default page size is each server's own choice).
    def get(**filters):
        return col.get_objects(limit=BIG, **filters)

    full = get()
    ids = sorted({o["id"] for o in full.get("objects", [])})
    check(len(ids) > 0, "the collection has objects")
    multi = None
    for i in ids:
        # The specification does not order the list; sort it (same timestamp format).
        vs = sorted(col.object_versions(i).get("versions", []))
        if len(vs) > 1:
            multi = (i, vs)
            break
    check(multi is not None, "some object has several versions")
    mid, versions = multi
    types = sorted({i.split("--")[0] for i in ids})
    f = {}
    f["default"] = keys(get())
    for t in types:
        f["type=" + t] = keys(get(type=t))
    f["type=all-listed"] = keys(get(type=types))
    f["id=one"] = keys(get(id=ids[0]))
    f["id=two"] = keys(get(id=ids[:2]))
    for v in ["first", "last", "all"]:
        f["version=" + v] = keys(get(id=mid, version=v))
        f["all-ids-version=" + v] = keys(get(version=v))
    f["version=middle"] = keys(get(id=mid, version=versions[1]))
    f["version=first,middle"] = keys(get(id=mid, version=["first", versions[1]]))
    f["spec_version=2.1"] = keys(get(spec_version="2.1"))
    f["spec_version=2.0"] = keys(get(spec_version="2.0"))
    man = col.get_manifest(version="all", limit=BIG)
    dates = sorted(m["date_added"] for m in man.get("objects", []))
    middle_date = dates[len(dates) // 2]
    f["added_after=middle"] = keys(get(added_after=middle_date))
    f["added_after=middle,version=all"] = keys(get(added_after=middle_date, version="all"))
    f["type+added_after"] = keys(get(type="indicator", added_after=middle_date))
    summary["filters"] = f
    check(f["version=first"] == sorted(["%s@%s" % (mid, versions[0])]), "match[version]=first")
    check(f["version=last"] == sorted(["%s@%s" % (mid, versions[-1])]), "match[version]=last")
    check(len(f["version=all"]) == len(versions), "match[version]=all")
    check(set(f["added_after=middle"]) < set(f["default"]) or not f["added_after=middle"], "added_after narrows")
    check(f["spec_version=2.0"] == [], "match[spec_version]=2.0 is empty")

    # Pagination to the end, with the client's as_pages.
    listed, pages = all_objects(col, a.page)
    listed_all, pages_all = all_objects(col, a.page, version="all")
    check(sorted(listed) == f["default"], "as_pages returns exactly the unpaged result")
    check(len(set(listed)) == len(listed), "no object twice across pages")
    manifest_pages, manifest_total = 0, 0
    for env in as_pages(col.get_manifest, per_request=a.page):
        manifest_pages += 1
        manifest_total += len(env.get("objects", []))
    summary["pagination"] = {
        "per_request": a.page,
        "objects_total": len(listed),
        "objects_pages": pages,
        "all_versions_total": len(listed_all),
        "all_versions_pages": pages_all,
        "manifest_total": manifest_total,
        "manifest_pages": manifest_pages,
    }

    # One object, its versions, the manifest.
    one = col.get_object(mid)
    summary["object_latest"] = keys(one)
    summary["object_all_versions"] = keys(col.get_object(mid, version="all", limit=BIG))
    summary["versions"] = sorted(col.object_versions(mid).get("versions", []))
    check(summary["versions"] == versions, "versions are stable")
    summary["manifest_versions_of_multi"] = sorted(
        m["version"] for m in col.get_manifest(id=mid, version="all", limit=BIG).get("objects", []))
    mt = {m["media_type"] for m in man.get("objects", [])}
    summary["manifest_media_types"] = sorted(mt)
    summary["manifest_count_all"] = len(man.get("objects", []))

    # Add objects and poll the status.
    new_ids = ["indicator--%s" % uuid.uuid4() for _ in range(2)]
    envelope = {"objects": [{
        "type": "indicator", "spec_version": "2.1", "id": i,
        "created": "2024-08-01T00:00:00.000Z", "modified": "2024-08-01T00:00:00.000Z",
        "name": "added by taxii2-client", "pattern": "[ipv4-addr:value = '203.0.113.%d']" % n,
        "pattern_type": "stix", "valid_from": "2024-08-01T00:00:00Z",
        "object_marking_refs": ["marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"],
    } for n, i in enumerate(new_ids)]}
    status = col.add_objects(envelope, wait_for_completion=True, poll_interval=0.2, timeout=30)
    status.refresh()
    again = root.get_status(status.id)
    summary["status"] = {
        "status": status.status, "total": status.total_count, "success": status.success_count,
        "failure": status.failure_count, "pending": status.pending_count,
    }
    check(status.status == "complete", "the status completes")
    check(status.success_count == 2 and status.failure_count == 0, "both objects are added")
    check(again.id == status.id and again.total_count == 2, "the status is found again by id")
    for i in new_ids:
        check(len(col.get_object(i).get("objects", [])) == 1, "an added object is readable")
    summary["after_add_total"] = len(all_objects(col, a.page)[0])

    # Delete one of them.
    col.delete_object(new_ids[0])
    try:
        col.get_object(new_ids[0])
        check(False, "a deleted object is gone")
        summary["deleted_get"] = 200
    except requests.HTTPError as e:
        summary["deleted_get"] = e.response.status_code
    check(summary["deleted_get"] == 404, "a deleted object answers 404")

    # A forbidden write and a forbidden read reach the server and are refused.
    def raw(method, url, user, password, **kw):
        r = requests.request(method, url, auth=(user, password), headers={
            "Accept": MEDIA, "Content-Type": MEDIA}, **kw)
        return r.status_code, r.headers.get("Content-Type", "")

    fw = raw("POST", root.url + "collections/" + a.forbidden_write + "/objects/", a.user, a.password,
             data=json.dumps(envelope))
    summary["forbidden_write"] = fw[0]
    check(fw[0] == 403, "a write to a read-only collection is refused with 403 (got %s)" % fw[0])
    ru = a.forbidden_read_user or a.user
    rp = a.forbidden_read_password or a.password
    fr = raw("GET", root.url + "collections/" + a.forbidden_read + "/objects/", ru, rp)
    summary["forbidden_read"] = fr[0]
    check(fr[0] == 403, "a read of an unreadable collection is refused with 403 (got %s)" % fr[0])
    # No credentials at all.
    r = requests.get(root.url + "collections/", headers={"Accept": MEDIA})
    summary["no_credentials"] = r.status_code
    check(r.status_code == 401, "no credentials: 401")
    # A wrong Accept.
    r = requests.get(root.url + "collections/", auth=(a.user, a.password), headers={"Accept": "text/html"})
    summary["wrong_accept"] = r.status_code
    check(r.status_code == 406, "a wrong Accept: 406")

    summary["failures"] = FAILURES
    text = json.dumps(summary, indent=1, sort_keys=True)
    if a.out:
        with open(a.out, "w") as fh:
            fh.write(text)
    print(text)
    if FAILURES:
        print("FAILED: " + "; ".join(FAILURES), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
