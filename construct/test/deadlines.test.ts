// The time budget of every synthesized workflow, computed from the state
// machine definitions: for each path, the latest it can end (polls until
// the deadline, every retry with its backoff, every attempt at its timeout)
// must be under the state machine's timeout, which no Catch can see, and
// that under CloudFormation's hour. A slow but documented run must end
// before the deadline.
import * as assert from 'node:assert/strict';
import { test, describe } from 'node:test';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { CloudHsmCluster } from '../lib/index.js';
import { DEADLINE_KEY, ERRORS } from '../lib/private/contract.generated.js';
import { MAX_SLEEP } from '../lib/private/workflow-kit.js';
import { ISOLATED, isolatedVpc } from './support.ts';

interface Retrier { ErrorEquals: string[]; IntervalSeconds?: number; MaxAttempts?: number; BackoffRate?: number; MaxDelaySeconds?: number }
interface Catcher { ErrorEquals: string[]; Next: string }
interface State {
  Type: string; Next?: string; End?: boolean; Default?: string; Choices?: { Next: string }[];
  Seconds?: number; TimeoutSeconds?: number; Result?: Record<string, unknown>;
  Retry?: Retrier[]; Catch?: Catcher[]; Parameters?: Record<string, unknown>;
}
interface Definition { StartAt: string; TimeoutSeconds?: number; States: Record<string, State> }

const CLOUDFORMATION_HOUR = 3600;
/** What EventBridge and the entry function need to answer for an execution the timeout ended. */
const NET_MARGIN = 180;

/** A value with `Fn::Join` and references flattened, enough to read a definition. */
function flatten(value: unknown): string {
  if (typeof value === 'string') return value;
  const join = (value as Record<string, [string, unknown[]]>)['Fn::Join'];
  if (join) return join[1].map(flatten).join(join[0]);
  return 'ref';
}

function definitions(): Record<string, Definition> {
  const stack = new Stack(new App(), 'Budget');
  new CloudHsmCluster(stack, 'Hsm', { vpc: isolatedVpc(stack), vpcSubnets: ISOLATED });
  const machines = Template.fromStack(stack).findResources('AWS::StepFunctions::StateMachine');
  return Object.fromEntries(Object.entries(machines).map(([id, r]) => [id, JSON.parse(flatten(r.Properties.DefinitionString))]));
}

/** The seconds of waiting between the attempts a retrier allows. */
function backoff(r: Retrier): number {
  let total = 0;
  for (let i = 0; i < (r.MaxAttempts ?? 3); i++) {
    total += Math.min((r.IntervalSeconds ?? 1) * (r.BackoffRate ?? 2) ** i, r.MaxDelaySeconds ?? Infinity);
  }
  return total;
}

/** The deadline a step payload carries, in seconds after the execution's start. */
function deadlineOf(state: State): number | undefined {
  const deadline = state.Parameters?.[DEADLINE_KEY] as { Minutes?: number } | undefined;
  return deadline?.Minutes === undefined ? undefined : deadline.Minutes * 60;
}

interface Budget { deadline: number; timeout: number; ends: Map<string, number>; latest: Map<string, number> }

/**
 * The latest time, in seconds after the execution's start, at which each
 * end of the machine can be reached. A step that checks the deadline (its
 * payload carries it) and succeeds, or fails with one of our own errors
 * other than PreconditionFailed (the deadline's), started its last attempt
 * before the deadline: no step answers but with PreconditionFailed after it.
 * Loops must settle: one that does not is unbounded.
 */
