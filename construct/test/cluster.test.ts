import { test, describe } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { App, Duration, Stack, Token } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as acmpca from 'aws-cdk-lib/aws-acmpca';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import {
  CloudHsmCluster, type CloudHsmClusterProps, ClusterMode, ClusterPki, HsmType, NetworkType,
} from '../lib/index.js';

function stackWithVpc(maxAzs = 2): { app: App; stack: Stack; vpc: ec2.Vpc } {
  const app = new App();
  const stack = new Stack(app, 'Test');
  const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs, natGateways: 0, subnetConfiguration: [
    { name: 'hsm', subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
  ] });
  return { app, stack, vpc };
}

/** A stack in a known region, so that subnets have real AZ names. */
function regionalStack(): { stack: Stack; vpc: ec2.Vpc } {
  const stack = new Stack(new App(), 'Regional', { env: { account: '123456789012', region: 'us-east-1' } });
  const vpc = new ec2.Vpc(stack, 'Vpc', {
    availabilityZones: ['us-east-1a', 'us-east-1b', 'us-east-1c'],
    natGateways: 0,
    subnetConfiguration: [
      { name: 'a', subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
      { name: 'b', subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
    ],
  });
  return { stack, vpc };
}

function cluster(props: Partial<CloudHsmClusterProps> = {}): Template {
  const { stack, vpc } = stackWithVpc();
  new CloudHsmCluster(stack, 'Hsm', { vpc, vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED }, ...props });
  return Template.fromStack(stack);
}

function clusterError(props: Partial<CloudHsmClusterProps>): string {
  try {
    cluster(props);
  } catch (e) {
    return (e as Error).message;
  }
  assert.fail('expected the props to be refused');
}

describe('CloudHsmCluster resource', () => {
  test('defaults: ephemeral CA, FIPS hsm2m.medium, one HSM in each subnet, 90 days of backups', () => {
    const template = cluster();
    template.resourceCountIs('Custom::CloudHsmCluster', 1);
    template.hasResourceProperties('Custom::CloudHsmCluster', {
      SubnetIds: [
        { Ref: Match.stringLikeRegexp('VpchsmSubnet1') },
        { Ref: Match.stringLikeRegexp('VpchsmSubnet2') },
      ],
      HsmsPerSubnet: 1,
      HsmType: 'hsm2m.medium',
      Mode: 'FIPS',
      NetworkType: 'IPV4',
      BackupRetentionDays: 90,
      Pki: { Kind: 'EPHEMERAL_CA' },
      SourceBackupId: Match.absent(),
    });
    template.hasResource('Custom::CloudHsmCluster', { DeletionPolicy: 'Delete', UpdateReplacePolicy: 'Delete' });
  });

  test('the default subnets are the private ones, one per AZ', () => {
    const app = new App();
    const stack = new Stack(app, 'Private');
    const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 1 });
    new CloudHsmCluster(stack, 'Hsm', { vpc });
    Template.fromStack(stack).hasResourceProperties('Custom::CloudHsmCluster', {
      SubnetIds: [
        { Ref: Match.stringLikeRegexp('VpcPrivateSubnet1') },
        { Ref: Match.stringLikeRegexp('VpcPrivateSubnet2') },
      ],
    });
  });

  test('every choice reaches the resource properties', () => {
    const { stack, vpc } = stackWithVpc();
    const ca = acmpca.CertificateAuthority.fromCertificateAuthorityArn(
      stack, 'Ca', 'arn:aws:acm-pca:us-east-1:123456789012:certificate-authority/11111111-2222-3333-4444-555555555555');
    new CloudHsmCluster(stack, 'Hsm', {
      vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
      hsmsPerSubnet: 3,
      hsmType: HsmType.of('hsm2m.large'),
      mode: ClusterMode.NON_FIPS,
      networkType: NetworkType.DUALSTACK,
      backupRetention: Duration.days(379),
      pki: ClusterPki.fromCertificateAuthority(ca),
    });
    Template.fromStack(stack).hasResourceProperties('Custom::CloudHsmCluster', {
      HsmsPerSubnet: 3,
      HsmType: 'hsm2m.large',
      Mode: 'NON_FIPS',
      NetworkType: 'DUALSTACK',
      BackupRetentionDays: 379,
      Pki: {
        Kind: 'CERTIFICATE_AUTHORITY',
        CertificateAuthorityArn: 'arn:aws:acm-pca:us-east-1:123456789012:certificate-authority/11111111-2222-3333-4444-555555555555',
      },
    });
  });

  test('a cluster from a backup names the backup', () => {
    cluster({ sourceBackupId: 'backup-abcdefghijk' }).hasResourceProperties('Custom::CloudHsmCluster', {
      SourceBackupId: 'backup-abcdefghijk',
    });
  });

  test('the entry function runs the prebuilt Rust handler on arm64 by default', () => {
    const template = cluster();
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'provided.al2023',
      Handler: 'bootstrap',
      Architectures: ['arm64'],
      Environment: { Variables: { WORKFLOWS: '{}' } },
      LoggingConfig: { LogFormat: 'JSON' },
    });
    template.hasResourceProperties('Custom::CloudHsmCluster', {
      ServiceToken: { 'Fn::GetAtt': [Match.stringLikeRegexp('HsmEntryFunction'), 'Arn'] },
    });
  });

  test('x86_64 handlers can be chosen', () => {
    cluster({ handlerArchitecture: lambda.Architecture.X86_64 }).hasResourceProperties('AWS::Lambda::Function', {
      Architectures: ['x86_64'],
    });
  });

  test('the asset hash comes from the build inputs: stable across synths, distinct per architecture', () => {
    const key = (architecture: lambda.Architecture) => {
      const fn = cluster({ handlerArchitecture: architecture }).findResources('AWS::Lambda::Function');
      return Object.values(fn)[0].Properties.Code.S3Key as string;
    };
    assert.equal(key(lambda.Architecture.ARM_64), key(lambda.Architecture.ARM_64));
    assert.notEqual(key(lambda.Architecture.ARM_64), key(lambda.Architecture.X86_64));
  });

  test('the staged asset is the executable bootstrap', () => {
    const { app, stack, vpc } = stackWithVpc();
    new CloudHsmCluster(stack, 'Hsm', { vpc, vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED } });
    const assembly = app.synth();
    const staged = fs.readdirSync(assembly.directory).filter((name) => name.startsWith('asset.'));
    assert.equal(staged.length, 1);
    const bootstrap = path.join(assembly.directory, staged[0], 'bootstrap');
    assert.ok(fs.statSync(bootstrap).mode & 0o111, 'bootstrap is executable');
    assert.deepEqual(fs.readdirSync(path.join(assembly.directory, staged[0])), ['bootstrap']);
  });

  test('connections open the HSM ports on the cluster security group', () => {
    const { stack, vpc } = stackWithVpc();
    const hsm = new CloudHsmCluster(stack, 'Hsm', { vpc, vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED } });
    const app = new ec2.SecurityGroup(stack, 'App', { vpc });
    hsm.connections.allowDefaultPortFrom(app);
    Template.fromStack(stack).hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      IpProtocol: 'tcp',
      FromPort: 2223,
      ToPort: 2225,
      GroupId: { 'Fn::GetAtt': [Match.stringLikeRegexp('Hsm'), 'SecurityGroupId'] },
      SourceSecurityGroupId: { 'Fn::GetAtt': [Match.stringLikeRegexp('App'), 'GroupId'] },
    });
  });

  test('attributes resolve to the custom resource outputs', () => {
    const { stack, vpc } = stackWithVpc();
    const hsm = new CloudHsmCluster(stack, 'Hsm', { vpc, vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED } });
    assert.deepEqual(stack.resolve(hsm.clusterId), { 'Fn::GetAtt': ['Hsm2CBA3DD8', 'ClusterId'] });
    assert.deepEqual(stack.resolve(hsm.hsmIpAddresses), {
      'Fn::Split': [',', { 'Fn::GetAtt': ['Hsm2CBA3DD8', 'HsmIpAddresses'] }],
    });
  });

  test('a cluster made elsewhere can be referenced', () => {
    const { stack } = stackWithVpc();
    const imported = CloudHsmCluster.fromClusterAttributes(stack, 'Imported', {
      clusterId: 'cluster-abcdefghijk',
      securityGroupId: 'sg-0123456789abcdef0',
    });
    assert.equal(imported.clusterId, 'cluster-abcdefghijk');
    assert.equal(imported.clusterSecurityGroup.securityGroupId, 'sg-0123456789abcdef0');
    assert.equal(imported.connections.defaultPort?.toString(), '2223-2225');
  });
});

