import { Construct } from 'constructs';
import { CloudHsmClusterCommonProps, CloudHsmClusterNew } from './cluster-new';
import { ClusterPki } from './types';

/** Properties of a {@link CloudHsmClusterFromBackup}. */
export interface CloudHsmClusterFromBackupProps extends CloudHsmClusterCommonProps {
  /**
   * The backup to restore, `backup-...`, as DescribeBackups lists it, in
   * this account and region. The new cluster takes its `hsmType`, `mode`,
   * subnets and network type from these props: `mode` must be the backup's
   * (a FIPS backup restores only into a FIPS cluster, a non-FIPS backup only
   * into a non-FIPS one).
   */
  readonly backupId: string;
}

/**
 * An AWS CloudHSM cluster restored from a backup: it comes back initialized
 * and active, with the users and keys the backup holds, and is then grown
 * to `hsmsPerSubnet` HSMs in each of its subnets. No certificate is issued:
 * the CA certificate of the backed-up cluster, kept in its stack's CA
 * certificate secret (tagged `cdk-cloudhsm:cluster-id` with that cluster's
 * id), is carried over to this cluster's secret, and the management client
 * trusts it. When no such secret holds it, the create fails, saying which
 * cluster's CA certificate to put in a secret with that tag. The management
 * client is let in to the new cluster's security group as for a new cluster.
 *
 * @resource Custom::CloudHsmCluster
 * @stateful
 */
export class CloudHsmClusterFromBackup extends CloudHsmClusterNew {
  /** The backup the cluster was restored from. */
  public readonly backupId: string;

  constructor(scope: Construct, id: string, props: CloudHsmClusterFromBackupProps) {
    super(scope, id, props, {
      className: 'CloudHsmClusterFromBackup',
      // The handlers read a PKI for every cluster; a restored cluster is
      // already initialized and never uses it.
      pki: ClusterPki.ephemeralCa(),
      sourceBackupId: props.backupId,
    });
    this.backupId = props.backupId;
  }
}
