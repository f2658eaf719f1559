"""Write an OCI image layout (from umoci) as one tar archive that image loaders accept.

The archive holds the OCI layout unchanged (oci-layout, index.json, blobs/) plus a `docker save`
style manifest.json naming the same config and layer blobs with the image reference as RepoTag.
containerd's importer (`ctr images import`, which `kind load image-archive` runs) and `docker load`
both read manifest.json and normalize the reference the same way a pull would, so a pod's
`image: <prefix>/<name>:<tag>` resolves to the imported image.

Entries are sorted, owned by root and dated SOURCE_DATE_EPOCH: the same layout gives the same bytes.

Usage: oci-archive.py LAYOUT_DIR TAG REFERENCE OUTPUT.tar   (prints: REFERENCE OUTPUT manifest-digest)
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
    for path in sorted(layout.rglob("*")):
        if path.is_file():
            files[path.relative_to(layout).as_posix()] = path
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
    print(reference, output, desc["digest"])
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
