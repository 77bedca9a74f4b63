"""A corpus of broken (and tricky but valid) inputs, generated from the specs.

Tar layers reproduce the classes of Go's `archive/tar/testdata` (neg-size,
pax-global-records, pax-path-hdr, pax-nul-path, pax-nul-xattrs, pax-bad-hdr-file,
gnu-sparse / pax-sparse, issue10968-style bad headers) and of CPython's testtar.tar
(sparse members), built byte by byte here rather than vendored. Archives wrap them
the way docker/podman save does, or break the archive itself (nested JSON, unknown
media types, layer files that are links or FIFOs, bombs, truncation).

Each case says what Go (and so Docker) decides: `valid` layers must load; the others
must be refused with exit `code` and one line.
"""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tests.builders import FakeImage, layer_tar, sha

BLOCK = 512


def _octal(value: int, width: int) -> bytes:
    return b"%0*o\0" % (width - 1, value)


def header(
    name: bytes,
    *,
    size: int = 0,
    kind: bytes = b"0",
    linkname: bytes = b"",
    size_field: bytes | None = None,
    mode: int = 0o644,
    flip_checksum: bool = False,
) -> bytes:
    """One ustar header block; `size_field` overrides the 12-byte size (e.g. base-256)."""
    size_raw = size_field if size_field is not None else _octal(size, 12)
    block = bytearray(BLOCK)
    block[0 : len(name)] = name[:100]
    block[100:108] = _octal(mode, 8)
    block[108:116] = _octal(0, 8)
    block[116:124] = _octal(0, 8)
    block[124:136] = size_raw
    block[136:148] = _octal(1_600_000_000, 12)
    block[148:156] = b" " * 8
    block[156:157] = kind
    block[157 : 157 + len(linkname)] = linkname
    block[257:265] = b"ustar\x0000"
    checksum = sum(block)
    if flip_checksum:
        checksum ^= 0o7
    block[148:156] = b"%06o\0 " % checksum
    return bytes(block)


def entry(name: bytes, data: bytes = b"", kind: bytes = b"0", **kw: object) -> bytes:
    head = header(name, size=len(data), kind=kind, **kw)  # type: ignore[arg-type]
    return head + data + bytes(-len(data) % BLOCK)


def pax(records: dict[bytes, bytes], kind: bytes = b"x") -> bytes:
    body = b""
    for key, value in records.items():
        rec = b" " + key + b"=" + value + b"\n"
        n = len(rec) + 1
        while len(str(n)) + len(rec) != n:
            n += 1
        body += str(n).encode() + rec
    return entry(b"PaxHeaders/x", body, kind=kind)


END = bytes(2 * BLOCK)
FILE = entry(b"hello.txt", b"hello\n")


@dataclass(frozen=True)
class Layer:
    name: str
    data: bytes
    valid: bool  # does Go's archive/tar (and so Docker) read it as a good layer?
    note: str


