import { Duration, Stack } from 'aws-cdk-lib';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { CLUSTER_ATTRIBUTES } from '../attributes';
import { ERRORS, EXPECT, NOT_CREATED_PREFIX, OUTPUTS, PKI_KINDS, REQUEST_FIELDS, REQUEST_TYPES } from '../contract.generated';
import { EC2_ERROR, EXPECTED, REQUEST, Slot, WorkflowKit, sdkParameters } from '../workflow-kit';

/** What the cluster workflow needs besides the request. */
export interface ClusterWorkflowProps {
  readonly kit: WorkflowKit;
  /** The management client's security group, which the workflow opens to the HSMs. */
  readonly clientSecurityGroupId: string;
}

function securityGroupArn(scope: Construct, groupId: string): string {
  return Stack.of(scope).formatArn({ service: 'ec2', resource: 'security-group', resourceName: groupId });
}

const HSM_PORTS = { IpProtocol: 'tcp', FromPort: 2223, ToPort: 2225 };

/**
 * A rule a re-run adds again: EC2 answers InvalidPermission.Duplicate, which
 * reaches Step Functions as `Ec2.Ec2Exception` with "already exists" in the cause.
 */
const DUPLICATE_RULE = { errors: [EC2_ERROR], cause: '*already exists*' };

/** Where each step of this workflow keeps its output. */
const SLOTS = {
  created: new Slot('$.Created'),
  uninitialized: new Slot('$.Uninitialized'),
  firstHsm: new Slot('$.FirstHsm'),
  carried: new Slot('$.Carried'),
  initialized: new Slot('$.Initialized'),
  activation: new Slot('$.Activation'),
  active: new Slot('$.Active'),
  emptied: new Slot('$.Emptied'),
  deleted: new Slot('$.Deleted'),
};

const CREATED = OUTPUTS.ClusterCreated;
const STATUS = OUTPUTS.ClusterStatus;
const CLUSTER_ID = SLOTS.created.at(CREATED.ClusterId);
const EXISTING_ID = REQUEST.at(REQUEST_FIELDS.PhysicalResourceId);

/**
 * The `Custom::CloudHsmCluster` workflow. Create: cluster, first HSM, CSR,
 * certificate, initialization, activation on the management client
 * (a restored cluster skips from creation to ACTIVE; an external PKI stops
 * at the published CSR). Update: refuses what a cluster cannot change,
 * changes the backup retention, and finishes an external PKI's cluster
 * (initialization and activation) once its certificates are ready.
 * Delete: every HSM, then the cluster (found by its tags when the physical
 * id is one CloudFormation made up for a cancelled create).
 */
export function clusterWorkflow(scope: Construct, props: ClusterWorkflowProps): sfn.IChainable {
  const create = createFragment(scope, props);
  return new sfn.Choice(scope, 'Which request?')
    .when(sfn.Condition.stringEquals(REQUEST.at(REQUEST_FIELDS.RequestType).path, REQUEST_TYPES.Create), create.start)
    .when(sfn.Condition.stringEquals(REQUEST.at(REQUEST_FIELDS.RequestType).path, REQUEST_TYPES.Delete), deleteFragment(scope, props))
    .otherwise(updateFragment(scope, props, create.initialize));
}

/** The attributes of a cluster read into `slot`. */
function attributes(clusterId: unknown, slot: Slot): Record<string, unknown> {
  return {
    [CLUSTER_ATTRIBUTES.ClusterId]: clusterId,
    [CLUSTER_ATTRIBUTES.SecurityGroupId]: slot.at(STATUS.SecurityGroupId),
    [CLUSTER_ATTRIBUTES.VpcId]: slot.at(STATUS.VpcId),
    [CLUSTER_ATTRIBUTES.State]: slot.at(STATUS.State),
  };
}

const hsmPortsTo = (groupId: unknown) => [{ ...HSM_PORTS, UserIdGroupPairs: [{ GroupId: groupId }] }];

