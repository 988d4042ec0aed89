import { Duration } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import {
  COMPLETION_KEY, CompletionInput, DEADLINE_KEY, DeadlineInput, ERRORS, JsonPathRef, POLL_SECONDS_CONTEXT,
  REPORTED_FAILURE_ERROR, REQUEST_KEY, STEP_KEY, StepInputs, StepName,
} from './contract.generated';

/**
 * How often a wait polls once what it waits for is due: each change is
 * noticed within this (and one check) of happening. The context value
 * `@cdk-cloudhsm/poll-seconds` changes it (1 against the emulator).
 */
const DEFAULT_POLL_SECONDS = 10;

/**
 * The longest sleep between two checks while a wait sleeps through the
 * latency AWS documents: the check after each sleep notices an early
 * change and fails once the deadline has passed, so that a wait ends at
 * most one sleep after the deadline, as a poll did (see
 * test/deadlines.test.ts).
 */
export const MAX_SLEEP = Duration.minutes(2);

/**
 * How long AWS takes at least, as far as anyone documents it, for the
 * changes the workflows wait for: a wait sleeps through this before it
 * polls every poll interval. A cluster takes about 5 minutes and an HSM 10
 * to 20 (the figures the design notes keep); the KMS API reference gives a
 * key store "up to 20 minutes" to connect. With no documented figure
 * (deletes, initialization, a restore), three quarters of the emulator's
 * latency (`LATENCY` in integ-tests/emulator/core/runtime.py) is taken.
 * A change earlier than this is noticed at the next check, at most
 * `MAX_SLEEP` late.
 */
export const EXPECTED = {
  /** CreateCluster to UNINITIALIZED: about 5 minutes. */
  clusterCreate: Duration.minutes(4),
  /** CreateHsm to ACTIVE (and the first HSM's CSR): 10 to 20 minutes. */
  hsmCreate: Duration.minutes(10),
  /** InitializeCluster to INITIALIZED. */
  clusterInitialize: Duration.seconds(45),
  /** CreateCluster from a backup to ACTIVE. */
  clusterRestore: Duration.minutes(4),
  /** DeleteHsm until the HSM is gone. */
  hsmDelete: Duration.minutes(4),
  /** DeleteCluster to DELETED. */
  clusterDelete: Duration.seconds(90),
  /** ConnectCustomKeyStore to CONNECTED. */
  keyStoreConnect: Duration.minutes(5),
} as const;

/**
 * The time budget of every execution. Each step checks one deadline,
 * `DEADLINE` after the execution started: a wait still pending then fails
 * with the state of what it waited for, and no other step starts. The
 * longest any path can run past the deadline (a step's retries, the
 * answer) keeps it under the state machine's timeout, which cannot be
 * caught, and that under CloudFormation's hour (see test/deadlines.test.ts).
 */
export const DEADLINE = Duration.minutes(40);

/** The state machines' timeout: only a bug reaches it, and the net answers then. */
export const STATE_MACHINE_TIMEOUT = Duration.minutes(55);

/** How long one attempt of a step may run: the tasks function's timeout. */
export const STEP_TIMEOUT = Duration.minutes(1);

/** How long one attempt of an answer may run: the entry function's timeout. */
export const ANSWER_TIMEOUT = Duration.minutes(2);

/**
 * How long one attempt of an AWS SDK task may run: an EC2 security group
 * call answers in about a second, and each is retried on throttling.
 */
export const SDK_TASK_TIMEOUT = Duration.seconds(20);

/** What Step Functions names any error of an EC2 call through its SDK integration. */
export const EC2_ERROR = 'Ec2.Ec2Exception';

/** The errors of a Lambda invocation that did not run to its end: Lambda's own, throttling, crashes, timeouts. */
const INVOCATION_ERRORS = [
  'Lambda.ServiceException', 'Lambda.AWSLambdaException', 'Lambda.SdkClientException', 'Lambda.TooManyRequestsException',
  'Lambda.ClientExecutionTimeoutException', 'Lambda.Unknown',
  'Runtime.ExitError', 'Sandbox.Timedout', 'States.Timeout',
];

/**
 * A place in the execution's state that one step writes and later states
 * read: `$.Created`, `$.Active`, ... Each workflow declares its slots once.
 */
export class Slot {
  constructor(
    /** The JSONPath of the slot, such as `$.Created`. */
    public readonly path: string,
  ) {}

  /** A field of what the slot holds, by its path in the output type (`OUTPUTS`). */
  public at(field: string): JsonPathRef {
    return new JsonPathRef(`${this.path}.${field}`);
  }

  /** The whole slot. */
  public get ref(): JsonPathRef {
    return new JsonPathRef(this.path);
  }
}

