// The example app: a VPC with private subnets in two Availability Zones and a
// CloudHSM cluster in them. It is environment-agnostic: it synthesizes
// offline, with no AWS credentials and no lookups.
//
// Context values (cdk synth -c name=value) vary it, as the lifecycle tests do:
//   hsmsPerSubnet  HSMs in each subnet (default 1)
//   azs            Availability Zones, so subnets, of the VPC (default 2)
//   pki            ephemeral | private-ca | certificate-authority | external (default ephemeral)
//   certificateAuthorityArn  the existing AWS Private CA of pki=certificate-authority
//   certificatesReady  true with pki=external: your certificates are in their secrets, so
//                  the update initializes and activates the cluster (default false)
//   backupRetentionDays  how long AWS keeps the cluster's backups (default 90)
//   sourceBackupId restore the cluster from this backup (CloudHsmClusterFromBackup)
//                  instead of making a new one; takes no pki
//   stackName      the stack's name (default CloudHsmExample), to deploy the app
//                  twice side by side in one account and region
import { App, Duration, Fn, Stack, type StackProps } from 'aws-cdk-lib';
import * as acmpca from 'aws-cdk-lib/aws-acmpca';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { CloudHsmCluster, CloudHsmClusterFromBackup, ClusterPki } from 'cdk-cloudhsm';
import type { Construct } from 'constructs';

const PKIS: Record<string, (scope: Construct, caArn?: string) => ClusterPki> = {
  'ephemeral': () => ClusterPki.ephemeralCa(),
  'private-ca': () => ClusterPki.privateCa(),
  'certificate-authority': (scope, caArn) => {
    if (caArn === undefined) {
      throw new Error('context pki=certificate-authority needs -c certificateAuthorityArn=<the CA\'s ARN>');
    }
    return ClusterPki.fromCertificateAuthority(acmpca.CertificateAuthority.fromCertificateAuthorityArn(scope, 'Ca', caArn));
  },
  'external': (scope) => ClusterPki.external({ certificatesReady: scope.node.tryGetContext('certificatesReady') === 'true' }),
};

export class CloudHsmExampleStack extends Stack {
  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);
    const context = (name: string): string | undefined => this.node.tryGetContext(name);

    // The region's first zones, resolved at deploy time: the app stays
    // environment-agnostic.
    const zones = Array.from({ length: Number(context('azs') ?? 2) }, (_, i) => Fn.select(i, Fn.getAzs()));
    const vpc = new ec2.Vpc(this, 'Vpc', {
      availabilityZones: zones,
      natGateways: 1,
      subnetConfiguration: [
        { name: 'public', subnetType: ec2.SubnetType.PUBLIC },
        { name: 'private', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      ],
    });

    const hsmsPerSubnet = Number(context('hsmsPerSubnet') ?? 1);
    const retentionDays = context('backupRetentionDays');
    const backupRetention = retentionDays === undefined ? undefined : Duration.days(Number(retentionDays));
    const backupId = context('sourceBackupId');
    const pki = context('pki');
    if (backupId !== undefined) {
      if (pki !== undefined) {
        throw new Error('context pki cannot be combined with sourceBackupId: a restored cluster is already initialized; drop pki');
      }
      // The same construct id as a new cluster: both make the same resources.
      new CloudHsmClusterFromBackup(this, 'Hsm', { vpc, hsmsPerSubnet, backupId, backupRetention });
      return;
    }
    if (pki !== undefined && !Object.hasOwn(PKIS, pki)) {
      throw new Error(`context pki must be one of ${Object.keys(PKIS).join(', ')}, got '${pki}'`);
    }
    const chosen = PKIS[pki ?? 'ephemeral'](this, context('certificateAuthorityArn'));
    new CloudHsmCluster(this, 'Hsm', { vpc, hsmsPerSubnet, pki: chosen, backupRetention });
  }
}

const app = new App();
new CloudHsmExampleStack(app, app.node.tryGetContext('stackName') ?? 'CloudHsmExample', {
  description: 'cdk-cloudhsm example: a CloudHSM cluster in a new VPC',
});
app.synth();
