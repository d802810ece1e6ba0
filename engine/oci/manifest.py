"""OCI and Docker manifests, indexes and descriptors: media types and the rules that
archives and registries share."""

from __future__ import annotations

from typing import Any

from ..errors import InvalidArgument
from .digest import HEX64
from .imageconfig import compact, host_arch

MT_OCI_INDEX = "application/vnd.oci.image.index.v1+json"
MT_OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
MT_DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MT_DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MT_DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
INDEX_TYPES = (MT_OCI_INDEX, MT_DOCKER_LIST)
MANIFEST_TYPES = (MT_OCI_MANIFEST, MT_DOCKER_MANIFEST)
LAYER_TYPES = (
    MT_OCI_LAYER, MT_OCI_LAYER + "+gzip", MT_DOCKER_LAYER,
    "application/vnd.oci.image.layer.nondistributable.v1.tar",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
)
ANNOTATION_IMAGE_NAME = "io.containerd.image.name"
ANNOTATION_REF_NAME = "org.opencontainers.image.ref.name"
OCI_LAYOUT = b'{"imageLayoutVersion": "1.0.0"}'
MAX_JSON = 32 << 20  # manifests and configs are small: refuse to buffer anything huge


def image_manifest(config_digest: str, config_size: int,
                   layers: list[tuple[str, int]]) -> bytes:
    """The OCI manifest of an image whose layers (digest, size) go out uncompressed."""
    return compact({
        "schemaVersion": 2, "mediaType": MT_OCI_MANIFEST,
        "config": {"mediaType": MT_OCI_CONFIG, "digest": config_digest, "size": config_size},
        "layers": [{"mediaType": MT_OCI_LAYER, "digest": d, "size": n} for d, n in layers],
    })


def descriptor_digest(desc: Any, what: str) -> str:
    """The descriptor's digest, checked to be a sha256 digest (and so safe in a path)."""
    dgst = desc.get("digest") if isinstance(desc, dict) else None
    if not isinstance(dgst, str) or not dgst.startswith("sha256:") or not HEX64.match(dgst[7:]):
        raise InvalidArgument(f"{what} has no valid sha256 digest")
    return dgst


def platform_matches(desc: dict[str, Any]) -> bool:
    """A descriptor without a platform fits anything; attestations (unknown/unknown) do not."""
    p = desc.get("platform")
    return not p or (p.get("os") == "linux" and p.get("architecture") == host_arch())