/** The CloudFormation request every workflow starts with. */
export const REQUEST = new Slot(`$.${REQUEST_KEY}`);

/** Where a workflow keeps the resource's physical id, for success and failure alike. */
const PHYSICAL = new Slot('$.Physical');

/** How many sleeps the running wait has left before it polls every poll interval. */
const SLEEPS = new Slot('$.Sleeps');

/** Where a caught error goes, for the failure report. */
const ERROR = new Slot('$.Error');

/** A field of the running execution's context object. */
export const EXECUTION_ID = new JsonPathRef('$$.Execution.Id');
const EXECUTION_START = new JsonPathRef('$$.Execution.StartTime');

/** The deadline every step payload carries: minutes after the execution's start. */
const DEADLINE_INPUT: DeadlineInput = { Start: EXECUTION_START, Minutes: DEADLINE.toMinutes() };

/**
 * A payload as Step Functions takes it: a field holding a JSONPath becomes
 * `Key.$`, objects and arrays are converted field by field.
 */
export function toPayload(value: unknown): unknown {
  if (value instanceof JsonPathRef) {
    throw new Error(`a JSONPath (${value.path}) must be a field of an object`);
  }
  if (Array.isArray(value)) return value.map(toPayload);
  if (value === null || typeof value !== 'object') return value;
  const payload: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(value as Record<string, unknown>)) {
    if (field === undefined) continue;
    if (field instanceof JsonPathRef) {
      payload[`${key}.$`] = field.path;
    } else {
      payload[key] = toPayload(field);
    }
  }
  return payload;
}

/** The parameters of an AWS SDK task, with JSONPath fields converted. */
export function sdkParameters(parameters: Record<string, unknown>): Record<string, unknown> {
  return toPayload(parameters) as Record<string, unknown>;
}

/** How to run a step of the tasks function. */
export interface StepOptions<K extends StepName> {
  /** The step. */
  readonly step: K;
  /** Its payload. */
  readonly input: StepInputs[K];
  /** Where its output goes; discarded when absent. */
  readonly result?: Slot;
  /** Sends these errors somewhere other than the failure report. */
  readonly recover?: { readonly errors: string[]; readonly next: sfn.IChainable };
}

/** The steps that answer `Ready`, and so can be polled: each fails by itself once the deadline has passed. */
export type PolledStep =
  | 'AwaitCluster' | 'DeleteCluster' | 'DeleteHsms' | 'ActivateCluster' | 'ConfigureClient'
  | 'EnsureKmsUser' | 'ConnectKeyStore' | 'DisconnectKeyStore';

/** How to poll a step until it answers `Ready`. */
export interface WaitOptions<K extends PolledStep> {
  /** The step, which fails by itself once the deadline has passed. */
  readonly step: K;
  /** Its payload. */
  readonly input: StepInputs[K];
  /** Where its output goes; the loop reads `Ready` there. */
  readonly result: Slot;
  /** What the slot holds before the first call, for steps that read their own last output. */
  readonly initial?: Record<string, unknown>;
  /**
   * How long AWS takes at least for what is waited for (`EXPECTED`): after
   * the first check, the wait sleeps through it, checking after every
   * `MAX_SLEEP` at most, then polls every poll interval. Without it, the
   * wait polls every poll interval from the start.
   */
  readonly expect?: Duration;
  /**
   * Other expectations, for what the workflow knows when the wait starts
   * (HSMs created, or only deleted): the first whose condition holds
   * replaces `expect`. Each must sleep as long as `expect` each time.
   */
  readonly expectWhen?: ReadonlyArray<{ readonly condition: sfn.Condition; readonly expect: Duration; readonly label: string }>;
}

/** How a wait sleeps through an expected latency: `count` sleeps of `seconds`. */
export interface Sleeps {
  readonly count: number;
  readonly seconds: number;
}

/** The sleeps of at most `MAX_SLEEP` each that add up to the expected latency. */
export function sleepsThrough(expect: Duration): Sleeps {
  const total = expect.toSeconds();
  if (total <= 0) return { count: 0, seconds: 0 };
  const count = Math.ceil(total / MAX_SLEEP.toSeconds());
  return { count, seconds: Math.ceil(total / count) };
}

/**
 * Builds the states of a custom resource workflow: Lambda steps with
 * retries, polling loops, and the two ways to answer CloudFormation.
 * Every task is guarded: any error a step raises goes to "Report the
 * failure", which answers FAILED with the handler's sentence; a success
 * answer that fails goes there too; and a failure report that fails ends
 * the execution in "Not answered", for the net (an EventBridge rule on the
 * execution's end) to answer.
 */
export class WorkflowKit {
  private readonly failure: sfn.Chain;
  private readonly pollSeconds: number;

