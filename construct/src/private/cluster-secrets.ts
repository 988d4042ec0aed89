import { RemovalPolicy, SecretValue, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';

export interface ClusterSecretsProps {
  readonly encryptionKey?: kms.IKey;
  readonly removalPolicy: RemovalPolicy;
}

/** Shown until a workflow or the user puts the real value in. */
const PENDING = 'pending: not issued yet';

/**
 * The secrets of a cluster. Only the admin password is secret; the CSR and
 * certificates live here because that is where a user's own PKI reads and
 * answers. The CA certificate is always kept: restoring a backup needs it.
 */
export class ClusterSecrets extends Construct {
  /**
   * Lets `grantee` do `actions` (GetSecretValue, PutSecretValue) on `secrets`
   * and nothing else of them; under a customer managed key, the key only
   * through Secrets Manager (kms:ViaService). The key policy must let the
   * account's IAM policies grant it (a key of this app does by default).
   */
  public static grantValues(
    grantee: iam.IGrantable, sid: string, secrets: secretsmanager.ISecret[], actions: string[], encryptionKey?: kms.IKey,
  ): void {
    grantee.grantPrincipal.addToPrincipalPolicy(new iam.PolicyStatement({
      sid, actions, resources: secrets.map((secret) => secret.secretArn),
    }));
    if (encryptionKey) {
      const keyActions = actions.includes('secretsmanager:PutSecretValue') ? ['kms:Decrypt', 'kms:GenerateDataKey'] : ['kms:Decrypt'];
      grantee.grantPrincipal.addToPrincipalPolicy(new iam.PolicyStatement({
        sid: `${sid}Key`,
        actions: keyActions,
        resources: [encryptionKey.keyArn],
        conditions: { StringEquals: { 'kms:ViaService': `secretsmanager.${Stack.of(encryptionKey).region}.amazonaws.com` } },
      }));
    }
  }

  public readonly adminPassword: secretsmanager.Secret;
  public readonly csr: secretsmanager.Secret;
  public readonly caCertificate: secretsmanager.Secret;
  public readonly clusterCertificate: secretsmanager.Secret;

  constructor(scope: Construct, id: string, props: ClusterSecretsProps) {
    super(scope, id);
    this.adminPassword = new secretsmanager.Secret(this, 'AdminPassword', {
      description: 'cdk-cloudhsm: initial password of the cluster admin (crypto officer). Change it after creation.',
      encryptionKey: props.encryptionKey,
      removalPolicy: props.removalPolicy,
      // 32 letters and digits: within the CLI's rules, about 190 bits.
      generateSecretString: { passwordLength: 32, excludePunctuation: true, includeSpace: false, requireEachIncludedType: true },
    });
    const text = (name: string, description: string, removalPolicy: RemovalPolicy) =>
      new secretsmanager.Secret(this, name, {
        description: `cdk-cloudhsm: ${description}`,
        encryptionKey: props.encryptionKey,
        removalPolicy,
        secretStringValue: SecretValue.unsafePlainText(PENDING),
      });
    this.csr = text('ClusterCsr', 'the cluster CSR (PEM), published when the first HSM is ready', props.removalPolicy);
    this.caCertificate = text('CaCertificate',
      'the CA certificate (PEM) that issued the cluster certificate: the trust anchor', RemovalPolicy.RETAIN);
    this.clusterCertificate = text('ClusterCertificate', 'the cluster certificate (PEM)', props.removalPolicy);
  }
}
