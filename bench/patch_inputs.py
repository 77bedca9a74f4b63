"""The three realistic layer updates bench/patch.py measures, built here from real packages.

Each case is an old and a new uncompressed layer tar under .cache/bench/patch/CASE/, made
once and reused (delete the folder to rebuild). Tars are written by GNU tar the way a layer
is: sorted names, numeric owners, PAX format, no atime/ctime records.

- stdlib: /usr/lib/python3.11 (its __pycache__ included); the update edits four modules
  (recompiling their .pyc) and adds a pip-downloaded pure-Python package (requests).
- debian: a debootstrap (minbase) of bookworm; the update adds bookworm-security and
  bookworm-updates, runs `apt-get upgrade` and installs curl, less and procps.
- binaries: the zstd C library (vendored in the `zstandard` sdist) compiled to objects,
  libzstd.a and libzstd.so, then compiled again after a one-line change in one source.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache" / "bench" / "patch"
CASES = ("stdlib", "debian", "binaries")
_TAR = ["tar", "--sort=name", "--numeric-owner", "--owner=0", "--group=0", "--format=posix"]
_TAR += ["--pax-option=delete=atime,delete=ctime"]


def sh(*argv: str, cwd: Path | None = None) -> None:
    subprocess.run(argv, check=True, cwd=cwd, stdout=subprocess.DEVNULL)


def tar(root: Path, out: Path, *exclude: str) -> None:
    excludes = [f"--exclude={e}" for e in exclude]
    sh(*_TAR, *excludes, "-cf", str(out), "-C", str(root), ".")


def inputs(case: str) -> tuple[Path, Path]:
    """(old, new) layer tars of `case`, built when missing."""
    where = CACHE / case
    old, new = where / "old.tar", where / "new.tar"
    if not (old.exists() and new.exists()):
        where.mkdir(parents=True, exist_ok=True)
        {"stdlib": _stdlib, "debian": _debian, "binaries": _binaries}[case](where)
    return old, new


def _edit(path: Path, line: str) -> None:
    text = path.read_text()
    path.write_text(text.replace("\nimport ", f"\n{line}\nimport ", 1))


def _stdlib(where: Path) -> None:
    tree = where / "tree"
    shutil.rmtree(tree, ignore_errors=True)
    lib = tree / "usr/lib/python3.11"
    shutil.copytree("/usr/lib/python3.11", lib, symlinks=True)
    tar(tree, where / "old.tar")
    for name in ("json/encoder.py", "textwrap.py", "string.py", "functools.py"):
        _edit(lib / name, "_PATCHED = True  # a local fix")
        sh("python3.11", "-m", "py_compile", str(lib / name))
    site = lib / "site-packages"
    site.mkdir(exist_ok=True)
    sh(sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", str(where), "requests")
    wheel = sorted(glob.glob(str(where / "requests-*.whl")))[-1]
    sh("python3", "-m", "zipfile", "-e", wheel, str(site))
    sh("python3.11", "-m", "compileall", "-q", str(site))
    tar(tree, where / "new.tar")
    shutil.rmtree(tree)


_APT_EXCLUDES = ("./var/cache/apt/*", "./var/lib/apt/lists/*", "./proc/*", "./sys/*", "./dev/*")
_SECURITY = (
    "deb http://deb.debian.org/debian bookworm main\n"
    "deb http://deb.debian.org/debian bookworm-updates main\n"
    "deb http://deb.debian.org/debian-security bookworm-security main\n"
)


def _debian(where: Path) -> None:
    root = where / "rootfs"
    if not (root / "etc/os-release").exists():
        shutil.rmtree(root, ignore_errors=True)
        sh("debootstrap", "--variant=minbase", "bookworm", str(root), "http://deb.debian.org/debian")
    tar(root, where / "old.tar", *_APT_EXCLUDES)
    (root / "etc/apt/sources.list").write_text(_SECURITY)
    env = "DEBIAN_FRONTEND=noninteractive"
    sh("chroot", str(root), "env", env, "apt-get", "-q", "update")
    sh("chroot", str(root), "env", env, "apt-get", "-qy", "upgrade")
    sh("chroot", str(root), "env", env, "apt-get", "-qy", "install", "curl", "less", "procps")
    sh("chroot", str(root), "apt-get", "clean")
    tar(root, where / "new.tar", *_APT_EXCLUDES)
    shutil.rmtree(root)


_ONE_LINE = ("compress/zstd_compress.c", "#include", "#define LAMINA_BENCH_CHANGE 1\n#include")


def _binaries(where: Path) -> None:
    sdist = sorted(glob.glob(str(where / "zstandard-*.tar.gz")))
    if not sdist:
        sh(sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:",
           "-d", str(where), "zstandard")
        sdist = sorted(glob.glob(str(where / "zstandard-*.tar.gz")))
    src = where / "src"
    shutil.rmtree(src, ignore_errors=True)
    src.mkdir()
    with tarfile.open(sdist[-1]) as t:
        t.extractall(src, filter="data")
    lib = next(src.glob("zstandard-*/zstd"))
    _build(lib, where / "tree", where / "old.tar")
    first = lib / _ONE_LINE[0]
    first.write_text(first.read_text().replace(_ONE_LINE[1], _ONE_LINE[2], 1))
    _build(lib, where / "tree", where / "new.tar")
    shutil.rmtree(src)


def _build(lib: Path, tree: Path, out: Path) -> None:
    """Compile every C file of the zstd library into objects, an archive and a shared
    library, installed under a tree as a layer holds them; then tar the tree."""
    shutil.rmtree(tree, ignore_errors=True)
    objs = tree / "usr/local/lib/zstd-objects"
    objs.mkdir(parents=True)
    sources = sorted(lib.glob("**/*.c"))
    flags = ["-O2", "-g", "-fPIC", "-DZSTD_MULTITHREAD", "-I", str(lib), "-I", str(lib / "common")]
    jobs = []
    for c in sources:
        o = objs / (c.relative_to(lib).as_posix().replace("/", "_")[:-2] + ".o")
        jobs.append(subprocess.Popen(["cc", *flags, "-c", str(c), "-o", str(o)]))
        if len(jobs) >= (os.cpu_count() or 2):
            assert jobs.pop(0).wait() == 0
    assert all(j.wait() == 0 for j in jobs)
    asm = sorted(lib.glob("**/*.S"))
    for s in asm:
        sh("cc", *flags, "-c", str(s), "-o", str(objs / (s.stem + "_asm.o")))
    objects = sorted(str(o) for o in objs.glob("*.o"))
    libdir = tree / "usr/local/lib"
    sh("ar", "rcsD", str(libdir / "libzstd.a"), *objects)
    sh("cc", "-shared", "-pthread", "-o", str(libdir / "libzstd.so.1"), *objects)
    (libdir / "libzstd.so").symlink_to("libzstd.so.1")
    include = tree / "usr/local/include"
    include.mkdir(parents=True)
    for h in ("zstd.h", "zdict.h", "zstd_errors.h"):
        shutil.copy(next(lib.glob(f"**/{h}")), include / h)
    tar(tree, out)
    shutil.rmtree(tree)
