"""Validators for where images live: archives, OCI layouts, stores.

- `validate_layout(dir)`: `oci-layout` names a version; `index.json` is schemaVersion 2;
  every manifest it lists (through nested indexes) passes `validate_manifest`.
- `validate_archive(path)`: a docker-archive (`manifest.json`: each Config hashes to the
  ID its name carries, RepoTags are `name:tag` or null, each Layers file is a tar whose
  sha256 is the config's diff_id there) and/or an OCI layout inside the tar (oci-archive);
  when an archive holds both, as lamina's save does, they must describe the same images.
  A directory is read as an OCI layout.
- `validate_store(store)`: the store's layout, plus every image value lamina reads from
  it (`validate_image`), and the two agree on which images there are.

`omitted`: diff_ids a delta archive may leave out; `media_types`: see validate.py.
Each returns the images it checked.

    assert {c.id for c in validate_archive(out)} == {image.id}
"""

from __future__ import annotations

import json
import re
import tarfile
from collections import Counter
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

from tests.kit.validate import (
    Checked,
    Invalid,
    chain_ids,
    check_config,
    check_layer,
    read_all,
    sha,
    validate_image,
    validate_manifest,
)

Files = Callable[[str], BinaryIO | None]  # path inside the archive or layout -> stream
INDEX_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
)
HEX64 = re.compile(r"[0-9a-f]{64}")


def _blobs(files: Files) -> Callable[[str], BinaryIO | None]:
    return lambda digest: files("blobs/" + digest.replace(":", "/", 1))


def layout_images(
    files: Files, what: str, omitted: Collection[str] = (), media_types: bool = True
) -> list[Checked]:
    layout = read_all(files, "oci-layout")
    if layout is None or "imageLayoutVersion" not in json.loads(layout):
        raise Invalid(what, ["no oci-layout file naming imageLayoutVersion"])
    index = read_all(files, "index.json")
    if index is None:
        raise Invalid(what, ["no index.json"])
    return _walk_index(json.loads(index), files, omitted, media_types)


def _walk_index(
    doc: dict[str, Any], files: Files, omitted: Collection[str], media_types: bool
) -> list[Checked]:
    if doc.get("schemaVersion") != 2:
        raise Invalid("index", [f"schemaVersion is {doc.get('schemaVersion')!r}"])
    out = []
    for desc in doc.get("manifests", []):
        raw = read_all(files, "blobs/" + desc["digest"].replace(":", "/", 1))
        if raw is None:
            raise Invalid("index", [f"manifest {desc['digest'][:19]} is missing"])
        if desc.get("mediaType") in INDEX_TYPES:
            if (sha(raw), len(raw)) != (desc["digest"], desc["size"]):
                raise Invalid("index", [f"nested index {desc['digest'][:19]} does not hash"])
            out += _walk_index(json.loads(raw), files, omitted, media_types)
        else:
            out.append(validate_manifest(raw, _blobs(files), desc, omitted, media_types))
    return out


def docker_images(files: Files, omitted: Collection[str] = ()) -> list[Checked]:
    manifest = json.loads(read_all(files, "manifest.json") or b"null")
    if not isinstance(manifest, list):
        raise Invalid("docker-archive", ["manifest.json is not a list"])
    return [_docker_image(entry, files, omitted) for entry in manifest]


def _docker_image(entry: dict[str, Any], files: Files, omitted: Collection[str]) -> Checked:
    config = read_all(files, entry["Config"])
    if config is None:
        raise Invalid("docker-archive", [f"config {entry['Config']} is missing"])
    image_id = sha(config)
    named = HEX64.findall(entry["Config"])
    problems = [f"config {entry['Config']} hashes to {image_id}" for n in named[-1:]
                if n != image_id[7:]]  # fmt: skip
    tags = entry.get("RepoTags")
    if tags is not None and not all(isinstance(t, str) and ":" in t for t in tags):
        problems.append(f"RepoTags {tags!r} are not name:tag")
    diff_ids, config_problems = check_config(config, len(entry["Layers"]))
    problems += config_problems
    for path, diff_id in zip(entry["Layers"], diff_ids, strict=False):
        stream = files(path)
        if stream is None:
            if diff_id not in omitted:
                problems.append(f"layer {path} ({diff_id[:19]}) is missing")
            continue
        with stream:
            problems += check_layer(stream, None, None, None, diff_id)
    if problems:
        raise Invalid(f"docker-archive image {image_id[:19]}", problems)
    return Checked(image_id, diff_ids, chain_ids(diff_ids), None, tuple(tags or ()))


