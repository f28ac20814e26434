#!/usr/bin/env python3
"""Every reference inside the repository resolves inside the repository.

Checks, over the files git knows (tracked, plus new files not ignored):

* in every ``*.md`` file, every relative link ``[text](path)`` or
  ``[text](path#anchor)`` names an existing file or directory inside the
  repository (relative to the linking file; ``/path`` from the root), and a
  ``#anchor`` into a Markdown file names one of its headings (GitHub's
  slugs);
* in every ``*.md`` file, every mention of a ``*.md`` file (backticked or
  bare) exists relative to the mentioning file or to the repository root, or
  is a bare file name (no directory) that exactly one file of the
  repository has (``PROTOCOL.md`` in a comment means ``docs/PROTOCOL.md``);
* in source files, every mention of ``DESIGN.md`` or ``PROTOCOL.md`` (with
  the path before it) resolves the same way;
* no file holds an absolute path of a build machine's work directory.

Usage: ``scripts/check-links.py [ROOT]`` (default: this repository) prints
each problem as ``path:line: message`` and exits 1 if there is any;
``scripts/check-links.py --self-test`` checks the checker on a scratch tree.
Python 3 standard library only.
"""

import os
import re
import subprocess
import sys
import tempfile

# Written in two pieces so this file does not match itself.
WORK_DIR = "/" + "work/"
# Files allowed to hold WORK_DIR (a test that needs one), with the reason.
WORK_DIR_ALLOWED = {}

SOURCE_EXTS = (".rs", ".sh", ".py", ".php", ".js", ".mjs", ".ts", ".toml", ".json", ".yml", ".yaml")
SKIP_PARTS = ("node_modules", "target")

