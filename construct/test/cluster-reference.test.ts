import * as assert from 'node:assert/strict';
import { test, describe } from 'node:test';
import { App, Duration, Stack, Token } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import { CloudHsmCluster, type CloudHsmClusterAttributes, type ICloudHsmCluster } from '../lib/index.js';
import { stackWithVpc } from './support.ts';

const CLUSTER_ID = 'cluster-abcdefghijk';
const SECURITY_GROUP_ID = 'sg-0123456789abcdef0';

/** Every named metric method, with the metric name and the statistic it defaults to. */
type NamedMetric = Exclude<keyof ICloudHsmCluster & `metric${string}`, 'metric'>;
const NAMED_METRICS: [NamedMetric, string, string][] = [
  ['metricHsmUnhealthy', 'HsmUnhealthy', 'Maximum'],
  ['metricHsmTemperature', 'HsmTemperature', 'Maximum'],
  ['metricHsmKeysSessionOccupied', 'HsmKeysSessionOccupied', 'Maximum'],
  ['metricHsmKeysTokenOccupied', 'HsmKeysTokenOccupied', 'Maximum'],
  ['metricHsmSslCtxsOccupied', 'HsmSslCtxsOccupied', 'Maximum'],
  ['metricHsmSessionCount', 'HsmSessionCount', 'Maximum'],
  ['metricHsmUsersAvailable', 'HsmUsersAvailable', 'Minimum'],
  ['metricHsmUsersMax', 'HsmUsersMax', 'Maximum'],
  ['metricInterfaceEth2OctetsInput', 'InterfaceEth2OctetsInput', 'Maximum'],
  ['metricInterfaceEth2OctetsOutput', 'InterfaceEth2OctetsOutput', 'Maximum'],
];

/** A stack with a new cluster, and a second one with an imported cluster. */
function clusters(): { stack: Stack; vpc: ec2.Vpc; made: ICloudHsmCluster; imported: ICloudHsmCluster } {
  const { stack, vpc } = stackWithVpc();
  const made = new CloudHsmCluster(stack, 'Hsm', { vpc, vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED } });
  const imported = CloudHsmCluster.fromClusterAttributes(stack, 'Imported', {
    clusterId: CLUSTER_ID, securityGroupId: SECURITY_GROUP_ID,
  });
  return { stack, vpc, made, imported };
}

/** The ARN of a cluster id in an environment-agnostic stack (CDK merges adjacent strings). */
const arnOf = (id: unknown) => ({
  'Fn::Join': ['', [
    'arn:', { Ref: 'AWS::Partition' }, ':cloudhsm:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' },
    ...(typeof id === 'string' ? [`:cluster/${id}`] : [':cluster/', id]),
  ]],
});

describe('clusterArn and grant', () => {
  test('clusterArn is the cloudhsm cluster ARN of the cluster id', () => {
    const { stack, made, imported } = clusters();
    assert.deepEqual(stack.resolve(made.clusterArn), arnOf({ 'Fn::GetAtt': ['Hsm2CBA3DD8', 'ClusterId'] }));
    assert.deepEqual(stack.resolve(imported.clusterArn), arnOf(CLUSTER_ID));
  });

  test('in a stack with an environment the ARN names its region and account', () => {
    const stack = new Stack(new App(), 'Env', { env: { account: '123456789012', region: 'eu-west-1' } });
    const imported = CloudHsmCluster.fromClusterAttributes(stack, 'Imported', {
      clusterId: CLUSTER_ID, securityGroupId: SECURITY_GROUP_ID,
    });
    assert.deepEqual(stack.resolve(imported.clusterArn), {
      'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:cloudhsm:eu-west-1:123456789012:cluster/${CLUSTER_ID}`]],
    });
  });

  test('grant allows the actions on the cluster ARN only', () => {
    const { stack, made, imported } = clusters();
    const role = new iam.Role(stack, 'App', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    const grant = made.grant(role, 'cloudhsm:DescribeClusters', 'cloudhsm:ListTags');
    imported.grant(role, 'cloudhsm:CreateHsm');
    assert.ok(grant.success);
    Template.fromStack(stack).hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: Match.stringLikeRegexp('^App') }],
      PolicyDocument: {
        Statement: [
          {
            Action: ['cloudhsm:DescribeClusters', 'cloudhsm:ListTags'],
            Effect: 'Allow',
            Resource: arnOf({ 'Fn::GetAtt': ['Hsm2CBA3DD8', 'ClusterId'] }),
          },
          { Action: 'cloudhsm:CreateHsm', Effect: 'Allow', Resource: arnOf(CLUSTER_ID) },
        ],
      },
    });
  });
});

