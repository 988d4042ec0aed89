"""The stack: create, update and delete its resources the way CloudFormation does.

Resources are handled in dependency order. AWS resources are provisioned in the
emulator (provision.py); custom resources get Create/Update/Delete requests
(custom.py). While a custom resource's Create is pending, the resources that do not
depend on it are created, as CloudFormation creates them in parallel; if one of them
fails, the pending Create is cancelled and gets a Delete carrying a physical id
CloudFormation generated. A failed create is rolled back: Delete requests to the custom
resources created so far (the failed and the cancelled ones included), newest first,
then the AWS resources are torn down. A failed update sends the updated custom
resources, and the one that failed, an Update back to their old properties (old and
new swapped), then deletes what the update created. DeletionPolicy (Retain,
RetainExceptOnCreate) and UpdateReplacePolicy are applied as CloudFormation applies
them. `Stack.status` is the stack status CloudFormation would report.
"""

import copy
import json
import re
import uuid
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from . import provision
from .aws import Aws
from .custom import CANCELLED, CustomResourceDriver, Operation, Pending, stringify
from .intrinsics import ACCOUNT_ID, REGION, Resolver, TemplateError, pseudo_parameters
from .progress import Progress
from .template import Template, is_custom_resource

# The CDK bootstrap stack publishes its version here; the template's rule checks it.
CDK_BOOTSTRAP_VERSION = "21"
SSM_PARAMETER_TYPE = re.compile(r"^AWS::SSM::Parameter::Value<(.+)>$")
DYNAMIC_REFERENCE = re.compile(r"\{\{resolve:(ssm|ssm-secure|secretsmanager):([^}]+)\}\}")


class OperationFailed(RuntimeError):
    """A lifecycle step failed; the message says which resource and why."""

    def __init__(self, message: str, logical_id: str | None = None):
        super().__init__(message)
        self.logical_id = logical_id


@dataclass
class ResourceState:
    """A resource the stack holds: what Ref and Fn::GetAtt read, and how to delete it."""

    logical_id: str
    type: str
    physical_id: str
    attributes: dict[str, Any] = field(default_factory=dict)
    properties: dict[str, Any] = field(default_factory=dict)
    deletion_policy: str = "Delete"
    update_replace_policy: str = "Delete"

    @property
    def custom(self) -> bool:
        return is_custom_resource(self.type)

    def kept_on_delete(self, rolling_back: bool) -> bool:
        """Whether deleting the resource leaves it in place.

        `rolling_back`: the resource was created by the operation being rolled back,
        which deletes it under RetainExceptOnCreate and keeps it only under Retain.
        """
        if rolling_back:
            return self.deletion_policy == "Retain"
        return self.deletion_policy in RETAINING_POLICIES

    def with_policies(self, resource: dict[str, Any]) -> "ResourceState":
        """The same resource under the policies a template gives it."""
        self.deletion_policy, self.update_replace_policy = policies(resource)
        return self


# DeletionPolicy values that keep the resource when its stack is deleted (Snapshot deletes:
# no type the runner provisions takes a snapshot).
RETAINING_POLICIES = ("Retain", "RetainExceptOnCreate")


def policies(resource: dict[str, Any]) -> tuple[str, str]:
    """A template resource's DeletionPolicy and UpdateReplacePolicy (both default to Delete)."""
    return resource.get("DeletionPolicy", "Delete"), resource.get("UpdateReplacePolicy", "Delete")


@dataclass
class Creating:
    """A custom resource whose Create was sent and not answered yet."""

    state: ResourceState
    pending: Pending