  constructor(
    private readonly scope: Construct,
    /** The function that runs the steps. */
    private readonly tasksFunction: lambda.IFunction,
    /** The entry function, which answers CloudFormation. */
    private readonly entry: lambda.IFunction,
  ) {
    const fromContext = scope.node.tryGetContext(POLL_SECONDS_CONTEXT);
    this.pollSeconds = fromContext === undefined ? DEFAULT_POLL_SECONDS : Number(fromContext);
    const report = this.answer('Report the failure to CloudFormation', {
      Request: REQUEST.ref,
      PhysicalResourceId: PHYSICAL.at('Id'),
      Error: ERROR.ref,
      Execution: EXECUTION_ID,
    });
    report.addCatch(new sfn.Fail(scope, 'Not answered', {
      error: 'ResponseNotDelivered',
      cause: 'the failure could not be reported; the execution status change event has it answered',
    }), { errors: ['States.ALL'], resultPath: sfn.JsonPath.DISCARD });
    this.failure = report.next(new sfn.Fail(scope, 'Failed', { error: REPORTED_FAILURE_ERROR, cause: 'see the FAILED response' }));
  }

  /** Records the physical id the answers use: a JSONPath, or a `States.Format` of one. */
  public setPhysicalId(name: string, id: JsonPathRef | { readonly format: string; readonly args: JsonPathRef[] }): sfn.Pass {
    const value = id instanceof JsonPathRef
      ? id.path
      : `States.Format('${id.format}', ${id.args.map((a) => a.path).join(', ')})`;
    return new sfn.Pass(this.scope, name, { parameters: { 'Id.$': value }, resultPath: PHYSICAL.path });
  }

  /** A step of the tasks function. */
  public step<K extends StepName>(name: string, options: StepOptions<K>): sfn.TaskStateBase {
    const payload = { [STEP_KEY]: options.step, [DEADLINE_KEY]: DEADLINE_INPUT, ...options.input };
    const task = new tasks.LambdaInvoke(this.scope, name, {
      lambdaFunction: this.tasksFunction,
      payload: sfn.TaskInput.fromObject(toPayload(payload) as Record<string, unknown>),
      payloadResponseOnly: true,
      resultPath: options.result?.path ?? sfn.JsonPath.DISCARD,
      retryOnServiceExceptions: false,
      taskTimeout: sfn.Timeout.duration(STEP_TIMEOUT),
    });
    task.addRetry({ errors: [ERRORS.Transient], interval: Duration.seconds(5), maxAttempts: 2, backoffRate: 2 });
    // Every step is idempotent, so one that crashed, timed out or never ran runs again.
    task.addRetry({ errors: INVOCATION_ERRORS, interval: Duration.seconds(2), maxAttempts: 2, backoffRate: 2 });
    if (options.recover) {
      // Before the guard: States.ALL must come last.
      task.addCatch(options.recover.next, { errors: options.recover.errors, resultPath: sfn.JsonPath.DISCARD });
    }
    return this.guard(task);
  }

  /**
   * Polls a step until it answers `{"Ready": true}`: a first check at once,
   * then, while an expected latency runs (`expect`), a check after each
   * sleep of at most `MAX_SLEEP`, then a check every poll interval. The
   * step fails by itself once the execution's deadline has passed, so a
   * stuck resource ends in a FAILED response naming it, not in a timeout.
   */
  public waitUntil<K extends PolledStep>(name: string, options: WaitOptions<K>): sfn.Chain {
    const check = this.step(`Check: ${name}`, { step: options.step, input: options.input, result: options.result });
    const poll = new sfn.Wait(this.scope, `Wait: ${name}`, {
      time: sfn.WaitTime.duration(Duration.seconds(this.pollSeconds)),
    });
    const done = new sfn.Pass(this.scope, `Done: ${name}`);
    const ready = new sfn.Choice(this.scope, `${name}?`)
      .when(sfn.Condition.booleanEquals(`${options.result.path}.Ready`, true), done);
    let first: sfn.State = check;
    const plans = [options.expect, ...(options.expectWhen ?? []).map((w) => w.expect)]
      .map((expect) => (expect ? sleepsThrough(expect) : { count: 0, seconds: 0 }));
    const most = Math.max(...plans.map((p) => p.count));
    if (most > 0) {
      const seconds = new Set(plans.filter((p) => p.count > 0).map((p) => p.seconds));
      if (seconds.size > 1) {
        throw new Error(`${name}: the expectations of one wait must sleep equally long each time, got ${[...seconds].join(' and ')} s: `
          + `give them latencies that split into sleeps of ${MAX_SLEEP.toSeconds()} s`);
      }
      const sleep = new sfn.Wait(this.scope, `Sleep: ${name}`, {
        time: sfn.WaitTime.duration(Duration.seconds([...seconds][0])),
      });
      sleep.next(check);
      // The count of sleeps left, set by static results (the contract test reads no intrinsic function):
      // "Count n" takes one of the n sleeps left.
      for (let left = most; left > 0; left--) {
        const count = new sfn.Pass(this.scope, `Count ${left}: ${name}`, {
          result: sfn.Result.fromObject({ Left: left - 1 }),
          resultPath: SLEEPS.path,
        });
        ready.when(sfn.Condition.numberEquals(`${SLEEPS.path}.Left`, left), count.next(sleep));
      }
      const expect = (label: string, count: number) => new sfn.Pass(this.scope, `Expect${label}: ${name}`, {
        result: sfn.Result.fromObject({ Left: count }),
        resultPath: SLEEPS.path,
      }).next(check);
      const otherwise = expect('', plans[0].count);
      if (options.expectWhen?.length) {
        const which = new sfn.Choice(this.scope, `Expect what: ${name}`);
        options.expectWhen.forEach((w, i) => which.when(w.condition, expect(` ${w.label}`, plans[i + 1].count)));
        first = which.otherwise(otherwise);
      } else {
        first = otherwise.startState;
      }
    }
    ready.otherwise(poll.next(check));
    check.next(ready);
    if (options.initial) {
      const prepare = new sfn.Pass(this.scope, `Prepare: ${name}`, {
        result: sfn.Result.fromObject(options.initial),
        resultPath: options.result.path,
      });
      prepare.next(first);
      first = prepare;
    }
    return sfn.Chain.custom(first, [done], done);
  }

