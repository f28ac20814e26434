"""The authorization proxy's tokens, recomputed from docs/PROTOCOL.md §13 alone.

Every case of tests/vectors/proxy-tokens.json (produced by tessera-core) is
redone here with Python's standard library only — hmac, hashlib, base64,
json — following the protocol text, not the Rust code:

- K_state / K_code: HKDF-SHA256 (RFC 5869, written out below), salt empty,
  info "tessera-proxy-state-v1" / "tessera-code-context-v1", 32 bytes (§13.4);
- a token: base64url(header) "." base64url(payload) "." base64url(HMAC), the
  header bytes fixed, the payload's members in a fixed order without
  whitespace (§13.4, §13.5, §13.6);
- `seal` and `issue` must give the vector's token byte for byte, or its
  refusal (`invalid_input`, `too_large`) from the claim bounds of §13.5;
- `open` and `verify` must accept exactly what the vector accepts and refuse
  the rest with the vector's code, in the order of §13.5 / §13.6 (MAC and
  format, then expiry — valid through `exp` —, then the binding), and the
  vector's wire answer must be status 400 with that code as `error`.

A mutation check follows: the same computations with one input changed (a
key byte, an `info` string, a claim order, the expiry rule) must disagree
with the vectors, so this script can fail.

Prints one closing line: "python-proxy-tokens: N passed, N failed".
"""

import base64
import hashlib
import hmac
import json
import pathlib
import re
import sys

VECTORS = pathlib.Path(__file__).resolve().parents[2] / "vectors" / "proxy-tokens.json"

STATE_HEADER = b'{"alg":"HS256","typ":"tessera-proxy-state"}'
CODE_HEADER = b'{"alg":"HS256","typ":"tessera-code-context"}'
STATE_INFO = b"tessera-proxy-state-v1"
CODE_INFO = b"tessera-code-context-v1"
STATE_TTL = 600
CODE_TTL = 300
MAX_TOKEN = 4096
PROFILE_TOKEN = re.compile(r"[A-Za-z0-9._~-]{1,128}")


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text):
    if not re.fullmatch(r"[A-Za-z0-9_-]*", text) or len(text) % 4 == 1:
        return None
    raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    # Canonical only: re-encoding gives the same text (no stray low bits).
    return raw if b64url(raw) == text else None


def hkdf_sha256(ikm, info, length=32, salt=b""):
    """RFC 5869: extract, then expand."""
    prk = hmac.new(salt, ikm, hashlib.sha256).digest()
    out, block, counter = b"", b"", 1
    while len(out) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        out += block
        counter += 1
    return out[:length]


def json_text(value):
    """§13.4: JSON text of a string or null, as the core's writer escapes it."""
    if value is None:
        return "null"
    return json.dumps(value, ensure_ascii=False)


def payload(members):
    """§13.4: an object of (name, value) pairs in order, no whitespace."""
    parts = []
    for name, value in members:
        text = str(value) if isinstance(value, int) else json_text(value)
        parts.append(json_text(name) + ":" + text)
    return ("{" + ",".join(parts) + "}").encode()


def sign(key, header, body):
    signing_input = b64url(header) + "." + b64url(body)
    mac = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + b64url(mac)


def visible(text, limit):
    return 1 <= len(text) <= limit and all(0x21 <= ord(c) <= 0x7E for c in text)


def binding(cookie):
    """§13.5: bnd = base64url(SHA-256(cookie value as ASCII text))."""
    return b64url(hashlib.sha256(cookie.encode()).digest())


def state_members(s, exp):
    return [("iid", s["installId"]), ("ret", s["returnUrl"]), ("pst", s["pluginState"]),
            ("scp", s["scope"]), ("bnd", s["browserBinding"]), ("exp", exp)]


def seal(key, s, now, rules):
    if not (PROFILE_TOKEN.fullmatch(s["installId"]) and PROFILE_TOKEN.fullmatch(s["pluginState"])
            and visible(s["returnUrl"], 2048)):
        return {"error": "invalid_input"}
    if s["scope"] is not None and not (1 <= len(s["scope"]) <= 256
                                       and all(0x20 <= ord(c) <= 0x7E for c in s["scope"])):
        return {"error": "invalid_input"}
    bnd = b64url_decode(s["browserBinding"])
    if bnd is None or len(bnd) != 32:
        return {"error": "invalid_input"}
    k = hkdf_sha256(key, rules["state_info"])
    token = sign(k, STATE_HEADER, payload(rules["order"](state_members(s, now + STATE_TTL))))
    if len(token) > MAX_TOKEN:
        return {"error": "too_large"}
    return {"token": token}


def code_members(s, code, exp):
    chs = b64url(hashlib.sha256(code.encode()).digest())
    return [("iid", s["installId"]), ("ret", s["returnUrl"]), ("pst", s["pluginState"]),
            ("chs", chs), ("exp", exp)]


def issue(key, code, s, now, rules):
    if not visible(code, 256):
        return {"error": "invalid_input"}
    if not (PROFILE_TOKEN.fullmatch(s["installId"]) and PROFILE_TOKEN.fullmatch(s["pluginState"])
            and visible(s["returnUrl"], 2048)):
        return {"error": "invalid_input"}
    k = hkdf_sha256(key, rules["code_info"])
    token = sign(k, CODE_HEADER, payload(code_members(s, code, now + CODE_TTL)))
    if len(token) > MAX_TOKEN:
        return {"error": "too_large"}
    return {"token": token}


def strict_object(raw, names):
    """§13.4: exactly these members, each once (any order on reading)."""
    pairs = []
    try:
        obj = json.loads(raw.decode("utf-8"), object_pairs_hook=lambda p: pairs.append(p) or dict(p))
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(obj, dict) or len(pairs[-1]) != len(names) or sorted(obj) != sorted(names):
        return None
    return obj


