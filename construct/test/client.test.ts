import * as assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { CloudHsmCluster } from '../lib/index.js';

describe('CloudHsmCluster management client', () => {
  test('its IMDSv2 launch template has no fixed name, so two clusters fit in one region', () => {
    const stack = new Stack(new App(), 'Two');
    const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 0, subnetConfiguration: [
      { name: 'hsm', subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
    ] });
    const vpcSubnets = { subnetType: ec2.SubnetType.PRIVATE_ISOLATED };
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
