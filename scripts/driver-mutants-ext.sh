#!/usr/bin/env bash
# Deliberately wrong extension drivers: the machine-script replay
# (php-ext/tests/MachineTest.php) must catch a driver (php-ext/src/host.rs
# `drive` and its Host) that breaks the host contract (docs/HOST-CONTRACT.md).
# Each hand-made mutant below replaces one exact snippet of host.rs (it must
# occur exactly once) in a temporary copy of the workspace, which is built
# with scripts/build-php.sh --test-hooks; MachineTest then runs against that
# build and must fail, with every script that exercises the broken rule among
# the failed (the same rules as the pure-PHP mutants of
# php/tests/wrong-drivers.php, which checks them). The unmutated copy is built
# and run first: it must pass, so the harness itself is sound.
#
# Slow (a rebuild of the extension per mutant, a few minutes each on 2 cores),
# so it is not part of scripts/test.sh; the pure-PHP twin is.
#
#   scripts/driver-mutants-ext.sh
#
# The copy builds in $CARGO_TARGET_DIR/driver-mutants (default
# target/driver-mutants), kept between runs and first seeded with a copy of
# $CARGO_TARGET_DIR/release, so the dependencies are not rebuilt. Not in
# $CARGO_TARGET_DIR itself: cargo tells path packages apart by their path
# relative to the workspace, so a mutant built there would pass for a fresh
# build of the real checkout (whose host.rs is older) and be what
# scripts/build-php.sh hands out next. The real checkout's files and
# target directory are never modified.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$TESSERA_ROOT"
shared_target="${CARGO_TARGET_DIR:-$TESSERA_ROOT/target}"
export CARGO_TARGET_DIR="$shared_target/driver-mutants"
phpunit="$(command -v phpunit)"
start=$SECONDS

# mutant NAME FROM TO: replace FROM by TO in php-ext/src/host.rs. NAME is also
# the rule's name in php/tests/wrong-drivers.php (which scripts must fail).
names=() froms=() tos=()
mutant() { names+=("$1"); froms+=("$2"); tos+=("$3"); }

mutant "skips the persist" \
    $'if let Some(f) = &self.persist {\n            call_php(f, vec![&state], "persist")?;\n        }' \
    'let _ = (&self.persist, state);'
mutant "retries a failed transport on its own" \
    $'*failed = Some(failure);\n                    Ok(Event::TransportError(TransportError::Network))' \
    $'*failed = Some(failure);\n                    match try_call(&self.transport, vec![&arr])? {\n                        Ok(z) => Ok(Event::Response(response_from_php(expect_array(&z, "transport")?)?)),\n                        Err(()) if take_transport_exception().is_some() => Ok(Event::TransportError(TransportError::Network)),\n                        Err(()) => Err(Failure::Pending),\n                    }'
mutant "reads the clock again after sleeping" \
    'Action::Sleep(ms) => host.sleep(ms)?,' \
    $'Action::Sleep(ms) => {\n                let slept = host.sleep(ms)?;\n                self::now(hooks)?;\n                slept\n            }'
mutant "serves the proof even when told to defer" \
    'Ok(if served.dereference().is_false() { Event::ProofDeferred } else { Event::ProofServed })' \
    $'let _ = served;\n        Ok(Event::ProofServed)'
mutant "skips the unlock" \
    'Some(locks) => locks.unlock(&name, held)?,' \
    $'Some(_) => {\n                    let _ = &held;\n                    Event::Unlocked\n                }'

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

if [ ! -d "$CARGO_TARGET_DIR/release" ] && [ -d "$shared_target/release" ]; then
    log "seeding $CARGO_TARGET_DIR with the dependencies built in $shared_target/release"
    mkdir -p "$CARGO_TARGET_DIR"
    cp -a "$shared_target/release" "$CARGO_TARGET_DIR/release"
fi

# The workspace as it is on disk (uncommitted changes too, ignored files not).
log "copying the workspace to $tmp/ws"
mkdir "$tmp/ws"
git ls-files -z -co --exclude-standard -- Cargo.toml Cargo.lock rustfmt.toml README.md core wasm php-ext \
        examples/broker examples/fake-stora examples/proxy scripts/build-php.sh scripts/lib.sh |
    tar --null --ignore-failed-read -T - -cf - | tar -C "$tmp/ws" -xf -
host="$tmp/ws/php-ext/src/host.rs"
cp "$host" "$tmp/host.rs.orig"
# tar kept the mtime: newer than any earlier build here (a mutant, maybe), so
# the control below is rebuilt from the real host.rs.
touch "$host"

# Check every snippet before the first (slow) build.
for i in "${!names[@]}"; do
    FROM="${froms[$i]}" php -n -r '$n = substr_count(file_get_contents($argv[1]), getenv("FROM")); if ($n !== 1) { fwrite(STDERR, "occurs $n times\n"); exit(1); }' "$host" ||
        { echo "mutant \"${names[$i]}\": its snippet must occur exactly once in php-ext/src/host.rs" >&2; exit 1; }
done

# run NAME: build the copy, run MachineTest on it; prints the PHPUnit summary,
# the failed scripts in $tmp/failed.json, returns PHPUnit's exit code.
run() {
    local t0=$SECONDS so rc=0
    so=$(cd "$tmp/ws" && bash scripts/build-php.sh --test-hooks 2>"$tmp/build.log" | tail -n 1) ||
        { cat "$tmp/build.log" >&2; echo "$1: the build failed" >&2; exit 1; }
    cp "$so" "$tmp/under-test.so"
    rm -f "$tmp/failed.json"
    RUST_BACKTRACE=0 TESSERA_REPLAY_FAILED="$tmp/failed.json" php -d extension="$tmp/under-test.so" "$phpunit" \
        -c php-ext/phpunit.xml --filter MachineTest >"$tmp/out" 2>&1 || rc=$?
    if [ ! -f "$tmp/failed.json" ]; then
        cat "$tmp/out" >&2
        echo "$1: MachineTest did not get to replay the scripts" >&2
        exit 1
    fi
    summary="$(grep -E '^(OK \(|Tests: )' "$tmp/out" | tail -n 1) [build and run $((SECONDS - t0)) s]"
    return $rc
}

log "the unmutated copy"
if ! run "the unmutated copy"; then
    cat "$tmp/out" >&2
    echo "the unmutated copy fails MachineTest: the harness is broken" >&2
    exit 1
fi
results=("unmutated copy: all scripts replay; $summary")

survivors=0
for i in "${!names[@]}"; do
    name="${names[$i]}"
    log "mutant: a driver that ${name}"
    cp "$tmp/host.rs.orig" "$host"
    FROM="${froms[$i]}" TO="${tos[$i]}" php -n -r 'file_put_contents($argv[1], str_replace(getenv("FROM"), getenv("TO"), file_get_contents($argv[1])));' "$host"
    rc=0
    run "mutant \"$name\"" || rc=$?
    if [ "$rc" -ne 0 ] && caught=$(php -n php/tests/wrong-drivers.php --check "$name" "$tmp/failed.json"); then
        results+=("mutant \"$name\": $caught; $summary")
    else
        results+=("mutant \"$name\": SURVIVES (phpunit exit $rc); $summary")
        survivors=$((survivors + 1))
    fi
done
cp "$tmp/host.rs.orig" "$host"

log "wrong extension drivers"
printf '%s\n' "${results[@]}"
echo "wrong extension drivers: $((${#names[@]} - survivors)) of ${#names[@]} mutants caught, unmutated copy passes ($((SECONDS - start)) s)"
[ "$survivors" -eq 0 ]