def open_token(key, header, token):
    """§13.4: the payload bytes of a token that verifies, else None."""
    if len(token) > MAX_TOKEN:
        return None
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != b64url(header):
        return None
    mac = b64url_decode(parts[2])
    expected = hmac.new(key, (parts[0] + "." + parts[1]).encode(), hashlib.sha256).digest()
    if mac is None or not hmac.compare_digest(mac, expected):
        return None
    return b64url_decode(parts[1])


def open_state(key, token, cookie, now, rules):
    """§13.5, GET /callback: format and MAC, expiry, then the browser binding."""
    raw = open_token(hkdf_sha256(key, rules["state_info"]), STATE_HEADER, token)
    claims = raw and strict_object(raw, ["iid", "ret", "pst", "scp", "bnd", "exp"])
    if not claims or not all(isinstance(claims[n], str) for n in ("iid", "ret", "pst", "bnd")) \
            or not (claims["scp"] is None or isinstance(claims["scp"], str)) \
            or type(claims["exp"]) is not int:
        return {"error": "proxy_state_invalid"}
    if rules["expired"](now, claims["exp"]):
        return {"error": "proxy_state_expired"}
    if cookie is None or not hmac.compare_digest(binding(cookie).encode(), claims["bnd"].encode()):
        return {"error": "proxy_state_invalid"}
    return {"state": {"installId": claims["iid"], "returnUrl": claims["ret"], "pluginState": claims["pst"],
                      "scope": claims["scp"], "browserBinding": claims["bnd"]}}


def verify_context(key, token, exchange, now, rules):
    """§13.6, POST /token: format and MAC, expiry, then all four bindings."""
    raw = open_token(hkdf_sha256(key, rules["code_info"]), CODE_HEADER, token)
    claims = raw and strict_object(raw, ["iid", "ret", "pst", "chs", "exp"])
    if not claims or not all(isinstance(claims[n], str) for n in ("iid", "ret", "pst", "chs")) \
            or type(claims["exp"]) is not int:
        return {"error": "code_context_invalid"}
    if rules["expired"](now, claims["exp"]):
        return {"error": "code_context_expired"}
    chs = b64url(hashlib.sha256(exchange["code"].encode()).digest())
    same = [hmac.compare_digest(a.encode(), b.encode()) for a, b in (
        (claims["iid"], exchange["installId"]), (claims["ret"], exchange["returnUrl"]),
        (claims["pst"], exchange["state"]), (claims["chs"], chs))]
    if not all(same):
        return {"error": "code_context_mismatch"}
    return {"ok": True}


def run(case, rules):
    key = b64url_decode(case["key"])
    assert key is not None and 32 <= len(key) <= 64, case["name"]
    op, now = case["op"], case["now"]
    if op == "seal":
        return seal(key, case["state"], now, rules)
    if op == "issue":
        return issue(key, case["code"], case["state"], now, rules)
    if op == "open":
        return open_state(key, case["token"], case["cookie"], now, rules)
    if op == "verify":
        return verify_context(key, case["token"], case["exchange"], now, rules)
    raise ValueError(f"unknown op {op}")


def matches(case, got):
    expected = case["expected"]
    if "error" in expected:
        answer = expected.get("answer")
        if answer is not None:
            body = json.loads(answer["body"])
            wire_ok = (answer["status"] == 400 and answer["code"] == expected["error"]
                       and body.get("error") == expected["error"]
                       and answer["headers"].get("cache-control") == "no-store")
            if not wire_ok:
                return False
        return got == {"error": expected["error"]}
    return got == expected


PROTOCOL = {
    "state_info": STATE_INFO,
    "code_info": CODE_INFO,
    "order": lambda members: members,
    "expired": lambda now, exp: now > exp,  # valid through exp
}

MUTANTS = {
    "one key byte": None,  # handled in main: the key is changed
    "K_state with the code context's info": dict(PROTOCOL, state_info=CODE_INFO),
    "K_code with the proxy state's info": dict(PROTOCOL, code_info=STATE_INFO),
    "claims in another order": dict(PROTOCOL, order=lambda m: [m[1], m[0]] + m[2:]),
    "expired at exp instead of after": dict(PROTOCOL, expired=lambda now, exp: now >= exp),
}


def main():
    cases = json.loads(VECTORS.read_text())["cases"]
    passed = failed = 0
    for case in cases:
        got = run(case, PROTOCOL)
        if matches(case, got):
            passed += 1
        else:
            failed += 1
            print(f"FAIL {case['name']}: got {got}, expected {case['expected']}", file=sys.stderr)

    # The worked example of §13.7: the binding of its cookie is the state's bnd.
    opened = next(c for c in cases if c["name"] == "open")
    if binding(opened["cookie"]) == opened["expected"]["state"]["browserBinding"]:
        passed += 1
    else:
        failed += 1
        print("FAIL the example cookie's binding", file=sys.stderr)

    # Mutants: each must disagree with at least one vector.
    for name, rules in MUTANTS.items():
        if rules is None:
            def flipped(case):
                key = bytearray(b64url_decode(case["key"]))
                key[0] ^= 1
                return dict(case, key=b64url(bytes(key)))
            disagreements = sum(not matches(c, run(flipped(c), PROTOCOL)) for c in cases)
        else:
            disagreements = sum(not matches(c, run(c, rules)) for c in cases)
        if disagreements:
            passed += 1
        else:
            failed += 1
            print(f"FAIL mutant not caught: {name}", file=sys.stderr)

    print(f"python-proxy-tokens: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
