import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';

/** Where cloudhsm-cli for Amazon Linux 2023 is published. */
const CLI_PACKAGE = 'https://s3.amazonaws.com/cloudhsmv2-software/CloudHsmClient/Amzn2023/cloudhsm-cli-latest.amzn2023';

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

/** Waits for the CLI installed at first boot and writes the trust anchor it checks HSMs against. */
export const PREPARE = [
  '#!/bin/bash',
  'set -euo pipefail',
  '# cloudhsm-cli is installed at first boot: wait for it, ten minutes at most.',
  'for _ in $(seq 1 60); do [ -x /opt/cloudhsm/bin/cloudhsm-cli ] && break; sleep 10; done',
  'if [ ! -x /opt/cloudhsm/bin/cloudhsm-cli ]; then',
  '  echo "cloudhsm-cli is not installed: the first boot did not finish (see /var/log/cloud-init-output.log)" >&2',
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
