#!/usr/bin/env bash
# PostgreSQL's server binaries, for the broker's second storage backend: the
# e2e suite (scripts/test.d/30-e2e.sh) and scripts/scale.sh / crash.sh start
# a throwaway cluster of their own with scripts/pg.sh. The system cluster is
# never used: the package's maintainer scripts must not start its service
# (containers usually have a policy-rc.d that says so; where there is none,
# one is in place for the install only). Installs only what is missing.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && id postgres >/dev/null 2>&1; then
    log "postgresql present"
    exit 0
fi
added_policy=""
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\n# temporary, scripts/setup.d/15-postgres.sh\nexit 101\n' | as_root tee /usr/sbin/policy-rc.d >/dev/null
    as_root chmod 755 /usr/sbin/policy-rc.d
    added_policy=1
fi
status=0
need_debs postgresql || status=$?
[ -z "$added_policy" ] || as_root rm -f /usr/sbin/policy-rc.d
exit "$status"
