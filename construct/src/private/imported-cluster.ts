import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Construct } from 'constructs';
import { CloudHsmClusterAttributes, CloudHsmClusterBase, HSM_PORTS } from '../cluster-base';

/**
 * A cluster made elsewhere, as `CloudHsmCluster.fromClusterAttributes`
 * returns it. Keeps its attributes: a key store on it reads its trust anchor
 * and its management client (or existing kmsuser) from them.
 */
export class ImportedCluster extends CloudHsmClusterBase {
  public readonly clusterId: string;
  public readonly clusterSecurityGroup: ec2.ISecurityGroup;
  public readonly connections: ec2.Connections;
  public readonly attributes: CloudHsmClusterAttributes;

  constructor(scope: Construct, id: string, attrs: CloudHsmClusterAttributes) {
    super(scope, id);
    this.attributes = attrs;
    this.clusterId = attrs.clusterId;
    this.clusterSecurityGroup = ec2.SecurityGroup.fromSecurityGroupId(this, 'SecurityGroup', attrs.securityGroupId);
    this.connections = new ec2.Connections({ securityGroups: [this.clusterSecurityGroup], defaultPort: HSM_PORTS });
  }
}
