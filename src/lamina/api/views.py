"""Read-only views of the store for `images`, `history`, `inspect` and `tree`.

Each returns plain data (dataclasses and dicts); formatting is the CLI's job.

Sizes are Docker's where Docker shows them (`images` SIZE, `inspect` Size, `history`
SIZE): a layer's size is the sum of its entries' size fields, the bytes of its files
(moby's UnpackLayer sums `hdr.Size`; checked against `docker inspect -f {{.Size}}` of
Docker 20.10 on the fixture images), not the bytes of its tar. `tree` shows tar bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lamina import reference
from lamina.image import Artifact
from lamina.jsondoc import thaw
from lamina.spec import HistoryEntry
from lamina.store.graph import Graph
from lamina.store.local import StoredImage


@dataclass(frozen=True)
class ImageRow:
    repository: str
    tag: str
    id: str
    created: str
    size: int
    digest: str


LayerSize = Callable[[str], int]  # diff_id -> Docker's size of that layer (store/layersizes.py)


def image_size(img: StoredImage, sizes: LayerSize) -> int:
    return sum(map(sizes, img.facts.diff_ids))  # facts: no image is loaded to list it


def image_rows(
    graph: Graph,
    show_all: bool,
    pattern: str | None = None,
    *,
    sizes: LayerSize,
    keep: Callable[[StoredImage], bool] = lambda img: True,
    keep_name: Callable[[reference.Reference], bool] | None = None,
) -> list[ImageRow]:
    """`keep`, `keep_name`: Docker's --filter (api/filters.py); with `keep_name`, as with
    `pattern`, untagged images are left out."""
    rows = []
    want = _pattern(pattern)
    for img in graph.images:
        if not keep(img):
            continue
        common = (img.id, img.facts.created, image_size(img, sizes), img.manifest.digest)
        if img.names:
            for name in img.names:
                ref = reference.parse(name)
                if (want is None or want(ref)) and (keep_name is None or keep_name(ref)):
                    rows.append(ImageRow(ref.familiar_repository, ref.tag, *common))
        elif (show_all or graph.is_dangling(img)) and pattern is None and keep_name is None:
            rows.append(ImageRow("<none>", "<none>", *common))
    return sorted(rows, key=lambda r: (r.created, r.repository, r.tag), reverse=True)


def _pattern(pattern: str | None) -> Any:
    if pattern is None:
        return None
    ref = reference.parse(pattern, default_tag=False)
    return lambda r: r.repository == ref.repository and (not ref.tag or r.tag == ref.tag)


@dataclass(frozen=True)
class HistoryRow:
    image: str  # image ID, or "<missing>" where no stored image ends here
    entry: HistoryEntry
    size: int


def history_rows(graph: Graph, img: StoredImage, *, sizes: LayerSize) -> list[HistoryRow]:
    """Newest first, as `docker history` prints them."""
    ends_at: dict[int, str] = {len(img.image.history): img.id}
    for anc in graph.ancestors(img.id):
        ends_at.setdefault(graph.by_id(anc).facts.history_length, anc)
    rows = []
    layers = iter(img.image.layers)
    for i, entry in enumerate(img.image.history):
        size = 0
        if not entry.empty_layer:
            layer = next(layers, None)
            size = sizes(layer.diff_id) if layer is not None else 0
        rows.append(HistoryRow(ends_at.get(i + 1, "<missing>"), entry, size))
    return rows[::-1]


def inspect_doc(
    graph: Graph, img: StoredImage, repo_digests: list[str], *, sizes: LayerSize
) -> dict[str, Any]:
    """`docker inspect`'s document: plain data, a copy the caller may change freely.

    `repo_digests` as registries serve the image (store/origins.py).
    """
    doc = thaw(img.image.config.doc)
    return {
        "Id": img.id,
        "RepoTags": list(img.names),
        "RepoDigests": repo_digests,
        "Parent": graph.parent.get(img.id, ""),
        "Comment": _last_comment(img),
        "Created": doc.get("created", ""),
        "Container": doc.get("container", ""),
        "ContainerConfig": doc.get("container_config", {}),
        "DockerVersion": doc.get("docker_version", ""),
        "Author": doc.get("author", ""),
        "Config": doc.get("config", {}),
        "Architecture": doc.get("architecture", ""),
        "Variant": doc.get("variant", ""),
        "Os": doc.get("os", ""),
        "Size": image_size(img, sizes),
        "VirtualSize": image_size(img, sizes),
        "RootFS": {"Type": "layers", "Layers": list(img.image.diff_ids)},
        "Metadata": {"ManifestDigest": img.manifest.digest},
    }


def referrer_doc(a: Artifact) -> dict[str, Any]:
    """An artifact kept with an image (store/artifacts.py), as `inspect` shows it."""
    doc = {"Digest": a.digest, "MediaType": a.media_type, "Size": a.size, "Subject": a.subject}
    return (
        doc
        | ({"ArtifactType": a.artifact_type} if a.artifact_type else {})
        | ({"Tag": a.tag} if a.tag else {})
    )


def _last_comment(img: StoredImage) -> str:
    history = img.image.history
    return history[-1].comment if history else ""


@dataclass(frozen=True)
class TreeNode:
    chain_id: str
    diff_id: str
    size: int
    images: tuple[StoredImage, ...]
    children: tuple[TreeNode, ...]


def layer_tree(graph: Graph, only: StoredImage | None = None) -> list[TreeNode]:
    """Layers as a tree by chain ID, with the images that end at each node."""
    images = [only] if only is not None else graph.images
    if only is not None:
        images += [graph.by_id(a) for a in graph.ancestors(only.id)]
    ends: dict[str, list[StoredImage]] = {}
    kids: dict[str, dict[str, tuple[str, int]]] = {}
    roots: dict[str, tuple[str, int]] = {}
    for img in images:
        f = img.facts
        chains = f.chain_ids
        for i, chain in enumerate(chains):
            info = (f.diff_ids[i], f.sizes[i])
            if i == 0:
                roots[chain] = info
            else:
                kids.setdefault(chains[i - 1], {})[chain] = info
        if chains:
            ends.setdefault(chains[-1], []).append(img)

    def node(chain: str, info: tuple[str, int]) -> TreeNode:
        below = kids.get(chain, {})
        return TreeNode(
            chain,
            info[0],
            info[1],
            tuple(ends.get(chain, ())),
            tuple(node(c, i) for c, i in sorted(below.items())),
        )

    return [node(c, i) for c, i in sorted(roots.items())]