def tar_layers() -> list[Layer]:
    """The tar classes: each a whole layer."""
    base256_neg = b"\xff" * 11 + b"\x00"  # base-256, sign bit set: a negative size
    base256_huge = b"\x80" + b"\x00" * 2 + b"\x7f" + b"\xff" * 8  # 2^71-ish: past int64
    good = FILE + END
    cut = bytearray(good)
    cut[148 + 3] ^= 1  # a flipped bit in the checksum
    return [
        Layer("plain", good, True, "a plain ustar layer"),
        Layer("neg-size", header(b"neg", size_field=base256_neg) + END, False, "negative size"),
        Layer("huge-size", header(b"big", size_field=base256_huge) + END, False, "size > int64"),
        Layer("bad-checksum", bytes(cut), False, "flipped checksum bit"),
        Layer(
            "pax-global-records",
            pax({b"path": b"global1", b"mtime": b"1500000000.0"}, kind=b"g") + FILE + END,
            True,
            "global PAX header: names ignored (Go, Docker)",
        ),
        Layer(
            "pax-path-hdr",
            pax({b"path": b"a/b/c/d/readme.txt"}) + END,
            True,
            "a PAX header with no entry after it: the end (Go's TestReadTruncation)",
        ),
        Layer(
            "pax-nul-path",
            pax({b"path": b"null\x00path"}) + FILE + END,
            False,
            "NUL in a PAX path",
        ),
        Layer(
            "pax-nul-xattrs",
            pax({b"SCHILY.xattr.null\x00null": b"fizzbuzz"}) + FILE + END,
            False,
            "NUL in an xattr key",
        ),
        Layer(
            "pax-bad-hdr",
            entry(b"PaxHeaders/x", b"3 somelongkey=\n", b"x") + FILE + END,
            False,
            "a malformed PAX record",
        ),
        Layer("gnu-sparse", entry(b"sparse", b"x" * 10, b"S") + END, False, "GNU sparse"),
        Layer(
            "pax-sparse",
            pax({b"GNU.sparse.major": b"1", b"GNU.sparse.minor": b"0"}) + FILE + END,
            False,
            "PAX (GNU 1.0) sparse",
        ),
        Layer(
            "zero-then-garbage",
            FILE + bytes(BLOCK) + FILE + END,
            False,
            "a zero block then a header (Go: ErrHeader)",
        ),
        Layer("truncated-data", FILE[: BLOCK + 3], False, "data ends early"),
        Layer("truncated-header", FILE[:300], False, "header ends early"),
        Layer("not-a-tar", b"this is not a tar archive\n" * 40, False, "text"),
        Layer("escape", entry(b"../escaped", b"x") + END, False, "a name above the root"),
        Layer(
            "hardlink-escape",
            entry(b"shadow", kind=b"1", linkname=b"../../etc/shadow") + END,
            False,
            "a hardlink to a file above the root",
        ),
        Layer("whiteout-dotdot", entry(b".wh..") + END, False, "a whiteout that names no file"),
        Layer(
            "bomb-after-end",
            good + bytes(4 << 20),
            False,
            "4 MiB after the end-of-archive marker (a bomb's zeros)",
        ),
    ]


# -- archives -------------------------------------------------------------------------

TAG = "local/corpus:1"
BASE = layer_tar({"bin/": None, "bin/sh": b"#!fake\n", "etc/": None, "etc/os": b"base\n"})


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def docker_archive(
    path: Path,
    layer: bytes,
    *,
    stored: bytes | None = None,
    tags: list[str] | None = None,
    manifest: bytes | None = None,
    config: bytes | None = None,
    layer_member: Callable[[tarfile.TarFile, str], None] | None = None,
    manifest_first: bool = False,
) -> Path:
    """One image: a small good base layer, then `layer` (stored as `stored`, e.g.
    compressed, or added by `layer_member`)."""
    img = FakeImage([BASE, layer], tags if tags is not None else [TAG])
    cfg = config if config is not None else img.config()
    cfg_name = sha(cfg)[7:] + ".json"
    base_name = sha(BASE)[7:] + "/layer.tar"
    layer_name = sha(layer)[7:] + "/layer.tar"
    doc = [{"Config": cfg_name, "RepoTags": img.tags, "Layers": [base_name, layer_name]}]
    manifest_bytes = manifest if manifest is not None else json.dumps(doc).encode()
    with tarfile.open(path, "w") as tar:
        if manifest_first:
            _add(tar, "manifest.json", manifest_bytes)
        _add(tar, cfg_name, cfg)
        _add(tar, base_name, BASE)
        if layer_member is not None:
            layer_member(tar, layer_name)
        else:
            _add(tar, layer_name, stored if stored is not None else layer)
        if not manifest_first:
            _add(tar, "manifest.json", manifest_bytes)
    return path


def nested_json(depth: int = 100_000) -> bytes:
    return b"[" * depth + b"]" * depth


def _link(kind: bytes, target: str) -> Callable[[tarfile.TarFile, str], None]:
    def add(tar: tarfile.TarFile, name: str) -> None:
        info = tarfile.TarInfo(name)
        info.type = kind
        info.linkname = target
        tar.addfile(info)

    return add


