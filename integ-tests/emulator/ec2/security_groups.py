"""DeleteSecurityGroup refused while the group is in use, as AWS refuses it.

AWS answers `DependencyViolation` ("resource sg-... has a dependent object") while
another group's rule names the group (ingress from it or egress to it; a group's rules
naming itself do not count) or a network interface (an instance's, an HSM's) is in
it. moto deleted such a group, leaving rules that name a group that no longer exists.
"""

from typing import Any

from moto.ec2.exceptions import DependencyViolationError
from moto.ec2.models.security_groups import SecurityGroupBackend


def dependents(backend: Any, group_id: str) -> list[str]:
    """The groups whose rules name `group_id`, and the network interfaces in it."""
    found = []
    for groups in backend.groups.values():
        for group in groups.values():
            if group.id != group_id and any(
                rule.source_group.get("GroupId") == group_id for rule in group.ingress_rules + group.egress_rules
            ):
                found.append(group.id)
    # NAT gateways' interfaces are in no group in AWS; moto puts them in the VPC's default group.
    nat = {id(gateway._eni) for gateway in backend.nat_gateways.values()}
    found += [
        eni.id
        for eni in backend.enis.values()
        if id(eni) not in nat and not _gone(eni) and any(g.id == group_id for g in eni.group_set)
    ]
    return found


def _gone(eni: Any) -> bool:
    """An interface of a terminated instance: AWS deletes the one the launch made with it (moto keeps it)."""
    instance = getattr(eni, "instance", None)
    return instance is not None and instance.state == "terminated"


def install() -> None:
    """Patch moto's DeleteSecurityGroup (once)."""
    original = SecurityGroupBackend.delete_security_group
    if getattr(original, "emulator_patch", False):
        return

    def delete_security_group(self: Any, name: str | None = None, group_id: str | None = None) -> None:
        group = self.get_security_group_from_id(group_id) if group_id else None
        if group is None and name:
            group = self.get_security_group_by_name_or_id(name)
        if group is not None and dependents(self, group.id):
            raise DependencyViolationError(f"resource {group.id} has a dependent object")
        return original(self, name=name, group_id=group_id)

    delete_security_group.emulator_patch = True  # type: ignore[attr-defined]
    SecurityGroupBackend.delete_security_group = delete_security_group  # type: ignore[method-assign]