  /** Answers CloudFormation SUCCESS with attributes; if that fails, reports the failure. */
  public succeed(name: string, data: Record<string, unknown>): sfn.TaskStateBase {
    return this.guard(this.answer(name, { Request: REQUEST.ref, PhysicalResourceId: PHYSICAL.at('Id'), Data: data }));
  }

  /**
   * An EC2 call through Step Functions' SDK integration, bounded in time.
   * Step Functions names every EC2 error `Ec2.Ec2Exception` (EC2 models no
   * exception types), throttling (`RequestLimitExceeded`) included, and a
   * Retry cannot tell them apart: each is retried with backoff, then caught
   * by the caller (`guard`, `tolerate` or its own catch), which must add it.
   * `attemptTimeout` (default SDK_TASK_TIMEOUT) bounds each attempt: calls
   * made after a deadline, on the way to the answer, take a shorter one.
   */
  public ec2Task(name: string, props: Omit<tasks.CallAwsServiceProps, 'taskTimeout' | 'timeout' | 'service'>,
    attemptTimeout: Duration = SDK_TASK_TIMEOUT): tasks.CallAwsService {
    const task = new tasks.CallAwsService(this.scope, name, {
      ...props, service: 'ec2', taskTimeout: sfn.Timeout.duration(attemptTimeout),
    });
    task.addRetry({ errors: [EC2_ERROR], interval: Duration.seconds(1), maxAttempts: 3, backoffRate: 2 });
    return task;
  }

  /**
   * Guards a state whose effect may exist already (a rule that a re-run
   * adds again): an error of `errors` whose cause matches `cause` (a
   * wildcard pattern) goes on to `next`, any other error to the report.
   */
  public tolerate<T extends sfn.TaskStateBase>(
    state: T, name: string, tolerated: { readonly errors: string[]; readonly cause: string }, next: sfn.IChainable,
  ): T {
    const known = new sfn.Choice(this.scope, name)
      .when(sfn.Condition.stringMatches(ERROR.at('Cause').path, tolerated.cause), next)
      .otherwise(this.failure);
    state.addCatch(known, { errors: tolerated.errors, resultPath: ERROR.path });
    return this.guard(state);
  }

  /** Routes a state's errors to the failure report, keeping its input. */
  public guard<T extends sfn.TaskStateBase | sfn.Parallel>(state: T): T {
    state.addCatch(this.failure, { errors: ['States.ALL'], resultPath: ERROR.path });
    return state;
  }

  private answer(name: string, completion: CompletionInput): sfn.TaskStateBase {
    const task = new tasks.LambdaInvoke(this.scope, name, {
      lambdaFunction: this.entry,
      payload: sfn.TaskInput.fromObject(toPayload({ [COMPLETION_KEY]: completion }) as Record<string, unknown>),
      payloadResponseOnly: true,
      resultPath: sfn.JsonPath.DISCARD,
      retryOnServiceExceptions: false,
      taskTimeout: sfn.Timeout.duration(ANSWER_TIMEOUT),
    });
    // The entry function retries the response URL itself: only an invocation
    // that did not run to its end is tried again.
    task.addRetry({ errors: INVOCATION_ERRORS, interval: Duration.seconds(2), maxAttempts: 1 });
    return task;
  }
}
