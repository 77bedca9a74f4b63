"""Artifacts made as cosign and ORAS make them, pushed with plain HTTP (not lamina's client).

A cosign signature: an OCI manifest under the tag `sha256-HEX.sig` whose layer is
the simple-signing payload naming the image digest. An OCI 1.1 referrer: a manifest
with `subject` and an empty config, pushed by digest and listed in the referrers tag
`sha256-HEX`, as a client does against a registry without the referrers API.
"""

from __future__ import annotations

import hashlib
import json
import urllib.request

EMPTY = "application/vnd.oci.empty.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def http(method: str, url: str, data: bytes | None = None, kind: str = "") -> tuple[int, dict]:
    req = urllib.request.Request(url, data=data, method=method)
    if kind:
        req.add_header("Content-Type", kind)
    with urllib.request.urlopen(req, timeout=30) as resp:
        return resp.status, dict(resp.headers)


def put_blob(base: str, repo: str, data: bytes) -> dict:
    """Monolithic upload (POST then PUT ?digest=); the blob's descriptor without media type."""
    _, headers = http("POST", f"{base}/v2/{repo}/blobs/uploads/", b"")
    location = headers["Location"]
    location = location if location.startswith("http") else base + location
    sep = "&" if "?" in location else "?"
    http("PUT", f"{location}{sep}digest={sha256(data)}", data, "application/octet-stream")
    return {"digest": sha256(data), "size": len(data)}


def put_manifest(base: str, repo: str, ref: str, raw: bytes, kind: str) -> str:
    http("PUT", f"{base}/v2/{repo}/manifests/{ref}", raw, kind)
    return sha256(raw)


def one_layer_manifest(
    base: str, repo: str, config: dict, layer: tuple[str, bytes, dict[str, str]]
) -> dict:
    """An OCI manifest with an image config (as cosign and buildx write) and one layer."""
    kind, data, annotations = layer
    return {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json"}
        | put_blob(base, repo, json.dumps(config).encode()),
        "layers": [{"mediaType": kind} | put_blob(base, repo, data) | {"annotations": annotations}],
    }


def subject_of(dig: str, size: int, kind: str) -> dict:
    return {"mediaType": kind, "digest": dig, "size": size}


def cosign_signature(base: str, repo: str, image_digest: str) -> tuple[str, bytes]:
    """Push a cosign-style signature of `image_digest`: (its tag, its manifest bytes)."""
    payload = json.dumps(
        {
            "critical": {
                "identity": {"docker-reference": repo},
                "image": {"docker-manifest-digest": image_digest},
                "type": "cosign container image signature",
            },
            "optional": None,
        }
    ).encode()
    config = {"architecture": "", "os": "", "rootfs": {"type": "layers"}}
    kind = "application/vnd.dev.cosign.simplesigning.v1+json"
    note = {"dev.cosignproject.cosign/signature": "MEUCIQDfake=="}
    doc = one_layer_manifest(base, repo, config, (kind, payload, note))
    raw = json.dumps(doc, indent=2).encode()  # not lamina's canonical form: bytes must survive
    tag = image_digest.replace(":", "-") + ".sig"
    put_manifest(base, repo, tag, raw, OCI_MANIFEST)
    return tag, raw


def oci_referrer(base: str, repo: str, subject: dict, sbom: bytes) -> bytes:
    """Push an SBOM referrer of `subject` by digest and list it in the referrers tag."""
    doc = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": "application/spdx+json",
        "config": {"mediaType": EMPTY} | put_blob(base, repo, b"{}"),
        "layers": [{"mediaType": "application/spdx+json"} | put_blob(base, repo, sbom)],
        "subject": subject,
        "annotations": {"org.opencontainers.image.created": "2026-01-01T00:00:00Z"},
    }
    raw = json.dumps(doc, indent=3).encode()
    dig = put_manifest(base, repo, sha256(raw), raw, OCI_MANIFEST)
    index = {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [
            {
                "mediaType": OCI_MANIFEST,
                "digest": dig,
                "size": len(raw),
                "artifactType": "application/spdx+json",
            }
        ],
    }
    tag = subject["digest"].replace(":", "-")
    put_manifest(base, repo, tag, json.dumps(index).encode(), OCI_INDEX)
    return raw


def get_manifest(base: str, repo: str, ref: str) -> bytes:
    req = urllib.request.Request(f"{base}/v2/{repo}/manifests/{ref}")
    req.add_header("Accept", f"{OCI_INDEX}, {OCI_MANIFEST}")
    with urllib.request.urlopen(req, timeout=30) as resp:
        data: bytes = resp.read()
    return data


def add_attestation(base: str, repo: str, tag: str, platform_digest: str) -> bytes:
    """Add a buildx-style attestation entry for one platform to the index `tag`; the new index."""
    statement = json.dumps({"_type": "https://in-toto.io/Statement/v0.1"}).encode()
    note = {"in-toto.io/predicate-type": "https://spdx.dev/Document"}
    config = {"architecture": "unknown", "os": "unknown"}
    doc = one_layer_manifest(base, repo, config, ("application/vnd.in-toto+json", statement, note))
    raw = json.dumps(doc).encode()
    dig = put_manifest(base, repo, sha256(raw), raw, OCI_MANIFEST)
    index = json.loads(get_manifest(base, repo, tag))
    index["manifests"].append(
        {
            "mediaType": OCI_MANIFEST,
            "digest": dig,
            "size": len(raw),
            "annotations": {
                "vnd.docker.reference.digest": platform_digest,
                "vnd.docker.reference.type": "attestation-manifest",
            },
            "platform": {"architecture": "unknown", "os": "unknown"},
        }
    )
    new = json.dumps(index, indent=1).encode()
    put_manifest(base, repo, tag, new, OCI_INDEX)
    return new
