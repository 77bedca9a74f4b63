"""Squash: a table of hand-built stacks, one or more per item of the docs/design.md §7 checklist.

For every stack and every contiguous range, applying (layers below + squash + layers
above) must give the filesystem that applying all layers gives (stacks.check_all_ranges,
against the reference model). Some stacks also pin down what the output looks like.
"""

from __future__ import annotations

import gzip
import io
import tarfile
from pathlib import Path

import pytest
import zstandard

from lamina.errors import InvalidInputError, UnsafePathError
from lamina.layer.compression import auto_decompressed
from lamina.layer.squash import Below, squash_layers
from lamina.layer.tarformat import END_OF_ARCHIVE
from tests.kit.layers import (
    CAP_NET_BIND,
    E,
    blockdev,
    chardev,
    dir_,
    fifo,
    file,
    hardlink,
    layer_bytes,
    layer_file,
    opaque,
    symlink,
    whiteout,
)
from tests.layer.stacks import check_all_ranges, squash_bytes

BASE = [dir_("etc"), file("etc/passwd", b"root"), dir_("d"), file("d/a", b"a"), file("d/b", b"b")]

STACKS: dict[str, list[list[E]]] = {
    # whiteouts that hide lower files are kept, others dropped
    "whiteout hides a lower file": [BASE, [file("x", b"x")], [whiteout("d/a")]],
    "whiteout of a file made in the range": [BASE, [file("d/new", b"n")], [whiteout("d/new")]],
    "whiteout of a path that never existed": [BASE, [whiteout("d/ghost"), file("y")]],
    "whiteout of a lower dir": [BASE, [whiteout("d")], [file("z")]],
    "whiteout inside a dir later deleted": [BASE, [whiteout("d/a")], [whiteout("d")]],
    # opaque directories, and directories deleted and made again
    "opaque dir hides lower content": [BASE, [dir_("d"), opaque("d"), file("d/c", b"c")]],
    "opaque marker without its dir entry": [BASE, [opaque("d"), file("d/c", b"c")]],
    "opaque dir then more files": [BASE, [dir_("d"), opaque("d")], [file("d/e", b"e")]],
    "dir deleted then re-created": [BASE, [whiteout("d")], [dir_("d", 0o700), file("d/c")]],
    "dir deleted then re-created implicitly": [BASE, [whiteout("d")], [file("d/c", b"c")]],
    "dir deleted and re-created in one layer": [
        BASE,
        [dir_("d"), file("d/c", b"c"), whiteout("d")],
        [file("d/e", b"e")],
    ],
    "dir re-created then opaque again": [
        BASE,
        [whiteout("d"), dir_("d"), file("d/x")],
        [opaque("d"), dir_("d"), file("d/y")],
    ],
    "opaque root": [BASE, [opaque(""), file("only", b"o")]],
    # a whiteout and a same-named new entry in one layer
    "whiteout and same-name file in one layer": [BASE, [whiteout("d/a"), file("d/a", b"A2")]],
    "same-name file before its whiteout in the tar": [BASE, [file("d/a", b"A2"), whiteout("d/a")]],
    "whiteout and same-name dir in one layer": [BASE, [dir_("d"), whiteout("d"), file("d/q")]],
    # dir replaced by file or symlink and the reverse
    "dir replaced by a file": [BASE, [file("d", b"now a file")]],
    "dir replaced by a symlink": [BASE, [symlink("d", "etc")]],
    "file replaced by a dir": [BASE, [dir_("etc/passwd"), file("etc/passwd/x", b"x")]],
    "symlink replaced by a dir": [
        [symlink("s", "etc"), dir_("etc")],
        [dir_("s"), file("s/f", b"f")],
        [file("t")],
    ],
    "dir to file to dir": [BASE, [file("d", b"f")], [dir_("d"), file("d/z", b"z")]],
    # nothing emitted beneath a path that is a file or symlink
    "lower children under a new symlink": [BASE, [file("d/c", b"c")], [symlink("d", "/etc")]],
    "entry below a symlink of the same layer": [[symlink("s", "etc"), file("s/x", b"x")]],
    "entry below a file of a lower layer": [BASE, [file("f", b"f")], [file("f/x", b"x")]],
    "whiteout below a file is ignored": [BASE, [file("f", b"f")], [whiteout("f/x")]],
    # hardlinks: the target comes first; replaced or deleted targets keep old content
    "hardlink to a file of the same layer": [BASE, [file("z/t", b"t"), hardlink("a/l", "z/t")]],
    "hardlink whose target is overwritten later": [
        BASE,
        [file("t", b"old"), hardlink("l", "t")],
        [file("t", b"new")],
    ],
    "hardlink whose target is deleted later": [
        BASE,
        [file("t", b"old", mode=0o755), hardlink("l1", "t"), hardlink("l2", "t")],
        [whiteout("t")],
    ],
    "hardlink to a lower file": [BASE, [hardlink("l", "etc/passwd")], [file("x")]],
    "hardlink to a lower file replaced later": [
        BASE,
        [hardlink("l", "etc/passwd")],
        [file("etc/passwd", b"changed")],
    ],
    "hardlink to a lower file deleted later": [
        BASE,
        [hardlink("l", "d/a"), hardlink("m", "l")],
        [whiteout("d")],
    ],
    "hardlink whose target dir is replaced": [
        BASE,
        [file("k/t", b"t"), hardlink("l", "k/t")],
        [file("k", b"k is a file now")],
    ],
    "hardlink chain": [[file("a", b"1"), hardlink("b", "a")], [hardlink("c", "b")]],
    "hardlink to a symlink": [[symlink("s", "nowhere"), hardlink("h", "s")], [whiteout("s")]],
    "relinked name": [
        [file("a", b"1"), file("b", b"2"), hardlink("l", "a")],
        [hardlink("l", "b")],
    ],
    # dangling and relative symlinks stay as they are
    "dangling and relative symlinks": [
        BASE,
        [symlink("rel", "../etc/passwd"), symlink("dang", "/no/such"), symlink("dot", ".")],
        [symlink("d/up", "../..")],
    ],
    # names that contain .wh. but are not whiteouts
    "names containing .wh.": [
        BASE,
        [file("a.wh.b", b"1"), file("d/x.wh.", b"2"), file(".whx", b"3"), dir_("e.wh.d")],
        [file("e.wh.d/.wh", b"4")],
    ],
    "aufs metadata is dropped": [BASE, [dir_(".wh..wh.plnk"), file(".wh..wh.plnk/1.2", b"x")]],
    # long names, non-UTF-8 names, xattrs, devices, fifos
    "long names": [
        [dir_("L" * 120), file("L" * 120 + "/" + "f" * 150, b"long")],
        [symlink("s" * 110, "t" * 200), hardlink("h" * 130, "L" * 120 + "/" + "f" * 150)],
        [whiteout("L" * 120 + "/" + "f" * 150)],
    ],
    "non-UTF-8 names": [
        [file("caf\udce9", b"latin-1"), dir_("d\udcff"), file("d\udcff/x\udc80", b"x")],
        [whiteout("caf\udce9"), hardlink("h\udcfe", "d\udcff/x\udc80")],
    ],
    "xattrs": [
        [file("bin/ping", b"elf", mode=0o755, xattrs={"security.capability": CAP_NET_BIND})],
        [file("f", b"f", xattrs={"user.note": b"\x00\xffbinary"})],
        [dir_("bin", xattrs={"user.dir": b"yes"})],
    ],
    "devices and fifos": [
        [chardev("dev/null", 1, 3), blockdev("dev/sda", 8, 0), fifo("run/fifo")],
        [whiteout("dev/sda"), chardev("dev/zero", 1, 5)],
        [fifo("dev/null")],
    ],
    "setuid and owners": [
        [file("su", b"s", mode=0o4755, uid=0, gid=0)],
        [file("u", uid=1000, gid=50)],
    ],
    # only empty layers in the range
    "empty layers": [BASE, [], [], [file("top")]],
    # the root directory's own entry and unclean names
    "root entry and ./ names": [[dir_("./", mode=0o700), file("./a/./b", b"b")], [dir_("/a")]],
    "implicit parents": [[file("p/q/r", b"r")], [file("p/q/s", b"s"), dir_("p", 0o711)]],
    "metadata-only change": [BASE, [dir_("d", 0o700, uid=5)], [file("d/a", b"a", mode=0o600)]],
}


