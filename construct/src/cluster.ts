import { CfnOutput, CustomResource, Duration, Fn, RemovalPolicy } from 'aws-cdk-lib';
import * as acmpca from 'aws-cdk-lib/aws-acmpca';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { CloudHsmClusterAttributes, CloudHsmClusterBase, HSM_PORTS, ICloudHsmCluster } from './cluster-base';
import { ClusterSecrets } from './private/cluster-secrets';
import { ManagementClient } from './private/client';
import { clusterMachinery } from './private/cluster-machinery';
import { validateClusterAttributes, validateClusterProps } from './private/validate';
import { ClusterMode, ClusterPki, ClusterPkiKind, HsmType, NetworkType } from './types';

/**
 * The management client: an EC2 instance in the VPC that activates the
 * cluster and manages HSM users, reached only through Systems Manager.
 */
export interface ClusterClientOptions {
  /**
   * The instance type.
   * @default - t4g.small for arm64 images, t3.small otherwise
   */
  readonly instanceType?: ec2.InstanceType;

  /**
   * The image. It must be Amazon Linux 2023, for which CloudHSM ships the
   * SDK 5 CLI.
   * @default - the latest Amazon Linux 2023 image for arm64
   */
  readonly machineImage?: ec2.IMachineImage;

  /**
   * Where the instance runs.
   * @default - the first of the cluster's subnets
   */
  readonly vpcSubnets?: ec2.SubnetSelection;
}

/** Properties of a {@link CloudHsmCluster}. */
export interface CloudHsmClusterProps {
  /** The VPC the HSMs' network interfaces are placed in. */
  readonly vpc: ec2.IVpc;

  /**
   * The subnets for the HSMs, at most one per Availability Zone.
   * @default - the VPC's private subnets, one per Availability Zone
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
   * Create the cluster from this backup (`backup-...`) instead of new: it
   * comes back initialized and active, with the users and keys it had.
   * @default - a new, empty cluster
   */
  readonly sourceBackupId?: string;

  /**
   * Who issues the cluster certificate.
   * @default ClusterPki.ephemeralCa()
   */
  readonly pki?: ClusterPki;

  /**
   * The management client.
   * @default - an instance as described in ClusterClientOptions
   */
  readonly client?: ClusterClientOptions;

  /**
   * A customer managed key for the secrets, logs and the client's disk.
   * @default - AWS managed keys
   */
  readonly encryptionKey?: kms.IKey;

  /**
   * What happens to the cluster when it leaves the stack.
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
 * An AWS CloudHSM cluster, created, initialized and activated, with
 * `hsmsPerSubnet` HSMs in each of its subnets.
 *
 * @resource Custom::CloudHsmCluster
 * @stateful
 */
export class CloudHsmCluster extends CloudHsmClusterBase {
  /** The CloudFormation type of the custom resource behind the cluster. */
  public static readonly RESOURCE_TYPE = 'Custom::CloudHsmCluster';

  /** The CloudFormation type of the custom resource behind its HSMs. */
  public static readonly HSMS_RESOURCE_TYPE = 'Custom::CloudHsmHsms';

  /**
   * A cluster made elsewhere. Ids that are tokens are taken as they are;
   * resolved ids are checked.
   *
   * @param scope the scope of the reference
   * @param id its construct id
   * @param attrs what identifies the cluster
   */
  public static fromClusterAttributes(scope: Construct, id: string, attrs: CloudHsmClusterAttributes): ICloudHsmCluster {
    class Imported extends CloudHsmClusterBase {
      public readonly clusterId = attrs.clusterId;
      public readonly clusterSecurityGroup = ec2.SecurityGroup.fromSecurityGroupId(this, 'SecurityGroup', attrs.securityGroupId);
      public readonly connections = new ec2.Connections({
        securityGroups: [this.clusterSecurityGroup],
        defaultPort: HSM_PORTS,
      });
    }
    validateClusterAttributes(attrs, `${scope.node.path}/${id}`);
    return new Imported(scope, id);
  }

  public readonly clusterId: string;
  public readonly clusterSecurityGroup: ec2.ISecurityGroup;
  public readonly connections: ec2.Connections;

  /** The HSMs' IP addresses, in subnet order. */
  public readonly hsmIpAddresses: string[];

  /** The HSMs per subnet. */
  public readonly hsmsPerSubnet: number;

  /** The subnets the HSMs are in. */
  public readonly subnets: ec2.ISubnet[];

  /** The management client, which activated the cluster. */
  public readonly clientInstance: ec2.Instance;

  /** The initial admin (crypto officer) password: change it, then delete it. */
  public readonly adminPasswordSecret: secretsmanager.ISecret;

  /** The CA certificate (trust anchor). Kept when the stack is deleted. */
  public readonly customerCaCertificateSecret: secretsmanager.ISecret;

  /** The cluster CSR, published after the first HSM is created. */
  public readonly clusterCsrSecret: secretsmanager.ISecret;

  /** The cluster certificate; with an external PKI, put yours here. */
  public readonly clusterCertificateSecret: secretsmanager.ISecret;

