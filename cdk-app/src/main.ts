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
//   removalPolicy  destroy | retain: the cluster's removalPolicy (default destroy)
//   clientSubnet   which private subnet (0, 1, ...) the management client runs in
//                  (default 0); changing it replaces the client
//   keyStore       retain | destroy: adds a KMS key store on the cluster with that
//                  removal policy (KMS needs 2 HSMs in 2 zones: about twice the cost)
//   keyStoreName   the key store's name (default: derived from the construct path)
//   key            retain | destroy | none: a KMS key in the key store (default: as keyStore)
//   keyPurpose     the value of the key's tag `purpose` (default example)
//   handlerArchitecture  arm64 | x86_64: what the cluster's Lambda functions run on
//                  (default arm64); `npm run demo` builds and uses only the host's
import { App, Duration, Fn, RemovalPolicy, Stack, type StackProps, Tags } from 'aws-cdk-lib';
import * as acmpca from 'aws-cdk-lib/aws-acmpca';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { CloudHsmCluster, CloudHsmClusterFromBackup, CloudHsmKey, CloudHsmKeyStore, ClusterPki } from 'cdk-cloudhsm';
import type { Construct } from 'constructs';

const ARCHITECTURES: Record<string, lambda.Architecture> = { arm64: lambda.Architecture.ARM_64, x86_64: lambda.Architecture.X86_64 };

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
    const removalPolicies: Record<string, RemovalPolicy> = { destroy: RemovalPolicy.DESTROY, retain: RemovalPolicy.RETAIN };
    const removalPolicyName = context('removalPolicy') ?? 'destroy';
    if (!Object.hasOwn(removalPolicies, removalPolicyName)) {
      throw new Error(`context removalPolicy must be destroy or retain, got '${removalPolicyName}'`);
    }
    const removalPolicy = removalPolicies[removalPolicyName];
    const clientSubnetIndex = Number(context('clientSubnet') ?? 0);
    if (!Number.isInteger(clientSubnetIndex) || clientSubnetIndex < 0 || clientSubnetIndex >= vpc.privateSubnets.length) {
      throw new Error(`context clientSubnet must be 0 to ${vpc.privateSubnets.length - 1}, got '${context('clientSubnet')}'`);
    }
    const clientVpcSubnets = context('clientSubnet') === undefined ? undefined : { subnets: [vpc.privateSubnets[clientSubnetIndex]] };
    const retentionDays = context('backupRetentionDays');
    const backupRetention = retentionDays === undefined ? undefined : Duration.days(Number(retentionDays));
    const architectureName = context('handlerArchitecture') ?? 'arm64';
    if (!Object.hasOwn(ARCHITECTURES, architectureName)) {
      throw new Error(`context handlerArchitecture must be arm64 or x86_64, got '${architectureName}'`);
    }
    const handlerArchitecture = ARCHITECTURES[architectureName];
    const backupId = context('sourceBackupId');
    const pki = context('pki');
    if (backupId !== undefined) {
      if (pki !== undefined) {
        throw new Error('context pki cannot be combined with sourceBackupId: a restored cluster is already initialized; drop pki');
      }
      // The same construct id as a new cluster: both make the same resources.
      this.addKeyStore(new CloudHsmClusterFromBackup(this, 'Hsm', { vpc, hsmsPerSubnet, backupId, backupRetention, removalPolicy, clientVpcSubnets, handlerArchitecture }));
      return;
    }
    if (pki !== undefined && !Object.hasOwn(PKIS, pki)) {
      throw new Error(`context pki must be one of ${Object.keys(PKIS).join(', ')}, got '${pki}'`);
    }
    const chosen = PKIS[pki ?? 'ephemeral'](this, context('certificateAuthorityArn'));
    this.addKeyStore(new CloudHsmCluster(this, 'Hsm', { vpc, hsmsPerSubnet, pki: chosen, backupRetention, removalPolicy, clientVpcSubnets, handlerArchitecture }));
  }

  /** The key store and key the context asks for. */
  private addKeyStore(cluster: CloudHsmCluster | CloudHsmClusterFromBackup): void {
    const context = (name: string): string | undefined => this.node.tryGetContext(name);
    const policies: Record<string, RemovalPolicy> = { retain: RemovalPolicy.RETAIN, destroy: RemovalPolicy.DESTROY };
    const policy = (name: string, value: string): RemovalPolicy => {
      if (!Object.hasOwn(policies, value)) throw new Error(`context ${name} must be retain or destroy, got '${value}'`);
      return policies[value];
    };
    const store = context('keyStore');
    if (store === undefined) return;
    // Beside the cluster (not inside it): the key store's ids do not depend on the cluster's class.
    const keyStore = new CloudHsmKeyStore(this, 'KeyStore', {
      cluster, removalPolicy: policy('keyStore', store), keyStoreName: context('keyStoreName'),
    });
    const key = context('key') ?? store;
    if (key === 'none') return;
    const cmk = new CloudHsmKey(this, 'Key', {
      keyStore, alias: 'alias/cdk-cloudhsm-example', description: 'cdk-cloudhsm example key', removalPolicy: policy('key', key),
    });
    Tags.of(cmk).add('purpose', context('keyPurpose') ?? 'example');
  }
}

const app = new App();
new CloudHsmExampleStack(app, app.node.tryGetContext('stackName') ?? 'CloudHsmExample', {
  description: 'cdk-cloudhsm example: a CloudHSM cluster in a new VPC',
});
app.synth();
