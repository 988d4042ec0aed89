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
  keyRequestId: 'cdk-cloudhsm:request-id',
  logicalId: 'cdk-cloudhsm:logical-id',
  requestId: 'cdk-cloudhsm:request-id',
  stackId: 'cdk-cloudhsm:stack-id',
} as const;

/** The custom resource types. */
export const RESOURCE_TYPES = {
  cluster: 'Custom::CloudHsmCluster',
  hsms: 'Custom::CloudHsmHsms',
  key: 'Custom::CloudHsmKey',
  keyStore: 'Custom::CloudHsmKeyStore',
} as const;

/** The state machine input key of the CloudFormation request. */
export const REQUEST_KEY = 'Request' as const;

/** The entry function payload key of a workflow's completion. */
export const COMPLETION_KEY = 'Completion' as const;

/** The step payload key that names the step. */
export const STEP_KEY = 'Step' as const;

/** The step payload key of the execution's deadline, which every step checks. */
export const DEADLINE_KEY = 'Deadline' as const;

/** The key of the entry function's answer to a completion: in a history, the sign of an answer. */
export const ANSWERED_KEY = 'Answered' as const;

/** The error of the Fail state that ends an execution whose failure CloudFormation was told. */
export const REPORTED_FAILURE_ERROR = 'ResourceOperationFailed' as const;

/** The detail-type of Step Functions' execution status change events. */
export const STATUS_CHANGE_DETAIL_TYPE = 'Step Functions Execution Status Change' as const;

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
  ClientInstanceId: 'ClientInstanceId',
  ClusterId: 'ClusterId',
  ClusterState: 'ClusterState',
  HsmsPerSubnet: 'HsmsPerSubnet',
  SubnetIds: 'SubnetIds',
} as const;

/** The properties of a `Custom::CloudHsmKeyStore`, by name. */
export const KEY_STORE_PROPERTY_FIELDS = {
  AdminPasswordSecretArn: 'AdminPasswordSecretArn',
  ClientInstanceId: 'ClientInstanceId',
  ClusterId: 'ClusterId',
  KeyStoreName: 'KeyStoreName',
  KmsUserDocument: 'KmsUserDocument',
  KmsUserPasswordSecretArn: 'KmsUserPasswordSecretArn',
  RemovalPolicy: 'RemovalPolicy',
  TrustAnchorSecretArn: 'TrustAnchorSecretArn',
} as const;

/** The properties of a `Custom::CloudHsmKey`, by name. */
export const KEY_PROPERTY_FIELDS = {
  CustomKeyStoreId: 'CustomKeyStoreId',
  Description: 'Description',
  PendingWindowDays: 'PendingWindowDays',
  Policy: 'Policy',
  RemovalPolicy: 'RemovalPolicy',
  Tags: 'Tags',
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
  clientNetwork: 'CLIENT_NETWORK',
  clusterCertificateSecretArn: 'CLUSTER_CERTIFICATE_SECRET_ARN',
  configureDocument: 'CONFIGURE_DOCUMENT',
  csrSecretArn: 'CSR_SECRET_ARN',
} as const;

