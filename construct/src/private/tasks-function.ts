import { Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { ManagementClient } from './client';
import { ClusterSecrets } from './cluster-secrets';
import { HANDLERS, TAGS, TASKS_ENV } from './contract.generated';
import { handlerCode } from './handlers';
import { newLogGroup } from './log-group';
import { STEP_TIMEOUT } from './workflow-kit';

export interface TasksFunctionProps {
  readonly architecture: lambda.Architecture;
  readonly encryptionKey?: kms.IKey;
  readonly secrets: ClusterSecrets;
  readonly certificateAuthorityArn?: string;
  readonly client: ManagementClient;
  /** The VPC of the cluster's subnets. */
  readonly vpcId: string;
}

/** The function that runs the cluster workflows' steps, with what they may do. */
export class TasksFunction extends Construct {
  public readonly function: lambda.Function;

  constructor(scope: Construct, id: string, props: TasksFunctionProps) {
    super(scope, id);
    this.function = new lambda.Function(this, 'Function', {
      description: 'cdk-cloudhsm: the steps of the cluster workflows',
      runtime: lambda.Runtime.PROVIDED_AL2023,
      handler: 'bootstrap',
      architecture: props.architecture,
      code: handlerCode(HANDLERS.tasks, props.architecture),
      // Lambda's smallest size: the steps peak under 10 MiB (BENCHMARKS.md), and the
      // heaviest one fits its CPU share within the timeout: the throwaway CA's RSA key
      // took 0.24 s of CPU at the median and 1.3 s at worst in 30 tries on a 2-core
      // x86_64 machine, about 3 s and 18 s at 128 MB's share of a vCPU (1/14), and a
      // step that times out is tried again with a new key.
      memorySize: 128,
      timeout: STEP_TIMEOUT,
      logGroup: newLogGroup(this, 'Logs', props.encryptionKey),
      loggingFormat: lambda.LoggingFormat.JSON,
      // What is fixed for the cluster; workflow payloads carry only what
      // changes per execution.
      environment: {
        [TASKS_ENV.csrSecretArn]: props.secrets.csr.secretArn,
        [TASKS_ENV.caCertificateSecretArn]: props.secrets.caCertificate.secretArn,
        [TASKS_ENV.clusterCertificateSecretArn]: props.secrets.clusterCertificate.secretArn,
        [TASKS_ENV.adminPasswordSecretArn]: props.secrets.adminPassword.secretArn,
        [TASKS_ENV.clientInstanceId]: props.client.instance.instanceId,
        [TASKS_ENV.activateDocument]: props.client.activateDocument.ref,
        [TASKS_ENV.configureDocument]: props.client.configureDocument.ref,
        [TASKS_ENV.clientNetwork]: props.client.networkSummary,
      },
    });
    const fn = this.function;
    const stack = Stack.of(this);
    // Clusters are tagged with their stack's id at creation (CreateCluster's
    // TagList, which needs cloudhsm:TagResource too); the function may change
    // only clusters that carry this stack's id.
    const ownStack = { StringEquals: { [`aws:RequestTag/${TAGS.stackId}`]: stack.stackId } };
    fn.addToRolePolicy(new iam.PolicyStatement({
      sid: 'CreateClustersOfThisStack',
      actions: ['cloudhsm:CreateCluster', 'cloudhsm:TagResource'],
      resources: ['*'],
      conditions: ownStack,
    }));
    fn.addToRolePolicy(new iam.PolicyStatement({
      sid: 'ChangeClustersOfThisStack',
      // ModifyCluster: backup retention on update; TagResource: the HSMs' addresses, kept while none exists.
      actions: [
        'cloudhsm:CreateHsm', 'cloudhsm:InitializeCluster', 'cloudhsm:DeleteCluster', 'cloudhsm:ModifyCluster', 'cloudhsm:TagResource',
      ],
      resources: [stack.formatArn({ service: 'cloudhsm', resource: 'cluster', resourceName: '*' })],
      conditions: { StringEquals: { [`aws:ResourceTag/${TAGS.stackId}`]: stack.stackId } },
    }));
    // No resource-level permissions exist for these (DeleteHsm names only a cluster id and an HSM).
    fn.addToRolePolicy(new iam.PolicyStatement({
      sid: 'ReadClustersAndDeleteHsms',
      actions: ['cloudhsm:DescribeClusters', 'cloudhsm:DescribeBackups', 'cloudhsm:DeleteHsm'],
      resources: ['*'],
    }));
    // A resize that would leave fewer than two HSMs, or one zone, first looks for
    // a connected KMS key store on the cluster (made in another stack or outside CDK).
    fn.addToRolePolicy(new iam.PolicyStatement({
      sid: 'FindKeyStoresOnClusters',
      actions: ['kms:DescribeCustomKeyStores'],
      resources: ['*'],
    }));
    // What CloudHSM does in EC2 on the caller's behalf (its dependent actions:
    // the cluster's security group and the HSMs' network interfaces), limited
    // to the cluster's VPC where the action has a VPC.
    fn.addToRolePolicy(new iam.PolicyStatement({
      sid: 'CloudHsmNetworkInTheVpc',
      actions: [
        'ec2:CreateSecurityGroup', 'ec2:AuthorizeSecurityGroupIngress', 'ec2:AuthorizeSecurityGroupEgress',
        'ec2:RevokeSecurityGroupEgress', 'ec2:DeleteSecurityGroup', 'ec2:CreateNetworkInterface',
        'ec2:DeleteNetworkInterface', 'ec2:DescribeSecurityGroups', 'ec2:DescribeSubnets',
        'ec2:DescribeNetworkInterfaces',
      ],
      resources: ['*'],
      conditions: { ArnEqualsIfExists: { 'ec2:Vpc': stack.formatArn({ service: 'ec2', resource: 'vpc', resourceName: props.vpcId }) } },
    }));
    // An account's first cluster creates CloudHSM's service-linked role.
    fn.addToRolePolicy(new iam.PolicyStatement({
      sid: 'CloudHsmServiceLinkedRole',
      actions: ['iam:CreateServiceLinkedRole'],
      resources: [stack.formatArn({
        service: 'iam', region: '', resource: 'role', resourceName: 'aws-service-role/cloudhsm.amazonaws.com/AWSServiceRoleForCloudHSM',
      })],
      conditions: { StringEquals: { 'iam:AWSServiceName': 'cloudhsm.amazonaws.com' } },
    }));
    // The steps read and write the CSR and the two certificates, nothing else of
    // those secrets; under a customer managed key, through Secrets Manager only.
    ClusterSecrets.grantValues(fn, 'CertificateSecrets',
      [props.secrets.csr, props.secrets.caCertificate, props.secrets.clusterCertificate],
      ['secretsmanager:GetSecretValue', 'secretsmanager:PutSecretValue'], props.encryptionKey);
    // The CA certificate secret is tagged with its cluster; a restored cluster
    // finds its source cluster's (kept) secret by that tag.
    fn.addToRolePolicy(new iam.PolicyStatement({
      actions: ['secretsmanager:TagResource'],
      resources: [props.secrets.caCertificate.secretArn],
    }));
    fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['secretsmanager:ListSecrets'], resources: ['*'] }));
    fn.addToRolePolicy(new iam.PolicyStatement({
      actions: ['secretsmanager:GetSecretValue'],
      resources: ['*'],
      conditions: { StringLike: { [`secretsmanager:ResourceTag/${TAGS.clusterId}`]: 'cluster-*' } },
    }));
    if (props.certificateAuthorityArn) {
      fn.addToRolePolicy(new iam.PolicyStatement({
        // DescribeCertificateAuthority: a CA made elsewhere must be ACTIVE before the cluster is created.
        actions: ['acm-pca:IssueCertificate', 'acm-pca:GetCertificate', 'acm-pca:DescribeCertificateAuthority'],
        resources: [props.certificateAuthorityArn],
      }));
    }
    fn.addToRolePolicy(new iam.PolicyStatement({
      actions: ['ssm:SendCommand'],
      resources: [
        stack.formatArn({ service: 'ssm', resource: 'document', resourceName: props.client.activateDocument.ref }),
        stack.formatArn({ service: 'ssm', resource: 'document', resourceName: props.client.configureDocument.ref }),
        stack.formatArn({ service: 'ec2', resource: 'instance', resourceName: props.client.instance.instanceId }),
      ],
    }));
    fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['ssm:GetCommandInvocation'], resources: ['*'] }));
  }
}
