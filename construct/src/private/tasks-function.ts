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
      memorySize: 256,
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
      },
    });
    const fn = this.function;
    // CloudHSM resources get their ids at creation, so these cannot be narrowed.
    fn.addToRolePolicy(new iam.PolicyStatement({
      actions: [
        'cloudhsm:CreateCluster', 'cloudhsm:DescribeClusters', 'cloudhsm:CreateHsm', 'cloudhsm:DeleteHsm',
        'cloudhsm:InitializeCluster', 'cloudhsm:DeleteCluster', 'cloudhsm:TagResource', 'cloudhsm:ListTags',
        'cloudhsm:DescribeBackups',
      ],
      resources: ['*'],
    }));
    // What CloudHSM needs from its caller to make the HSMs' network interfaces and security group.
    fn.addToRolePolicy(new iam.PolicyStatement({
      actions: [
        'ec2:CreateNetworkInterface', 'ec2:DescribeNetworkInterfaces', 'ec2:DescribeNetworkInterfaceAttribute',
        'ec2:DetachNetworkInterface', 'ec2:DeleteNetworkInterface', 'ec2:CreateSecurityGroup',
        'ec2:AuthorizeSecurityGroupIngress', 'ec2:AuthorizeSecurityGroupEgress', 'ec2:RevokeSecurityGroupEgress',
        'ec2:DescribeSecurityGroups', 'ec2:DeleteSecurityGroup', 'ec2:CreateTags', 'ec2:DescribeVpcs',
        'ec2:DescribeSubnets',
      ],
      resources: ['*'],
    }));
    fn.addToRolePolicy(new iam.PolicyStatement({
      actions: ['iam:CreateServiceLinkedRole'],
      resources: ['*'],
      conditions: { StringEquals: { 'iam:AWSServiceName': 'cloudhsm.amazonaws.com' } },
    }));
    for (const secret of [props.secrets.csr, props.secrets.caCertificate, props.secrets.clusterCertificate]) {
      secret.grantRead(this.function);
      secret.grantWrite(this.function);
    }
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
        actions: ['acm-pca:IssueCertificate', 'acm-pca:GetCertificate'],
        resources: [props.certificateAuthorityArn],
      }));
    }
    const stack = Stack.of(this);
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
