import { CustomResource, Names, RemovalPolicy, Resource, Token } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { ICloudHsmCluster } from './cluster-base';
import { CloudHsmClusterNew } from './cluster-new';
import { KEY_STORE_ATTRIBUTES } from './private/attributes';
import { KeyStoreResourceProperties, RESOURCE_TYPES, TASKS_ENV } from './private/contract.generated';
import { ImportedCluster } from './private/imported-cluster';
import { KeyStoreMachinery } from './private/key-store-machinery';
import { KeyStoreSupport } from './private/key-store-support';

/** What can be chosen for a {@link CloudHsmKeyStore}, besides its cluster. */
export interface CloudHsmKeyStoreOptions {
  /**
   * The key store's name, unique in the account and region (1 to 256
   * characters).
   * @default - a unique, stable name derived from the construct path
   */
  readonly keyStoreName?: string;

  /**
   * What happens to the key store when it leaves the stack. It is always
   * disconnected first. `RETAIN` keeps the store (and kmsuser's password
   * secret); `DESTROY` deletes the store when no KMS key is in it (keys
   * pending deletion count) and otherwise keeps it, saying why in the
   * workflow's log and the response.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/** Properties of a {@link CloudHsmKeyStore}. */
export interface CloudHsmKeyStoreProps extends CloudHsmKeyStoreOptions {
  /**
   * The cluster the key store is on. KMS needs it ACTIVE with at least two
   * ACTIVE HSMs in different Availability Zones, and allows one key store
   * per cluster (and per backup history). A cluster made by this library:
   * its management client creates the crypto user `kmsuser`. An imported
   * cluster (`CloudHsmCluster.fromClusterAttributes`) needs
   * `trustAnchorSecret`, and either `clientInstanceId`, `clientRole` and
   * `adminPasswordSecret` (to create kmsuser) or `kmsUserPasswordSecret`
   * (kmsuser exists).
   */
  readonly cluster: ICloudHsmCluster;
}

/** Where a key store name may come from: 1 to 256 characters. */
const MAX_NAME_LENGTH = 256;

/**
 * An AWS KMS key store of type `AWS_CLOUDHSM` on a CloudHSM cluster:
 * `kmsuser` created on every HSM with its own generated password, the key
 * store created with the cluster's trust anchor and connected. KMS keys in
 * it are {@link CloudHsmKey}s.
 *
 * @resource Custom::CloudHsmKeyStore
 * @stateful
 */
export class CloudHsmKeyStore extends Resource {
  /** The CloudFormation type of the custom resource behind a key store. */
  public static readonly RESOURCE_TYPE = RESOURCE_TYPES.keyStore;

  /**
   * The key store id, `cks-...`.
   * @attribute
   */
  public readonly customKeyStoreId: string;

  /**
   * kmsuser's password, generated for this key store (never the admin's),
   * or the imported cluster's `kmsUserPasswordSecret`. KMS rotates
   * kmsuser's password when it connects, so after the first connection this
   * holds the password kmsuser was created with.
   */
  public readonly kmsUserPasswordSecret: secretsmanager.ISecret;

  /** The cluster the key store is on. */
  public readonly cluster: ICloudHsmCluster;

  /** @internal */
  public readonly _machinery: KeyStoreMachinery;

