#!/usr/bin/env python3
"""Write the deliberately broken (and a few valid) STIX objects used by tests/oracle_agreement.rs.

Each case is a one-object bundle `<name>.json`; expected.json maps the file to the rule and
JSON pointer our validator must report (or "valid"). The OASIS validator must agree on
valid/invalid for every file. Run: python3 crates/stix/tests/objects/make_cases.py
"""
import copy
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))

IND = {
    "type": "indicator", "spec_version": "2.1",
    "id": "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
    "created": "2016-04-06T20:03:48.000Z", "modified": "2016-04-06T20:03:48.000Z",
    "name": "C2 server", "description": "Known C2",
    "indicator_types": ["malicious-activity"],
    "pattern": "[ipv4-addr:value = '198.51.100.1']", "pattern_type": "stix",
    "valid_from": "2016-01-01T00:00:00Z",
}
SIGHTING = {
    "type": "sighting", "spec_version": "2.1",
    "id": "sighting--ee20065d-2555-424f-ad9e-0f8428623c75",
    "created": "2016-04-06T20:08:31.000Z", "modified": "2016-04-06T20:08:31.000Z",
    "sighting_of_ref": "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
    "where_sighted_refs": ["identity--b67d30ff-02ac-498a-92f9-32f845f448ff"],
}
MALWARE = {
    "type": "malware", "spec_version": "2.1",
    "id": "malware--31b940d4-6f7f-459a-80ea-9c1f17b5891b",
    "created": "2016-04-06T20:07:09.000Z", "modified": "2016-04-06T20:07:09.000Z",
    "name": "Poison Ivy", "malware_types": ["remote-access-trojan"], "is_family": True,
}
REL = {
    "type": "relationship", "spec_version": "2.1",
    "id": "relationship--44298a74-ba52-4f0c-87a3-1824e67d7fad",
    "created": "2016-04-06T20:06:37.000Z", "modified": "2016-04-06T20:06:37.000Z",
    "relationship_type": "indicates",
    "source_ref": "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
    "target_ref": "malware--31b940d4-6f7f-459a-80ea-9c1f17b5891b",
}
IP = {"type": "ipv4-addr", "spec_version": "2.1", "id": "ipv4-addr--0198f97b-e65d-5025-87e5-58bc39d4bdb4", "value": "1.2.3.4"}
FILE = {"type": "file", "spec_version": "2.1", "id": "file--5a27d487-c542-5f97-a131-a8866b477b46", "name": "a.exe"}
TLP_AMBER_STRICT = {
    "type": "marking-definition", "spec_version": "2.1",
    "id": "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
    "created": "2022-10-01T00:00:00.000Z", "name": "TLP:AMBER+STRICT",
    "extensions": {"extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d": {
        "extension_type": "property-extension", "tlp_2_0": "amber+strict"}},
}


def with_(base, **changes):
    o = copy.deepcopy(base)
    for k, v in changes.items():
        if v is None:
            o.pop(k, None)
        else:
            o[k] = v
    return o


NULL = object()  # a property explicitly set to JSON null

