"""Map a Lambda function's code asset to the x86_64 build of the same handler.

The template's `Code` points at an asset (`S3Key: <hash>.zip`, and the
`aws:asset:path` metadata naming the `asset.<hash>` folder in cdk.out). The folder
holds a `bootstrap` built for the function's architecture, usually arm64, which this
host cannot run. Its sha256 is looked up among `construct/assets/<handler>/<arch>/
bootstrap`; the handler found is then run from its x86_64 build.
"""

import hashlib
import json
from functools import cache
from pathlib import Path
from typing import Any

from .contract import CONTRACT
from .intrinsics import TemplateError

REPO_ROOT = Path(__file__).resolve().parents[2]
HANDLER_ASSETS = REPO_ROOT / "construct" / "assets"
HOST_ARCH = "x86_64"


@cache
def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as data:
        for chunk in iter(lambda: data.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def asset_folder(asset_dir: Path, logical_id: str, resource: dict[str, Any]) -> Path:
    """The cdk.out folder of a function's code asset."""
    metadata = resource.get("Metadata", {})
    candidates = []
    if metadata.get("aws:asset:path"):
        candidates.append(asset_dir / metadata["aws:asset:path"])
    key = resource.get("Properties", {}).get("Code", {}).get("S3Key")
    if isinstance(key, str):
        candidates.append(asset_dir / f"asset.{key.removesuffix('.zip')}")
    for folder in candidates:
        if folder.is_dir():
            return folder
    raise TemplateError(
        f"{logical_id}: no code asset folder in {asset_dir} (looked for {[str(c) for c in candidates] or 'none'}); "
        "synthesize the app again"
    )


def handler_binaries(assets_root: Path = HANDLER_ASSETS) -> dict[str, tuple[str, str]]:
    """sha256 of every built bootstrap -> (handler, architecture)."""
    manifest = assets_root / CONTRACT.asset_manifest
    if not manifest.is_file():
        raise TemplateError(f"{manifest} is missing: build the handlers with `bash scripts/build-handlers.sh`")
    found = {}
    for handler, arches in json.loads(manifest.read_text())["handlers"].items():
        for arch in arches:
            binary = CONTRACT.bootstrap(assets_root, handler, arch)
            if binary.is_file():
                found[_sha256(binary)] = (handler, arch)
    return found


def host_bootstrap(asset_dir: Path, logical_id: str, resource: dict[str, Any], assets_root: Path = HANDLER_ASSETS) -> Path:
    """The x86_64 bootstrap of the handler whose build the function's asset contains."""
    bootstrap = asset_folder(asset_dir, logical_id, resource) / "bootstrap"
    if not bootstrap.is_file():
        raise TemplateError(f"{logical_id}: the code asset {bootstrap.parent} has no bootstrap")
    match = handler_binaries(assets_root).get(_sha256(bootstrap))
    if match is None:
        raise TemplateError(
            f"{logical_id}: {bootstrap} matches no binary under {assets_root}: the handlers were rebuilt "
            "after the synth; synthesize the app again"
        )
    handler, _arch = match
    host = CONTRACT.bootstrap(assets_root, handler, HOST_ARCH)
    if not host.is_file():
        raise TemplateError(f"{logical_id}: handler {handler} has no {HOST_ARCH} build at {host}")
    return host
