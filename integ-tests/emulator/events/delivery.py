"""The "Step Functions Execution Status Change" events AWS sends to the default event bus.

moto's Step Functions emits no events and moto's EventBridge invokes no Lambda target
for them. Here every execution that ends (SUCCEEDED, FAILED, TIMED_OUT or ABORTED) makes
one event in AWS's shape; each ENABLED rule of the default bus whose pattern matches it
invokes its Lambda targets asynchronously, as EventBridge does, provided the function's
resource policy lets `events.amazonaws.com` invoke it for that rule (otherwise AWS drops
the invocation, and so does the emulator, logging why).
"""

import fnmatch
import json
import logging
import threading
import uuid
from datetime import UTC, datetime
from typing import Any

from moto.awslambda.models import lambda_backends
from moto.events.models import events_backends

LOG = logging.getLogger(__name__)

DETAIL_TYPE = "Step Functions Execution Status Change"
PRINCIPAL = "events.amazonaws.com"

delivered: list[dict[str, Any]] = []  # (rule, target, event) of each invocation, for tests and state()


def _millis(moment: Any) -> int | None:
    return int(moment.timestamp() * 1000) if isinstance(moment, datetime) else None


def status_change_event(execution: Any) -> dict[str, Any]:
    """The event AWS sends when `execution` (moto's parser Execution) changes status."""
    status = getattr(execution.exec_status, "value", str(execution.exec_status))
    output = execution.output
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": DETAIL_TYPE,
        "source": "aws.states",
        "account": execution.account_id,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": execution.region_name,
        "resources": [execution.exec_arn],
        "detail": {
            "executionArn": execution.exec_arn,
            "stateMachineArn": execution.state_machine_arn,
            "name": execution.name,
            "status": status,
            "startDate": _millis(execution.start_date),
            "stopDate": _millis(execution.stop_date),
            "input": execution.execution_input,
            "output": json.dumps(output) if output is not None and not isinstance(output, str) else output,
            "inputDetails": {"included": True},
            "outputDetails": {"included": True} if output is not None else None,
            "error": execution.error,
            "cause": execution.cause,
        },
    }


def execution_ended(execution: Any) -> None:
    """Send the status change event of an execution that ended, in the background."""
    event = status_change_event(execution)
    threading.Thread(target=deliver, args=(event,), name="events-delivery", daemon=True).start()


def deliver(event: dict[str, Any]) -> int:
    """Invoke the Lambda targets of the default bus's rules that match `event`; answers how many."""
    backend = events_backends[event["account"]][event["region"]]
    bus = backend.event_buses.get("default")
    count = 0
    for rule in list(bus.rules.values()) if bus else []:
        if rule.state != "ENABLED" or not rule.event_pattern.matches_event(event):  # type: ignore[arg-type]
            continue
        for target in list(rule.targets):
            arn = target.get("Arn", "")
            if ":lambda:" not in arn:
                continue
            if _invoke(event, rule.arn, arn):
                count += 1
                delivered.append({"Rule": rule.arn, "Target": arn, "Event": event})
    return count


def _invoke(event: dict[str, Any], rule_arn: str, function_arn: str) -> bool:
    account, region = function_arn.split(":")[4], function_arn.split(":")[3]
    lambdas = lambda_backends[account][region]
    try:
        function = lambdas.get_function(function_arn)
    except Exception:  # noqa: BLE001 - the target function is gone: AWS drops the event
        LOG.warning("rule %s: target %s does not exist", rule_arn, function_arn)
        return False
    if not allows(function.policy.statements, rule_arn):
        LOG.warning("rule %s: %s's resource policy does not let %s invoke it", rule_arn, function_arn, PRINCIPAL)
        return False
    lambdas.invoke(
        function_name=function_arn,
        qualifier=None,
        body=json.dumps(event),
        headers={"x-amz-invocation-type": "Event"},
        response_headers={},
    )
    return True


def allows(statements: list[dict[str, Any]], rule_arn: str) -> bool:
    """Whether a Lambda resource policy lets EventBridge invoke the function for this rule."""
    for statement in statements:
        principal = statement.get("Principal")
        service = principal.get("Service") if isinstance(principal, dict) else principal
        actions = statement.get("Action")
        actions = [actions] if isinstance(actions, str) else actions or []
        if statement.get("Effect") != "Allow" or service not in (PRINCIPAL, "*"):
            continue
        if not any(a in ("lambda:InvokeFunction", "lambda:*", "*") for a in actions):
            continue
        sources = [
            value
            for operator, condition in (statement.get("Condition") or {}).items()
            if operator in ("ArnLike", "ArnEquals", "StringEquals", "StringLike")
            for key, value in condition.items()
            if key.lower() == "aws:sourcearn"
        ]
        if all(fnmatch.fnmatchcase(rule_arn, pattern) for pattern in sources):
            return True
    return False


def reset() -> None:
    """Forget what was delivered."""
    delivered.clear()
