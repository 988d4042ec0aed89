// The example app: a VPC with private subnets in two Availability Zones and a
// CloudHSM cluster in them. It is environment-agnostic: it synthesizes
// offline, with no AWS credentials and no lookups.
import { App, Stack, type StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { CloudHsmCluster } from 'cdk-cloudhsm';
import type { Construct } from 'constructs';

export class CloudHsmExampleStack extends Stack {
  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);

    const vpc = new ec2.Vpc(this, 'Vpc', {
      maxAzs: 2,
      natGateways: 1,
      subnetConfiguration: [
        { name: 'public', subnetType: ec2.SubnetType.PUBLIC },
        { name: 'private', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      ],
    });

    new CloudHsmCluster(this, 'Hsm', { vpc });
  }
}

const app = new App();
new CloudHsmExampleStack(app, 'CloudHsmExample', {
  description: 'cdk-cloudhsm example: a CloudHSM cluster in a new VPC',
});
app.synth();
