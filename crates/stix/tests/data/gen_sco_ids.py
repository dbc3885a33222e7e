#!/usr/bin/env python3
"""Regenerate tests/data/sco_ids.json: deterministic SCO ids computed by OASIS `stix2`.

Run from the workspace root:  .venv/bin/python crates/stix/tests/data/gen_sco_ids.py
(.ci/setup-python creates the venv.) The Rust test tests/sco_ids.rs recomputes every id
with stix::id::sco_id and must agree with what is recorded here.
"""
import json
import os

import stix2

NT_SRC = "ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742dd"
NT_DST = "ipv4-addr--2cb2ccc4-4ff1-5f6f-a2c0-a7b8d4b20b3e"

# (type, properties) pairs. Keep the properties JSON-native: the Rust side reads them as is.
CASES = [
    ("ipv4-addr", {"value": "1.2.3.4"}),
    ("ipv4-addr", {"value": "198.51.100.3"}),
    ("ipv4-addr", {"value": "198.51.100.0/24"}),
    ("ipv6-addr", {"value": "2001:db8::1"}),
    ("domain-name", {"value": "example.com"}),
    ("domain-name", {"value": "xn--bcher-kva.example"}),
    ("domain-name", {"value": "bücher.example"}),
    ("url", {"value": "https://example.com/research/index.html"}),
    ("url", {"value": "http://evil.example/a?b=c&d=\"quoted\"\\back"}),
    ("email-addr", {"value": "john@example.com"}),
    ("mac-addr", {"value": "d2:fb:49:24:37:18"}),
    ("autonomous-system", {"number": 15139}),
    ("autonomous-system", {"number": 15139, "name": "Slime Industries", "rir": "ARIN"}),
    ("file", {"hashes": {"SHA-256": "ceafbfd424be2ca4a5f0402cae090dda2fb0526cf521b60b60077c0f622b373a"}}),
    ("file", {"hashes": {"MD5": "8d98e70e18b6ba2d7b4e7bd1b1d3b2c5"}}),
    ("file", {"hashes": {"SHA-256": "ceafbfd424be2ca4a5f0402cae090dda2fb0526cf521b60b60077c0f622b373a",
                         "MD5": "8d98e70e18b6ba2d7b4e7bd1b1d3b2c5", "SHA-1": "2aae6c35c94fcfb415dbe95f408b9ce91ee846ed"}}),
    ("file", {"hashes": {"SHA-512": "ee26b0dd4af7e749aa1a8ee3c10ae9923f618980772e473f8819a5d4940e0db27ac185f8a0e1d5f84f88bc887fd67b143732c304cc5fa9ad8e6f57f50028a8ff"}}),
    ("file", {"name": "invoice.pdf.exe"}),
    ("file", {"name": "qwerty.dll", "hashes": {"SHA-1": "2aae6c35c94fcfb415dbe95f408b9ce91ee846ed"}, "size": 25536}),
    ("file", {"name": "ü-ñ-😀.txt"}),
    ("network-traffic", {"src_ref": NT_SRC, "dst_ref": NT_DST, "src_port": 49152, "dst_port": 443, "protocols": ["ipv4", "tcp"]}),
    ("network-traffic", {"dst_ref": NT_DST, "protocols": ["ipv4", "udp"], "dst_port": 53}),
    ("software", {"name": "Word", "cpe": "cpe:2.3:a:microsoft:word:2000:*:*:*:*:*:*:*", "version": "2002", "vendor": "Microsoft"}),
    ("directory", {"path": "C:\\Windows\\System32"}),
    ("mutex", {"name": "__CLEANSWEEP__"}),
    ("user-account", {"account_type": "unix", "user_id": "1001", "account_login": "jdoe"}),
    ("x509-certificate", {"serial_number": "36:f7:d4:32:f4:ab:70:ea:d3:ce:98:6e:ea:99:93:49:32:0a:b7:06"}),
    ("windows-registry-key", {"key": "hkey_local_machine\\system\\bar\\foo"}),
    ("email-message", {"is_multipart": False, "from_ref": "email-addr--2d77a846-6264-5d51-b586-e43822ea1ea3", "subject": "Saying Hello"}),
    ("artifact", {"hashes": {"SHA-256": "6db12788c37247f2316052e142f42f4b259d6561751e5f401a1ae2a6df9c674b"}, "url": "https://example.com/a.bin"}),
]


def main():
    out = []
    for type_name, props in CASES:
        obj = stix2.parse(dict(type=type_name, spec_version="2.1", **props), allow_custom=True)
        out.append({"type": type_name, "properties": props, "id": obj.id})
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sco_ids.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"generator": "stix2 " + stix2.__version__, "cases": out}, f, indent=1, ensure_ascii=False)
        f.write("\n")
    print(f"wrote {len(out)} ids to {path}")


if __name__ == "__main__":
    main()
