"""javautil - run the Java client's command line (build/java/liblic.jar) the
way tests run licctl; skip when the build had no javac (the jar is optional)."""
import os
import shutil
import subprocess

import pytest

import srvutil
from conftest import SANITIZER_RE

JAR = os.path.join(srvutil.BUILD_DIR, "java", "liblic.jar")
LICCTL = srvutil.tool("licctl")


def need_jar():
    if not os.path.isfile(JAR) or shutil.which("java") is None:
        pytest.skip("build/java/liblic.jar not built (no javac at configure time)")


def run(args, env=None, timeout=60):
    """java -jar liblic.jar ARGS -> CompletedProcess (text)."""
    p = subprocess.run(["java", "-Xshare:auto", "-XX:TieredStopAtLevel=1", "-jar", JAR]
                       + [str(a) for a in args], env=env, capture_output=True, text=True,
                       timeout=timeout)
    return p


def licctl(args, env=None, timeout=60):
    p = subprocess.run([LICCTL] + [str(a) for a in args], env=env, capture_output=True,
                       text=True, timeout=timeout)
    assert not SANITIZER_RE.search(p.stderr), p.stderr
    return p


def same_line(java_err, c_err):
    """An error line of each tool, the tool's name aside."""
    return java_err.replace("liblic", "licctl") == c_err