  constructor(scope: Construct, id: string, props: CloudHsmClusterProps) {
    super(scope, id);
    const subnets = props.vpc.selectSubnets(
      props.vpcSubnets ?? { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, onePerAz: true },
    ).subnets;
    const hsmsPerSubnet = props.hsmsPerSubnet ?? 1;
    const hsmType = props.hsmType ?? HsmType.HSM2M_MEDIUM;
    const mode = props.mode ?? ClusterMode.FIPS;
    const backupRetention = props.backupRetention ?? Duration.days(90);
    const pki = props.pki ?? ClusterPki.ephemeralCa();
    validateClusterProps({ ...props, subnets, hsmsPerSubnet, hsmType, mode, backupRetention, pki }, this.node.path);

    this.subnets = subnets;
    this.hsmsPerSubnet = hsmsPerSubnet;

    const architecture = props.handlerArchitecture ?? lambda.Architecture.ARM_64;
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.DESTROY;

    const secrets = new ClusterSecrets(this, 'Secrets', { encryptionKey: props.encryptionKey, removalPolicy });
    this.adminPasswordSecret = secrets.adminPassword;
    this.customerCaCertificateSecret = secrets.caCertificate;
    this.clusterCsrSecret = secrets.csr;
    this.clusterCertificateSecret = secrets.clusterCertificate;

    const client = new ManagementClient(this, 'Client', {
      vpc: props.vpc,
      subnets: props.client?.vpcSubnets ?? { subnets: [subnets[0]] },
      instanceType: props.client?.instanceType,
      machineImage: props.client?.machineImage,
      encryptionKey: props.encryptionKey,
    });
    this.clientInstance = client.instance;
    secrets.adminPassword.grantRead(client.instance);
    secrets.caCertificate.grantRead(client.instance);

    const privateCa = pki.kind === ClusterPkiKind.PRIVATE_CA ? newPrivateCa(this) : undefined;
    const certificateAuthorityArn = privateCa?.ca.attrArn ?? pki.certificateAuthority?.certificateAuthorityArn;

    const machinery = clusterMachinery(this, {
      architecture,
      encryptionKey: props.encryptionKey,
      secrets,
      client,
      certificateAuthorityArn,
    });
    const clusterFlow = machinery.clusterWorkflow;
    const hsmsFlow = machinery.hsmsWorkflow;

    const resource = new CustomResource(this, 'Resource', {
      serviceToken: machinery.serviceToken,
      resourceType: CloudHsmCluster.RESOURCE_TYPE,
      removalPolicy,
      properties: {
        SubnetIds: subnets.map((s) => s.subnetId),
        HsmsPerSubnet: hsmsPerSubnet,
        HsmType: hsmType.name,
        Mode: mode,
        NetworkType: props.networkType ?? NetworkType.IPV4,
        BackupRetentionDays: backupRetention.isUnresolved()
          ? backupRetention.toDays()
          : backupRetention.toDays({ integral: true }),
        SourceBackupId: props.sourceBackupId,
        Pki: {
          Kind: pki.kind,
          CertificateAuthorityArn: certificateAuthorityArn,
        },
      },
    });
    resource.node.addDependency(clusterFlow);
    if (privateCa) resource.node.addDependency(privateCa.activation);

    const hsms = new CustomResource(this, 'Hsms', {
      serviceToken: machinery.serviceToken,
      resourceType: CloudHsmCluster.HSMS_RESOURCE_TYPE,
      removalPolicy,
      properties: {
        ClusterId: resource.getAttString('ClusterId'),
        SubnetIds: subnets.map((s) => s.subnetId),
        HsmsPerSubnet: hsmsPerSubnet,
      },
    });
    hsms.node.addDependency(hsmsFlow);

    if (pki.kind === ClusterPkiKind.EXTERNAL) {
      new CfnOutput(this, 'NextStep', {
        description: 'How to finish initializing the cluster with your own PKI',
        value: Fn.join('', [
          'The cluster waits for its certificate. 1. Read the CSR from secret ', secrets.csr.secretArn,
          '. 2. Issue a certificate for it with your root CA. 3. Put the PEM certificate into secret ',
          secrets.clusterCertificate.secretArn, ' and your root CA certificate into secret ',
          secrets.caCertificate.secretArn, '. 4. Update the stack to initialize and activate the cluster.',
        ]),
      });
    }

    this.clusterId = resource.getAttString('ClusterId');
    this.clusterSecurityGroup = ec2.SecurityGroup.fromSecurityGroupId(
      this, 'ClusterSecurityGroup', resource.getAttString('SecurityGroupId'),
    );
    this.connections = new ec2.Connections({ securityGroups: [this.clusterSecurityGroup], defaultPort: HSM_PORTS });
    this.hsmIpAddresses = Fn.split(',', hsms.getAttString('HsmIpAddresses'));
  }
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
    templateArn: 'arn:aws:acm-pca:::template/RootCACertificate/V1',
    validity: { type: 'YEARS', value: 10 },
  });
  const activation = new acmpca.CfnCertificateAuthorityActivation(scope, 'PrivateCaActivation', {
    certificateAuthorityArn: ca.attrArn,
    certificate: certificate.attrCertificate,
    status: 'ACTIVE',
  });
  return { ca, activation };
}