LINK = re.compile(r"\[[^\]\n]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
URL = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://[^\s)>\]`'\"]+")
MD_MENTION = re.compile(r"(?<![\w./-])((?:\.{1,2}/)*[\w.-]+(?:/[\w.-]+)*\.md)(?![\w-])")
DESIGN_MENTION = re.compile(r"(?<![\w./-])((?:\.{1,2}/)*(?:[\w.-]+/)*(?:DESIGN|PROTOCOL)\.md)(?![\w-])")
HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$")


def repo_files(root):
    out = subprocess.run(
        ["git", "-C", root, "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        check=True,
        capture_output=True,
    ).stdout.decode()
    files = []
    for rel in out.split("\0"):
        if rel and not any(p in SKIP_PARTS for p in rel.split("/")) and os.path.isfile(os.path.join(root, rel)):
            files.append(rel)
    return sorted(files)


def read_text(path):
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except (UnicodeDecodeError, OSError):
        return None


def slug(heading):
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to '-'."""
    text = re.sub(r"`|\*\*|__|<[^>]+>", "", heading)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = text.strip().lower()
    text = "".join(c for c in text if c.isalnum() or c in " -_")
    return text.replace(" ", "-")


def anchors(text):
    seen = {}
    found = set()
    in_fence = False
    for line in text.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            in_fence = not in_fence
            continue
        m = None if in_fence else HEADING.match(line)
        if m:
            base = slug(m.group(2))
            n = seen.get(base, 0)
            seen[base] = n + 1
            found.add(base if n == 0 else f"{base}-{n}")
    found.update(re.findall(r"<a\s+(?:name|id)=\"([^\"]+)\"", text))
    return found


def inside(root, path):
    real_root = os.path.realpath(root)
    return os.path.realpath(path) == real_root or os.path.realpath(path).startswith(real_root + os.sep)


def resolves(root, rel_dir, target, unique_names):
    """The existing path `target` names (relative to rel_dir, or the root, or
    the one file of that bare name), or None."""
    if "/" not in target and target in unique_names:
        return unique_names[target]
    candidates = [os.path.join(root, target.lstrip("/"))] if target.startswith("/") else []
    if not target.startswith("/"):
        candidates = [os.path.join(root, rel_dir, target), os.path.join(root, target)]
    for c in candidates:
        if os.path.exists(c) and inside(root, c):
            return os.path.normpath(c)
    return None


def line_of(text, index):
    return text.count("\n", 0, index) + 1


def check(root):
    problems = []
    counts = {"files": 0, "links": 0, "mentions": 0}
    anchor_cache = {}
    files = repo_files(root)
    by_name = {}
    for rel in files:
        by_name.setdefault(os.path.basename(rel), []).append(rel)
    unique_names = {name: rels[0] for name, rels in by_name.items() if len(rels) == 1}
    this = os.path.abspath(__file__)
    for rel in files:
        text = read_text(os.path.join(root, rel))
        if text is None:
            continue
        counts["files"] += 1
        rel_dir = os.path.dirname(rel)
        if WORK_DIR in text and rel not in WORK_DIR_ALLOWED:
            problems.append(f"{rel}:{line_of(text, text.index(WORK_DIR))}: absolute path {WORK_DIR}… (use a repository path)")
        if rel.endswith(".md"):
            for m in LINK.finditer(text):
                target = m.group(1)
                if URL.match(target) or target.startswith(("mailto:", "data:")):
                    continue
                counts["links"] += 1
                path, _, anchor = target.partition("#")
                path = path.split("?")[0]
                where = f"{rel}:{line_of(text, m.start())}"
                if not path:
                    found = os.path.join(root, rel)
                else:
                    found = os.path.normpath(os.path.join(root, path.lstrip("/") if path.startswith("/") else os.path.join(rel_dir, path)))
                    if not (os.path.exists(found) and inside(root, found)):
                        problems.append(f"{where}: link to {target}: no such file in the repository")
                        continue
                if anchor and found.endswith(".md"):
                    if found not in anchor_cache:
                        anchor_cache[found] = anchors(read_text(found) or "")
                    if anchor.lower() not in anchor_cache[found]:
                        problems.append(f"{where}: link to {target}: no heading with that anchor")
            stripped = URL.sub(" ", LINK.sub(" ", text))
            mentions = MD_MENTION
        elif os.path.abspath(os.path.join(root, rel)) == this:
            continue
        elif rel.endswith(SOURCE_EXTS):
            stripped = URL.sub(" ", text)
            mentions = DESIGN_MENTION
        else:
            continue
        for m in mentions.finditer(stripped):
            counts["mentions"] += 1
            if resolves(root, rel_dir, m.group(1), unique_names) is None:
                problems.append(f"{rel}:{line_of(stripped, m.start())}: {m.group(1)} is not a file of the repository")
    return problems, counts


def self_test():
    with tempfile.TemporaryDirectory() as root:
        def write(rel, text):
            os.makedirs(os.path.dirname(os.path.join(root, rel)) or root, exist_ok=True)
            with open(os.path.join(root, rel), "w", encoding="utf-8") as f:
                f.write(text)

        subprocess.run(["git", "init", "-q", root], check=True)
        write("README.md", "# Top\n## Run it `now`\n[ok](docs/A.md) [ok](#run-it-now) [bad](#nope)\n")
        write("docs/A.md", "[up](../README.md#top) [gone](B.md) see `docs/A.md`, MISSING.md\n")
        write("src/x.rs", "// per docs/DESIGN.md, DESIGN.md and ../DESIGN.md\n")
        write("docs/DESIGN.md", "x " + WORK_DIR + "y\n")
        problems, _ = check(root)
        text = "\n".join(problems)
        expected = ["README.md:3: link to #nope", "docs/A.md:1: link to B.md", "docs/A.md:1: MISSING.md",
                    "src/x.rs:1: ../DESIGN.md", "docs/DESIGN.md:1: absolute path"]
        missing = [e for e in expected if e not in text]
        if missing or len(problems) != len(expected):
            print("check-links self-test FAILED; got:\n" + text + "\nmissing: " + repr(missing))
            return 1
    print(f"check-links self-test: {len(expected)} planted problems found, nothing else")
    return 0


def main(argv):
    if argv[1:] == ["--self-test"]:
        return self_test()
    root = argv[1] if len(argv) > 1 else os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    problems, counts = check(root)
    for p in problems:
        print(p)
    summary = f"{counts['files']} files, {counts['links']} relative links, {counts['mentions']} file mentions"
    if problems:
        print(f"check-links: {len(problems)} problem(s) in {summary}")
        return 1
    print(f"check-links: ok ({summary})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
