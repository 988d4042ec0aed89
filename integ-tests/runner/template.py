"""A synthesized stack: the template, its cdk.out folder, and the order of its resources."""

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .intrinsics import TemplateError, references

CUSTOM_RESOURCE_TYPES = ("AWS::CloudFormation::CustomResource",)


def is_custom_resource(resource_type: str) -> bool:
    """Custom::* and AWS::CloudFormation::CustomResource are played by the runner."""
    return resource_type.startswith("Custom::") or resource_type in CUSTOM_RESOURCE_TYPES


@dataclass
class Template:
    """A CloudFormation template and where its assets live."""

    path: Path
    body: dict[str, Any]

    @classmethod
    def load(cls, path: str | Path) -> "Template":
        path = Path(path).resolve()
        try:
            body = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as err:
            raise TemplateError(f"cannot read the template {path}: {err}") from err
        if not isinstance(body.get("Resources"), dict):
            raise TemplateError(f"{path} has no Resources section")
        return cls(path, body)

    @property
    def stack_name(self) -> str:
        """`CloudHsmExample` for `CloudHsmExample.template.json`."""
        return self.path.name.split(".template.json")[0].split(".json")[0]

    @property
    def asset_dir(self) -> Path:
        """The cdk.out folder holding the template and its `asset.<hash>` folders."""
        return self.path.parent

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        return self.body["Resources"]

    def resource_type(self, logical_id: str) -> str:
        return self.resources[logical_id]["Type"]

    def dependencies(self, logical_id: str) -> set[str]:
        """Resources this one needs first: through Ref, Fn::GetAtt, Fn::Sub and DependsOn."""
        resource = self.resources[logical_id]
        depends_on = resource.get("DependsOn", [])
        if isinstance(depends_on, str):
            depends_on = [depends_on]
        found = references(resource.get("Properties", {})) | set(depends_on)
        missing = {name for name in depends_on if name not in self.resources}
        if missing:
            raise TemplateError(f"{logical_id} DependsOn unknown resource(s) {sorted(missing)}")
        return {name for name in found if name in self.resources}

    def creation_order(self, logical_ids: list[str] | None = None) -> list[str]:
        """Resources in dependency order; ties keep the template's order."""
        wanted = list(self.resources) if logical_ids is None else logical_ids
        pending = {name: self.dependencies(name) & set(wanted) for name in wanted}
        order: list[str] = []
        while pending:
            ready = [name for name in wanted if name in pending and not pending[name]]
            if not ready:
                raise TemplateError(f"circular dependency between {sorted(pending)}")
            for name in ready:
                del pending[name]
                order.append(name)
            for deps in pending.values():
                deps.difference_update(ready)
        return order
