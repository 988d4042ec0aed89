import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { WorkflowKit } from '../workflow-kit';

/**
 * The `Custom::CloudHsmHsms` workflow: creates and deletes HSMs until each
 * subnet has `HsmsPerSubnet` (on create, the cluster's first HSM counts),
 * waits for them, and answers with their IP addresses. Delete removes them
 * all: a cluster without HSMs costs nothing and keeps its backups.
 */
export function hsmsWorkflow(scope: Construct, kit: WorkflowKit): sfn.IChainable {
  const props = {
    'ClusterId.$': '$.Request.ResourceProperties.ClusterId',
    'SubnetIds.$': '$.Request.ResourceProperties.SubnetIds',
  };
  const cluster = { 'ClusterId.$': '$.Request.ResourceProperties.ClusterId' };

  const resize = kit.step('Create and delete HSMs', 'ResizeHsms',
    { ...props, 'HsmsPerSubnet.$': '$.Request.ResourceProperties.HsmsPerSubnet' }, '$.Resized')
    .next(kit.waitUntil('Wait for every HSM to be ACTIVE', 'AwaitCluster',
      { ...cluster, Expect: 'HSMS_ACTIVE', TimeoutMinutes: 40 }, '$.Hsms'))
    .next(kit.succeed('Answer: the HSMs are ACTIVE', {
      'ClusterId.$': '$.Request.ResourceProperties.ClusterId',
      'HsmIpAddresses.$': '$.Hsms.HsmIpAddresses',
      'HsmIds.$': '$.Hsms.HsmIds',
    }));

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
