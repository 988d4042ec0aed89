"""The product's protocol values, read once from `handlers/contract.json`.

The Rust side owns the file (`cargo run -p contract-gen` writes it); the runner and the
tests read the handler names, architectures, the asset layout, the not-created physical
id prefix, the poll interval context key and the tag keys from here instead of spelling
them.
"""

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CONTRACT_FILE = Path(__file__).resolve().parents[2] / "handlers" / "contract.json"


@dataclass(frozen=True)
class Contract:
    """What the workflows and the Rust steps agree on, as the tests need it."""

    entry_handler: str  # the entry function of every custom resource
    tasks_handler: str  # the steps of the cluster workflows
    architectures: tuple[str, ...]  # every handler is built for each
    asset_path: str  # where a binary lives under construct/assets: {handler}/{architecture}/bootstrap
    asset_manifest: str  # the file under construct/assets that lists the binaries' hashes and sizes
    not_created_prefix: str  # physical id of a Create that made nothing: prefix + RequestId
    poll_seconds_context: str  # CDK context key of the workflows' poll interval
    cluster_id_tag: str
    request_id_tag: str

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> "Contract":
        return cls(
            entry_handler=raw["handlers"]["entry"],
            tasks_handler=raw["handlers"]["tasks"],
            architectures=tuple(raw["architectures"]),
            asset_path=raw["assets"]["path"],
            asset_manifest=raw["assets"]["manifest"],
            not_created_prefix=raw["notCreatedPrefix"],
            poll_seconds_context=raw["pollSecondsContext"],
            cluster_id_tag=raw["tags"]["clusterId"],
            request_id_tag=raw["tags"]["requestId"],
        )

    @property
    def handlers(self) -> tuple[str, str]:
        """Every handler binary, entry first."""
        return (self.entry_handler, self.tasks_handler)

    def bootstrap(self, assets: Path, handler: str, architecture: str) -> Path:
        """The binary of a handler for an architecture in an assets folder."""
        return assets / self.asset_path.format(handler=handler, architecture=architecture)

    def not_created(self, request_id: str) -> str:
        """The physical id the entry function reports for a Create that made nothing."""
        return f"{self.not_created_prefix}{request_id}"


def load(path: Path = CONTRACT_FILE) -> Contract:
    """Read and check the contract file; a missing key names the file and the key."""
    try:
        return Contract.from_json(json.loads(path.read_text()))
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise RuntimeError(f"{path} is unreadable or lacks a key the tests need: {err!r}") from err


CONTRACT = load()