@pytest.mark.parametrize("name", STACKS)
def test_every_range_squashes_to_the_same_filesystem(name: str) -> None:
    layers = [layer_bytes(entries) for entries in STACKS[name]]
    check_all_ranges(layers)


@pytest.mark.parametrize("name", STACKS)
def test_every_range_with_unknown_lower_layers(name: str) -> None:
    layers = [layer_bytes(entries) for entries in STACKS[name]]
    try:
        check_all_ranges(layers, below="unknown")
    except InvalidInputError as e:
        assert "from below the range" in str(e)  # needs the lower bytes: documented


@pytest.mark.parametrize("name", STACKS)
def test_gnu_format_layers_squash_too(name: str) -> None:
    layers = [layer_bytes(entries, tarfile.GNU_FORMAT) for entries in STACKS[name]]
    check_all_ranges(layers)


def _names(data: bytes) -> list[str]:
    with tarfile.open(fileobj=io.BytesIO(data), encoding="utf-8", errors="surrogateescape") as t:
        return [m.name for m in t]


def _members(data: bytes) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(data), encoding="utf-8", errors="surrogateescape") as t:
        return {m.name.rstrip("/"): m for m in t}


def _squash(stack: str, lo: int, hi: int, below: str = "layers") -> bytes:
    return squash_bytes([layer_bytes(e) for e in STACKS[stack]], lo, hi, below)


