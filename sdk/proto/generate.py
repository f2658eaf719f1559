"""Regenerate the protobuf message modules of ``hatchet_worker._proto`` from its ``.proto`` files.

Run ``python sdk/proto/generate.py`` from the repository root after editing a ``.proto`` file.
``tests/unit/sdk/test_proto_sync.py`` calls :func:`generate` into a temporary folder and fails when
the committed modules differ, so a stale stub cannot be committed unnoticed.

The modules register their descriptors in the SDK's own pool (``_proto/_pool.py``), not protobuf's
process-wide default one, so they never collide with another library carrying the same unpackaged
messages (the official SDK does).

Only message modules (``*_pb2.py``) are generated: the SDK builds
its gRPC method callables from the service descriptors in those modules, which keeps the runtime
free of the grpcio version pin that generated ``*_pb2_grpc.py`` modules carry.
"""

from __future__ import annotations

import sys
from pathlib import Path

SDK_ROOT = Path(__file__).resolve().parents[1]
PROTO_DIR = SDK_ROOT / "hatchet_worker" / "_proto"


def proto_files() -> list[Path]:
    """Every ``.proto`` file of the package, in a stable order."""
    return sorted(PROTO_DIR.glob("*.proto"))


def generate(out_root: Path) -> list[Path]:
    """Generate the modules under ``out_root/hatchet_worker/_proto`` and return their paths."""
    import grpc_tools
    from grpc_tools import protoc

    well_known = Path(grpc_tools.__file__).parent / "_proto"
    out_root.mkdir(parents=True, exist_ok=True)
    (out_root / "hatchet_worker" / "_proto").mkdir(parents=True, exist_ok=True)
    rel = [str(p.relative_to(SDK_ROOT)) for p in proto_files()]
    args = [
        "protoc",
        f"--proto_path={SDK_ROOT}",
        f"--proto_path={well_known}",
        f"--python_out={out_root}",
        *rel,
    ]
    code = protoc.main(args)
    if code != 0:
        raise RuntimeError(f"protoc failed with exit code {code}")
    out = out_root / "hatchet_worker" / "_proto"
    written = sorted(out.glob("*_pb2.py"))
    for path in written:
        path.write_text(_use_private_pool(path.read_text()))
    return written


def _use_private_pool(code: str) -> str:
    """Register the module's descriptors in ``hatchet_worker._proto._pool`` (see its docstring)."""
    default = "_descriptor_pool.Default().AddSerializedFile("
    marker = "# @@protoc_insertion_point(imports)\n"
    if code.count(default) != 1 or code.count(marker) != 1:
        raise RuntimeError("unexpected protoc output: cannot redirect it to the private descriptor pool")
    code = code.replace(default, "_pool.POOL.AddSerializedFile(")
    return code.replace(marker, marker + "from hatchet_worker._proto import _pool\n")


if __name__ == "__main__":
    written = generate(SDK_ROOT)
    sys.stdout.write("".join(f"wrote {p.relative_to(SDK_ROOT)}\n" for p in written))
