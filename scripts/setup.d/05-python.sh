#!/usr/bin/env bash
# A private virtualenv with the PyPI RFC 9421 implementation the interop check
# verifies Tessera's signatures with (pinned in tests/interop/python/requirements.txt).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
venv="$TESSERA_ROOT/.venv-interop"
req="$TESSERA_ROOT/tests/interop/python/requirements.txt"
if [ -x "$venv/bin/python" ] && [ "$venv/.installed" -nt "$req" ]; then
    log "python interop venv present"
    exit 0
fi
command -v python3 >/dev/null || need_debs python3 python3-venv
python3 -m venv "$venv" 2>/dev/null || { need_debs python3-venv; rm -rf "$venv"; python3 -m venv "$venv"; }
"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$req"
touch "$venv/.installed"
