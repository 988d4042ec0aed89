// Polling by expectation: a wait for a documented AWS latency checks once,
// sleeps through the latency in sleeps of at most MAX_SLEEP (a check after
// each), then polls every poll interval, so that a change is noticed within
// one interval and a check of happening, without paying for polls while
// nothing can have changed.
import * as assert from 'node:assert/strict';
import { test, describe } from 'node:test';
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { CloudHsmCluster } from '../lib/index.js';
import { POLL_SECONDS_CONTEXT } from '../lib/private/contract.generated.js';
import { EXPECTED, MAX_SLEEP, Slot, WorkflowKit, sleepsThrough } from '../lib/private/workflow-kit.js';
import { ISOLATED, errorOf, isolatedVpc } from './support.ts';

interface State {
  Type: string; Next?: string; Default?: string; Seconds?: number; Result?: Record<string, unknown>;
  Parameters?: Record<string, unknown>; ResultPath?: string;
  Choices?: { Variable: string; BooleanEquals?: boolean; NumericEquals?: number; Next: string }[];
}
interface Definition { States: Record<string, State> }

function flatten(value: unknown): string {
  if (typeof value === 'string') return value;
  const join = (value as Record<string, [string, unknown[]]>)['Fn::Join'];
  if (join) return join[1].map(flatten).join(join[0]);
  return 'ref';
}

/** Every state of the cluster's two state machines, by name. */
function states(context: Record<string, unknown> = {}): Record<string, State> {
  const stack = new Stack(new App({ context }), 'Polling');
  new CloudHsmCluster(stack, 'Hsm', { vpc: isolatedVpc(stack), vpcSubnets: ISOLATED });
  const machines = Template.fromStack(stack).findResources('AWS::StepFunctions::StateMachine');
  const all: Record<string, State> = {};
  for (const machine of Object.values(machines)) {
    Object.assign(all, (JSON.parse(flatten(machine.Properties.DefinitionString)) as Definition).States);
  }
  return all;
}

/** The seconds a wait sleeps through before it polls: its sleeps, each as long as its Sleep state. */
function sleptThrough(all: Record<string, State>, wait: string): number {
  const expect = all[`Expect: ${wait}`];
  if (!expect) return 0;
  return (expect.Result!.Left as number) * all[`Sleep: ${wait}`].Seconds!;
}

