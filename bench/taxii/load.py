#!/usr/bin/env python3
"""Helpers for bench/taxii.sh: load objects through TAXII, pre-render pages for nginx,
run writers during the load test, and time threatgate against medallion.

Standard library plus `requests` (from the project's .venv)."""
import argparse
import json
import os
import sys
import threading
import time
import uuid

import requests

TAXII = "application/taxii+json;version=2.1"
GREEN = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"
# Objects per POST (threatgate accepts up to 10,000 per envelope).
BATCH = 10_000


def obj(i, tag="bench"):
    """A realistic indicator, about 450 bytes of JSON."""
    return {
        "type": "indicator", "spec_version": "2.1",
        "id": "indicator--%s" % uuid.uuid5(uuid.NAMESPACE_URL, "%s-%d" % (tag, i)),
        "created": "2024-01-01T00:00:00.000Z", "modified": "2024-01-01T00:00:00.000Z",
        "name": "C2 server %d" % i, "description": "botnet command and control, seen by sensor %d" % (i % 97),
        "indicator_types": ["malicious-activity"],
        "pattern": "[ipv4-addr:value = '10.%d.%d.%d']" % ((i >> 16) & 255, (i >> 8) & 255, i & 255),
        "pattern_type": "stix", "valid_from": "2024-01-01T00:00:00Z",
        "labels": ["c2"], "confidence": 80, "object_marking_refs": [GREEN],
    }


def session(token):
    s = requests.Session()
    s.headers.update({"Authorization": "Bearer " + token, "Accept": TAXII, "Content-Type": TAXII})
    return s


def collection(base, s, alias):
    cols = s.get(base + "/taxii2/api/collections/").json()["collections"]
    c = next(c for c in cols if c["alias"] == alias)
    return base + "/taxii2/api/collections/%s/" % c["id"]


def generate(a):
    s = session(a.token)
    url = collection(a.url, s, "submissions") + "objects/"
    t0, done = time.time(), 0
    while done < a.n:
        n = min(BATCH, a.n - done)
        body = json.dumps({"objects": [obj(done + i, a.tag) for i in range(n)]})
        r = s.post(url, data=body)
        r.raise_for_status()
        st = r.json()
        if st["success_count"] != n:
            sys.exit("batch at %d: %s" % (done, json.dumps(st)[:500]))
        done += n
    dt = time.time() - t0
    print(json.dumps({"objects": done, "seconds": round(dt, 1), "objects_per_s": round(done / dt)}))


def prerender(a):
    """Walk the collection in pages of `limit`, save each page as nginx would serve it,
    and list each page's URL (threatgate) and path (nginx) for wrk."""
    s = session(a.token)
    col = collection(a.url, s, a.collection)
    path = col[len(a.url):] + "objects/"
    os.makedirs(a.dir, exist_ok=True)
    urls, files, total, nxt, i = [], [], 0, None, 0
    t0 = time.time()
    while True:
        q = "?limit=%d" % a.limit + ("&next=" + nxt if nxt else "")
        r = s.get(a.url + path + q)
        r.raise_for_status()
        name = "page-%05d.json" % i
        with open(os.path.join(a.dir, name), "wb") as fh:
            fh.write(r.content)
        urls.append(path + q)
        files.append("/" + name)
        env = r.json()
        total += len(env.get("objects", []))
        i += 1
        if not env.get("more"):
            break
        nxt = env["next"]
    with open(a.urls, "w") as fh:
        fh.write("\n".join(urls) + "\n")
    with open(a.files, "w") as fh:
        fh.write("\n".join(files) + "\n")
    print(json.dumps({"pages": i, "objects": total, "seconds": round(time.time() - t0, 1)}))


