#!/usr/bin/env python3
# Run: python3 bench/sqlite_floor.py   (standard library only; ~1.5 GB of temp space, ~1 min)
# Floor of SQLite for threatgate's schema v6 at 1 M indicators: only the inserts, rows
# pre-built in memory, executemany (C loop), no merges, no parsing. 16 KiB pages, WAL.
import sqlite3, uuid, time, os, random
N=1_000_000
random.seed(1)
distinct=int(N*0.7)
now="2026-11-29T19:07:14.367922Z"
objs=[]; obs=[]; recs=[]; links=[]
for i in range(N):
    sid="indicator--"+str(uuid.UUID(int=random.getrandbits(128)))
    objs.append((sid,"indicator","2025-01-15T10:00:00.000Z","2.1",2,1,"green",now,"x"*int(os.environ.get("FLOOR_JSON_BYTES","480"))))
for i in range(distinct):
    obs.append(("ipv4-addr", "%d.%d.%d.%d" % (random.randrange(256),random.randrange(256),random.randrange(256),random.randrange(256)) + str(i)))
for i in range(distinct):
    recs.append((i+1,2,1,"green",'{"first_seen":"2025-01-15T10:00:00Z","last_seen":"2025-01-15T10:00:00Z","confidence":77,"labels":["anomalous-activity"],"tlp":"green","stix_ids":["indicator--c60c2e46-1e83-4b75-a7ac-b7ad21a6ade0"]}',now,now))
for i in range(N):
    links.append((i+1, (i if i<distinct else random.randrange(distinct))+1))
name="/tmp/floor.db"
for s in ("", "-wal", "-shm"):
    try: os.remove(name+s)
    except FileNotFoundError: pass
c=sqlite3.connect(name, isolation_level=None)
c.execute("pragma page_size=16384"); c.execute("pragma journal_mode=wal"); c.execute("pragma synchronous=normal"); c.execute("pragma cache_size=-393216")
c.executescript("""
create table observables(id integer primary key, kind text not null, value text not null, country text, asn int, network text, registered_domain text, enriched_at text, unique(kind,value));
create table records(id integer primary key, observable_id int not null, org_id int not null, submission_id int not null, tlp text not null, claim text not null, created_at text not null, updated_at text not null, unique(observable_id, org_id));
create index records_org on records(org_id);
create table objects(pk integer primary key, stix_id text not null, stix_type text not null, version text not null, spec_version text not null, org_id int not null, submission_id int not null, tlp text not null, date_added text not null, json text not null, is_latest int not null default 1, is_first int not null default 1, unique(stix_id, version, org_id));
create index objects_added on objects(date_added, pk);
create table object_observables(object_pk int not null, observable_id int not null, primary key(object_pk, observable_id)) without rowid;
create index object_observables_obs on object_observables(observable_id);
""")
t=time.process_time(); w=time.time()
c.execute("begin")
c.executemany("insert into objects(stix_id,stix_type,version,spec_version,org_id,submission_id,tlp,date_added,json) values(?,?,?,?,?,?,?,?,?)", objs)
c.executemany("insert into observables(kind,value) values(?,?)", obs)
c.executemany("insert into records(observable_id,org_id,submission_id,tlp,claim,created_at,updated_at) values(?,?,?,?,?,?,?)", recs)
c.executemany("insert or ignore into object_observables(object_pk,observable_id) values(?,?)", links)
w1=time.time(); t1=time.process_time()
c.execute("commit")
print("schema v6 floor, 1 M indicators (inserts only): cpu %.1f s (commit %.1f) wall %.1f s, db %.0f MB" % (time.process_time()-t, time.process_time()-t1, time.time()-w, os.path.getsize(name)/1e6))
c.close()
for s in ("", "-wal", "-shm"):
    try: os.remove(name+s)
    except FileNotFoundError: pass
