"""OCI layouts as the spec and the other tools read them: unknown media types and
artifacts are ignored, a missing layer blob means what it means in a docker-archive,
an impossible descriptor size is refused before anything is read."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from tests.core.test_bad_input import load_fails, oci_layout
from tests.lamina_cli import run_lamina


def _blob(layout: Path, data: bytes) -> dict[str, object]:
    dig = hashlib.sha256(data).hexdigest()
    (layout / "blobs" / "sha256" / dig).write_bytes(data)
    return {"digest": f"sha256:{dig}", "size": len(data)}


def _manifest(layout: Path) -> tuple[dict, Path]:  # type: ignore[type-arg]
    index = json.loads((layout / "index.json").read_bytes())
    path = layout / "blobs" / "sha256" / index["manifests"][0]["digest"].split(":")[1]
    return json.loads(path.read_bytes()), path


def _rewrite_manifest(layout: Path, manifest: dict) -> None:  # type: ignore[type-arg]
    index = json.loads((layout / "index.json").read_bytes())
    desc = _blob(layout, json.dumps(manifest).encode())
    index["manifests"][0].update(desc)
    (layout / "index.json").write_text(json.dumps(index))


def test_an_artifact_beside_an_image_does_not_block_it(tmp_path: Path) -> None:
    layout = oci_layout(tmp_path)
    empty = _blob(layout, b"{}")
    artifact = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "artifactType": "application/vnd.example.sbom",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", **empty},
        "layers": [{"mediaType": "application/vnd.example.sbom+json", **empty}],
    }
    index = json.loads((layout / "index.json").read_bytes())
    desc = _blob(layout, json.dumps(artifact).encode())
    index["manifests"].insert(
        0, {"mediaType": "application/vnd.oci.image.manifest.v1+json", **desc}
    )
    (layout / "index.json").write_text(json.dumps(index))
    store = tmp_path / "store"
    cp = run_lamina(store, "load", "-i", str(layout))
    assert cp.returncode == 0, cp.stderr
    assert b"local/stack " in run_lamina(store, "images", check=True).stdout


def test_a_missing_layer_blob_is_a_missing_layer_as_in_a_docker_archive(tmp_path: Path) -> None:
    layout = oci_layout(tmp_path)
    manifest, _ = _manifest(layout)
    top = manifest["layers"][-1]["digest"].split(":")[1]
    blob = layout / "blobs" / "sha256" / top
    saved = blob.read_bytes()
    blob.unlink()
    load_fails(tmp_path, layout, 6, "leaves out layers")  # was 3 (not found)
    # a store that has the layer takes the layout as a delta
    store = tmp_path / "full"
    blob.write_bytes(saved)
    run_lamina(store, "load", "-i", str(layout), check=True)
    run_lamina(store, "tag", "local/stack:1", "local/keep:1", check=True)
    run_lamina(store, "rmi", "local/stack:1", check=True)
    blob.unlink()
    cp = run_lamina(store, "load", "-i", str(layout))
    assert cp.returncode == 0, cp.stderr


def test_a_descriptor_of_2_to_the_62_bytes_is_refused_early(tmp_path: Path) -> None:
    layout = oci_layout(tmp_path)
    manifest, _ = _manifest(layout)
    manifest["layers"][-1]["size"] = 2**62
    _rewrite_manifest(layout, manifest)
    load_fails(tmp_path, layout, 5, "bad size")


def test_a_descriptor_size_that_is_not_the_blobs_is_refused(tmp_path: Path) -> None:
    layout = oci_layout(tmp_path)
    manifest, _ = _manifest(layout)
    manifest["layers"][-1]["size"] += 1
    _rewrite_manifest(layout, manifest)
    load_fails(tmp_path, layout, 5, "its descriptor says")
