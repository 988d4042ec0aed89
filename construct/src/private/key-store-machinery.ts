import { Duration, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';
import { PREPARE, SECRET_ARN_PATTERN, shellDocument } from './client';
import { ClusterSecrets } from './cluster-secrets';
import { HANDLERS, RESOURCE_TYPES, TASKS_ENV } from './contract.generated';
import { EntryFunction } from './entry-function';
import { handlerCode } from './handlers';
import { KeyStoreSupport } from './key-store-support';
import { newLogGroup } from './log-group';
import { Workflow } from './workflow';
import { WorkflowKit } from './workflow-kit';
import { keyWorkflow } from './workflows/key-workflow';
import { keyStoreWorkflow } from './workflows/keystore-workflow';

/** The KMS actions on custom key stores, which IAM cannot scope to a key store. */
const KEY_STORE_ACTIONS = [
  'kms:CreateCustomKeyStore', 'kms:DescribeCustomKeyStores', 'kms:ConnectCustomKeyStore',
  'kms:DisconnectCustomKeyStore', 'kms:UpdateCustomKeyStore', 'kms:DeleteCustomKeyStore',
];

/** The actions the key workflow takes on keys in a CloudHSM key store. */
const KEY_ACTIONS = [
  'kms:TagResource', 'kms:ListResourceTags', 'kms:ScheduleKeyDeletion', 'kms:UpdateKeyDescription', 'kms:PutKeyPolicy',
];

export interface KeyStoreMachineryProps {
  /** What the cluster gives its key store. */
  readonly support: KeyStoreSupport;
  /** kmsuser's password. */
  readonly kmsUserPassword: secretsmanager.ISecret;
}

/**
 * What runs behind a key store and its keys: an entry function, a tasks
 * function (the cluster tasks binary, configured with the cluster's fixed
 * resources), the two workflows, and the document that creates kmsuser on
 * the cluster's management client. Its own, not the cluster's, so that the
 * key store keeps its service token when it moves to another cluster.
 */
export class KeyStoreMachinery extends Construct {
  public readonly serviceToken: string;
  public readonly kmsUserDocument: ssm.CfnDocument;
  public readonly tasksFunction: lambda.Function;
  public readonly keyStoreWorkflow: Workflow;
  public readonly keyWorkflow: Workflow;

  constructor(scope: Construct, id: string, props: KeyStoreMachineryProps) {
    super(scope, id);
    const { support, kmsUserPassword } = props;
    const { architecture, encryptionKey, secrets, client } = support;
    const stack = Stack.of(this);

    this.kmsUserDocument = shellDocument(this, 'KmsUserDocument',
      'cdk-cloudhsm: create the crypto user kmsuser for a KMS key store (or check or reset its password). '
      + 'Reads the passwords from Secrets Manager; no secret is passed as a parameter.', {
        AdminPasswordSecretArn: { type: 'String', allowedPattern: SECRET_ARN_PATTERN },
        KmsUserPasswordSecretArn: { type: 'String', allowedPattern: SECRET_ARN_PATTERN },
        CaCertificateSecretArn: { type: 'String', allowedPattern: SECRET_ARN_PATTERN },
        ResetPassword: { type: 'String', allowedValues: ['true', 'false'] },
      }, KMS_USER_SCRIPT);
    ClusterSecrets.grantValues(client.instance, `KmsUserPasswordFor${this.node.addr.slice(0, 8)}`,
      [kmsUserPassword], ['secretsmanager:GetSecretValue'], encryptionKey);

    const entry = new EntryFunction(this, 'Entry', { architecture, encryptionKey });
    const fn = new lambda.Function(this, 'TasksFunction', {
      description: 'cdk-cloudhsm: the steps of the key store and key workflows',
      runtime: lambda.Runtime.PROVIDED_AL2023,
      handler: 'bootstrap',
      architecture,
      code: handlerCode(HANDLERS.tasks, architecture),
      memorySize: 256,
      timeout: Duration.minutes(2),
      logGroup: newLogGroup(this, 'TasksLogs', encryptionKey),
      loggingFormat: lambda.LoggingFormat.JSON,
      // The cluster's fixed resources, which every run of the tasks binary
      // reads at start; the key store steps take theirs from the resource
      // properties, so that a store can move to another cluster.
      environment: {
        [TASKS_ENV.csrSecretArn]: secrets.csr.secretArn,
        [TASKS_ENV.caCertificateSecretArn]: secrets.caCertificate.secretArn,
        [TASKS_ENV.clusterCertificateSecretArn]: secrets.clusterCertificate.secretArn,
        [TASKS_ENV.adminPasswordSecretArn]: secrets.adminPassword.secretArn,
        [TASKS_ENV.clientInstanceId]: client.instance.instanceId,
        [TASKS_ENV.activateDocument]: client.activateDocument.ref,
        [TASKS_ENV.configureDocument]: client.configureDocument.ref,
      },
    });
    this.tasksFunction = fn;
    fn.addToRolePolicy(new iam.PolicyStatement({
      sid: 'KeyStores',
      // CreateCustomKeyStore and UpdateCustomKeyStore also need cloudhsm:DescribeClusters.
      actions: [...KEY_STORE_ACTIONS, 'cloudhsm:DescribeClusters', 'kms:ListKeys'],
      resources: ['*'],
    }));
    // CreateKey has no resource-level permissions; the steps make keys only
    // with Origin AWS_CLOUDHSM in a key store.
    fn.addToRolePolicy(new iam.PolicyStatement({ sid: 'CreateKeysInKeyStores', actions: ['kms:CreateKey'], resources: ['*'] }));
    const keys = stack.formatArn({ service: 'kms', resource: 'key', resourceName: '*' });
    // Finding a store's keys reads every key of the account.
    fn.addToRolePolicy(new iam.PolicyStatement({ sid: 'FindKeysOfKeyStores', actions: ['kms:DescribeKey'], resources: [keys] }));
    fn.addToRolePolicy(new iam.PolicyStatement({
      sid: 'ManageKeysInKeyStores',
      actions: KEY_ACTIONS,
      resources: [keys],
      conditions: { StringEquals: { 'kms:KeyOrigin': 'AWS_CLOUDHSM' } },
    }));
    ClusterSecrets.grantValues(fn, 'KeyStoreSecrets', [kmsUserPassword, secrets.caCertificate],
      ['secretsmanager:GetSecretValue'], encryptionKey);
    fn.addToRolePolicy(new iam.PolicyStatement({
      actions: ['ssm:SendCommand'],
      resources: [
        stack.formatArn({ service: 'ssm', resource: 'document', resourceName: this.kmsUserDocument.ref }),
        stack.formatArn({ service: 'ec2', resource: 'instance', resourceName: client.instance.instanceId }),
      ],
    }));
    fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['ssm:GetCommandInvocation'], resources: ['*'] }));

    const kitFor = (workflowScope: Construct) => new WorkflowKit(workflowScope, fn, entry.function);
    this.keyStoreWorkflow = new Workflow(this, 'KeyStoreWorkflow', {
      definition: (workflowScope) => keyStoreWorkflow(workflowScope, { kit: kitFor(workflowScope) }),
      encryptionKey,
    });
    this.keyWorkflow = new Workflow(this, 'KeyWorkflow', {
      definition: (workflowScope) => keyWorkflow(workflowScope, { kit: kitFor(workflowScope) }),
      encryptionKey,
    });
    entry.addRoute(RESOURCE_TYPES.keyStore, this.keyStoreWorkflow);
    entry.addRoute(RESOURCE_TYPES.key, this.keyWorkflow);
    entry.answerForEndedExecutions([this.keyStoreWorkflow, this.keyWorkflow]);
    this.serviceToken = entry.functionArn;
  }
}

