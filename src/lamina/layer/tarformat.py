"""Tar header blocks, bytes in and out: ustar, GNU and PAX (POSIX.1-2001) headers.

Reading tolerates what real layers contain (GNU long names, base-256 numbers, PAX
records with non-UTF-8 bytes). Writing is deterministic: ustar when the values fit,
one PAX header in front when they do not (long or non-ASCII names, big numbers,
xattrs), records in sorted order, fixed header names. Strings are `str` decoded
from UTF-8 with `surrogateescape`, so any byte sequence round-trips exactly.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

from lamina.errors import InvalidInputError

BLOCK = 512
ZERO_BLOCK = bytes(BLOCK)
END_OF_ARCHIVE = bytes(2 * BLOCK)

REGULAR = "0"
HARDLINK = "1"
SYMLINK = "2"
CHAR = "3"
BLOCKDEV = "4"
DIRECTORY = "5"
FIFO = "6"
CONTIGUOUS = "7"
PAX_LOCAL = "x"
PAX_LOCAL_SOLARIS = "X"
PAX_GLOBAL = "g"
GNU_LONGNAME = "L"
GNU_LONGLINK = "K"
GNU_SPARSE = "S"
GNU_VOLUME = "V"
GNU_MULTIVOLUME = "M"

# Types whose size field never announces data (Go's archive/tar and tarfile agree).
HEADER_ONLY = frozenset({HARDLINK, SYMLINK, CHAR, BLOCKDEV, DIRECTORY, FIFO})
XATTR_PREFIX = "SCHILY.xattr."
# PAX keys the encoder derives from the header values; stale copies must not win.
_DERIVED_KEYS = frozenset(
    {"path", "linkpath", "size", "uid", "gid", "uname", "gname", "hdrcharset"}
)
_PAX_NAME = b"././@PaxHeader"
NUL_AS_SPACE = bytes.maketrans(b"\0", b" ")
_USTAR_MAGIC = b"ustar\x0000"
POSIX_MAGIC = b"ustar\x00"


def encode_str(value: str) -> bytes:
    return value.encode("utf-8", "surrogateescape")


def decode_str(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def padded(size: int) -> int:
    """Bytes a payload of `size` occupies in the archive (whole blocks)."""
    return (size + BLOCK - 1) // BLOCK * BLOCK


def nts(field: bytes) -> bytes:
    """A NUL-terminated string field without its terminator."""
    end = field.find(b"\0")
    return field if end < 0 else field[:end]


def parse_number(field: bytes) -> int:
    """An octal field, or a GNU base-256 one (high bit set on the first byte)."""
    if field and field[0] & 0x80:
        bits = 8 * len(field) - 1
        value = int.from_bytes(field, "big") & ((1 << bits) - 1)
        return value - (1 << bits) if field[0] & 0x40 else value
    digits = nts(field).strip(b" ")
    return int(digits, 8) if digits else 0


def number(field: bytes) -> int:
    """A numeric field: the common octal case in one C call, else `parse_number`."""
    try:
        return int(field.translate(NUL_AS_SPACE), 8)
    except ValueError:
        return parse_number(field)


def checksum_ok(block: bytes) -> bool:
    """Verify a header checksum (the checksum field itself counts as 8 spaces). adler32's
    low half over at most 257 bytes is 1 + their sum: two C calls instead of a byte loop."""
    whole = (zlib.adler32(block[:256]) & 0xFFFF) + (zlib.adler32(block[256:]) & 0xFFFF) - 2
    unsigned = whole - sum(block[148:156]) + 8 * 0x20
    try:
        stored = number(block[148:156])
    except ValueError:
        return False
    if stored == unsigned:
        return True
    # Some old writers summed signed chars.
    signed = sum(b - 256 if b > 127 else b for b in block[:148] + block[156:]) + 8 * 0x20
    return stored == signed


def parse_pax(data: bytes, where: str) -> dict[str, str]:
    """Records of a PAX extended header: `LEN key=value\\n` each."""
    records: dict[str, str] = {}
    pos = 0
    while pos < len(data) and data[pos] != 0:
        space = data.find(b" ", pos)
        try:
            length = int(data[pos:space])
        except ValueError:
            length = 0
        record = data[space + 1 : pos + length]
        if space < 0 or length <= 0 or not record.endswith(b"\n") or b"=" not in record:
            raise InvalidInputError(f"corrupt PAX header at {where}")
        key, _, value = record[:-1].partition(b"=")
        if not _valid_pax_record(key, value):
            raise InvalidInputError(f"corrupt PAX header at {where} (NUL or empty key)")
        records[decode_str(key)] = decode_str(value)
        pos += length
    return records


_NUL_FREE_VALUES = frozenset({b"path", b"linkpath", b"uname", b"gname"})


def _valid_pax_record(key: bytes, value: bytes) -> bool:
    """Go's rule (and BSD tar's): names may not hold NUL, nor may any key (xattr names)."""
    if not key:
        return False
    if key in _NUL_FREE_VALUES:
        return b"\0" not in value
    return b"\0" not in key


def pax_record(key: str, value: str) -> bytes:
    """One `LEN key=value\\n` record; LEN counts its own digits."""
    body = b" " + encode_str(key) + b"=" + encode_str(value) + b"\n"
    length = len(body)
    while length != len(body) + len(str(length)):
        length = len(body) + len(str(length))
    return str(length).encode() + body


@dataclass(slots=True)
class Header:
    """The values of one tar entry. `pax` holds extended records as read (xattrs,
    sub-second times, ...); the encoder re-derives path/size/ids from the fields."""

    name: str
    type: str = REGULAR
    mode: int = 0o644
    uid: int = 0
    gid: int = 0
    size: int = 0
    mtime: int = 0
    linkname: str = ""
    uname: str = ""
    gname: str = ""
    devmajor: int = 0
    devminor: int = 0
    pax: dict[str, str] | None = None

    @property
    def xattrs(self) -> dict[str, bytes]:
        if not self.pax:
            return {}
        cut = len(XATTR_PREFIX)
        return {k[cut:]: encode_str(v) for k, v in self.pax.items() if k.startswith(XATTR_PREFIX)}

    @property
    def mtime_ns(self) -> int:
        """Modification time in ns, from the PAX record when it has a fraction."""
        text = self.pax.get("mtime") if self.pax else None
        if text:
            whole, _, frac = text.partition(".")
            try:
                sign = -1 if whole.startswith("-") else 1
                return int(whole) * 10**9 + sign * int((frac + "0" * 9)[:9] or "0")
            except ValueError:
                pass
        return self.mtime * 10**9


def _octal(value: int, width: int) -> bytes:
    return b"%0*o\0" % (width - 1, value)


def _fits(value: int, width: int) -> bool:
    return 0 <= value < 1 << (3 * (width - 1))


def _field(raw: bytes, width: int) -> bytes:
    return raw[:width].ljust(width, b"\0")


def _ustar_block(h: Header, name: bytes, link: bytes, size: int) -> bytes:
    head = b"".join(
        (
            _field(name, 100),
            _octal(h.mode & 0o7777, 8),
            _octal(h.uid if _fits(h.uid, 8) else 0, 8),
            _octal(h.gid if _fits(h.gid, 8) else 0, 8),
            _octal(size if _fits(size, 12) else 0, 12),
            _octal(h.mtime if _fits(h.mtime, 12) else 0, 12),
            b"        ",
            h.type.encode("ascii"),
            _field(link, 100),
            _USTAR_MAGIC,
            _field(encode_str(h.uname), 32),
            _field(encode_str(h.gname), 32),
            _octal(h.devmajor, 8) if _fits(h.devmajor, 8) else bytes(8),
            _octal(h.devminor, 8) if _fits(h.devminor, 8) else bytes(8),
            bytes(167),
        )
    )
    chksum = sum(head)
    return head[:148] + b"%06o\0 " % chksum + head[156:]


def _needs_pax_text(raw: bytes, width: int) -> bool:
    return len(raw) > width or not raw.isascii()


def _pax_records(h: Header, name: bytes, link: bytes) -> dict[str, str]:
    records = {k: v for k, v in (h.pax or {}).items() if k not in _DERIVED_KEYS}
    if _needs_pax_text(name, 100):
        records["path"] = h.name
    if _needs_pax_text(link, 100):
        records["linkpath"] = h.linkname
    for key, value, width in (("uid", h.uid, 8), ("gid", h.gid, 8), ("size", h.size, 12)):
        if not _fits(value, width):
            records[key] = str(value)
    if not _fits(h.mtime, 12) and "mtime" not in records:
        records["mtime"] = str(h.mtime)
    for key, text in (("uname", h.uname), ("gname", h.gname)):
        if _needs_pax_text(encode_str(text), 32):
            records[key] = text
    return records


def _is_binary(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _pax_block(records: dict[str, str]) -> bytes:
    if any(_is_binary(v) for v in records.values()):
        records = {**records, "hdrcharset": "BINARY"}
    data = b"".join(pax_record(k, records[k]) for k in sorted(records))
    head = _ustar_block(Header(name="", type=PAX_LOCAL, size=len(data)), _PAX_NAME, b"", len(data))
    return head + data + bytes(padded(len(data)) - len(data))


def encode(h: Header) -> bytes:
    """The header block(s) for `h`: a PAX header first when ustar cannot hold it."""
    name, link = encode_str(h.name), encode_str(h.linkname)
    records = _pax_records(h, name, link)
    block = _ustar_block(h, name, link, h.size)
    return _pax_block(records) + block if records else block


def block_numbers(block: bytes) -> tuple[int, int, int, int, int]:
    """A header block's mode, uid, gid, size, mtime (octal in one pass, else per field)."""
    nums = block[100:148].translate(NUL_AS_SPACE)
    try:
        return (
            int(nums[0:8], 8),
            int(nums[8:16], 8),
            int(nums[16:24], 8),
            int(nums[24:36], 8),
            int(nums[36:48], 8),
        )
    except ValueError:  # base-256 or blank fields
        fields = ((100, 108), (108, 116), (116, 124), (124, 136), (136, 148))
        mode, uid, gid, size, mtime = (parse_number(block[a:b]) for a, b in fields)
        return mode, uid, gid, size, mtime


def block_device(block: bytes) -> tuple[int, int]:
    return number(block[329:337]), number(block[337:345])


def block_text(block: bytes, start: int, end: int) -> str:
    if not block[start]:
        return ""
    return block[start:end].partition(b"\0")[0].decode("utf-8", "surrogateescape")


def block_name(block: bytes) -> str:
    name = block[0:100].partition(b"\0")[0]
    if block[345] and block[257:263] == POSIX_MAGIC:  # ustar: a prefix to prepend
        name = block[345:500].partition(b"\0")[0] + b"/" + name
    return name.decode("utf-8", "surrogateescape")
