// What each role of a cluster may do: the actions, the resources, and that a
// wildcard resource is used only where AWS has no resource-level permission
// or a condition narrows it.
import * as assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as kms from 'aws-cdk-lib/aws-kms';
import { CloudHsmCluster, type CloudHsmClusterProps, CloudHsmKey } from '../lib/index.js';
import { ISOLATED, stackWithVpc } from './support.ts';

/**
 * Actions the construct grants on `*` without a condition, each with no
 * resource-level permission in the IAM service reference (the emulator's
 * `tests/emulator/test_authz_reference.py` checks this list against it).
 */
const NO_RESOURCE_LEVEL = new Set([
  'cloudhsm:DescribeClusters', 'cloudhsm:DescribeBackups', 'cloudhsm:DeleteHsm',
  'secretsmanager:ListSecrets', 'ssm:GetCommandInvocation',
  'kms:CreateCustomKeyStore', 'kms:DescribeCustomKeyStores', 'kms:ConnectCustomKeyStore', 'kms:DisconnectCustomKeyStore',
  'kms:UpdateCustomKeyStore', 'kms:DeleteCustomKeyStore', 'kms:ListKeys', 'kms:CreateKey',
  'logs:CreateLogDelivery', 'logs:GetLogDelivery', 'logs:UpdateLogDelivery', 'logs:DeleteLogDelivery',
  'logs:ListLogDeliveries', 'logs:PutResourcePolicy', 'logs:DescribeResourcePolicies', 'logs:DescribeLogGroups',
  'xray:PutTraceSegments', 'xray:PutTelemetryRecords', 'xray:GetSamplingRules', 'xray:GetSamplingTargets',
]);

interface Statement {
  readonly Effect: string;
  readonly Action: string | string[];
  readonly Resource: unknown;
  readonly Condition?: Record<string, unknown>;
  readonly Sid?: string;
}

interface CfnResource {
  readonly Type: string;
  readonly Properties: {
    readonly ManagedPolicyArns?: unknown[];
    readonly Roles: { Ref: string }[];
    readonly PolicyDocument: { Statement: Statement[] };
  };
}

interface Role {
  readonly logicalId: string;
  readonly statements: Statement[];
  readonly managedPolicies: unknown[];
}

const asList = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);

/** Every role in the stack, with the statements of the policies attached to it. */
function roles(stack: Stack): Map<string, Role> {
  const resources = Template.fromStack(stack).toJSON().Resources as Record<string, CfnResource>;
  const found = new Map<string, Role>();
  for (const [logicalId, resource] of Object.entries(resources)) {
    if (resource.Type === 'AWS::IAM::Role') {
      found.set(logicalId, { logicalId, statements: [], managedPolicies: resource.Properties.ManagedPolicyArns ?? [] });
    }
  }
  for (const resource of Object.values(resources)) {
    if (resource.Type !== 'AWS::IAM::Policy') continue;
    for (const ref of resource.Properties.Roles) {
      found.get(ref.Ref)?.statements.push(...resource.Properties.PolicyDocument.Statement);
    }
  }
  return found;
}

function role(all: Map<string, Role>, prefix: string): Role {
  const matching = [...all.values()].filter((r) => r.logicalId.startsWith(prefix));
  assert.equal(matching.length, 1, `one role whose logical id starts with ${prefix}: ${[...all.keys()].join(', ')}`);
  return matching[0];
}

const actionsOf = (r: Role) => new Set(r.statements.flatMap((s) => asList(s.Action)));

function cluster(props: Partial<CloudHsmClusterProps> = {}): { stack: Stack; roles: Map<string, Role> } {
  const { stack, vpc } = stackWithVpc();
  new CloudHsmCluster(stack, 'Hsm', { vpc, vpcSubnets: ISOLATED, ...props });
  return { stack, roles: roles(stack) };
}

