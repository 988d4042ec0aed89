import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { ManagementClient } from './client';
import { ClusterSecrets } from './cluster-secrets';
import { RESOURCE_TYPES } from './contract.generated';
import { EntryFunction } from './entry-function';
import { TasksFunction } from './tasks-function';
import { Workflow } from './workflow';
import { WorkflowKit } from './workflow-kit';
import { clusterWorkflow } from './workflows/cluster-workflow';
import { hsmsWorkflow } from './workflows/hsms-workflow';

export interface ClusterMachineryProps {
  readonly architecture: lambda.Architecture;
  readonly encryptionKey?: kms.IKey;
  readonly secrets: ClusterSecrets;
  readonly client: ManagementClient;
  /** The VPC of the cluster. */
  readonly vpcId: string;
  /** The AWS Private CA that issues the cluster certificate, if one does. */
  readonly certificateAuthorityArn?: string;
}

/** What runs behind a cluster's custom resources. */
export interface ClusterMachinery {
  /** The service token of both custom resources. */
  readonly serviceToken: string;
  /** The `Custom::CloudHsmCluster` workflow. */
  readonly clusterWorkflow: Workflow;
  /** The `Custom::CloudHsmHsms` workflow. */
  readonly hsmsWorkflow: Workflow;
}

/**
 * Adds to `scope` the entry function CloudFormation invokes, the function
 * that runs the workflow steps, and the two workflows. They are children of
 * `scope` itself, so their logical ids do not depend on this helper.
 */
export function clusterMachinery(scope: Construct, props: ClusterMachineryProps): ClusterMachinery {
  const { architecture, encryptionKey, secrets, client } = props;
  const entry = new EntryFunction(scope, 'Entry', { architecture, encryptionKey });
  const tasksFunction = new TasksFunction(scope, 'Tasks', {
    architecture,
    encryptionKey,
    secrets,
    certificateAuthorityArn: props.certificateAuthorityArn,
    client,
    vpcId: props.vpcId,
  });
  const kitFor = (workflowScope: Construct) => new WorkflowKit(workflowScope, tasksFunction.function, entry.function);
  const clusterFlow = new Workflow(scope, 'ClusterWorkflow', {
    definition: (workflowScope) => clusterWorkflow(workflowScope, {
      kit: kitFor(workflowScope),
      clientSecurityGroupId: client.securityGroup.securityGroupId,
    }),
    encryptionKey,
  });
  const hsmsFlow = new Workflow(scope, 'HsmsWorkflow', {
    definition: (workflowScope) => hsmsWorkflow(workflowScope, { kit: kitFor(workflowScope) }),
    encryptionKey,
  });
  entry.addRoute(RESOURCE_TYPES.cluster, clusterFlow);
  entry.addRoute(RESOURCE_TYPES.hsms, hsmsFlow);
  entry.answerForEndedExecutions([clusterFlow, hsmsFlow]);
  return { serviceToken: entry.functionArn, clusterWorkflow: clusterFlow, hsmsWorkflow: hsmsFlow };
}
