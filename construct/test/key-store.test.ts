// The key store and its keys: synth-time rules, the resources and their
// properties, the kmsuser secret, and the key as a kms.IKey.
import * as assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { App, Duration, RemovalPolicy, Stack, Tags } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import {
  CloudHsmCluster, type CloudHsmClusterProps, CloudHsmKey, CloudHsmKeyStore,
} from '../lib/index.js';
import { KMS_USER_SCRIPT } from '../lib/private/key-store-machinery.js';
import { errorOf } from './support.ts';

/** The ARN of a secret made elsewhere, by its name. */
function secretArn(name: string): string {
  return `arn:aws:secretsmanager:us-east-1:123456789012:secret:${name}-AbCdEf`;
}

function importedSecret(stack: Stack, name: string): secretsmanager.ISecret {
  return secretsmanager.Secret.fromSecretCompleteArn(stack, `${name}Secret`, secretArn(name));
}

/** A stack in a known region whose VPC has isolated subnets in `zones`, `perZone` per zone. */
function regional(zones = ['us-east-1a', 'us-east-1b'], perZone = 1): { stack: Stack; vpc: ec2.Vpc } {
  const stack = new Stack(new App(), 'KeyStores', { env: { account: '123456789012', region: 'us-east-1' } });
  const vpc = new ec2.Vpc(stack, 'Vpc', {
    availabilityZones: zones,
    natGateways: 0,
    subnetConfiguration: Array.from({ length: perZone }, (_, i) => ({ name: `hsm${i}`, subnetType: ec2.SubnetType.PRIVATE_ISOLATED })),
  });
  return { stack, vpc };
}

function clusterIn(stack: Stack, vpc: ec2.Vpc, props: Partial<CloudHsmClusterProps> = {}): CloudHsmCluster {
  return new CloudHsmCluster(stack, 'Hsm', {
    vpc, vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED }, ...props,
  });
}

function keyStoreStack(): { stack: Stack; cluster: CloudHsmCluster; keyStore: CloudHsmKeyStore; key: CloudHsmKey } {
  const { stack, vpc } = regional();
  const cluster = clusterIn(stack, vpc);
  const keyStore = new CloudHsmKeyStore(stack, 'KeyStore', { cluster });
  const key = new CloudHsmKey(stack, 'Key', { keyStore, alias: 'alias/app', description: 'app data' });
  return { stack, cluster, keyStore, key };
}

type Resources = Record<string, { Type: string; Properties: Record<string, unknown>; DependsOn?: string[] }>;

function resourcesOf(stack: Stack): Resources {
  return Template.fromStack(stack).toJSON().Resources as Resources;
}

function one(resources: Resources, type: string): [string, Resources[string]] {
  const found = Object.entries(resources).filter(([, r]) => r.Type === type);
  assert.equal(found.length, 1, `one ${type}`);
  return found[0];
}