describe('metrics', () => {
  test('metric() is in AWS/CloudHSM with the ClusterId dimension, average over 5 minutes by default', () => {
    const { stack, made, imported } = clusters();
    const metric = made.metric('HsmSessionCount');
    assert.equal(metric.namespace, 'AWS/CloudHSM');
    assert.equal(metric.metricName, 'HsmSessionCount');
    assert.equal(metric.statistic, 'Average');
    assert.equal(metric.period.toMinutes(), 5);
    assert.deepEqual(stack.resolve(metric.dimensions), { ClusterId: { 'Fn::GetAtt': ['Hsm2CBA3DD8', 'ClusterId'] } });
    assert.deepEqual(imported.metric('HsmUnhealthy').dimensions, { ClusterId: CLUSTER_ID });
  });

  test('metric() takes the options it is given', () => {
    const { made } = clusters();
    const { statistic, period, label } = made.metric('HsmKeysTokenOccupied', {
      statistic: 'p99', period: Duration.minutes(1), label: 'token keys',
    });
    assert.equal(statistic, 'p99');
    assert.equal(period.toSeconds(), 60);
    assert.equal(label, 'token keys');
  });

  test('each named metric has its CloudHSM name, the ClusterId dimension and its statistic', () => {
    const { stack, made, imported } = clusters();
    for (const cluster of [made, imported]) {
      for (const [method, name, statistic] of NAMED_METRICS) {
        const metric = cluster[method]();
        assert.equal(metric.namespace, 'AWS/CloudHSM', method);
        assert.equal(metric.metricName, name, method);
        assert.equal(metric.statistic, statistic, method);
        assert.deepEqual(Object.keys(metric.dimensions ?? {}), ['ClusterId'], method);
        assert.deepEqual(stack.resolve(metric.dimensions?.ClusterId), stack.resolve(cluster.clusterId), method);
        assert.equal(cluster[method]({ statistic: 'Average' }).statistic, 'Average', `${method} takes a statistic`);
      }
    }
  });

  test('an alarm on a named metric watches the cluster', () => {
    const { stack, made } = clusters();
    made.metricHsmUnhealthy().createAlarm(stack, 'Unhealthy', {
      threshold: 0,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
    });
    Template.fromStack(stack).hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/CloudHSM',
      MetricName: 'HsmUnhealthy',
      Statistic: 'Maximum',
      Period: 300,
      Dimensions: [{ Name: 'ClusterId', Value: { 'Fn::GetAtt': ['Hsm2CBA3DD8', 'ClusterId'] } }],
    });
  });
});

describe('fromClusterAttributes', () => {
  function importError(attrs: Partial<CloudHsmClusterAttributes>): string {
    const stack = new Stack(new App(), 'Test');
    try {
      CloudHsmCluster.fromClusterAttributes(stack, 'Imported', {
        clusterId: CLUSTER_ID, securityGroupId: SECURITY_GROUP_ID, ...attrs,
      });
    } catch (e) {
      return (e as Error).message;
    }
    assert.fail('expected the attributes to be refused');
  }

  const clusterIdProblem = (value: string) =>
    '- clusterId must be a CloudHSM cluster id like cluster-abcdefghijk (cluster- and 11 to 16 letters or digits ' +
    `2-7), got '${value}': use the ClusterId that DescribeClusters lists`;
  const securityGroupProblem = (value: string) =>
    `- securityGroupId must be a security group id like sg-0123456789abcdef0, got '${value}': use the ` +
    'SecurityGroup that DescribeClusters lists for the cluster (the group named cloudhsm-cluster-<id>-sg)';

  test('fails when clusterId is not a cluster id', () => {
    for (const value of ['abcdefghijk', 'cluster-abc', 'cluster-0189abcdefgh', 'backup-abcdefghijk']) {
      assert.equal(importError({ clusterId: value }),
        `invalid CloudHsmCluster attributes at Test/Imported:\n${clusterIdProblem(value)}`);
    }
  });

  test('fails when securityGroupId is not a security group id', () => {
    for (const value of ['cloudhsm-cluster-abcdefghijk-sg', 'sg-123', 'sg-0123456789ABCDEF0']) {
      assert.equal(importError({ securityGroupId: value }),
        `invalid CloudHsmCluster attributes at Test/Imported:\n${securityGroupProblem(value)}`);
    }
  });

  test('fails listing both problems at once', () => {
    assert.equal(importError({ clusterId: 'hsm-abcdefghijk', securityGroupId: 'sg-nope' }),
      'invalid CloudHsmCluster attributes at Test/Imported:\n' +
      `${clusterIdProblem('hsm-abcdefghijk')}\n${securityGroupProblem('sg-nope')}`);
  });

  test('accepts the id forms AWS makes, and tokens', () => {
    const stack = new Stack(new App(), 'Test');
    CloudHsmCluster.fromClusterAttributes(stack, 'Long', {
      clusterId: 'cluster-ABCDEFGH234567z', securityGroupId: 'sg-0123abcd',
    });
    const imported = CloudHsmCluster.fromClusterAttributes(stack, 'Tokens', {
      clusterId: Token.asString({ Ref: 'ClusterId' }), securityGroupId: Token.asString({ Ref: 'GroupId' }),
    });
    assert.deepEqual(stack.resolve(imported.metricHsmUnhealthy().dimensions), { ClusterId: { Ref: 'ClusterId' } });
  });

  test('an imported cluster opens the HSM ports on its security group', () => {
    const { stack, vpc, imported } = clusters();
    const app = new ec2.SecurityGroup(stack, 'AppSg', { vpc });
    imported.connections.allowDefaultPortFrom(app);
    Template.fromStack(stack).hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      GroupId: SECURITY_GROUP_ID, FromPort: 2223, ToPort: 2225,
    });
  });
});
