import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { WorkflowKit } from '../workflow-kit';

/** What the cluster workflow needs besides the request. */
export interface ClusterWorkflowProps {
  readonly kit: WorkflowKit;
  readonly clientInstanceId: string;
  readonly clientSecurityGroupId: string;
  readonly activateDocumentName: string;
  readonly adminPasswordSecretArn: string;
  readonly csrSecretArn: string;
  readonly caCertificateSecretArn: string;
  readonly clusterCertificateSecretArn: string;
}

const HSM_PORTS = { IpProtocol: 'tcp', FromPort: 2223, ToPort: 2225 };

/**
 * The `Custom::CloudHsmCluster` workflow. Create: cluster, first HSM, CSR,
 * certificate, initialization, activation on the management client
 * (a restored cluster skips from creation to ACTIVE; an external PKI stops
 * at the published CSR). Update: refuses what a cluster cannot change.
 * Delete: every HSM, then the cluster.
 */
export function clusterWorkflow(scope: Construct, props: ClusterWorkflowProps): sfn.IChainable {
  const { kit } = props;
  const clusterId = { 'ClusterId.$': '$.Created.ClusterId' };

  // --- Create ---
  const attributes = (path: string) => ({
    'ClusterId.$': '$.Created.ClusterId',
    'SecurityGroupId.$': `${path}.Cluster.SecurityGroupId`,
    'VpcId.$': `${path}.Cluster.VpcId`,
    'State.$': `${path}.Cluster.State`,
  });

  const restored = kit.step('Carry the original CA certificate over', 'CarryCaCertificate', {
    ...clusterId,
    'SourceBackupId.$': '$.Created.Props.SourceBackupId',
    CaCertificateSecretArn: props.caCertificateSecretArn,
  }, '$.Carried')
    .next(kit.waitUntil('Wait for the restored cluster to be ACTIVE', 'AwaitCluster',
      { ...clusterId, Expect: 'ACTIVE', TimeoutMinutes: 30 }, '$.Active'))
    .next(kit.succeed('Answer: the restored cluster is ACTIVE', attributes('$.Active')));

  const external = kit.succeed('Answer: waiting for your certificate', attributes('$.FirstHsm'));

  const openPorts = kit.guard(new tasks.CallAwsService(scope, 'Let the management client reach the HSMs', {
    service: 'ec2',
    action: 'authorizeSecurityGroupIngress',
    iamResources: ['*'],
    parameters: {
      'GroupId.$': '$.Initialized.Cluster.SecurityGroupId',
      IpPermissions: [{ ...HSM_PORTS, UserIdGroupPairs: [{ GroupId: props.clientSecurityGroupId }] }],
    },
    resultPath: sfn.JsonPath.DISCARD,
  }));
  const openEgress = kit.guard(new tasks.CallAwsService(scope, 'Let the management client talk to the HSMs', {
    service: 'ec2',
    action: 'authorizeSecurityGroupEgress',
    iamResources: ['*'],
    parameters: {
      GroupId: props.clientSecurityGroupId,
      IpPermissions: [{ ...HSM_PORTS, UserIdGroupPairs: [{ 'GroupId.$': '$.Initialized.Cluster.SecurityGroupId' }] }],
    },
    resultPath: sfn.JsonPath.DISCARD,
  }));

  // AWS may replace the first HSM before initialization, with a new CSR:
  // then the certificate is issued again for the new one.
  const csrReady = kit.waitUntil('Wait for the first HSM and the CSR', 'AwaitCluster',
    { ...clusterId, Expect: 'CSR', TimeoutMinutes: 40 }, '$.FirstHsm');
  const reissue = { errors: ['CsrChanged'], next: csrReady };

  const certified = kit.step('Issue the cluster certificate', 'IssueCertificate', {
    ...clusterId,
    'Pki.$': '$.Created.Props.Pki',
    CaCertificateSecretArn: props.caCertificateSecretArn,
    ClusterCertificateSecretArn: props.clusterCertificateSecretArn,
  }, undefined, reissue);

  const activation = new sfn.Pass(scope, 'Prepare the activation', {
    result: sfn.Result.fromObject({ CommandId: '' }),
    resultPath: '$.Activation',
  });

  const initialize = kit.step('Initialize the cluster', 'InitializeCluster', {
    ...clusterId,
    CaCertificateSecretArn: props.caCertificateSecretArn,
    ClusterCertificateSecretArn: props.clusterCertificateSecretArn,
  }, undefined, reissue);
  certified
    .next(initialize)
    .next(kit.waitUntil('Wait for the cluster to be INITIALIZED', 'AwaitCluster',
      { ...clusterId, Expect: 'INITIALIZED', TimeoutMinutes: 20 }, '$.Initialized'))
    .next(openPorts)
    .next(openEgress)
    .next(activation)
    .next(kit.waitUntil('Activate the cluster on the management client', 'ClientCommand', {
      InstanceId: props.clientInstanceId,
      DocumentName: props.activateDocumentName,
      Parameters: {
        'HsmIp.$': '$.FirstHsm.HsmIp',
        AdminPasswordSecretArn: props.adminPasswordSecretArn,
        CaCertificateSecretArn: props.caCertificateSecretArn,
      },
      'CommandId.$': '$.Activation.CommandId',
      What: 'activating the cluster',
      TimeoutMinutes: 25,
    }, '$.Activation'))
    .next(kit.waitUntil('Wait for the cluster to be ACTIVE', 'AwaitCluster',
      { ...clusterId, Expect: 'ACTIVE', TimeoutMinutes: 10 }, '$.Active'))
    .next(kit.succeed('Answer: the cluster is ACTIVE', attributes('$.Active')));

  const pkiChoice = new sfn.Choice(scope, 'Who issues the certificate?')
    .when(sfn.Condition.stringEquals('$.Created.Props.Pki.Kind', 'EXTERNAL'), external)
    .otherwise(certified);

  csrReady
    .next(kit.step('Publish the CSR', 'PublishCsr', { ...clusterId, CsrSecretArn: props.csrSecretArn }, undefined))
    .next(pkiChoice);
  const fresh = kit.waitUntil('Wait for the cluster to be UNINITIALIZED', 'AwaitCluster',
    { ...clusterId, Expect: 'UNINITIALIZED', TimeoutMinutes: 30 }, '$.Uninitialized')
    .next(kit.step('Create the first HSM', 'CreateFirstHsm',
      { ...clusterId, 'SubnetIds.$': '$.Created.Props.SubnetIds' }, undefined))
    .next(csrReady);

  const create = kit.setPhysicalId('Mark the resource as not created yet', "States.Format('not-created-{}', $.Request.RequestId)")
    .next(kit.step('Check the properties and create the cluster', 'CreateCluster', { 'Request.$': '$.Request' }, '$.Created'))
    .next(kit.setPhysicalId('Record the cluster id', '$.Created.ClusterId'))
    .next(new sfn.Choice(scope, 'Restore from a backup?')
      .when(sfn.Condition.isPresent('$.Created.Props.SourceBackupId'), restored)
      .otherwise(fresh));

  // --- Update ---
  const update = kit.setPhysicalId('Keep the cluster id', '$.Request.PhysicalResourceId')
    .next(kit.step('Check the update', 'CheckUpdate', { 'Request.$': '$.Request' }, '$.Checked'))
    .next(kit.succeed('Answer: the cluster is unchanged', {
      'ClusterId.$': '$.Request.PhysicalResourceId',
      'SecurityGroupId.$': '$.Checked.Cluster.SecurityGroupId',
      'VpcId.$': '$.Checked.Cluster.VpcId',
      'State.$': '$.Checked.Cluster.State',
    }));

  // --- Delete ---
  const existing = { 'ClusterId.$': '$.Request.PhysicalResourceId' };
  const closeEgress = new tasks.CallAwsService(scope, 'Close the client egress to the HSMs', {
    service: 'ec2',
    action: 'revokeSecurityGroupEgress',
    iamResources: ['*'],
    parameters: {
      GroupId: props.clientSecurityGroupId,
      IpPermissions: [{ ...HSM_PORTS, UserIdGroupPairs: [{ 'GroupId.$': '$.Emptied.Cluster.SecurityGroupId' }] }],
    },
    resultPath: sfn.JsonPath.DISCARD,
  });
  const deleteCluster = kit.waitUntil('Delete the cluster', 'DeleteCluster', existing, '$.Deleted')
    .next(kit.succeed('Answer: the cluster is deleted', {}));
  // The rule exists only if the create got as far as activation.
  closeEgress.addCatch(deleteCluster, { errors: ['States.ALL'], resultPath: sfn.JsonPath.DISCARD });
  const gone = new sfn.Choice(scope, 'Does the cluster still exist?')
    .when(sfn.Condition.isPresent('$.Emptied.Cluster'), closeEgress.next(deleteCluster))
    .otherwise(kit.succeed('Answer: the cluster was already gone', {}));
  const remove = kit.setPhysicalId('Keep the id of the cluster to delete', '$.Request.PhysicalResourceId')
    .next(kit.step('Delete the remaining HSMs', 'ResizeHsms', {
      ...existing,
      'SubnetIds.$': '$.Request.ResourceProperties.SubnetIds',
      HsmsPerSubnet: 0,
      MissingOk: true,
    }, undefined))
    .next(kit.waitUntil('Wait for every HSM to be deleted', 'AwaitCluster',
      { ...existing, Expect: 'NO_HSMS', TimeoutMinutes: 40, MissingOk: true }, '$.Emptied'))
    .next(gone);

  return new sfn.Choice(scope, 'Which request?')
    .when(sfn.Condition.stringEquals('$.Request.RequestType', 'Create'), create)
    .when(sfn.Condition.stringEquals('$.Request.RequestType', 'Delete'), remove)
    .otherwise(update);
}
