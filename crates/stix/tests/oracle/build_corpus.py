#!/usr/bin/env python3
"""Builds the pattern corpora the Rust oracle tests read, with the OASIS tools' answers.

Run from anywhere with the project venv (after .ci/setup-python):

    .venv/bin/python crates/stix/tests/oracle/build_corpus.py

Writes (both committed; regenerate only when the inputs change):
- crates/stix/tests/patterns/validator_corpus.json: patterns and whether stix2-patterns'
  STIX 2.1 validator accepts them. Sources: handwritten.txt, every pattern found in
  ../shared/data (OASIS examples' indicators, MISP stix2-pattern attributes), the
  upstream stix2-patterns and stix2-matcher v21 test suites, and mechanical mutations of
  valid patterns (truncations, swapped tokens) for more rejects.
- crates/stix/tests/oracle/match_corpus.json: pattern/observation pairs and stix2-matcher's
  answer ("match", "no-match" or "error"). Sources: the upstream stix2-matcher v21 test
  suite (its inputs; the answers are re-asked, not copied from its asserts) and the
  generated cases below, which cover every operator, type pairing and qualifier.
Observations are stored once in "fixtures" and referenced by name, to keep the file small.
"""
import hashlib
import itertools
import json
import os
import random
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "../../../.."))
sys.path.insert(0, HERE)
import oracle_lib  # noqa: E402

PATTERNS_DIR = os.path.join(HERE, "..", "patterns")
DATA = os.environ.get("THREATGATE_SHARED_DATA", os.path.join(ROOT, "..", "shared", "data"))


def upstream_records():
    """Inputs of every 2.1 validate/match call the upstream suites make."""
    import stix2matcher
    import stix2patterns
    dirs = [os.path.join(os.path.dirname(stix2matcher.__file__), "test", "v21"),
            os.path.join(os.path.dirname(stix2patterns.__file__), "test", "v21")]
    with tempfile.NamedTemporaryFile(suffix=".jsonl", delete=False) as f:
        path = f.name
    env = dict(os.environ, UPSTREAM_RECORD=path, PYTHONPATH=HERE)
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "upstream_plugin",
                    "-p", "no:cacheprovider", *dirs], env=env, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=False)
    with open(path) as f:
        recs = [json.loads(line) for line in f if line.strip()]
    os.unlink(path)
    return recs


def data_patterns():
    """Every STIX pattern in the shared real data."""
    found = []

    def walk(v):
        if isinstance(v, dict):
            if isinstance(v.get("pattern"), str) and v.get("pattern_type", "stix") == "stix":
                found.append(v["pattern"])
            if v.get("type") == "stix2-pattern" and isinstance(v.get("value"), str):
                found.append(v["value"])
            for x in v.values():
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)

    for dirpath, _, files in os.walk(DATA):
        for name in files:
            if not name.endswith(".json"):
                continue
            p = os.path.join(dirpath, name)
            if os.path.getsize(p) > 20_000_000:
                continue
            try:
                with open(p, encoding="utf-8") as f:
                    walk(json.load(f))
            except (ValueError, UnicodeDecodeError):
                continue
    return sorted(set(found))


def handwritten():
    with open(os.path.join(PATTERNS_DIR, "handwritten.txt"), encoding="utf-8") as f:
        return [line.rstrip("\n") for line in f if line.strip() and not line.startswith("#")]


def mutations(valid, rng, n):
    """Small corruptions of valid patterns: most become invalid, some stay valid."""
    out = set()
    edits = ["", "]", "[", "(", ")", "'", "AND", "OR", "NOT", "=", ",", ".", ":", "*", "5",
             " WITHIN", "SECONDS", "h'", "t'", "\\", "-", "+"]
    while len(out) < n:
        p = rng.choice(valid)
        k = rng.randrange(4)
        i = rng.randrange(len(p) + 1)
        if k == 0:
            m = p[:i]
        elif k == 1:
            m = p[:i] + rng.choice(edits) + p[i:]
        elif k == 2:
            j = min(len(p), i + rng.randrange(1, 4))
            m = p[:i] + p[j:]
        else:
            m = p[:i] + rng.choice(edits) + p[min(len(p), i + 1):]
        if m.strip():
            out.add(m)
    return sorted(out)


# ---------------------------------------------------------------------------------------
# Generated match cases

def od(first, last, n, objects, oid="0"):
    return {"type": "observed-data", "id": "observed-data--%s" % oid, "first_observed": first,
            "last_observed": last, "number_observed": n, "objects": objects}


