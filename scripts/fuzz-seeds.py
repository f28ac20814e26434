#!/usr/bin/env python3
"""Writes seed corpora for the fuzz targets from tests/vectors/*.json.

Usage: fuzz-seeds.py OUT_DIR   (one subdirectory per target; existing files are
replaced). The framing each target reads is described in fuzz/src/lib.rs and in
each target's doc comment. Targets structured with `arbitrary`
(sign_verify, verify_tamper, connect_roundtrip, seal_roundtrip) start from an
empty corpus.
"""

import hashlib
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VECTORS = os.path.join(ROOT, "tests", "vectors")


def cases(name):
    with open(os.path.join(VECTORS, name), encoding="utf-8") as f:
        return json.load(f)["cases"]


def message(start, headers, body):
    """The framing of fuzz/src/lib.rs: start line, header lines, blank line, body."""
    out = start.encode() + b"\n"
    for k, v in headers.items():
        out += f"{k}: {v}".encode() + b"\n"
    out += b"\n"
    return out + (body.encode() if isinstance(body, str) else body)


def distinct_states(name):
    out = []
    for c in cases(name):
        s = c.get("state")
        if s is not None and s not in out:
            out.append(s)
    return out


def main():
    out_dir = sys.argv[1]
    seeds = {}

    def add(target, data):
        seeds.setdefault(target, []).append(data if isinstance(data, bytes) else data.encode())

    # Signed requests (verify.json: secrets per keyid) and the RFC 9421 example.
    for c in cases("verify.json"):
        secrets = c["secrets"]
        for r in c["requests"]:
            keyid = ""
            sig_input = r["headers"].get("signature-input", "")
            if 'keyid="' in sig_input:
                keyid = sig_input.split('keyid="', 1)[1].split('"', 1)[0]
            secret = secrets.get(keyid, next(iter(secrets.values()), "x"))
            add("verify_request", message(f"{c['now']} {secret} {r['method']} {r['url']}", r["headers"], r["body"]))
            for field in ("signature-input", "signature", "content-digest"):
                if field in r["headers"]:
                    add("sfv_parse", r["headers"][field])
    for c in cases("rfc9421.json"):
        add("sfv_parse", c["signatureInput"])
        add("sfv_parse", c["expected"]["signature"])
        add("sfv_parse", c["request"]["headers"]["content-digest"])
    for c in cases("signing.json"):
        exp = c["expected"]
        if "headers" in exp:
            state = json.loads(c["state"])
            secret = state["installation"]["secret"]
            now = c["options"].get("now", 1700000000)
            add("verify_request", message(f"{now} {secret} {exp['method']} {exp['url']}", exp["headers"], exp["body"]))
            add("sfv_parse", exp["headers"]["signature-input"])
        add("state_json", c["state"])

    # Connect URLs and uninstall tickets (broker side), with their states' secrets.
    for c in cases("connect.json"):
        state = json.loads(c["state"])
        inst = state.get("installation") or {}
        add("state_json", c["state"])
        if "url" in c["expected"]:
            now = c["input"].get("now", 1700000000)
            add("connect_verify", f"{now} {inst['secret']} {c['expected']['url']} {inst['id']}")
    for c in cases("uninstall_url.json"):
        state = json.loads(c["state"])
        inst = state.get("installation") or {}
        add("state_json", c["state"])
        if "url" in c["expected"]:
            add("connect_verify", f"{c['now']} {inst['secret']} {c['expected']['url']} {inst['id']}")

    # Callbacks: `<now> <state index>` then the callback.
    states = distinct_states("callback.json")
    for c in cases("callback.json"):
        add("callback", f"{c['now']} {states.index(c['state'])}\n{c['callback']}")
        add("url_parse", c["callback"])
        add("state_json", c["state"])

    # Responses.
    for c in cases("classification.json"):
        r = c["response"]
        add("classify", message(f"{c['now']} {r['status']}", r["headers"], r["body"]))
        for k, v in r["headers"].items():
            if k.lower() in ("retry-after", "date"):
                add("http_date", f"{c['now']}\n{v}")
    reg_states = distinct_states("ownership.json")
    for c in cases("ownership.json"):
        r = c["response"]
        add("registration", message(f"1700000000 {reg_states.index(c['state'])} {r['status']}", r["headers"], r["body"]))
        add("state_json", c["state"])
    for v in ("Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994", "120"):
        add("http_date", f"1700000000\n{v}")

    # Sealed state: `<key material>` then the blob.
    for c in cases("seal.json"):
        add("seal_open", f"{c['keyMaterial']}\n{c['sealed']}")
        if "state" in c["expected"]:
            add("state_json", c["expected"]["state"])

    # URLs: broker URLs, site URLs, signed URLs, with a path-and-query to join.
    for c in cases("inputs.json"):
        inp = c["input"]
        add("url_parse", f"{inp['brokerUrl']}\n/api/orders?limit=3")
        if "registration" in inp:
            add("url_parse", inp["registration"]["siteUrl"])
    for c in cases("signing.json"):
        add("url_parse", f"https://broker.example/base\n{c['request']['path']}")

    for target, items in seeds.items():
        d = os.path.join(out_dir, target)
        os.makedirs(d, exist_ok=True)
        for f in os.listdir(d):
            os.remove(os.path.join(d, f))
        for data in items:
            with open(os.path.join(d, hashlib.sha1(data).hexdigest()), "wb") as f:
                f.write(data)
    total = sum(len(set(v)) for v in seeds.values())
    print(f"seeds: {total} files for {len(seeds)} targets in {out_dir}", file=sys.stderr)


if __name__ == "__main__":
    main()
