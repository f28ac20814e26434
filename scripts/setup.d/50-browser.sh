#!/usr/bin/env bash
# The browser-extension suite (scripts/test.d/50-extension.sh): Debian's
# Chromium, and playwright-core (driver only, no bundled browsers) from npm
# under tests/extension/ (npm ci, from the committed package-lock.json).
# `npx playwright install` cannot download browsers here; the suite drives
# /usr/bin/chromium instead. Installs only what is missing.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
cd "$TESSERA_ROOT"

need_debs chromium fonts-dejavu-core
[ -x /usr/bin/chromium ] || { echo "/usr/bin/chromium missing after install" >&2; exit 1; }

command -v node >/dev/null || need_debs nodejs npm
cd tests/extension
if [ -f node_modules/.package-lock.json ] && [ node_modules/.package-lock.json -nt package-lock.json ] \
    && [ -f node_modules/playwright-core/package.json ]; then
    log "playwright-core present"
else
    log "npm ci (tests/extension/)"
    # No browser download: playwright-core never fetches one, and the
    # variable keeps any postinstall quiet about it.
    PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error
fi
