import { Annotations, Aspects, Lazy, Stack, Token } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { Construct, type IConstruct } from 'constructs';

/** Where cloudhsm-cli for Amazon Linux 2023 is published. */
const CLI_PACKAGE = 'https://s3.amazonaws.com/cloudhsmv2-software/CloudHsmClient/Amzn2023/cloudhsm-cli-latest.amzn2023';

/** The interface endpoints Systems Manager needs in a VPC without a route to the internet, with their CDK names. */
const SSM_ENDPOINTS: Record<string, string> = { ssm: 'SSM', ssmmessages: 'SSM_MESSAGES', ec2messages: 'EC2_MESSAGES' };
export const SSM_ENDPOINT_SERVICES = Object.keys(SSM_ENDPOINTS);

/** A secret ARN, as SSM document parameters accept it. */
export const SECRET_ARN_PATTERN = '^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:[A-Za-z0-9/_+=.@-]+$';

export interface ManagementClientProps {
  readonly vpc: ec2.IVpc;
  readonly subnets: ec2.SubnetSelection;
  readonly instanceType?: ec2.InstanceType;
  readonly machineImage?: ec2.IMachineImage;
  readonly encryptionKey?: kms.IKey;
}

/**
 * The management client: Amazon Linux 2023 with the SDK 5 CloudHSM CLI,
 * IMDSv2 only, no public IP, no SSH key, an encrypted disk, egress limited
 * to HTTPS (the HSM ports to the cluster are opened by the workflow once
 * the cluster exists), managed only through Systems Manager.
 */
export class ManagementClient extends Construct {
  public readonly instance: ec2.Instance;
  public readonly securityGroup: ec2.SecurityGroup;
  public readonly activateDocument: ssm.CfnDocument;
  public readonly configureDocument: ssm.CfnDocument;
  /**
   * What the template shows of the client's way to Systems Manager (its
   * role, its subnet's route, the VPC's endpoints), computed at synth time:
   * the handlers name what is missing when the client never registers.
   */
  public readonly networkSummary: string;

  constructor(scope: Construct, id: string, props: ManagementClientProps) {
    super(scope, id);
    this.securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: 'cdk-cloudhsm management client: HTTPS out; HSM ports to the cluster are added by the workflow',
      allowAllOutbound: false,
    });
    this.securityGroup.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'AWS APIs, Systems Manager and the CloudHSM CLI package');

    const machineImage = props.machineImage ?? ec2.MachineImage.latestAmazonLinux2023({ cpuType: ec2.AmazonLinuxCpuType.ARM_64 });
    const userData = ec2.UserData.forLinux();
    userData.addCommands(
      'set -euo pipefail',
      '# The SDK 5 CloudHSM CLI; AL2023 already has the AWS CLI v2.',
      `dnf install -y "${CLI_PACKAGE}.$(uname -m).rpm"`,
    );

    const role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com'),
      description: 'cdk-cloudhsm management client',
      managedPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName('AmazonSSMManagedInstanceCore')],
    });

    this.instance = new ec2.Instance(this, 'Instance', {
      vpc: props.vpc,
      vpcSubnets: props.subnets,
      // The default image is arm64; a custom image gets an x86_64 type unless one is given.
      instanceType: props.instanceType ?? new ec2.InstanceType(props.machineImage ? 't3.small' : 't4g.small'),
      machineImage,
      userData,
      role,
      securityGroup: this.securityGroup,
      associatePublicIpAddress: false,
      blockDevices: [{
        deviceName: '/dev/xvda',
        volume: ec2.BlockDeviceVolume.ebs(8, {
          encrypted: true,
          kmsKey: props.encryptionKey,
          volumeType: ec2.EbsDeviceVolumeType.GP3,
        }),
      }],
    });

    // The instance starts once its subnets' routes to the internet (NAT) exist,
    // so the first boot can install the CLI and the agent can register.
    const selected = props.vpc.selectSubnets(props.subnets);
    if (selected.subnets.every((subnet) => Stack.of(subnet) === Stack.of(this))) {
      this.instance.node.addDependency(selected.internetConnectivityEstablished);
    }
    // Warned at synth time, once the whole app is built (endpoints may be added later).
    Aspects.of(this).add({ visit: (node: IConstruct) => { if (node === this) warnIfUnreachable(this, props.vpc, selected.subnets); } });
    this.networkSummary = Lazy.string({ produce: () => summarizeNetwork(this, props.vpc, selected.subnets) });

    // IMDSv2 only, through a launch template of our own: the one that
    // `requireImdsv2` makes has a fixed name (`InstanceLaunchTemplate`), so a
    // second cluster in the region could not be created.
    const launchTemplate = new ec2.LaunchTemplate(this, 'LaunchTemplate', { requireImdsv2: true });
    (this.instance.node.defaultChild as ec2.CfnInstance).launchTemplate = {
      launchTemplateId: launchTemplate.launchTemplateId,
      version: launchTemplate.latestVersionNumber,
    };

    this.activateDocument = shellDocument(this, 'ActivateDocument',
      'cdk-cloudhsm: configure cloudhsm-cli for the cluster and activate it. '
      + 'Reads the admin password from Secrets Manager; no secret is passed as a parameter.', {
        HsmIp: { type: 'String', description: 'An HSM IP address', allowedPattern: '^[0-9a-fA-F.:]+$' },
        AdminPasswordSecretArn: { type: 'String', allowedPattern: SECRET_ARN_PATTERN },
        CaCertificateSecretArn: { type: 'String', allowedPattern: SECRET_ARN_PATTERN },
      }, ACTIVATE_SCRIPT);
    this.configureDocument = shellDocument(this, 'ConfigureDocument',
      'cdk-cloudhsm: point cloudhsm-cli at the cluster\'s current HSMs.', {
        HsmIps: { type: 'String', description: 'HSM IP addresses, comma-separated', allowedPattern: '^[0-9a-fA-F.:,]+$' },
        CaCertificateSecretArn: { type: 'String', allowedPattern: SECRET_ARN_PATTERN },
      }, CONFIGURE_SCRIPT);
  }
}

