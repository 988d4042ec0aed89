import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test, describe } from 'node:test';
import { App, Duration, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as acmpca from 'aws-cdk-lib/aws-acmpca';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import {
  CloudHsmCluster, type CloudHsmClusterProps, ClusterMode, ClusterPki, HsmType, NetworkType,
} from '../lib/index.js';
import { errorOf, stackWithVpc } from './support.ts';

/** A stack in a known region, so that subnets have real AZ names. */
function regionalStack(): { stack: Stack; vpc: ec2.Vpc } {
  const stack = new Stack(new App(), 'Regional', { env: { account: '123456789012', region: 'us-east-1' } });
  const vpc = new ec2.Vpc(stack, 'Vpc', {
    availabilityZones: ['us-east-1a', 'us-east-1b', 'us-east-1c'],
    natGateways: 0,
    subnetConfiguration: [
      { name: 'a', subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
      { name: 'b', subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
    ],
  });
  return { stack, vpc };
}

function cluster(props: Partial<CloudHsmClusterProps> = {}): Template {
  const { stack, vpc } = stackWithVpc();
  new CloudHsmCluster(stack, 'Hsm', { vpc, vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED }, ...props });
  return Template.fromStack(stack);
}

function clusterError(props: Partial<CloudHsmClusterProps>): string {
  return errorOf(() => cluster(props));
}

describe('CloudHsmCluster resource', () => {
  test('defaults: ephemeral CA, FIPS hsm2m.medium, one HSM in each subnet, 90 days of backups', () => {
    const template = cluster();
    template.resourceCountIs('Custom::CloudHsmCluster', 1);
    template.hasResourceProperties('Custom::CloudHsmCluster', {
      SubnetIds: [
        { Ref: Match.stringLikeRegexp('VpchsmSubnet1') },
        { Ref: Match.stringLikeRegexp('VpchsmSubnet2') },
      ],
      HsmsPerSubnet: 1,
      HsmType: 'hsm2m.medium',
      Mode: 'FIPS',
      NetworkType: 'IPV4',
      BackupRetentionDays: 90,
      Pki: { Kind: 'EPHEMERAL_CA' },
      SourceBackupId: Match.absent(),
    });
    template.hasResource('Custom::CloudHsmCluster', { DeletionPolicy: 'Delete', UpdateReplacePolicy: 'Delete' });
  });

  test('the default subnets are the private ones, one per AZ', () => {
    const app = new App();
    const stack = new Stack(app, 'Private');
    const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 1 });
    new CloudHsmCluster(stack, 'Hsm', { vpc });
    Template.fromStack(stack).hasResourceProperties('Custom::CloudHsmCluster', {
      SubnetIds: [
        { Ref: Match.stringLikeRegexp('VpcPrivateSubnet1') },
        { Ref: Match.stringLikeRegexp('VpcPrivateSubnet2') },
      ],
    });
  });

  test('every choice reaches the resource properties', () => {
    const { stack, vpc } = stackWithVpc();
    const ca = acmpca.CertificateAuthority.fromCertificateAuthorityArn(
      stack, 'Ca', 'arn:aws:acm-pca:us-east-1:123456789012:certificate-authority/11111111-2222-3333-4444-555555555555');
    new CloudHsmCluster(stack, 'Hsm', {
      vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
      hsmsPerSubnet: 3,
      hsmType: HsmType.of('hsm2m.large'),
      mode: ClusterMode.NON_FIPS,
      networkType: NetworkType.DUALSTACK,
      backupRetention: Duration.days(379),
      pki: ClusterPki.fromCertificateAuthority(ca),
    });
    Template.fromStack(stack).hasResourceProperties('Custom::CloudHsmCluster', {
      HsmsPerSubnet: 3,
      HsmType: 'hsm2m.large',
      Mode: 'NON_FIPS',
      NetworkType: 'DUALSTACK',
      BackupRetentionDays: 379,
      Pki: {
        Kind: 'CERTIFICATE_AUTHORITY',
        CertificateAuthorityArn: 'arn:aws:acm-pca:us-east-1:123456789012:certificate-authority/11111111-2222-3333-4444-555555555555',
      },
    });
  });

  test('an external PKI tells the user what to do next', () => {
    const outputs = cluster({ pki: ClusterPki.external() }).findOutputs('*');
    const [next] = Object.values(outputs);
    const text = JSON.stringify(next.Value);
    assert.match(text, /Read the CSR from secret/);
    assert.match(text, /Deploy the stack again with pki: ClusterPki.external\(\{ certificatesReady: true \}\)/);
    assert.equal(Object.keys(cluster().findOutputs('*')).length, 0, 'no output for the other PKIs');
  });

  test('an external PKI whose certificates are ready says so to the handlers, and the HSMs follow the cluster state', () => {
    const waiting = cluster({ pki: ClusterPki.external() });
    waiting.hasResourceProperties('Custom::CloudHsmCluster', { Pki: { Kind: 'EXTERNAL', CertificatesReady: Match.absent() } });
    const ready = cluster({ pki: ClusterPki.external({ certificatesReady: true }) });
    ready.hasResourceProperties('Custom::CloudHsmCluster', { Pki: { Kind: 'EXTERNAL', CertificatesReady: true } });
    assert.equal(Object.keys(ready.findOutputs('*')).length, 0, 'nothing left to do');
    ready.hasResourceProperties('Custom::CloudHsmHsms', {
      ClusterState: { 'Fn::GetAtt': [Match.stringLikeRegexp('^Hsm'), 'State'] },
    });
  });

  test('the entry function runs the prebuilt Rust handler on arm64 by default', () => {
    const template = cluster();
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'provided.al2023',
      Handler: 'bootstrap',
      Architectures: ['arm64'],
      Environment: { Variables: { WORKFLOWS: Match.anyValue() } },
      LoggingConfig: { LogFormat: 'JSON' },
    });
    template.hasResourceProperties('Custom::CloudHsmCluster', {
      ServiceToken: { 'Fn::GetAtt': [Match.stringLikeRegexp('HsmEntryFunction'), 'Arn'] },
    });
  });

  test('every function of the construct takes Lambda\'s smallest memory size, 128 MB', () => {
    const functions = Object.values(cluster().findResources('AWS::Lambda::Function'));
    assert.ok(functions.length >= 2, 'the entry and the tasks functions');
    for (const fn of functions) {
      assert.equal(fn.Properties.MemorySize, 128, fn.Properties.Description);
    }
  });

  test('x86_64 handlers can be chosen', () => {
    cluster({ handlerArchitecture: lambda.Architecture.X86_64 }).hasResourceProperties('AWS::Lambda::Function', {
      Architectures: ['x86_64'],
    });
  });

  test('the asset hash comes from the build inputs: stable across synths, distinct per architecture', () => {
    const key = (architecture: lambda.Architecture) => {
      const fns = cluster({ handlerArchitecture: architecture }).findResources('AWS::Lambda::Function', {
        Properties: { Description: Match.stringLikeRegexp('starts the workflow') },
      });
      return Object.values(fns)[0].Properties.Code.S3Key as string;
    };
    assert.equal(key(lambda.Architecture.ARM_64), key(lambda.Architecture.ARM_64));
    assert.notEqual(key(lambda.Architecture.ARM_64), key(lambda.Architecture.X86_64));
  });

  test('the staged asset is the executable bootstrap', () => {
    const { app, stack, vpc } = stackWithVpc();
    new CloudHsmCluster(stack, 'Hsm', { vpc, vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED } });
    const assembly = app.synth();
    const staged = fs.readdirSync(assembly.directory).filter((name) => name.startsWith('asset.'));
    assert.equal(staged.length, 2, 'the entry and the cluster-tasks handlers');
    for (const dir of staged) {
      const bootstrap = path.join(assembly.directory, dir, 'bootstrap');
      assert.ok(fs.statSync(bootstrap).mode & 0o111, 'bootstrap is executable');
      assert.deepEqual(fs.readdirSync(path.join(assembly.directory, dir)), ['bootstrap']);
    }
  });

  test('connections open the HSM ports on the cluster security group', () => {
    const { stack, vpc } = stackWithVpc();
    const hsm = new CloudHsmCluster(stack, 'Hsm', { vpc, vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED } });
    const app = new ec2.SecurityGroup(stack, 'App', { vpc });
    hsm.connections.allowDefaultPortFrom(app);
    Template.fromStack(stack).hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      IpProtocol: 'tcp',
      FromPort: 2223,
      ToPort: 2225,
      GroupId: { 'Fn::GetAtt': [Match.stringLikeRegexp('Hsm'), 'SecurityGroupId'] },
      SourceSecurityGroupId: { 'Fn::GetAtt': [Match.stringLikeRegexp('App'), 'GroupId'] },
    });
  });

  test('attributes resolve to the custom resource outputs', () => {
    const { stack, vpc } = stackWithVpc();
    const hsm = new CloudHsmCluster(stack, 'Hsm', { vpc, vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED } });
    assert.deepEqual(stack.resolve(hsm.clusterId), { 'Fn::GetAtt': ['Hsm2CBA3DD8', 'ClusterId'] });
    assert.deepEqual(stack.resolve(hsm.hsmIpAddresses), {
      'Fn::Split': [',', { 'Fn::GetAtt': ['HsmHsms20B6A642', 'HsmIpAddresses'] }],
    });
  });

  test('RETAIN keeps the cluster, its HSMs, every secret and the client\'s security group, except after a failed create', () => {
    const template = cluster({ removalPolicy: RemovalPolicy.RETAIN });
    for (const type of ['Custom::CloudHsmCluster', 'Custom::CloudHsmHsms', 'AWS::SecretsManager::Secret', 'AWS::EC2::SecurityGroup']) {
      const resources = Object.entries(template.findResources(type));
      assert.ok(resources.length > 0, type);
      for (const [id, resource] of resources) {
        const trustAnchor = /trust anchor/.test(resource.Properties?.Description ?? '');
        // The CA certificate secret is kept whatever happens, so that backups stay restorable.
        assert.equal(resource.DeletionPolicy, trustAnchor ? 'Retain' : 'RetainExceptOnCreate', `${id} is kept`);
        assert.equal(resource.UpdateReplacePolicy, 'Retain', `${id}'s old copy is kept when replaced`);
      }
    }
  });

  test('DESTROY keeps nothing but the CA certificate secret: the client\'s security group goes too', () => {
    const groups = cluster({ removalPolicy: RemovalPolicy.DESTROY }).findResources('AWS::EC2::SecurityGroup');
    assert.ok(Object.keys(groups).length > 0);
    for (const [id, group] of Object.entries(groups)) assert.equal(group.DeletionPolicy, undefined, id);
  });

  test('DESTROY deletes every secret but the CA certificate', () => {
    const secrets = cluster({ removalPolicy: RemovalPolicy.DESTROY }).findResources('AWS::SecretsManager::Secret');
    const kept = Object.values(secrets).filter((s) => s.DeletionPolicy === 'Retain').map((s) => s.Properties.Description);
    assert.equal(Object.keys(secrets).length, 4);
    assert.equal(kept.length, 1);
    assert.match(kept[0], /trust anchor/);
  });

  test('a cluster made elsewhere can be referenced', () => {
    const { stack } = stackWithVpc();
    const imported = CloudHsmCluster.fromClusterAttributes(stack, 'Imported', {
      clusterId: 'cluster-abcdefghijk',
      securityGroupId: 'sg-0123456789abcdef0',
    });
    assert.equal(imported.clusterId, 'cluster-abcdefghijk');
    assert.equal(imported.clusterSecurityGroup.securityGroupId, 'sg-0123456789abcdef0');
    assert.equal(imported.connections.defaultPort?.toString(), '2223-2225');
  });
});

