"""Lambda service errors in Step Functions under the names AWS gives them.

When Step Functions cannot invoke a function (the call to Lambda itself fails, as
opposed to the function raising), AWS names the error after the exception class of
its Java SDK: `Lambda.<Code>` for an error Lambda's Invoke models (TooManyRequestsException,
ServiceException, ResourceNotFoundException, ...), and `Lambda.AWSLambdaException` for
any other, such as an AccessDeniedException while the state machine role's policy
propagates. The cause is the message followed by the SDK's request details. moto names
every such error `Exception` for a Lambda ARN resource and `Lambda.<Code>` for the
`lambda:invoke` integration; a workflow's Retry on AWS's names would then never match.
"""

from typing import Any

import botocore.session
from botocore.exceptions import ClientError
from moto.stepfunctions.parser.api import HistoryEventType, LambdaFunctionFailedEventDetails
from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import CustomErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import FailureEvent
from moto.stepfunctions.parser.asl.component.state.exec.state_task import state_task_lambda
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import state_task_service_lambda
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

# The errors Lambda's Invoke declares: those keep their own name.
MODELLED = frozenset(
    shape.name for shape in botocore.session.get_session().get_service_model("lambda").operation_model("Invoke").error_shapes
)


def error_and_cause(err: ClientError) -> tuple[str, str]:
    """The error name and cause Step Functions reports for a failed call to Lambda."""
    code = err.response.get("Error", {}).get("Code", "")
    message = err.response.get("Error", {}).get("Message", "")
    metadata = err.response.get("ResponseMetadata", {})
    details = "; ".join(
        [
            "Service: AWSLambda",
            f"Status Code: {metadata.get('HTTPStatusCode', 0)}",
            f"Error Code: {code}",
            f"Request ID: {metadata.get('RequestId', '')}",
            "Proxy: null",
        ]
    )
    name = f"Lambda.{code}" if code in MODELLED else "Lambda.AWSLambdaException"
    return name, f"{message} ({details})"


_moto_lambda_from_error = state_task_lambda.StateTaskLambda._from_error


def _lambda_from_error(self: Any, env: Any, ex: Exception) -> FailureEvent:
    if not isinstance(ex, ClientError):
        return _moto_lambda_from_error(self, env, ex)
    error, cause = error_and_cause(ex)
    # moto's EventDetails declares every key required; its own code builds it with one.
    details = EventDetails(lambdaFunctionFailedEventDetails=LambdaFunctionFailedEventDetails(error=error, cause=cause))  # type: ignore[typeddict-item]
    return FailureEvent(
        env=env,
        error_name=CustomErrorName(error),
        event_type=HistoryEventType.LambdaFunctionFailed,
        event_details=details,
    )


def install() -> None:
    state_task_lambda.StateTaskLambda._from_error = _lambda_from_error  # type: ignore[method-assign]
    state_task_service_lambda.StateTaskServiceLambda._error_cause_from_client_error = staticmethod(  # type: ignore[method-assign, assignment]
        error_and_cause
    )