/** The crypto user KMS logs in as; KMS requires exactly this name. */
const KMS_USER = 'kmsuser';

/**
 * Creates kmsuser when it is missing, checks that the stored password works
 * when it exists (or, with ResetPassword, sets it as admin), then checks
 * that kmsuser is on every HSM. Passwords go to the CLI on standard input
 * and in its environment, never on a command line.
 */
export const KMS_USER_SCRIPT = [
  ...PREPARE,
  'cli=/opt/cloudhsm/bin/cloudhsm-cli',
  "admin=\"$(aws secretsmanager get-secret-value --secret-id '{{ AdminPasswordSecretArn }}' --query SecretString --output text)\"",
  "kmspw=\"$(aws secretsmanager get-secret-value --secret-id '{{ KmsUserPasswordSecretArn }}' --query SecretString --output text)\"",
  // Prints kmsuser's cluster coverage ("full", "partial"), or nothing when there is no kmsuser.
  'coverage() { "$cli" user list | python3 -c \'import json, sys; users = json.load(sys.stdin)["data"]["users"]; '
    + `print(next((u.get("cluster-coverage", "full") for u in users if u["username"] == "${KMS_USER}"), ""))'; }`,
  'twice() { printf \'%s\\n%s\\n\' "$1" "$1"; }',
  'found="$(coverage)"',
  'if [ -z "$found" ]; then',
  `  twice "$kmspw" | CLOUDHSM_ROLE=admin CLOUDHSM_PIN="admin:$admin" "$cli" user create --username ${KMS_USER} --role crypto-user`,
  "elif [ '{{ ResetPassword }}' = true ]; then",
  `  twice "$kmspw" | CLOUDHSM_ROLE=admin CLOUDHSM_PIN="admin:$admin" "$cli" user change-password --username ${KMS_USER} --role crypto-user`,
  `elif ! twice "$kmspw" | CLOUDHSM_ROLE=crypto-user CLOUDHSM_PIN="${KMS_USER}:$kmspw" "$cli" user change-password --username ${KMS_USER} --role crypto-user >/dev/null; then`,
  `  echo "${KMS_USER} exists on the cluster and the password in secret {{ KmsUserPasswordSecretArn }} does not work for it:" \\`,
  '    "put kmsuser\'s password into that secret, or delete kmsuser (cloudhsm-cli user delete --username kmsuser --role crypto-user)" \\',
  '    "so that the key store creates it again" >&2',
  '  exit 4',
  'fi',
  'found="$(coverage)"',
  'if [ "$found" != full ]; then',
  `  echo "${KMS_USER} is not on every HSM of the cluster (cluster coverage: \${found:-none}): KMS cannot connect to a cluster where an HSM lacks it." \\`,
  '    "Wait for the HSMs to synchronize, or delete and create kmsuser again" >&2',
  '  exit 5',
  'fi',
  `echo "${KMS_USER} is ready on every HSM"`,
];
