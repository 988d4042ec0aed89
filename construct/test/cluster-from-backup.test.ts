import * as assert from 'node:assert/strict';
import { test, describe } from 'node:test';
import { Duration, Stack, Token } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import {
  CloudHsmCluster, CloudHsmClusterFromBackup, type CloudHsmClusterFromBackupProps, ClusterMode, HsmType, NetworkType,
} from '../lib/index.js';
import { errorOf, stackWithVpc } from './support.ts';

const BACKUP = 'backup-abcdefghijk';

function restored(props: Partial<CloudHsmClusterFromBackupProps> = {}): { stack: Stack; cluster: CloudHsmClusterFromBackup } {
  const { stack, vpc } = stackWithVpc();
  const cluster = new CloudHsmClusterFromBackup(stack, 'Hsm', {
    vpc, vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED }, backupId: BACKUP, ...props,
  });
  return { stack, cluster };
}

function restoreError(props: Partial<CloudHsmClusterFromBackupProps>): string {
  return errorOf(() => restored(props));
}

describe('CloudHsmClusterFromBackup', () => {
  test('names the backup and makes no certificate authority', () => {
    const { stack, cluster } = restored();
    const template = Template.fromStack(stack);
    template.resourceCountIs('Custom::CloudHsmCluster', 1);
    template.hasResourceProperties('Custom::CloudHsmCluster', {
      SourceBackupId: BACKUP,
      SubnetIds: [{ Ref: Match.stringLikeRegexp('VpchsmSubnet1') }, { Ref: Match.stringLikeRegexp('VpchsmSubnet2') }],
      HsmsPerSubnet: 1,
      HsmType: 'hsm2m.medium',
      Mode: 'FIPS',
      NetworkType: 'IPV4',
      BackupRetentionDays: 90,
      // The handlers read a PKI for every cluster; a restored one never uses it.
      Pki: { Kind: 'EPHEMERAL_CA' },
    });
    template.resourceCountIs('AWS::ACMPCA::CertificateAuthority', 0);
    assert.deepEqual(Object.keys(template.findOutputs('*')), [], 'no next step to take');
    assert.equal(cluster.backupId, BACKUP);
  });

  test('keeps the logical ids of a new cluster, so that the contract with the workflows holds', () => {
    const { stack, cluster } = restored();
    const { stack: other, vpc } = stackWithVpc();
    const fresh = new CloudHsmCluster(other, 'Hsm', { vpc, vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED } });
    assert.deepEqual(stack.resolve(cluster.clusterId), { 'Fn::GetAtt': ['Hsm2CBA3DD8', 'ClusterId'] });
    assert.deepEqual(stack.resolve(cluster.hsmIpAddresses), other.resolve(fresh.hsmIpAddresses));
    const ids = (s: Stack) => Object.keys(Template.fromStack(s).toJSON().Resources).sort();
    assert.deepEqual(ids(stack), ids(other));
  });

  test('every restore choice reaches the resource properties', () => {
    const { stack } = restored({
      hsmsPerSubnet: 2,
      hsmType: HsmType.of('hsm2m.large'),
      mode: ClusterMode.NON_FIPS,
      networkType: NetworkType.DUALSTACK,
      backupRetention: Duration.days(30),
    });
    Template.fromStack(stack).hasResourceProperties('Custom::CloudHsmCluster', {
      SourceBackupId: BACKUP,
      HsmsPerSubnet: 2,
      HsmType: 'hsm2m.large',
      Mode: 'NON_FIPS',
      NetworkType: 'DUALSTACK',
      BackupRetentionDays: 30,
    });
    Template.fromStack(stack).hasResourceProperties('Custom::CloudHsmHsms', { HsmsPerSubnet: 2 });
  });

  test('a backup id that is a token passes through unchecked', () => {
    const { stack } = restored({ backupId: Token.asString({ Ref: 'Backup' }) });
    Template.fromStack(stack).hasResourceProperties('Custom::CloudHsmCluster', { SourceBackupId: { Ref: 'Backup' } });
  });

  test('fails when backupId is not a backup id', () => {
    assert.equal(restoreError({ backupId: 'cluster-abcdefghijk' }),
      'invalid CloudHsmClusterFromBackup props at Test/Hsm:\n- backupId must be a CloudHSM backup id like ' +
      "backup-abcdefghijk (backup- and 11 to 16 letters or digits 2-7), got 'cluster-abcdefghijk': use the BackupId " +
      'that DescribeBackups lists (a backup ARN is not accepted)');
  });

  test('fails on a backup ARN, which the restore does not accept', () => {
    const arn = 'arn:aws:cloudhsm:us-east-1:123456789012:backup/backup-abcdefghijk';
    assert.equal(restoreError({ backupId: arn }),
      'invalid CloudHsmClusterFromBackup props at Test/Hsm:\n- backupId must be a CloudHSM backup id like ' +
      `backup-abcdefghijk (backup- and 11 to 16 letters or digits 2-7), got '${arn}': use the BackupId ` +
      'that DescribeBackups lists (a backup ARN is not accepted)');
  });

  test('fails listing every problem at once, under its own class name', () => {
    assert.equal(restoreError({ backupId: 'nope', backupRetention: Duration.days(400), hsmsPerSubnet: -1 }),
      'invalid CloudHsmClusterFromBackup props at Test/Hsm:\n' +
      '- hsmsPerSubnet must be a whole number of 0 or more, got -1\n' +
      '- backupRetention must be 7 to 379 days, got 400 days\n' +
      '- backupId must be a CloudHSM backup id like backup-abcdefghijk (backup- and 11 to 16 letters or digits ' +
      "2-7), got 'nope': use the BackupId that DescribeBackups lists (a backup ARN is not accepted)");
  });
});