  constructor(scope: Construct, id: string, props: CloudHsmKeyStoreProps) {
    super(scope, id);
    const support = keyStoreSupport(props, this.node.path);
    this.cluster = props.cluster;
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const keyStoreName = props.keyStoreName ?? Names.uniqueResourceName(this, { maxLength: 100, separator: '-' });

    const kmsUserPassword = support.kmsUserPassword ?? new secretsmanager.Secret(this, 'KmsUserPassword', {
      description: 'cdk-cloudhsm: password kmsuser was created with for a KMS key store (KMS rotates it on connect)',
      encryptionKey: support.encryptionKey,
      removalPolicy: removalPolicy === RemovalPolicy.DESTROY ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN,
      // 32 letters and digits: the most KMS and the CLI accept.
      generateSecretString: { passwordLength: 32, excludePunctuation: true, includeSpace: false, requireEachIncludedType: true },
    });
    this.kmsUserPasswordSecret = kmsUserPassword;

    this._machinery = new KeyStoreMachinery(this, 'Machinery', { support, kmsUserPassword });
    const properties: KeyStoreResourceProperties = {
      ClusterId: props.cluster.clusterId,
      KeyStoreName: keyStoreName,
      KmsUserPasswordSecretArn: kmsUserPassword.secretArn,
      TrustAnchorSecretArn: support.trustAnchor.secretArn,
      AdminPasswordSecretArn: support.client?.adminPassword.secretArn,
      ClientInstanceId: support.client?.instanceId,
      KmsUserDocument: this._machinery.kmsUserDocument?.ref,
      RemovalPolicy: removalPolicy === RemovalPolicy.DESTROY ? 'DESTROY' : 'RETAIN',
    };
    const resource = new CustomResource(this, 'Resource', {
      serviceToken: this._machinery.serviceToken,
      resourceType: CloudHsmKeyStore.RESOURCE_TYPE,
      // The workflow applies the policy itself (disconnect, then delete or keep).
      removalPolicy: RemovalPolicy.DESTROY,
      properties: { ...properties },
    });
    resource.node.addDependency(this._machinery.keyStoreWorkflow);
    // Made after the HSMs, deleted before them (and so before the cluster).
    if (support.hsms) resource.node.addDependency(support.hsms);
    this.customKeyStoreId = resource.getAttString(KEY_STORE_ATTRIBUTES.CustomKeyStoreId);
  }
}

/**
 * What the cluster gives its key store, with every rule KMS sets that can
 * be checked at synth time. Throws one error listing every problem.
 */
function keyStoreSupport(props: CloudHsmKeyStoreProps, path: string): KeyStoreSupport {
  const problems: string[] = [];
  const name = props.keyStoreName;
  if (name !== undefined && !Token.isUnresolved(name) && (name.length < 1 || name.length > MAX_NAME_LENGTH)) {
    problems.push(`keyStoreName must be 1 to ${MAX_NAME_LENGTH} characters, got ${name.length}`);
  }
  const cluster = props.cluster;
  if (cluster instanceof ImportedCluster) {
    const support = importedSupport(cluster, problems);
    if (problems.length > 0 || !support) {
      throw new Error(`invalid CloudHsmKeyStore props at ${path}:\n${problems.map((p) => `- ${p}`).join('\n')}`);
    }
    return support;
  }
  if (!(cluster instanceof CloudHsmClusterNew)) {
    problems.push(
      `cluster: ${cluster.node.path} is neither a cluster of this library nor one imported with ` +
      'CloudHsmCluster.fromClusterAttributes: make the key store on one of those',
    );
    throw new Error(`invalid CloudHsmKeyStore props at ${path}:\n${problems.map((p) => `- ${p}`).join('\n')}`);
  }
  const support = cluster._keyStoreSupport;
  const rule = 'KMS needs at least 2 ACTIVE HSMs in different Availability Zones';
  const hsmsPerSubnet = support.layout?.hsmsPerSubnet ?? 1;
  if (!Token.isUnresolved(hsmsPerSubnet) && hsmsPerSubnet < 1) {
    problems.push(
      `cluster: ${cluster.node.path} has hsmsPerSubnet ${hsmsPerSubnet}, so no HSM: ${rule}. ` +
      'Set hsmsPerSubnet to 1 or more while the key store exists',
    );
  }
  const zones = (support.layout?.subnets ?? []).map((s) => s.availabilityZone);
  if (!zones.some((z) => Token.isUnresolved(z)) && new Set(zones).size < 2) {
    problems.push(
      `cluster: ${cluster.node.path} has its HSMs in ${zones.length === 0 ? 'no' : 'one'} Availability Zone ` +
      `(${[...new Set(zones)].join(', ') || 'none'}): ${rule}. Give the cluster subnets in two zones or more`,
    );
  }
  if (problems.length > 0) {
    throw new Error(`invalid CloudHsmKeyStore props at ${path}:\n${problems.map((p) => `- ${p}`).join('\n')}`);
  }
  return support;
}

/** The value every tasks variable holds for an imported cluster: the key store steps read none of them. */
const NOT_USED = 'none: an imported cluster (the key store steps read their resources from the key store)';

/**
 * What an imported cluster gives a key store: its trust anchor, and its
 * management client or an existing kmsuser's password. Adds a sentence to
 * `problems` for each attribute missing.
 */
function importedSupport(cluster: ImportedCluster, problems: string[]): KeyStoreSupport | undefined {
  const attrs = cluster.attributes;
  const where = `cluster: ${cluster.node.path} is an imported cluster`;
  const trustAnchor = attrs.trustAnchorSecret;
  if (!trustAnchor) {
    problems.push(
      `${where} without trustAnchorSecret: KMS creates a key store only with the cluster's trust anchor. Give ` +
      'fromClusterAttributes the secret holding the PEM certificate of the CA that issued the cluster certificate ' +
      '(for a cluster of this library, its customerCaCertificateSecret)',
    );
  }
  const clientParts = { clientInstanceId: attrs.clientInstanceId, clientRole: attrs.clientRole, adminPasswordSecret: attrs.adminPasswordSecret };
  const given = Object.entries(clientParts).filter(([, v]) => v !== undefined).map(([k]) => k);
  const missing = Object.entries(clientParts).filter(([, v]) => v === undefined).map(([k]) => k);
  if (given.length > 0 && missing.length > 0) {
    problems.push(
      `${where} with ${given.join(' and ')} but without ${missing.join(' and ')}: the key store creates kmsuser on the ` +
      'management client as the admin, and needs the client instance, its role and the admin password secret together',
    );
  } else if (given.length === 0 && !attrs.kmsUserPasswordSecret) {
    problems.push(
      `${where} without a management client (clientInstanceId, clientRole, adminPasswordSecret) to create kmsuser, ` +
      'and without kmsUserPasswordSecret, the password of a kmsuser that exists: give fromClusterAttributes one of them',
    );
  }
  if (problems.length > 0 || !trustAnchor) return undefined;
  const client = attrs.clientInstanceId !== undefined && attrs.clientRole && attrs.adminPasswordSecret
    ? { instanceId: attrs.clientInstanceId, grantee: attrs.clientRole, adminPassword: attrs.adminPasswordSecret, readsClusterSecrets: false }
    : undefined;
  return {
    architecture: attrs.handlerArchitecture ?? lambda.Architecture.ARM_64,
    trustAnchor,
    client,
    kmsUserPassword: attrs.kmsUserPasswordSecret,
    tasksEnvironment: Object.fromEntries(Object.values(TASKS_ENV).map((name) => [name,
      name === TASKS_ENV.caCertificateSecretArn ? trustAnchor.secretArn : NOT_USED])),
  };
}
