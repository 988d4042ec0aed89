import { CustomResource, Names, RemovalPolicy, Resource, Token } from 'aws-cdk-lib';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { ICloudHsmCluster } from './cluster-base';
import { CloudHsmClusterNew } from './cluster-new';
import { KEY_STORE_ATTRIBUTES } from './private/attributes';
import { KeyStoreResourceProperties, RESOURCE_TYPES } from './private/contract.generated';
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
   * its management client creates the crypto user `kmsuser`.
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
   * kmsuser's password, generated for this key store (never the admin's).
   * KMS rotates kmsuser's password when it connects, so after the first
   * connection this holds the password kmsuser was created with.
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

    const kmsUserPassword = new secretsmanager.Secret(this, 'KmsUserPassword', {
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
      TrustAnchorSecretArn: support.secrets.caCertificate.secretArn,
      AdminPasswordSecretArn: support.secrets.adminPassword.secretArn,
      ClientInstanceId: support.client.instance.instanceId,
      KmsUserDocument: this._machinery.kmsUserDocument.ref,
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
    resource.node.addDependency(support.hsms);
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
  if (!(cluster instanceof CloudHsmClusterNew)) {
    problems.push(
      `cluster: ${cluster.node.path} is an imported cluster, which has no management client to create kmsuser: ` +
      'make the key store on a CloudHsmCluster or CloudHsmClusterFromBackup of this app',
    );
    throw new Error(`invalid CloudHsmKeyStore props at ${path}:\n${problems.map((p) => `- ${p}`).join('\n')}`);
  }
  const support = cluster._keyStoreSupport;
  const rule = 'KMS needs at least 2 ACTIVE HSMs in different Availability Zones';
  if (!Token.isUnresolved(support.hsmsPerSubnet) && support.hsmsPerSubnet < 1) {
    problems.push(
      `cluster: ${cluster.node.path} has hsmsPerSubnet ${support.hsmsPerSubnet}, so no HSM: ${rule}. ` +
      'Set hsmsPerSubnet to 1 or more while the key store exists',
    );
  }
  const zones = support.subnets.map((s) => s.availabilityZone);
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