CASES = {
    # name: (objects, expectation) — expectation is "valid" or (rule, pointer)
    "valid--indicator": ([IND], "valid"),
    "valid--sighting": ([SIGHTING], "valid"),
    "valid--tlp2-amber-strict": ([TLP_AMBER_STRICT, with_(IND, object_marking_refs=[TLP_AMBER_STRICT["id"]])], "valid"),
    "valid--custom-properties": ([with_(IND, x_acme_score=7, x_acme_nested={"b": [1, 2.5]})], "valid"),
    "created-after-modified": ([with_(IND, created="2017-01-01T00:00:00.000Z")], ("timestamp-order", "/objects/0/modified")),
    "timestamp-offset": ([with_(IND, created="2016-04-06T20:03:48+00:00", modified="2016-04-06T20:03:48+00:00")], ("timestamp", "/objects/0/created")),
    "timestamp-no-zone": ([with_(IND, valid_from="2016-01-01T00:00:00")], ("timestamp", "/objects/0/valid_from")),
    "id-type-mismatch": ([with_(IND, id="malware--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f")], ("id", "/objects/0/id")),
    "id-bad-uuid": ([with_(IND, id="indicator--8e2e2d2b-17d4-4cbf-938f")], ("id", "/objects/0/id")),
    "missing-pattern": ([with_(IND, pattern=None)], ("required", "/objects/0/pattern")),
    "missing-created": ([with_(MALWARE, created=None)], ("required", "/objects/0/created")),
    "confidence-over-100": ([with_(IND, confidence=101)], ("confidence", "/objects/0/confidence")),
    "spec-version-2-0": ([with_(IND, spec_version="2.0")], ("spec-version", "/objects/0/spec_version")),
    "marking-ref-not-a-marking": ([with_(IND, object_marking_refs=["identity--b67d30ff-02ac-498a-92f9-32f845f448ff"])], ("reference-type", "/objects/0/object_marking_refs/0")),
    "granular-selector-missing-property": ([with_(IND, description=None, granular_markings=[{"marking_ref": "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9", "selectors": ["description"]}])], ("marking", "/objects/0/granular_markings/0/selectors/0")),
    "granular-marking-not-a-marking": ([with_(IND, granular_markings=[{"marking_ref": "identity--b67d30ff-02ac-498a-92f9-32f845f448ff", "selectors": ["name"]}])], ("reference-type", "/objects/0/granular_markings/0/marking_ref")),
    "created-by-not-identity": ([with_(IND, created_by_ref="malware--31b940d4-6f7f-459a-80ea-9c1f17b5891b")], ("reference-type", "/objects/0/created_by_ref")),
    "where-sighted-malware": ([with_(SIGHTING, where_sighted_refs=["malware--31b940d4-6f7f-459a-80ea-9c1f17b5891b"])], ("reference-type", "/objects/0/where_sighted_refs/0")),
    "observed-data-refs-indicator": ([with_(SIGHTING, observed_data_refs=["indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"])], ("reference-type", "/objects/0/observed_data_refs/0")),
    "sighting-of-sco": ([with_(SIGHTING, sighting_of_ref="ipv4-addr--0198f97b-e65d-5025-87e5-58bc39d4bdb4")], ("reference-type", "/objects/0/sighting_of_ref")),
    "relationship-to-marking": ([with_(REL, target_ref="marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9")], ("reference-type", "/objects/0/target_ref")),
    "sample-refs-not-file": ([with_(MALWARE, sample_refs=["ipv4-addr--0198f97b-e65d-5025-87e5-58bc39d4bdb4"])], ("reference-type", "/objects/0/sample_refs/0")),
    "reference-not-an-id": ([with_(REL, source_ref="not-an-id")], ("reference", "/objects/0/source_ref")),
    "null-property": ([with_(IND, description=NULL)], ("null", "/objects/0/description")),
    "empty-labels": ([with_(IND, labels=[])], ("empty-list", "/objects/0/labels")),
    "bad-md5": ([with_(FILE, hashes={"MD5": "xyz"})], ("hashes", "/objects/0/hashes/MD5")),
    "valid-until-before-valid-from": ([with_(IND, valid_until="2015-01-01T00:00:00Z")], ("timestamp-order", "/objects/0/valid_until")),
    "network-traffic-without-ends": ([{"type": "network-traffic", "spec_version": "2.1", "id": "network-traffic--2568d22a-8998-58eb-99ec-3c8ca74f527d", "protocols": ["tcp"]}], ("required", "/objects/0")),
    "ipv4-without-value": ([with_(IP, value=None)], ("required", "/objects/0/value")),
    "property-name-too-short": ([with_(IND, ab="x")], ("property-name", "/objects/0/ab")),
    "kill-chain-phase-without-name": ([with_(MALWARE, kill_chain_phases=[{"kill_chain_name": "lockheed-martin-cyber-kill-chain"}])], ("kill-chain-phase", "/objects/0/kill_chain_phases/0/phase_name")),
    "external-reference-without-source": ([with_(MALWARE, external_references=[{"url": "https://example.com/"}])], ("external-reference", "/objects/0/external_references/0/source_name")),
    "malware-family-without-name": ([with_(MALWARE, name=None)], ("required", "/objects/0/name")),
    "tlp1-purple": ([{"type": "marking-definition", "spec_version": "2.1", "id": "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc8", "created": "2017-01-20T00:00:00.000Z", "definition_type": "tlp", "definition": {"tlp": "purple"}}], ("marking-definition", "/objects/0/definition/tlp")),
    "process-with-uuidv5": ([{"type": "process", "spec_version": "2.1", "id": "process--0198f97b-e65d-5025-87e5-58bc39d4bdb4", "pid": 4}], ("id", "/objects/0/id")),
    "number-observed-zero": ([{"type": "observed-data", "spec_version": "2.1", "id": "observed-data--b67d30ff-02ac-498a-92f9-32f845f448cf", "created": "2016-04-06T19:58:16.000Z", "modified": "2016-04-06T19:58:16.000Z", "first_observed": "2015-12-21T19:00:00Z", "last_observed": "2015-12-21T19:00:00Z", "number_observed": 0, "object_refs": ["ipv4-addr--0198f97b-e65d-5025-87e5-58bc39d4bdb4"]}], ("range", "/objects/0/number_observed")),
    "bad-pattern": ([with_(IND, pattern="[ipv4-addr:value = '1.2.3.4' AND]")], ("pattern", "/objects/0/pattern")),
    "valid--yara-pattern-not-parsed": ([with_(IND, pattern="rule x { condition: true }", pattern_type="yara")], "valid"),
    "confidence-not-integer": ([with_(IND, confidence=50.5)], ("confidence", "/objects/0/confidence")),
    "created-without-millis": ([with_(IND, created="2016-04-06T20:03:48Z")], ("timestamp-precision", "/objects/0/created")),
    "custom-object-created-without-modified": ([{"type": "x-acme-thing", "spec_version": "2.1", "id": "x-acme-thing--4527e5de-8572-446a-a57a-706f15467461", "created": "2016-04-06T20:03:48.000Z"}], ("required", "/objects/0/modified")),
    "property-name-upper-case": ([with_(IND, x_Acme=1)], ("property-name", "/objects/0/x_Acme")),
    "external-reference-only-source-name": ([with_(MALWARE, external_references=[{"source_name": "vendor"}])], ("external-reference", "/objects/0/external_references/0")),
    "labels-not-a-list": ([with_(IND, labels="c2")], ("type", "/objects/0/labels")),
    "labels-not-strings": ([with_(IND, labels=["c2", 7])], ("type", "/objects/0/labels/1")),
    "relationship-type-upper-case": ([with_(REL, relationship_type="Indicates_X")], ("relationship-type", "/objects/0/relationship_type")),
    "revoked-not-boolean": ([with_(IND, revoked="no")], ("type", "/objects/0/revoked")),
    "valid--custom-object-minimal": ([{"type": "x-acme-thing", "id": "x-acme-thing--4527e5de-8572-446a-a57a-706f15467461", "widget": 1}], "valid"),
    "valid--sco-without-spec-version": ([{"type": "ipv4-addr", "id": "ipv4-addr--0198f97b-e65d-5025-87e5-58bc39d4bdb4", "value": "1.2.3.4"}], "valid"),
    "valid--sdo-uuid-v1-is-only-a-warning": ([with_(IND, id="indicator--8e2e2d2b-17d4-1cbf-938f-98ee46b3cd3f")], "valid"),
    "valid--sighting-of-custom-object": ([with_(SIGHTING, sighting_of_ref="x-acme-thing--4527e5de-8572-446a-a57a-706f15467461")], "valid"),
    "valid--modified-microseconds": ([with_(IND, modified="2016-04-06T20:03:48.123456Z")], "valid"),
    "valid--bundle-without-objects": (None, "valid"),
    "valid--bundle-with-empty-objects": ([], "valid"),
    "valid--id-upper-case-uuid": ([with_(IND, id="indicator--8E2E2D2B-17D4-4CBF-938F-98EE46B3CD3F")], "valid"),
    "id-uuid-version-7": ([with_(IND, id="indicator--018f2e2d-17d4-7cbf-938f-98ee46b3cd3f")], ("id", "/objects/0/id")),
    "opinion-not-in-enumeration": ([{"type": "opinion", "spec_version": "2.1", "id": "opinion--b01efc25-77b4-4003-b18b-f6e24b5cd9f7", "created": "2016-05-12T08:17:27.000Z", "modified": "2016-05-12T08:17:27.000Z", "opinion": "maybe", "object_refs": ["indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"]}], ("enumeration", "/objects/0/opinion")),
    "extension-type-unknown": ([with_(TLP_AMBER_STRICT, extensions={"extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d": {"extension_type": "property-ext", "tlp_2_0": "amber+strict"}})], ("enumeration", "/objects/0/extensions/extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d/extension_type")),
    "bad-type-name": ([with_(IND, type="Indicator", id="Indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f")], ("type", "/objects/0/type")),
}


