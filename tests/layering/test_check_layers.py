"""The layering check itself: the real licsrv/ passes, and each rule fails on a
copy of the tree with one deliberately wrong line (run by ctest as `layering`)."""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
CHECK = HERE / "check_layers.py"
LICSRV = HERE.parents[1] / "licsrv"


def run(root):
    p = subprocess.run([sys.executable, str(CHECK), str(root), "--graph"],
                       capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


@pytest.fixture
def tree(tmp_path):
    dst = tmp_path / "licsrv"
    shutil.copytree(LICSRV, dst, ignore=shutil.ignore_patterns("*.o"))
    return dst


def add_line(path, line):
    text = path.read_text()
    path.write_text(line + "\n" + text)


def test_real_tree_passes():
    code, out, err = run(LICSRV)
    assert code == 0, err
    assert "layering: ok" in out
    # The folder graph as docs/architecture.md draws it: http/ and store/ see
    # only util/, util/ sees nothing.
    graph = dict(ln.split(" -> ") for ln in out.splitlines() if " -> " in ln)
    assert graph["http"] == "util"
    assert graph.get("store", "util") == "util"
    assert "util" not in graph


@pytest.mark.parametrize("file,line,needle", [
    ("http/conn.c", '#include "core/app.h"', 'http/ includes "core/app.h"'),
    ("http/server.h", '#include "routes/routes.h"', 'http/ includes "routes/routes.h"'),
    ("store/store.h", '#include "core/seats.h"', 'store/ includes "core/seats.h"'),
    ("util/log.c", '#include "http/server.h"', 'util/ includes "http/server.h"'),
    ("core/app.c", '#include "serve.h"', "includes the composition root"),
    ("core/decide.c", '#include <lmdb.h>', "<lmdb.h> belongs to store/lmdb/ only"),
    ("store/lmdb/env.c", '#include <libpq-fe.h>', "<libpq-fe.h> belongs to store/pg/ only"),
    ("core/app.c", '#include <libpq-fe.h>', "<libpq-fe.h> belongs to store/pg/ only"),
    ("routes/verify.c", '#include <http_parser.h>', "<http_parser.h> belongs to http/ only"),
])
def test_wrong_include_fails(tree, file, line, needle):
    add_line(tree / file, line)
    code, _, err = run(tree)
    assert code == 1
    assert needle in err
    assert f"{file}:1:" in err


def test_circle_between_folders_fails(tree):
    # core/ already includes store/ ... routes/ includes core/: close a circle.
    add_line(tree / "core/decide.h", '#include "routes/common.h"')
    code, _, err = run(tree)
    assert code == 1
    assert "circle of includes between folders" in err
    assert "core -> routes -> core" in err


def test_long_file_fails(tree):
    p = tree / "core/decide.c"
    p.write_text(p.read_text() + "\n" * 901)
    code, _, err = run(tree)
    assert code == 1
    assert "core/decide.c:" in err and "lines (at most 900" in err


# Inside http/: a rank per file (check_layers.HTTP_RANK), includes and calls
# only to the same rank or below; conn.c reaches the router and the worker
# through the callbacks of srv_conns, never by name.
@pytest.mark.parametrize("file,line,needle", [
    ("http/conn.h", '#include "http/worker.h"', 'includes "http/worker.h" of rank 4 above its own 2'),
    ("http/req.c", '#include "http/router.h"', 'includes "http/router.h" of rank 4 above its own 3'),
    ("http/parser.c", '#include "http/conn.h"', 'includes "http/conn.h" of rank 2 above its own 1'),
    ("http/conn.c", "static void up(srv_conn *c) { srv_dispatch(c); }",
     "calls srv_dispatch of http/router.c (rank 4 above its own 2)"),
    ("http/req.c", "static void up(void) { srv_server_stop(NULL); }",
     "calls srv_server_stop of http/server.c (rank 5 above its own 3)"),
])
def test_http_call_back_up_fails(tree, file, line, needle):
    add_line(tree / file, line)
    code, _, err = run(tree)
    assert code == 1
    assert needle in err


def test_http_call_in_a_comment_passes(tree):
    add_line(tree / "http/conn.c", "/* the router (srv_dispatch(c)) is on_request */")
    code, _, err = run(tree)
    assert code == 0, err


def test_http_new_file_needs_a_rank(tree):
    (tree / "http" / "cache.c").write_text('#include "http/conn.h"\n')
    code, _, err = run(tree)
    assert code == 1
    assert "http/cache.c: no rank" in err


def test_http_include_circle_fails(tree):
    add_line(tree / "http/wire.h", '#include "http/parser.h"')
    add_line(tree / "http/parser.h", '#include "http/wire.h"')
    code, _, err = run(tree)
    assert code == 1
    assert "circle of includes in http/" in err


def add_end(path, text):
    path.write_text(path.read_text() + "\n" + text + "\n")


def test_real_pg_rooms_call_down_only():
    code, out, err = run(LICSRV)
    assert code == 0, err
    graph = dict(ln.split(" -> ") for ln in out.splitlines() if ln.startswith("store/pg/"))
    # the writer calls the pipe, the pipe the cache; nothing calls back up
    assert "pipe" in graph["store/pg/writer"].split(", ")
    assert "cache" in graph["store/pg/pipe"].split(", ")
    assert "store/pg/conn" not in graph  # the lowest room but lock.c and notify.c
    assert graph["store/pg/cache"] == "conn"


@pytest.mark.parametrize("file,text,needle", [
    # conn.c -> pipe.c: the cycle the pipeline's settle used to make
    ("store/pg/conn.c", "static int back(pgs_store *s) { return pgs__pipe_collect(s); }",
     "store/pg/conn.c:"),
    # cache.c -> writer.c's state, and a call up to it
    ("store/pg/cache.c", "static bool peek(pgs_store *s) { return s->writer.up; }",
     "touches writer.c's state"),
    ("store/pg/cache.c", "static void up(pgs_store *s) { pgs__writer_set_up(s, true); }",
     "calls pgs__writer_set_up (store/pg/writer.c) from below it"),
    # two rooms of one rank do not call each other either: maint.c is above records.c
    ("store/pg/records.c", "static int m(store *s) { return pgs_backup(s, \"x\"); }",
     "calls pgs_backup (store/pg/maint.c) from below it"),
])
def test_pg_call_back_up_fails(tree, file, text, needle):
    add_end(tree / file, text)
    code, _, err = run(tree)
    assert code == 1
    assert needle in err


def test_pg_call_named_in_a_comment_or_string_passes(tree):
    add_end(tree / "store/pg/conn.c",
            '/* pgs__pipe_collect(s) reads them */\nstatic const char *n = "pgs__pipe_collect(";')
    code, _, err = run(tree)
    assert code == 0, err


def test_pg_file_without_rank_fails(tree):
    (tree / "store/pg/extra.c").write_text('#include "store/pg/internal.h"\n')
    code, _, err = run(tree)
    assert code == 1
    assert "store/pg/extra.c: no rank" in err
