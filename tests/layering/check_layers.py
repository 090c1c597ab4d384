#!/usr/bin/python3
"""The layering check of licsrv/ (docs/architecture.md), run by `make test`.

Reads the #include lines of every .c and .h under licsrv/ and fails when:
- http/ or store/ include any licsrv folder but util/ (they know nothing of
  licenses: the transport and the store serve any server);
- util/ includes any other licsrv folder (it is the leaf);
- any file outside the composition root includes a root header (main.c and
  serve.c may include anything; nothing includes them);
- the folders' include graph has a circle;
- a library header leaves its room (<lmdb.h> only in store/lmdb/,
  <libpq-fe.h> only in store/pg/,
  <http_parser.h> only in http/);
- a file is longer than MAX_LINES.

Usage: check_layers.py [LICSRV_DIR] [--graph]   (default: ../../licsrv)
"""
import re
import sys
from pathlib import Path

MAX_LINES = 900
LEAF = "util"
# Folder -> the licsrv folders it may include (besides itself).
ALLOWED = {
    "util": set(),
    "http": {"util"},
    "store": {"util"},
}
# A system header -> the path prefix (under licsrv/) that owns it.
OWNED = {"lmdb.h": "store/lmdb/", "libpq-fe.h": "store/pg/", "http_parser.h": "http/"}
INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')


def folder_of(rel):
    """'http/conn.c' -> 'http', 'serve.c' -> '' (the composition root)."""
    parts = rel.split("/")
    return parts[0] if len(parts) > 1 else ""


def check(root):
    root = Path(root)
    files = sorted(p for p in root.rglob("*") if p.suffix in (".c", ".h") and p.is_file())
    folders = {folder_of(p.relative_to(root).as_posix()) for p in files}
    root_headers = {p.name for p in files if folder_of(p.relative_to(root).as_posix()) == ""}
    errors, edges = [], {}
    for p in files:
        rel = p.relative_to(root).as_posix()
        src = folder_of(rel)
        lines = p.read_text(errors="replace").splitlines()
        if len(lines) > MAX_LINES:
            errors.append(f"{rel}: {len(lines)} lines (at most {MAX_LINES}: split it by concern)")
        for n, line in enumerate(lines, 1):
            m = INCLUDE.match(line)
            if not m:
                continue
            kind, name = m.groups()
            where = f"{rel}:{n}"
            if kind == "<":
                owner = OWNED.get(name)
                if owner and not rel.startswith(owner):
                    errors.append(f"{where}: <{name}> belongs to {owner} only")
                continue
            if "/" not in name:
                if name in root_headers and src != "":
                    errors.append(f'{where}: includes the composition root ("{name}")')
                continue
            dst = name.split("/")[0]
            if dst not in folders or dst == src:
                continue  # liblic ("lic/...") or a file of its own folder
            edges.setdefault(src, set()).add(dst)
            if src in ALLOWED and dst not in ALLOWED[src]:
                may = ", ".join(sorted(ALLOWED[src])) or "no other licsrv folder"
                errors.append(f'{where}: {src or "root"}/ includes "{name}" ({src}/ may include {may})')
            if src != "" and dst == "":
                errors.append(f'{where}: includes the composition root ("{name}")')
    # Circles between folders (the root excluded: nothing may include it).
    state = {}

    def visit(f, path):
        state[f] = 1
        for g in sorted(edges.get(f, ())):
            if state.get(g) == 1:
                cyc = path[path.index(g):] + [g]
                errors.append("circle of includes between folders: " + " -> ".join(cyc))
            elif g not in state:
                visit(g, path + [g])
        state[f] = 2

    for f in sorted(edges):
        if f and f not in state:
            visit(f, [f])
    return errors, edges


def main(argv):
    graph = "--graph" in argv
    args = [a for a in argv if a != "--graph"]
    root = args[0] if args else Path(__file__).resolve().parents[2] / "licsrv"
    errors, edges = check(root)
    if graph:
        for f in sorted(edges):
            print(f"{f or '(root)'} -> {', '.join(sorted(edges[f]))}")
    for e in errors:
        print(f"layering: {e}", file=sys.stderr)
    if errors:
        print(f"layering: {len(errors)} problem(s) in {root}", file=sys.stderr)
        return 1
    print(f"layering: ok ({root})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
