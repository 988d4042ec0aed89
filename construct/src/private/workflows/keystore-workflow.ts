import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { KEY_STORE_ATTRIBUTES } from '../attributes';
import { NOT_CREATED_PREFIX, OUTPUTS, REQUEST_FIELDS, REQUEST_TYPES } from '../contract.generated';
import { EXPECTED, REQUEST, Slot, WorkflowKit } from '../workflow-kit';

/** What the key store workflow needs besides the request. */
export interface KeyStoreWorkflowProps {
  readonly kit: WorkflowKit;
}

/** Where each step of this workflow keeps its output. */
const SLOTS = {
  kmsUser: new Slot('$.KmsUser'),
  created: new Slot('$.Created'),
  connected: new Slot('$.Connected'),
  plan: new Slot('$.Plan'),
  disconnected: new Slot('$.Disconnected'),
  deleted: new Slot('$.Deleted'),
};

const EXISTING_ID = REQUEST.at(REQUEST_FIELDS.PhysicalResourceId);

/**
 * The `Custom::CloudHsmKeyStore` workflow. Create: kmsuser on every HSM
 * (through the management client), the key store with the cluster's trust
 * anchor, connected. Update: renames, re-points to another cluster of the
 * same backup history or gives KMS a new kmsuser password (disconnected
 * meanwhile), and reconnects a store found disconnected. Delete:
 * disconnects, then deletes the store under `DESTROY` when no key is in it.
 */
export function keyStoreWorkflow(scope: Construct, props: KeyStoreWorkflowProps): sfn.IChainable {
  return new sfn.Choice(scope, 'Which request?')
    .when(sfn.Condition.stringEquals(REQUEST.at(REQUEST_FIELDS.RequestType).path, REQUEST_TYPES.Create), createFragment(props))
    .when(sfn.Condition.stringEquals(REQUEST.at(REQUEST_FIELDS.RequestType).path, REQUEST_TYPES.Delete), deleteFragment(props))
    .otherwise(updateFragment(scope, props));
}

function ensureKmsUser(kit: WorkflowKit, name: string, resetPassword: boolean): sfn.Chain {
  return kit.waitUntil(name, {
    step: 'EnsureKmsUser',
    input: {
      Request: REQUEST.ref,
      ResetPassword: resetPassword,
      CommandId: SLOTS.kmsUser.at(OUTPUTS.CommandProgress.CommandId),
    },
    result: SLOTS.kmsUser,
    initial: { [OUTPUTS.CommandProgress.CommandId]: '' },
  });
}

function connect(kit: WorkflowKit, name: string, storeId: unknown): sfn.Chain {
  return kit.waitUntil(name, {
    step: 'ConnectKeyStore',
    input: { CustomKeyStoreId: storeId as never },
    result: SLOTS.connected,
    expect: EXPECTED.keyStoreConnect,
  });
}

function createFragment({ kit }: KeyStoreWorkflowProps): sfn.IChainable {
  const storeId = SLOTS.created.at(OUTPUTS.KeyStoreCreated.CustomKeyStoreId);
  return kit.setPhysicalId('Mark the key store as not created yet', {
    format: `${NOT_CREATED_PREFIX}{}`,
    args: [REQUEST.at(REQUEST_FIELDS.RequestId)],
  })
    .next(ensureKmsUser(kit, 'Create kmsuser on every HSM', false))
    .next(kit.step('Create the key store', { step: 'CreateKeyStore', input: { Request: REQUEST.ref }, result: SLOTS.created }))
    .next(kit.setPhysicalId('Record the key store id', storeId))
    .next(connect(kit, 'Connect the key store', storeId))
    .next(kit.succeed('Answer: the key store is CONNECTED', {
      [KEY_STORE_ATTRIBUTES.CustomKeyStoreId]: storeId,
      [KEY_STORE_ATTRIBUTES.ConnectionState]: SLOTS.connected.at(OUTPUTS.KeyStoreConnection.ConnectionState),
    }));
}

function updateFragment(scope: Construct, { kit }: KeyStoreWorkflowProps): sfn.IChainable {
  const reconnect = connect(kit, 'Connect the key store after the update', EXISTING_ID)
    .next(kit.succeed('Answer: the key store is updated and CONNECTED', {
      [KEY_STORE_ATTRIBUTES.CustomKeyStoreId]: EXISTING_ID,
      [KEY_STORE_ATTRIBUTES.ConnectionState]: SLOTS.connected.at(OUTPUTS.KeyStoreConnection.ConnectionState),
    }));
  const update = kit.step('Update the key store', { step: 'UpdateKeyStore', input: { Request: REQUEST.ref } }).next(reconnect);
  const change = kit.waitUntil('Disconnect the key store to change it', {
    step: 'DisconnectKeyStore',
    input: { CustomKeyStoreId: EXISTING_ID },
    result: SLOTS.disconnected,
  }).next(new sfn.Choice(scope, 'A new kmsuser password?')
    .when(sfn.Condition.booleanEquals(SLOTS.plan.at(OUTPUTS.KeyStorePlan.ResetPassword).path, true),
      ensureKmsUser(kit, 'Set the kmsuser password on every HSM', true).next(update))
    .otherwise(update));
  return kit.setPhysicalId('Keep the key store id', EXISTING_ID)
    .next(kit.step('Plan the update', { step: 'PlanKeyStoreUpdate', input: { Request: REQUEST.ref }, result: SLOTS.plan }))
    .next(new sfn.Choice(scope, 'Does the key store change?')
      .when(sfn.Condition.booleanEquals(SLOTS.plan.at(OUTPUTS.KeyStorePlan.Change).path, true), change)
      .otherwise(reconnect));
}

function deleteFragment({ kit }: KeyStoreWorkflowProps): sfn.IChainable {
  return kit.setPhysicalId('Keep the id of the key store to delete', EXISTING_ID)
    .next(kit.waitUntil('Disconnect the key store', {
      step: 'DisconnectKeyStore',
      input: { CustomKeyStoreId: EXISTING_ID },
      result: SLOTS.disconnected,
    }))
    .next(kit.step('Delete the key store unless it is kept', {
      step: 'DeleteKeyStore', input: { Request: REQUEST.ref }, result: SLOTS.deleted,
    }))
    .next(kit.succeed('Answer: the key store is disconnected, and deleted or kept', {
      [KEY_STORE_ATTRIBUTES.Deleted]: SLOTS.deleted.at(OUTPUTS.KeyStoreDeleted.Deleted),
      [KEY_STORE_ATTRIBUTES.Reason]: SLOTS.deleted.at(OUTPUTS.KeyStoreDeleted.Reason),
    }));
}
