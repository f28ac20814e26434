#!/usr/bin/env bash
# Interop: every shared signing vector verifies with the PyPI RFC 9421
# implementation (http-message-signatures), and tampered copies do not; the
# proxy tokens recomputed independently; and scripts/check-links.py: links
# and file mentions resolve in the repository.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
"$TESSERA_ROOT/.venv-interop/bin/python" "$TESSERA_ROOT/tests/interop/python/verify_vectors.py"
# The authorization proxy's tokens (proxy-tokens.json) recomputed from
# docs/PROTOCOL.md §13 with the standard library only (HKDF written out).
python3 "$TESSERA_ROOT/tests/interop/python/verify_proxy_tokens.py"
# Every relative link and .md mention resolves inside the repository (the
# checker first proves it finds planted problems).
python3 "$TESSERA_ROOT/scripts/check-links.py" --self-test
python3 "$TESSERA_ROOT/scripts/check-links.py"
