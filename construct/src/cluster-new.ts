import { CfnOutput, CustomResource, Duration, Fn, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as acmpca from 'aws-cdk-lib/aws-acmpca';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { CloudHsmClusterBase, HSM_PORTS } from './cluster-base';
import { CloudHsmKeyStore, CloudHsmKeyStoreOptions } from './key-store';
import { CLUSTER_ATTRIBUTES, HSMS_ATTRIBUTES } from './private/attributes';
import { ManagementClient } from './private/client';
import { clusterMachinery } from './private/cluster-machinery';
import { ClusterSecrets } from './private/cluster-secrets';
import { ClusterResourceProperties, HsmsResourceProperties, RESOURCE_TYPES, TASKS_ENV } from './private/contract.generated';
import { KeyStoreSupport } from './private/key-store-support';
import { validateClusterProps } from './private/validate';
import { ClusterMode, ClusterPki, ClusterPkiKind, HsmType, NetworkType } from './types';

/** The CloudFormation type of the custom resource behind a cluster. */
export const CLUSTER_RESOURCE_TYPE = RESOURCE_TYPES.cluster;

/** The CloudFormation type of the custom resource behind a cluster's HSMs. */
export const HSMS_RESOURCE_TYPE = RESOURCE_TYPES.hsms;

/**
 * Properties of every cluster this library makes, new or restored from a
 * backup.
 */
export interface CloudHsmClusterCommonProps {
  /** The VPC the HSMs' network interfaces are placed in. */
  readonly vpc: ec2.IVpc;

  /**
   * The subnets for the HSMs, at most one per Availability Zone.
   * @default - the VPC's private subnets with egress, one per Availability Zone
   */
  readonly vpcSubnets?: ec2.SubnetSelection;

  /**
   * HSMs in each subnet. 0 keeps the cluster (and its backups) without
   * paying for HSMs; it is allowed on update only.
   * @default 1
   */
  readonly hsmsPerSubnet?: number;

  /**
   * The HSM type.
   * @default HsmType.HSM2M_MEDIUM
   */
  readonly hsmType?: HsmType;

  /**
   * FIPS or non-FIPS mode, fixed at creation.
   * @default ClusterMode.FIPS
   */
  readonly mode?: ClusterMode;

  /**
   * How the HSMs are addressed.
   * @default NetworkType.IPV4
   */
  readonly networkType?: NetworkType;

  /**
   * How long AWS keeps the cluster's backups: 7 to 379 whole days.
   * @default Duration.days(90)
   */
  readonly backupRetention?: Duration;

  /**
   * The instance type of the management client, the EC2 instance in the VPC
   * that activates the cluster and runs `cloudhsm-cli`, reached only through
   * Systems Manager.
   * @default - t4g.small with the default image, t3.small with your own image
   */
  readonly clientInstanceType?: ec2.InstanceType;

  /**
   * The image of the management client. It must be Amazon Linux 2023, for
   * which CloudHSM ships the SDK 5 CLI, on the architecture of
   * `clientInstanceType`.
   * @default - the latest Amazon Linux 2023 image for arm64
   */
  readonly clientMachineImage?: ec2.IMachineImage;

  /**
   * Where the management client runs. It needs HTTPS to the AWS APIs (a NAT
   * gateway or VPC endpoints) and must reach the HSMs' subnets. It installs
   * cloudhsm-cli from the CloudHSM download site at first boot (the command
   * scripts retry the install), so it needs a route to the internet (NAT
   * gateway); without one, Systems Manager also needs interface endpoints for
   * ssm, ssmmessages and ec2messages, and synth warns when CDK sees neither.
   * @default - the first of the HSMs' subnets
   */
  readonly clientVpcSubnets?: ec2.SubnetSelection;

  /**
   * A customer managed key for the secrets, the function and workflow logs
   * and the client's disk. A key made in the same stack gets the key policy
   * statement CloudWatch Logs needs (the regional logs service, limited to
   * this account's and region's log groups). An imported key's policy
   * cannot be changed here: it must already allow that, or the log groups
   * fail to create.
   * @default - AWS managed keys
   */
  readonly encryptionKey?: kms.IKey;

  /**
   * What happens to the cluster when it leaves the stack (deleted from the
   * app, or replaced by an update).
   *
   * `RemovalPolicy.DESTROY` deletes every HSM, then the cluster, and deletes
   * the admin password, CSR and cluster certificate secrets and the
   * management client. AWS keeps the cluster's backups for `backupRetention`
   * (deleting the last HSM makes one), and the CA certificate secret is
   * always kept, whatever the policy, so that those backups stay restorable.
   *
   * `RemovalPolicy.RETAIN` keeps the cluster with its HSMs (which are billed
   * while they exist) and the admin password, CSR and cluster certificate
   * secrets; you delete them yourself. They are kept when the stack is
   * deleted or an update drops them, not when the stack's create fails: a
   * failed create's rollback deletes what it made (CloudFormation's
   * `RetainExceptOnCreate`), so nothing billable is left behind by a stack
   * that never existed. The management client's security group is kept
   * too, since the kept cluster's group has a rule naming it, which EC2
   * would not let go. The policy does not cover the management client
   * itself, the functions and the workflows: they are deleted with the stack.
   *
   * @default RemovalPolicy.DESTROY
   */
  readonly removalPolicy?: RemovalPolicy;

  /**
   * The architecture the handler functions run on.
   * @default lambda.Architecture.ARM_64
   */
  readonly handlerArchitecture?: lambda.Architecture;
}

/**
 * Where a cluster comes from, as the subclasses resolve it.
 * @internal
 */
export interface ClusterSource {
  /** The class name, for error messages. */
  readonly className: string;
  /** Who issues the cluster certificate of a new cluster. */
  readonly pki: ClusterPki;
  /** The backup a restored cluster comes from. */
  readonly sourceBackupId?: string;
}

/**
 * A cluster made by this library: the custom resources, their workflows,
 * the secrets and the management client. Shared by a new cluster and a
 * cluster restored from a backup.
 *
 * @internal
 */
export abstract class CloudHsmClusterNew extends CloudHsmClusterBase {
  public readonly clusterId: string;
  public readonly clusterSecurityGroup: ec2.ISecurityGroup;
  public readonly connections: ec2.Connections;

  /**
   * The IP addresses of the cluster's ACTIVE HSMs, one each, in the order
   * CloudHSM lists the HSMs (DescribeClusters), not grouped or sorted by
   * subnet. A deploy-time list: the `HsmIpAddresses` attribute of the
   * `Custom::CloudHsmHsms` resource, comma-separated, split with
   * `Fn::Split`. With no HSM it holds one empty string.
   */
  public readonly hsmIpAddresses: string[];

  /** The HSMs in each subnet. */
  public readonly hsmsPerSubnet: number;

  /** The subnets the HSMs are in. */
  public readonly subnets: ec2.ISubnet[];

  /** The management client, which activates the cluster and runs `cloudhsm-cli`. */
  public readonly clientInstance: ec2.Instance;

  /**
   * The initial admin (crypto officer) password: change it, then delete it.
   * Deleted with the cluster under `RemovalPolicy.DESTROY`.
   */
  public readonly adminPasswordSecret: secretsmanager.ISecret;

  /**
   * The CA certificate (trust anchor). Always kept when the cluster is
   * deleted: restoring its backups needs it.
   */
  public readonly customerCaCertificateSecret: secretsmanager.ISecret;

  /** The cluster CSR, published after the first HSM is created. */
  public readonly clusterCsrSecret: secretsmanager.ISecret;

  /** The cluster certificate; with an external PKI, put yours here. */
  public readonly clusterCertificateSecret: secretsmanager.ISecret;

  /**
   * What a key store on this cluster builds on.
   * @internal
   */
  public readonly _keyStoreSupport: KeyStoreSupport;

  protected constructor(scope: Construct, id: string, props: CloudHsmClusterCommonProps, source: ClusterSource) {
    super(scope, id);
    const subnets = props.vpc.selectSubnets(
      props.vpcSubnets ?? { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, onePerAz: true },
    ).subnets;
    const hsmsPerSubnet = props.hsmsPerSubnet ?? 1;
    const hsmType = props.hsmType ?? HsmType.HSM2M_MEDIUM;
    const mode = props.mode ?? ClusterMode.FIPS;
    const backupRetention = props.backupRetention ?? Duration.days(90);
    const { pki, sourceBackupId } = source;
    validateClusterProps(source.className, {
      vpc: props.vpc, subnets, hsmsPerSubnet, hsmType, mode, backupRetention, backupId: sourceBackupId,
    }, this.node.path);

    this.subnets = subnets;
    this.hsmsPerSubnet = hsmsPerSubnet;

    const architecture = props.handlerArchitecture ?? lambda.Architecture.ARM_64;
    // RETAIN keeps the cluster of a stack that existed, never that of a failed create.
    const removalPolicy = props.removalPolicy === RemovalPolicy.RETAIN
      ? RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE
      : props.removalPolicy ?? RemovalPolicy.DESTROY;

    const secrets = new ClusterSecrets(this, 'Secrets', { encryptionKey: props.encryptionKey, removalPolicy });
    this.adminPasswordSecret = secrets.adminPassword;
    this.customerCaCertificateSecret = secrets.caCertificate;
    this.clusterCsrSecret = secrets.csr;
    this.clusterCertificateSecret = secrets.clusterCertificate;

    const client = new ManagementClient(this, 'Client', {
      vpc: props.vpc,
      subnets: props.clientVpcSubnets ?? { subnets: [subnets[0]] },
      instanceType: props.clientInstanceType,
      machineImage: props.clientMachineImage,
      encryptionKey: props.encryptionKey,
    });
    this.clientInstance = client.instance;
    // A kept cluster's security group keeps the rule that lets the client's
    // group in, and EC2 refuses to delete a group another group's rule names
    // (DependencyViolation): the client's group is kept with the cluster.
    if (removalPolicy !== RemovalPolicy.DESTROY) client.securityGroup.applyRemovalPolicy(removalPolicy);
    // The client's commands read the admin password and the trust anchor.
    ClusterSecrets.grantValues(client.instance, 'ClusterSecretsForCommands',
      [secrets.adminPassword, secrets.caCertificate], ['secretsmanager:GetSecretValue'], props.encryptionKey);

    const privateCa = pki.kind === ClusterPkiKind.PRIVATE_CA ? newPrivateCa(this) : undefined;
    const certificateAuthorityArn = privateCa?.ca.attrArn ?? pki.certificateAuthority?.certificateAuthorityArn;
    if (pki.certificateAuthority) {
      const arn = pki.certificateAuthority.certificateAuthorityArn;
      // Late: the CA may be defined after the cluster.
      this.node.addValidation({ validate: () => subordinateCaProblems(this, arn) });
    }

    const machinery = clusterMachinery(this, {
      architecture,
      encryptionKey: props.encryptionKey,
      secrets,
      client,
      vpcId: props.vpc.vpcId,
      certificateAuthorityArn,
    });
    const clusterFlow = machinery.clusterWorkflow;
    const hsmsFlow = machinery.hsmsWorkflow;

    // Typed by the Rust contract: the handlers read exactly these.
    const clusterProperties: ClusterResourceProperties = {
      SubnetIds: subnets.map((s) => s.subnetId),
      HsmsPerSubnet: hsmsPerSubnet,
      HsmType: hsmType.name,
      Mode: mode,
      NetworkType: props.networkType ?? NetworkType.IPV4,
      BackupRetentionDays: backupRetention.isUnresolved()
        ? backupRetention.toDays()
        : backupRetention.toDays({ integral: true }),
      SourceBackupId: sourceBackupId,
      Pki: {
        Kind: pki.kind,
        CertificateAuthorityArn: certificateAuthorityArn,
        // Only when set, so that the templates of other clusters stay as they were.
        CertificatesReady: pki.certificatesReady ? true : undefined,
      },
    };
    const resource = new CustomResource(this, 'Resource', {
      serviceToken: machinery.serviceToken,
      resourceType: CLUSTER_RESOURCE_TYPE,
      removalPolicy,
      properties: { ...clusterProperties },
    });
    resource.node.addDependency(clusterFlow);
    if (privateCa) resource.node.addDependency(privateCa.activation);

    const hsmsProperties: HsmsResourceProperties = {
      ClusterId: resource.getAttString(CLUSTER_ATTRIBUTES.ClusterId),
      SubnetIds: subnets.map((s) => s.subnetId),
      HsmsPerSubnet: hsmsPerSubnet,
      // A cluster that becomes ACTIVE (an external PKI's second phase) updates the HSMs.
      ClusterState: resource.getAttString(CLUSTER_ATTRIBUTES.State),
      // A replaced management client (new machine image or subnet) updates the HSMs,
      // whose workflow configures the new instance for the cluster.
      ClientInstanceId: client.instance.instanceId,
    };
    const hsms = new CustomResource(this, 'Hsms', {
      serviceToken: machinery.serviceToken,
      resourceType: HSMS_RESOURCE_TYPE,
      removalPolicy,
      properties: { ...hsmsProperties },
    });
    hsms.node.addDependency(hsmsFlow);

    if (pki.kind === ClusterPkiKind.EXTERNAL && !pki.certificatesReady) {
      new CfnOutput(this, 'NextStep', {
        description: 'How to finish initializing the cluster with your own PKI',
        value: Fn.join('', [
          'The cluster waits for its certificate. 1. Read the CSR from secret ', secrets.csr.secretArn,
          '. 2. Issue a certificate for it with your root CA. 3. Put the PEM certificate into secret ',
          secrets.clusterCertificate.secretArn, ' and your root CA certificate into secret ',
          secrets.caCertificate.secretArn, '. 4. Deploy the stack again with pki: ClusterPki.external({ certificatesReady: true }) to initialize ',
          'and activate the cluster and add its other HSMs.',
        ]),
      });
    }

    this.clusterId = resource.getAttString(CLUSTER_ATTRIBUTES.ClusterId);
    this.clusterSecurityGroup = ec2.SecurityGroup.fromSecurityGroupId(
      this, 'ClusterSecurityGroup', resource.getAttString(CLUSTER_ATTRIBUTES.SecurityGroupId),
    );
    this.connections = new ec2.Connections({ securityGroups: [this.clusterSecurityGroup], defaultPort: HSM_PORTS });
    this.hsmIpAddresses = Fn.split(',', hsms.getAttString(HSMS_ATTRIBUTES.HsmIpAddresses));
    this._keyStoreSupport = {
      hsms,
      layout: { subnets, hsmsPerSubnet },
      architecture,
      encryptionKey: props.encryptionKey,
      trustAnchor: secrets.caCertificate,
      client: { instanceId: client.instance.instanceId, grantee: client.instance, adminPassword: secrets.adminPassword, readsClusterSecrets: true },
      tasksEnvironment: {
        [TASKS_ENV.csrSecretArn]: secrets.csr.secretArn,
        [TASKS_ENV.caCertificateSecretArn]: secrets.caCertificate.secretArn,
        [TASKS_ENV.clusterCertificateSecretArn]: secrets.clusterCertificate.secretArn,
        [TASKS_ENV.adminPasswordSecretArn]: secrets.adminPassword.secretArn,
        [TASKS_ENV.clientInstanceId]: client.instance.instanceId,
        [TASKS_ENV.activateDocument]: client.activateDocument.ref,
        [TASKS_ENV.configureDocument]: client.configureDocument.ref,
      },
    };
  }

  /**
   * Adds a KMS key store on this cluster (KMS allows one per cluster).
   *
   * @param id the key store's construct id, in the cluster's scope
   * @param options what to choose besides the cluster
   */
  public addKeyStore(id: string, options: CloudHsmKeyStoreOptions = {}): CloudHsmKeyStore {
    return new CloudHsmKeyStore(this, id, { ...options, cluster: this });
  }
}

/**
 * A CA of this app given to `fromCertificateAuthority` must be a root CA:
 * CloudHSM's InitializeCluster takes as trust anchor only the self-signed
 * certificate of the CA that signed the cluster certificate itself. (A CA
 * imported by ARN is checked at deploy time, from its certificate chain.)
 */
function subordinateCaProblems(scope: Construct, arn: string): string[] {
  const subordinate = scope.node.root.node.findAll().find(
    (c): c is acmpca.CfnCertificateAuthority =>
      c instanceof acmpca.CfnCertificateAuthority && c.attrArn === arn && c.type === 'SUBORDINATE',
  );
  if (!subordinate) return [];
  return [
    `pki: ClusterPki.fromCertificateAuthority() was given ${subordinate.node.path}, a SUBORDINATE CA: ` +
    'CloudHSM initializes a cluster only with a certificate issued directly by a root CA, whose self-signed ' +
    'certificate is the trust anchor. Give it a ROOT CA, or use ClusterPki.privateCa()',
  ];
}

/** A new AWS Private CA root CA, activated with its own certificate. */
function newPrivateCa(scope: Construct): { ca: acmpca.CfnCertificateAuthority; activation: acmpca.CfnCertificateAuthorityActivation } {
  const ca = new acmpca.CfnCertificateAuthority(scope, 'PrivateCa', {
    type: 'ROOT',
    keyAlgorithm: 'RSA_2048',
    signingAlgorithm: 'SHA256WITHRSA',
    subject: { commonName: 'cdk-cloudhsm cluster root CA', organization: 'cdk-cloudhsm' },
  });
  const certificate = new acmpca.CfnCertificate(scope, 'PrivateCaCertificate', {
    certificateAuthorityArn: ca.attrArn,
    certificateSigningRequest: ca.attrCertificateSigningRequest,
    signingAlgorithm: 'SHA256WITHRSA',
    templateArn: `arn:${Stack.of(scope).partition}:acm-pca:::template/RootCACertificate/V1`,
    validity: { type: 'YEARS', value: 10 },
  });
  const activation = new acmpca.CfnCertificateAuthorityActivation(scope, 'PrivateCaActivation', {
    certificateAuthorityArn: ca.attrArn,
    certificate: certificate.attrCertificate,
    status: 'ACTIVE',
  });
  return { ca, activation };
}
