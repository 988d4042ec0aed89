import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { KEY_ATTRIBUTES } from '../attributes';
import { ERRORS, KEY_PROPERTY_FIELDS, NOT_CREATED_PREFIX, OUTPUTS, REQUEST_FIELDS, REQUEST_TYPES } from '../contract.generated';
import { REQUEST, Slot, WorkflowKit } from '../workflow-kit';

/** What the key workflow needs besides the request. */
export interface KeyWorkflowProps {
  readonly kit: WorkflowKit;
}

/** Where each step of this workflow keeps its output. */
const SLOTS = {
  connected: new Slot('$.Connected'),
  key: new Slot('$.Key'),
};

const EXISTING_ID = REQUEST.at(REQUEST_FIELDS.PhysicalResourceId);
const STORE_ID = REQUEST.at(`${REQUEST_FIELDS.ResourceProperties}.${KEY_PROPERTY_FIELDS.CustomKeyStoreId}`);

/**
 * The `Custom::CloudHsmKey` workflow. Create and update wait for the key
 * store to be CONNECTED (connecting it when it was disconnected), then make
 * or change the key. Delete schedules the key's deletion under `DESTROY`
 * and never fails the stack's deletion.
 */
export function keyWorkflow(scope: Construct, props: KeyWorkflowProps): sfn.IChainable {
  return new sfn.Choice(scope, 'Which request?')
    .when(sfn.Condition.stringEquals(REQUEST.at(REQUEST_FIELDS.RequestType).path, REQUEST_TYPES.Create), createFragment(props))
    .when(sfn.Condition.stringEquals(REQUEST.at(REQUEST_FIELDS.RequestType).path, REQUEST_TYPES.Delete), deleteFragment(scope, props))
    .otherwise(updateFragment(props));
}

function awaitStore(kit: WorkflowKit, name: string): sfn.Chain {
  return kit.waitUntil(name, {
    step: 'ConnectKeyStore',
    input: { CustomKeyStoreId: STORE_ID },
    result: SLOTS.connected,
  });
}

function createFragment({ kit }: KeyWorkflowProps): sfn.IChainable {
  const keyId = SLOTS.key.at(OUTPUTS.KeyCreated.KeyId);
  return kit.setPhysicalId('Mark the key as not created yet', {
    format: `${NOT_CREATED_PREFIX}{}`,
    args: [REQUEST.at(REQUEST_FIELDS.RequestId)],
  })
    .next(awaitStore(kit, 'Wait for the key store to be CONNECTED'))
    .next(kit.step('Create the key', { step: 'CreateKey', input: { Request: REQUEST.ref }, result: SLOTS.key }))
    .next(kit.setPhysicalId('Record the key id', keyId))
    .next(kit.succeed('Answer: the key is created', {
      [KEY_ATTRIBUTES.KeyId]: keyId,
      [KEY_ATTRIBUTES.KeyArn]: SLOTS.key.at(OUTPUTS.KeyCreated.KeyArn),
    }));
}

function updateFragment({ kit }: KeyWorkflowProps): sfn.IChainable {
  return kit.setPhysicalId('Keep the key id', EXISTING_ID)
    .next(awaitStore(kit, 'Wait for the key store to be CONNECTED before the update'))
    .next(kit.step('Update the key', { step: 'UpdateKey', input: { Request: REQUEST.ref } }))
    .next(kit.succeed('Answer: the key is updated', { [KEY_ATTRIBUTES.KeyId]: EXISTING_ID }));
}

function deleteFragment(scope: Construct, { kit }: KeyWorkflowProps): sfn.IChainable {
  const answer = kit.succeed('Answer: the key is scheduled for deletion or kept', {});
  // A key that cannot be scheduled for deletion (its store gone) never holds up the stack.
  const keep = new sfn.Pass(scope, 'Leave the key as it is').next(answer);
  return kit.setPhysicalId('Keep the id of the key to delete', EXISTING_ID)
    .next(kit.step('Schedule the key deletion unless it is kept', {
      step: 'ScheduleKeyDeletion',
      input: { Request: REQUEST.ref },
      recover: { errors: [ERRORS.PreconditionFailed], next: keep },
    }))
    .next(answer);
}