def writers(a):
    """`a.threads` writers posting envelopes of `a.size` new objects for `a.seconds`;
    then check every acknowledged object is readable (no lost write)."""
    written, errors, lock = [], [], threading.Lock()
    stop = time.time() + a.seconds

    def run(w):
        s = session(a.token)
        url = collection(a.url, s, "submissions") + "objects/"
        k = 0
        while time.time() < stop:
            objs = [obj(k * a.size + j, "writer-%d-%s" % (w, a.tag)) for j in range(a.size)]
            k += 1
            try:
                r = s.post(url, data=json.dumps({"objects": objs}), timeout=60)
                st = r.json()
                if r.status_code != 202 or st["success_count"] != len(objs):
                    with lock:
                        errors.append("%s %s" % (r.status_code, json.dumps(st)[:200]))
                    continue
                with lock:
                    written.extend(o["id"] for o in objs)
            except Exception as e:  # noqa: BLE001 - any failure is an error of the run
                with lock:
                    errors.append(repr(e))

    ts = [threading.Thread(target=run, args=(w,)) for w in range(a.threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    s = session(a.token)
    url = collection(a.url, s, "submissions") + "objects/"
    lost = 0
    for i in range(0, len(written), 400):
        chunk = written[i:i + 400]
        r = s.get(url, params={"match[id]": ",".join(chunk), "limit": 1000})
        got = {o["id"] for o in r.json().get("objects", [])}
        lost += len(set(chunk) - got)
    print(json.dumps({"writes": len(written), "write_errors": len(errors), "lost": lost,
                      "writes_per_s": round(len(written) / a.seconds, 1), "first_errors": errors[:3]}))


def compare(a):
    """Time the same reads (1,000 objects in pages of 100, to the end) on threatgate and
    medallion; print both rates and the ratio."""
    out = {}
    for name, base, root, auth in [("threatgate", a.url, "/taxii2/api/", ("x", a.token)),
                                   ("medallion", a.medallion, "/api1/", ("bench", "bench"))]:
        s = requests.Session()
        s.auth = auth
        s.headers.update({"Accept": TAXII})
        cols = s.get(base + root + "collections/").json()["collections"]
        col = next(c for c in cols if c["id"] == a.collection_id)
        url = base + root + "collections/%s/objects/" % col["id"]
        t0, reads, objects = time.time(), 0, 0
        while time.time() - t0 < a.seconds:
            nxt = None
            while True:
                p = {"limit": 100}
                if nxt:
                    p["next"] = nxt
                env = s.get(url, params=p).json()
                reads += 1
                objects += len(env.get("objects", []))
                if not env.get("more"):
                    break
                nxt = env["next"]
        dt = time.time() - t0
        out[name] = {"requests_per_s": round(reads / dt, 1), "objects_per_s": round(objects / dt)}
    out["ratio"] = round(out["threatgate"]["objects_per_s"] / out["medallion"]["objects_per_s"], 1)
    print(json.dumps(out))


def medallion_data(a):
    """medallion's memory-backend data file with the same objects and dates as a
    threatgate collection (read through TAXII)."""
    s = session(a.token)
    col = collection(a.url, s, "submissions")
    man = s.get(col + "manifest/", params={"limit": 1000, "match[version]": "all"}).json()
    objs = s.get(col + "objects/", params={"limit": 1000, "match[version]": "all"}).json()
    cid = col.rstrip("/").rsplit("/", 1)[1]
    root = "http://127.0.0.1:%d/api1/" % a.port
    data = {
        "/discovery": {"title": "medallion", "description": "bench", "contact": "bench",
                       "default": root, "api_roots": [root]},
        "api1": {"information": {"title": "api1", "description": "bench", "versions": [TAXII],
                                 "max_content_length": 10485760},
                 "status": [],
                 "collections": [{"id": cid, "title": "bench", "can_read": True, "can_write": False,
                                  "media_types": ["application/stix+json;version=2.1"],
                                  "objects": objs.get("objects", []), "manifest": man.get("objects", [])}]}}
    with open(a.out, "w") as fh:
        json.dump(data, fh)
    with open(a.config, "w") as fh:
        json.dump({"backend": {"module": "medallion.backends.memory_backend", "module_class": "MemoryBackend",
                               "filename": a.out},
                   "users": {"bench": "bench"}, "taxii": {"max_page_size": 1000}}, fh)
    print(cid)


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("generate")
    g.add_argument("--url", required=True)
    g.add_argument("--token", required=True)
    g.add_argument("--n", type=int, required=True)
    g.add_argument("--tag", default="bench")
    p = sub.add_parser("prerender")
    for k in ["--url", "--token", "--dir", "--urls", "--files"]:
        p.add_argument(k, required=True)
    p.add_argument("--collection", default="shared-with-me")
    p.add_argument("--limit", type=int, default=1000)
    w = sub.add_parser("writers")
    w.add_argument("--url", required=True)
    w.add_argument("--token", required=True)
    w.add_argument("--threads", type=int, default=10)
    w.add_argument("--size", type=int, default=5)
    w.add_argument("--seconds", type=float, default=60)
    w.add_argument("--tag", default=str(os.getpid()))
    c = sub.add_parser("compare")
    for k in ["--url", "--token", "--medallion", "--collection-id"]:
        c.add_argument(k, required=True)
    c.add_argument("--seconds", type=float, default=10)
    m = sub.add_parser("medallion-data")
    for k in ["--url", "--token", "--out", "--config"]:
        m.add_argument(k, required=True)
    m.add_argument("--port", type=int, required=True)
    a = ap.parse_args()
    {"generate": generate, "prerender": prerender, "writers": writers, "compare": compare,
     "medallion-data": medallion_data}[a.cmd](a)


if __name__ == "__main__":
    main()
