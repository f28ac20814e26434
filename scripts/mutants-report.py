#!/usr/bin/env python3
"""Reads a cargo-mutants run and says whether anything survived that may not.

    mutants-report.py OUTCOMES_JSON EQUIVALENT_TXT [--full]

Prints one row per source file (mutants, caught, missed, unviable, timeouts,
equivalent) and exits 1 if a mutant survived that core/mutants-equivalent.txt
does not list. With --full (a run over whole files) a listed mutant of a file
the run examined that no longer survives is also an error, so the list never
goes stale.

A mutant is named as cargo-mutants names it in missed.txt without its line and
column ("core/src/sign.rs: replace | with ^ in uuid_v4"), so the list survives
edits elsewhere in the file. A name listed N times covers N survivors.
"""

import collections
import json
import re
import sys

LINE_COL = re.compile(r"^([^:]+):\d+:\d+: ")


def identity(name: str) -> str:
    """'core/src/a.rs:7:34: replace * with +' -> 'core/src/a.rs: replace * with +'."""
    return LINE_COL.sub(r"\1: ", name, count=1)


def read_equivalents(path: str) -> collections.Counter:
    listed = collections.Counter()
    with open(path, encoding="utf-8") as f:
        for number, raw in enumerate(f, 1):
            line = raw.rstrip("\n")
            if not line.strip() or line.startswith("#"):
                continue
            name, sep, reason = line.partition("  # ")
            if not sep or not reason.strip():
                sys.exit(f"{path}:{number}: every equivalent mutant needs a reason after '  # '")
            listed[name.strip()] += 1
    return listed


def main() -> int:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    full = "--full" in sys.argv[1:]
    if len(args) != 2:
        sys.exit(__doc__)
    with open(args[0], encoding="utf-8") as f:
        run = json.load(f)
    listed = read_equivalents(args[1])

    kinds = {"CaughtMutant": "caught", "MissedMutant": "missed", "Unviable": "unviable", "Timeout": "timeout"}
    rows = collections.defaultdict(collections.Counter)
    survivors = collections.Counter()
    timed_out = collections.Counter()
    for outcome in run["outcomes"]:
        mutant = outcome["scenario"].get("Mutant") if isinstance(outcome["scenario"], dict) else None
        if mutant is None:
            if outcome["summary"] != "Success":
                print(f"the unmutated baseline failed: see {outcome.get('log_path')}")
                return 1
            continue
        kind = kinds.get(outcome["summary"], outcome["summary"])
        rows[mutant["file"]]["mutants"] += 1
        rows[mutant["file"]][kind] += 1
        if kind == "missed":
            survivors[identity(mutant["name"])] += 1
        elif kind == "timeout":
            timed_out[identity(mutant["name"])] += 1

    equivalent = survivors & listed
    unlisted = survivors - listed
    # Only the files this run examined can tell whether a listed mutant survives.
    # A timeout (a slow machine) says nothing either way.
    stale = collections.Counter({n: c for n, c in (listed - survivors - timed_out).items() if n.split(":", 1)[0] in rows})
    for name, count in equivalent.items():
        rows[name.split(":", 1)[0]]["equivalent"] += count

    columns = ["mutants", "caught", "missed", "unviable", "timeout", "equivalent"]
    width = max([len("file")] + [len(f) for f in rows])
    print(f"{'file':<{width}}  " + "  ".join(f"{c:>10}" for c in columns))
    total = collections.Counter()
    for file in sorted(rows):
        total.update(rows[file])
        print(f"{file:<{width}}  " + "  ".join(f"{rows[file][c]:>10}" for c in columns))
    print(f"{'total':<{width}}  " + "  ".join(f"{total[c]:>10}" for c in columns))

    failed = False
    if unlisted:
        failed = True
        print(f"\n{sum(unlisted.values())} surviving mutant(s) not listed as equivalent "
              "(kill each with a test, or list it with its reason):")
        for name in sorted(unlisted.elements()):
            print(f"  {name}")
    if full and stale:
        failed = True
        print(f"\n{sum(stale.values())} listed equivalent mutant(s) that no longer survive "
              f"(remove them from {args[1]}):")
        for name in sorted(stale.elements()):
            print(f"  {name}")
    if not failed:
        print(f"\nno surviving mutant beyond the {sum(equivalent.values())} listed as equivalent")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
