"""Generates the Python protobuf/gRPC code of `protos/` into `services/` (run: `make protos`).

The output is reproducible from the .proto files and the pinned grpcio-tools; it is not committed.
"""
from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]
PROTO_ROOT = REPO_ROOT / "protos"
OUT_ROOT = REPO_ROOT / "services"


def _include_dirs(staging: Path) -> list[Path]:
    import grpc_tools
    import google.api  # googleapis-common-protos ships the google/api, rpc, longrunning .proto files

    grpc_tools_protos = Path(grpc_tools.__file__).parent / "_proto"
    googleapis_root = Path(next(iter(google.api.__path__))).parents[1]
    # googleapis-common-protos ships google/longrunning/operations.proto under the file name
    # operations_proto.proto (its compiled module registers the canonical name): expose it as such.
    longrunning = staging / "google" / "longrunning"
    longrunning.mkdir(parents=True)
    shutil.copy(googleapis_root / "google" / "longrunning" / "operations_proto.proto", longrunning / "operations.proto")
    return [PROTO_ROOT, staging, grpc_tools_protos, googleapis_root]


def generate() -> list[Path]:
    from grpc_tools import protoc

    protos = sorted(PROTO_ROOT.rglob("*.proto"))
    args = ["grpc_tools.protoc"]
    with tempfile.TemporaryDirectory() as staging:
        args += [f"-I{d}" for d in _include_dirs(Path(staging))]
        _run_protoc(protoc, args, protos)
    for proto in protos:  # generated folders become regular packages
        package_dir = OUT_ROOT / proto.parent.relative_to(PROTO_ROOT)
        for folder in (package_dir, package_dir.parent):
            (folder / "__init__.py").touch()
    return protos


def _run_protoc(protoc, args: list[str], protos: list[Path]) -> None:
    args += [f"--python_out={OUT_ROOT}", f"--pyi_out={OUT_ROOT}", f"--grpc_python_out={OUT_ROOT}"]
    args += [str(p) for p in protos]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")


if __name__ == "__main__":
    generated = generate()
    print(f"generated {len(generated)} proto files into {OUT_ROOT}", file=sys.stderr)
