/**
 * The attributes each custom resource answers CloudFormation with, which
 * the constructs read with `getAttString`: written by the workflows, read
 * by the constructs, named once here.
 */
export const CLUSTER_ATTRIBUTES = {
  ClusterId: 'ClusterId',
  SecurityGroupId: 'SecurityGroupId',
  VpcId: 'VpcId',
  State: 'State',
} as const;

/** The attributes of a `Custom::CloudHsmHsms`. */
export const HSMS_ATTRIBUTES = {
  ClusterId: 'ClusterId',
  HsmIpAddresses: 'HsmIpAddresses',
  HsmIds: 'HsmIds',
  /** Remembered addresses that HSMs added back could not get again, comma-separated; empty when all were kept. */
  IpAddressesNotKept: 'IpAddressesNotKept',
} as const;

/** The attributes of a `Custom::CloudHsmKeyStore`. */
export const KEY_STORE_ATTRIBUTES = {
  CustomKeyStoreId: 'CustomKeyStoreId',
  ConnectionState: 'ConnectionState',
  Deleted: 'Deleted',
  Reason: 'Reason',
} as const;

/** The attributes of a `Custom::CloudHsmKey`. */
export const KEY_ATTRIBUTES = {
  KeyId: 'KeyId',
  KeyArn: 'KeyArn',
} as const;