describe('CloudHsmCluster workflows', () => {
  function definitions(template: Template): Record<string, unknown>[] {
    const machines = template.findResources('AWS::StepFunctions::StateMachine');
    return Object.values(machines).map((m) => {
      const body = m.Properties.DefinitionString;
      const text = typeof body === 'string' ? body : (body['Fn::Join'][1] as unknown[])
        .map((part) => (typeof part === 'string' ? part : 'TOKEN')).join('');
      return JSON.parse(text) as Record<string, unknown>;
    });
  }

  test('the cluster and its HSMs are two custom resources, each with its workflow', () => {
    const template = cluster();
    template.resourceCountIs('AWS::StepFunctions::StateMachine', 2);
    template.resourceCountIs('Custom::CloudHsmHsms', 1);
    template.hasResourceProperties('Custom::CloudHsmHsms', {
      ClusterId: { 'Fn::GetAtt': [Match.stringLikeRegexp('Hsm'), 'ClusterId'] },
      HsmsPerSubnet: 1,
    });
    const entry = template.findResources('AWS::Lambda::Function', {
      Properties: { Description: Match.stringLikeRegexp('starts the workflow') },
    });
    const routes = JSON.stringify(Object.values(entry)[0].Properties.Environment.Variables.WORKFLOWS);
    assert.match(routes, /Custom::CloudHsmCluster/);
    assert.match(routes, /Custom::CloudHsmHsms/);
    // Each custom resource waits for its state machine.
    for (const type of ['Custom::CloudHsmCluster', 'Custom::CloudHsmHsms']) {
      const [res] = Object.values(template.findResources(type));
      assert.ok((res.DependsOn as string[]).some((d) => d.includes('Workflow')), `${type} depends on its workflow`);
    }
  });

  test('every step can fail into one FAILED answer to CloudFormation', () => {
    for (const definition of definitions(cluster())) {
      const states = definition.States as Record<string, Record<string, unknown>>;
      for (const [name, state] of Object.entries(states)) {
        const answers = name.startsWith('Answer') || name === 'Report the failure to CloudFormation';
        if (state.Type === 'Task' && !answers && !name.startsWith('Close')) {
          const catches = state.Catch as { Next: string }[] | undefined;
          assert.ok(catches?.some((c) => c.Next === 'Report the failure to CloudFormation'), `${name} has a Catch`);
        }
      }
      assert.equal(states['Report the failure to CloudFormation'].Next, 'Failed');
    }
  });

  test('no secret value passes through a workflow', () => {
    for (const definition of definitions(cluster())) {
      const text = JSON.stringify(definition);
      assert.doesNotMatch(text, /SecretString|GetSecretValue|password"\s*:/i);
    }
  });
});

describe('CloudHsmCluster management client', () => {
  test('defaults: a t4g.small on the latest Amazon Linux 2023 for arm64, in the first HSM subnet', () => {
    const instance = Object.values(cluster().findResources('AWS::EC2::Instance'))[0].Properties;
    assert.equal(instance.InstanceType, 't4g.small');
    assert.match(JSON.stringify(instance.ImageId), /al2023amikernel[0-9]*arm64/);
    assert.match(instance.NetworkInterfaces[0].SubnetId.Ref, /^VpchsmSubnet1/);
  });

  test('clientInstanceType, clientMachineImage and clientVpcSubnets reach the instance', () => {
    const stack = new Stack(new App(), 'Client');
    const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 0, subnetConfiguration: [
      { name: 'hsm', subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
      { name: 'admin', subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
    ] });
    new CloudHsmCluster(stack, 'Hsm', {
      vpc,
      vpcSubnets: { subnetGroupName: 'hsm' },
      clientInstanceType: ec2.InstanceType.of(ec2.InstanceClass.M7G, ec2.InstanceSize.LARGE),
      clientMachineImage: ec2.MachineImage.genericLinux({ 'us-east-1': 'ami-0123456789abcdef0' }),
      clientVpcSubnets: { subnetGroupName: 'admin', availabilityZones: [vpc.availabilityZones[1]] },
    });
    const template = Template.fromStack(stack);
    const instance = Object.values(template.findResources('AWS::EC2::Instance'))[0].Properties;
    assert.equal(instance.InstanceType, 'm7g.large');
    assert.equal(instance.ImageId['Fn::FindInMap'][1].Ref, 'AWS::Region');
    assert.match(JSON.stringify(template.toJSON().Mappings), /ami-0123456789abcdef0/);
    assert.match(instance.NetworkInterfaces[0].SubnetId.Ref, /^VpcadminSubnet2/);
    // The HSMs stay in their own subnets.
    template.hasResourceProperties('Custom::CloudHsmCluster', {
      SubnetIds: [{ Ref: Match.stringLikeRegexp('VpchsmSubnet1') }, { Ref: Match.stringLikeRegexp('VpchsmSubnet2') }],
    });
  });

  test('IMDSv2 only, no public IP, no SSH key, encrypted disk, HTTPS-only egress', () => {
    const template = cluster();
    template.hasResourceProperties('AWS::EC2::LaunchTemplate', {
      LaunchTemplateData: { MetadataOptions: { HttpTokens: 'required' } },
    });
    const instances = template.findResources('AWS::EC2::Instance');
    assert.equal(Object.keys(instances).length, 1);
    const instance = Object.values(instances)[0].Properties;
    assert.equal(instance.KeyName, undefined);
    assert.equal(instance.NetworkInterfaces?.[0]?.AssociatePublicIpAddress ?? false, false);
    assert.deepEqual(instance.BlockDeviceMappings[0].Ebs.Encrypted, true);
    template.hasResourceProperties('AWS::EC2::SecurityGroup', {
      GroupDescription: Match.stringLikeRegexp('management client'),
      SecurityGroupEgress: [{ CidrIp: '0.0.0.0/0', IpProtocol: 'tcp', FromPort: 443, ToPort: 443, Description: Match.anyValue() }],
    });
  });

  test('the activation script is strict and reads the password itself', () => {
    const docs = cluster().findResources('AWS::SSM::Document');
    const content = Object.values(docs)[0].Properties.Content;
    const script = content.mainSteps[0].inputs.runCommand as string[];
    assert.ok(script.includes('set -euo pipefail'));
    assert.ok(script.some((line) => line.includes('cloudhsm-cli cluster activate')));
    assert.deepEqual(Object.keys(content.parameters).sort(), ['AdminPasswordSecretArn', 'CaCertificateSecretArn', 'HsmIp']);
  });

  test('the admin password is generated, 32 letters and digits; the CA certificate is always kept', () => {
    const template = cluster();
    template.hasResourceProperties('AWS::SecretsManager::Secret', {
      GenerateSecretString: { PasswordLength: 32, ExcludePunctuation: true, IncludeSpace: false },
    });
    template.hasResource('AWS::SecretsManager::Secret', {
      Properties: { Description: Match.stringLikeRegexp('trust anchor') },
      DeletionPolicy: 'Retain',
    });
  });
});

describe('CloudHsmCluster validation', () => {
  test('fails when hsmsPerSubnet is negative or fractional', () => {
    assert.equal(clusterError({ hsmsPerSubnet: -1 }),
      'invalid CloudHsmCluster props at Test/Hsm:\n- hsmsPerSubnet must be a whole number of 0 or more, got -1');
    assert.equal(clusterError({ hsmsPerSubnet: 1.5 }),
      'invalid CloudHsmCluster props at Test/Hsm:\n- hsmsPerSubnet must be a whole number of 0 or more, got 1.5');
  });

  test('fails with more than 28 HSMs in all', () => {
    assert.equal(clusterError({ hsmsPerSubnet: 15 }),
      'invalid CloudHsmCluster props at Test/Hsm:\n- hsmsPerSubnet 15 in 2 subnets makes 30 HSMs, over the 28 ' +
      'a cluster can hold: lower hsmsPerSubnet or select fewer subnets');
  });

  test('fails when backupRetention is out of range or not whole days', () => {
    assert.equal(clusterError({ backupRetention: Duration.days(6) }),
      'invalid CloudHsmCluster props at Test/Hsm:\n- backupRetention must be 7 to 379 days, got 6 days');
    assert.equal(clusterError({ backupRetention: Duration.days(380) }),
      'invalid CloudHsmCluster props at Test/Hsm:\n- backupRetention must be 7 to 379 days, got 380 days');
    assert.equal(clusterError({ backupRetention: Duration.hours(200) }),
      'invalid CloudHsmCluster props at Test/Hsm:\n- backupRetention must be whole days, got 8 days 8 hours: ' +
      'use Duration.days(n)');
  });

  test('fails when NON_FIPS is asked of a non-hsm2m type', () => {
    assert.equal(clusterError({ mode: ClusterMode.NON_FIPS, hsmType: HsmType.of('hsm1.medium') }),
      'invalid CloudHsmCluster props at Test/Hsm:\n- mode NON_FIPS needs an hsm2m HSM type, got hsmType ' +
      'hsm1.medium: use HsmType.HSM2M_MEDIUM or ClusterMode.FIPS');
  });

  test('fails at synth when fromCertificateAuthority is given a subordinate CA of the app', () => {
    const { app, stack, vpc } = stackWithVpc();
    const subordinate = new acmpca.CfnCertificateAuthority(stack, 'IssuingCa', {
      type: 'SUBORDINATE', keyAlgorithm: 'RSA_2048', signingAlgorithm: 'SHA256WITHRSA', subject: { commonName: 'issuing' },
    });
    const ca = acmpca.CertificateAuthority.fromCertificateAuthorityArn(stack, 'Ca', subordinate.attrArn);
    new CloudHsmCluster(stack, 'Hsm', {
      vpc, vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED }, pki: ClusterPki.fromCertificateAuthority(ca),
    });
    assert.match(errorOf(() => app.synth()),
      /\[Test\/Hsm\] pki: ClusterPki\.fromCertificateAuthority\(\) was given Test\/IssuingCa, a SUBORDINATE CA: CloudHSM initializes a cluster only with a certificate issued directly by a root CA, whose self-signed certificate is the trust anchor\. Give it a ROOT CA, or use ClusterPki\.privateCa\(\)/);
  });

  test('a root CA of the app is taken by fromCertificateAuthority', () => {
    const { app, stack, vpc } = stackWithVpc();
    const root = new acmpca.CfnCertificateAuthority(stack, 'RootCa', {
      type: 'ROOT', keyAlgorithm: 'RSA_2048', signingAlgorithm: 'SHA256WITHRSA', subject: { commonName: 'root' },
    });
    const ca = acmpca.CertificateAuthority.fromCertificateAuthorityArn(stack, 'Ca', root.attrArn);
    new CloudHsmCluster(stack, 'Hsm', {
      vpc, vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED }, pki: ClusterPki.fromCertificateAuthority(ca),
    });
    app.synth();
  });

  test('fails when two subnets share an AZ', () => {
    const { stack, vpc } = regionalStack();
    assert.throws(() => new CloudHsmCluster(stack, 'Hsm', {
      vpc, vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
    }), {
      message: 'invalid CloudHsmCluster props at Regional/Hsm:\n' +
        '- vpcSubnets selects 2 subnets in us-east-1a (Regional/Vpc/aSubnet1, Regional/Vpc/bSubnet1): a cluster ' +
        'takes at most one subnet per Availability Zone; use `onePerAz: true` or list one subnet per zone\n' +
        '- vpcSubnets selects 2 subnets in us-east-1b (Regional/Vpc/aSubnet2, Regional/Vpc/bSubnet2): a cluster ' +
        'takes at most one subnet per Availability Zone; use `onePerAz: true` or list one subnet per zone\n' +
        '- vpcSubnets selects 2 subnets in us-east-1c (Regional/Vpc/aSubnet3, Regional/Vpc/bSubnet3): a cluster ' +
        'takes at most one subnet per Availability Zone; use `onePerAz: true` or list one subnet per zone',
    });
    // One per AZ is fine.
    new CloudHsmCluster(stack, 'Ok', { vpc, vpcSubnets: { subnetGroupName: 'a' } });
  });

  test('fails when subnets belong to another VPC', () => {
    const { stack, vpc } = stackWithVpc();
    const other = new ec2.Vpc(stack, 'Other', { maxAzs: 1, natGateways: 0, subnetConfiguration: [
      { name: 'x', subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
    ] });
    assert.throws(() => new CloudHsmCluster(stack, 'Hsm', { vpc, vpcSubnets: { subnets: other.isolatedSubnets } }), {
      message: 'invalid CloudHsmCluster props at Test/Hsm:\n- vpcSubnets selects subnets of another VPC ' +
        "(Test/Other/xSubnet1): select subnets of the cluster's vpc",
    });
  });

  test('fails listing every problem at once', () => {
    const message = clusterError({
      hsmsPerSubnet: -2, backupRetention: Duration.days(1), mode: ClusterMode.NON_FIPS, hsmType: HsmType.of('hsm1.medium'),
    });
    assert.equal(message.split('\n').filter((line) => line.startsWith('- ')).length, 3, message);
  });

  test('tokens pass through unchecked', () => {
    const { stack, vpc } = stackWithVpc();
    new CloudHsmCluster(stack, 'Hsm', {
      vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
      hsmsPerSubnet: Token.asNumber({ Ref: 'HsmCount' }),
      backupRetention: Duration.days(Token.asNumber({ Ref: 'RetentionDays' })),
    });
    Template.fromStack(stack).hasResourceProperties('Custom::CloudHsmCluster', {
      HsmsPerSubnet: { Ref: 'HsmCount' },
      BackupRetentionDays: { Ref: 'RetentionDays' },
    });
  });
});
