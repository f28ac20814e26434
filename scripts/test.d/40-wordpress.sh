#!/usr/bin/env bash
# The example WordPress plugin (examples/wordpress-plugin) in a real WordPress,
# four times: `native` (the site's PHP loads the built tessera extension) and
# `pure` (no extension at all: the plugin runs its bundled, prefixed pure-PHP
# copy), each with the partner's broker and, as `native-proxy` and
# `pure-proxy`, with the partner's authorization proxy (docs/PROTOCOL.md §13).
#   - first, without a server: the bundled copy is what scripts/bundle-php.sh
#     makes from today's php/src (--check), the plugin's code names both
#     implementations wherever it catches (tests/wordpress/lint-plugin.php),
#     and its seal key never comes from a database-stored salt
#     (tests/wordpress/seal-key.php: stubbed WordPress, WordPress's own wp_salt());
#   - a private MariaDB (own datadir and socket in a temporary directory, no
#     TCP) with one database per mode; per mode, Debian's WordPress served by
#     `php -S 127.0.0.1:PORT` with a router script (what .htaccess does) and
#     its own fake Stora with the reference broker (tessera-e2e-env) or the
#     reference proxy (tessera-proxy-env), ownership proof on;
#   - headless Chromium (playwright-core) does what an operator does:
#     tests/wordpress/wordpress.test.mjs (broker) and proxy.test.mjs (proxy,
#     a shorter run: what depends on the service), the modes side by side
#     (each mostly waits on its servers). Screenshots and logs:
#     artifacts/wordpress/<mode>/.
# TESSERA_WP_MODES="pure pure-proxy" runs some modes; TESSERA_WP_PARALLEL=0
# runs them one after the other. Everything binds 127.0.0.1 on free ports and stops by
# itself (trap; the whole run is killed after TESSERA_WP_MAX_LIFETIME seconds,
# default 600).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
cd "$TESSERA_ROOT"
target_dir="${CARGO_TARGET_DIR:-$TESSERA_ROOT/target}"
max_lifetime="${TESSERA_WP_MAX_LIFETIME:-600}"
parallel="${TESSERA_WP_PARALLEL:-1}"
read -r -a modes <<<"${TESSERA_WP_MODES:-native pure native-proxy pure-proxy}"
proxy_modes=0
for mode in "${modes[@]}"; do
    case "$mode" in
        native | pure) ;;
        native-proxy | pure-proxy) proxy_modes=1 ;;
        *) echo "40-wordpress: unknown mode $mode (native, pure, native-proxy, pure-proxy)" >&2; exit 2 ;;
    esac
done
started=$(date +%s)

# ---- before any server: the bundled copy and the plugin's code -------------------------------
log "the plugin's bundled Tessera is today's php/src (scripts/bundle-php.sh --check)"
bash scripts/bundle-php.sh --check
php tests/wordpress/lint-plugin.php examples/wordpress-plugin
log "the plugin's seal key comes from wp-config.php only, never a database-stored salt (tests/wordpress/seal-key.php)"
php tests/wordpress/seal-key.php examples/wordpress-plugin

ext=$(bash scripts/build-php.sh | tail -n 1)
log "building tessera-e2e-env"
cargo build --quiet --locked -p tessera-broker --features demo --bin tessera-e2e-env
env_bin="$target_dir/debug/tessera-e2e-env"
if [ "$proxy_modes" = 1 ]; then
    log "building tessera-proxy-env"
    cargo build --quiet --locked -p tessera-proxy --bin tessera-proxy-env
fi
proxy_env_bin="$target_dir/debug/tessera-proxy-env"

built=$(date +%s)