def test_no_whiteouts_survive_from_layer_zero() -> None:
    for name, stack in STACKS.items():
        names = _names(_squash(name, 0, len(stack)))
        assert not [n for n in names if n.rsplit("/", 1)[-1].startswith(".wh.")], name


def test_whiteout_kept_only_when_it_hides_a_lower_file() -> None:
    assert ".wh.a" in [
        n.rsplit("/", 1)[-1] for n in _names(_squash("whiteout hides a lower file", 1, 3))
    ]
    assert _names(_squash("whiteout of a file made in the range", 1, 3)) == []
    assert _names(_squash("whiteout of a path that never existed", 1, 2)) == ["y"]
    unknown = _names(_squash("whiteout of a path that never existed", 1, 2, below="unknown"))
    assert unknown == ["d/.wh.ghost", "y"]  # kept when we cannot know, and harmless


def test_recreated_dir_gets_an_opaque_marker_or_whiteout() -> None:
    assert _names(_squash("dir deleted then re-created", 1, 3)) == [
        "d", "d/.wh..wh..opq", "d/c",
    ]  # fmt: skip
    assert _names(_squash("dir deleted then re-created implicitly", 1, 3)) == [".wh.d", "d/c"]


def test_opaque_marker_comes_before_whiteouts_and_children() -> None:
    names = _names(_squash("dir re-created then opaque again", 1, 3))
    assert names == ["d", "d/.wh..wh..opq", "d/y"]


def test_nothing_below_a_symlink_or_file() -> None:
    assert _names(_squash("lower children under a new symlink", 1, 3)) == ["d"]
    assert _names(_squash("dir replaced by a file", 1, 2)) == ["d"]


def test_hardlink_keeps_old_content_and_follows_its_target() -> None:
    out = _members(_squash("hardlink whose target is overwritten later", 1, 3))
    assert out["l"].isreg() and out["l"].size == 3 and out["t"].size == 3
    out = _members(_squash("hardlink whose target is deleted later", 1, 3))
    assert out["l1"].isreg() and out["l1"].mode == 0o755
    assert out["l2"].islnk() and out["l2"].linkname == "l1"
    names = _names(_squash("hardlink to a file of the same layer", 1, 2))
    assert names.index("z/t") < names.index("a/l")  # target first, though "a" < "z"


def test_hardlink_to_lower_file_copies_lower_content() -> None:
    stack = "hardlink to a lower file replaced later"
    out = _members(_squash(stack, 1, 3))
    assert out["l"].isreg() and out["l"].size == len(b"root")
    with pytest.raises(InvalidInputError, match="from below the range"):
        _squash(stack, 1, 3, below="unknown")
    out = _members(_squash("hardlink to a lower file", 1, 3, below="unknown"))
    assert out["l"].islnk() and out["l"].linkname == "etc/passwd"


