// CDK apps of the lifecycle tests that the example app does not cover, chosen
// with the context value `variant` (cdk synth --app "node variants.ts" -c variant=...):
//   two-clusters  two CloudHsmClusters in one stack and one VPC
//   encrypted     one cluster with `encryptionKey`, a KMS key made in the same stack
//   isolated-client  one cluster whose management client runs in an isolated subnet (no
//                 route out, no VPC endpoints): it never registers with Systems Manager
//   imported-key-store  a stack of its own with a key store (DESTROY) on a cluster made
//                 elsewhere, imported with fromClusterAttributes from the context values
//                 clusterId, securityGroupId, trustAnchorSecretArn, and clientInstanceId,
//                 clientRoleArn, adminPasswordSecretArn and/or kmsUserPasswordSecretArn
// The first two take `hsmsPerSubnet` (default 1), as the example app does.
import { App, Fn, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { CloudHsmCluster, CloudHsmKeyStore } from 'cdk-cloudhsm';

const app = new App();
const variant: string = app.node.tryGetContext('variant');
const hsmsPerSubnet = Number(app.node.tryGetContext('hsmsPerSubnet') ?? 1);
const context = (name: string): string | undefined => app.node.tryGetContext(name);

if (variant === 'imported-key-store') {
  const stack = new Stack(app, 'ImportedKeyStore');
  const secret = (name: string) => {
    const arn = context(name);
    return arn === undefined ? undefined : secretsmanager.Secret.fromSecretCompleteArn(stack, name, arn);
  };
  const roleArn = context('clientRoleArn');
  const cluster = CloudHsmCluster.fromClusterAttributes(stack, 'Cluster', {
    clusterId: context('clusterId')!,
    securityGroupId: context('securityGroupId')!,
    trustAnchorSecret: secret('trustAnchorSecretArn'),
    kmsUserPasswordSecret: secret('kmsUserPasswordSecretArn'),
    clientInstanceId: context('clientInstanceId'),
    clientRole: roleArn === undefined ? undefined : iam.Role.fromRoleArn(stack, 'ClientRole', roleArn),
    adminPasswordSecret: secret('adminPasswordSecretArn'),
  });
  new CloudHsmKeyStore(stack, 'KeyStore', { cluster, removalPolicy: RemovalPolicy.DESTROY });
} else {
  const names: Record<string, string> = { 'two-clusters': 'TwoClusters', 'encrypted': 'Encrypted', 'isolated-client': 'IsolatedClient' };
  const stack = new Stack(app, names[variant] ?? 'Unknown');
  const vpc = new ec2.Vpc(stack, 'Vpc', {
    availabilityZones: [0, 1].map((i) => Fn.select(i, Fn.getAzs())),
    natGateways: 1,
    subnetConfiguration: [
      { name: 'public', subnetType: ec2.SubnetType.PUBLIC },
      { name: 'private', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      ...(variant === 'isolated-client' ? [{ name: 'isolated', subnetType: ec2.SubnetType.PRIVATE_ISOLATED }] : []),
    ],
  });
  if (variant === 'isolated-client') {
    new CloudHsmCluster(stack, 'Hsm', {
      vpc, hsmsPerSubnet, vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      clientVpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
    });
  } else if (variant === 'two-clusters') {
    new CloudHsmCluster(stack, 'First', { vpc, hsmsPerSubnet });
    new CloudHsmCluster(stack, 'Second', { vpc, hsmsPerSubnet });
  } else if (variant === 'encrypted') {
    const encryptionKey = new kms.Key(stack, 'Key', { enableKeyRotation: true });
    new CloudHsmCluster(stack, 'Hsm', { vpc, hsmsPerSubnet, encryptionKey });
  } else {
    throw new Error(`context variant must be two-clusters, encrypted, isolated-client or imported-key-store, got '${variant}'`);
  }
}
app.synth();
