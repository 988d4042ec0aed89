// The rendered state machine definitions, kept under test/__snapshots__ so
// that every change to a workflow shows in review. The Rust contract test
// (handlers/contract-gen/tests/workflows.rs) reads the same file and checks
// every payload against the step types. After a deliberate change, run
//   UPDATE_SNAPSHOTS=1 node --test test/workflows.test.ts
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test, describe } from 'node:test';
import { fileURLToPath } from 'node:url';
import validateAsl from 'asl-validator';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { CloudHsmCluster, CloudHsmKey, ClusterPkiKind } from '../lib/index.js';
import { PKI_KINDS } from '../lib/private/contract.generated.js';
import { ISOLATED, isolatedVpc } from './support.ts';

const SNAPSHOT = path.join(path.dirname(fileURLToPath(import.meta.url)), '__snapshots__', 'workflows.json');

/** A CloudFormation value with its references written as `${LogicalId}` or `${LogicalId.Attribute}`. */
function render(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(render);
  if (value === null || typeof value !== 'object') return value;
  const object = value as Record<string, unknown>;
  if ('Ref' in object) return `\${${object.Ref as string}}`;
  if ('Fn::GetAtt' in object) return `\${${(object['Fn::GetAtt'] as string[]).join('.')}}`;
  if ('Fn::Join' in object) {
    const [separator, parts] = object['Fn::Join'] as [string, unknown[]];
    return parts.map((part) => String(render(part))).join(separator);
  }
  return Object.fromEntries(Object.entries(object).map(([k, v]) => [k, render(v)]));
}

/** What the workflows and the handlers exchange, as synthesized for the default cluster with a key store and a key. */
function synthesized(): Record<string, unknown> {
  const stack = new Stack(new App(), 'Contract');
  const cluster = new CloudHsmCluster(stack, 'Hsm', { vpc: isolatedVpc(stack), vpcSubnets: ISOLATED });
  new CloudHsmKey(stack, 'Key', { keyStore: cluster.addKeyStore('KeyStore') });
  const template = Template.fromStack(stack).toJSON() as { Resources: Record<string, { Type: string; Properties: Record<string, unknown> }> };
  const snapshot: Record<string, unknown> = { stateMachines: {}, functions: {}, properties: {} };
  for (const [id, resource] of Object.entries(template.Resources)) {
    if (resource.Type === 'AWS::StepFunctions::StateMachine') {
      const definition = JSON.parse(render(resource.Properties.DefinitionString) as string);
      // By name: the entry function routes resource types to these names.
      (snapshot.stateMachines as Record<string, unknown>)[resource.Properties.StateMachineName as string] = definition;
    } else if (resource.Type === 'AWS::Lambda::Function') {
      (snapshot.functions as Record<string, unknown>)[`\${${id}.Arn}`] = render(resource.Properties.Environment ?? {});
    } else if (resource.Type.startsWith('Custom::')) {
      const { ServiceToken: _token, ...properties } = resource.Properties;
      (snapshot.properties as Record<string, unknown>)[resource.Type] = render(properties);
    }
  }
  return snapshot;
}

describe('workflow definitions', () => {
  test('match the reviewed snapshot', () => {
    const current = synthesized();
    if (process.env.UPDATE_SNAPSHOTS) {
      fs.mkdirSync(path.dirname(SNAPSHOT), { recursive: true });
      fs.writeFileSync(SNAPSHOT, `${JSON.stringify(current, null, 2)}\n`);
    }
    const reviewed = fs.existsSync(SNAPSHOT) ? JSON.parse(fs.readFileSync(SNAPSHOT, 'utf-8')) : undefined;
    assert.deepEqual(current, reviewed,
      'the synthesized workflows differ from test/__snapshots__/workflows.json: review the difference, then run ' +
      'UPDATE_SNAPSHOTS=1 node --test test/workflows.test.ts (and cargo test -p contract-gen)');
  });

  test('every state machine is valid Amazon States Language', () => {
    // As deployed: pseudo parameters and function ARNs resolved to real-looking values.
    const deployed = JSON.stringify(synthesized().stateMachines)
      .replaceAll('${AWS::Partition}', 'aws')
      .replaceAll('${AWS::Region}', 'us-east-1')
      .replaceAll('${AWS::AccountId}', '123456789012')
      .replace(/\$\{([A-Za-z0-9]+)\.Arn\}/g, 'arn:aws:lambda:us-east-1:123456789012:function:$1');
    const machines = JSON.parse(deployed) as Record<string, object>;
    assert.equal(Object.keys(machines).length, 4);
    for (const [name, definition] of Object.entries(machines)) {
      const { isValid, errors } = validateAsl(definition);
      assert.ok(isValid, `${name}: ${JSON.stringify(errors)}`);
    }
  });

  test('no payload spells a secret value, and the per-cluster constants are in the tasks function', () => {
    const current = synthesized();
    const text = JSON.stringify(current.stateMachines);
    assert.ok(!text.includes('SecretString'), 'no secret value in a definition');
    assert.ok(!/SecretArn/.test(text), 'secret ARNs are in the tasks function environment, not in payloads');
    const environments = JSON.stringify(current.functions);
    assert.ok(environments.includes('CA_CERTIFICATE_SECRET_ARN'));
  });
});

describe('public enums of the protocol', () => {
  test('ClusterPkiKind has exactly the PKI kinds the handlers read', () => {
    assert.deepEqual(Object.values(ClusterPkiKind).sort(), Object.values(PKI_KINDS).sort());
  });
});
