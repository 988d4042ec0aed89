// Shared by the construct tests: a stack with a VPC of isolated subnets, and
// the message of an error a construct throws.
import * as assert from 'node:assert/strict';
import { App, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';

/** The subnets the test clusters use. */
export const ISOLATED: ec2.SubnetSelection = { subnetType: ec2.SubnetType.PRIVATE_ISOLATED };

/** A VPC whose subnets are all isolated, one per AZ. */
export function isolatedVpc(stack: Stack, maxAzs = 2, id = 'Vpc'): ec2.Vpc {
  return new ec2.Vpc(stack, id, { maxAzs, natGateways: 0, subnetConfiguration: [
    { name: 'hsm', subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
  ] });
}

/** A new stack with such a VPC. */
export function stackWithVpc(maxAzs = 2, name = 'Test'): { app: App; stack: Stack; vpc: ec2.Vpc } {
  const app = new App();
  const stack = new Stack(app, name);
  return { app, stack, vpc: isolatedVpc(stack, maxAzs) };
}

/** The message of the error `build` throws; fails the test when it throws none. */
export function errorOf(build: () => unknown): string {
  try {
    build();
  } catch (e) {
    return (e as Error).message;
  }
  assert.fail('expected the props to be refused');
}
