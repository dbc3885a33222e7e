#!/usr/bin/env python3
# Run: python3 bench/sqlite_floor_candidate.py   (standard library only; ~1 GB of temp space, ~30 s)
# Compare with bench/sqlite_floor.py (schema v6) in the same minute: the floor of a leaner layout.
# A candidate bulk layout (not threatgate's schema): object bodies outside the B-trees
# (appended to one file), records WITHOUT ROWID keyed by (observable_id, org_id), links
# folded into objects for single-observable indicators, no date_added index.
import sqlite3, uuid, time, os, random
N=1_000_000
random.seed(1)
distinct=int(N*0.7)
now="2026-11-29T19:07:14.367922Z"
objs=[]; obs=[]; recs=[]
for i in range(N):
    sid="indicator--"+str(uuid.UUID(int=random.getrandbits(128)))
    objs.append((sid,"indicator","2025-01-15T10:00:00.000Z",2,1,"green",now,i*500,480,(i if i<distinct else random.randrange(distinct))+1))
for i in range(distinct):
    obs.append(("ipv4-addr", "%d.%d.%d.%d" % (random.randrange(256),random.randrange(256),random.randrange(256),random.randrange(256)) + str(i)))
for i in range(distinct):
    recs.append((i+1,2,1,"green",'{"first_seen":"2025-01-15T10:00:00Z","last_seen":"2025-01-15T10:00:00Z","confidence":77,"labels":["anomalous-activity"],"tlp":"green","stix_ids":["indicator--c60c2e46-1e83-4b75-a7ac-b7ad21a6ade0"]}',now))
name="/tmp/floor_candidate.db"
for s in ("", "-wal", "-shm", ".bodies"):
    try: os.remove(name+s)
    except FileNotFoundError: pass
c=sqlite3.connect(name, isolation_level=None)
c.execute("pragma page_size=16384"); c.execute("pragma journal_mode=wal"); c.execute("pragma synchronous=normal"); c.execute("pragma cache_size=-393216")
c.executescript("""
create table observables(id integer primary key, kind text not null, value text not null, country text, asn int, network text, registered_domain text, enriched_at text, unique(kind,value));
create table records(observable_id int not null, org_id int not null, submission_id int not null, tlp text not null, claim text not null, updated_at text not null, primary key(observable_id, org_id)) without rowid;
create table objects(pk integer primary key, stix_id text not null, stix_type text not null, version text not null, org_id int not null, submission_id int not null, tlp text not null, date_added text not null, body_offset int not null, body_len int not null, observable_id int, unique(stix_id, version, org_id));
create index objects_obs on objects(observable_id);
""")
body=b"x"*480
t=time.process_time(); w=time.time()
with open(name+".bodies","wb") as f:
    for i in range(N): f.write(body)
    f.flush(); os.fsync(f.fileno())
c.execute("begin")
c.executemany("insert into objects(stix_id,stix_type,version,org_id,submission_id,tlp,date_added,body_offset,body_len,observable_id) values(?,?,?,?,?,?,?,?,?,?)", objs)
c.executemany("insert into observables(kind,value) values(?,?)", obs)
c.executemany("insert into records(observable_id,org_id,submission_id,tlp,claim,updated_at) values(?,?,?,?,?,?)", recs)
t1=time.process_time()
c.execute("commit")
print("candidate layout floor, 1 M indicators: cpu %.1f s (commit %.1f) wall %.1f s, db %.0f MB + bodies %.0f MB" % (time.process_time()-t, time.process_time()-t1, time.time()-w, os.path.getsize(name)/1e6, os.path.getsize(name+".bodies")/1e6))
c.close()
for s in ("", "-wal", "-shm", ".bodies"):
    try: os.remove(name+s)
    except FileNotFoundError: pass
