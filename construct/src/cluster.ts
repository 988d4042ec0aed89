import { Construct } from 'constructs';
import { CloudHsmClusterAttributes, ICloudHsmCluster } from './cluster-base';
import { CLUSTER_RESOURCE_TYPE, CloudHsmClusterCommonProps, CloudHsmClusterNew, HSMS_RESOURCE_TYPE } from './cluster-new';
import { ImportedCluster } from './private/imported-cluster';
import { validateClusterAttributes } from './private/validate';
import { ClusterPki } from './types';

/** Properties of a new {@link CloudHsmCluster}. */
export interface CloudHsmClusterProps extends CloudHsmClusterCommonProps {
  /**
   * Who issues the cluster certificate that initializes the cluster.
   * @default ClusterPki.ephemeralCa()
   */
  readonly pki?: ClusterPki;
}

/**
 * A new AWS CloudHSM cluster: created, initialized with a certificate from
 * `pki`, activated on its management client, with `hsmsPerSubnet` HSMs in
 * each of its subnets. To restore a backup, use
 * {@link CloudHsmClusterFromBackup}.
 *
 * @resource Custom::CloudHsmCluster
 * @stateful
 */
export class CloudHsmCluster extends CloudHsmClusterNew {
  /** The CloudFormation type of the custom resource behind the cluster. */
  public static readonly RESOURCE_TYPE = CLUSTER_RESOURCE_TYPE;

  /** The CloudFormation type of the custom resource behind its HSMs. */
  public static readonly HSMS_RESOURCE_TYPE = HSMS_RESOURCE_TYPE;

  /**
   * A cluster made elsewhere. Ids that are tokens are taken as they are;
   * resolved ids are checked.
   *
   * @param scope the scope of the reference
   * @param id its construct id
   * @param attrs what identifies the cluster
   */
  public static fromClusterAttributes(scope: Construct, id: string, attrs: CloudHsmClusterAttributes): ICloudHsmCluster {
    validateClusterAttributes(attrs, `${scope.node.path}/${id}`);
    return new ImportedCluster(scope, id, attrs);
  }

  constructor(scope: Construct, id: string, props: CloudHsmClusterProps) {
    super(scope, id, props, {
      className: 'CloudHsmCluster',
      pki: props.pki ?? ClusterPki.ephemeralCa(),
    });
  }
}