/** Each step's payload, without the step key. */
export interface StepInputs {
  readonly ActivateCluster: {
    readonly CommandId?: Field<string>;
    readonly HsmIp: Field<string>;
  };
  readonly AwaitCluster: {
    readonly ClusterId: Field<string>;
    readonly Expect: Field<string>;
    readonly MissingOk?: Field<boolean>;
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
  };
  readonly ConnectKeyStore: {
    readonly CustomKeyStoreId: Field<string>;
  };
  readonly CreateCluster: {
    readonly Request: Field<Readonly<Record<string, unknown>>>;
  };
  readonly CreateFirstHsm: {
    readonly ClusterId: Field<string>;
    readonly SubnetIds: Field<readonly string[]>;
  };
  readonly CreateKey: {
    readonly Request: Field<Readonly<Record<string, unknown>>>;
  };
  readonly CreateKeyStore: {
    readonly Request: Field<Readonly<Record<string, unknown>>>;
  };
  readonly DeleteCluster: {
    readonly ClusterId: Field<string>;
  };
  readonly DeleteHsms: {
    readonly Request: Field<Readonly<Record<string, unknown>>>;
  };
  readonly DeleteKeyStore: {
    readonly Request: Field<Readonly<Record<string, unknown>>>;
  };
  readonly DisconnectKeyStore: {
    readonly CustomKeyStoreId: Field<string>;
  };
  readonly EnsureKmsUser: {
    readonly CommandId?: Field<string>;
    readonly Request: Field<Readonly<Record<string, unknown>>>;
    readonly ResetPassword: Field<boolean>;
  };
  readonly InitializeCluster: {
    readonly ClusterId: Field<string>;
  };
  readonly IssueCertificate: {
    readonly ClusterId: Field<string>;
    readonly Pki: Field<Readonly<Record<string, unknown>>>;
  };
  readonly PlanKeyStoreUpdate: {
    readonly Request: Field<Readonly<Record<string, unknown>>>;
  };
  readonly PublishCsr: {
    readonly ClusterId: Field<string>;
  };
  readonly ResizeHsms: {
    readonly Request: Field<Readonly<Record<string, unknown>>>;
  };
  readonly ScheduleKeyDeletion: {
    readonly Request: Field<Readonly<Record<string, unknown>>>;
  };
  readonly UpdateKey: {
    readonly Request: Field<Readonly<Record<string, unknown>>>;
  };
  readonly UpdateKeyStore: {
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
  ConnectKeyStore: 'KeyStoreConnection',
  CreateCluster: 'ClusterCreated',
  CreateFirstHsm: 'Done',
  CreateKey: 'KeyCreated',
  CreateKeyStore: 'KeyStoreCreated',
  DeleteCluster: 'Progress',
  DeleteHsms: 'ClusterStatus',
  DeleteKeyStore: 'KeyStoreDeleted',
  DisconnectKeyStore: 'KeyStoreConnection',
  EnsureKmsUser: 'CommandProgress',
  InitializeCluster: 'Done',
  IssueCertificate: 'Done',
  PlanKeyStoreUpdate: 'KeyStorePlan',
  PublishCsr: 'Done',
  ResizeHsms: 'Resized',
  ScheduleKeyDeletion: 'Done',
  UpdateKey: 'Done',
  UpdateKeyStore: 'Done',
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
    SecurityGroupId: 'SecurityGroupId',
    State: 'State',
    VpcId: 'VpcId',
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
    SecurityGroupId: 'SecurityGroupId',
    State: 'State',
    VpcId: 'VpcId',
  },
  CommandProgress: {
    CommandId: 'CommandId',
    Ready: 'Ready',
  },
  Done: {
  },
  KeyCreated: {
    KeyArn: 'KeyArn',
    KeyId: 'KeyId',
  },
  KeyStoreConnection: {
    ConnectionState: 'ConnectionState',
    Ready: 'Ready',
  },
  KeyStoreCreated: {
    CustomKeyStoreId: 'CustomKeyStoreId',
  },
  KeyStoreDeleted: {
    Deleted: 'Deleted',
    Reason: 'Reason',
  },
  KeyStorePlan: {
    Change: 'Change',
    ResetPassword: 'ResetPassword',
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

/** The deadline every step payload carries. */
export interface DeadlineInput {
  readonly Minutes: Field<number>;
  readonly Start: Field<string>;
}

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
  readonly ClientInstanceId?: string;
  readonly ClusterId: string;
  readonly ClusterState?: string;
  readonly HsmsPerSubnet: number;
  readonly SubnetIds: readonly string[];
}

/** The properties of a `Custom::CloudHsmKeyStore`. */
export interface KeyStoreResourceProperties {
  readonly AdminPasswordSecretArn?: string;
  readonly ClientInstanceId?: string;
  readonly ClusterId: string;
  readonly KeyStoreName: string;
  readonly KmsUserDocument?: string;
  readonly KmsUserPasswordSecretArn: string;
  readonly RemovalPolicy: string;
  readonly TrustAnchorSecretArn: string;
}

/** The properties of a `Custom::CloudHsmKey`. */
export interface KeyResourceProperties {
  readonly CustomKeyStoreId: string;
  readonly Description?: string;
  readonly PendingWindowDays: number;
  readonly Policy: string;
  readonly RemovalPolicy: string;
  readonly Tags?: Readonly<Record<string, unknown>>;
}