@contextmanager
def archive_files(path: Path) -> Iterator[tuple[Files, set[str]]]:
    """(opener, names) of a tar archive (links inside it followed) or a directory."""
    if path.is_dir():
        names = {p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file()}
        yield (lambda n: (path / n).open("rb") if (path / n).is_file() else None), names
        return
    with tarfile.open(path, "r:*") as tar:
        members = {m.name.removeprefix("./"): m for m in tar.getmembers()}

        def open_member(name: str) -> BinaryIO | None:
            member = members.get(name)
            return tar.extractfile(member) if member is not None else None  # type: ignore[return-value]

        yield open_member, set(members)


def validate_layout(path: Path, omitted: Collection[str] = ()) -> list[Checked]:
    with archive_files(path) as (files, _):
        return layout_images(files, str(path), omitted)


def validate_archive(
    path: Path, omitted: Collection[str] = (), media_types: bool = True
) -> list[Checked]:
    """Every image of a docker-archive, oci-archive, both at once, or an OCI layout dir."""
    with archive_files(path) as (files, names):
        docker = docker_images(files, omitted) if "manifest.json" in names else None
        has_index = "index.json" in names
        oci = layout_images(files, str(path), omitted, media_types) if has_index else None
    if docker is None and oci is None:
        raise Invalid(str(path), ["neither manifest.json nor index.json: not an image archive"])
    if docker is not None and oci is not None:
        views = _by_id(docker), _by_id(oci)
        if views[0] != views[1]:
            raise Invalid(str(path), [f"manifest.json says {views[0]}, index.json {views[1]}"])
    return docker if docker is not None else oci  # type: ignore[return-value]


def _by_id(checked: list[Checked]) -> dict[str, tuple[tuple[str, ...], set[str]]]:
    """image ID -> (diff_ids, every name it has): what two views must agree on."""
    out: dict[str, tuple[tuple[str, ...], set[str]]] = {}
    for c in checked:
        out.setdefault(c.id, (c.diff_ids, set()))[1].update(c.names)
    return out


def _facts_agree(img: Any) -> bool:
    """A StoredImage's facts (what listing reads) say what its verified value says."""
    facts, value = getattr(img, "facts", None), img.image
    if facts is None:
        return True
    sizes = tuple(layer.size for layer in value.layers)
    return (facts.id, facts.diff_ids, facts.sizes, facts.chain_ids, facts.created) == (
        value.id, value.diff_ids, sizes, tuple(value.chain_ids), value.config.created)


def validate_store(store: Any) -> list[Checked]:
    """A store (lamina.Store, or the path of one): its OCI layout, lamina's values, and
    the store's own rules: one manifest per image ID, each name given once."""
    root = Path(getattr(store, "root", store))
    checked = validate_layout(root)
    manifests: dict[str, set[str | None]] = {}
    for c in checked:
        manifests.setdefault(c.id, set()).add(c.manifest)
    names = Counter(n for c in checked for n in c.names)
    problems = [f"image {i[:19]} has manifests {sorted(m)}" for i, m in manifests.items()
                if len(m) > 1]  # fmt: skip
    problems += [f"name {n} is given {k} times" for n, k in names.items() if k > 1]
    if problems:
        raise Invalid(f"store {root}", problems)
    if hasattr(store, "images"):
        stored = store.images()
        values = [validate_image(img) for img in stored]
        if {c.id for c in values} != {c.id for c in checked}:
            raise Invalid(f"store {root}", ["lamina reads other images than index.json lists"])
        wrong = [img.id[:19] for img in stored if not _facts_agree(img)]
        if wrong:
            raise Invalid(f"store {root}", [f"facts.json disagrees with image {i}" for i in wrong])
    return checked