function budget(definition: Definition): Budget {
  const timeout = definition.TimeoutSeconds;
  assert.ok(timeout, 'the state machine has a timeout');
  const deadlines = new Set(Object.values(definition.States).map(deadlineOf).filter((d) => d !== undefined));
  assert.equal(deadlines.size, 1, 'every step carries the same deadline');
  const [deadline] = [...deadlines] as number[];
  const worst = (state: State) => {
    const attempts = 1 + (state.Retry ?? []).reduce((n, r) => n + (r.MaxAttempts ?? 3), 0);
    return attempts * state.TimeoutSeconds! + (state.Retry ?? []).reduce((n, r) => n + backoff(r), 0);
  };
  const ownErrors = new Set<string>(Object.values(ERRORS).filter((e) => e !== ERRORS.PreconditionFailed));
  const latest = new Map<string, number>();
  const ends = new Map<string, number>();
  const queue: [string, number][] = [[definition.StartAt, 0]];
  let steps = 0;
  while (queue.length > 0) {
    const [name, t] = queue.shift()!;
    if ((latest.get(name) ?? -1) >= t) continue;
    latest.set(name, t);
    assert.ok(++steps < 10_000, `the loop through "${name}" is not bounded by the deadline`);
    const state = definition.States[name];
    const go = (next: string | undefined, at: number) => next && queue.push([next, at]);
    const clamp = (at: number) => Math.min(at, deadline + (state.TimeoutSeconds ?? 0));
    switch (state.Type) {
      case 'Task': {
        assert.ok(state.TimeoutSeconds, `task "${name}" has a TimeoutSeconds`);
        const end = t + worst(state);
        const checks = deadlineOf(state) !== undefined;
        go(state.Next, checks ? clamp(end) : end);
        for (const c of state.Catch ?? []) go(c.Next, checks && c.ErrorEquals.every((e) => ownErrors.has(e)) ? clamp(end) : end);
        if (state.End) ends.set(name, Math.max(ends.get(name) ?? 0, end));
        break;
      }
      case 'Choice':
        for (const c of state.Choices ?? []) go(c.Next, t);
        go(state.Default, t);
        break;
      case 'Wait':
        go(state.Next, t + (state.Seconds ?? 0));
        break;
      case 'Pass':
        go(state.Next, t);
        if (state.End) ends.set(name, Math.max(ends.get(name) ?? 0, t));
        break;
      case 'Succeed':
      case 'Fail':
        ends.set(name, Math.max(ends.get(name) ?? 0, t));
        break;
      default:
        assert.fail(`state "${name}" has a type this budget does not know: ${state.Type}`);
    }
  }
  return { deadline, timeout, ends, latest };
}

