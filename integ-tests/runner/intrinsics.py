"""CloudFormation intrinsic functions, conditions and pseudo parameters.

`Resolver.resolve(value)` evaluates Ref, Fn::GetAtt, Fn::Join, Fn::Sub, Fn::Select,
Fn::Split, Fn::GetAZs, Fn::If (with Conditions), Fn::Equals/And/Or/Not, Fn::Contains,
Fn::FindInMap, Fn::Base64 and the pseudo parameters, against the parameter values and
the physical ids and attributes of the resources provisioned so far.
`references(value)` lists the logical ids a value depends on, for ordering.
"""

import base64
import re
from collections.abc import Callable
from typing import Any

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"  # moto's default account
ZONES = ["us-east-1a", "us-east-1b", "us-east-1c", "us-east-1d", "us-east-1e", "us-east-1f"]

# Fn::If branch value that removes the property, as in CloudFormation.
NO_VALUE = object()


class TemplateError(ValueError):
    """The template uses something the runner cannot evaluate."""


def pseudo_parameters(stack_name: str, stack_id: str) -> dict[str, Any]:
    """The AWS:: pseudo parameters of the emulated stack."""
    return {
        "AWS::Region": REGION,
        "AWS::AccountId": ACCOUNT_ID,
        "AWS::Partition": "aws",
        "AWS::URLSuffix": "amazonaws.com",
        "AWS::StackName": stack_name,
        "AWS::StackId": stack_id,
        "AWS::NotificationARNs": [],
        "AWS::NoValue": NO_VALUE,
    }


_SUB_VARIABLE = re.compile(r"\$\{([^!}][^}]*)\}")


def _sub_references(text: str) -> list[str]:
    """The names a Fn::Sub string refers to (`${Name}`, `${Name.Attr}`; `${!x}` is literal)."""
    return [match.group(1).strip() for match in _SUB_VARIABLE.finditer(text)]


def references(value: Any) -> set[str]:
    """Every logical id or parameter name `value` refers to through Ref, GetAtt or Sub."""
    found: set[str] = set()
    if isinstance(value, list):
        for item in value:
            found |= references(item)
    elif isinstance(value, dict):
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref" and isinstance(arg, str):
                return {arg}
            if key == "Fn::GetAtt":
                target = arg[0] if isinstance(arg, list) else str(arg).split(".", 1)[0]
                return {target} | references(arg[1:] if isinstance(arg, list) else [])
            if key == "Fn::Sub":
                text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
                names = {name.split(".", 1)[0] for name in _sub_references(text) if name not in variables}
                return names | references(variables)
        for item in value.values():
            found |= references(item)
    return found