describe('polling by expectation', () => {
  test('sleeps add up to the expected latency, none longer than MAX_SLEEP', () => {
    assert.deepEqual(sleepsThrough(Duration.minutes(10)), { count: 5, seconds: 120 });
    assert.deepEqual(sleepsThrough(Duration.minutes(4)), { count: 2, seconds: 120 });
    assert.deepEqual(sleepsThrough(Duration.seconds(90)), { count: 1, seconds: 90 });
    assert.deepEqual(sleepsThrough(Duration.seconds(250)), { count: 3, seconds: 84 });
    assert.deepEqual(sleepsThrough(Duration.seconds(0)), { count: 0, seconds: 0 });
    for (const expected of Object.values(EXPECTED)) {
      const { count, seconds } = sleepsThrough(expected);
      assert.ok(seconds <= MAX_SLEEP.toSeconds());
      assert.ok(count * seconds >= expected.toSeconds() && (count - 1) * seconds < expected.toSeconds());
    }
  });

  test('an HSM wait checks at once, sleeps through 10 minutes, then polls every 10 seconds', () => {
    const all = states();
    const wait = 'Wait for the first HSM and the CSR';
    // Entered first: the sleep count, then the first check.
    const expect = all[`Expect: ${wait}`];
    assert.deepEqual(expect.Result, { Left: 5 });
    assert.equal(expect.Next, `Check: ${wait}`);
    assert.equal(all[`Check: ${wait}`].Next, `${wait}?`);
    // Ready ends the wait; each sleep left is counted down by a static result, then slept; then the poll interval.
    const choice = all[`${wait}?`];
    assert.equal(choice.Choices![0].BooleanEquals, true);
    assert.equal(choice.Choices![0].Next, `Done: ${wait}`);
    for (let i = 1; i <= 5; i++) {
      const left = 6 - i;
      const rule = choice.Choices![i];
      assert.equal(rule.Variable, '$.Sleeps.Left');
      assert.equal(rule.NumericEquals, left);
      assert.equal(rule.Next, `Count ${left}: ${wait}`);
      assert.deepEqual(all[`Count ${left}: ${wait}`].Result, { Left: left - 1 });
      assert.equal(all[`Count ${left}: ${wait}`].ResultPath, '$.Sleeps');
      assert.equal(all[`Count ${left}: ${wait}`].Next, `Sleep: ${wait}`);
    }
    assert.equal(choice.Choices!.length, 6);
    assert.equal(all[`Sleep: ${wait}`].Seconds, 120);
    assert.equal(all[`Sleep: ${wait}`].Next, `Check: ${wait}`);
    assert.equal(choice.Default, `Wait: ${wait}`);
    assert.equal(all[`Wait: ${wait}`].Seconds, 10);
    assert.equal(sleptThrough(all, wait), 600);
  });

  test('each wait for an AWS latency sleeps through its documented figure; the others poll from the start', () => {
    const all = states();
    const expected: Record<string, number> = {
      'Wait for the cluster to be UNINITIALIZED': 240,
      'Wait for the first HSM and the CSR': 600,
      'Wait for the cluster to be INITIALIZED': 45,
      'Wait for the restored cluster to be ACTIVE': 240,
      'Wait for every HSM to be ACTIVE': 600,
      'Delete every HSM': 240,
      'Delete the cluster': 90,
      // Commands on the management client take seconds; ACTIVE follows the activation at once.
      'Activate the cluster on the management client': 0,
      'Wait for the cluster to be ACTIVE': 0,
      'Point the management client at the HSMs': 0,
    };
    for (const [wait, seconds] of Object.entries(expected)) {
      assert.ok(all[`Check: ${wait}`], `a workflow polls "${wait}"`);
      assert.equal(sleptThrough(all, wait), seconds, wait);
      assert.equal(all[`Wait: ${wait}`].Seconds, 10, wait);
    }
  });

  test('every change after the expected latency is noticed within 15 seconds: one poll interval and a check', () => {
    for (const [name, state] of Object.entries(states())) {
      if (state.Type === 'Wait' && name.startsWith('Wait: ')) assert.ok(state.Seconds! <= 10, name);
      if (state.Type === 'Wait' && name.startsWith('Sleep: ')) assert.ok(state.Seconds! <= MAX_SLEEP.toSeconds(), name);
    }
  });

  test('a resize that only deletes HSMs sleeps through a delete, not a create', () => {
    const all = states();
    const wait = 'Wait for every HSM to be ACTIVE';
    const which = all[`Expect what: ${wait}`];
    assert.equal(which.Type, 'Choice');
    assert.equal(which.Choices![0].Variable, '$.Resized.Created');
    assert.equal(which.Choices![0].NumericEquals, 0);
    assert.equal(which.Choices![0].Next, `Expect deletes: ${wait}`);
    assert.deepEqual(all[`Expect deletes: ${wait}`].Result, { Left: 2 });
    assert.equal(all[`Expect deletes: ${wait}`].Next, `Check: ${wait}`);
    assert.equal(which.Default, `Expect: ${wait}`);
    assert.deepEqual(all[`Expect: ${wait}`].Result, { Left: 5 });
    assert.equal(all[`Create and delete HSMs`].Next, `Expect what: ${wait}`);
  });

  test('fails for a wait whose expectations sleep for different lengths', () => {
    const stack = new Stack(new App(), 'Kit');
    const fn = lambda.Function.fromFunctionArn(stack, 'Fn', 'arn:aws:lambda:us-east-1:123456789012:function:f');
    const kit = new WorkflowKit(stack, fn, fn);
    const message = errorOf(() => kit.waitUntil('Wait for it', {
      step: 'AwaitCluster',
      input: { ClusterId: 'cluster-1', Expect: 'ACTIVE' } as never,
      result: new Slot('$.It'),
      expect: Duration.minutes(10),
      expectWhen: [{ condition: sfn.Condition.isPresent('$.Other'), expect: Duration.seconds(90), label: 'other' }],
    }));
    assert.equal(message, 'Wait for it: the expectations of one wait must sleep equally long each time, got 120 and 90 s: '
      + 'give them latencies that split into sleeps of 120 s');
  });

  test('the poll interval context changes the poll interval, not the sleeps', () => {
    const all = states({ [POLL_SECONDS_CONTEXT]: 1 });
    const wait = 'Wait for every HSM to be ACTIVE';
    assert.equal(all[`Wait: ${wait}`].Seconds, 1);
    assert.equal(sleptThrough(all, wait), 600);
  });
});