describe('CloudHsmKeyStore', () => {
  test('defaults: a stable name from the construct path, RETAIN, kmsuser\'s own generated password', () => {
    const { stack, cluster } = keyStoreStack();
    const resources = resourcesOf(stack);
    const [, store] = one(resources, 'Custom::CloudHsmKeyStore');
    assert.match(String(store.Properties.KeyStoreName), /^KeyStores-KeyStore-[0-9A-F]{8}$/i);
    assert.equal(store.Properties.RemovalPolicy, 'RETAIN');
    const [secretId, secret] = Object.entries(resources).find(([id, r]) => r.Type === 'AWS::SecretsManager::Secret' && id.startsWith('KeyStoreKmsUserPassword'))!;
    assert.deepEqual(store.Properties.KmsUserPasswordSecretArn, { Ref: secretId });
    assert.deepEqual((secret.Properties.GenerateSecretString as Record<string, unknown>).PasswordLength, 32);
    // Never the admin's password.
    assert.notDeepEqual(store.Properties.KmsUserPasswordSecretArn, stack.resolve(cluster.adminPasswordSecret.secretArn));
    // The same name on every synth.
    const again = resourcesOf(keyStoreStack().stack);
    assert.equal(one(again, 'Custom::CloudHsmKeyStore')[1].Properties.KeyStoreName, store.Properties.KeyStoreName);
  });

  test('every property the steps read, and no password', () => {
    const { stack, cluster } = keyStoreStack();
    const [, store] = one(resourcesOf(stack), 'Custom::CloudHsmKeyStore');
    assert.deepEqual(Object.keys(store.Properties).sort(), [
      'AdminPasswordSecretArn', 'ClientInstanceId', 'ClusterId', 'KeyStoreName', 'KmsUserDocument',
      'KmsUserPasswordSecretArn', 'RemovalPolicy', 'ServiceToken', 'TrustAnchorSecretArn',
    ]);
    assert.deepEqual(store.Properties.ClusterId, stack.resolve(cluster.clusterId));
    assert.deepEqual(store.Properties.TrustAnchorSecretArn, stack.resolve(cluster.customerCaCertificateSecret.secretArn));
    const [, key] = one(resourcesOf(stack), 'Custom::CloudHsmKey');
    assert.doesNotMatch(JSON.stringify([store, key]), /SecretString|resolve:secretsmanager|Password"/);
    assert.doesNotMatch(JSON.stringify(Template.fromStack(stack).toJSON()), /resolve:secretsmanager/);
  });

  test('is made after the cluster\'s HSMs and deleted before them', () => {
    const { stack } = keyStoreStack();
    const resources = resourcesOf(stack);
    const [, store] = one(resources, 'Custom::CloudHsmKeyStore');
    const [hsmsId] = one(resources, 'Custom::CloudHsmHsms');
    assert.ok(store.DependsOn?.includes(hsmsId), JSON.stringify(store.DependsOn));
  });

  test('the workflow applies the removal policy: CloudFormation always sends the Delete', () => {
    const { stack, vpc } = regional();
    const cluster = clusterIn(stack, vpc);
    cluster.addKeyStore('KeyStore', { removalPolicy: RemovalPolicy.DESTROY, keyStoreName: 'payments' });
    const template = Template.fromStack(stack);
    template.hasResource('Custom::CloudHsmKeyStore', {
      DeletionPolicy: 'Delete',
      Properties: Match.objectLike({ RemovalPolicy: 'DESTROY', KeyStoreName: 'payments' }),
    });
  });

  test('the management client may read the kmsuser password; the store has its own document', () => {
    const { stack } = keyStoreStack();
    const template = Template.fromStack(stack);
    const [docId] = Object.entries(resourcesOf(stack)).find(([id, r]) => r.Type === 'AWS::SSM::Document' && id.includes('KmsUserDocument'))!;
    const [, store] = one(resourcesOf(stack), 'Custom::CloudHsmKeyStore');
    assert.deepEqual(store.Properties.KmsUserDocument, { Ref: docId });
    template.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: Match.stringLikeRegexp('^HsmClientRole') }],
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({
        Action: 'secretsmanager:GetSecretValue',
        Resource: { Ref: Match.stringLikeRegexp('^KeyStoreKmsUserPassword') },
      })]) },
    });
  });

  test('the kmsuser script reads passwords itself, never on a command line, and checks every HSM', () => {
    const script = KMS_USER_SCRIPT.join('\n');
    assert.match(script, /set -euo pipefail/);
    assert.doesNotMatch(script, /--password/);
    assert.match(script, /CLOUDHSM_PIN="admin:\$admin" "\$cli" user create --username kmsuser --role crypto-user/);
    assert.match(script, /cluster-coverage/);
    assert.match(script, /exit 4/);
  });

  test('fails on a cluster with HSMs in one Availability Zone, naming the KMS rule', () => {
    const { stack, vpc } = regional(['us-east-1a']);
    const cluster = clusterIn(stack, vpc);
    assert.equal(errorOf(() => new CloudHsmKeyStore(stack, 'KeyStore', { cluster })),
      'invalid CloudHsmKeyStore props at KeyStores/KeyStore:\n' +
      '- cluster: KeyStores/Hsm has its HSMs in one Availability Zone (us-east-1a): KMS needs at least 2 ACTIVE HSMs ' +
      'in different Availability Zones. Give the cluster subnets in two zones or more');
  });

  test('fails on a cluster with hsmsPerSubnet 0, naming the KMS rule', () => {
    const { stack, vpc } = regional();
    const cluster = clusterIn(stack, vpc, { hsmsPerSubnet: 0 });
    assert.equal(errorOf(() => cluster.addKeyStore('KeyStore')),
      'invalid CloudHsmKeyStore props at KeyStores/Hsm/KeyStore:\n' +
      '- cluster: KeyStores/Hsm has hsmsPerSubnet 0, so no HSM: KMS needs at least 2 ACTIVE HSMs in different ' +
      'Availability Zones. Set hsmsPerSubnet to 1 or more while the key store exists');
  });

  test('fails on an imported cluster without a trust anchor or a way to kmsuser, naming the attributes', () => {
    const { stack } = regional();
    const cluster = CloudHsmCluster.fromClusterAttributes(stack, 'Imported', {
      clusterId: 'cluster-abcdefghijk', securityGroupId: 'sg-0123456789abcdef0',
    });
    assert.equal(errorOf(() => new CloudHsmKeyStore(stack, 'KeyStore', { cluster })),
      'invalid CloudHsmKeyStore props at KeyStores/KeyStore:\n' +
      '- cluster: KeyStores/Imported is an imported cluster without trustAnchorSecret: KMS creates a key store only ' +
      'with the cluster\'s trust anchor. Give fromClusterAttributes the secret holding the PEM certificate of the CA ' +
      'that issued the cluster certificate (for a cluster of this library, its customerCaCertificateSecret)\n' +
      '- cluster: KeyStores/Imported is an imported cluster without a management client (clientInstanceId, ' +
      'clientRole, adminPasswordSecret) to create kmsuser, and without kmsUserPasswordSecret, the password of a ' +
      'kmsuser that exists: give fromClusterAttributes one of them');
  });

  test('fails on an imported cluster with part of a management client, naming what is missing', () => {
    const { stack } = regional();
    const cluster = CloudHsmCluster.fromClusterAttributes(stack, 'Imported', {
      clusterId: 'cluster-abcdefghijk', securityGroupId: 'sg-0123456789abcdef0',
      trustAnchorSecret: importedSecret(stack, 'Ca'), clientInstanceId: 'i-0123456789abcdef0',
    });
    assert.equal(errorOf(() => new CloudHsmKeyStore(stack, 'KeyStore', { cluster })),
      'invalid CloudHsmKeyStore props at KeyStores/KeyStore:\n' +
      '- cluster: KeyStores/Imported is an imported cluster with clientInstanceId but without clientRole and ' +
      'adminPasswordSecret: the key store creates kmsuser on the management client as the admin, and needs the ' +
      'client instance, its role and the admin password secret together');
  });

  test('on an imported cluster with a management client: kmsuser created there, the client role may read the secrets', () => {
    const { stack } = regional();
    const clientRole = iam.Role.fromRoleArn(stack, 'ClientRole', 'arn:aws:iam::123456789012:role/hsm-client');
    const cluster = CloudHsmCluster.fromClusterAttributes(stack, 'Imported', {
      clusterId: 'cluster-abcdefghijk', securityGroupId: 'sg-0123456789abcdef0',
      trustAnchorSecret: importedSecret(stack, 'Ca'), clientInstanceId: 'i-0123456789abcdef0', clientRole,
      adminPasswordSecret: importedSecret(stack, 'Admin'),
    });
    const keyStore = new CloudHsmKeyStore(stack, 'KeyStore', { cluster });
    const resources = resourcesOf(stack);
    const [, store] = one(resources, 'Custom::CloudHsmKeyStore');
    const [docId] = Object.entries(resources).find(([id, r]) => r.Type === 'AWS::SSM::Document' && id.includes('KmsUserDocument'))!;
    assert.equal(store.Properties.ClusterId, 'cluster-abcdefghijk');
    assert.equal(store.Properties.ClientInstanceId, 'i-0123456789abcdef0');
    assert.equal(store.Properties.AdminPasswordSecretArn, secretArn('Admin'));
    assert.equal(store.Properties.TrustAnchorSecretArn, secretArn('Ca'));
    assert.deepEqual(store.Properties.KmsUserDocument, { Ref: docId });
    assert.deepEqual(store.Properties.KmsUserPasswordSecretArn, stack.resolve(keyStore.kmsUserPasswordSecret.secretArn));
    assert.equal(store.DependsOn?.some((d) => d.includes('Hsms')), false);
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::IAM::Policy', {
      Roles: ['hsm-client'],
      PolicyDocument: { Statement: Match.arrayWith([
        Match.objectLike({ Action: 'secretsmanager:GetSecretValue', Resource: { Ref: Match.stringLikeRegexp('^KeyStoreKmsUserPassword') } }),
        Match.objectLike({ Action: 'secretsmanager:GetSecretValue', Resource: secretArn('Admin') }),
        Match.objectLike({ Action: 'secretsmanager:GetSecretValue', Resource: secretArn('Ca') }),
      ]) },
    });
    const sendCommand = Object.values(resources).flatMap((r) => r.Type === 'AWS::IAM::Policy'
      ? (r.Properties.PolicyDocument as { Statement: { Action: unknown }[] }).Statement : [])
      .find((st) => st.Action === 'ssm:SendCommand');
    assert.match(JSON.stringify(sendCommand), /:instance\/i-0123456789abcdef0"/);
  });

  test('on an imported cluster whose kmsuser exists: its secret, no client, no document', () => {
    const { stack } = regional();
    const kmsUserPasswordSecret = importedSecret(stack, 'KmsUser');
    const cluster = CloudHsmCluster.fromClusterAttributes(stack, 'Imported', {
      clusterId: 'cluster-abcdefghijk', securityGroupId: 'sg-0123456789abcdef0',
      trustAnchorSecret: importedSecret(stack, 'Ca'), kmsUserPasswordSecret,
    });
    const keyStore = new CloudHsmKeyStore(stack, 'KeyStore', { cluster });
    assert.equal(keyStore.kmsUserPasswordSecret, kmsUserPasswordSecret);
    const resources = resourcesOf(stack);
    const [, store] = one(resources, 'Custom::CloudHsmKeyStore');
    assert.deepEqual(Object.keys(store.Properties).sort(), [
      'ClusterId', 'KeyStoreName', 'KmsUserPasswordSecretArn', 'RemovalPolicy', 'ServiceToken', 'TrustAnchorSecretArn',
    ]);
    assert.equal(store.Properties.KmsUserPasswordSecretArn, secretArn('KmsUser'));
    const types = Object.values(resources).map((r) => r.Type);
    assert.ok(!types.includes('AWS::SSM::Document') && !types.includes('AWS::SecretsManager::Secret'), types.join());
    const policies = JSON.stringify(Object.values(resources).filter((r) => r.Type === 'AWS::IAM::Policy'));
    assert.doesNotMatch(policies, /ssm:SendCommand/);
    assert.match(policies, new RegExp(secretArn('KmsUser')));
  });

  test('on an imported cluster the handlers run on handlerArchitecture, arm64 unless given, as on a cluster of ours', () => {
    const architectures = (handlerArchitecture?: lambda.Architecture) => {
      const { stack } = regional();
      const cluster = CloudHsmCluster.fromClusterAttributes(stack, 'Imported', {
        clusterId: 'cluster-abcdefghijk', securityGroupId: 'sg-0123456789abcdef0',
        trustAnchorSecret: importedSecret(stack, 'Ca'), kmsUserPasswordSecret: importedSecret(stack, 'KmsUser'),
        handlerArchitecture,
      });
      new CloudHsmKeyStore(stack, 'KeyStore', { cluster });
      const functions = Object.values(resourcesOf(stack)).filter((r) => r.Type === 'AWS::Lambda::Function'
        && (r.Properties.Handler === 'bootstrap'));
      assert.equal(functions.length, 2, 'the entry and tasks functions');
      return functions.map((f) => JSON.stringify(f.Properties.Architectures));
    };
    assert.deepEqual(architectures(), ['["arm64"]', '["arm64"]']);
    assert.deepEqual(architectures(lambda.Architecture.X86_64), ['["x86_64"]', '["x86_64"]']);
  });

  test('fails on a key store name KMS refuses', () => {
    const { stack, vpc } = regional();
    const cluster = clusterIn(stack, vpc);
    assert.match(errorOf(() => cluster.addKeyStore('KeyStore', { keyStoreName: 'x'.repeat(257) })),
      /keyStoreName must be 1 to 256 characters, got 257/);
  });
});