def test_special_entries_survive_raw() -> None:
    out = _members(_squash("devices and fifos", 0, 3))
    assert out["dev/null"].isfifo()
    assert out["dev/zero"].ischr() and (out["dev/zero"].devmajor, out["dev/zero"].devminor) == (
        1,
        5,
    )
    assert "dev/sda" not in out
    caps = _members(_squash("xattrs", 0, 3))["bin/ping"].pax_headers
    assert (
        caps["SCHILY.xattr.security.capability"].encode("utf-8", "surrogateescape") == CAP_NET_BIND
    )


def test_range_of_empty_layers_is_an_empty_tar() -> None:
    out = _squash("empty layers", 1, 3)
    assert out == END_OF_ARCHIVE
    assert _names(out) == []
    empty = io.BytesIO()
    assert squash_layers([], empty)[1] == len(END_OF_ARCHIVE)


def test_output_is_deterministic_and_raw() -> None:
    layers = [layer_bytes(e) for e in STACKS["long names"]]
    assert squash_bytes(layers, 0, 3) == squash_bytes(layers, 0, 3)
    single = layer_bytes([file("a", b"1"), file("b", b"2")])
    # already in tree order, nothing to drop: the entries are copied byte for byte
    assert squash_bytes([single], 0, 1) == single[:2048] + END_OF_ARCHIVE


def test_layers_differing_only_in_compression_squash_identically(tmp_path: Path) -> None:
    stack = [layer_bytes(e) for e in STACKS["hardlink whose target is deleted later"]]
    results = set()
    for compress in (lambda b: b, gzip.compress, zstandard.ZstdCompressor().compress):
        opened = []
        for i, data in enumerate(stack):
            _kind, plain = auto_decompressed(io.BytesIO(compress(data)))
            path = tmp_path / f"{i}.tar"
            path.write_bytes(plain.read())
            opened.append(path.open("rb"))
        out = io.BytesIO()
        digest, size = squash_layers(opened[1:], out, below=Below.layers(opened[:1]))
        results.add((digest, size, out.getvalue()))
        for f in opened:
            f.close()
    assert len(results) == 1


def test_squash_of_layer_files_on_disk(tmp_path: Path) -> None:
    paths = [layer_file(tmp_path, f"{i}.tar", e) for i, e in enumerate(STACKS["xattrs"])]
    files = [p.open("rb") for p in paths]
    with (tmp_path / "out.tar").open("wb") as out:
        digest, size = squash_layers(files, out)
    data = (tmp_path / "out.tar").read_bytes()
    assert size == len(data) and digest.startswith("sha256:")
    assert sorted(_names(data)) == ["bin", "bin/ping", "f"]
    for f in files:
        f.close()


def test_escaping_entry_is_refused() -> None:
    evil = layer_bytes([file("../../etc/passwd", b"x")])
    with pytest.raises(UnsafePathError, match="outside the root"):
        squash_bytes([evil], 0, 1)


def test_corrupt_layer_is_refused() -> None:
    data = bytearray(layer_bytes([file("a", b"1")]))
    data[600:610] = b"garbage!!!"
    data[148:156] = b"0000000\0"
    with pytest.raises(InvalidInputError, match="not a tar archive or is corrupt"):
        squash_bytes([bytes(data)], 0, 1)


def test_a_global_pax_header_is_dropped_and_changes_nothing_as_in_docker() -> None:
    """Go (so Docker) ignores global PAX headers: the squashed layer must read the same
    in Docker as its source did, with no global header left for tarfile to apply."""
    buf = io.BytesIO()
    with tarfile.open(
        fileobj=buf, mode="w", format=tarfile.PAX_FORMAT, pax_headers={"uid": "77", "path": "g"}
    ) as t:
        info = tarfile.TarInfo("owned")
        info.size = 2
        t.addfile(info, io.BytesIO(b"hi"))
    layers = [layer_bytes(BASE), buf.getvalue()]
    squashed = squash_bytes(layers, 1, 2)
    got = _members(squashed)
    assert "owned" in got and "g" not in got and got["owned"].uid == 0
    with tarfile.open(fileobj=io.BytesIO(squashed)) as t:
        t.getmembers()
        assert t.pax_headers == {}
