#!/usr/bin/env bash
# Interop: every shared signing vector verifies with the PyPI RFC 9421
# implementation (http-message-signatures), and tampered copies do not.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
"$TESSERA_ROOT/.venv-interop/bin/python" "$TESSERA_ROOT/tests/interop/python/verify_vectors.py"
