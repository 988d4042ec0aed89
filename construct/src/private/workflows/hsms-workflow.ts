import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { HSMS_ATTRIBUTES } from '../attributes';
import { EXPECT, HSMS_PROPERTY_FIELDS, OUTPUTS, REQUEST_FIELDS, REQUEST_TYPES } from '../contract.generated';
import { EXPECTED, REQUEST, Slot, WorkflowKit } from '../workflow-kit';

/** What the HSMs workflow needs besides the request. */
export interface HsmsWorkflowProps {
  readonly kit: WorkflowKit;
}

/** Where each step of this workflow keeps its output. */
const SLOTS = {
  resized: new Slot('$.Resized'),
  hsms: new Slot('$.Hsms'),
  configure: new Slot('$.Configure'),
  emptied: new Slot('$.Emptied'),
};

const STATUS = OUTPUTS.ClusterStatus;

/**
 * The `Custom::CloudHsmHsms` workflow: creates and deletes HSMs until each
 * subnet has `HsmsPerSubnet` (on create, the cluster's first HSM counts;
 * HSMs added back ask for the addresses of those a resize deleted),
 * waits for them, points the management client at them, and answers with
 * their IP addresses. Delete removes them all: a cluster without HSMs
 * costs nothing and keeps its backups.
 */
export function hsmsWorkflow(scope: Construct, props: HsmsWorkflowProps): sfn.IChainable {
  const resize = resizeFragment(scope, props);
  return new sfn.Choice(scope, 'Which request?')
    .when(sfn.Condition.stringEquals(REQUEST.at(REQUEST_FIELDS.RequestType).path, REQUEST_TYPES.Create), createFragment(props, resize))
    .when(sfn.Condition.stringEquals(REQUEST.at(REQUEST_FIELDS.RequestType).path, REQUEST_TYPES.Delete), deleteFragment(props))
    .otherwise(updateFragment(props, resize));
}

/** Resizes, waits, reconfigures the client, answers: the same for create and update. */
function resizeFragment(scope: Construct, { kit }: HsmsWorkflowProps): sfn.IChainable {
  const clusterId = SLOTS.resized.at(OUTPUTS.Resized.ClusterId);
  const answer = kit.succeed('Answer: the HSMs are ACTIVE', {
    [HSMS_ATTRIBUTES.ClusterId]: clusterId,
    [HSMS_ATTRIBUTES.HsmIpAddresses]: SLOTS.hsms.at(STATUS.HsmIpAddresses),
    [HSMS_ATTRIBUTES.HsmIds]: SLOTS.hsms.at(STATUS.HsmIds),
    [HSMS_ATTRIBUTES.IpAddressesNotKept]: SLOTS.resized.at(OUTPUTS.Resized.IpAddressesNotKept),
  });
  // The client follows the HSMs, so that it never points at a deleted one.
  const reconfigure = kit.waitUntil('Point the management client at the HSMs', {
    step: 'ConfigureClient',
    input: {
      HsmIps: SLOTS.hsms.at(STATUS.HsmIpAddresses),
      CommandId: SLOTS.configure.at(OUTPUTS.CommandProgress.CommandId),
    },
    result: SLOTS.configure,
    initial: { [OUTPUTS.CommandProgress.CommandId]: '' },
  }).next(answer);
  return kit.step('Create and delete HSMs', { step: 'ResizeHsms', input: { Request: REQUEST.ref }, result: SLOTS.resized })
    .next(kit.waitUntil('Wait for every HSM to be ACTIVE', {
      step: 'AwaitCluster',
      input: { ClusterId: clusterId, Expect: EXPECT.HsmsActive },
      result: SLOTS.hsms,
      expect: EXPECTED.hsmCreate,
      // A resize that only deletes waits for the deleted HSMs to go.
      expectWhen: [{
        condition: sfn.Condition.numberEquals(SLOTS.resized.at(OUTPUTS.Resized.Created).path, 0),
        expect: EXPECTED.hsmDelete,
        label: 'deletes',
      }],
    }))
    .next(new sfn.Choice(scope, 'Any HSM to connect to?')
      .when(sfn.Condition.stringEquals(SLOTS.hsms.at(STATUS.HsmIpAddresses).path, ''), answer)
      .otherwise(reconfigure));
}

function createFragment({ kit }: HsmsWorkflowProps, resize: sfn.IChainable): sfn.IChainable {
  return kit.setPhysicalId('Name the HSM set', {
    format: '{}-hsms',
    args: [REQUEST.at(`${REQUEST_FIELDS.ResourceProperties}.${HSMS_PROPERTY_FIELDS.ClusterId}`)],
  }).next(resize);
}

function updateFragment({ kit }: HsmsWorkflowProps, resize: sfn.IChainable): sfn.IChainable {
  return kit.setPhysicalId('Keep the HSM set name', REQUEST.at(REQUEST_FIELDS.PhysicalResourceId)).next(resize);
}

function deleteFragment({ kit }: HsmsWorkflowProps): sfn.IChainable {
  return kit.setPhysicalId('Keep the name of the HSM set to delete', REQUEST.at(REQUEST_FIELDS.PhysicalResourceId))
    .next(kit.waitUntil('Delete every HSM', {
      step: 'DeleteHsms',
      input: { Request: REQUEST.ref },
      result: SLOTS.emptied,
      expect: EXPECTED.hsmDelete,
    }))
    .next(kit.succeed('Answer: the HSMs are deleted', {}));
}