/** Whether CDK knows of a route 0.0.0.0/0 out of the subnet that needs no public IP (a NAT gateway, say). */
function hasEgressRoute(subnet: ec2.ISubnet): boolean {
  return subnet.node.children.some((child) => child instanceof ec2.CfnRoute
    && child.destinationCidrBlock === '0.0.0.0/0' && child.gatewayId === undefined);
}

/** The Systems Manager services without an interface endpoint CDK can see in the VPC. */
function missingEndpoints(scope: Construct, vpc: ec2.IVpc): string[] {
  const present = endpointServices(scope, vpc);
  return SSM_ENDPOINT_SERVICES.filter((name) => !present.has(name));
}

/** The Systems Manager services with an interface endpoint CDK can see in the VPC. */
function endpointServices(scope: Construct, vpc: ec2.IVpc): Set<string> {
  const stack = Stack.of(scope);
  const vpcId = JSON.stringify(stack.resolve(vpc.vpcId));
  const found = new Set<string>();
  for (const node of stack.node.findAll()) {
    if (!(node instanceof ec2.CfnVPCEndpoint) || node.vpcEndpointType !== 'Interface') continue;
    if (JSON.stringify(stack.resolve(node.vpcId)) !== vpcId) continue;
    const service = JSON.stringify(stack.resolve(node.serviceName));
    for (const name of SSM_ENDPOINT_SERVICES) {
      if (new RegExp(`\\.${name}"`).test(service)) found.add(name);
    }
  }
  return found;
}

/**
 * Warns when the client's subnets have no route out that CDK knows of (isolated
 * or imported subnets; a route to an internet gateway does not count: the client
 * has no public IP) and the VPC lacks interface endpoints for Systems Manager:
 * the client would never register, so the cluster could not be activated.
 */
function warnIfUnreachable(client: Construct, vpc: ec2.IVpc, subnets: ec2.ISubnet[]): void {
  if (subnets.length === 0 || subnets.some(hasEgressRoute)) return;
  const missing = missingEndpoints(client, vpc);
  if (missing.length === 0) return;
  const names = subnets.map((subnet) => Token.isUnresolved(subnet.subnetId) ? subnet.node.path : subnet.subnetId).join(', ');
  Annotations.of(client).addWarningV2('cdk-cloudhsm:clientCannotReachSystemsManager',
    `the management client's subnets (${names}) have no route to a NAT gateway that CDK knows of, and the VPC has `
    + `no interface endpoints for ${missing.join(', ')}: the client could not register with Systems Manager, so `
    + 'the cluster could not be activated. Add the endpoints (vpc.addInterfaceEndpoint with '
    + `${missing.map((name) => `InterfaceVpcEndpointAwsService.${SSM_ENDPOINTS[name]}`).join(', ')}), `
    + 'or choose subnets with a NAT route in clientVpcSubnets');
}

/**
 * What the template gives the client to reach Systems Manager, and what it
 * lacks, as a sentence for the error when the client never registers.
 */
