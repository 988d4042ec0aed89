import { ArnFormat, Names, Stack } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { newLogGroup } from './log-group';
import { STATE_MACHINE_TIMEOUT } from './workflow-kit';

export interface WorkflowProps {
  /** Builds the states, in the scope given. */
  readonly definition: (scope: Construct) => sfn.IChainable;
  readonly encryptionKey?: kms.IKey;
}

/**
 * A custom resource workflow: a state machine with a name fixed at synth
 * time, so that the entry function can be told its ARN without a reference
 * (the state machine itself references the entry function, which answers
 * CloudFormation).
 */
export class Workflow extends Construct {
  public readonly stateMachine: sfn.StateMachine;
  public readonly stateMachineArn: string;
  /** Every execution of the state machine, for IAM. */
  public readonly executionArns: string;

  constructor(scope: Construct, id: string, props: WorkflowProps) {
    super(scope, id);
    const name = Names.uniqueResourceName(this, { maxLength: 80, separator: '-' });
    this.stateMachineArn = Stack.of(this).formatArn({
      service: 'states',
      resource: 'stateMachine',
      resourceName: name,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    this.executionArns = Stack.of(this).formatArn({
      service: 'states',
      resource: 'execution',
      resourceName: `${name}:*`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    const logGroup = newLogGroup(this, 'Logs', props.encryptionKey);
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineName: name,
      definitionBody: sfn.DefinitionBody.fromChainable(props.definition(this)),
      // Every step checks the execution's deadline, well before this; it only
      // bounds a bug, and the entry function answers for an execution it ends.
      timeout: STATE_MACHINE_TIMEOUT,
      tracingEnabled: false,
      // CDK gives the role the logs:*LogDelivery statement Step Functions needs to
      // deliver these logs; nothing in the workflow itself calls those actions.
      logs: { destination: logGroup, level: sfn.LogLevel.ERROR, includeExecutionData: false },
    });
  }
}
