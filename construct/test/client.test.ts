import * as assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as kms from 'aws-cdk-lib/aws-kms';
import { CloudHsmCluster } from '../lib/index.js';
import { ISOLATED, isolatedVpc, stackWithVpc } from './support.ts';

describe('CloudHsmCluster management client', () => {
  test('its IMDSv2 launch template has no fixed name, so two clusters fit in one region', () => {
    const { stack, vpc } = stackWithVpc(2, 'Two');
    const vpcSubnets = ISOLATED;
    new CloudHsmCluster(stack, 'First', { vpc, vpcSubnets });
    new CloudHsmCluster(stack, 'Second', { vpc, vpcSubnets });
    const template = Template.fromStack(stack);
    const launchTemplates = template.findResources('AWS::EC2::LaunchTemplate');
    assert.equal(Object.keys(launchTemplates).length, 2);
    for (const [id, resource] of Object.entries(launchTemplates)) {
      assert.equal(resource.Properties.LaunchTemplateName, undefined, `${id} has no fixed name`);
      assert.equal(resource.Properties.LaunchTemplateData.MetadataOptions.HttpTokens, 'required');
    }
    const instances = Object.values(template.findResources('AWS::EC2::Instance'));
    assert.equal(instances.length, 2);
    const used = instances.map((instance) => instance.Properties.LaunchTemplate.LaunchTemplateId.Ref).sort();
    assert.deepEqual(used, Object.keys(launchTemplates).sort(), 'each instance uses its own launch template');
  });
});

describe('CloudHsmCluster encryption key', () => {
  test('the key policy lets CloudWatch Logs of the account and region encrypt the log groups, once', () => {
    const stack = new Stack(new App(), 'Keyed', { env: { account: '123456789012', region: 'eu-west-1' } });
    const vpc = isolatedVpc(stack);
    const encryptionKey = new kms.Key(stack, 'Key');
    new CloudHsmCluster(stack, 'Hsm', { vpc, vpcSubnets: ISOLATED, encryptionKey });
    const template = Template.fromStack(stack);
    const key = Object.values(template.findResources('AWS::KMS::Key'))[0];
    interface Statement { Principal?: { Service?: string }; Action: string[]; Condition?: unknown }
    const logs = (key.Properties.KeyPolicy.Statement as Statement[])
      .filter((s) => s.Principal?.Service === 'logs.eu-west-1.amazonaws.com');
    assert.equal(logs.length, 1, 'one statement for the logs service');
    assert.ok(logs[0].Action.includes('kms:GenerateDataKey*'));
    assert.deepEqual(logs[0].Condition, {
      ArnLike: {
        'kms:EncryptionContext:aws:logs:arn': {
          'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':logs:eu-west-1:123456789012:log-group:*']],
        },
      },
    });
    const groups = Object.values(template.findResources('AWS::Logs::LogGroup'));
    assert.ok(groups.length >= 4, 'entry, tasks and both workflows log');
    for (const group of groups) {
      assert.deepEqual(group.Properties.KmsKeyId, { 'Fn::GetAtt': [Object.keys(template.findResources('AWS::KMS::Key'))[0], 'Arn'] });
    }
  });
});
