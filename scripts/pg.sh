#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests and the scale runs: Debian's
# server binaries (package postgresql), a fresh data directory under /tmp,
# listening on 127.0.0.1 (a free port) and on a Unix socket in that
# directory, trust authentication for loopback and the socket only, fsync
# off (nothing in it is worth keeping). The system cluster and service are
# never touched or started.
#
# Sourced (scripts/test.d/30-e2e.sh, scripts/scale.sh):
#   . scripts/pg.sh
#   pg_start          # exports DATABASE_URL=postgres://tessera@127.0.0.1:PORT/tessera
#   ...               # (and PG_DIR, PG_PORT, PG_BIN)
#   pg_stop           # stops it and removes the directory
# pg_start sets `trap pg_stop EXIT` when the script has no EXIT trap yet (a
# script with its own calls pg_stop from it). A watchdog also stops the
# cluster and removes its directory if the script dies without a trap
# (kill -9), within 5 s.
#
# Standalone (for developers):
#   eval "$(scripts/pg.sh start)"   # prints export DATABASE_URL=...; keeps running
#   scripts/pg.sh status
#   scripts/pg.sh stop
# The standalone cluster's state is in ${TMPDIR:-/tmp}/tessera-pg-$(id -u).env.
#
# As root (initdb refuses root), the server runs as the `postgres` system
# user the package creates; the data directory is chowned to it.

# The newest installed server's bin directory.
_pg_bindir() {
    local dir
    dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    if [ -z "$dir" ] || [ ! -x "$dir/initdb" ] || [ ! -x "$dir/pg_ctl" ]; then
        echo "pg.sh: no PostgreSQL server under /usr/lib/postgresql (run scripts/setup.sh: scripts/setup.d/15-postgres.sh)" >&2
        return 1
    fi
    echo "$dir"
}

# _pg_as_owner CMD...: run CMD as the cluster's owner, inside its directory
# (postgres cannot enter root's working directory).
_pg_as_owner() {
    if [ "$(id -u)" = 0 ]; then
        (cd "$PG_DIR" && runuser -u postgres -- "$@")
    else
        (cd "$PG_DIR" && "$@")
    fi
}

