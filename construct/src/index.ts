export { ICloudHsmCluster, CloudHsmClusterAttributes } from './cluster-base';
export { CloudHsmClusterCommonProps } from './cluster-new';
export * from './cluster';
export * from './cluster-from-backup';
export * from './types';
export * from './key-store';
export * from './key';