describe('IAM policies', () => {
  const { roles: all } = cluster();

  test('the entry function may only start, list, read and stop the executions of the two workflows, and read their histories', () => {
    const entry = role(all, 'HsmEntryFunctionServiceRole');
    const perWorkflow = [['states:StartExecution', 'states:ListExecutions'], ['states:DescribeExecution', 'states:StopExecution']];
    assert.deepEqual(entry.statements.map((s) => s.Action), [...perWorkflow, ...perWorkflow, 'states:GetExecutionHistory']);
    const resources = entry.statements.slice(0, 4).map((s) => JSON.stringify(s.Resource));
    for (const workflow of ['Hsm-ClusterWorkflow', 'Hsm-HsmsWorkflow']) {
      assert.ok(resources.some((r) => r.includes(`:stateMachine:`) && r.includes(workflow)), resources.join());
      assert.ok(resources.some((r) => r.includes(`:execution:`) && r.includes(`${workflow}`)), resources.join());
    }
    const history = asList(entry.statements[4].Resource).map((r) => JSON.stringify(r));
    assert.equal(history.length, 2);
    for (const r of history) assert.match(r, /:execution:/);
    assert.ok(history.some((r) => /Hsm-ClusterWorkflow/.test(r)) && history.some((r) => /Hsm-HsmsWorkflow/.test(r)), history.join());
  });

  test('the tasks function holds exactly the actions its steps call', () => {
    const tasks = role(all, 'HsmTasksFunctionServiceRole');
    assert.deepEqual([...actionsOf(tasks)].sort(), [
      'cloudhsm:CreateCluster', 'cloudhsm:CreateHsm', 'cloudhsm:DeleteCluster', 'cloudhsm:DeleteHsm',
      'cloudhsm:DescribeBackups', 'cloudhsm:DescribeClusters', 'cloudhsm:InitializeCluster', 'cloudhsm:ModifyCluster',
      'cloudhsm:TagResource',
      'ec2:AuthorizeSecurityGroupEgress', 'ec2:AuthorizeSecurityGroupIngress', 'ec2:CreateNetworkInterface',
      'ec2:CreateSecurityGroup', 'ec2:DeleteNetworkInterface', 'ec2:DeleteSecurityGroup', 'ec2:DescribeNetworkInterfaces',
      'ec2:DescribeSecurityGroups', 'ec2:DescribeSubnets', 'ec2:RevokeSecurityGroupEgress',
      'iam:CreateServiceLinkedRole',
      'kms:DescribeCustomKeyStores',
      'secretsmanager:GetSecretValue', 'secretsmanager:ListSecrets', 'secretsmanager:PutSecretValue',
      'secretsmanager:TagResource',
      'ssm:GetCommandInvocation', 'ssm:SendCommand',
    ]);
  });

  test('the tasks function only reads key stores, to keep a connected one\'s two HSMs in two zones on a resize', () => {
    const tasks = role(all, 'HsmTasksFunctionServiceRole');
    const keyStores = tasks.statements.filter((s) => asList(s.Action).some((a) => a.startsWith('kms:')));
    assert.deepEqual(keyStores.map((s) => [s.Sid, s.Action, s.Resource]), [['FindKeyStoresOnClusters', 'kms:DescribeCustomKeyStores', '*']]);
  });

  test('the tasks function changes only clusters tagged with its stack', () => {
    const tasks = role(all, 'HsmTasksFunctionServiceRole');
    const create = tasks.statements.find((s) => s.Sid === 'CreateClustersOfThisStack')!;
    assert.deepEqual(create.Condition, { StringEquals: { 'aws:RequestTag/cdk-cloudhsm:stack-id': { Ref: 'AWS::StackId' } } });
    const change = tasks.statements.find((s) => s.Sid === 'ChangeClustersOfThisStack')!;
    assert.deepEqual(change.Condition, { StringEquals: { 'aws:ResourceTag/cdk-cloudhsm:stack-id': { Ref: 'AWS::StackId' } } });
    assert.match(JSON.stringify(change.Resource), /:cluster\/\*/);
  });

  test('commands go only to the client, with the construct\'s two documents', () => {
    const tasks = role(all, 'HsmTasksFunctionServiceRole');
    const send = tasks.statements.find((s) => s.Action === 'ssm:SendCommand')!;
    const text = JSON.stringify(send.Resource);
    assert.equal(asList(send.Resource).length, 3);
    assert.match(text, /document\//);
    assert.match(text, /instance\//);
  });

  test('the workflows invoke only the tasks function and touch only the client\'s and the VPC\'s groups', () => {
    for (const prefix of ['HsmClusterWorkflowStateMachineRole', 'HsmHsmsWorkflowStateMachineRole']) {
      const workflow = role(all, prefix);
      for (const statement of workflow.statements.filter((s) => asList(s.Action).includes('lambda:InvokeFunction'))) {
        assert.match(JSON.stringify(statement.Resource), /Hsm(Tasks|Entry)Function/);
      }
      const ec2 = workflow.statements.filter((s) => asList(s.Action).some((a) => a.startsWith('ec2:')));
      for (const statement of ec2) assert.notEqual(statement.Resource, '*');
    }
  });

  test('the cluster workflow adds and revokes the HSM port rules in both directions', () => {
    const workflow = role(all, 'HsmClusterWorkflowStateMachineRole');
    // As Step Functions' SDK integrations name them (IAM actions are case-insensitive).
    assert.deepEqual([...actionsOf(workflow)].filter((a) => a.startsWith('ec2:')).sort(), [
      'ec2:authorizeSecurityGroupEgress', 'ec2:authorizeSecurityGroupIngress',
      'ec2:revokeSecurityGroupEgress', 'ec2:revokeSecurityGroupIngress',
    ]);
  });

  test('the management client reads only the admin password and the CA certificate', () => {
    const client = role(all, 'HsmClientRole');
    assert.deepEqual([...actionsOf(client)].sort(), ['secretsmanager:GetSecretValue']);
    assert.equal(client.statements.length, 1);
    assert.equal(asList(client.statements[0].Resource).length, 2);
    assert.match(JSON.stringify(client.managedPolicies), /AmazonSSMManagedInstanceCore/);
  });

  test('a wildcard resource is only for an action without resource-level permissions, or carries a condition', () => {
    for (const r of all.values()) {
      if (!r.logicalId.startsWith('Hsm')) continue;
      for (const statement of r.statements) {
        if (statement.Resource !== '*' || statement.Condition) continue;
        for (const action of asList(statement.Action)) {
          assert.ok(NO_RESOURCE_LEVEL.has(action), `${r.logicalId}: ${action} on * needs a resource or a condition`);
        }
      }
    }
  });

  test('with a customer managed key, the tasks function decrypts only through Secrets Manager', () => {
    const { stack, vpc } = stackWithVpc();
    const encryptionKey = new kms.Key(stack, 'Key');
    new CloudHsmCluster(stack, 'Hsm', { vpc, vpcSubnets: ISOLATED, encryptionKey });
    const tasks = role(roles(stack), 'HsmTasksFunctionServiceRole');
    const kmsStatements = tasks.statements.filter((s) => s.Sid !== 'FindKeyStoresOnClusters' && asList(s.Action).some((a) => a.startsWith('kms:')));
    assert.ok(kmsStatements.length > 0);
    for (const statement of kmsStatements) {
      assert.match(JSON.stringify(statement.Condition), /kms:ViaService/, JSON.stringify(statement));
    }
  });
});

describe('IAM policies of a key store and its keys', () => {
  const { stack, vpc } = stackWithVpc();
  const hsm = new CloudHsmCluster(stack, 'Hsm', { vpc, vpcSubnets: ISOLATED });
  new CloudHsmKey(stack, 'Key', { keyStore: hsm.addKeyStore('KeyStore') });
  const all = roles(stack);

  test('the key store\'s entry function may only start, list, read and stop the key store and key workflows\' executions', () => {
    const entry = role(all, 'HsmKeyStoreMachineryEntryFunctionServiceRole');
    const perWorkflow = [['states:StartExecution', 'states:ListExecutions'], ['states:DescribeExecution', 'states:StopExecution']];
    assert.deepEqual(entry.statements.map((s) => s.Action), [...perWorkflow, ...perWorkflow, 'states:GetExecutionHistory']);
    const resources = entry.statements.map((s) => JSON.stringify(s.Resource));
    for (const workflow of ['KeyStoreWorkflow', 'KeyWorkflow']) {
      assert.ok(resources.some((r) => r.includes(':stateMachine:') && r.includes(workflow)), resources.join());
      assert.ok(resources.some((r) => r.includes(':execution:') && r.includes(workflow)), resources.join());
    }
  });

  test('the key store\'s tasks function holds exactly the actions its steps call', () => {
    const tasks = role(all, 'HsmKeyStoreMachineryTasksFunctionServiceRole');
    assert.deepEqual([...actionsOf(tasks)].sort(), [
      'cloudhsm:DescribeClusters', 'iam:CreateServiceLinkedRole',
      'kms:ConnectCustomKeyStore', 'kms:CreateCustomKeyStore', 'kms:CreateKey', 'kms:DeleteCustomKeyStore',
      'kms:DescribeCustomKeyStores', 'kms:DescribeKey', 'kms:DisconnectCustomKeyStore', 'kms:ListKeys',
      'kms:ListResourceTags', 'kms:PutKeyPolicy', 'kms:ScheduleKeyDeletion', 'kms:TagResource',
      'kms:UntagResource', 'kms:UpdateCustomKeyStore', 'kms:UpdateKeyDescription',
      'secretsmanager:GetSecretValue',
      'ssm:GetCommandInvocation', 'ssm:SendCommand',
    ]);
  });

  test('CreateCustomKeyStore\'s dependent actions: DescribeClusters, and only KMS\'s key store service-linked role', () => {
    const tasks = role(all, 'HsmKeyStoreMachineryTasksFunctionServiceRole');
    const stores = tasks.statements.find((s) => s.Sid === 'KeyStores')!;
    assert.ok(asList(stores.Action).includes('cloudhsm:DescribeClusters'));
    const slr = tasks.statements.find((s) => s.Sid === 'KeyStoresServiceLinkedRole')!;
    assert.deepEqual(slr.Condition, { StringEquals: { 'iam:AWSServiceName': 'cks.kms.amazonaws.com' } });
    assert.match(JSON.stringify(slr.Resource),
      /:role\/aws-service-role\/cks\.kms\.amazonaws\.com\/AWSServiceRoleForKeyManagementServiceCustomKeyStores/);
  });

  test('keys are changed only when they are in a CloudHSM key store', () => {
    const tasks = role(all, 'HsmKeyStoreMachineryTasksFunctionServiceRole');
    const manage = tasks.statements.find((s) => s.Sid === 'ManageKeysInKeyStores')!;
    assert.deepEqual(manage.Condition, { StringEquals: { 'kms:KeyOrigin': 'AWS_CLOUDHSM' } });
    assert.match(JSON.stringify(manage.Resource), /:key\/\*/);
  });

  test('the key store\'s tasks function reads the kmsuser password and the trust anchor, never the admin password', () => {
    const tasks = role(all, 'HsmKeyStoreMachineryTasksFunctionServiceRole');
    const read = tasks.statements.find((s) => s.Sid === 'KeyStoreSecrets')!;
    const text = JSON.stringify(read.Resource);
    assert.match(text, /KmsUserPassword/);
    assert.match(text, /CaCertificate/);
    assert.doesNotMatch(text, /AdminPassword/);
  });

  test('commands go only to the cluster\'s client, with the key store\'s own document', () => {
    const tasks = role(all, 'HsmKeyStoreMachineryTasksFunctionServiceRole');
    const send = tasks.statements.find((s) => s.Action === 'ssm:SendCommand')!;
    const text = JSON.stringify(send.Resource);
    assert.equal(asList(send.Resource).length, 2);
    assert.match(text, /KmsUserDocument/);
    assert.match(text, /HsmClientInstance/);
  });

  test('the management client also reads the kmsuser password, and nothing else new', () => {
    const client = role(all, 'HsmClientRole');
    assert.deepEqual([...actionsOf(client)].sort(), ['secretsmanager:GetSecretValue']);
    assert.match(JSON.stringify(client.statements), /KmsUserPassword/);
  });

  test('a wildcard resource is only for an action without resource-level permissions, or carries a condition', () => {
    for (const r of all.values()) {
      if (!r.logicalId.startsWith('HsmKeyStore')) continue;
      for (const statement of r.statements) {
        if (statement.Resource !== '*' || statement.Condition) continue;
        for (const action of asList(statement.Action)) {
          assert.ok(NO_RESOURCE_LEVEL.has(action), `${r.logicalId}: ${action} on * needs a resource or a condition`);
        }
      }
    }
  });
});
