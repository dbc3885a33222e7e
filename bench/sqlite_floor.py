#!/usr/bin/env python3
# Run: python3 bench/sqlite_floor.py [v6|candidate|both]   (standard library only;
# ~1.5 GB of temp space, ~1 min per layout; default v6)
# Floor of SQLite at 1 M indicators: only the inserts, rows pre-built in memory,
# executemany (C loop), no merges, no parsing. 16 KiB pages, WAL, one transaction.
#   v6:        threatgate's schema v6 (5 tables, 6 indexes).
#   candidate: a leaner bulk layout, not threatgate's schema: object bodies appended to a
#              file outside the B-trees (written and fsynced once), records WITHOUT ROWID
#              keyed by (observable_id, org_id), the link of a single-observable indicator
#              as a column of its object, no date_added index.
# FLOOR_JSON_BYTES (default 480) sets the size of each object's JSON.
import sqlite3, uuid, time, os, random, sys

N = 1_000_000
JSON_BYTES = int(os.environ.get("FLOOR_JSON_BYTES", "480"))
NOW = "2026-11-29T19:07:14.367922Z"
CLAIM = '{"first_seen":"2025-01-15T10:00:00Z","last_seen":"2025-01-15T10:00:00Z","confidence":77,"labels":["anomalous-activity"],"tlp":"green","stix_ids":["indicator--c60c2e46-1e83-4b75-a7ac-b7ad21a6ade0"]}'
PRAGMAS = ("pragma page_size=16384", "pragma journal_mode=wal", "pragma synchronous=normal", "pragma cache_size=-393216")

V6_SCHEMA = """
create table observables(id integer primary key, kind text not null, value text not null, country text, asn int, network text, registered_domain text, enriched_at text, unique(kind,value));
create table records(id integer primary key, observable_id int not null, org_id int not null, submission_id int not null, tlp text not null, claim text not null, created_at text not null, updated_at text not null, unique(observable_id, org_id));
create index records_org on records(org_id);
create table objects(pk integer primary key, stix_id text not null, stix_type text not null, version text not null, spec_version text not null, org_id int not null, submission_id int not null, tlp text not null, date_added text not null, json text not null, is_latest int not null default 1, is_first int not null default 1, unique(stix_id, version, org_id));
create index objects_added on objects(date_added, pk);
create table object_observables(object_pk int not null, observable_id int not null, primary key(object_pk, observable_id)) without rowid;
create index object_observables_obs on object_observables(observable_id);
"""

CANDIDATE_SCHEMA = """
create table observables(id integer primary key, kind text not null, value text not null, country text, asn int, network text, registered_domain text, enriched_at text, unique(kind,value));
create table records(observable_id int not null, org_id int not null, submission_id int not null, tlp text not null, claim text not null, updated_at text not null, primary key(observable_id, org_id)) without rowid;
create table objects(pk integer primary key, stix_id text not null, stix_type text not null, version text not null, org_id int not null, submission_id int not null, tlp text not null, date_added text not null, body_offset int not null, body_len int not null, observable_id int, unique(stix_id, version, org_id));
create index objects_obs on objects(observable_id);
"""


def data():
    """The same indicators for every layout: 1 M ids, 700 k distinct values, 30 % repeats."""
    random.seed(1)
    distinct = int(N * 0.7)
    sids = ["indicator--" + str(uuid.UUID(int=random.getrandbits(128))) for _ in range(N)]
    values = ["%d.%d.%d.%d" % tuple(random.randrange(256) for _ in range(4)) + str(i) for i in range(distinct)]
    observable_of = [(i if i < distinct else random.randrange(distinct)) + 1 for i in range(N)]
    return sids, values, observable_of


def remove(name, suffixes):
    for s in suffixes:
        try:
            os.remove(name + s)
        except FileNotFoundError:
            pass


def run(layout, sids, values, observable_of):
    name = "/tmp/floor_%s.db" % layout
    suffixes = ("", "-wal", "-shm", ".bodies")
    remove(name, suffixes)
    c = sqlite3.connect(name, isolation_level=None)
    for p in PRAGMAS:
        c.execute(p)
    c.executescript(V6_SCHEMA if layout == "v6" else CANDIDATE_SCHEMA)
    obs = [("ipv4-addr", v) for v in values]
    # Rows are built before the clock starts: only SQLite's work (and the body file) is timed.
    if layout == "v6":
        json = "x" * JSON_BYTES
        objs = [(sid, "indicator", "2025-01-15T10:00:00.000Z", "2.1", 2, 1, "green", NOW, json) for sid in sids]
        recs = [(i + 1, 2, 1, "green", CLAIM, NOW, NOW) for i in range(len(values))]
        links = [(i + 1, o) for i, o in enumerate(observable_of)]
    else:
        body = b"x" * JSON_BYTES
        objs = [(sid, "indicator", "2025-01-15T10:00:00.000Z", 2, 1, "green", NOW, i * JSON_BYTES, JSON_BYTES, observable_of[i]) for i, sid in enumerate(sids)]
        recs = [(i + 1, 2, 1, "green", CLAIM, NOW) for i in range(len(values))]
    t = time.process_time(); w = time.time()
    if layout == "v6":
        c.execute("begin")
        c.executemany("insert into objects(stix_id,stix_type,version,spec_version,org_id,submission_id,tlp,date_added,json) values(?,?,?,?,?,?,?,?,?)", objs)
        c.executemany("insert into observables(kind,value) values(?,?)", obs)
        c.executemany("insert into records(observable_id,org_id,submission_id,tlp,claim,created_at,updated_at) values(?,?,?,?,?,?,?)", recs)
        c.executemany("insert or ignore into object_observables(object_pk,observable_id) values(?,?)", links)
    else:
        with open(name + ".bodies", "wb") as f:
            for _ in range(N):
                f.write(body)
            f.flush()
            os.fsync(f.fileno())
        c.execute("begin")
        c.executemany("insert into objects(stix_id,stix_type,version,org_id,submission_id,tlp,date_added,body_offset,body_len,observable_id) values(?,?,?,?,?,?,?,?,?,?)", objs)
        c.executemany("insert into observables(kind,value) values(?,?)", obs)
        c.executemany("insert into records(observable_id,org_id,submission_id,tlp,claim,updated_at) values(?,?,?,?,?,?)", recs)
    t1 = time.process_time()
    c.execute("commit")
    bodies = os.path.getsize(name + ".bodies") / 1e6 if layout != "v6" else 0
    print("%s floor, 1 M indicators (inserts only): cpu %.1f s (commit %.1f) wall %.1f s, db %.0f MB + bodies %.0f MB" % (
        layout, time.process_time() - t, time.process_time() - t1, time.time() - w, os.path.getsize(name) / 1e6, bodies))
    c.close()
    remove(name, suffixes)


if __name__ == "__main__":
    which = sys.argv[1] if len(sys.argv) > 1 else "v6"
    layouts = {"v6": ["v6"], "candidate": ["candidate"], "both": ["v6", "candidate"]}.get(which)
    if layouts is None:
        sys.exit("usage: sqlite_floor.py [v6|candidate|both]")
    sids, values, observable_of = data()
    for layout in layouts:
        run(layout, sids, values, observable_of)
