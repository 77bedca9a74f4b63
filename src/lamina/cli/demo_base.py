"""The demo's base image, built in Python on any machine, without network or root.

With busybox-static installed, the base is a real one: `/bin/busybox` and a symlink
per applet, so containers of it can run a shell. Otherwise it is a tiny rootfs of
plain files, and the demo changes containers with `cp` instead of running them.
"""

from __future__ import annotations

import io
import os
import shutil
import struct
import subprocess
import tarfile
from pathlib import Path

MTIME = 1_700_000_000
PT_INTERP = 3  # an ELF program header that names a dynamic loader


def static_busybox() -> str | None:
    """The path of a statically linked busybox, or None (a dynamic one cannot run chrooted)."""
    for candidate in (shutil.which("busybox"), "/bin/busybox", "/usr/bin/busybox"):
        if candidate and os.path.isfile(candidate) and is_static_elf(candidate):
            return candidate
    return None


def is_static_elf(path: str) -> bool:
    """True for a 64-bit little-endian ELF executable without a PT_INTERP header."""
    try:
        with open(path, "rb") as f:
            head = f.read(64)
            if head[:4] != b"\x7fELF" or head[4] != 2 or head[5] != 1:
                return False
            (phoff,) = struct.unpack_from("<Q", head, 32)
            phentsize, phnum = struct.unpack_from("<HH", head, 54)
            f.seek(phoff)
            table = f.read(phentsize * phnum)
    except OSError:
        return False
    kinds = [struct.unpack_from("<I", table, i * phentsize)[0] for i in range(phnum)]
    return PT_INTERP not in kinds


def _entry(name: str, kind: bytes = tarfile.REGTYPE, mode: int = 0o644) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.mtime = kind, mode, MTIME
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info


def _add_file(tar: tarfile.TarFile, name: str, data: bytes, mode: int = 0o644) -> None:
    info = _entry(name, mode=mode)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def _applets(busybox: str) -> list[str]:
    out = subprocess.run([busybox, "--list"], capture_output=True, text=True, check=False)
    return sorted(a for a in out.stdout.split() if a and "/" not in a and a != "busybox")


def write_base_tar(out: Path, busybox: str | None) -> str:
    """Write the base rootfs as a tar at `out`; returns what it holds, in a few words."""
    with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as tar:
        for d in ("bin", "etc", "root", "tmp"):
            tar.addfile(_entry(d + "/", tarfile.DIRTYPE, 0o1777 if d == "tmp" else 0o755))
        _add_file(tar, "etc/os-release", b'NAME="lamina demo base"\nID=lamina-demo\n')
        _add_file(tar, "etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n")
        _add_file(tar, "etc/group", b"root:x:0:\n")
        if busybox is None:
            _add_file(tar, "README", b"A tiny static rootfs: files only, nothing to run.\n")
            return "a tiny rootfs of plain files (no busybox-static here)"
        info = _entry("bin/busybox", mode=0o755)
        info.size = os.path.getsize(busybox)
        with open(busybox, "rb") as f:
            tar.addfile(info, f)
        applets = _applets(busybox)
        for applet in applets:
            link = _entry(f"bin/{applet}", tarfile.SYMTYPE, 0o777)
            link.linkname = "busybox"
            tar.addfile(link)
    return f"busybox-static ({len(applets)} applets)"