class Stack:
    """One emulated CloudFormation stack."""

    def __init__(self, template: Template, aws: Aws, driver: CustomResourceDriver, progress: Progress, stack_id: str):
        self.template = template
        self.aws = aws
        self.driver = driver
        self.progress = progress
        self.stack_id = stack_id
        self.resources: dict[str, ResourceState] = {}
        # The stack status CloudFormation would report after the last operation.
        self.status = "REVIEW_IN_PROGRESS"

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
        """Create every resource; on failure roll back and raise OperationFailed.

        A custom resource's Create is waited for only when a resource that depends on it
        comes next, or at the end: the others are created meanwhile, as CloudFormation does.
        """
        self.check_rules(self.template)
        resolver = self.resolver(self.template)
        operations: list[Operation] = []
        creating: dict[str, Creating] = {}
        self.status = "CREATE_IN_PROGRESS"
        current = ""
        try:
            for logical_id in self._included(resolver, self.template):
                for dependency in [d for d in creating if d in self.template.dependencies(logical_id)]:
                    self._finish_create(creating.pop(dependency), operations)
                current = logical_id
                self._create_one(resolver, self.template, logical_id, operations, creating)
            while creating:
                self._finish_create(creating.pop(next(iter(creating))), operations)
        except (OperationFailed, TemplateError, provision.ProvisionError) as err:
            failed_at = (err.logical_id if isinstance(err, OperationFailed) else None) or current
            self.progress.log(f"CREATE_FAILED {failed_at}: {err}")
            for cancelled in creating.values():
                self._cancel_create(cancelled, operations)
            self.status = "ROLLBACK_IN_PROGRESS"
            self.progress.log("ROLLBACK_IN_PROGRESS: deleting what was created")
            rollback_errors = self.delete_all(operations, rolling_back=True)
            self.status = "ROLLBACK_FAILED" if rollback_errors else "ROLLBACK_COMPLETE"
            self.progress.log(self.status)
            suffix = f"; the rollback also failed: {'; '.join(rollback_errors)}" if rollback_errors else ""
            raise OperationFailed(f"create failed at {failed_at}: {err}{suffix} ({self.status})") from err
        self.status = "CREATE_COMPLETE"
        return operations

    def _create_one(
        self,
        resolver: Resolver,
        template: Template,
        logical_id: str,
        operations: list[Operation],
        creating: dict[str, Creating] | None = None,
    ) -> None:
        """Create one resource. A custom resource's Create is left pending in `creating` when given."""
        resource = template.resources[logical_id]
        properties = self._properties(resolver, template, logical_id)
        if is_custom_resource(resource["Type"]):
            state = ResourceState(logical_id, resource["Type"], "", {}, properties).with_policies(resource)
            started = Creating(state, self._start("Create", logical_id, resource["Type"], properties))
            if creating is None:
                self._finish_create(started, operations)
            else:
                creating[logical_id] = started
            return
        created = provision.create(provision.Request(self.aws, logical_id, properties, resource, template.asset_dir))
        state = ResourceState(logical_id, resource["Type"], created.physical_id, created.attributes, properties)
        self._hold(state.with_policies(resource))
        self.progress.log(f"CREATE_COMPLETE {logical_id} ({resource['Type']}) {created.physical_id}")

    def _finish_create(self, creating: Creating, operations: list[Operation]) -> None:
        """Wait for a custom resource's Create; the stack holds it from then on, failed or not."""
        state = creating.state
        operation = self._wait(creating.pending, state.properties)
        operations.append(operation)
        outcome = operation.outcome
        assert outcome is not None
        # Without a valid physical id in the response, CloudFormation makes one up: the
        # rollback's Delete carries it.
        state.physical_id = outcome.physical_id or self.aws.physical_name(state.logical_id)
        if outcome.status == "SUCCESS":
            state.attributes = outcome.data
        self.resources[state.logical_id] = state
        if outcome.status != "SUCCESS":
            raise OperationFailed(outcome.reason, state.logical_id)

    def _cancel_create(self, creating: Creating, operations: list[Operation]) -> None:
        """Stop waiting for a Create; the resource gets a generated physical id for its Delete."""
        state = creating.state
        operation = self.driver.cancel(creating.pending)
        self.progress.finished(operation)
        operations.append(operation)
        state.physical_id = self.aws.physical_name(state.logical_id)
        self.resources[state.logical_id] = state
        self.progress.log(f"CREATE_FAILED {state.logical_id}: {CANCELLED}")

    def _start(
        self, request_type: str, logical_id: str, resource_type: str, properties: dict[str, Any], **kwargs: Any
    ) -> Pending:
        self.progress.log(f"{request_type} {logical_id} ({resource_type}): request sent to {properties['ServiceToken']}")
        return self.driver.start(request_type, logical_id, resource_type, properties, **kwargs)

    def _wait(self, pending: Pending, properties: dict[str, Any]) -> Operation:
        operation = self.driver.wait(pending, on_wait=self.progress.waiting)
        self.progress.finished(operation)
        if operation.outcome and operation.outcome.status == "FAILED":
            self._show_function_log(properties["ServiceToken"])
        return operation

    def _send(
        self, request_type: str, logical_id: str, resource_type: str, properties: dict[str, Any], **kwargs: Any
    ) -> Operation:
        return self._wait(self._start(request_type, logical_id, resource_type, properties, **kwargs), properties)

    def _show_function_log(self, service_token: str, lines: int = 15) -> None:
        for resource in self.resources.values():
            if resource.type == "AWS::Lambda::Function" and resource.attributes.get("Arn") == service_token:
                log = Path(resource.attributes["LogFile"])
                if log.is_file():
                    tail = log.read_text(errors="replace").splitlines()[-lines:]
                    self.progress.log(f"--- last lines of {log} ---\n" + "\n".join(tail) + "\n---")

    # --- delete ----------------------------------------------------------------------

    def delete_all(self, operations: list[Operation], rolling_back: bool = False) -> list[str]:
        """Custom resource Deletes (newest first), then tear down the rest; answers the errors.

        A failed custom resource Delete stops there, as CloudFormation's DELETE_FAILED
        does, leaving the resources it may still need. `rolling_back`: the resources were
        created by the operation being rolled back (see `ResourceState.kept_on_delete`).
        """
        held = list(self.resources.values())
        for resource in reversed([r for r in held if r.custom]):
            if resource.kept_on_delete(rolling_back):
                self._skip(resource)
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
        return self._teardown([r for r in held if not r.custom], rolling_back)

    def _skip(self, resource: ResourceState) -> None:
        self.progress.log(f"DELETE_SKIPPED {resource.logical_id}: DeletionPolicy {resource.deletion_policy}")
        if self.resources.get(resource.logical_id) is resource:
            del self.resources[resource.logical_id]

    def _delete_provisioned(self, resource: ResourceState) -> None:
        """Deletes a resource the runner provisioned itself (not a custom resource)."""
        provision.delete(
            self.aws,
            resource.logical_id,
            resource.type,
            provision.Provisioned(resource.physical_id, resource.attributes),
            resource.properties,
        )

    def _teardown(self, resources: list[ResourceState], rolling_back: bool) -> list[str]:
        errors = []
        for resource in reversed(resources):
            if resource.kept_on_delete(rolling_back):
                self._skip(resource)
                continue
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
        self.status = "DELETE_IN_PROGRESS"
        errors = self.delete_all(operations)
        self.status = "DELETE_FAILED" if errors else "DELETE_COMPLETE"
        if errors:
            raise OperationFailed("delete failed: " + "; ".join(errors))
        return operations

    # --- update ----------------------------------------------------------------------

    def update(self, new: Template) -> list[Operation]:
        """Move to `new`: create added resources, update changed ones, then clean up.

        An AWS resource whose properties change is updated in place or replaced, as
        CloudFormation does for that change (`provision.update`); a change the runner
        cannot make is refused. A custom resource answering a new physical id was replaced: its old id
        gets a Delete in the cleanup phase, after every other change, unless its
        UpdateReplacePolicy is Retain, as in CloudFormation. A failure rolls back
        (`_roll_back_update`) and raises OperationFailed.
        """
        self.check_rules(new)
        resolver = self.resolver(new)
        wanted = self._included(resolver, new)
        operations: list[Operation] = []
        updated: list[tuple[ResourceState, dict[str, Any]]] = []  # (previous state, new properties)
        provisioned: list[ResourceState] = []  # AWS resources updated or replaced, as they were
        failed: tuple[ResourceState, dict[str, Any]] | None = None
        cleanup: list[ResourceState] = []
        created: list[str] = []
        self.status = "UPDATE_IN_PROGRESS"
        try:
            for logical_id in wanted:
                if logical_id not in self.resources:
                    created.append(logical_id)
                    self._create_one(resolver, new, logical_id, operations)
                    continue
                held = self.resources[logical_id].with_policies(new.resources[logical_id])
                properties = self._properties(resolver, new, logical_id)
                if stringify(properties) == stringify(held.properties):
                    continue
                if held.type == "AWS::CDK::Metadata":
                    # Analytics only (which constructs the app uses): CloudFormation updates it in place, with no effect.
                    self.resources[logical_id] = replace(held, properties=properties)
                    continue
                if not held.custom:
                    self._update_provisioned(new, held, properties, cleanup)
                    provisioned.append(held)
                    continue
                operation = self._send(
                    "Update", logical_id, held.type, properties, physical_id=held.physical_id, old_properties=held.properties
                )
                operations.append(operation)
                outcome = operation.outcome
                assert outcome is not None
                if outcome.status != "SUCCESS":
                    failed = (held, properties)
                    raise OperationFailed(outcome.reason, logical_id)
                updated.append((held, properties))
                self.resources[logical_id] = ResourceState(
                    logical_id,
                    held.type,
                    outcome.physical_id or held.physical_id,
                    outcome.data,
                    properties,
                    held.deletion_policy,
                    held.update_replace_policy,
                )
                if outcome.physical_id and outcome.physical_id != held.physical_id:
                    self.progress.log(f"{logical_id} was replaced: {held.physical_id} -> {outcome.physical_id}")
                    cleanup.append(held)
        except (OperationFailed, TemplateError, provision.ProvisionError) as err:
            self.progress.log(f"UPDATE_FAILED: {err}")
            self.status = "UPDATE_ROLLBACK_IN_PROGRESS"
            self.progress.log(self.status)
            errors = self._roll_back_update(updated, failed, created, operations, provisioned)
            self.status = "UPDATE_ROLLBACK_FAILED" if errors else "UPDATE_ROLLBACK_COMPLETE"
            self.progress.log(self.status)
            suffix = f"; the rollback also failed: {'; '.join(errors)}" if errors else ""
            raise OperationFailed(f"update failed: {err}{suffix} ({self.status})") from err
        removed = [self.resources[lid] for lid in self.resources if lid not in wanted]
        self.status = "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"
        self.progress.log(self.status)
        errors = self._cleanup(cleanup, removed, operations)
        self.template = new
        # Cleanup failures do not fail the update in CloudFormation; the runner reports them.
        self.status = "UPDATE_COMPLETE"
        if errors:
            raise OperationFailed("update cleanup failed: " + "; ".join(errors))
        return operations

    def _update_provisioned(
        self, new: Template, held: ResourceState, properties: dict[str, Any], cleanup: list[ResourceState]
    ) -> None:
        """Update an AWS resource in place, or replace it: the old one goes in the cleanup phase."""
        resource = new.resources[held.logical_id]
        request = provision.Request(self.aws, held.logical_id, properties, resource, new.asset_dir)
        current = provision.Provisioned(held.physical_id, held.attributes)
        done = provision.update(request, current, held.properties)
        if done is None:
            done = provision.create(request)
            cleanup.append(held)
            self.progress.log(f"{held.logical_id} ({held.type}) was replaced: {held.physical_id} -> {done.physical_id}")
        state = ResourceState(held.logical_id, held.type, done.physical_id, done.attributes, properties)
        self._hold(state.with_policies(resource))
        self.progress.log(f"UPDATE_COMPLETE {held.logical_id} ({held.type}) {done.physical_id}")

    def _cleanup(
        self, replaced: list[ResourceState], removed: list[ResourceState], operations: list[Operation], rolling_back: bool = False
    ) -> list[str]:
        """Delete replaced custom resources' old ids (UpdateReplacePolicy) and the resources dropped (DeletionPolicy)."""
        errors = []
        for resource, is_replaced in reversed([(r, True) for r in replaced] + [(r, False) for r in removed]):
            if is_replaced and resource.update_replace_policy == "Retain":
                self.progress.log(f"DELETE_SKIPPED {resource.logical_id} {resource.physical_id}: UpdateReplacePolicy Retain")
                continue
            if not is_replaced and resource.kept_on_delete(rolling_back):
                self._skip(resource)
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
        self,
        updated: list[tuple[ResourceState, dict[str, Any]]],
        failed: tuple[ResourceState, dict[str, Any]] | None,
        created: list[str],
        operations: list[Operation],
        provisioned: list[ResourceState] | None = None,
    ) -> list[str]:
        """Roll the stack back to its old template; answers the errors (UPDATE_ROLLBACK_FAILED).

        AWS resources the update changed go back after the custom resources: a replaced
        one to its old physical id (the new one deleted with what the update created),
        one updated in place by an update to its old properties.

        The updated custom resources and the one whose Update failed get an Update back
        to their old properties (the attempted ones as OldResourceProperties), newest
        first; a replaced one goes back to its old physical id, and its new one is deleted
        with what the update created. A failed rollback Update stops there, as in
        CloudFormation.
        """
        replacements: list[ResourceState] = []
        for previous, attempted in reversed(updated + ([failed] if failed else [])):
            current = self.resources[previous.logical_id]
            if current.physical_id != previous.physical_id:
                replacements.append(current)
                self.resources[previous.logical_id] = previous
                continue
            operation = self._send(
                "Update",
                previous.logical_id,
                previous.type,
                previous.properties,
                physical_id=previous.physical_id,
                old_properties=attempted,
            )
            operations.append(operation)
            outcome = operation.outcome
            assert outcome is not None
            if outcome.status != "SUCCESS":
                return [f"rollback Update {previous.logical_id} FAILED: {outcome.reason}"]
            previous.attributes = outcome.data
            self.resources[previous.logical_id] = previous
        for previous in reversed(provisioned or []):
            current = self.resources[previous.logical_id]
            if current.physical_id != previous.physical_id:
                replacements.append(current)
            else:
                resource = self.template.resources[previous.logical_id]
                request = provision.Request(self.aws, previous.logical_id, previous.properties, resource, self.template.asset_dir)
                try:
                    provision.update(request, provision.Provisioned(current.physical_id, current.attributes), current.properties)
                except (provision.ProvisionError, TemplateError) as err:
                    return [f"rollback of {previous.logical_id} FAILED: {err}"]
            self._hold(previous)
        self.progress.log("UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS")
        new_ones = [self.resources[lid] for lid in created if lid in self.resources]
        return self._cleanup([], replacements + new_ones, operations, rolling_back=True)

    # --- persistence -----------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        return {
            "template": str(self.template.path),
            "stack_id": self.stack_id,
            "endpoint": self.aws.endpoint,
            "status": self.status,
            "resources": [asdict(r) for r in self.resources.values()],
        }

    def restore(self, state: dict[str, Any]) -> None:
        """Take the resources recorded by `to_json`."""
        self.status = state.get("status", self.status)
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
