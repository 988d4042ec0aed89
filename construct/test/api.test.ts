// The public API as jsii publishes it (construct/.jsii): every prop and
// attribute documented, defaults stated, and the shape the design asks for.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test, describe } from 'node:test';

interface Docs { summary?: string; remarks?: string; default?: string; custom?: Record<string, string> }
interface Property { name: string; optional?: boolean; docs?: Docs }
interface Type {
  fqn: string;
  kind: 'class' | 'interface' | 'enum';
  datatype?: boolean;
  abstract?: boolean;
  base?: string;
  interfaces?: string[];
  docs?: Docs;
  properties?: Property[];
  methods?: { name: string; docs?: Docs }[];
}

const assembly = path.resolve(import.meta.dirname, '..', '.jsii');
const types: Record<string, Type> = JSON.parse(fs.readFileSync(assembly, 'utf-8')).types;
const own = (name: string): Type => {
  const type = types[`cdk-cloudhsm.${name}`];
  assert.ok(type, `cdk-cloudhsm.${name} is in the assembly`);
  return type;
};

/** The properties of a type, including those of the interfaces it extends in this package. */
function propertiesOf(type: Type): Property[] {
  const inherited = (type.interfaces ?? [])
    .filter((fqn) => fqn.startsWith('cdk-cloudhsm.'))
    .flatMap((fqn) => propertiesOf(types[fqn]));
  return [...inherited, ...(type.properties ?? [])];
}

describe('public API', () => {
  test('the types the design names, and none of the old ones', () => {
    const names = Object.keys(types).map((fqn) => fqn.replace('cdk-cloudhsm.', '')).sort();
    for (const name of ['CloudHsmCluster', 'CloudHsmClusterProps', 'CloudHsmClusterFromBackup',
      'CloudHsmClusterFromBackupProps', 'CloudHsmClusterAttributes', 'ICloudHsmCluster']) {
      assert.ok(names.includes(name), name);
    }
    assert.ok(!names.includes('ClusterClientOptions'), 'the nested client options are gone');
    assert.ok(!names.some((name) => name.endsWith('Base') || name.endsWith('New')), 'the base classes stay private');
  });

  test('flat client props; a new cluster chooses its PKI, a restore names its backup', () => {
    const cluster = propertiesOf(own('CloudHsmClusterProps')).map((p) => p.name);
    const restore = propertiesOf(own('CloudHsmClusterFromBackupProps'));
    for (const name of ['clientInstanceType', 'clientMachineImage', 'clientVpcSubnets']) {
      assert.ok(cluster.includes(name), `CloudHsmClusterProps.${name}`);
      assert.ok(restore.some((p) => p.name === name), `CloudHsmClusterFromBackupProps.${name}`);
    }
    assert.ok(!cluster.includes('client') && !cluster.includes('sourceBackupId'));
    assert.ok(cluster.includes('pki'));
    assert.ok(!restore.some((p) => p.name === 'pki'), 'a restored cluster is already initialized');
    assert.equal(restore.find((p) => p.name === 'backupId')?.optional, undefined, 'backupId is required');
  });

  test('every prop is documented, and every optional prop states its default', () => {
    const structs = Object.values(types).filter((t) => t.datatype);
    assert.ok(structs.length >= 4);
    for (const struct of structs) {
      for (const prop of struct.properties ?? []) {
        const where = `${struct.fqn}.${prop.name}`;
        assert.ok(prop.docs?.summary, `${where} has a summary`);
        if (prop.optional) {
          assert.ok(prop.docs?.default, `${where} has a @default`);
        }
      }
    }
  });

  test('every attribute and method of the clusters is documented', () => {
    for (const name of ['CloudHsmCluster', 'CloudHsmClusterFromBackup', 'ICloudHsmCluster']) {
      const type = own(name);
      for (const member of [...(type.properties ?? []), ...(type.methods ?? [])]) {
        assert.ok(member.docs?.summary, `${name}.${member.name} has a summary`);
      }
    }
  });

  test('both clusters are stateful resources implementing ICloudHsmCluster', () => {
    for (const name of ['CloudHsmCluster', 'CloudHsmClusterFromBackup']) {
      const type = own(name);
      assert.equal(type.docs?.custom?.stateful, 'true', `${name} is tagged @stateful`);
      assert.equal(type.docs?.custom?.resource, 'Custom::CloudHsmCluster');
      assert.deepEqual(type.interfaces, ['cdk-cloudhsm.ICloudHsmCluster']);
      const members = [...(type.properties ?? []), ...(type.methods ?? [])].map((m) => m.name);
      for (const member of ['clusterArn', 'grant', 'metric', 'metricHsmUnhealthy', 'hsmIpAddresses']) {
        assert.ok(members.includes(member), `${name}.${member}`);
      }
    }
  });

  test('removalPolicy says what DESTROY removes and keeps, and what RETAIN keeps', () => {
    const doc = propertiesOf(own('CloudHsmClusterProps')).find((p) => p.name === 'removalPolicy')?.docs;
    const text = `${doc?.summary} ${doc?.remarks}`.replace(/\s+/g, ' ');
    for (const phrase of ['RemovalPolicy.DESTROY', 'RemovalPolicy.RETAIN', 'every HSM', 'backups',
      'backupRetention', 'CA certificate secret is always kept', 'admin password', 'management client']) {
      assert.ok(text.includes(phrase), `removalPolicy mentions "${phrase}"`);
    }
  });

  test('hsmIpAddresses tells the order the addresses come in', () => {
    const doc = own('CloudHsmCluster').properties?.find((p) => p.name === 'hsmIpAddresses')?.docs;
    const text = `${doc?.summary} ${doc?.remarks}`.replace(/\s+/g, ' ');
    assert.match(text, /in the order CloudHSM lists the HSMs/);
    assert.match(text, /not grouped or sorted by subnet/);
  });
});
