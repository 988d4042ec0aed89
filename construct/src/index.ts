export { ICloudHsmCluster, CloudHsmClusterAttributes } from './cluster-base';
export * from './cluster';
export * from './types';
