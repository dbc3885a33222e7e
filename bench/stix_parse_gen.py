#!/usr/bin/env python3
"""Generate a STIX 2.1 bundle of N objects for the bundle-parse benchmark.

usage: bench/stix_parse_gen.py N OUT.json

The mix resembles a partner feed: per group of 10 objects, 7 indicators (C2 IPs, domains,
URLs, file hashes, with labels, confidence, a TLP 2.0 marking, an external reference and a
custom property), 2 ipv4-addr SCOs and 1 relationship. Written as a stream, so N may be in
the millions. Deterministic: the same N gives the same bytes.
"""
import json
import sys
import uuid

NS = uuid.UUID("6ba7b810-9dad-11d1-80b4-00c04fd430c8")
TLP_GREEN = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"
IDENTITY = "identity--b3bca3c2-1f3d-4b54-b44f-dac42c3a8f01"


def uid(kind, i):
    u = uuid.uuid5(NS, "%s-%d" % (kind, i))
    # force version 4 bits so SDO ids look like random v4 ids
    b = bytearray(u.bytes)
    b[6] = (b[6] & 0x0F) | 0x40
    b[8] = (b[8] & 0x3F) | 0x80
    return "%s--%s" % (kind, uuid.UUID(bytes=bytes(b)))


def obj(i):
    k = i % 10
    ip = "10.%d.%d.%d" % ((i >> 16) & 255, (i >> 8) & 255, i & 255)
    ts = "2024-%02d-%02dT%02d:%02d:%02d.%03dZ" % (1 + i % 12, 1 + i % 28, i % 24, i % 60, (i * 7) % 60, i % 1000)
    if k < 7:
        if k < 3:
            pattern = "[ipv4-addr:value = '%s']" % ip
        elif k < 5:
            pattern = "[domain-name:value = 'c2-%d.evil.example']" % i
        elif k < 6:
            pattern = "[url:value = 'http://%s/gate.php?id=%d']" % (ip, i)
        else:
            pattern = "[file:hashes.'SHA-256' = '%064x']" % (i * 2654435761)
        return {
            "type": "indicator", "spec_version": "2.1", "id": uid("indicator", i),
            "created_by_ref": IDENTITY, "created": ts, "modified": ts,
            "name": "C2 indicator %d" % i, "indicator_types": ["malicious-activity"],
            "pattern": pattern, "pattern_type": "stix", "valid_from": ts,
            "labels": ["c2", "botnet"], "confidence": i % 101,
            "external_references": [{"source_name": "partner-feed", "external_id": "row-%d" % i}],
            "object_marking_refs": [TLP_GREEN],
            "x_partner_score": {"value": i % 100, "model": "v2"},
        }
    if k < 9:
        return {"type": "ipv4-addr", "spec_version": "2.1", "id": uid("ipv4-addr", i), "value": ip}
    return {
        "type": "relationship", "spec_version": "2.1", "id": uid("relationship", i),
        "created": ts, "modified": ts, "relationship_type": "indicates",
        "source_ref": uid("indicator", i - 1), "target_ref": "malware--31b940d4-6f7f-459a-80ea-9c1f17b5891b",
    }


def main():
    n, out = int(sys.argv[1]), sys.argv[2]
    with open(out, "w", encoding="utf-8") as f:
        f.write('{"type": "bundle", "id": "bundle--5d0092c5-5f74-4287-9642-33f4c354e56d", "objects": [\n')
        for i in range(n):
            if i:
                f.write(",\n")
            f.write(json.dumps(obj(i)))
        f.write("\n]}\n")


if __name__ == "__main__":
    main()