SYMLINK_OUT = _link(tarfile.SYMTYPE, "/etc/shadow")


@dataclass(frozen=True)
class Archive:
    name: str
    build: Callable[[Path], Path]
    code: int  # expected exit code of `lamina load` (0: it loads)
    note: str


def archives() -> list[Archive]:
    """Whole inputs for `load`: each layer class wrapped, then broken archives."""
    out = [
        Archive(
            f"layer-{lay.name}",
            (lambda p, lay=lay: docker_archive(p, lay.data)),
            0 if lay.valid else 5,
            lay.note,
        )
        for lay in tar_layers()
    ]
    small = layer_tar({"etc/": None, "etc/os": b"corpus\n"})
    out += [
        Archive(
            "layer-xz",
            lambda p: docker_archive(p, small, stored=lzma.compress(small)),
            0,
            "an xz layer (Docker loads it)",
        ),
        Archive(
            "layer-bzip2",
            lambda p: docker_archive(p, small, stored=bz2.compress(small)),
            0,
            "a bzip2 layer (Docker loads it)",
        ),
        Archive(
            "archive-xz",
            lambda p: _compress(docker_archive(p, small), lzma.compress),
            0,
            "a whole archive compressed with xz",
        ),
        Archive(
            "manifest-nested",
            lambda p: docker_archive(p, small, manifest=nested_json()),
            5,
            "deeply nested manifest.json",
        ),
        Archive(
            "config-nested",
            lambda p: docker_archive(p, small, config=nested_json()),
            5,
            "deeply nested config",
        ),
        Archive(
            "manifest-not-json",
            lambda p: docker_archive(p, small, manifest=b"{nope"),
            5,
            "manifest.json is not JSON",
        ),
        Archive(
            "bad-repotag",
            lambda p: docker_archive(p, small, tags=["Bad Tag::x"]),
            5,
            "an invalid RepoTag",
        ),
        Archive(
            "layer-symlink-out",
            lambda p: docker_archive(p, small, layer_member=SYMLINK_OUT),
            5,
            "the layer file is a symlink out of the archive",
        ),
        Archive(
            "layer-hardlink-missing",
            lambda p: docker_archive(p, small, layer_member=_link(tarfile.LNKTYPE, "nothere")),
            5,
            "the layer file is a hardlink to nothing",
        ),
        Archive(
            "layer-fifo",
            lambda p: docker_archive(p, small, layer_member=_link(tarfile.FIFOTYPE, "")),
            5,
            "the layer file is a FIFO",
        ),
        Archive(
            "truncated-archive",
            lambda p: _truncate(docker_archive(p, small)),
            5,
            "the archive stops in the middle",
        ),
        Archive("gzip-bomb", _gzip_bomb, 5, "a gzip of zeros after a tiny archive"),
        Archive(
            "archive-bad-checksum",
            lambda p: _flip_last_checksum(docker_archive(p, small, manifest_first=True)),
            5,
            "a flipped checksum in the header of the archive's last layer file (was 6)",
        ),
        Archive("empty-file", lambda p: _write(p, b""), 5, "an empty file"),
    ]
    return out


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _compress(path: Path, how: Callable[[bytes], bytes]) -> Path:
    return _write(path, how(path.read_bytes()))


def _flip_last_checksum(path: Path) -> Path:
    """Flip a checksum digit of the archive's last header."""
    data = bytearray(path.read_bytes())
    with tarfile.open(path) as tar:
        last = tar.getmembers()[-1].offset
    data[last + 148 + 2] ^= 1
    return _write(path, bytes(data))


def _truncate(path: Path) -> Path:
    data = path.read_bytes()
    return _write(path, data[: len(data) // 2 + 100])


def _gzip_bomb(path: Path) -> Path:
    """A small gzip whose archive is followed by 512 MiB of zeros."""
    archive = docker_archive(path, layer_tar({"a": b"a\n"})).read_bytes()
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", compresslevel=9, mtime=0) as gz:
        gz.write(archive)
        zeros = bytes(1 << 20)
        for _ in range(512):
            gz.write(zeros)
    return _write(path, out.getvalue())
