"""The three realistic layer updates bench/patch.py measures, built here from real packages.

Each case is an old and a new uncompressed layer tar under .cache/bench/patch/CASE/, made
once and reused (delete the folder to rebuild). Tars are written by GNU tar the way a layer
is: sorted names, numeric owners, PAX format, no atime/ctime records.

- stdlib: /usr/lib/python3.11 (its __pycache__ included); the update edits four modules
  (recompiling their .pyc) and adds a pip-downloaded pure-Python package (requests).
- debian: a debootstrap (minbase) of bookworm; the update adds bookworm-security and
  bookworm-updates, runs `apt-get upgrade` and installs curl, less and procps.
- binaries: the zstd C library (vendored in the `zstandard` sdist) compiled to an object,
  libzstd.a and libzstd.so, with python-zstandard's C extension linked against it; then
  compiled again after a one-line change (an error message) in the library's source.
"""

from __future__ import annotations

import glob
import shutil
import subprocess
import sys
import sysconfig
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


_ONE_LINE = ('"No error detected"', '"No error detected (patched)"')  # in zstd/zstd.c


def _binaries(where: Path) -> None:
    sdist = sorted(glob.glob(str(where / "zstandard-*.tar.gz")))
    if not sdist:
        pip = [sys.executable, "-m", "pip", "download", "-q", "--no-deps"]
        sh(*pip, "--no-binary", ":all:", "-d", str(where), "zstandard")
        sdist = sorted(glob.glob(str(where / "zstandard-*.tar.gz")))
    src = where / "src"
    shutil.rmtree(src, ignore_errors=True)
    src.mkdir()
    with tarfile.open(sdist[-1]) as t:
        t.extractall(src, filter="data")
    top = next(src.glob("zstandard-*"))
    _build(top, where / "tree", where / "old.tar")
    amalgamation = top / "zstd/zstd.c"
    amalgamation.write_text(amalgamation.read_text().replace(*_ONE_LINE, 1))
    _build(top, where / "tree", where / "new.tar")
    shutil.rmtree(src)


def _build(top: Path, tree: Path, out: Path) -> None:
    """The zstd library (objects, libzstd.a, libzstd.so.1, headers) and python-zstandard's
    C extension (which includes the library's source, as its own build does), compiled
    with -O2 -g and installed under a tree as a layer holds them; then the tree as a tar."""
    shutil.rmtree(tree, ignore_errors=True)
    lib, objs = tree / "usr/local/lib", tree / "usr/local/lib/zstd-objects"
    objs.mkdir(parents=True)
    py = sysconfig.get_paths()["include"]
    flags = ["-O2", "-g", "-fPIC", "-DZSTD_MULTITHREAD", "-I", str(top / "zstd")]
    zstd_o, ext_o = objs / "zstd.o", objs / "backend_c.o"
    sh("cc", *flags, "-c", str(top / "zstd/zstd.c"), "-o", str(zstd_o))
    ext_flags = [*flags, "-I", str(top / "c-ext"), "-I", py, "-DZSTD_SINGLE_FILE"]
    sh("cc", *ext_flags, "-c", str(top / "c-ext/backend_c.c"), "-o", str(ext_o))
    sh("ar", "rcsD", str(lib / "libzstd.a"), str(zstd_o))
    sh("cc", "-shared", "-pthread", "-o", str(lib / "libzstd.so.1"), str(zstd_o))
    (lib / "libzstd.so").symlink_to("libzstd.so.1")
    site = lib / "python3.11/site-packages/zstandard"
    site.mkdir(parents=True)
    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    sh("cc", "-shared", "-pthread", "-o", str(site / f"backend_c{suffix}"), str(ext_o))
    include = tree / "usr/local/include"
    include.mkdir(parents=True)
    for h in ("zstd.h", "zdict.h", "zstd_errors.h"):
        shutil.copy(top / "zstd" / h, include / h)
    tar(tree, out)
    shutil.rmtree(tree)
