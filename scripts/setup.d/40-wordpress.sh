#!/usr/bin/env bash
# The WordPress proof (scripts/test.d/40-wordpress.sh): Debian's WordPress,
# MariaDB (the test starts a private instance; no system service is used or
# started), PHP's mysqli/curl, Chromium for the headless browser, and
# playwright-core from npm (tests/wordpress, from the committed lock file).
# Installs only what is missing.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
cd "$TESSERA_ROOT"

wanted=(wordpress wordpress-theme-twentytwentythree mariadb-server mariadb-client php8.2-cli php8.2-mysql
    php8.2-curl php8.2-mbstring php8.2-xml chromium fonts-liberation)
missing=0
for p in "${wanted[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing=1
done
if [ "$missing" = 1 ]; then
    # Debian's wordpress pulls in Apache and mariadb-server a system MariaDB:
    # their maintainer scripts must not start either (the test runs its own
    # servers on 127.0.0.1). Containers usually have a policy-rc.d that says
    # so; where there is none, one is in place for the install only.
    added_policy=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\n# temporary, scripts/setup.d/40-wordpress.sh\nexit 101\n' | as_root tee /usr/sbin/policy-rc.d >/dev/null
        as_root chmod 755 /usr/sbin/policy-rc.d
        added_policy=1
    fi
    status=0
    need_debs "${wanted[@]}" || status=$?
    [ -z "$added_policy" ] || as_root rm -f /usr/sbin/policy-rc.d
    [ "$status" = 0 ] || exit "$status"
fi

command -v node >/dev/null || need_debs nodejs npm
cd tests/wordpress
if [ -f node_modules/.package-lock.json ] && [ node_modules/.package-lock.json -nt package-lock.json ] \
    && [ -f node_modules/playwright-core/package.json ]; then
    log "playwright-core present"
else
    log "npm ci (tests/wordpress)"
    npm ci --no-audit --no-fund --loglevel=error
fi