/**
 * Opens the HSM ports between the management client and the cluster's
 * security group `clusterGroup` (a run-time path), both ways: the cluster's
 * group lets the client's in, the client's group lets it out to the
 * cluster's. A rule a re-run adds again is taken as done. Then `next`.
 * The delete path revokes both rules.
 */
function letClientIn(scope: Construct, kit: WorkflowKit, clientSecurityGroupId: string, clusterGroup: unknown, restored: boolean,
  next: sfn.IChainable): sfn.IChainable {
  const what = restored ? 'the restored HSMs' : 'the HSMs';
  const openPorts = kit.ec2Task(`Let the management client reach ${what}`, {
    action: 'authorizeSecurityGroupIngress',
    // The cluster's group is made by CloudHSM, so its id is known only at run time.
    iamResources: [securityGroupArn(scope, '*')],
    parameters: sdkParameters({ GroupId: clusterGroup, IpPermissions: hsmPortsTo(clientSecurityGroupId) }),
    resultPath: sfn.JsonPath.DISCARD,
  });
  const openEgress = kit.ec2Task(`Let the management client talk to ${what}`, {
    action: 'authorizeSecurityGroupEgress',
    iamResources: [securityGroupArn(scope, clientSecurityGroupId)],
    parameters: sdkParameters({ GroupId: clientSecurityGroupId, IpPermissions: hsmPortsTo(clusterGroup) }),
    resultPath: sfn.JsonPath.DISCARD,
  });
  kit.tolerate(openPorts, restored ? 'Was the client let in to the restored cluster already?' : 'Was the client let in already?',
    DUPLICATE_RULE, openEgress);
  kit.tolerate(openEgress, restored ? 'Was the egress to the restored cluster open already?' : 'Was the egress open already?',
    DUPLICATE_RULE, next);
  openPorts.next(openEgress);
  openEgress.next(next);
  return openPorts;
}

/** The create path, and its initialization, which an update joins. */
interface CreateFragment {
  readonly start: sfn.IChainable;
  /** Initializes and activates the cluster in `$.Created`, whose first HSM is in `$.FirstHsm`. */
  readonly initialize: sfn.IChainable;
}

