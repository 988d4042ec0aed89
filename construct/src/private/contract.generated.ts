// Generated from handlers/cluster-tasks/src/contract.rs by `cargo run -p contract-gen`: do not edit.
// The protocol between the state machines and the Rust handlers, which Rust owns.

/** A JSONPath that a state machine reads at run time, in place of a literal value. */
export class JsonPathRef {
  constructor(public readonly path: string) {}
}

/** A payload field: a literal value or a JSONPath. */
export type Field<T> = T | JsonPathRef;

/** The handler binaries, by role. */
export const HANDLERS = {
  entry: 'custom-resource',
  tasks: 'cluster-tasks',
} as const;

/** The architectures the handlers are built for. */
export const ARCHITECTURES = ['arm64', 'x86_64'] as const;

/** Where the binaries and their manifest are in the package's assets folder. */
export const ASSETS = {
  manifest: 'manifest.json',
  path: '{handler}/{architecture}/bootstrap',
} as const;

/** The physical id prefix of a resource whose create made nothing. */
export const NOT_CREATED_PREFIX = 'not-created-' as const;

/** The context key that sets how often workflows poll, in seconds. */
export const POLL_SECONDS_CONTEXT = '@cdk-cloudhsm/poll-seconds' as const;

/** Tag keys the handlers put on resources. */
export const TAGS = {
  clusterId: 'cdk-cloudhsm:cluster-id',
  logicalId: 'cdk-cloudhsm:logical-id',
  requestId: 'cdk-cloudhsm:request-id',
  stackId: 'cdk-cloudhsm:stack-id',
} as const;

/** The custom resource types. */
export const RESOURCE_TYPES = {
  cluster: 'Custom::CloudHsmCluster',
  hsms: 'Custom::CloudHsmHsms',
} as const;

/** The state machine input key of the CloudFormation request. */
export const REQUEST_KEY = 'Request' as const;

/** The entry function payload key of a workflow's completion. */
export const COMPLETION_KEY = 'Completion' as const;

/** The step payload key that names the step. */
export const STEP_KEY = 'Step' as const;

/** The fields of a CloudFormation request. */
export const REQUEST_FIELDS = {
  LogicalResourceId: 'LogicalResourceId',
  OldResourceProperties: 'OldResourceProperties',
  PhysicalResourceId: 'PhysicalResourceId',
  RequestId: 'RequestId',
  RequestType: 'RequestType',
  ResourceProperties: 'ResourceProperties',
  ResourceType: 'ResourceType',
  ResponseURL: 'ResponseURL',
  ServiceToken: 'ServiceToken',
  StackId: 'StackId',
} as const;

/** CloudFormation's request types. */
export const REQUEST_TYPES = {
  Create: 'Create',
  Delete: 'Delete',
  Update: 'Update',
} as const;

/** Who issues the cluster certificate, as the `Pki` property's `Kind` says. */
export const PKI_KINDS = {
  CertificateAuthority: 'CERTIFICATE_AUTHORITY',
  EphemeralCa: 'EPHEMERAL_CA',
  External: 'EXTERNAL',
  PrivateCa: 'PRIVATE_CA',
} as const;

/** The properties of a `Custom::CloudHsmCluster`, by name. */
export const CLUSTER_PROPERTY_FIELDS = {
  BackupRetentionDays: 'BackupRetentionDays',
  HsmType: 'HsmType',
  HsmsPerSubnet: 'HsmsPerSubnet',
  Mode: 'Mode',
  NetworkType: 'NetworkType',
  Pki: 'Pki',
  SourceBackupId: 'SourceBackupId',
  SubnetIds: 'SubnetIds',
} as const;

/** The properties of a `Custom::CloudHsmHsms`, by name. */
export const HSMS_PROPERTY_FIELDS = {
  ClusterId: 'ClusterId',
  ClusterState: 'ClusterState',
  HsmsPerSubnet: 'HsmsPerSubnet',
  SubnetIds: 'SubnetIds',
} as const;

/** The Lambda error types the handlers raise. */
export const ERRORS = {
  CsrChanged: 'CsrChanged',
  Internal: 'Internal',
  InvalidEvent: 'InvalidEvent',
  InvalidProperties: 'InvalidProperties',
  PreconditionFailed: 'PreconditionFailed',
  Transient: 'Transient',
} as const;

