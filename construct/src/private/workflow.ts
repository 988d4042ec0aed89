import { ArnFormat, Duration, Names, Stack } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';

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

  constructor(scope: Construct, id: string, props: WorkflowProps) {
    super(scope, id);
    const name = Names.uniqueResourceName(this, { maxLength: 80, separator: '-' });
    this.stateMachineArn = Stack.of(this).formatArn({
      service: 'states',
      resource: 'stateMachine',
      resourceName: name,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    // No fixed name: the log group is kept when the stack goes, and a fixed
    // name would then block creating the same stack again.
    const logGroup = new logs.LogGroup(this, 'Logs', {
      retention: logs.RetentionDays.ONE_YEAR,
      encryptionKey: props.encryptionKey,
    });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineName: name,
      definitionBody: sfn.DefinitionBody.fromChainable(props.definition(this)),
      // Every wait fails by itself long before this; it only bounds a bug.
      timeout: Duration.minutes(55),
      tracingEnabled: false,
      logs: { destination: logGroup, level: sfn.LogLevel.ERROR, includeExecutionData: false },
    });
  }
}
