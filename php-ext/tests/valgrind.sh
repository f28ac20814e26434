#!/usr/bin/env bash
# Runs the whole PHP suite under valgrind memcheck with the Zend allocator off
# (USE_ZEND_ALLOC=0, so every PHP allocation is visible; PCRE's JIT off, as its
# vectorised reads past string ends are false positives) and fails on any
# invalid read/write (or other memcheck error) and on any definite leak whose
# allocation stack goes through the extension.
#
#   php-ext/tests/valgrind.sh target/php/tessera-test.so
#
# The log is kept in target/php/valgrind.log. PHPUnit's own result must be OK
# too. Takes a few minutes (see php-ext/README.md).
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
so="${1:?usage: valgrind.sh /path/to/tessera.so}"
so="$(cd "$(dirname "$so")" && pwd)/$(basename "$so")"
log="$(dirname "$so")/valgrind.log"
phpunit="$(command -v phpunit)"

start=$(date +%s)
# ZEND_DONT_UNLOAD_MODULES keeps tessera.so mapped at exit, so leak stacks
# still name it. TESSERA_HOSTILE_SMALL=1 makes HostileInputTest's "big" input
# 4 MiB instead of 64 MiB (copying it under memcheck would take minutes).
USE_ZEND_ALLOC=0 ZEND_DONT_UNLOAD_MODULES=1 RUST_BACKTRACE=0 TESSERA_HOSTILE_SMALL=1 \
    valgrind --tool=memcheck --leak-check=full --show-leak-kinds=definite \
    --errors-for-leak-kinds=definite --num-callers=40 --track-origins=no \
    --log-file="$log" \
    php -d extension="$so" -d memory_limit=-1 -d pcre.jit=0 -d opcache.enable_cli=0 "$phpunit" -c "$here/../phpunit.xml" \
    > "$log.phpunit" 2>&1
phpunit_rc=$?
elapsed=$(( $(date +%s) - start ))
tail -n 3 "$log.phpunit"

# Memcheck errors other than leaks: invalid reads/writes, uninitialised
# values, bad frees, overlaps.
invalid=$(grep -cE "Invalid (read|write|free)|uninitialised|Mismatched free|Source and destination overlap|Syscall param" "$log")
# Definite leaks whose stack goes through tessera.so.
leaks_ext=$(awk '
    /definitely lost in loss record/ { inrec = 1; hit = 0; next }
    inrec && /tessera/ { hit = 1 }
    inrec && /^==[0-9]+== $/ { if (hit) n++; inrec = 0 }
    END { print n + 0 }' "$log")
summary=$(grep -E "definitely lost:|ERROR SUMMARY" "$log" | sed 's/^==[0-9]*== *//')
echo "valgrind: ${elapsed}s; invalid accesses/errors: $invalid; definite leaks through the extension: $leaks_ext"
echo "$summary"
if [ "$phpunit_rc" -ne 0 ] || [ "$invalid" -ne 0 ] || [ "$leaks_ext" -ne 0 ]; then
    echo "valgrind: FAILED (phpunit rc $phpunit_rc; see $log)"
    exit 1
fi
echo "valgrind: clean"
