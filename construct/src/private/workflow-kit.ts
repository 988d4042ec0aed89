import { Duration } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';

/** The context key that sets how often workflows poll AWS, in seconds. */
export const POLL_SECONDS_CONTEXT = '@cdk-cloudhsm/poll-seconds';
const DEFAULT_POLL_SECONDS = 30;

/** Where a workflow keeps the resource's physical id, for success and failure alike. */
export const PHYSICAL_ID = '$.Physical.Id';

/**
 * Builds the states of a custom resource workflow: Lambda steps with
 * retries, polling loops, and the two ways to answer CloudFormation.
 * Every step is guarded: any error it raises goes to "Report the failure",
 * which answers FAILED with the handler's sentence.
 */
export class WorkflowKit {
  private readonly failure: sfn.Chain;
  private readonly pollSeconds: number;

  constructor(
    private readonly scope: Construct,
    /** The function that runs the steps. */
    private readonly tasks: lambda.IFunction,
    /** The entry function, which answers CloudFormation. */
    private readonly entry: lambda.IFunction,
  ) {
    const fromContext = scope.node.tryGetContext(POLL_SECONDS_CONTEXT);
    this.pollSeconds = fromContext === undefined ? DEFAULT_POLL_SECONDS : Number(fromContext);
    this.failure = this.answer('Report the failure to CloudFormation', {
      'Request.$': '$.Request',
      'PhysicalResourceId.$': PHYSICAL_ID,
      'Error.$': '$.Error',
      'Execution.$': '$$.Execution.Id',
    }).next(new sfn.Fail(scope, 'Failed', { error: 'ResourceOperationFailed', cause: 'see the FAILED response' }));
  }

  /** Records the physical id the answers use, from a JSONPath or intrinsic. */
  public setPhysicalId(name: string, idPath: string): sfn.Pass {
    return new sfn.Pass(this.scope, name, { parameters: { 'Id.$': idPath }, resultPath: '$.Physical' });
  }

  /**
   * A step of the tasks function, answering `{"Action": action, ...payload}`.
   * `recover` sends the listed errors somewhere other than the failure report.
   */
  public step(
    name: string,
    action: string,
    payload: Record<string, unknown>,
    resultPath: string | undefined,
    recover?: { errors: string[]; next: sfn.IChainable },
  ): sfn.TaskStateBase {
    const task = new tasks.LambdaInvoke(this.scope, name, {
      lambdaFunction: this.tasks,
      payload: sfn.TaskInput.fromObject({ Action: action, ...payload }),
      payloadResponseOnly: true,
      resultPath: resultPath ?? sfn.JsonPath.DISCARD,
      retryOnServiceExceptions: true,
    });
    task.addRetry({ errors: ['Transient'], interval: Duration.seconds(5), maxAttempts: 5, backoffRate: 2 });
    // Every step is idempotent, so one that crashed or timed out runs again.
    task.addRetry({
      errors: ['Runtime.ExitError', 'Sandbox.Timedout', 'Lambda.Unknown'],
      interval: Duration.seconds(2),
      maxAttempts: 2,
      backoffRate: 2,
    });
    if (recover) {
      // Before the guard: States.ALL must come last.
      task.addCatch(recover.next, { errors: recover.errors, resultPath: sfn.JsonPath.DISCARD });
    }
    return this.guard(task);
  }

  /**
   * Polls a step until it answers `{"Ready": true}`. The step gets `Since`
   * (when the wait began) and fails by itself once the wait lasts too long,
   * so a stuck resource ends in a FAILED response, not in a timeout.
   */
  public waitUntil(name: string, action: string, payload: Record<string, unknown>, resultPath: string): sfn.Chain {
    const since = `${resultPath}Since`;
    const start = new sfn.Pass(this.scope, `Start: ${name}`, {
      parameters: { 'Time.$': '$$.State.EnteredTime' },
      resultPath: since,
    });
    const check = this.step(`Check: ${name}`, action, { ...payload, 'Since.$': `${since}.Time` }, resultPath);
    const wait = new sfn.Wait(this.scope, `Wait: ${name}`, {
      time: sfn.WaitTime.duration(Duration.seconds(this.pollSeconds)),
    });
    const done = new sfn.Pass(this.scope, `Done: ${name}`);
    const ready = new sfn.Choice(this.scope, `${name}?`)
      .when(sfn.Condition.booleanEquals(`${resultPath}.Ready`, true), done)
      .otherwise(wait.next(check));
    start.next(check);
    check.next(ready);
    return sfn.Chain.custom(start, [done], done);
  }

  /** Answers CloudFormation SUCCESS with attributes. */
  public succeed(name: string, data: Record<string, unknown>): sfn.TaskStateBase {
    return this.answer(name, {
      'Request.$': '$.Request',
      'PhysicalResourceId.$': PHYSICAL_ID,
      Data: data,
    });
  }

  /** Routes a state's errors to the failure report, keeping its input. */
  public guard<T extends sfn.TaskStateBase | sfn.Parallel>(state: T): T {
    state.addCatch(this.failure, { errors: ['States.ALL'], resultPath: '$.Error' });
    return state;
  }

  private answer(name: string, completion: Record<string, unknown>): sfn.TaskStateBase {
    const task = new tasks.LambdaInvoke(this.scope, name, {
      lambdaFunction: this.entry,
      payload: sfn.TaskInput.fromObject({ Completion: completion }),
      payloadResponseOnly: true,
      resultPath: sfn.JsonPath.DISCARD,
      retryOnServiceExceptions: true,
    });
    // Only a response URL that keeps failing makes the entry function fail.
    task.addRetry({ errors: ['Transient', 'States.TaskFailed'], interval: Duration.seconds(10), maxAttempts: 3, backoffRate: 2 });
    return task;
  }
}
