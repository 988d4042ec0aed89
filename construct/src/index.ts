export * from './cluster';
export * from './types';
