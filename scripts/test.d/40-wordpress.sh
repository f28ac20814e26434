#!/usr/bin/env bash
# The example WordPress plugin (examples/wordpress-plugin) in a real WordPress:
#   - a private MariaDB (own datadir and socket in a temporary directory, no
#     TCP), Debian's WordPress served by `php -S 127.0.0.1:PORT` with the
#     built tessera extension and a router script (what .htaccess does);
#   - the reference broker + fake Stora (tessera-e2e-env, ownership proof on);
#   - headless Chromium (playwright-core) does what an operator does:
#     tests/wordpress/wordpress.test.mjs. Screenshots: artifacts/wordpress/.
# Everything binds 127.0.0.1 on free ports and stops by itself (trap; the
# whole run is killed after TESSERA_WP_MAX_LIFETIME seconds, default 600).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
cd "$TESSERA_ROOT"
target_dir="${CARGO_TARGET_DIR:-$TESSERA_ROOT/target}"
max_lifetime="${TESSERA_WP_MAX_LIFETIME:-600}"
started=$(date +%s)

ext=$(bash scripts/build-php.sh | tail -n 1)
log "building tessera-e2e-env"
cargo build --quiet --locked -p tessera-broker --features demo --bin tessera-e2e-env
env_bin="$target_dir/debug/tessera-e2e-env"

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
    # Logs worth keeping next to the screenshots.
    for f in php-server.log mysqld.err wp-debug.log env.err; do
        [ -f "$work/$f" ] && cp "$work/$f" "$artifacts/" || true
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

# ---- MariaDB: a private instance, socket only ----------------------------------------------
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
db_password=$(head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')
mariadb --no-defaults --socket="$sock" -u root <<SQL
CREATE DATABASE wordpress DEFAULT CHARACTER SET utf8mb4;
CREATE USER 'wordpress'@'localhost' IDENTIFIED BY '$db_password';
GRANT ALL ON wordpress.* TO 'wordpress'@'localhost';
SQL

# ---- the broker + fake Stora -------------------------------------------------------------------
log "broker + fake Stora (tessera-e2e-env, ownership proof on)"
mkfifo "$work/env.in"
stora_canary="CANARYwp-"
setsid "$env_bin" --max-lifetime "$max_lifetime" --log stderr --token-canary "$stora_canary" \
    <"$work/env.in" >"$work/env.out" 2>"$work/env.err" &
pids+=($!)
exec 9>"$work/env.in" # the env stops when this closes (at exit)
for _ in $(seq 1 100); do [ -s "$work/env.out" ] && break; sleep 0.1; done
env_json=$(head -n 1 "$work/env.out")
[ -n "$env_json" ] || { cat "$work/env.err" >&2; exit 1; }
json() { php -r 'echo json_decode($argv[1], true)[$argv[2]], "\n";' "$env_json" "$1"; }
broker_url=$(json broker_url)

# ---- WordPress: Debian's files, this run's config and content ----------------------------------
log "WordPress (Debian's package, private config)"
port=$(free_port)
site="http://127.0.0.1:$port"
wp="$work/wp"
mkdir -p "$wp/wp-content/plugins" "$wp/wp-content/uploads" "$wp/wp-content/mu-plugins"
for entry in /usr/share/wordpress/* /usr/share/wordpress/.htaccess; do
    case "$(basename "$entry")" in wp-config.php | wp-content) ;; *) ln -s "$entry" "$wp/" ;; esac
done
ln -s /usr/share/wordpress/wp-content/themes "$wp/wp-content/themes"
cp -r examples/wordpress-plugin "$wp/wp-content/plugins/storefront-sync"
cp tests/wordpress/mu-plugins/*.php "$wp/wp-content/mu-plugins/"
salts=$(php -r 'foreach (["AUTH_KEY","SECURE_AUTH_KEY","LOGGED_IN_KEY","NONCE_KEY","AUTH_SALT","SECURE_AUTH_SALT","LOGGED_IN_SALT","NONCE_SALT"] as $k) printf("define( %s, %s );\n", var_export($k, true), var_export(bin2hex(random_bytes(32)), true));')
cat >"$wp/wp-config.php" <<PHP
<?php
// Written by scripts/test.d/40-wordpress.sh for one test run.
define( 'DB_NAME', 'wordpress' );
define( 'DB_USER', 'wordpress' );
define( 'DB_PASSWORD', '$db_password' );
define( 'DB_HOST', 'localhost:$sock' );
define( 'DB_CHARSET', 'utf8mb4' );
\$table_prefix = 'wp_';
$salts
// Constants the test changes while WordPress runs (the state key override,
// the site's address when it "moves").
if ( is_readable( '$work/test-constants.php' ) ) {
	require '$work/test-constants.php';
}
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
define( 'WP_DEBUG_LOG', '$work/wp-debug.log' );
define( 'WP_DEBUG_DISPLAY', false );
// The plugin's broker (a partner's plugin would ship its production URL).
define( 'STOREFRONT_SYNC_BROKER_URL', '$broker_url' );
if ( ! defined( 'ABSPATH' ) ) {
	define( 'ABSPATH', __DIR__ . '/' );
}
require_once ABSPATH . 'wp-settings.php';
PHP
cp tests/wordpress/router.php "$work/router.php"

# Debian's PHP CLI with its modules (mysqli, curl, …) plus the built extension.
php_args=(-d "extension=$ext")
php_args+=(-d memory_limit=256M -d display_errors=0 -d log_errors=1 -d "error_log=$work/php-server.log")

log "installing WordPress into the private database"
WP_ROOT="$wp" WP_URL="$site" php "${php_args[@]}" tests/wordpress/install.php

log "php -S $site"
(cd "$wp" && WP_ROOT="$wp" PHP_CLI_SERVER_WORKERS=4 exec setsid php "${php_args[@]}" -S "127.0.0.1:$port" "$work/router.php" \
    >>"$work/php-server.log" 2>&1) &
pids+=($!)
for _ in $(seq 1 100); do
    curl -s -o /dev/null "$site/wp-login.php" && break
    sleep 0.1
done

# ---- the operator, in headless Chromium -------------------------------------------------------
log "browser: tests/wordpress/wordpress.test.mjs"
export WP_URL="$site" WP_WORK="$work" WP_MYSQL_SOCKET="$sock" WP_ARTIFACTS="$artifacts" TESSERA_ENV="$env_json"
export WP_DEBUG_LOG="$work/wp-debug.log"
# For the secrets step: the extension (to open the sealed option) and Stora's token canary.
export WP_PHP_EXTENSION="$ext" TESSERA_STORA_CANARY="$stora_canary"
remaining=$((max_lifetime - ($(date +%s) - started) - 10))
(cd tests/wordpress && timeout "$remaining" node --test --test-reporter=spec --test-timeout=$((remaining * 1000)) \
    wordpress.test.mjs)
log "40-wordpress: $(( $(date +%s) - started ))s"