/** What an AwaitCluster step can wait for. */
export const EXPECT = {
  Active: 'ACTIVE',
  Csr: 'CSR',
  HsmsActive: 'HSMS_ACTIVE',
  Initialized: 'INITIALIZED',
  NoHsms: 'NO_HSMS',
  Uninitialized: 'UNINITIALIZED',
} as const;

/** The tasks function's environment variables, by configuration field. */
export const TASKS_ENV = {
  activateDocument: 'ACTIVATE_DOCUMENT',
  adminPasswordSecretArn: 'ADMIN_PASSWORD_SECRET_ARN',
  caCertificateSecretArn: 'CA_CERTIFICATE_SECRET_ARN',
  clientInstanceId: 'CLIENT_INSTANCE_ID',
  clusterCertificateSecretArn: 'CLUSTER_CERTIFICATE_SECRET_ARN',
  configureDocument: 'CONFIGURE_DOCUMENT',
  csrSecretArn: 'CSR_SECRET_ARN',
} as const;

/** Each step's payload, without the step key. */
export interface StepInputs {
  readonly ActivateCluster: {
    readonly CommandId?: Field<string>;
    readonly HsmIp: Field<string>;
    readonly Since: Field<string>;
    readonly TimeoutMinutes: Field<number>;
  };
  readonly AwaitCluster: {
    readonly ClusterId: Field<string>;
    readonly Expect: Field<string>;
    readonly MissingOk?: Field<boolean>;
    readonly Since: Field<string>;
    readonly TimeoutMinutes: Field<number>;
  };
  readonly CarryCaCertificate: {
    readonly ClusterId: Field<string>;
    readonly SourceBackupId: Field<string>;
  };
  readonly CheckUpdate: {
    readonly Request: Field<Readonly<Record<string, unknown>>>;
  };
  readonly ConfigureClient: {
    readonly CommandId?: Field<string>;
    readonly HsmIps: Field<string>;
    readonly Since: Field<string>;
    readonly TimeoutMinutes: Field<number>;
  };
  readonly CreateCluster: {
    readonly Request: Field<Readonly<Record<string, unknown>>>;
  };
  readonly CreateFirstHsm: {
    readonly ClusterId: Field<string>;
    readonly SubnetIds: Field<readonly string[]>;
  };
  readonly DeleteCluster: {
    readonly ClusterId: Field<string>;
    readonly Since: Field<string>;
    readonly TimeoutMinutes: Field<number>;
  };
  readonly DeleteHsms: {
    readonly Request: Field<Readonly<Record<string, unknown>>>;
    readonly Since: Field<string>;
    readonly TimeoutMinutes: Field<number>;
  };
  readonly InitializeCluster: {
    readonly ClusterId: Field<string>;
  };
  readonly IssueCertificate: {
    readonly ClusterId: Field<string>;
    readonly Pki: Field<Readonly<Record<string, unknown>>>;
  };
  readonly PublishCsr: {
    readonly ClusterId: Field<string>;
  };
  readonly ResizeHsms: {
    readonly Request: Field<Readonly<Record<string, unknown>>>;
  };
}

/** A step's name. */
export type StepName = keyof StepInputs;

/** The output type of each step. */
export const STEP_OUTPUTS = {
  ActivateCluster: 'CommandProgress',
  AwaitCluster: 'ClusterStatus',
  CarryCaCertificate: 'CaCarried',
  CheckUpdate: 'ClusterUpdate',
  ConfigureClient: 'CommandProgress',
  CreateCluster: 'ClusterCreated',
  CreateFirstHsm: 'Done',
  DeleteCluster: 'Progress',
  DeleteHsms: 'ClusterStatus',
  InitializeCluster: 'Done',
  IssueCertificate: 'Done',
  PublishCsr: 'Done',
  ResizeHsms: 'Resized',
} as const;

