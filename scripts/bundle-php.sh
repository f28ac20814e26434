#!/usr/bin/env bash
# A prefixed, plugin-private copy of the pure-PHP Tessera (php/src), the
# WordPress convention for a vendored library: the namespace `Tessera\Pure\`
# becomes the plugin's own (default `StorefrontSync\Vendor\Tessera\`), the
# copy has its own autoloader, and it leaves out php/src/aliases.php, so it
# never claims the global `Tessera\…` names. Two plugins on one site bundling
# different Tessera versions then cannot collide.
#
#   scripts/bundle-php.sh            rewrite examples/wordpress-plugin/vendor-prefixed/tessera
#                                    from php/src, then verify it
#   scripts/bundle-php.sh --check    fail when the committed copy is not what this script
#                                    makes from today's php/src (scripts/test.d/40-wordpress.sh)
#   --out DIR --prefix 'Vendor\Ns\Tessera'   another plugin's copy
#
# The verification (scripts/bundle-php.php verify) fails on any `Tessera\Pure`
# left in any spelling, a namespace outside the prefix, a code reference to a
# global `Tessera\…` name (but the extension's TransportException, which the
# package accepts from a loaded extension), a class_alias, a global function
# or constant, a file that does not declare exactly its prefixed class, or a
# smoke run (seal, open, wrong key) that does not work under the new names.
# Plain bash and PHP; nothing is downloaded.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$TESSERA_ROOT"

out=examples/wordpress-plugin/vendor-prefixed/tessera
prefix='StorefrontSync\Vendor\Tessera'
check=""
while [ $# -gt 0 ]; do
    case "$1" in
        --check) check=1 ;;
        --out) out=$2; shift ;;
        --prefix) prefix=$2; shift ;;
        *) echo "usage: $0 [--check] [--out DIR] [--prefix 'Vendor\\Ns\\Tessera']" >&2; exit 2 ;;
    esac
    shift
done
[[ "$prefix" =~ ^[A-Za-z_][A-Za-z0-9_]*(\\[A-Za-z_][A-Za-z0-9_]*)+$ ]] || { echo "bundle-php: bad prefix $prefix" >&2; exit 2; }

# The package's version: the workspace's (the extension reports the same).
version=$(sed -n '/^\[workspace.package\]/,/^\[/s/^version *= *"\(.*\)"/\1/p' Cargo.toml | head -n 1)
[ -n "$version" ] || version=unknown

# verify runs in a fresh `php -n` (only the tokenizer on top), so nothing
# loaded from php.ini (the extension, another copy) hides a leak.
php_n=(php -n)
php -n -m | grep -qx tokenizer || php_n+=(-d extension=tokenizer)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tessera-bundle.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
"${php_n[@]}" scripts/bundle-php.php build php/src "$tmp/tessera" "$prefix" "$version"
"${php_n[@]}" scripts/bundle-php.php verify "$tmp/tessera" "$prefix"

if [ -n "$check" ]; then
    if ! diff -r "$tmp/tessera" "$out" >"$tmp/diff" 2>&1; then
        head -n 40 "$tmp/diff" >&2
        echo "bundle-php: $out is stale (php/src changed): run scripts/bundle-php.sh" >&2
        exit 1
    fi
    echo "bundle-php: $out is up to date with php/src (prefix $prefix)" >&2
    exit 0
fi

mkdir -p "$(dirname "$out")"
rm -rf "$out"
cp -r "$tmp/tessera" "$out"
log "bundle-php: php/src → $out (namespace $prefix\\, $(find "$out" -name '*.php' | wc -l) files)"
