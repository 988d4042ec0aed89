import { CustomResource } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { ManagementClient } from './client';
import { ClusterSecrets } from './cluster-secrets';

/** What a cluster made by this library gives a key store on it. */
export interface KeyStoreSupport {
  /** The `Custom::CloudHsmHsms` resource: the key store is made after it and deleted before it. */
  readonly hsms: CustomResource;
  /** The HSMs' subnets. */
  readonly subnets: ec2.ISubnet[];
  /** HSMs in each subnet. */
  readonly hsmsPerSubnet: number;
  /** The architecture of the handler functions. */
  readonly architecture: lambda.Architecture;
  /** The cluster's customer managed key, if any. */
  readonly encryptionKey?: kms.IKey;
  /** The management client, which creates kmsuser. */
  readonly client: ManagementClient;
  /** The cluster's secrets: the admin password and the trust anchor. */
  readonly secrets: ClusterSecrets;
}