function summarizeNetwork(client: Construct, vpc: ec2.IVpc, subnets: ec2.ISubnet[]): string {
  if (subnets.length === 0) return '';
  const subnet = subnets[0].subnetId;
  const role = 'its role has the SSM core permissions (AmazonSSMManagedInstanceCore)';
  if (hasEgressRoute(subnets[0])) {
    return `The template gives the client what Systems Manager needs: ${role} and a route 0.0.0.0/0 to a NAT gateway `
      + `from its subnet ${subnet}. Check that the NAT gateway is available and that network ACLs allow HTTPS`;
  }
  const missing = missingEndpoints(client, vpc);
  if (missing.length === 0) {
    return `The template gives the client what Systems Manager needs: ${role} and interface endpoints for `
      + `${SSM_ENDPOINT_SERVICES.join(', ')} in its VPC. Check that the endpoints have private DNS enabled and `
      + 'that their security groups allow HTTPS from the client';
  }
  return `Missing in the template: a route 0.0.0.0/0 to a NAT gateway from the client's subnet ${subnet}, `
    + `or interface endpoints for ${missing.join(', ')} in its VPC (${role}). Add either one`;
}

/** A Command document of one shell step. */
export function shellDocument(scope: Construct, id: string, description: string, parameters: Record<string, unknown>,
  script: string[]): ssm.CfnDocument {
  return new ssm.CfnDocument(scope, id, {
    documentType: 'Command',
    content: {
      schemaVersion: '2.2',
      description,
      parameters,
      mainSteps: [{ action: 'aws:runShellScript', name: 'run', inputs: { timeoutSeconds: '900', runCommand: script } }],
    },
  });
}

/**
 * Makes sure cloudhsm-cli is installed, then writes the trust anchor it checks
 * HSMs against. The first boot installs the CLI once; when that failed (the
 * package source or the route to it was down) or has not finished yet, the
 * script installs it itself, five attempts with a growing pause (2.5 minutes in
 * all), and otherwise fails saying the package could not be installed and why.
 */
export const PREPARE = [
  '#!/bin/bash',
  'set -euo pipefail',
  `cli_package="${CLI_PACKAGE}.$(uname -m).rpm"`,
  'for attempt in 1 2 3 4 5; do',
  '  if [ -x /opt/cloudhsm/bin/cloudhsm-cli ]; then break; fi',
  '  if dnf_output="$(sudo dnf install -y "$cli_package" 2>&1)"; then break; fi',
  '  if [ "$attempt" -lt 5 ]; then sleep $((attempt * 15)); fi',
  'done',
  'if [ ! -x /opt/cloudhsm/bin/cloudhsm-cli ]; then',
  '  why="$(printf "%s\n" "${dnf_output:-}" | grep -m 1 -E "Curl error|Status code|Error" || true)"',
  '  echo "cloudhsm-cli could not be installed from $cli_package after 5 attempts: ${why:-dnf failed}." \\',
  '    "The client downloads it over the internet: check that its subnet routes 0.0.0.0/0 to a NAT gateway" \\',
  '    "and that its security group allows HTTPS out, then retry" >&2',
  '  exit 3',
  'fi',
  "aws secretsmanager get-secret-value --secret-id '{{ CaCertificateSecretArn }}' --query SecretString --output text"
    + ' | sudo tee /opt/cloudhsm/etc/customerCA.crt >/dev/null',
];

/** Points the CLI at the cluster's current HSMs. */
export const CONFIGURE_SCRIPT = [
  ...PREPARE,
  "sudo /opt/cloudhsm/bin/configure-cli -a $(echo '{{ HsmIps }}' | tr ',' ' ')",
];

/**
 * Configures the CLI with the cluster's trust anchor and an HSM, then
 * activates the cluster, unless it is activated already: a command sent
 * again (its step retried after the first one went out) finds the admin no
 * longer `unactivated-admin` and succeeds without a second activation. One
 * activation at a time on the client.
 */
export const ACTIVATE_SCRIPT = [
  ...PREPARE,
  "sudo /opt/cloudhsm/bin/configure-cli -a '{{ HsmIp }}'",
  'exec 9>/opt/cloudhsm/etc/.cdk-cloudhsm-activate.lock && flock 9',
  'users="$(/opt/cloudhsm/bin/cloudhsm-cli user list)" || { echo "cloudhsm-cli could not list the HSM users" >&2; exit 4; }',
  'if ! printf "%s" "$users" | grep -q unactivated-admin; then echo "the cluster is activated already"; exit 0; fi',
  "password=\"$(aws secretsmanager get-secret-value --secret-id '{{ AdminPasswordSecretArn }}' --query SecretString --output text)\"",
  '/opt/cloudhsm/bin/cloudhsm-cli cluster activate --password "$password"',
];
