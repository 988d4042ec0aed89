import { Duration, Token } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { ClusterMode, HsmType } from '../types';

/** AWS allows at most this many HSMs in one cluster. */
export const MAX_HSMS_PER_CLUSTER = 28;
/** Backup retention bounds, in days. */
export const MIN_BACKUP_RETENTION_DAYS = 7;
export const MAX_BACKUP_RETENTION_DAYS = 379;

/** The cluster props after defaults, as the validation sees them. */
export interface ResolvedClusterProps {
  readonly vpc: ec2.IVpc;
  readonly subnets: ec2.ISubnet[];
  readonly hsmsPerSubnet: number;
  readonly hsmType: HsmType;
  readonly mode: ClusterMode;
  readonly backupRetention: Duration;
  /** The backup a restored cluster comes from. */
  readonly backupId?: string;
}

/** What the attributes of an imported cluster must look like. */
export interface ClusterAttributes {
  readonly clusterId: string;
  readonly securityGroupId: string;
}

/** A cluster id, as AWS makes them. */
const CLUSTER_ID = /^cluster-[2-7a-zA-Z]{11,16}$/;
/** A backup id, as AWS makes them. */
const BACKUP_ID = /^backup-[2-7a-zA-Z]{11,16}$/;
/** A security group id: 8 or 17 hexadecimal digits. */
const SECURITY_GROUP_ID = /^sg-([0-9a-f]{8}|[0-9a-f]{17})$/;

/**
 * Checks the props of a cluster (`className` says which kind) and throws
 * one error listing every problem. Values that are tokens are passed
 * through unchecked.
 */
export function validateClusterProps(className: string, props: ResolvedClusterProps, path: string): void {
  fail(`invalid ${className} props at ${path}`, [
    ...checkHsmCount(props),
    ...checkSubnets(props),
    ...checkBackupRetention(props.backupRetention),
    ...checkMode(props),
    ...checkBackupId(props.backupId),
  ]);
}

/**
 * Checks the attributes of an imported cluster and throws one error listing
 * every problem. Values that are tokens are passed through unchecked.
 */
export function validateClusterAttributes(attrs: ClusterAttributes, path: string): void {
  const problems: string[] = [];
  const { clusterId, securityGroupId } = attrs;
  if (!Token.isUnresolved(clusterId) && !CLUSTER_ID.test(clusterId)) {
    problems.push(
      `clusterId must be a CloudHSM cluster id like cluster-abcdefghijk (cluster- and 11 to 16 letters or digits ` +
      `2-7), got '${clusterId}': use the ClusterId that DescribeClusters lists`,
    );
  }
  if (!Token.isUnresolved(securityGroupId) && !SECURITY_GROUP_ID.test(securityGroupId)) {
    problems.push(
      `securityGroupId must be a security group id like sg-0123456789abcdef0, got '${securityGroupId}': use the ` +
      'SecurityGroup that DescribeClusters lists for the cluster (the group named cloudhsm-cluster-<id>-sg)',
    );
  }
  fail(`invalid CloudHsmCluster attributes at ${path}`, problems);
}

function fail(heading: string, problems: string[]): void {
  if (problems.length > 0) {
    throw new Error(`${heading}:\n${problems.map((p) => `- ${p}`).join('\n')}`);
  }
}

function checkHsmCount({ hsmsPerSubnet, subnets }: ResolvedClusterProps): string[] {
  if (Token.isUnresolved(hsmsPerSubnet)) return [];
  if (!Number.isInteger(hsmsPerSubnet) || hsmsPerSubnet < 0) {
    return [`hsmsPerSubnet must be a whole number of 0 or more, got ${hsmsPerSubnet}`];
  }
  const total = hsmsPerSubnet * subnets.length;
  if (total > MAX_HSMS_PER_CLUSTER) {
    return [
      `hsmsPerSubnet ${hsmsPerSubnet} in ${subnets.length} subnets makes ${total} HSMs, over the ` +
      `${MAX_HSMS_PER_CLUSTER} a cluster can hold: lower hsmsPerSubnet or select fewer subnets`,
    ];
  }
  return [];
}

function checkSubnets({ vpc, subnets }: ResolvedClusterProps): string[] {
  const problems: string[] = [];
  if (subnets.length === 0) {
    problems.push('vpcSubnets selects no subnet: select at least one subnet of the VPC (private subnets by default)');
  }
  const byAz = new Map<string, string[]>();
  for (const subnet of subnets) {
    const az = subnet.availabilityZone;
    if (Token.isUnresolved(az)) continue;
    byAz.set(az, [...(byAz.get(az) ?? []), describe(subnet)]);
  }
  for (const [az, ids] of byAz) {
    if (ids.length > 1) {
      problems.push(
        `vpcSubnets selects ${ids.length} subnets in ${az} (${ids.join(', ')}): a cluster takes at most ` +
        'one subnet per Availability Zone; use `onePerAz: true` or list one subnet per zone',
      );
    }
  }
  const foreign = subnets.filter((subnet) => {
    const vpcId = subnetVpcId(subnet);
    return vpcId !== undefined && vpcId !== vpc.vpcId;
  });
  if (foreign.length > 0) {
    problems.push(
      `vpcSubnets selects subnets of another VPC (${foreign.map(describe).join(', ')}): ` +
      'select subnets of the cluster\'s vpc',
    );
  }
  return problems;
}

/** The VPC a subnet belongs to, where the construct tree tells it. */
function subnetVpcId(subnet: ec2.ISubnet): string | undefined {
  const child = subnet.node.defaultChild;
  return child instanceof ec2.CfnSubnet ? child.vpcId : undefined;
}

function describe(subnet: ec2.ISubnet): string {
  return Token.isUnresolved(subnet.subnetId) ? subnet.node.path : subnet.subnetId;
}

function checkBackupRetention(retention: Duration): string[] {
  if (retention.isUnresolved()) return [];
  const days = retention.toSeconds() / 86400;
  const shown = retention.toHumanString();
  if (!Number.isInteger(days)) {
    return [`backupRetention must be whole days, got ${shown}: use Duration.days(n)`];
  }
  if (days < MIN_BACKUP_RETENTION_DAYS || days > MAX_BACKUP_RETENTION_DAYS) {
    return [
      `backupRetention must be ${MIN_BACKUP_RETENTION_DAYS} to ${MAX_BACKUP_RETENTION_DAYS} days, ` +
      `got ${shown}`,
    ];
  }
  return [];
}

function checkMode({ mode, hsmType }: ResolvedClusterProps): string[] {
  if (mode !== ClusterMode.NON_FIPS || Token.isUnresolved(hsmType.name)) return [];
  if (!hsmType.name.startsWith('hsm2m.')) {
    return [
      `mode NON_FIPS needs an hsm2m HSM type, got hsmType ${hsmType.name}: use HsmType.HSM2M_MEDIUM ` +
      'or ClusterMode.FIPS',
    ];
  }
  return [];
}

function checkBackupId(backupId: string | undefined): string[] {
  if (backupId === undefined || Token.isUnresolved(backupId) || BACKUP_ID.test(backupId)) return [];
  return [
    `backupId must be a CloudHSM backup id like backup-abcdefghijk (backup- and 11 to 16 letters or digits 2-7), ` +
    `got '${backupId}': use the BackupId that DescribeBackups lists (a backup ARN is not accepted)`,
  ];
}