# _pg_port_free PORT: nothing accepts connections on 127.0.0.1:PORT.
_pg_port_free() {
    ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# pg_start [DBNAME]: start a cluster and create DBNAME (default tessera).
pg_start() {
    local db="${1:-tessera}" bin attempt port
    PG_PORT=""
    bin=$(_pg_bindir) || return 1
    PG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/tessera-pg.XXXXXX") || return 1
    mkdir -p "$PG_DIR/data" "$PG_DIR/sock"
    if [ "$(id -u)" = 0 ]; then
        if ! id postgres >/dev/null 2>&1; then
            echo "pg.sh: running as root needs the 'postgres' system user (package postgresql)" >&2
            rm -rf "$PG_DIR"; return 1
        fi
        chown -R postgres: "$PG_DIR"
    fi
    # The superuser is named tessera whoever runs the server; no password
    # (trust below), so DATABASE_URL carries no secret.
    if ! _pg_as_owner "$bin/initdb" -D "$PG_DIR/data" -U tessera -A trust -E UTF8 --no-locale \
        >"$PG_DIR/initdb.log" 2>&1; then
        echo "pg.sh: initdb failed:" >&2; cat "$PG_DIR/initdb.log" >&2
        rm -rf "$PG_DIR"; return 1
    fi
    # Loopback TCP and the socket only: nothing else may connect.
    printf '%s\n' "local all all trust" "host all all 127.0.0.1/32 trust" >"$PG_DIR/data/pg_hba.conf"
    for attempt in 1 2 3 4 5; do
        port=$(( 20000 + RANDOM % 30000 ))
        _pg_port_free "$port" || continue
        # pg_ctl -w waits (at most -t seconds) until the server accepts
        # connections; a port taken meanwhile fails and we try another.
        if _pg_as_owner "$bin/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 30 -o \
            "-c listen_addresses=127.0.0.1 -p $port -k $PG_DIR/sock -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
            start >/dev/null 2>&1; then
            PG_PORT=$port
            break
        fi
        if ! grep -qi "address already in use\|could not bind" "$PG_DIR/server.log" 2>/dev/null; then
            break
        fi
        : >"$PG_DIR/server.log"
    done
    if [ -z "${PG_PORT:-}" ]; then
        echo "pg.sh: the server did not start; its log:" >&2
        tail -n 30 "$PG_DIR/server.log" >&2 2>/dev/null
        _pg_as_owner "$bin/pg_ctl" -D "$PG_DIR/data" -m immediate stop >/dev/null 2>&1
        rm -rf "$PG_DIR"; unset PG_DIR; return 1
    fi
    PG_BIN=$bin
    export PG_DIR PG_PORT PG_BIN
    if ! timeout 30 "$bin/createdb" -h 127.0.0.1 -p "$PG_PORT" -U tessera "$db" 2>"$PG_DIR/createdb.log"; then
        echo "pg.sh: createdb failed:" >&2; cat "$PG_DIR/createdb.log" >&2
        tail -n 20 "$PG_DIR/server.log" >&2
        pg_stop; return 1
    fi
    export DATABASE_URL="postgres://tessera@127.0.0.1:$PG_PORT/$db"
    [ -n "$(trap -p EXIT)" ] || trap pg_stop EXIT
    [ -n "${PG_NO_WATCHDOG:-}" ] || _pg_watchdog $$
}

# _pg_watchdog PID: in its own session (a Ctrl-C to the script's group does
# not reach it), wait for PID to end, then stop the cluster and remove it.
_pg_watchdog() {
    local bin="$PG_BIN" dir="$PG_DIR" as=""
    [ "$(id -u)" = 0 ] && as="runuser -u postgres --"
    setsid -f bash -c '
        while kill -0 "$1" 2>/dev/null && [ -d "$3" ]; do sleep 2; done
        if [ -d "$3/data" ]; then (cd "$3" && $4 "$2/pg_ctl" -D "$3/data" -m immediate -t 10 stop); rm -rf "$3"; fi
    ' pg-watchdog "$1" "$bin" "$dir" "$as" </dev/null >/dev/null 2>&1
}

# pg_stop: stop the cluster pg_start started and remove its directory.
pg_stop() {
    [ -n "${PG_DIR:-}" ] && [ -d "$PG_DIR" ] || return 0
    if [ -f "$PG_DIR/data/postmaster.pid" ]; then
        # Immediate: the data is thrown away anyway; bounded by -t.
        _pg_as_owner "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate -t 20 stop >/dev/null 2>&1 ||
            echo "pg.sh: pg_ctl stop failed (server log: $PG_DIR/server.log)" >&2
    fi
    rm -rf "$PG_DIR"
    unset PG_DIR PG_PORT DATABASE_URL
}

# Standalone mode: scripts/pg.sh start|stop|status.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    set -uo pipefail
    state="${TMPDIR:-/tmp}/tessera-pg-$(id -u).env"
    case "${1:-}" in
        start)
            if [ -f "$state" ]; then
                echo "pg.sh: a cluster is already running ($state); scripts/pg.sh stop first" >&2
                exit 1
            fi
            # No watchdog: this cluster outlives the command, until `stop`.
            PG_NO_WATCHDOG=1 pg_start "${2:-tessera}" || exit 1
            trap - EXIT
            printf 'PG_DIR=%q\nPG_PORT=%q\nPG_BIN=%q\nDATABASE_URL=%q\n' \
                "$PG_DIR" "$PG_PORT" "$PG_BIN" "$DATABASE_URL" >"$state"
            echo "export DATABASE_URL=$DATABASE_URL"
            echo "pg.sh: PostgreSQL on 127.0.0.1:$PG_PORT (socket in $PG_DIR/sock); stop: scripts/pg.sh stop" >&2
            ;;
        stop)
            [ -f "$state" ] || { echo "pg.sh: no cluster started by scripts/pg.sh start" >&2; exit 0; }
            # shellcheck disable=SC1090
            . "$state"
            pg_stop
            rm -f "$state"
            echo "pg.sh: stopped" >&2
            ;;
        status)
            [ -f "$state" ] || { echo "not running"; exit 3; }
            # shellcheck disable=SC1090
            . "$state"
            "$PG_BIN/pg_isready" -h 127.0.0.1 -p "$PG_PORT" -t 5 && echo "DATABASE_URL=$DATABASE_URL"
            ;;
        *)
            echo "usage: scripts/pg.sh start [DBNAME] | stop | status   (or source it: pg_start / pg_stop)" >&2
            exit 2
            ;;
    esac
fi