def fixtures():
    rich = {
        "0": {"type": "ipv4-addr", "value": "198.51.100.7"},
        "1": {"type": "ipv6-addr", "value": "2001:db8::1"},
        "2": {"type": "domain-name", "value": "evil.example", "resolves_to_refs": ["0", "9x"]},
        "3": {"type": "network-traffic", "src_ref": "0", "dst_ref": "1", "dst_port": 443,
              "src_port": 50000, "protocols": ["ipv4", "tcp", "tls"],
              "extensions": {"http-request-ext": {"request_method": "get", "request_value": "/x",
                                                  "request_header": {"Accept-Encoding": "gzip, br"}}}},
        "4": {"type": "file", "name": "Report.PDF", "size": 1024, "x_ratio": 0.5, "x_flag": True,
              "x_list": [1, 2, 3], "x_null": None, "x_big": 18446744073709551615,
              "mtime": "2020-01-01T10:00:00Z", "x_badtime": "yesterday",
              "hashes": {"MD5": "d41d8cd98f00b204e9800998ecf8427e",
                         "SHA-256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
              "x_data_hex": "68656c6c6f", "x_nonlatin": "h\u0113llo"},
        "5": {"type": "email-message", "from_ref": "6", "to_refs": ["6", "7"],
              "subject": "Hello\nWorld", "is_multipart": False, "x_trailing": "line\n"},
        "6": {"type": "email-addr", "value": "a@evil.example"},
        "7": {"type": "email-addr", "value": "b@good.example"},
        "8": {"type": "url", "value": "http://evil.example/a?b=c"},
        "9": {"type": "user-account", "x_nfc": "caf\u00e9", "x_nfd": "cafe\u0301", "user_id": "1007"},
        "10": {"type": "artifact", "payload_bin": "aGVsbG8=", "mime_type": "text/plain"},
        "11": {"type": "x-net", "cidr": "10.0.0.0/8", "ip": "10.1.2.3", "v6cidr": "2001:db8::/32",
               "shortip": "10.1", "badip": "300.1.1.1"},
    }
    fx = {"rich20": [od("2020-01-01T00:00:00Z", "2020-01-01T00:00:10Z", 1, rich)]}
    # The same content in STIX 2.1 form: SCOs with ids, observed-data with object_refs.
    fx["rich21"] = oracle_lib.to_oracle_input(fx["rich20"])
    t = lambda s: "2020-01-01T00:%s" % s
    dom = lambda v, first, last, n=1, oid="x": od(t(first), t(last), n,
                                                  {"0": {"type": "domain-name", "value": v}}, oid)
    fx["seq"] = [dom("a.example", "00:00Z", "00:00Z", 1, "1"), dom("b.example", "00:30Z", "00:40Z", 1, "2"),
                 dom("c.example", "01:00Z", "01:00Z", 1, "3"), dom("a.example", "05:00Z", "05:00Z", 1, "4")]
    fx["multi"] = [dom("a.example", "00:00Z", "00:10Z", 3, "1"), dom("b.example", "00:05Z", "00:05Z", 2, "2")]
    fx["overlap"] = [dom("a.example", "00:00Z", "10:00Z", 1, "1"), dom("b.example", "02:00Z", "03:00Z", 1, "2")]
    fx["empty"] = []
    fx["bad_count"] = [od(t("00:00Z"), t("00:00Z"), 0, {"0": {"type": "domain-name", "value": "a.example"}})]
    fx["bad_time"] = [od("2020-01-01", t("00:00Z"), 1, {"0": {"type": "domain-name", "value": "a.example"}})]
    return fx


RICH_PATHS = ["file:size", "file:x_ratio", "file:name", "file:x_flag", "file:mtime", "file:x_null",
              "file:x_list[*]", "file:x_data_hex", "artifact:payload_bin", "file:x_big", "file:x_badtime",
              "file:x_nonlatin"]
RICH_LITERALS = ["1024", "1024.0", "5", "-1", "0.5", "'Report.PDF'", "'report.pdf'", "true", "false",
                 "t'2020-01-01T10:00:00Z'", "h'68656c6c6f'", "b'aGVsbG8='", "'hello'", "2",
                 "18446744073709551615"]
OPS = ["=", "!=", "<", ">", "<=", ">=", "NOT =", "NOT <"]


def generated_cases():
    cases = []
    for fixture in ["rich20"]:
        for path, lit, op in itertools.product(RICH_PATHS, RICH_LITERALS, OPS):
            if op in ("<", ">", "<=", ">=", "NOT <") and lit in ("true", "false"):
                continue  # grammar error, covered by the validator corpus
            cases.append(("[%s %s %s]" % (path, op, lit), fixture))
    rich = [
        "[ipv4-addr:value = '198.51.100.7']",
        "[ipv4-addr:value ISSUBSET '198.51.100.0/24']",
        "[ipv4-addr:value ISSUBSET '198.51.0.0/16']",
        "[ipv4-addr:value ISSUBSET '198.52.0.0/16']",
        "[ipv4-addr:value NOT ISSUBSET '10.0.0.0/8']",
        "[ipv4-addr:value ISSUBSET '198.51.100.7/32']",
        "[ipv4-addr:value ISSUBSET '0.0.0.0/0']",
        "[ipv4-addr:value ISSUBSET '198.51.100.7']",
        "[ipv4-addr:value ISSUBSET 'nonsense/8']",
        "[x-net:cidr ISSUPERSET '10.9.9.9']",
        "[x-net:cidr ISSUPERSET '10.9.0.0/16']",
        "[x-net:cidr ISSUPERSET '11.0.0.0/16']",
        "[x-net:cidr ISSUPERSET '10.0.0.0/7']",
        "[x-net:cidr NOT ISSUPERSET '11.0.0.1']",
        "[x-net:ip ISSUPERSET '10.1.2.3']",
        "[x-net:ip ISSUBSET '10.0.0.0/8']",
        "[x-net:shortip ISSUBSET '10.0.0.0/8']",
        "[x-net:badip ISSUBSET '10.0.0.0/8']",
        "[x-net:cidr ISSUBSET '10.0.0.0/8']",
        "[x-net:cidr ISSUBSET '10.0.0.0/9']",
        "[ipv6-addr:value ISSUBSET '2001:db8::/32']",
        "[x-net:v6cidr ISSUPERSET '2001:db8::1']",
        "[file:size ISSUBSET '10.0.0.0/8']",
        "[domain-name:value = 'evil.example']",
        "[domain-name:value LIKE '%.example']",
        "[domain-name:value LIKE 'evil._xample']",
        "[domain-name:value LIKE 'EVIL%']",
        "[domain-name:value LIKE 'evil.example%']",
        "[domain-name:value NOT LIKE '%good%']",
        "[domain-name:value LIKE 'evil.exampl']",
        "[domain-name:value LIKE '%']",
        "[domain-name:value LIKE '(evil).example']",
        "[domain-name:value LIKE 'e[v]il.example']",
        "[email-message:subject LIKE 'Hello%']",
        "[email-message:subject LIKE 'Hello_World']",
        "[email-message:subject MATCHES 'Hello.World']",
        "[email-message:subject MATCHES '(?s)Hello.World']",
        "[email-message:subject MATCHES '^World']",
        "[email-message:subject MATCHES '(?m)^World']",
        "[email-message:subject MATCHES 'Hello$']",
        "[email-message:x_trailing MATCHES 'line$']",
        "[email-message:x_trailing LIKE 'line']",
        "[email-message:x_trailing = 'line']",
        "[email-message:x_trailing MATCHES 'line\\Z']",
        "[domain-name:value MATCHES 'evil']",
        "[domain-name:value MATCHES '^evil\\.example$']",
        "[domain-name:value MATCHES '^EVIL']",
        "[domain-name:value MATCHES '(?i)^EVIL']",
        "[domain-name:value MATCHES '[a-z]+\\.[a-z]{7}']",
        "[domain-name:value MATCHES '\\d']",
        "[domain-name:value NOT MATCHES '\\d']",
        "[domain-name:value MATCHES '(e)vil\\1']",
        "[domain-name:value MATCHES '(?<=e)vil']",
        "[domain-name:value MATCHES '[']",
        "[domain-name:value MATCHES '(.)\\\\1']",
        "[url:value MATCHES '(/)\\\\1']",
        "[domain-name:value MATCHES 'evil(?=\\\\.)']",
        "[domain-name:value MATCHES 'evil(?!\\\\.)']",
        "[file:size MATCHES '1024']",
        "[artifact:payload_bin MATCHES 'hel+o']",
        "[artifact:payload_bin MATCHES '^hello$']",
        "[artifact:payload_bin LIKE 'hell_']",
        "[artifact:payload_bin = 'hello']",
        "[artifact:payload_bin > 'hella']",
        "[artifact:payload_bin < 'h\u0113llo']",
        "[artifact:payload_bin = 'h\u0113llo']",
        "[file:x_data_hex = artifact:payload_bin]",
        "[file:x_data_hex MATCHES 'ell']",
        "[user-account:x_nfc = 'caf\u00e9']",
        "[user-account:x_nfd = 'caf\u00e9']",
        "[user-account:x_nfd LIKE 'caf\u00e9']",
        "[user-account:x_nfd MATCHES '^caf\u00e9$']",
        "[user-account:x_nfc LIKE 'cafe\u0301']",
        "[user-account:x_nfc MATCHES 'cafe\u0301']",
        "[user-account:x_nfc > 'cafe']",
        "[network-traffic:src_ref.value = '198.51.100.7']",
        "[network-traffic:dst_ref.value = '2001:db8::1']",
        "[network-traffic:src_ref.type = 'ipv4-addr']",
        "[network-traffic:src_ref = '0']",
        "[network-traffic:src_ref.value ISSUBSET '198.51.100.0/24']",
        "[network-traffic:protocols[*] = 'tls']",
        "[network-traffic:protocols[2] = 'tls']",
        "[network-traffic:protocols[0] = 'tls']",
        "[network-traffic:protocols[5] = 'tls']",
        "[network-traffic:protocols[*] NOT = 'tls']",
        "[network-traffic:protocols[*] IN ('tcp', 'udp')]",
        "[network-traffic:protocols = 'tls']",
        "[network-traffic:protocols IN ('tls')]",
        "[network-traffic:dst_port IN (80, 443)]",
        "[network-traffic:dst_port IN (80.0, 443.0)]",
        "[network-traffic:dst_port NOT IN (80, 8080)]",
        "[network-traffic:dst_port IN ()]",
        "[network-traffic:dst_port NOT IN ()]",
        "[network-traffic:dst_port IN ('443')]",
        "[network-traffic:dst_port IN (80, 'x')]",
        "[network-traffic:dst_port IN (true, false)]",
        "[file:x_flag IN (1, 2)]",
        "[file:x_flag IN (true)]",
        "[file:x_flag = 1]",
        "[file:size IN (1024.0)]",
        "[file:mtime IN (t'2020-01-01T10:00:00Z', t'2021-01-01T10:00:00Z')]",
        "[file:mtime IN (t'2021-01-01T10:00:00Z')]",
        "[file:x_badtime IN (t'2021-01-01T10:00:00Z')]",
        "[file:x_data_hex IN (h'68656c6c6f')]",
        "[file:x_data_hex IN ('hello')]",
        "[file:x_list IN (1)]",
        "[file:x_null IN (1)]",
        "[file:name IN ('Report.PDF', 'x')]",
        "[network-traffic:extensions.'http-request-ext'.request_method = 'get']",
        "[network-traffic:extensions.'http-request-ext'.request_header.'Accept-Encoding' LIKE '%gzip%']",
        "[network-traffic:src_port > 49151 AND network-traffic:src_port < 65536]",
        "[network-traffic:src_port > 49151 AND network-traffic:dst_port = 80]",
        "[network-traffic:src_port > 49151 OR network-traffic:dst_port = 80]",
        "[network-traffic:dst_port = 443 AND file:size = 1024]",
        "[network-traffic:dst_port = 443 OR file:size = 1024]",
        "[(network-traffic:dst_port = 443 OR file:size = 1) AND network-traffic:protocols[0] = 'ipv4']",
        "[email-message:from_ref.value = 'a@evil.example']",
        "[email-message:to_refs[*].value = 'b@good.example']",
        "[email-message:to_refs[1].value = 'b@good.example']",
        "[email-message:to_refs[0].value = 'b@good.example']",
        "[email-message:to_refs.value = 'b@good.example']",
        "[email-message:to_refs[*] = '6']",
        "[email-message:from_ref[0].value = 'a@evil.example']",
        "[email-message:is_multipart = false]",
        "[email-message:is_multipart != true]",
        "[email-message:is_multipart = 0]",
        "[domain-name:resolves_to_refs[*].value = '198.51.100.7']",
        "[domain-name:resolves_to_refs[1].value = '198.51.100.7']",
        "[domain-name:resolves_to_refs[0].value = '198.51.100.7']",
        "[file:hashes.MD5 = 'd41d8cd98f00b204e9800998ecf8427e']",
        "[file:hashes.'SHA-256' = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855']",
        "[file:hashes.'SHA-256' = 'E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855']",
        "[file:hashes.md5 = 'd41d8cd98f00b204e9800998ecf8427e']",
        "[file:hashes[*] = 'd41d8cd98f00b204e9800998ecf8427e']",
        "[file:'name' = 'Report.PDF']",
        "[file:x_list[*] > 2]",
        "[file:x_list[*] NOT > 2]",
        "[file:x_list[3] = 3]",
        "[file:x_list[2] = 3]",
        "[EXISTS file:name]",
        "[EXISTS file:nonexistent]",
        "[NOT EXISTS file:nonexistent]",
        "[NOT EXISTS file:name]",
        "[EXISTS file:x_null]",
        "[EXISTS file:hashes.MD5]",
        "[EXISTS email-message:to_refs[*].value]",
        "[EXISTS file:name AND file:size = 1024]",
        "[EXISTS file:name OR file:size = 1]",
        "[file:nonexistent != 'x']",
        "[file:nonexistent NOT = 'x']",
        "[observed-data:number_observed = 1]",
        "[indicator:name = 'x']",
        "[url:value = 'http://evil.example/a?b=c']",
        "[url:value LIKE 'http://evil.example/%']",
        "[url:value = 'HTTP://EVIL.EXAMPLE/a?b=c']",
        "[email-addr:value = 'a@evil.example'] AND [email-addr:value = 'b@good.example']",
        "[email-addr:value = 'a@evil.example'] AND [email-addr:value = 'a@evil.example']",
        "[email-addr:value = 'a@evil.example'] OR [email-addr:value = 'nobody@x.example']",
        "[email-addr:value = 'a@evil.example'] FOLLOWEDBY [email-addr:value = 'b@good.example']",
        "[email-addr:value = 'a@evil.example'] REPEATS 1 TIMES",
        "[email-addr:value = 'a@evil.example'] REPEATS 2 TIMES",
        "[email-addr:value = 'a@evil.example'] WITHIN 1 SECONDS",
        "[email-addr:value = 'a@evil.example'] START t'2020-01-01T00:00:00Z' STOP t'2020-01-01T00:00:01Z'",
        "[email-addr:value = 'a@evil.example'] START t'2020-01-01T00:00:10Z' STOP t'2020-01-01T00:00:11Z'",
        "[email-addr:value = 'a@evil.example'] START t'2019-12-31T23:59:50Z' STOP t'2020-01-01T00:00:00Z'",
        "[email-addr:value = 'a@evil.example'] START t'2020-01-02T00:00:00Z' STOP t'2020-01-01T00:00:00Z'",
        "[email-addr:value = 'a@evil.example'] START t'2020-02-30T00:00:00Z' STOP t'2020-03-01T00:00:00Z'",
        "[email-addr:value = 'a@evil.example'] WITHIN 0 SECONDS",
        "[email-addr:value = 'a@evil.example'] REPEATS 0 TIMES",
        "[file:mtime = t'2020-01-01T10:00:00.000Z']",
        "[file:mtime = t'2020-01-01T10:00:00.0000001Z']",
        "[file:mtime > t'2020-01-01T09:59:59.999999Z']",
        "[file:mtime = t'2020-02-30T10:00:00Z']",
        "[file:mtime = t'2020-12-31T23:59:60Z']",
        "[file:name = 'Report.PDF'] AND [file:size = 1024]",
    ]
    cases += [(p, f) for p in rich for f in ("rich20", "rich21")]
    A, B, C = ("[domain-name:value = '%s.example']" % x for x in "abc")
    seq = [
        A, B, C, "%s AND %s" % (A, B), "%s AND %s" % (A, A), "%s OR %s" % (A, B),
        "%s FOLLOWEDBY %s" % (A, B), "%s FOLLOWEDBY %s" % (B, A), "%s FOLLOWEDBY %s" % (C, A),
        "%s FOLLOWEDBY %s FOLLOWEDBY %s" % (A, B, C), "%s FOLLOWEDBY %s FOLLOWEDBY %s" % (B, C, A),
        "%s FOLLOWEDBY %s FOLLOWEDBY %s" % (C, B, A),
        "%s REPEATS 2 TIMES" % A, "%s REPEATS 3 TIMES" % A, "%s REPEATS 2 TIMES" % B,
        "(%s AND %s) WITHIN 40 SECONDS" % (A, B), "(%s AND %s) WITHIN 30 SECONDS" % (A, B),
        "(%s AND %s) WITHIN 29.5 SECONDS" % (A, B), "(%s AND %s) WITHIN 60 SECONDS" % (A, C),
        "(%s AND %s) WITHIN 59.999 SECONDS" % (A, C), "(%s FOLLOWEDBY %s) WITHIN 300 SECONDS" % (C, A),
        "(%s FOLLOWEDBY %s) WITHIN 299 SECONDS" % (C, A), "%s REPEATS 2 TIMES WITHIN 300 SECONDS" % A,
        "%s REPEATS 2 TIMES WITHIN 299 SECONDS" % A, "(%s REPEATS 2 TIMES) WITHIN 1 SECONDS" % A,
        "%s START t'2020-01-01T00:00:00Z' STOP t'2020-01-01T00:00:01Z'" % A,
        "%s START t'2020-01-01T00:00:35Z' STOP t'2020-01-01T00:00:36Z'" % B,
        "%s START t'2020-01-01T00:00:40Z' STOP t'2020-01-01T00:00:41Z'" % B,
        "%s START t'2020-01-01T00:00:20Z' STOP t'2020-01-01T00:00:30Z'" % B,
        "%s START t'2020-01-01T00:00:20Z' STOP t'2020-01-01T00:00:30.000001Z'" % B,
        "%s REPEATS 2 TIMES START t'2020-01-01T00:00:00Z' STOP t'2020-01-01T00:01:00Z'" % A,
        "%s REPEATS 2 TIMES START t'2020-01-01T00:00:00Z' STOP t'2020-01-01T00:10:00Z'" % A,
        "(%s OR %s) REPEATS 3 TIMES" % (A, B), "(%s OR %s) REPEATS 4 TIMES" % (A, B),
        "(%s AND %s) REPEATS 2 TIMES" % (A, B), "(%s OR %s) AND %s" % (A, B, C),
        "(%s FOLLOWEDBY %s) OR (%s FOLLOWEDBY %s)" % (C, B, B, C),
        "%s AND (%s OR %s) WITHIN 10 SECONDS" % (C, A, B),
        "(%s AND %s AND %s) WITHIN 60 SECONDS" % (A, B, C), "(%s AND %s AND %s) WITHIN 300 SECONDS" % (A, B, C),
        "([domain-name:value LIKE '%%.example'] REPEATS 4 TIMES) WITHIN 300 SECONDS",
        "[domain-name:value LIKE '%.example'] REPEATS 5 TIMES",
        "([domain-name:value = 'a.example'] WITHIN 1 SECONDS) WITHIN 2 SECONDS",
        "[domain-name:value = 'zz.example'] OR %s" % C,
    ]
    cases += [(p.replace("%%", "%"), f) for p in seq for f in ("seq",)]
    multi = [A, "%s REPEATS 3 TIMES" % A, "%s REPEATS 4 TIMES" % A, "%s AND %s" % (A, A),
             "%s AND %s AND %s" % (A, A, A), "%s AND %s AND %s AND %s" % (A, A, A, A),
             "(%s AND %s) REPEATS 2 TIMES" % (A, B), "(%s AND %s) REPEATS 3 TIMES" % (A, B),
             "%s FOLLOWEDBY %s" % (A, A), "%s FOLLOWEDBY %s" % (B, A), "%s FOLLOWEDBY %s" % (A, B),
             "(%s OR %s) REPEATS 5 TIMES" % (A, B), "(%s OR %s) REPEATS 6 TIMES" % (A, B),
             "(%s AND %s) WITHIN 1 SECONDS" % (A, B), "(%s REPEATS 2 TIMES AND %s) REPEATS 2 TIMES" % (B, A)]
    cases += [(p, "multi") for p in multi]
    overlap = ["%s FOLLOWEDBY %s" % (A, B), "%s FOLLOWEDBY %s" % (B, A),
               "(%s AND %s) WITHIN 1 SECONDS" % (A, B),
               "%s START t'2020-01-01T00:10:00Z' STOP t'2020-01-01T00:11:00Z'" % A,
               "%s START t'2020-01-01T00:09:59Z' STOP t'2020-01-01T00:10:00Z'" % A]
    cases += [(p, "overlap") for p in overlap]
    cases += [(A, "empty"), (A, "bad_count"), (A, "bad_time"), ("%s OR [x:y = 1]" % A, "empty")]
    return cases


# ---------------------------------------------------------------------------------------
# Random differential cases (seeded): nested observation expressions with qualifiers over
# small timelines, and comparison expressions over values of every JSON type.

def _ts(sec):
    return "2020-01-01T%02d:%02d:%02dZ" % (sec // 3600, (sec // 60) % 60, sec % 60)


def random_observation_cases(rng, n):
    def fixture():
        obs = []
        for i in range(rng.randrange(1, 6)):
            f = rng.randrange(0, 120)
            last = f + rng.choice([0, 0, 5, 30])
            objs = {str(k): {"type": "domain-name", "value": rng.choice("abc") + ".example", "n": rng.randrange(3)}
                    for k in range(rng.randrange(1, 3))}
            obs.append(od(_ts(f), _ts(last), rng.choice([1, 1, 1, 2, 3]), objs, str(i)))
        return obs

    def leaf():
        v = rng.choice("abc")
        r = rng.random()
        if r < 0.6:
            return "[domain-name:value = '%s.example']" % v
        if r < 0.8:
            return "[domain-name:value = '%s.example' AND domain-name:n = %d]" % (v, rng.randrange(3))
        return "[domain-name:n > %d]" % rng.randrange(3)

    def expr(d):
        if d == 0 or rng.random() < 0.3:
            e = leaf()
        else:
            e = "(%s %s %s)" % (expr(d - 1), rng.choice(["AND", "OR", "FOLLOWEDBY"]), expr(d - 1))
        r = rng.random()
        if r < 0.15:
            e = "%s WITHIN %d SECONDS" % (e, rng.choice([1, 5, 30, 60]))
        elif r < 0.25:
            e = "%s REPEATS %d TIMES" % (e, rng.choice([1, 2, 3]))
        elif r < 0.32:
            a = rng.randrange(0, 120)
            e = "%s START t'%s' STOP t'%s'" % (e, _ts(a), _ts(a + rng.randrange(0, 60)))
        return e

    return [(expr(3), fixture()) for _ in range(n)]


_VALS = [0, 1, -1, 5, 2.5, -0.5, 1.0, True, False, None, "", "a", "abc", "ABC", "a%b", "a_c", "10.0.0.1",
         "10.0.0.0/8", "2020-01-01T00:00:00Z", "2020-01-01T00:00:00.5Z", "h\u00e9llo", "he\u0301llo", "x\ny",
         [1, 2], ["a", "b"], {"k": 1}, 18446744073709551615, -9223372036854775808, 1e300, "0", "true"]
_LITS = ["0", "1", "-1", "5", "2.5", "-0.5", "1.0", "true", "false", "''", "'a'", "'abc'", "'ABC'",
         "'10.0.0.1'", "t'2020-01-01T00:00:00Z'", "t'2020-01-01T00:00:00.5Z'", "h'61'", "h'616263'", "b'YWJj'",
         "'h\u00e9llo'", "'x\ny'", "18446744073709551615", "'0'", "'true'"]
_STRS = ["'a'", "'a%'", "'%b%'", "'a_c'", "'%'", "''", "'ABC'", "'h\u00e9llo'", "'.*'", "'^a'", "'[ab]+$'",
         "'x.y'", "'(?i)abc'", "'10.0.0.0/8'", "'10.0.0.1'", "'10.0.0.0/30'", "'0.0.0.0/0'", "'x\\\\y'"]
_SETS = [["1", "2.5", "-1", "0"], ["'a'", "'abc'", "''"], ["true", "false"], ["h'61'", "b'YWJj'"],
         ["t'2020-01-01T00:00:00Z'"], ["1", "'a'"]]


def random_comparison_cases(rng, n):
    def obj():
        o = {"type": "t"}
        for k in ("p", "q", "r_hex"):
            if rng.random() < 0.8:
                o[k] = rng.choice(_VALS)
        if "r_hex" in o:
            o["r_hex"] = rng.choice(["616263", "61", "", "ff00"])
        return o

    def test():
        path = rng.choice(["t:p", "t:q", "t:r_hex", "t:p[*]", "t:p[0]", "t:p.k"])
        neg = "NOT " if rng.random() < 0.2 else ""
        r = rng.random()
        if r < 0.5:
            return "%s %s%s %s" % (path, neg, rng.choice(["=", "!=", "<", ">", "<=", ">="]), rng.choice(_LITS))
        if r < 0.65:
            kind = rng.choice(_SETS)
            return "%s %sIN (%s)" % (path, neg, ", ".join(rng.choice(kind) for _ in range(rng.randrange(0, 4))))
        op = rng.choice(["LIKE", "MATCHES", "ISSUBSET", "ISSUPERSET"])
        return "%s %s%s %s" % (path, neg, op, rng.choice(_STRS))

    def cmp(d):
        if d == 0 or rng.random() < 0.5:
            return test()
        return "(%s %s %s)" % (cmp(d - 1), rng.choice(["AND", "OR"]), cmp(d - 1))

    out = []
    for _ in range(n):
        objs = {str(k): obj() for k in range(rng.randrange(1, 3))}
        out.append(("[%s]" % cmp(2), [od(_ts(0), _ts(0), 1, objs)]))
    return out


def fixture_key(observations):
    return "up-" + hashlib.sha256(json.dumps(observations, sort_keys=True).encode()).hexdigest()[:12]


def main():
    rng = random.Random(20261129)
    recs = upstream_records()
    up_validate = sorted({r["pattern"] for r in recs if r["kind"] == "validate"})
    up_match = [r for r in recs if r["kind"] == "match"]

    sources = {}
    for p in handwritten():
        sources.setdefault(p, "handwritten")
    for p in data_patterns():
        sources.setdefault(p, "shared-data")
    for p in up_validate:
        sources.setdefault(p, "stix2-patterns tests")
    for r in up_match:
        sources.setdefault(r["pattern"], "stix2-matcher tests")
    # Nesting: shallow is fine everywhere; very deep is refused by both (our MAX_NESTING, the
    # validator's recursion limit); in between the limits differ (see known_differences.json).
    for depth in (30, 60, 99, 150, 300, 1000):
        sources.setdefault("(" * depth + "[a:b = 1]" + ")" * depth, "nesting")
        sources.setdefault("[" + "(" * depth + "a:b = 1" + ")" * depth + "]", "nesting")
    valid_now = [p for p in sources if oracle_lib.validate(p) and len(p) < 500]
    for p in mutations(sorted(valid_now), rng, 250):
        sources.setdefault(p, "mutation")
    validator = [{"pattern": p, "valid": oracle_lib.validate(p), "source": s}
                 for p, s in sources.items()]

    fx = fixtures()
    cases = []
    for r in up_match:
        key = fixture_key(r["observations"])
        fx.setdefault(key, r["observations"])
        cases.append((r["pattern"], key, "stix2-matcher tests"))
    cases += [(p, f, "generated") for p, f in generated_cases()]
    # Real data: the OASIS "sighting of observed-data" bundle (STIX 2.1 object_refs form,
    # SDOs mixed in) against every shared-data indicator and patterns on its own content.
    real = os.path.join(DATA, "oasis-stix-examples", "sighting-of-observed-data.json")
    if os.path.exists(real):
        with open(real, encoding="utf-8") as f:
            fx["oasis-sighting-of-observed-data"] = [json.load(f)]
        own = [
            "[file:hashes.MD5 = '1717b7fff97d37a1e1a0029d83492de1']",
            "[file:hashes.'SHA-1' = 'c79a326f8411e9488bdc3779753e1e3489aaedea']",
            "[file:name = 'resume.pdf' AND file:size > 80000]",
            "[file:name = 'resume.pdf' AND file:size > 90000]",
            "[windows-registry-key:key LIKE 'HKEY_LOCAL_MACHINE\\\\SYSTEM\\\\%']",
            "[windows-registry-key:key MATCHES 'WSALG2$']",
            "[file:name = 'resume.pdf'] AND [windows-registry-key:key MATCHES 'WSALG2$']",
            "[file:name = 'resume.pdf'] FOLLOWEDBY [windows-registry-key:key MATCHES 'WSALG2$']",
            "([file:name = 'resume.pdf'] AND [windows-registry-key:key MATCHES 'WSALG2$']) WITHIN 60 SECONDS",
            "[file:name = 'resume.pdf'] START t'2017-02-27T00:00:00Z' STOP t'2017-02-28T00:00:00Z'",
            "[file:name = 'resume.pdf'] START t'2017-03-01T00:00:00Z' STOP t'2017-03-02T00:00:00Z'",
            "[identity:name = 'x']",
            "[observed-data:number_observed > 0]",
        ]
        for p in own + [q for q, src in sources.items() if src == "shared-data"]:
            cases.append((p, "oasis-sighting-of-observed-data", "shared-data"))
    for name, gen in (("rnd-obs", random_observation_cases(random.Random(1), 250)),
                      ("rnd-cmp", random_comparison_cases(random.Random(2), 400))):
        for i, (p, obs) in enumerate(gen):
            fx["%s-%d" % (name, i)] = obs
            cases.append((p, "%s-%d" % (name, i), "random"))
    seen = set()
    match_cases = []
    for p, f, s in cases:
        if (p, f) in seen:
            continue
        seen.add((p, f))
        match_cases.append({"pattern": p, "fixture": f, "expected": oracle_lib.match(p, fx[f]), "source": s})

    with open(os.path.join(PATTERNS_DIR, "validator_corpus.json"), "w", encoding="utf-8") as f:
        json.dump({"oracle": "stix2-patterns validator, STIX 2.1", "patterns": validator}, f,
                  ensure_ascii=False, indent=0)
        f.write("\n")
    with open(os.path.join(HERE, "match_corpus.json"), "w", encoding="utf-8") as f:
        json.dump({"oracle": "stix2-matcher, STIX 2.1 mode", "fixtures": fx, "cases": match_cases}, f,
                  ensure_ascii=False, separators=(",", ":"))
        f.write("\n")
    n_valid = sum(1 for v in validator if v["valid"])
    print("validator corpus: %d patterns (%d valid, %d invalid)" % (len(validator), n_valid, len(validator) - n_valid))
    counts = {}
    for c in match_cases:
        counts[c["expected"]] = counts.get(c["expected"], 0) + 1
    print("match corpus: %d cases %s, %d fixtures" % (len(match_cases), counts, len(fx)))


if __name__ == "__main__":
    main()