describe('time budgets', () => {
  const machines = definitions();

  test('every path of every workflow ends before the state machine timeout, and that before CloudFormation\'s hour', () => {
    assert.equal(Object.keys(machines).length, 2);
    for (const [id, definition] of Object.entries(machines)) {
      const { deadline, timeout, ends } = budget(definition);
      assert.ok(deadline < timeout, `${id}: the deadline (${deadline} s) is below the timeout (${timeout} s)`);
      assert.ok(timeout + NET_MARGIN <= CLOUDFORMATION_HOUR, `${id}: the timeout leaves the net time to answer`);
      assert.ok(ends.size > 0);
      for (const [end, at] of ends) {
        assert.ok(at < timeout, `${id}: "${end}" can be reached ${at} s after the start, past the ${timeout} s timeout`);
      }
    }
  });

  test('the worst case is what the retries and timeouts make it', () => {
    const [, cluster] = Object.entries(machines).find(([id]) => id.includes('Cluster'))!;
    const { deadline, ends } = budget(cluster);
    // The wait for INITIALIZED ends in an attempt started just before the
    // deadline (60 s), the two security group rules are added (each 4
    // attempts of 20 s, EC2 errors and throttling retried, 7 s of backoff),
    // the activation's first poll fails with every retry (5 attempts of 60 s,
    // 21 s of backoff) and the failure report with it (2 attempts of 120 s, 2 s).
    assert.equal(deadline, 40 * 60);
    assert.equal(ends.get('Failed'), deadline + 60 + 2 * (4 * 20 + 7) + (5 * 60 + 21) + (2 * 120 + 2));
    assert.equal(ends.get('Not answered'), ends.get('Failed'));
    assert.ok(Math.max(...ends.values()) === ends.get('Failed'));
  });

  test('every task is guarded: nothing escapes the Catch clauses', () => {
    for (const [id, definition] of Object.entries(machines)) {
      for (const [name, state] of Object.entries(definition.States)) {
        if (state.Type !== 'Task') continue;
        const catches = state.Catch ?? [];
        assert.ok(catches.some((c) => c.ErrorEquals.includes('States.ALL')), `${id}: task "${name}" catches States.ALL`);
      }
    }
  });

  test('fails for a poll with no deadline: a loop that nothing bounds', () => {
    const loop: Definition = {
      StartAt: 'Check', TimeoutSeconds: 3300, States: {
        Check: { Type: 'Task', TimeoutSeconds: 60, Parameters: { [DEADLINE_KEY]: { Minutes: 35 } }, Next: 'Other' },
        Other: { Type: 'Task', TimeoutSeconds: 60, Next: 'Ready?' },
        'Ready?': { Type: 'Choice', Choices: [{ Next: 'Done' }], Default: 'Pause' },
        Pause: { Type: 'Wait', Seconds: 30, Next: 'Other' },
        Done: { Type: 'Succeed' },
      },
    };
    assert.throws(() => budget(loop), /the loop through "\w+" is not bounded by the deadline/);
  });

  test('the deadline is what bounds each real poll: without it in a check, the budget finds that wait unbounded', () => {
    let broken = 0;
    for (const [id, definition] of Object.entries(machines)) {
      for (const [name, state] of Object.entries(definition.States)) {
        if (!name.startsWith('Check: ') || deadlineOf(state) === undefined) continue;
        // The same workflow with this one check no longer carrying the deadline.
        const copy: Definition = structuredClone(definition);
        delete copy.States[name].Parameters![DEADLINE_KEY];
        assert.throws(() => budget(copy), /is not bounded by the deadline/, `${id}: "${name}" without the deadline`);
        broken++;
      }
    }
    // Every wait of both workflows: create, restore, activation, resize and delete.
    assert.ok(broken >= 6, `${broken} polls checked`);
  });

  test('a wait that sleeps through an expected latency still ends at the deadline: one sleep past it at most', () => {
    for (const [id, definition] of Object.entries(machines)) {
      const { deadline, latest } = budget(definition);
      const sleeps = Object.entries(definition.States).filter(([name, s]) => s.Type === 'Wait' && name.startsWith('Sleep: '));
      if (id.includes('Cluster')) assert.ok(sleeps.length > 0, `${id}: its waits sleep through AWS's latencies`);
      for (const [name, sleep] of sleeps) {
        assert.ok(sleep.Seconds! <= MAX_SLEEP.toSeconds(), `${id}: "${name}" sleeps ${sleep.Seconds} s`);
        // The check before the sleep started its last attempt before the deadline.
        const check = definition.States[sleep.Next!];
        assert.ok(latest.get(sleep.Next!)! <= deadline + check.TimeoutSeconds! + MAX_SLEEP.toSeconds(), `${id}: after "${name}"`);
      }
    }
  });

  test('a documented slow run ends before the deadline', () => {
    // How long AWS takes, at the slow end of what DESIGN.md records (cluster
    // ~5 min, an HSM 10-20 min), and our estimates for the rest.
    const documented: Record<string, number> = {
      'Wait for the cluster to be UNINITIALIZED': 5, 'Wait for the first HSM and the CSR': 20,
      'Wait for the cluster to be INITIALIZED': 3, 'Activate the cluster on the management client': 3,
      'Wait for the cluster to be ACTIVE': 1, 'Wait for the restored cluster to be ACTIVE': 10,
      'Wait for every HSM to be ACTIVE': 20, 'Point the management client at the HSMs': 3,
      'Delete every HSM': 10, 'Delete the cluster': 5,
    };
    const create = ['Wait for the cluster to be UNINITIALIZED', 'Wait for the first HSM and the CSR',
      'Wait for the cluster to be INITIALIZED', 'Activate the cluster on the management client', 'Wait for the cluster to be ACTIVE'];
    const paths = [create, ['Wait for every HSM to be ACTIVE', 'Point the management client at the HSMs'],
      ['Delete every HSM', 'Delete the cluster'], ['Wait for the restored cluster to be ACTIVE']];
    const states: Record<string, State> = Object.assign({}, ...Object.values(machines).map((d) => d.States));
    for (const path of paths) {
      const minutes = path.reduce((sum, wait) => {
        assert.ok(states[`Check: ${wait}`], `a workflow polls "${wait}"`);
        // A wait sleeps through what it expects, then notices the change within a poll interval and a check.
        const expect = states[`Expect: ${wait}`];
        const slept = expect ? (expect.Result!.Left as number) * states[`Sleep: ${wait}`].Seconds! : 0;
        const poll = states[`Wait: ${wait}`].Seconds! + states[`Check: ${wait}`].TimeoutSeconds!;
        return sum + Math.max(documented[wait], slept / 60) + poll / 60;
      }, 0);
      assert.ok(minutes < 40, `${path.join(' -> ')}: ${minutes} min`);
    }
  });
});
