"""The names Step Functions gives the errors of AWS SDK integrations, as AWS names them.

An `arn:aws:states:::aws-sdk:<service>:<action>` task that fails with a service error
fails with `<Service>.<Exception>`, the service spelled as the AWS SDK for Java v2 spells
it. EC2 models no exception types: every EC2 error is `Ec2.Ec2Exception`, its code and
message only in the cause. moto's interpreter knows the spelling of DynamoDB and Step
Functions only and falls back to the lower-case integration name (`ec2.ec2Exception`),
which no workflow written for AWS catches.
"""

from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import state_task_service_aws_sdk

SERVICE_ERROR_NAMES = {"ec2": "Ec2"}


def install() -> None:
    """Add AWS's spelling of the services the workflows call through SDK integrations."""
    state_task_service_aws_sdk._SERVICE_ERROR_NAMES.update(SERVICE_ERROR_NAMES)
