import * as assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { App, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
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

describe('CloudHsmCluster management client network', () => {
  const WARNING = /the management client's subnets \((.*)\) have no route to a NAT gateway that CDK knows of, and the VPC has no interface endpoints for (.*): the client could not register with Systems Manager/;

  function warnings(stack: Stack): string[] {
    return Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('management client'))
      .map((w) => String(w.entry.data));
  }

  test('an isolated client subnet without endpoints is warned about, naming the subnets and the three endpoints', () => {
    const { stack, vpc } = stackWithVpc();
    new CloudHsmCluster(stack, 'Hsm', { vpc, vpcSubnets: ISOLATED });
    const [warning, ...more] = warnings(stack);
    assert.equal(more.length, 0, 'one warning');
    const [, subnets, endpoints] = WARNING.exec(warning) ?? assert.fail(warning);
    assert.equal(subnets, 'Test/Vpc/hsmSubnet1');
    assert.equal(endpoints, 'ssm, ssmmessages, ec2messages');
    assert.match(warning, /InterfaceVpcEndpointAwsService\.SSM, InterfaceVpcEndpointAwsService\.SSM_MESSAGES, InterfaceVpcEndpointAwsService\.EC2_MESSAGES/);
  });

  test('endpoints added after the cluster silence the warning, and a missing one is named', () => {
    const { stack, vpc } = stackWithVpc();
    new CloudHsmCluster(stack, 'Hsm', { vpc, vpcSubnets: ISOLATED });
    vpc.addInterfaceEndpoint('Ssm', { service: ec2.InterfaceVpcEndpointAwsService.SSM });
    vpc.addInterfaceEndpoint('Messages', { service: ec2.InterfaceVpcEndpointAwsService.SSM_MESSAGES });
    const [warning] = warnings(stack);
    assert.equal(WARNING.exec(warning)?.[2], 'ec2messages');
    vpc.addInterfaceEndpoint('Ec2Messages', { service: ec2.InterfaceVpcEndpointAwsService.EC2_MESSAGES });
    const { stack: other, vpc: otherVpc } = stackWithVpc(2, 'WithEndpoints');
    new CloudHsmCluster(other, 'Hsm', { vpc: otherVpc, vpcSubnets: ISOLATED });
    for (const [id, service] of Object.entries({ Ssm: ec2.InterfaceVpcEndpointAwsService.SSM,
      Messages: ec2.InterfaceVpcEndpointAwsService.SSM_MESSAGES, Ec2: ec2.InterfaceVpcEndpointAwsService.EC2_MESSAGES })) {
      otherVpc.addInterfaceEndpoint(id, { service });
    }
    assert.deepEqual(warnings(other), []);
  });

  test('the tasks function is told what the client\'s template lacks, for the error when it never registers', () => {
    const network = (stack: Stack): string => {
      const [fn] = Object.values(Template.fromStack(stack).findResources('AWS::Lambda::Function', {
        Properties: { Environment: { Variables: { CLIENT_NETWORK: Match.anyValue() } } },
      }));
      return JSON.stringify(fn.Properties.Environment.Variables.CLIENT_NETWORK);
    };
    const { stack, vpc } = stackWithVpc();
    new CloudHsmCluster(stack, 'Hsm', { vpc, vpcSubnets: ISOLATED });
    vpc.addInterfaceEndpoint('Ssm', { service: ec2.InterfaceVpcEndpointAwsService.SSM });
    const isolated = network(stack);
    assert.match(isolated, /"Missing in the template: a route 0.0.0.0\/0 to a NAT gateway from the client's subnet ",\{"Ref":"VpchsmSubnet1/);
    assert.match(isolated, /or interface endpoints for ssmmessages, ec2messages in its VPC \(its role has the SSM core permissions/);
    const egress = new Stack(new App(), 'Egress');
    const egressVpc = new ec2.Vpc(egress, 'Vpc', { maxAzs: 2, natGateways: 1 });
    new CloudHsmCluster(egress, 'Hsm', { vpc: egressVpc });
    assert.match(network(egress), /gives the client what Systems Manager needs: .* and a route 0.0.0.0\/0 to a NAT gateway/);
  });

  test('an imported subnet without known routes is warned about by its id', () => {
    const stack = new Stack(new App(), 'Imported');
    const vpc = ec2.Vpc.fromVpcAttributes(stack, 'Vpc', {
      vpcId: 'vpc-12345678', availabilityZones: ['eu-west-1a'], privateSubnetIds: ['subnet-0a1b2c3d'],
    });
    new CloudHsmCluster(stack, 'Hsm', { vpc, vpcSubnets: { subnets: vpc.privateSubnets } });
    const [warning] = warnings(stack);
    assert.equal(WARNING.exec(warning)?.[1], 'subnet-0a1b2c3d');
  });

  test('a client in private subnets with a NAT route is not warned about and starts after that route', () => {
    const stack = new Stack(new App(), 'Egress');
    const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 1, subnetConfiguration: [
      { name: 'public', subnetType: ec2.SubnetType.PUBLIC },
      { name: 'private', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
    ] });
    new CloudHsmCluster(stack, 'Hsm', { vpc });
    assert.deepEqual(warnings(stack), []);
    const template = Template.fromStack(stack);
    const [instance] = Object.values(template.findResources('AWS::EC2::Instance'));
    const [route] = Object.entries(template.findResources('AWS::EC2::Route', {
      Properties: { DestinationCidrBlock: '0.0.0.0/0', NatGatewayId: Match.anyValue(), RouteTableId: Match.anyValue() },
    })).filter(([id]) => id.startsWith('VpcprivateSubnet1'));
    assert.ok(route, 'the first private subnet routes through the NAT gateway');
    assert.ok((instance.DependsOn as string[]).includes(route[0]), `the instance waits for ${route[0]}: ${instance.DependsOn}`);
  });
});