describe('CloudHsmKey', () => {
  test('a key in the store with its description, key policy, RETAIN and 30 days by default', () => {
    const { stack, keyStore } = keyStoreStack();
    const [, key] = one(resourcesOf(stack), 'Custom::CloudHsmKey');
    assert.deepEqual(key.Properties.CustomKeyStoreId, stack.resolve(keyStore.customKeyStoreId));
    assert.equal(key.Properties.Description, 'app data');
    assert.equal(key.Properties.RemovalPolicy, 'RETAIN');
    assert.equal(key.Properties.PendingWindowDays, 30);
    const policy = JSON.stringify(key.Properties.Policy);
    assert.match(policy, /kms:\*/);
    assert.match(policy, /:root/);
  });

  test('is a kms.IKey: alias, grants and resource policy statements', () => {
    const { stack, key } = keyStoreStack();
    const topic = new sns.Topic(stack, 'Topic', { masterKey: key });
    void topic;
    const role = new iam.Role(stack, 'Reader', { assumedBy: new iam.AccountRootPrincipal() });
    key.grantEncryptDecrypt(role);
    key.addToResourcePolicy(new iam.PolicyStatement({
      actions: ['kms:Decrypt'], principals: [new iam.ServicePrincipal('sns.amazonaws.com')], resources: ['*'],
    }));
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::KMS::Alias', { AliasName: 'alias/app', TargetKeyId: Match.anyValue() });
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    template.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: Match.stringLikeRegexp('^Reader') }],
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Action: Match.arrayWith(['kms:Decrypt', 'kms:Encrypt']) })]) },
    });
    const [, resource] = one(resourcesOf(stack), 'Custom::CloudHsmKey');
    assert.match(JSON.stringify(resource.Properties.Policy), /sns\.amazonaws\.com/);
  });

  test('takes its tags from the Tags aspect, of the key or a scope above it; none when untagged', () => {
    const { stack, keyStore, key } = keyStoreStack();
    const untagged = new CloudHsmKey(stack, 'Untagged', { keyStore });
    Tags.of(key).add('team', 'payments');
    Tags.of(stack).add('env', 'prod', { excludeResourceTypes: [] });
    Tags.of(untagged).remove('env');
    const keys = Object.entries(resourcesOf(stack)).filter(([, r]) => r.Type === 'Custom::CloudHsmKey');
    const tagsOf = (prefix: string) => keys.find(([id]) => id.startsWith(prefix))![1].Properties.Tags;
    assert.deepEqual(tagsOf('Key'), { env: 'prod', team: 'payments' });
    assert.equal(tagsOf('Untagged'), undefined);
  });

  test('DESTROY schedules deletion after pendingWindow', () => {
    const { stack, keyStore } = keyStoreStack();
    new CloudHsmKey(stack, 'Other', { keyStore, removalPolicy: RemovalPolicy.DESTROY, pendingWindow: Duration.days(7) });
    Template.fromStack(stack).hasResourceProperties('Custom::CloudHsmKey', { RemovalPolicy: 'DESTROY', PendingWindowDays: 7 });
  });

  test('fails on a pending window KMS refuses and on a reserved alias', () => {
    const { stack, keyStore } = keyStoreStack();
    assert.equal(errorOf(() => new CloudHsmKey(stack, 'Bad', { keyStore, pendingWindow: Duration.days(3), alias: 'alias/aws/s3' })),
      'invalid CloudHsmKey props at KeyStores/Bad:\n' +
      '- pendingWindow must be 7 to 30 whole days, got 3 days\n' +
      '- alias must start with alias/ and not with alias/aws/ (reserved for AWS), got \'alias/aws/s3\'');
  });

  test('keys use the key store\'s workflows; the store and its keys route to their own', () => {
    const { stack } = keyStoreStack();
    const resources = resourcesOf(stack);
    const [, store] = one(resources, 'Custom::CloudHsmKeyStore');
    const [, key] = one(resources, 'Custom::CloudHsmKey');
    assert.deepEqual(key.Properties.ServiceToken, store.Properties.ServiceToken);
    const entry = Object.values(resources).find((r) => r.Type === 'AWS::Lambda::Function'
      && JSON.stringify(r.Properties.Environment ?? {}).includes('Custom::CloudHsmKeyStore'))!;
    const routes = JSON.stringify(entry.Properties.Environment);
    assert.match(routes, /Custom::CloudHsmKey\\"/);
  });
});
