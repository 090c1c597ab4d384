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
- a file is longer than MAX_LINES;
- inside http/, a call back up (check_http_ranks): every file of http/ has
  a rank (HTTP_RANK, by name without .c/.h); a file may include only http/
  headers of its rank or lower; the includes between files of http/ have
  no circle; and no file calls a function a file of higher rank defines
  (any function an http/ header declares: server.h's are implemented in
  several files, so the includes alone do not show a call's direction).
  A lower file reaches up only through a pointer set from above (the
  router is srv_conns' on_request, set by server.c).
- inside store/pg/ (one room per file, docs/architecture.md): a file calls a
  function (pgs_*) of a file of its rank or higher (calls go down only), a
  file touches another room's struct (s->ROOM.member), or a file has no rank.
  Includes cannot show it there (internal.h holds every room's struct, so
  every file includes every room's header): the check reads calls instead,
  comments and strings left out, each function placed by its definition.

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
# http/, bottom to top (docs/architecture.md): the rank of each file by its
# name without .c/.h. A new file of http/ needs a row here.
HTTP_RANK = {
    "server.h": 0,  # the API routes see: types and declarations, no code
    "parser": 1, "wire": 1, "tls": 1, "connlimit": 1, "ratelimit": 1,
    "conn": 2,      # a connection; the router and the worker through callbacks
    "req": 3,       # a request's fields and its answer, through conn.h
    "router": 4, "worker": 4,  # dispatch, built-in routes; the structs they read
    "server": 5,    # workers, listeners, lifecycle
}
FUNC_DEF = re.compile(r'^[A-Za-z_][\w \t\*]*?\b(srv_\w+)\s*\([^;{]*\)\s*\{', re.M)
CALL = re.compile(r'\b(srv_\w+)\s*\(')
FUNC_DECL = re.compile(r'^[A-Za-z_][\w \t\*]*?\b(srv_\w+)\s*\(', re.M)


# store/pg/: the rooms' ranks, lowest first. A file may call the functions
# defined in its own file and in files of a lower rank only.
PG_DIR = "store/pg"
PG_RANK = {"lock": 0, "notify": 0, "conn": 1, "stop": 2, "cache": 3, "listen": 4, "pipe": 5,
           "writer": 6, "readq": 7, "records": 8, "maint": 9, "schema": 10}
# The rooms whose state is a member of pgs_store (s->ROOM): only ROOM.c touches it.
PG_ROOMS = ("cache", "listen", "pipe", "stop", "writer", "readq")
PG_COMMENT = re.compile(r"/\*.*?\*/|//[^\n]*", re.S)
PG_STRING = re.compile(r'"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'')
# a definition starts at column 0: its line has its body's brace or no ';' (a
# parameter list that goes on)
PG_DEF = re.compile(r"^(?!static\b)[A-Za-z_][\w \t*]*?\b(pgs_\w+)\s*\((?:[^;]*$|.*\{)")
PG_CALL = re.compile(r"\b(pgs_\w+)\s*\(")
PG_MEMBER = re.compile(r"->(" + "|".join(PG_ROOMS) + r")\.")


def pg_code(text):
    """The C text with comments and string literals blanked (lines kept)."""
    text = PG_COMMENT.sub(lambda m: "\n" * m.group(0).count("\n"), text)
    return PG_STRING.sub('""', text)


def pg_check(root):
    """store/pg/'s rooms: (errors, {caller file: {callee files}})."""
    d = Path(root) / PG_DIR
    if not d.is_dir():
        return [], {}
    code = {p.stem: pg_code(p.read_text(errors="replace")).splitlines()
            for p in sorted(d.glob("*.c"))}
    where = {}  # function -> the file that defines it
    for f, lines in code.items():
        for ln in lines:
            m = PG_DEF.match(ln)
            if m:
                where[m.group(1)] = f
    errors, edges = [], {}
    for f, lines in code.items():
        rel = f"{PG_DIR}/{f}.c"
        if f not in PG_RANK:
            errors.append(f"{rel}: no rank in check_layers.py PG_RANK (place the new room)")
            continue
        for n, ln in enumerate(lines, 1):
            d_ = PG_DEF.match(ln)
            for m in PG_CALL.finditer(ln):
                name = m.group(1)
                g = where.get(name)
                if g is None or g == f or (d_ and d_.start(1) == m.start(1)):
                    continue
                edges.setdefault(f, set()).add(g)
                if PG_RANK.get(g, 99) >= PG_RANK[f]:
                    errors.append(f"{rel}:{n}: calls {name} ({PG_DIR}/{g}.c) from below it: "
                                  f"calls in {PG_DIR}/ go down only ({g} is not below {f}; "
                                  "return it, or a callback the upper room sets)")
            for m in PG_MEMBER.finditer(ln):
                if m.group(1) != f:
                    errors.append(f"{rel}:{n}: touches {m.group(1)}.c's state "
                                  f"(->{m.group(1)}.): through its functions only")
    return errors, edges


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
    pg_errors, pg_edges = pg_check(root)
    errors += pg_errors
    for f, gs in pg_edges.items():
        edges[f"{PG_DIR}/{f}"] = gs
    return errors, edges


def http_rank(name):
    """'conn.c' -> 2; 'server.h' has its own row (the API, not server.c)."""
    if name in HTTP_RANK:
        return HTTP_RANK[name]
    return HTTP_RANK.get(name.rsplit(".", 1)[0])


def check_http_ranks(root):
    """Calls one way inside http/ (see the module doc). Returns errors."""
    http = Path(root) / "http"
    if not http.is_dir():
        return []
    files = sorted(p for p in http.iterdir() if p.suffix in (".c", ".h"))
    errors, graph = [], {}
    text = {p.name: p.read_text(errors="replace") for p in files}
    for p in files:
        if http_rank(p.name) is None:
            errors.append(f"http/{p.name}: no rank (give it one in HTTP_RANK of {Path(__file__).name})")
    for p in files:
        src = http_rank(p.name)
        if src is None:
            continue
        for n, line in enumerate(text[p.name].splitlines(), 1):
            m = INCLUDE.match(line)
            if not m or m.group(1) != '"' or not m.group(2).startswith("http/"):
                continue
            name = m.group(2)[len("http/"):]
            graph.setdefault(p.name, set()).add(name)
            dst = http_rank(name)
            if dst is not None and dst > src:
                errors.append(f'http/{p.name}:{n}: includes "http/{name}" of rank {dst} above its own '
                              f'{src} (a call back up: pass a callback from above instead)')
    # Circles of includes between the files of http/.
    state = {}

    def visit(f, path):
        state[f] = 1
        for g in sorted(graph.get(f, ())):
            if state.get(g) == 1:
                errors.append("circle of includes in http/: " + " -> ".join(path[path.index(g):] + [g]))
            elif g not in state:
                visit(g, path + [g])
        state[f] = 2

    for f in sorted(graph):
        if f not in state:
            visit(f, [f])
    # The functions the headers of http/ declare: defined in which file,
    # called from which (server.h's are implemented in several files, so
    # its includes alone do not show the direction of a call).
    api = {fn for name, body in text.items() if name.endswith(".h") for fn in FUNC_DECL.findall(body)}
    owner = {}
    for name, body in text.items():
        if name.endswith(".c"):
            for fn in FUNC_DEF.findall(body):
                if fn in api:
                    owner[fn] = name
    for name, body in text.items():
        src = http_rank(name)
        if not name.endswith(".c") or src is None:
            continue
        calls = set(CALL.findall(re.sub(r"/\*.*?\*/", "", body, flags=re.S)))
        for fn in sorted(calls & owner.keys()):
            where = owner[fn]
            dst = http_rank(where)
            if where != name and dst is not None and dst > src:
                errors.append(f"http/{name}: calls {fn} of http/{where} (rank {dst} above its own {src}): "
                              "a call back up")
    return errors


def main(argv):
    graph = "--graph" in argv
    args = [a for a in argv if a != "--graph"]
    root = args[0] if args else Path(__file__).resolve().parents[2] / "licsrv"
    errors, edges = check(root)
    errors += check_http_ranks(root)
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
