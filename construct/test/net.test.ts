// The net under the workflows: an EventBridge rule sends the entry function
// every execution of the cluster's workflows that ends FAILED, TIMED_OUT or
// ABORTED, so that one that could not answer CloudFormation is answered.
import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import { Template, Match } from 'aws-cdk-lib/assertions';
import { CloudHsmCluster } from '../lib/index.js';
import { STATUS_CHANGE_DETAIL_TYPE } from '../lib/private/contract.generated.js';
import { ISOLATED, stackWithVpc } from './support.ts';

test('ended executions of both workflows go to the entry function, which may read their history', () => {
  const { stack, vpc } = stackWithVpc();
  new CloudHsmCluster(stack, 'Hsm', { vpc, vpcSubnets: ISOLATED });
  const template = Template.fromStack(stack);
  const machines = Object.values(template.findResources('AWS::StepFunctions::StateMachine'))
    .map((m) => m.Properties.StateMachineName as string);
  assert.equal(machines.length, 2);
  const entry = Object.keys(template.findResources('AWS::Lambda::Function', {
    Properties: { Description: Match.stringLikeRegexp('answers CloudFormation') },
  }));
  assert.equal(entry.length, 1);
  const [rule] = Object.values(template.findResources('AWS::Events::Rule'));
  assert.ok(rule, 'one rule');
  const pattern = rule.Properties.EventPattern;
  assert.deepEqual(pattern.source, ['aws.states']);
  assert.deepEqual(pattern['detail-type'], [STATUS_CHANGE_DETAIL_TYPE]);
  assert.deepEqual(pattern.detail.status, ['FAILED', 'TIMED_OUT', 'ABORTED']);
  const arns = JSON.stringify(pattern.detail.stateMachineArn);
  for (const name of machines) assert.ok(arns.includes(`stateMachine:${name}`), `${name} in ${arns}`);
  assert.deepEqual(rule.Properties.Targets.map((t: { Arn: unknown }) => t.Arn), [{ 'Fn::GetAtt': [entry[0], 'Arn'] }]);
  template.hasResourceProperties('AWS::Lambda::Permission', {
    Action: 'lambda:InvokeFunction',
    Principal: 'events.amazonaws.com',
    FunctionName: { 'Fn::GetAtt': [entry[0], 'Arn'] },
    SourceArn: Match.anyValue(),
  });
  const policies = JSON.stringify(template.findResources('AWS::IAM::Policy'));
  for (const name of machines) assert.ok(policies.includes(`execution:${name}:*`), `GetExecutionHistory on ${name}'s executions`);
  assert.ok(policies.includes('states:GetExecutionHistory'));
});
