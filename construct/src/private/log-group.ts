import { ArnFormat, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

/** Keys whose policy already lets CloudWatch Logs use them, per stack. */
const allowed = new WeakMap<kms.IKey, Set<string>>();

/**
 * Lets CloudWatch Logs encrypt this stack's log groups with `key`, as AWS
 * requires (a key policy statement for the regional logs service, limited
 * to log groups of the account and region by the encryption context). A
 * key made elsewhere cannot be changed here: its policy must already allow
 * it (see `encryptionKey`).
 */
function allowLogs(scope: Construct, key: kms.IKey): void {
  const stack = Stack.of(scope);
  const stacks = allowed.get(key) ?? new Set<string>();
  if (stacks.has(stack.node.path)) return;
  stacks.add(stack.node.path);
  allowed.set(key, stacks);
  key.addToResourcePolicy(new iam.PolicyStatement({
    sid: 'AllowCloudWatchLogsOfThisAccountAndRegion',
    principals: [new iam.ServicePrincipal(`logs.${stack.region}.amazonaws.com`)],
    actions: ['kms:Encrypt*', 'kms:Decrypt*', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:Describe*'],
    resources: ['*'],
    conditions: {
      ArnLike: {
        'kms:EncryptionContext:aws:logs:arn': stack.formatArn({
          service: 'logs',
          resource: 'log-group',
          resourceName: '*',
          arnFormat: ArnFormat.COLON_RESOURCE_NAME,
        }),
      },
    },
  }));
}

/**
 * A log group of the construct's functions and state machines: kept a year,
 * encrypted with `encryptionKey` when one is given. It has no fixed name:
 * it is kept when the stack goes, and a fixed name would then block
 * creating the same stack again.
 */
export function newLogGroup(scope: Construct, id: string, encryptionKey?: kms.IKey): logs.LogGroup {
  if (encryptionKey) allowLogs(scope, encryptionKey);
  return new logs.LogGroup(scope, id, { retention: logs.RetentionDays.ONE_YEAR, encryptionKey });
}
