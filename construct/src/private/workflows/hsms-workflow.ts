import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { WorkflowKit } from '../workflow-kit';

/**
 * The `Custom::CloudHsmHsms` workflow: creates and deletes HSMs until each
 * subnet has `HsmsPerSubnet` (on create, the cluster's first HSM counts),
 * waits for them, and answers with their IP addresses. Delete removes them
 * all: a cluster without HSMs costs nothing and keeps its backups.
 */
export interface HsmsWorkflowProps {
  readonly kit: WorkflowKit;
  readonly clientInstanceId: string;
  readonly configureDocumentName: string;
  readonly caCertificateSecretArn: string;
}

export function hsmsWorkflow(scope: Construct, { kit, ...client }: HsmsWorkflowProps): sfn.IChainable {
  const props = {
    'ClusterId.$': '$.Request.ResourceProperties.ClusterId',
    'SubnetIds.$': '$.Request.ResourceProperties.SubnetIds',
  };
  const cluster = { 'ClusterId.$': '$.Request.ResourceProperties.ClusterId' };

  const answer = kit.succeed('Answer: the HSMs are ACTIVE', {
    'ClusterId.$': '$.Request.ResourceProperties.ClusterId',
    'HsmIpAddresses.$': '$.Hsms.HsmIpAddresses',
    'HsmIds.$': '$.Hsms.HsmIds',
  });
  // The client follows the HSMs, so that it never points at a deleted one.
  const reconfigure = new sfn.Pass(scope, 'Prepare the client configuration', {
    result: sfn.Result.fromObject({ CommandId: '' }),
    resultPath: '$.Configure',
  }).next(kit.waitUntil('Point the management client at the HSMs', 'ClientCommand', {
    InstanceId: client.clientInstanceId,
    DocumentName: client.configureDocumentName,
    Parameters: { 'HsmIps.$': '$.Hsms.HsmIpAddresses', CaCertificateSecretArn: client.caCertificateSecretArn },
    'CommandId.$': '$.Configure.CommandId',
    What: 'configuring cloudhsm-cli',
    TimeoutMinutes: 25,
  }, '$.Configure')).next(answer);
  const resize = kit.step('Create and delete HSMs', 'ResizeHsms',
    { ...props, 'HsmsPerSubnet.$': '$.Request.ResourceProperties.HsmsPerSubnet' }, '$.Resized')
    .next(kit.waitUntil('Wait for every HSM to be ACTIVE', 'AwaitCluster',
      { ...cluster, Expect: 'HSMS_ACTIVE', TimeoutMinutes: 40 }, '$.Hsms'))
    .next(new sfn.Choice(scope, 'Any HSM to connect to?')
      .when(sfn.Condition.stringEquals('$.Hsms.HsmIpAddresses', ''), answer)
      .otherwise(reconfigure));

  const create = kit.setPhysicalId('Name the HSM set', "States.Format('{}-hsms', $.Request.ResourceProperties.ClusterId)")
    .next(resize);
  const update = kit.setPhysicalId('Keep the HSM set name', '$.Request.PhysicalResourceId').next(resize);

  const remove = kit.setPhysicalId('Keep the name of the HSM set to delete', '$.Request.PhysicalResourceId')
    .next(kit.step('Delete every HSM', 'ResizeHsms', { ...props, HsmsPerSubnet: 0, MissingOk: true }, undefined))
    .next(kit.waitUntil('Wait for every HSM to be deleted', 'AwaitCluster',
      { ...cluster, Expect: 'NO_HSMS', TimeoutMinutes: 40, MissingOk: true }, '$.Emptied'))
    .next(kit.succeed('Answer: the HSMs are deleted', {}));

  return new sfn.Choice(scope, 'Which request?')
    .when(sfn.Condition.stringEquals('$.Request.RequestType', 'Create'), create)
    .when(sfn.Condition.stringEquals('$.Request.RequestType', 'Delete'), remove)
    .otherwise(update);
}