work=$(mktemp -d "${TMPDIR:-/tmp}/tessera-wp.XXXXXX")
artifacts="$TESSERA_ROOT/artifacts/wordpress"
rm -rf "$artifacts" && mkdir -p "$artifacts"
# Every server runs in a process group of its own (setsid: its pid is the
# group id), so stopping it also stops its children (php -S workers).
pids=()
cleanup() {
    local status=$?
    trap - EXIT INT TERM
    for pid in "${pids[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    # Logs worth keeping next to the screenshots; a suite cut short shows what it printed.
    [ -f "$work/mysqld.err" ] && cp "$work/mysqld.err" "$artifacts/" || true
    for mode in "${modes[@]}"; do
        for f in php-server.log wp-debug.log env.err test.out; do
            [ -f "$work/$mode/$f" ] && cp "$work/$mode/$f" "$artifacts/$mode/" || true
        done
        if [ -f "$work/$mode/test.out" ] && [ ! -f "$work/$mode/printed" ]; then
            echo "---- $mode (cut short) ----" >&2
            cat "$work/$mode/test.out" >&2
        fi
    done
    rm -rf "$work"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# The whole run has a maximum lifetime.
setsid bash -c 'sleep "$1"; echo "40-wordpress: max lifetime $1 s reached" >&2; kill -TERM "$2"' _ "$max_lifetime" $$ </dev/null &
pids+=($!)

free_port() {
    php -r '$s = stream_socket_server("tcp://127.0.0.1:0"); echo substr(strrchr(stream_socket_get_name($s, false), ":"), 1), "\n";'
}

# ---- MariaDB: a private instance, socket only, one database per mode ---------------------------
log "MariaDB (private instance)"
mysqld_bin=$(command -v mariadbd || command -v mysqld || echo /usr/sbin/mariadbd)
sock="$work/mysqld.sock"
mariadb-install-db --no-defaults --datadir="$work/db" --user="$(id -un)" --auth-root-authentication-method=normal \
    --skip-test-db --skip-name-resolve >"$work/install-db.log" 2>&1 \
    || { cat "$work/install-db.log" >&2; exit 1; }
setsid "$mysqld_bin" --no-defaults --datadir="$work/db" --socket="$sock" --pid-file="$work/mysqld.pid" \
    --skip-networking --user="$(id -un)" --log-error="$work/mysqld.err" --innodb-buffer-pool-size=32M \
    --skip-log-bin --performance-schema=OFF >/dev/null 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do
    mariadb-admin --no-defaults --socket="$sock" -u root ping >/dev/null 2>&1 && break
    sleep 0.2
done
mariadb-admin --no-defaults --socket="$sock" -u root ping >/dev/null || { cat "$work/mysqld.err" >&2; exit 1; }

cp tests/wordpress/router.php "$work/router.php"
stora_canary="CANARYwp-"

# ---- one mode: its database, broker, WordPress and php -S ----------------------------------------
# Leaves what its browser run needs in $work/$mode/test.env.
setup_mode() {
    local mode=$1
    local w="$work/$mode"
    mkdir -p "$w" "$artifacts/$mode"
    # The implementation (native, pure) and the service (broker, proxy).
    local impl=${mode%-proxy} service=broker
    [ "$impl" = "$mode" ] || service=proxy

    local db="wp_${mode//-/_}"
    local db_password
    db_password=$(head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')
    mariadb --no-defaults --socket="$sock" -u root <<SQL
CREATE DATABASE $db DEFAULT CHARACTER SET utf8mb4;
CREATE USER '$db'@'localhost' IDENTIFIED BY '$db_password';
GRANT ALL ON $db.* TO '$db'@'localhost';
SQL

    mkfifo "$w/env.in"
    if [ "$service" = broker ]; then
        log "$mode: broker + fake Stora (tessera-e2e-env, ownership proof on)"
        setsid "$env_bin" --exit-on-stdin-close --max-lifetime "$max_lifetime" --log stderr --token-canary "$stora_canary" \
            <"$w/env.in" >"$w/env.out" 2>"$w/env.err" &
    else
        log "$mode: authorization proxy + fake Stora (tessera-proxy-env, ownership proof on)"
        setsid "$proxy_env_bin" --exit-on-stdin-close --max-lifetime "$max_lifetime" \
            <"$w/env.in" >"$w/env.out" 2>"$w/env.err" &
    fi
    pids+=($!)
    # The env stops when its stdin closes (at exit): hold the fifo open on a spare descriptor.
    local fd
    exec {fd}>"$w/env.in"
    for _ in $(seq 1 100); do [ -s "$w/env.out" ] && break; sleep 0.1; done
    local env_json
    env_json=$(head -n 1 "$w/env.out")
    [ -n "$env_json" ] || { cat "$w/env.err" >&2; exit 1; }
    # The plugin's broker (a partner's plugin would ship its production URL). With the proxy the
    # site starts on the default service and the test chooses the proxy on the settings page.
    local broker_line=''
    if [ "$service" = broker ]; then
        broker_line="define( 'STOREFRONT_SYNC_BROKER_URL', '$(php -r 'echo json_decode($argv[1], true)["broker_url"];' "$env_json")' );"
    fi

    log "$mode: WordPress (Debian's package, private config)"
    local port site wp salts
    port=$(free_port)
    site="http://127.0.0.1:$port"
    wp="$w/wp"
    mkdir -p "$wp/wp-content/plugins" "$wp/wp-content/uploads" "$wp/wp-content/mu-plugins"
    for entry in /usr/share/wordpress/* /usr/share/wordpress/.htaccess; do
        case "$(basename "$entry")" in wp-config.php | wp-content) ;; *) ln -s "$entry" "$wp/" ;; esac
    done
    ln -s /usr/share/wordpress/wp-content/themes "$wp/wp-content/themes"
    cp -r examples/wordpress-plugin "$wp/wp-content/plugins/storefront-sync"
    cp tests/wordpress/mu-plugins/*.php "$wp/wp-content/mu-plugins/"
    salts=$(php -r 'foreach (["AUTH_KEY","SECURE_AUTH_KEY","LOGGED_IN_KEY","NONCE_KEY","AUTH_SALT","SECURE_AUTH_SALT","LOGGED_IN_SALT","NONCE_SALT"] as $k) printf("defined( %1\$s ) || define( %1\$s, %2\$s );\n", var_export($k, true), var_export(bin2hex(random_bytes(32)), true));')
    cat >"$wp/wp-config.php" <<PHP
<?php
// Written by scripts/test.d/40-wordpress.sh for one test run ($mode).
define( 'DB_NAME', '$db' );
define( 'DB_USER', '$db' );
define( 'DB_PASSWORD', '$db_password' );
define( 'DB_HOST', 'localhost:$sock' );
define( 'DB_CHARSET', 'utf8mb4' );
\$table_prefix = 'wp_';
// Constants the test changes while WordPress runs (the state key override,
// the site's address when it "moves"); a PHP CLI step may define a salt first.
if ( is_readable( '$w/test-constants.php' ) ) {
	require '$w/test-constants.php';
}
$salts
defined( 'WP_HOME' ) || define( 'WP_HOME', '$site' );
defined( 'WP_SITEURL' ) || define( 'WP_SITEURL', '$site' );
define( 'WP_CONTENT_DIR', __DIR__ . '/wp-content' );
define( 'WP_CONTENT_URL', WP_HOME . '/wp-content' );
define( 'WP_HTTP_BLOCK_EXTERNAL', true ); // loopback only: no update checks, no feeds
define( 'WP_ACCESSIBLE_HOSTS', '127.0.0.1' ); // the broker
define( 'DISABLE_WP_CRON', true );
define( 'AUTOMATIC_UPDATER_DISABLED', true );
define( 'FS_METHOD', 'direct' );
define( 'WP_DEBUG', true );
define( 'WP_DEBUG_LOG', '$w/wp-debug.log' );
define( 'WP_DEBUG_DISPLAY', false );
$broker_line
if ( ! defined( 'ABSPATH' ) ) {
	define( 'ABSPATH', __DIR__ . '/' );
}
require_once ABSPATH . 'wp-settings.php';
PHP

    # Debian's PHP CLI with its modules (mysqli, curl, …); `native` adds the built extension,
    # `pure` nothing (and Debian's PHP must not load a tessera of its own).
    local php_args=()
    [ "$impl" = native ] && php_args+=(-d "extension=$ext")
    php_args+=(-d memory_limit=256M -d display_errors=0 -d log_errors=1 -d "error_log=$w/php-server.log")
    # php -S caches scripts in opcache (revalidated every 2 s): the constants file the
    # test rewrites between two page loads is never cached.
    echo "$w/test-constants.php" >"$w/opcache-blacklist.txt"
    php_args+=(-d "opcache.blacklist_filename=$w/opcache-blacklist.txt")
    local loaded
    loaded=$(php "${php_args[@]}" -r 'echo extension_loaded("tessera") ? "yes" : "no";')
    [ "$loaded" = "$([ "$impl" = native ] && echo yes || echo no)" ] \
        || { echo "40-wordpress: $mode: extension_loaded('tessera') is $loaded" >&2; exit 1; }

    log "$mode: installing WordPress into the private database"
    WP_ROOT="$wp" WP_URL="$site" php "${php_args[@]}" tests/wordpress/install.php

    # The proxy suite loads a page once per worker at the same time (its concurrent-refresh step).
    local workers=4
    [ "$service" = proxy ] && workers=6
    log "$mode: php -S $site (tessera extension loaded: $loaded, $workers workers)"
    (cd "$wp" && WP_ROOT="$wp" PHP_CLI_SERVER_WORKERS="$workers" exec setsid php "${php_args[@]}" -S "127.0.0.1:$port" "$work/router.php" \
        >>"$w/php-server.log" 2>&1) &
    pids+=($!)
    for _ in $(seq 1 100); do
        curl -s -o /dev/null "$site/wp-login.php" && break
        sleep 0.1
    done

    {
        printf 'export WP_TESSERA_MODE=%q WP_SERVICE=%q WP_URL=%q WP_WORK=%q WP_MYSQL_SOCKET=%q WP_DB_NAME=%q\n' "$impl" "$service" "$site" "$w" "$sock" "$db"
        printf 'export WP_ARTIFACTS=%q TESSERA_ENV=%q WP_DEBUG_LOG=%q\n' "$artifacts/$mode" "$env_json" "$w/wp-debug.log"
        # For the PHP CLI steps: the extension (the native implementation) and Stora's token canary.
        printf 'export WP_PHP_EXTENSION=%q TESSERA_STORA_CANARY=%q\n' "$ext" "$stora_canary"
        printf 'export WP_TEST_FILE=%q WP_SERVER_WORKERS=%q\n' "$([ "$service" = broker ] && echo wordpress.test.mjs || echo proxy.test.mjs)" "$workers"
    } >"$w/test.env"
}

for mode in "${modes[@]}"; do setup_mode "$mode"; done
served=$(date +%s)

# ---- the operator, in headless Chromium, per mode --------------------------------------------
# Each suite runs in a session of its own (stopped with the servers); its
# output is kept and printed when it ends.
start_browser() {
    local mode=$1
    local remaining=$((max_lifetime - ($(date +%s) - started) - 10))
    (
        . "$work/$mode/test.env"
        cd tests/wordpress
        exec setsid timeout "$remaining" node --test --test-reporter=spec --test-timeout=$((remaining * 1000)) "$WP_TEST_FILE"
    ) >"$work/$mode/test.out" 2>&1 &
    pids+=($!)
    browser_pid[$mode]=$!
    browser_start[$mode]=$(date +%s)
}
finish_browser() {
    local mode=$1
    local status=0
    wait "${browser_pid[$mode]}" || status=$?
    echo "---- $mode: $(case "$mode" in native*) echo 'the tessera extension loaded' ;; *) echo 'no extension, the bundled pure-PHP copy' ;; esac), $(case "$mode" in *-proxy) echo 'authorization proxy' ;; *) echo broker ;; esac) ----"
    cat "$work/$mode/test.out"
    touch "$work/$mode/printed"
    results+=("$mode: $([ $status = 0 ] && echo passed || echo "FAILED ($status)") (browser ended $(( $(date +%s) - ${browser_start[$mode]} ))s after its start)")
    return $status
}
declare -A browser_pid browser_start
results=()
failed=0
if [ "$parallel" = 1 ]; then
    log "browser: tests/wordpress/wordpress.test.mjs, modes side by side: ${modes[*]}"
    for mode in "${modes[@]}"; do start_browser "$mode"; done
    for mode in "${modes[@]}"; do finish_browser "$mode" || failed=1; done
else
    for mode in "${modes[@]}"; do
        log "browser: tests/wordpress/wordpress.test.mjs ($mode)"
        start_browser "$mode"
        finish_browser "$mode" || failed=1
    done
fi
for line in "${results[@]}"; do log "40-wordpress: $line"; done
# The proxy runs' concurrent-refresh counts (tests/wordpress/proxy.test.mjs prints them).
for mode in "${modes[@]}"; do
    { grep -ho 'concurrent refresh (.*' "$work/$mode/test.out" 2>/dev/null || true; } | while read -r line; do log "40-wordpress: $line"; done
done
now=$(date +%s)
log "40-wordpress: $((now - started))s (checks and builds $((built - started))s, servers $((served - built))s, browsers $((now - served))s$([ "$parallel" = 1 ] && echo ', side by side'))"
exit $failed
