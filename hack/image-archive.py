"""Write one image of an OCI image layout (from umoci) as a `docker save` style archive.

The archive holds the image's config and layer blobs (unchanged, under blobs/sha256/) and a
manifest.json that names them with the image reference as RepoTag. containerd's importer
(`ctr -n k8s.io images import`, which `kind load image-archive` also runs) and `docker load` read
manifest.json and normalize the reference the way a pull would, so a pod's `image: <name>:<tag>`
finds the imported image. (Given an OCI index.json instead, containerd 1.6 names the image after the
tag alone, which the kubelet never asks for: that is why the layout itself is not shipped.)

Entries are sorted, owned by root and dated SOURCE_DATE_EPOCH: the same layout gives the same bytes.

Usage: image-archive.py LAYOUT_DIR TAG REFERENCE OUTPUT.tar
Prints: REFERENCE OUTPUT CONFIG_DIGEST (the image ID, which every runtime reports the same).
"""

from __future__ import annotations

import io
import json
import os
import sys
import tarfile
from pathlib import Path


def blob(layout: Path, digest: str) -> Path:
    algo, hexdigest = digest.split(":", 1)
    return layout / "blobs" / algo / hexdigest


def main(layout_dir: str, tag: str, reference: str, output: str) -> int:
    layout = Path(layout_dir)
    index = json.loads((layout / "index.json").read_text())
    [desc] = [m for m in index["manifests"] if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag]
    manifest = json.loads(blob(layout, desc["digest"]).read_text())
    docker_manifest = [
        {
            "Config": "blobs/" + manifest["config"]["digest"].replace(":", "/"),
            "RepoTags": [reference],
            "Layers": ["blobs/" + layer["digest"].replace(":", "/") for layer in manifest["layers"]],
        }
    ]
    epoch = int(os.environ.get("SOURCE_DATE_EPOCH", "0"))
    files: dict[str, bytes | Path] = {"manifest.json": json.dumps(docker_manifest, separators=(",", ":")).encode()}
    for digest in [manifest["config"]["digest"], *(layer["digest"] for layer in manifest["layers"])]:
        files["blobs/" + digest.replace(":", "/")] = blob(layout, digest)
    tmp = Path(output + ".tmp")
    with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as tar:
        dirs: set[str] = set()
        for name in sorted(files):
            parts = name.split("/")[:-1]
            for i in range(1, len(parts) + 1):
                d = "/".join(parts[:i])
                if d not in dirs:
                    dirs.add(d)
                    info = tarfile.TarInfo(d)
                    info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, epoch
                    tar.addfile(info)
            src = files[name]
            data = src if isinstance(src, bytes) else src.read_bytes()
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, epoch
            tar.addfile(info, io.BytesIO(data))
    tmp.replace(output)
    print(reference, output, manifest["config"]["digest"])
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
