"""Tessera signatures verify with an independent RFC 9421 implementation from PyPI.

Every successful case of tests/vectors/signing.json (a complete signed request,
produced by tessera-core and checked byte for byte by every binding) is
verified with `http-message-signatures`, which parses the structured fields,
derives the components from the URL and headers, rebuilds the signature base
and checks the HMAC and the Content-Digest against the body itself. Altered
requests must fail. The verifier's clock is frozen at the vector's `now`;
nothing else about it is changed.

Prints one closing line: "python-interop: N passed, N failed".
"""

import base64
import datetime
import json
import pathlib
import sys

import http_message_signatures as hms
from http_message_signatures import algorithms

VECTORS = pathlib.Path(__file__).resolve().parents[2] / "vectors" / "signing.json"


class Message:
    """The request view the library reads: method, encoded absolute URL, headers."""

    def __init__(self, method, url, headers):
        self.method = method
        self.url = url
        self.headers = dict(headers)


def frozen_verifier(now, secret):
    class FrozenClock(hms.HTTPMessageVerifier):
        def validate_created_and_expires(self, sig_input, max_age=None):
            real = datetime.datetime
            frozen = real.fromtimestamp(now, tz=datetime.timezone.utc)

            class Frozen(real):
                @classmethod
                def now(cls, tz=None):
                    return frozen

            hms.signatures.datetime.datetime = Frozen
            try:
                return super().validate_created_and_expires(sig_input, max_age=max_age)
            finally:
                hms.signatures.datetime.datetime = real

    class Keys(hms.HTTPSignatureKeyResolver):
        def resolve_public_key(self, key_id):
            return secret

    return FrozenClock(signature_algorithm=algorithms.HMAC_SHA256, key_resolver=Keys())


def b64url(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def check(message, body, now, secret):
    verifier = frozen_verifier(now, secret)
    results = verifier.verify(
        message,
        expect_tag="tessera-v1",
        expect_label="tessera",
        require_components=("@method", "@authority", "@path", "@query", "content-digest"),
        body=body,
    )
    return results


def main():
    cases = json.loads(VECTORS.read_text())["cases"]
    passed = failed = 0
    for case in cases:
        expected = case["expected"]
        if "error" in expected:
            continue
        state = json.loads(case["state"])
        secret = b64url(state["installation"]["secret"])
        now = case["options"]["now"] + state["clock_offset"]
        body = expected["body"].encode()
        message = Message(expected["method"], expected["url"], expected["headers"].items())
        name = case["name"]
        try:
            results = check(message, body, now, secret)
            assert results[0].label == "tessera", results
            assert results[0].parameters["keyid"] == state["installation"]["id"]
            passed += 1
        except Exception as e:  # noqa: BLE001 - report every failure
            failed += 1
            print(f"FAIL {name}: accepted by tessera-core, rejected by http-message-signatures: {e!r}")
            continue

        # Tampering must be caught by the independent implementation too.
        tampered = [
            ("path", Message(expected["method"], expected["url"].replace("/api/", "/apx/", 1), expected["headers"].items()), body),
            ("method", Message("PATCH" if expected["method"] != "PATCH" else "PUT", expected["url"], expected["headers"].items()), body),
            ("body", message, body + b" "),
            ("key", message, body),
        ]
        for what, msg, b in tampered:
            if what == "path" and "/api/" not in expected["url"]:
                continue
            try:
                check(msg, b, now, secret if what != "key" else b"\0" * 32)
                failed += 1
                print(f"FAIL {name}: tampered {what} was accepted")
            except hms.InvalidSignature:
                passed += 1
    print(f"python-interop: {passed} passed, {failed} failed")
    return 1 if failed or passed == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