# Where stix2-validator 3.3 accepts what the spec forbids, we are stricter on purpose;
# the agreement test expects exactly these differences (and fails if either side changes).
OASIS_ACCEPTS = {
    "created-by-not-identity": "spec 3.2: created_by_ref MUST be an identity id; stix2-validator does not check the target type",
    "marking-ref-not-a-marking": "spec 7.2.2: object_marking_refs MUST be marking-definition ids; stix2-validator does not check",
    "sample-refs-not-file": "spec 4.11: sample_refs MUST be file or artifact ids; stix2-validator does not check",
    "sighting-of-sco": "spec 5.2: sighting_of_ref MUST be an SDO id; stix2-validator does not check",
    "spec-version-2-0": "stix2-validator validates an object with spec_version 2.0 as STIX 2.0 even under -v 2.1; this crate is 2.1-only",
}


def to_json(v):
    if v is NULL:
        return None
    if isinstance(v, dict):
        return {k: to_json(x) for k, x in v.items()}
    if isinstance(v, list):
        return [to_json(x) for x in v]
    return v


def main():
    expected = {}
    for name, (objects, expect) in CASES.items():
        bundle = {"type": "bundle", "id": "bundle--5d0092c5-5f74-4287-9642-33f4c354e56d"}
        if objects is not None:
            bundle["objects"] = to_json(objects)
        with open(os.path.join(HERE, name + ".json"), "w", encoding="utf-8") as f:
            json.dump(bundle, f, indent=2)
            f.write("\n")
        if expect == "valid":
            expected[name + ".json"] = "valid"
        else:
            expected[name + ".json"] = {"rule": expect[0], "pointer": expect[1]}
            if name in OASIS_ACCEPTS:
                expected[name + ".json"]["oasis_valid"] = True
                expected[name + ".json"]["why"] = OASIS_ACCEPTS[name]
    with open(os.path.join(HERE, "expected.json"), "w", encoding="utf-8") as f:
        json.dump(expected, f, indent=1, sort_keys=True)
        f.write("\n")
    print("wrote %d cases" % len(CASES))


if __name__ == "__main__":
    main()
