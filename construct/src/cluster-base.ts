import { ArnFormat, IResource, Resource, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';

/** The ports HSMs listen on, from clients and from each other. */
export const HSM_PORTS = ec2.Port.tcpRange(2223, 2225);

/** The CloudWatch namespace CloudHSM publishes its metrics in. */
const NAMESPACE = 'AWS/CloudHSM';

/**
 * A CloudHSM cluster, made in this stack or elsewhere.
 */
export interface ICloudHsmCluster extends IResource, ec2.IConnectable {
  /**
   * The cluster id, `cluster-...`.
   * @attribute
   */
  readonly clusterId: string;

  /**
   * The cluster ARN, `arn:<partition>:cloudhsm:<region>:<account>:cluster/<id>`.
   * @attribute
   */
  readonly clusterArn: string;

  /**
   * The security group AWS made for the HSMs' network interfaces
   * (`cloudhsm-cluster-<id>-sg`).
   */
  readonly clusterSecurityGroup: ec2.ISecurityGroup;

  /**
   * Grants the principal the CloudHSM API actions on this cluster.
   *
   * @param grantee the principal
   * @param actions the IAM actions, such as `cloudhsm:DescribeClusters`
   */
  grant(grantee: iam.IGrantable, ...actions: string[]): iam.Grant;

  /**
   * A metric CloudHSM publishes for this cluster (namespace `AWS/CloudHSM`,
   * dimension `ClusterId`), aggregated over its HSMs.
   *
   * @param metricName the metric, such as `HsmUnhealthy`
   * @param props what to change
   * @default - average over 5 minutes
   */
  metric(metricName: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric;

  /**
   * Whether an HSM of the cluster is not performing properly; AWS replaces
   * such an HSM by itself. Alarm when it is above 0.
   *
   * @default - maximum over 5 minutes
   */
  metricHsmUnhealthy(props?: cloudwatch.MetricOptions): cloudwatch.Metric;

  /**
   * The junction temperature of the HSMs' processors, in degrees Celsius;
   * an HSM shuts down at 110. Not published for hsm2m.medium.
   *
   * @default - maximum over 5 minutes
   */
  metricHsmTemperature(props?: cloudwatch.MetricOptions): cloudwatch.Metric;

  /**
   * The session keys in use on the HSMs.
   *
   * @default - maximum over 5 minutes
   */
  metricHsmKeysSessionOccupied(props?: cloudwatch.MetricOptions): cloudwatch.Metric;

  /**
   * The token keys in use on the HSMs and the cluster.
   *
   * @default - maximum over 5 minutes
   */
  metricHsmKeysTokenOccupied(props?: cloudwatch.MetricOptions): cloudwatch.Metric;

  /**
   * The end-to-end encrypted channels established with the HSMs, up to
   * 2,048 each. Not published for hsm2m.medium.
   *
   * @default - maximum over 5 minutes
   */
  metricHsmSslCtxsOccupied(props?: cloudwatch.MetricOptions): cloudwatch.Metric;

  /**
   * The open connections to the HSMs, up to 2,048 each.
   *
   * @default - maximum over 5 minutes
   */
  metricHsmSessionCount(props?: cloudwatch.MetricOptions): cloudwatch.Metric;

  /**
   * How many more users can be created: HsmUsersMax minus the users made.
   *
   * @default - minimum over 5 minutes
   */
  metricHsmUsersAvailable(props?: cloudwatch.MetricOptions): cloudwatch.Metric;

  /**
   * The most users an HSM can hold. Not published for hsm2m.medium.
   *
   * @default - maximum over 5 minutes
   */
  metricHsmUsersMax(props?: cloudwatch.MetricOptions): cloudwatch.Metric;

  /**
   * The bytes received by the HSMs to date (a running total). Not published
   * for hsm2m.medium.
   *
   * @default - maximum over 5 minutes
   */
  metricInterfaceEth2OctetsInput(props?: cloudwatch.MetricOptions): cloudwatch.Metric;

  /**
   * The bytes sent by the HSMs to date (a running total). Not published for
   * hsm2m.medium.
   *
   * @default - maximum over 5 minutes
   */
  metricInterfaceEth2OctetsOutput(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
}

/**
 * What identifies a cluster made elsewhere.
 */
export interface CloudHsmClusterAttributes {
  /** The cluster id, `cluster-` and 11 to 16 letters or digits 2-7. */
  readonly clusterId: string;

  /**
   * The id of the cluster's security group (`sg-...`, the group named
   * `cloudhsm-cluster-<id>-sg`).
   */
  readonly securityGroupId: string;

  /**
   * The secret holding the cluster's trust anchor: the PEM certificate of
   * the CA that issued the cluster certificate (`customerCA.crt`). A key
   * store on the cluster needs it; for a cluster of this library it is the
   * cluster's `customerCaCertificateSecret`.
   * @default - none: no key store can be made on the cluster
   */
  readonly trustAnchorSecret?: secretsmanager.ISecret;

  /**
   * The password of a crypto user `kmsuser` that already exists on every
   * HSM of the cluster. A key store on the cluster uses it as it is (KMS
   * checks it when it connects) and needs no management client; with
   * `clientInstanceId` too, the client checks the password first.
   * @default - a key store generates kmsuser's password and creates kmsuser
   * through `clientInstanceId`
   */
  readonly kmsUserPasswordSecret?: secretsmanager.ISecret;

  /**
   * The management client: an EC2 instance in the cluster's VPC with the
   * SDK 5 `cloudhsm-cli`, managed by Systems Manager, that reaches the HSMs.
   * A key store on the cluster creates `kmsuser` on it as the cluster's
   * admin. Give `clientRole` and `adminPasswordSecret` with it; for a
   * cluster of this library, its `clientInstance`.
   * @default - none: a key store on the cluster needs `kmsUserPasswordSecret`
   */
  readonly clientInstanceId?: string;

  /**
   * The role of the management client's instance profile. A key store
   * lets it read kmsuser's password, the admin password and the trust
   * anchor (its policy is added to the role).
   * @default - none: a key store on the cluster needs `kmsUserPasswordSecret`
   */
  readonly clientRole?: iam.IRole;

  /**
   * The secret holding the password of the cluster's admin (crypto
   * officer), which creates `kmsuser` on the management client.
   * @default - none: a key store on the cluster needs `kmsUserPasswordSecret`
   */
  readonly adminPasswordSecret?: secretsmanager.ISecret;

  /**
   * The architecture the handler functions of a key store on the cluster
   * run on, as `handlerArchitecture` of a cluster of this library; for such
   * a cluster in another stack, give it the same value.
   * @default lambda.Architecture.ARM_64
   */
  readonly handlerArchitecture?: lambda.Architecture;
}

/**
 * What every cluster has, made here or imported: its ARN, grants and
 * metrics, implemented once.
 *
 * @internal
 */
export abstract class CloudHsmClusterBase extends Resource implements ICloudHsmCluster {
  public abstract readonly clusterId: string;
  public abstract readonly clusterSecurityGroup: ec2.ISecurityGroup;
  public abstract readonly connections: ec2.Connections;

  public get clusterArn(): string {
    return Stack.of(this).formatArn({
      service: 'cloudhsm',
      resource: 'cluster',
      resourceName: this.clusterId,
      arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
    });
  }

  public grant(grantee: iam.IGrantable, ...actions: string[]): iam.Grant {
    return iam.Grant.addToPrincipal({ grantee, actions, resourceArns: [this.clusterArn] });
  }

  public metric(metricName: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: NAMESPACE,
      metricName,
      dimensionsMap: { ClusterId: this.clusterId },
      ...props,
    }).attachTo(this);
  }

  public metricHsmUnhealthy(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('HsmUnhealthy', { statistic: 'Maximum', ...props });
  }

  public metricHsmTemperature(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('HsmTemperature', { statistic: 'Maximum', ...props });
  }

  public metricHsmKeysSessionOccupied(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('HsmKeysSessionOccupied', { statistic: 'Maximum', ...props });
  }

  public metricHsmKeysTokenOccupied(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('HsmKeysTokenOccupied', { statistic: 'Maximum', ...props });
  }

  public metricHsmSslCtxsOccupied(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('HsmSslCtxsOccupied', { statistic: 'Maximum', ...props });
  }

  public metricHsmSessionCount(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('HsmSessionCount', { statistic: 'Maximum', ...props });
  }

  public metricHsmUsersAvailable(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('HsmUsersAvailable', { statistic: 'Minimum', ...props });
  }

  public metricHsmUsersMax(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('HsmUsersMax', { statistic: 'Maximum', ...props });
  }

  public metricInterfaceEth2OctetsInput(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('InterfaceEth2OctetsInput', { statistic: 'Maximum', ...props });
  }

  public metricInterfaceEth2OctetsOutput(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('InterfaceEth2OctetsOutput', { statistic: 'Maximum', ...props });
  }
}
