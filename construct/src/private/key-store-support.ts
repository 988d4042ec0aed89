import { CustomResource } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';

/** The management client a key store creates kmsuser on. */
export interface KeyStoreClient {
  /** The EC2 instance id. */
  readonly instanceId: string;
  /** Its instance profile's principal, which the kmsuser document runs as. */
  readonly grantee: iam.IGrantable;
  /** The cluster admin's password, which creates kmsuser. */
  readonly adminPassword: secretsmanager.ISecret;
  /** Whether the client may already read the admin password and the trust anchor (a client of this library). */
  readonly readsClusterSecrets: boolean;
}

/** What a cluster, made by this library or imported, gives a key store on it. */
export interface KeyStoreSupport {
  /** The `Custom::CloudHsmHsms` resource of a cluster of this stack: the key store is made after it and deleted before it. */
  readonly hsms?: CustomResource;
  /** The HSMs' subnets and how many HSMs each holds, when known at synth time (a cluster of this app). */
  readonly layout?: { readonly subnets: ec2.ISubnet[]; readonly hsmsPerSubnet: number };
  /** The architecture of the handler functions. */
  readonly architecture: lambda.Architecture;
  /** The cluster's customer managed key, if any. */
  readonly encryptionKey?: kms.IKey;
  /** The trust anchor (the CA certificate that issued the cluster certificate). */
  readonly trustAnchor: secretsmanager.ISecret;
  /** The management client, which creates kmsuser; none for an imported cluster whose kmsuser exists. */
  readonly client?: KeyStoreClient;
  /** The password of a kmsuser that exists already; none: the key store generates one. */
  readonly kmsUserPassword?: secretsmanager.ISecret;
  /** The environment of the tasks function: the cluster's fixed resources (the key store steps read none of them). */
  readonly tasksEnvironment: Record<string, string>;
}