function createFragment(scope: Construct, { kit, clientSecurityGroupId }: ClusterWorkflowProps): CreateFragment {
  const restored = kit.step('Carry the original CA certificate over', {
    step: 'CarryCaCertificate',
    input: { ClusterId: CLUSTER_ID, SourceBackupId: SLOTS.created.at(CREATED.Props.SourceBackupId) },
    result: SLOTS.carried,
  })
    .next(kit.waitUntil('Wait for the restored cluster to be ACTIVE', {
      step: 'AwaitCluster',
      input: { ClusterId: CLUSTER_ID, Expect: EXPECT.Active },
      result: SLOTS.active,
      expect: EXPECTED.clusterRestore,
    }))
    // The restored cluster has a security group of its own: the client is let in as to a new one.
    .next(letClientIn(scope, kit, clientSecurityGroupId, SLOTS.active.at(STATUS.SecurityGroupId), true,
      kit.succeed('Answer: the restored cluster is ACTIVE', attributes(CLUSTER_ID, SLOTS.active))));

  const external = kit.succeed('Answer: waiting for your certificate', attributes(CLUSTER_ID, SLOTS.firstHsm));

  // AWS may replace the first HSM before initialization, with a new CSR:
  // then the certificate is issued again for the new one.
  const csrReady = kit.waitUntil('Wait for the first HSM and the CSR', {
    step: 'AwaitCluster',
    input: { ClusterId: CLUSTER_ID, Expect: EXPECT.Csr },
    result: SLOTS.firstHsm,
    expect: EXPECTED.hsmCreate,
  });
  const reissue = { errors: [ERRORS.CsrChanged], next: csrReady };

  const certified = kit.step('Issue the cluster certificate', {
    step: 'IssueCertificate',
    input: { ClusterId: CLUSTER_ID, Pki: SLOTS.created.at(CREATED.Props.Pki.$) },
    recover: reissue,
  });
  const initialize = kit.step('Initialize the cluster', { step: 'InitializeCluster', input: { ClusterId: CLUSTER_ID }, recover: reissue });
  certified.next(initialize);
  const activate = kit.waitUntil('Activate the cluster on the management client', {
    step: 'ActivateCluster',
    input: {
      HsmIp: SLOTS.firstHsm.at(STATUS.HsmIp),
      CommandId: SLOTS.activation.at(OUTPUTS.CommandProgress.CommandId),
    },
    result: SLOTS.activation,
    initial: { [OUTPUTS.CommandProgress.CommandId]: '' },
  });
  initialize
    .next(kit.waitUntil('Wait for the cluster to be INITIALIZED', {
      step: 'AwaitCluster',
      input: { ClusterId: CLUSTER_ID, Expect: EXPECT.Initialized },
      result: SLOTS.initialized,
      expect: EXPECTED.clusterInitialize,
    }))
    .next(letClientIn(scope, kit, clientSecurityGroupId, SLOTS.initialized.at(STATUS.SecurityGroupId), false, activate));
  activate
    .next(kit.waitUntil('Wait for the cluster to be ACTIVE', {
      step: 'AwaitCluster',
      input: { ClusterId: CLUSTER_ID, Expect: EXPECT.Active },
      result: SLOTS.active,
    }))
    .next(kit.succeed('Answer: the cluster is ACTIVE', attributes(CLUSTER_ID, SLOTS.active)));

  csrReady
    .next(kit.step('Publish the CSR', { step: 'PublishCsr', input: { ClusterId: CLUSTER_ID } }))
    .next(new sfn.Choice(scope, 'Who issues the certificate?')
      .when(sfn.Condition.stringEquals(SLOTS.created.at(CREATED.Props.Pki.Kind).path, PKI_KINDS.External), external)
      .otherwise(certified));

  const fresh = kit.waitUntil('Wait for the cluster to be UNINITIALIZED', {
    step: 'AwaitCluster',
    input: { ClusterId: CLUSTER_ID, Expect: EXPECT.Uninitialized },
    result: SLOTS.uninitialized,
    expect: EXPECTED.clusterCreate,
  })
    .next(kit.step('Create the first HSM', {
      step: 'CreateFirstHsm',
      input: { ClusterId: CLUSTER_ID, SubnetIds: SLOTS.created.at(CREATED.Props.SubnetIds) },
    }))
    .next(csrReady);

  const start = kit.setPhysicalId('Mark the resource as not created yet', {
    format: `${NOT_CREATED_PREFIX}{}`,
    args: [REQUEST.at(REQUEST_FIELDS.RequestId)],
  })
    .next(kit.step('Check the properties and create the cluster', {
      step: 'CreateCluster',
      input: { Request: REQUEST.ref },
      result: SLOTS.created,
    }))
    .next(kit.setPhysicalId('Record the cluster id', CLUSTER_ID))
    .next(new sfn.Choice(scope, 'Restore from a backup?')
      .when(sfn.Condition.isPresent(SLOTS.created.at(CREATED.Props.SourceBackupId).path), restored)
      .otherwise(fresh));
  return { start, initialize };
}