/** Where each output type's fields are, relative to the state that holds the output. */
export const OUTPUTS = {
  CaCarried: {
    Carried: 'Carried',
    From: 'From',
    SourceClusterId: 'SourceClusterId',
  },
  ClusterCreated: {
    Cluster: {
      '$': 'Cluster',
      ClusterId: 'Cluster.ClusterId',
      HasCsr: 'Cluster.HasCsr',
      Hsms: 'Cluster.Hsms',
      SecurityGroupId: 'Cluster.SecurityGroupId',
      State: 'Cluster.State',
      StateMessage: 'Cluster.StateMessage',
      SubnetMapping: 'Cluster.SubnetMapping',
      VpcId: 'Cluster.VpcId',
    },
    ClusterId: 'ClusterId',
    Props: {
      '$': 'Props',
      BackupRetentionDays: 'Props.BackupRetentionDays',
      HsmType: 'Props.HsmType',
      HsmsPerSubnet: 'Props.HsmsPerSubnet',
      Mode: 'Props.Mode',
      NetworkType: 'Props.NetworkType',
      Pki: {
        '$': 'Props.Pki',
        CertificateAuthorityArn: 'Props.Pki.CertificateAuthorityArn',
        CertificatesReady: 'Props.Pki.CertificatesReady',
        Kind: 'Props.Pki.Kind',
      },
      SourceBackupId: 'Props.SourceBackupId',
      SubnetIds: 'Props.SubnetIds',
    },
  },
  ClusterStatus: {
    Cluster: {
      '$': 'Cluster',
      ClusterId: 'Cluster.ClusterId',
      HasCsr: 'Cluster.HasCsr',
      Hsms: 'Cluster.Hsms',
      SecurityGroupId: 'Cluster.SecurityGroupId',
      State: 'Cluster.State',
      StateMessage: 'Cluster.StateMessage',
      SubnetMapping: 'Cluster.SubnetMapping',
      VpcId: 'Cluster.VpcId',
    },
    HsmIds: 'HsmIds',
    HsmIp: 'HsmIp',
    HsmIpAddresses: 'HsmIpAddresses',
    Ready: 'Ready',
  },
  ClusterUpdate: {
    Cluster: {
      '$': 'Cluster',
      ClusterId: 'Cluster.ClusterId',
      HasCsr: 'Cluster.HasCsr',
      Hsms: 'Cluster.Hsms',
      SecurityGroupId: 'Cluster.SecurityGroupId',
      State: 'Cluster.State',
      StateMessage: 'Cluster.StateMessage',
      SubnetMapping: 'Cluster.SubnetMapping',
      VpcId: 'Cluster.VpcId',
    },
    ClusterId: 'ClusterId',
    Initialize: 'Initialize',
    Props: {
      '$': 'Props',
      BackupRetentionDays: 'Props.BackupRetentionDays',
      HsmType: 'Props.HsmType',
      HsmsPerSubnet: 'Props.HsmsPerSubnet',
      Mode: 'Props.Mode',
      NetworkType: 'Props.NetworkType',
      Pki: {
        '$': 'Props.Pki',
        CertificateAuthorityArn: 'Props.Pki.CertificateAuthorityArn',
        CertificatesReady: 'Props.Pki.CertificatesReady',
        Kind: 'Props.Pki.Kind',
      },
      SourceBackupId: 'Props.SourceBackupId',
      SubnetIds: 'Props.SubnetIds',
    },
  },
  CommandProgress: {
    CommandId: 'CommandId',
    Ready: 'Ready',
  },
  Done: {
  },
  Progress: {
    Ready: 'Ready',
  },
  Resized: {
    ClusterId: 'ClusterId',
    Created: 'Created',
    Deleted: 'Deleted',
    IpAddressesNotKept: 'IpAddressesNotKept',
    Waiting: 'Waiting',
  },
} as const;

/** The completion a workflow sends the entry function. */
export interface CompletionInput {
  readonly Data?: Field<Readonly<Record<string, unknown>>>;
  readonly Error?: Field<Readonly<Record<string, unknown>>>;
  readonly Execution?: Field<string>;
  readonly NoEcho?: Field<boolean>;
  readonly PhysicalResourceId?: Field<string>;
  readonly Request: Field<Readonly<Record<string, unknown>>>;
}

/** The properties of a `Custom::CloudHsmCluster`. */
export interface ClusterResourceProperties {
  readonly BackupRetentionDays: number;
  readonly HsmType: string;
  readonly HsmsPerSubnet: number;
  readonly Mode: string;
  readonly NetworkType: string;
  readonly Pki: Readonly<Record<string, unknown>>;
  readonly SourceBackupId?: string;
  readonly SubnetIds: readonly string[];
}

/** The properties of a `Custom::CloudHsmHsms`. */
export interface HsmsResourceProperties {
  readonly ClusterId: string;
  readonly ClusterState?: string;
  readonly HsmsPerSubnet: number;
  readonly SubnetIds: readonly string[];
}
