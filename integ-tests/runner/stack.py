"""The stack: create, update and delete its resources the way CloudFormation does.

Resources are handled in dependency order. AWS resources are provisioned in the
emulator (provision.py); custom resources get Create/Update/Delete requests
(custom.py). A failed create is rolled back: Delete requests to the custom resources
created so far (the failed one included), newest first, then the AWS resources are
torn down. A failed update sends the updated custom resources an Update back to
their old properties. DeletionPolicy Retain is honoured.
"""

import copy
import json
import re
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from . import provision
from .aws import Aws
from .custom import CustomResourceDriver, Operation, stringify
from .intrinsics import ACCOUNT_ID, REGION, Resolver, TemplateError, pseudo_parameters
from .progress import Progress
from .template import Template, is_custom_resource

# The CDK bootstrap stack publishes its version here; the template's rule checks it.
CDK_BOOTSTRAP_VERSION = "21"
SSM_PARAMETER_TYPE = re.compile(r"^AWS::SSM::Parameter::Value<(.+)>$")
DYNAMIC_REFERENCE = re.compile(r"\{\{resolve:(ssm|ssm-secure|secretsmanager):([^}]+)\}\}")


class OperationFailed(RuntimeError):
    """A lifecycle step failed; the message says which resource and why."""


@dataclass
class ResourceState:
    """A resource the stack holds: what Ref and Fn::GetAtt read, and how to delete it."""

    logical_id: str
    type: str
    physical_id: str
    attributes: dict[str, Any] = field(default_factory=dict)
    properties: dict[str, Any] = field(default_factory=dict)
    retain: bool = False

    @property
    def custom(self) -> bool:
        return is_custom_resource(self.type)


