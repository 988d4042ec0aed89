import { ArnFormat, Duration, Stack } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { HANDLERS, STATUS_CHANGE_DETAIL_TYPE } from './contract.generated';
import { handlerCode } from './handlers';
import { newLogGroup } from './log-group';
import { Workflow } from './workflow';
import { ANSWER_TIMEOUT } from './workflow-kit';

export interface EntryFunctionProps {
  readonly architecture: lambda.Architecture;
  readonly encryptionKey?: kms.IKey;
}

/**
 * The function behind a custom resource: it starts the workflow for each
 * CloudFormation request and answers CloudFormation when the workflow ends,
 * or, through an EventBridge rule on the workflows' status changes, when an
 * execution ended FAILED, TIMED_OUT or ABORTED without having answered.
 */
export class EntryFunction extends Construct {
  public readonly function: lambda.Function;
  private readonly routes: Record<string, string> = {};

  constructor(scope: Construct, id: string, props: EntryFunctionProps) {
    super(scope, id);
    const logGroup = newLogGroup(this, 'Logs', props.encryptionKey);
    this.function = new lambda.Function(this, 'Function', {
      description: 'cdk-cloudhsm: starts the workflow of each CloudFormation request and answers CloudFormation',
      runtime: lambda.Runtime.PROVIDED_AL2023,
      handler: 'bootstrap',
      architecture: props.architecture,
      code: handlerCode(HANDLERS.entry, props.architecture),
      memorySize: 128,
      // Starting a workflow takes well under a second; the rest is room for
      // retries of the response URL.
      timeout: ANSWER_TIMEOUT,
      logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      environment: {
        WORKFLOWS: Stack.of(this).toJsonString(this.routes),
      },
    });
  }

  /** The ARN CloudFormation invokes. */
  public get functionArn(): string {
    return this.function.functionArn;
  }

  /**
   * Routes requests for a resource type to a workflow. A Delete first stops
   * the running Create of the same resource (CloudFormation deletes a
   * resource whose create it cancelled while that create still runs), so
   * the function may list the workflow's executions, read their input and
   * stop them.
   */
  public addRoute(resourceType: string, workflow: Workflow): void {
    this.routes[resourceType] = workflow.stateMachineArn;
    this.function.addToRolePolicy(new iam.PolicyStatement({
      actions: ['states:StartExecution', 'states:ListExecutions'],
      resources: [workflow.stateMachineArn],
    }));
    this.function.addToRolePolicy(new iam.PolicyStatement({
      actions: ['states:DescribeExecution', 'states:StopExecution'],
      resources: [workflow.executionArns],
    }));
  }

  /**
   * The net under the workflows: every execution of these that ends FAILED,
   * TIMED_OUT or ABORTED is sent here; the function reads its history and
   * answers FAILED for it unless it had answered.
   */
  public answerForEndedExecutions(workflows: Workflow[]): events.Rule {
    const stack = Stack.of(this);
    const rule = new events.Rule(this, 'ExecutionEnded', {
      description: 'cdk-cloudhsm: answers CloudFormation for a workflow execution that ended without answering',
      eventPattern: {
        source: ['aws.states'],
        detailType: [STATUS_CHANGE_DETAIL_TYPE],
        detail: {
          status: ['FAILED', 'TIMED_OUT', 'ABORTED'],
          stateMachineArn: workflows.map((w) => w.stateMachineArn),
        },
      },
    });
    rule.addTarget(new targets.LambdaFunction(this.function, { retryAttempts: 10, maxEventAge: Duration.hours(1) }));
    this.function.addToRolePolicy(new iam.PolicyStatement({
      actions: ['states:GetExecutionHistory'],
      resources: workflows.map((w) => stack.formatArn({
        service: 'states',
        resource: 'execution',
        resourceName: `${stack.splitArn(w.stateMachineArn, ArnFormat.COLON_RESOURCE_NAME).resourceName}:*`,
        arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      })),
    }));
    return rule;
  }
}