class Resolver:
    """Evaluates intrinsics against parameters, conditions and provisioned resources.

    `ref(logical_id)` and `get_att(logical_id, attribute)` are supplied by the caller
    (the stack), so that the resolver knows nothing of how resources are provisioned.
    """

    def __init__(
        self,
        parameters: dict[str, Any],
        conditions: dict[str, Any],
        ref: Callable[[str], Any],
        get_att: Callable[[str, str], Any],
        mappings: dict[str, Any] | None = None,
    ):
        self.parameters = parameters
        self.condition_definitions = conditions
        self.mappings = mappings or {}
        self._ref = ref
        self._get_att = get_att
        self._conditions: dict[str, bool] = {}

    def condition(self, name: str) -> bool:
        """The value of a named condition (evaluated once)."""
        if name not in self._conditions:
            if name not in self.condition_definitions:
                raise TemplateError(f"condition {name!r} is not defined in Conditions")
            self._conditions[name] = self._truth(self.condition_definitions[name])
        return self._conditions[name]

    def _truth(self, value: Any) -> bool:
        if isinstance(value, dict) and set(value) == {"Condition"}:
            return self.condition(value["Condition"])
        result = self.resolve(value)
        if isinstance(result, str) and result.lower() in ("true", "false"):
            return result.lower() == "true"
        if not isinstance(result, bool):
            raise TemplateError(f"a condition must evaluate to true or false, got {result!r}")
        return result

    def resolve(self, value: Any) -> Any:
        """Evaluate every intrinsic in `value`; Fn::If branches with AWS::NoValue are dropped."""
        if isinstance(value, list):
            items = [self.resolve(item) for item in value]
            return [item for item in items if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            function = self._FUNCTIONS.get(key)
            if function is not None:
                return function(self, arg)
            if key.startswith("Fn::"):
                raise TemplateError(f"intrinsic function {key} is not supported by the runner")
        resolved = {key: self.resolve(item) for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item is not NO_VALUE}

    def _fn_ref(self, name: str) -> Any:
        if name in self.parameters:
            return self.parameters[name]
        return self._ref(name)

    def _fn_get_att(self, arg: Any) -> Any:
        if isinstance(arg, str):
            arg = arg.split(".", 1)
        logical_id, attribute = arg[0], self.resolve(arg[1])
        return self._get_att(logical_id, attribute)

    def _fn_join(self, arg: list[Any]) -> str:
        delimiter, items = arg
        return str(delimiter).join(_text(item) for item in self.resolve(items))

    def _fn_sub(self, arg: Any) -> str:
        text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))

        def replace(match: re.Match[str]) -> str:
            name = match.group(1).strip()
            if name in variables:
                return _text(variables[name])
            if "." in name and not name.startswith("AWS::"):
                logical_id, attribute = name.split(".", 1)
                return _text(self._get_att(logical_id, attribute))
            return _text(self._fn_ref(name))

        substituted = _SUB_VARIABLE.sub(replace, text)
        return substituted.replace("${!", "${")

    def _fn_select(self, arg: list[Any]) -> Any:
        index, items = self.resolve(arg[0]), self.resolve(arg[1])
        try:
            return items[int(index)]
        except (IndexError, ValueError, TypeError) as err:
            raise TemplateError(f"Fn::Select index {index!r} is out of range for {items!r}") from err

    def _fn_split(self, arg: list[Any]) -> list[str]:
        delimiter, text = arg[0], self.resolve(arg[1])
        return str(text).split(delimiter)

    def _fn_get_azs(self, arg: Any) -> list[str]:
        region = self.resolve(arg) or REGION
        if region != REGION:
            raise TemplateError(f"Fn::GetAZs: the emulator has region {REGION} only, not {region}")
        return list(ZONES)

    def _fn_if(self, arg: list[Any]) -> Any:
        name, if_true, if_false = arg
        return self.resolve(if_true if self.condition(name) else if_false)

    def _fn_equals(self, arg: list[Any]) -> bool:
        left, right = (self.resolve(item) for item in arg)
        return left == right

    def _fn_and(self, arg: list[Any]) -> bool:
        return all(self._truth(item) for item in arg)

    def _fn_or(self, arg: list[Any]) -> bool:
        return any(self._truth(item) for item in arg)

    def _fn_not(self, arg: list[Any]) -> bool:
        return not self._truth(arg[0])

    def _fn_contains(self, arg: list[Any]) -> bool:
        items, item = self.resolve(arg[0]), self.resolve(arg[1])
        return item in items

    def _fn_find_in_map(self, arg: list[Any]) -> Any:
        name, top, second = (self.resolve(item) for item in arg[:3])
        try:
            return self.mappings[name][top][second]
        except KeyError as err:
            raise TemplateError(f"Fn::FindInMap: no {name}/{top}/{second} in Mappings") from err

    def _fn_base64(self, arg: Any) -> str:
        return base64.b64encode(_text(self.resolve(arg)).encode()).decode()

    _FUNCTIONS: dict[str, Callable[["Resolver", Any], Any]] = {
        "Ref": _fn_ref,
        "Fn::GetAtt": _fn_get_att,
        "Fn::Join": _fn_join,
        "Fn::Sub": _fn_sub,
        "Fn::Select": _fn_select,
        "Fn::Split": _fn_split,
        "Fn::GetAZs": _fn_get_azs,
        "Fn::If": _fn_if,
        "Fn::Equals": _fn_equals,
        "Fn::And": _fn_and,
        "Fn::Or": _fn_or,
        "Fn::Not": _fn_not,
        "Fn::Contains": _fn_contains,
        "Fn::FindInMap": _fn_find_in_map,
        "Fn::Base64": _fn_base64,
    }


def _text(value: Any) -> str:
    """A resolved scalar as CloudFormation puts it into a string."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        raise TemplateError(f"expected a string, got {value!r}")
    return str(value)