class Stack:
    """One emulated CloudFormation stack."""

    def __init__(self, template: Template, aws: Aws, driver: CustomResourceDriver, progress: Progress, stack_id: str):
        self.template = template
        self.aws = aws
        self.driver = driver
        self.progress = progress
        self.stack_id = stack_id
        self.resources: dict[str, ResourceState] = {}

    @staticmethod
    def new_stack_id(stack_name: str) -> str:
        return f"arn:aws:cloudformation:{REGION}:{ACCOUNT_ID}:stack/{stack_name}/{uuid.uuid4()}"

    # --- resolution ------------------------------------------------------------------

    def resolver(self, template: Template) -> Resolver:
        """A resolver for `template` over the resources held now."""
        body = template.body
        parameters = {**pseudo_parameters(template.stack_name, self.stack_id), **self._parameters(body.get("Parameters", {}))}
        return Resolver(parameters, body.get("Conditions", {}), self._ref, self._get_att, body.get("Mappings", {}))

    def _ref(self, logical_id: str) -> Any:
        if logical_id not in self.resources:
            raise TemplateError(f"Ref {logical_id}: no such resource or parameter (or it is not created yet)")
        return self.resources[logical_id].physical_id

    def _get_att(self, logical_id: str, attribute: str) -> Any:
        resource = self.resources.get(logical_id)
        if resource is None:
            raise TemplateError(f"Fn::GetAtt {logical_id}.{attribute}: no such resource (or it is not created yet)")
        key = attribute.removeprefix("Data.") if resource.custom else attribute
        if key not in resource.attributes:
            raise TemplateError(
                f"Fn::GetAtt {logical_id}.{attribute}: {resource.type} has no attribute {attribute!r} "
                f"(has: {', '.join(sorted(resource.attributes)) or 'none'})"
            )
        return resource.attributes[key]

    def _parameters(self, declared: dict[str, Any]) -> dict[str, Any]:
        """Parameter values: defaults, with SSM parameter types read from the emulator's SSM."""
        values: dict[str, Any] = {}
        for name, spec in declared.items():
            if "Default" not in spec:
                raise TemplateError(f"parameter {name} has no Default; the runner takes no parameter values")
            value = spec["Default"]
            ssm_type = SSM_PARAMETER_TYPE.match(spec.get("Type", ""))
            if ssm_type:
                value = self._ssm_parameter(value, ssm_type.group(1))
            if spec.get("Type", "").startswith("List<") or spec.get("Type") == "CommaDelimitedList":
                value = [item.strip() for item in str(value).split(",")]
            values[name] = value
        return values

    def _ssm_parameter(self, name: str, value_type: str) -> str:
        """An SSM parameter's value; plays the CDK bootstrap stack and the public AMI parameters."""
        ssm = self.aws.client("ssm")
        try:
            value = ssm.get_parameter(Name=name)["Parameter"]["Value"]
        except ssm.exceptions.ParameterNotFound:
            if name.startswith("/cdk-bootstrap/") and name.endswith("/version"):
                ssm.put_parameter(Name=name, Value=CDK_BOOTSTRAP_VERSION, Type="String")
                return CDK_BOOTSTRAP_VERSION
            raise TemplateError(f"SSM parameter {name} does not exist in the emulator") from None
        if value_type == "AWS::EC2::Image::Id" or value.startswith("ami-"):
            value = self._ensure_image(value, name)
        return value

    def _ensure_image(self, image_id: str, parameter: str) -> str:
        """The AMI if moto has it; otherwise one registered for the parameter (moto's default AMIs may be off)."""
        ec2 = self.aws.client("ec2")
        if ec2.describe_images(Filters=[{"Name": "image-id", "Values": [image_id]}])["Images"]:
            return image_id
        name = parameter.rsplit("/", 1)[-1]
        found = ec2.describe_images(Filters=[{"Name": "name", "Values": [name]}])["Images"]
        if found:
            return found[0]["ImageId"]
        architecture = "arm64" if "arm64" in name else "x86_64"
        return ec2.register_image(Name=name, Architecture=architecture)["ImageId"]

    def check_rules(self, template: Template) -> None:
        """Evaluate the template's Rules assertions, as CloudFormation does before any change."""
        resolver = self.resolver(template)
        for rule_name, rule in template.body.get("Rules", {}).items():
            if "RuleCondition" in rule and not resolver.resolve(rule["RuleCondition"]):
                continue
            for assertion in rule.get("Assertions", []):
                if not resolver.resolve(assertion["Assert"]):
                    raise TemplateError(f"rule {rule_name} failed: {assertion.get('AssertDescription', 'assertion is false')}")

    def _dynamic_references(self, value: Any) -> Any:
        """Replace `{{resolve:ssm:...}}` and `{{resolve:secretsmanager:...}}` in strings."""
        if isinstance(value, dict):
            return {k: self._dynamic_references(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._dynamic_references(v) for v in value]
        if not isinstance(value, str):
            return value

        def lookup(match: re.Match[str]) -> str:
            service, reference = match.groups()
            if service.startswith("ssm"):
                name = reference.split(":")[0]
                return str(self._ssm_parameter(name, "String"))
            secret_id, _, rest = reference.partition(":SecretString")
            secret = self.aws.client("secretsmanager").get_secret_value(SecretId=secret_id)["SecretString"]
            key = rest.lstrip(":").split(":")[0]
            return str(json.loads(secret)[key]) if key else secret

        return DYNAMIC_REFERENCE.sub(lookup, value)

    def _properties(self, resolver: Resolver, template: Template, logical_id: str) -> dict[str, Any]:
        return self._dynamic_references(resolver.resolve(template.resources[logical_id].get("Properties", {})))

    def _included(self, resolver: Resolver, template: Template) -> list[str]:
        """The template's resources in dependency order, without those whose Condition is false."""
        return [
            lid
            for lid in template.creation_order()
            if "Condition" not in template.resources[lid] or resolver.condition(template.resources[lid]["Condition"])
        ]

    # --- create ----------------------------------------------------------------------

    def create(self) -> list[Operation]:
        """Create every resource; on failure roll back and raise OperationFailed."""
        self.check_rules(self.template)
        resolver = self.resolver(self.template)
        operations: list[Operation] = []
        for logical_id in self._included(resolver, self.template):
            try:
                self._create_one(resolver, self.template, logical_id, operations)
            except (OperationFailed, TemplateError, provision.ProvisionError) as err:
                self.progress.log(f"CREATE_FAILED {logical_id}: {err}")
                self.progress.log("ROLLBACK_IN_PROGRESS: deleting what was created")
                rollback_errors = self.delete_all(operations)
                suffix = f"; the rollback also failed: {'; '.join(rollback_errors)}" if rollback_errors else ""
                raise OperationFailed(f"create failed at {logical_id}: {err}{suffix}") from err
        return operations

    def _create_one(self, resolver: Resolver, template: Template, logical_id: str, operations: list[Operation]) -> None:
        resource = template.resources[logical_id]
        properties = self._properties(resolver, template, logical_id)
        retain = resource.get("DeletionPolicy") in ("Retain", "RetainExceptOnCreate")
        if is_custom_resource(resource["Type"]):
            operation = self._send("Create", logical_id, resource["Type"], properties)
            operations.append(operation)
            outcome = operation.outcome
            assert outcome is not None
            if outcome.physical_id:
                self.resources[logical_id] = ResourceState(
                    logical_id, resource["Type"], outcome.physical_id, outcome.data, properties, retain
                )
            if outcome.status != "SUCCESS":
                raise OperationFailed(outcome.reason)
            return
        created = provision.create(provision.Request(self.aws, logical_id, properties, resource, template.asset_dir))
        self._hold(ResourceState(logical_id, resource["Type"], created.physical_id, created.attributes, properties, retain))
        self.progress.log(f"CREATE_COMPLETE {logical_id} ({resource['Type']}) {created.physical_id}")

    def _send(
        self, request_type: str, logical_id: str, resource_type: str, properties: dict[str, Any], **kwargs: Any
    ) -> Operation:
        self.progress.log(f"{request_type} {logical_id} ({resource_type}): request sent to {properties['ServiceToken']}")
        operation = self.driver.send(request_type, logical_id, resource_type, properties, on_wait=self.progress.waiting, **kwargs)
        self.progress.finished(operation)
        if operation.outcome and operation.outcome.status == "FAILED":
            self._show_function_log(properties["ServiceToken"])
        return operation

    def _show_function_log(self, service_token: str, lines: int = 15) -> None:
        for resource in self.resources.values():
            if resource.type == "AWS::Lambda::Function" and resource.attributes.get("Arn") == service_token:
                log = Path(resource.attributes["LogFile"])
                if log.is_file():
                    tail = log.read_text(errors="replace").splitlines()[-lines:]
                    self.progress.log(f"--- last lines of {log} ---\n" + "\n".join(tail) + "\n---")

    # --- delete ----------------------------------------------------------------------

    def delete_all(self, operations: list[Operation]) -> list[str]:
        """Custom resource Deletes (newest first), then tear down the rest; answers the errors.

        A failed custom resource Delete stops there, as CloudFormation's DELETE_FAILED
        does, leaving the resources it may still need.
        """
        held = list(self.resources.values())
        for resource in reversed([r for r in held if r.custom]):
            if resource.retain:
                self.progress.log(f"DELETE_SKIPPED {resource.logical_id}: DeletionPolicy Retain")
                del self.resources[resource.logical_id]
                continue
            operation = self._send(
                "Delete", resource.logical_id, resource.type, resource.properties, physical_id=resource.physical_id
            )
            operations.append(operation)
            outcome = operation.outcome
            assert outcome is not None
            if outcome.status != "SUCCESS":
                return [f"Delete {resource.logical_id} FAILED: {outcome.reason}"]
            del self.resources[resource.logical_id]
        return self._teardown([r for r in held if not r.custom])

    def _delete_provisioned(self, resource: ResourceState) -> None:
        """Deletes a resource the runner provisioned itself (not a custom resource)."""
        provision.delete(
            self.aws,
            resource.logical_id,
            resource.type,
            provision.Provisioned(resource.physical_id, resource.attributes),
            resource.properties,
        )

    def _teardown(self, resources: list[ResourceState]) -> list[str]:
        errors = []
        for resource in reversed(resources):
            if resource.retain:
                self.progress.log(f"DELETE_SKIPPED {resource.logical_id}: DeletionPolicy Retain")
            else:
                try:
                    self._delete_provisioned(resource)
                    self.progress.log(f"DELETE_COMPLETE {resource.logical_id} ({resource.type})")
                except provision.ProvisionError as err:
                    errors.append(str(err))
                    self.progress.log(f"DELETE_FAILED {err}")
                    continue
            del self.resources[resource.logical_id]
        return errors

    def delete(self) -> list[Operation]:
        """Delete the stack; raise OperationFailed if anything could not be deleted."""
        operations: list[Operation] = []
        errors = self.delete_all(operations)
        if errors:
            raise OperationFailed("delete failed: " + "; ".join(errors))
        return operations

    # --- update ----------------------------------------------------------------------

    def update(self, new: Template) -> list[Operation]:
        """Move to `new`: create added resources, Update changed custom resources, then clean up.

        AWS resources whose properties change are refused (the runner does not update
        them). A custom resource answering a new physical id was replaced: its old id
        gets a Delete in the cleanup phase, after every other change, as in CloudFormation.
        """
        self.check_rules(new)
        resolver = self.resolver(new)
        wanted = self._included(resolver, new)
        operations: list[Operation] = []
        updated: list[tuple[ResourceState, dict[str, Any]]] = []  # (previous state, new properties)
        cleanup: list[ResourceState] = []
        created: list[str] = []
        try:
            for logical_id in wanted:
                if logical_id not in self.resources:
                    self._create_one(resolver, new, logical_id, operations)
                    created.append(logical_id)
                    continue
                held = self.resources[logical_id]
                properties = self._properties(resolver, new, logical_id)
                if stringify(properties) == stringify(held.properties):
                    continue
                if held.type == "AWS::CDK::Metadata":
                    # Analytics only (which constructs the app uses): CloudFormation updates it in place, with no effect.
                    self.resources[logical_id] = ResourceState(
                        logical_id, held.type, held.physical_id, held.attributes, properties, held.retain
                    )
                    continue
                if not held.custom:
                    raise TemplateError(
                        f"{logical_id} ({held.type}): its properties changed; the runner updates custom resources only"
                    )
                operation = self._send(
                    "Update", logical_id, held.type, properties, physical_id=held.physical_id, old_properties=held.properties
                )
                operations.append(operation)
                outcome = operation.outcome
                assert outcome is not None
                if outcome.status != "SUCCESS":
                    raise OperationFailed(outcome.reason)
                updated.append((held, properties))
                self.resources[logical_id] = ResourceState(
                    logical_id, held.type, outcome.physical_id or held.physical_id, outcome.data, properties, held.retain
                )
                if outcome.physical_id and outcome.physical_id != held.physical_id:
                    self.progress.log(f"{logical_id} was replaced: {held.physical_id} -> {outcome.physical_id}")
                    cleanup.append(held)
        except (OperationFailed, TemplateError, provision.ProvisionError) as err:
            self.progress.log(f"UPDATE_FAILED: {err}")
            self.progress.log("UPDATE_ROLLBACK_IN_PROGRESS")
            self._roll_back_update(updated, created, operations)
            raise OperationFailed(f"update failed: {err}") from err
        removed = [self.resources[lid] for lid in self.resources if lid not in wanted]
        self.progress.log("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS")
        errors = self._cleanup(cleanup + removed, operations)
        self.template = new
        if errors:
            raise OperationFailed("update cleanup failed: " + "; ".join(errors))
        return operations

    def _cleanup(self, resources: list[ResourceState], operations: list[Operation]) -> list[str]:
        """Delete replaced custom resources' old ids and the resources the new template dropped."""
        errors = []
        for resource in reversed(resources):
            if resource.retain:
                continue
            if resource.custom:
                operation = self._send(
                    "Delete", resource.logical_id, resource.type, resource.properties, physical_id=resource.physical_id
                )
                operations.append(operation)
                if operation.outcome and operation.outcome.status != "SUCCESS":
                    errors.append(f"Delete {resource.logical_id} ({resource.physical_id}) FAILED: {operation.outcome.reason}")
            else:
                try:
                    self._delete_provisioned(resource)
                except provision.ProvisionError as err:
                    errors.append(str(err))
            if self.resources.get(resource.logical_id) is resource:
                del self.resources[resource.logical_id]
        return errors

    def _roll_back_update(
        self, updated: list[tuple[ResourceState, dict[str, Any]]], created: list[str], operations: list[Operation]
    ) -> None:
        """Send the updated custom resources back to their old properties; delete what the update created."""
        for previous, new_properties in reversed(updated):
            current = self.resources[previous.logical_id]
            operation = self._send(
                "Update",
                previous.logical_id,
                previous.type,
                previous.properties,
                physical_id=current.physical_id,
                old_properties=new_properties,
            )
            operations.append(operation)
            self.resources[previous.logical_id] = previous
        for logical_id in reversed(created):
            resource = self.resources.get(logical_id)
            if resource is not None:
                self._cleanup([resource], operations)

    # --- persistence -----------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        return {
            "template": str(self.template.path),
            "stack_id": self.stack_id,
            "endpoint": self.aws.endpoint,
            "resources": [asdict(r) for r in self.resources.values()],
        }

    def restore(self, state: dict[str, Any]) -> None:
        """Take the resources recorded by `to_json`."""
        for recorded in state["resources"]:
            self._hold(ResourceState(**recorded))

    def _hold(self, resource: ResourceState) -> None:
        """Record a provisioned resource; follow the executions of state machines."""
        self.resources[resource.logical_id] = resource
        if resource.type == "AWS::StepFunctions::StateMachine":
            self.progress.tracker.track(resource.physical_id, provision.state_machine_definition(resource.properties))


def with_property(template: Template, assignment: str) -> Template:
    """A copy of `template` with `LogicalId.Prop[.Sub]=value` set (the value parsed as JSON if it is JSON)."""
    target, sep, raw = assignment.partition("=")
    path = target.split(".")
    if not sep or len(path) < 2:
        raise TemplateError(f"--set takes LogicalId.Property=value, got {assignment!r}")
    body = copy.deepcopy(template.body)
    resource = body["Resources"].get(path[0])
    if resource is None:
        raise TemplateError(f"--set {assignment}: no resource {path[0]} in the template")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    node = resource.setdefault("Properties", {})
    for key in path[1:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = value
    return Template(template.path, body)