describe('CloudHsmCluster validation', () => {
  test('fails when hsmsPerSubnet is negative or fractional', () => {
    assert.equal(clusterError({ hsmsPerSubnet: -1 }),
      'invalid CloudHsmCluster props at Test/Hsm:\n- hsmsPerSubnet must be a whole number of 0 or more, got -1');
    assert.equal(clusterError({ hsmsPerSubnet: 1.5 }),
      'invalid CloudHsmCluster props at Test/Hsm:\n- hsmsPerSubnet must be a whole number of 0 or more, got 1.5');
  });

  test('fails with more than 28 HSMs in all', () => {
    assert.equal(clusterError({ hsmsPerSubnet: 15 }),
      'invalid CloudHsmCluster props at Test/Hsm:\n- hsmsPerSubnet 15 in 2 subnets makes 30 HSMs, over the 28 ' +
      'a cluster can hold: lower hsmsPerSubnet or select fewer subnets');
  });

  test('fails when backupRetention is out of range or not whole days', () => {
    assert.equal(clusterError({ backupRetention: Duration.days(6) }),
      'invalid CloudHsmCluster props at Test/Hsm:\n- backupRetention must be 7 to 379 days, got 6 days');
    assert.equal(clusterError({ backupRetention: Duration.days(380) }),
      'invalid CloudHsmCluster props at Test/Hsm:\n- backupRetention must be 7 to 379 days, got 380 days');
    assert.equal(clusterError({ backupRetention: Duration.hours(200) }),
      'invalid CloudHsmCluster props at Test/Hsm:\n- backupRetention must be whole days, got 8 days 8 hours: ' +
      'use Duration.days(n)');
  });

  test('fails when NON_FIPS is asked of a non-hsm2m type', () => {
    assert.equal(clusterError({ mode: ClusterMode.NON_FIPS, hsmType: HsmType.of('hsm1.medium') }),
      'invalid CloudHsmCluster props at Test/Hsm:\n- mode NON_FIPS needs an hsm2m HSM type, got hsmType ' +
      'hsm1.medium: use HsmType.HSM2M_MEDIUM or ClusterMode.FIPS');
  });

  test('fails when sourceBackupId is not a backup id', () => {
    assert.equal(clusterError({ sourceBackupId: 'cluster-abc' }),
      "invalid CloudHsmCluster props at Test/Hsm:\n- sourceBackupId must be a CloudHSM backup id like " +
      "backup-abcdefghijk, got 'cluster-abc'");
  });

  test('fails when an external PKI is combined with a backup', () => {
    assert.equal(clusterError({ sourceBackupId: 'backup-abcdefghijk', pki: ClusterPki.external() }),
      'invalid CloudHsmCluster props at Test/Hsm:\n- pki ClusterPki.external() cannot be combined with ' +
      'sourceBackupId: a cluster restored from a backup is already initialized; remove one of them');
  });

  test('fails when two subnets share an AZ', () => {
    const { stack, vpc } = regionalStack();
    assert.throws(() => new CloudHsmCluster(stack, 'Hsm', {
      vpc, vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
    }), {
      message: 'invalid CloudHsmCluster props at Regional/Hsm:\n' +
        '- vpcSubnets selects 2 subnets in us-east-1a (Regional/Vpc/aSubnet1, Regional/Vpc/bSubnet1): a cluster ' +
        'takes at most one subnet per Availability Zone; use `onePerAz: true` or list one subnet per zone\n' +
        '- vpcSubnets selects 2 subnets in us-east-1b (Regional/Vpc/aSubnet2, Regional/Vpc/bSubnet2): a cluster ' +
        'takes at most one subnet per Availability Zone; use `onePerAz: true` or list one subnet per zone\n' +
        '- vpcSubnets selects 2 subnets in us-east-1c (Regional/Vpc/aSubnet3, Regional/Vpc/bSubnet3): a cluster ' +
        'takes at most one subnet per Availability Zone; use `onePerAz: true` or list one subnet per zone',
    });
    // One per AZ is fine.
    new CloudHsmCluster(stack, 'Ok', { vpc, vpcSubnets: { subnetGroupName: 'a' } });
  });

  test('fails when subnets belong to another VPC', () => {
    const { stack, vpc } = stackWithVpc();
    const other = new ec2.Vpc(stack, 'Other', { maxAzs: 1, natGateways: 0, subnetConfiguration: [
      { name: 'x', subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
    ] });
    assert.throws(() => new CloudHsmCluster(stack, 'Hsm', { vpc, vpcSubnets: { subnets: other.isolatedSubnets } }), {
      message: 'invalid CloudHsmCluster props at Test/Hsm:\n- vpcSubnets selects subnets of another VPC ' +
        "(Test/Other/xSubnet1): select subnets of the cluster's vpc",
    });
  });

  test('fails listing every problem at once', () => {
    const message = clusterError({
      hsmsPerSubnet: -2, backupRetention: Duration.days(1), sourceBackupId: 'nope', pki: ClusterPki.external(),
    });
    assert.equal(message.split('\n').filter((line) => line.startsWith('- ')).length, 4, message);
  });

  test('tokens pass through unchecked', () => {
    const { stack, vpc } = stackWithVpc();
    new CloudHsmCluster(stack, 'Hsm', {
      vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
      hsmsPerSubnet: Token.asNumber({ Ref: 'HsmCount' }),
      sourceBackupId: Token.asString({ Ref: 'Backup' }),
    });
    Template.fromStack(stack).hasResourceProperties('Custom::CloudHsmCluster', {
      HsmsPerSubnet: { Ref: 'HsmCount' },
      SourceBackupId: { Ref: 'Backup' },
    });
  });
});