function updateFragment(scope: Construct, { kit }: ClusterWorkflowProps, initialize: sfn.IChainable): sfn.IChainable {
  // The check writes where the create's first step does: the initialization reads either.
  const firstHsm = kit.waitUntil('Read the first HSM of the cluster', {
    step: 'AwaitCluster',
    // Its one HSM, which an earlier try may have initialized already: the activation connects to it.
    input: { ClusterId: CLUSTER_ID, Expect: EXPECT.HsmsActive },
    result: SLOTS.firstHsm,
  }).next(initialize);
  return kit.setPhysicalId('Keep the cluster id', EXISTING_ID)
    .next(kit.step('Check the update and change the backup retention', {
      step: 'CheckUpdate',
      input: { Request: REQUEST.ref },
      result: SLOTS.created,
    }))
    .next(new sfn.Choice(scope, 'Are your certificates ready to initialize the cluster?')
      .when(sfn.Condition.booleanEquals(SLOTS.created.at(OUTPUTS.ClusterUpdate.Initialize).path, true), firstHsm)
      .otherwise(kit.succeed('Answer: the cluster is up to date', attributes(EXISTING_ID, SLOTS.created))));
}

/**
 * A rule that is not there: the create did not get as far as adding it, or a
 * re-run revoked it already. EC2 answers InvalidPermission.NotFound ("does not
 * exist"), or InvalidGroup.NotFound when the group itself is gone.
 */
const ABSENT_RULE = { errors: [EC2_ERROR], cause: '*does not exist*' };

function deleteFragment(scope: Construct, { kit, clientSecurityGroupId }: ClusterWorkflowProps): sfn.IChainable {
  const clusterGroup = SLOTS.emptied.at(STATUS.SecurityGroupId);
  // Both rules the create added go, so that neither group is left referenced by
  // the other: EC2 refuses to delete a group another group's rules name
  // (DependencyViolation), the client's when the stack goes, the cluster's
  // when CloudHSM deletes the cluster. They run after every HSM is gone, which
  // may be at the deadline: short attempts keep the cluster's delete check
  // within one sleep of it.
  const revokeTimeout = Duration.seconds(10);
  const closeIngress = kit.ec2Task('Stop letting the management client in to the HSMs', {
    action: 'revokeSecurityGroupIngress',
    iamResources: [securityGroupArn(scope, '*')],
    parameters: sdkParameters({ GroupId: clusterGroup, IpPermissions: hsmPortsTo(clientSecurityGroupId) }),
    resultPath: sfn.JsonPath.DISCARD,
  }, revokeTimeout);
  const closeEgress = kit.ec2Task('Close the client egress to the HSMs', {
    action: 'revokeSecurityGroupEgress',
    iamResources: [securityGroupArn(scope, clientSecurityGroupId)],
    parameters: sdkParameters({ GroupId: clientSecurityGroupId, IpPermissions: hsmPortsTo(clusterGroup) }),
    resultPath: sfn.JsonPath.DISCARD,
  }, revokeTimeout);
  // The cluster DeleteHsms found: by the physical id, or by the stack's and the
  // resource's tags when CloudFormation cancelled the create and made an id up.
  const deleteCluster = kit.waitUntil('Delete the cluster', {
    step: 'DeleteCluster',
    input: { ClusterId: SLOTS.emptied.at(STATUS.Cluster.ClusterId) },
    result: SLOTS.deleted,
    expect: EXPECTED.clusterDelete,
  }).next(kit.succeed('Answer: the cluster is deleted', {}));
  // The rules exist only if the create got as far as initialization.
  kit.tolerate(closeIngress, 'Was the client let in at all?', ABSENT_RULE, closeEgress);
  kit.tolerate(closeEgress, 'Was the egress open at all?', ABSENT_RULE, deleteCluster);
  closeIngress.next(closeEgress);
  closeEgress.next(deleteCluster);
  return kit.setPhysicalId('Keep the id of the cluster to delete', EXISTING_ID)
    .next(kit.waitUntil('Delete every HSM', {
      step: 'DeleteHsms',
      input: { Request: REQUEST.ref },
      result: SLOTS.emptied,
      expect: EXPECTED.hsmDelete,
    }))
    .next(new sfn.Choice(scope, 'Does the cluster still exist?')
      .when(sfn.Condition.isPresent(SLOTS.emptied.at(STATUS.Cluster.$).path), closeIngress)
      .otherwise(kit.succeed('Answer: the cluster was already gone', {})));
}
