"""The distribution API of one repository: manifests, blobs, uploads, mounts.

Blobs stream in both directions: downloads are hashed as they are read and fail
at their end if the bytes do not match the digest; uploads read from a file in
slices (one PUT for small blobs, PATCH chunks then a closing PUT for big ones).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

import httpx

from lamina import digest, mediatype
from lamina.errors import DigestMismatchError, InvalidInputError
from lamina.progress import Task
from lamina.transports.registry.client import Session, iter_chunks

MANIFEST_ACCEPT = ", ".join(
    [
        mediatype.OCI_INDEX,
        mediatype.DOCKER_MANIFEST_LIST,
        mediatype.OCI_MANIFEST,
        mediatype.DOCKER_MANIFEST,
    ]
)
MAX_MANIFEST = 4 << 20  # the distribution spec's limit; guards against a runaway body
SLICE = 1 << 20
# Upload bodies go out in bytes of this size. Not slices of one reused buffer: h11 passes
# only exact `bytes` through (anything else it copies, b"".join), and httpcore copies
# what a partial socket send leaves (`buffer[n:]`); small bytes keep both cheap and keep
# every allocation under glibc's mmap threshold, so three uploading threads do not
# fragment the heap as 1 MiB ones did (design §11.1).
UPLOAD_SLICE = 64 << 10


class BlobReader:
    """A downloading blob as a readable stream; checks size and digest at its end."""

    def __init__(
        self, chunks: Iterator[bytes], dig: str, size: int, task: Task, close: Callable[[], None]
    ) -> None:
        self._chunks = chunks
        self._expected, self._size = dig, size
        self._task = task
        self._close = close
        self._hasher = digest.Hasher()
        self._chunk = b""
        self._pos = 0
        self._eof = False

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            return b"".join(iter(lambda: self.read(SLICE), b""))
        while self._pos >= len(self._chunk):
            if self._eof or not self._next():
                return b""
        out = self._chunk[self._pos : self._pos + n]
        self._pos += len(out)
        return out

    def _next(self) -> bool:
        chunk = next(self._chunks, None)
        if chunk is None:
            self._eof = True
            self._finish()
            return False
        self._hasher.update(chunk)
        self._task.advance(len(chunk))
        if self._hasher.size > self._size:
            raise DigestMismatchError(
                f"blob {self._expected} is larger than the {self._size} bytes its manifest says",
                "the registry holds a damaged blob; push the image again",
            )
        self._chunk, self._pos = chunk, 0
        return True

    def _finish(self) -> None:
        self._task.done()
        if self._hasher.size != self._size:
            raise DigestMismatchError(
                f"blob {self._expected} is {self._hasher.size} bytes, its manifest says "
                f"{self._size}",
                "the registry holds a damaged blob; push the image again",
            )
        digest.check(self._expected, self._hasher.digest, f"blob {self._expected} from registry")

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self._close()

    def __enter__(self) -> BlobReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Repository:
    """`NAME` on a registry: `/v2/NAME/...`."""

    def __init__(self, session: Session, name: str) -> None:
        self.session = session
        self.name = name

    # -- manifests ----------------------------------------------------------------------

    def get_manifest(self, ref: str) -> tuple[bytes, str]:
        """(raw bytes, media type) of a manifest or index by tag or digest."""
        found = self.find_manifest(ref, missing_ok=False)
        assert found is not None
        return found

    def find_manifest(self, ref: str, *, missing_ok: bool = True) -> tuple[bytes, str] | None:
        """Like get_manifest; None when the registry has no such manifest (a 404)."""
        resp = self.session.request(
            "GET",
            f"/v2/{self.name}/manifests/{ref}",
            what=f"manifest {self.name}:{ref}" if ":" not in ref else f"manifest {ref}",
            headers={"Accept": MANIFEST_ACCEPT},
            stream=True,
            ok=(200, 404) if missing_ok else (200,),
        )
        if resp.status_code == 404:
            resp.close()
            return None
        try:
            raw = bytearray()
            for chunk in iter_chunks(resp, SLICE):
                raw += chunk
                if len(raw) > MAX_MANIFEST:
                    raise InvalidInputError(f"manifest {self.name}:{ref} is larger than 4 MiB")
        finally:
            resp.close()
        kind = resp.headers.get("Content-Type", "").split(";", 1)[0].strip()
        if digest.is_digest(ref):
            digest.check(ref, digest.of_bytes(bytes(raw)), f"manifest {ref}")
        return bytes(raw), kind

    def has_manifest(self, dig: str) -> bool:
        resp = self.session.request(
            "HEAD",
            f"/v2/{self.name}/manifests/{dig}",
            what=f"manifest {dig}",
            headers={"Accept": MANIFEST_ACCEPT},
            ok=(200, 404),
        )
        return resp.status_code == 200

    def put_manifest(self, tag: str, raw: bytes, media_type: str) -> str:
        """PUT under a tag (or its own digest); returns its digest."""
        return self.put_manifest_subject(tag, raw, media_type)[0]

    def put_manifest_subject(self, tag: str, raw: bytes, media_type: str) -> tuple[str, bool]:
        """PUT; (digest, whether the registry indexed its `subject` - the OCI-Subject header)."""
        resp = self.session.request(
            "PUT",
            f"/v2/{self.name}/manifests/{tag}",
            what=f"manifest {self.name}:{tag}",
            headers={"Content-Type": media_type},
            body=raw,
            ok=(201, 200),
        )
        dig = digest.of_bytes(raw)
        said = resp.headers.get("Docker-Content-Digest")
        if said and said != dig:
            raise DigestMismatchError(
                f"registry stored manifest {self.name}:{tag} as {said}, lamina sent {dig}",
                "the registry altered the manifest; check the registry",
            )
        return dig, bool(resp.headers.get("OCI-Subject"))

    # -- blobs --------------------------------------------------------------------------

    def has_blob(self, dig: str) -> bool:
        resp = self.session.request(
            "HEAD", f"/v2/{self.name}/blobs/{dig}", what=f"blob {dig}", ok=(200, 404)
        )
        return resp.status_code == 200

    def open_blob(self, dig: str, size: int, task: Task) -> BinaryIO:
        resp = self.session.request(
            "GET",
            f"/v2/{self.name}/blobs/{dig}",
            what=f"blob {dig} of {self.name}",
            headers={"Accept-Encoding": "identity"},
            stream=True,
        )
        # as received (64 KiB reads): re-chunking to SLICE would copy every byte through
        # a fresh 1 MiB bytes, the allocation churn that fragments the heap (design §11.1)
        reader = BlobReader(iter_chunks(resp, None), dig, size, task, resp.close)
        return reader  # type: ignore[return-value]

    def read_blob(self, dig: str, size: int, task: Task) -> bytes:
        """Small blobs (configs): whole, verified."""
        if size > MAX_MANIFEST * 4:
            raise InvalidInputError(f"blob {dig} is too large ({size} bytes) to be a config")
        with self.open_blob(dig, size, task) as f:
            return f.read()

    def mount(self, dig: str, source: str) -> str | None:
        """Ask for a cross-repository mount; None when mounted, else the upload URL to use."""
        resp = self.session.request(
            "POST",
            f"/v2/{self.name}/blobs/uploads/",
            what=f"mount of {dig} into {self.name}",
            params={"mount": dig, "from": source},
            ok=(201, 202),
        )
        return None if resp.status_code == 201 else self._location(resp)

    def start_upload(self) -> str:
        resp = self.session.request(
            "POST", f"/v2/{self.name}/blobs/uploads/", what=f"upload to {self.name}", ok=(202,)
        )
        return self._location(resp)

    def upload(
        self, location: str, path: Path, dig: str, size: int, task: Task, chunk_size: int
    ) -> None:
        """Send a blob from a file: one PUT when it fits in a chunk, else PATCHes then PUT."""
        what = f"upload of {dig} to {self.name}"
        offset = 0
        if size > chunk_size:
            while offset < size:
                n = min(chunk_size, size - offset)
                resp = self.session.request(
                    "PATCH",
                    location,
                    what=what,
                    headers={
                        "Content-Type": "application/octet-stream",
                        "Content-Length": str(n),
                        "Content-Range": f"{offset}-{offset + n - 1}",
                    },
                    body=_slice_reader(path, offset, n, task),
                    ok=(202,),
                )
                location = self._location(resp)
                offset += n
        rest = size - offset
        self.session.request(
            "PUT",
            location,
            what=what,
            params={"digest": dig},
            headers={"Content-Type": "application/octet-stream", "Content-Length": str(rest)},
            body=_slice_reader(path, offset, rest, task),
            ok=(201,),
        )

    def _location(self, resp: httpx.Response) -> str:
        loc = resp.headers.get("Location")
        if not loc:
            raise self.session.error(resp, f"upload to {self.name} (no Location header)")
        return str(resp.url.join(loc))


def _slice_reader(
    path: Path, offset: int, length: int, task: Task
) -> Callable[[], Iterator[bytes]]:
    """A body factory that streams `length` bytes of a file from `offset` (replayable)."""

    def body() -> Iterator[bytes]:
        with open(path, "rb", buffering=0) as f:  # unbuffered: read() is one exact bytes
            f.seek(offset)
            left = length
            while left > 0:
                data = f.read(min(UPLOAD_SLICE, left))
                if not data:
                    raise InvalidInputError(f"{path} shrank while it was being uploaded")
                left -= len(data)
                task.advance(len(data))
                yield data

    return body
