import { ArnFormat, CustomResource, Duration, ITaggable, Lazy, RemovalPolicy, Resource, Stack, TagManager, TagType, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { CloudHsmKeyStore } from './key-store';
import { KeyResourceProperties, RESOURCE_TYPES } from './private/contract.generated';

/** Properties of a {@link CloudHsmKey}. */
export interface CloudHsmKeyProps {
  /** The key store the key is made in. */
  readonly keyStore: CloudHsmKeyStore;

  /**
   * An alias for the key, such as `alias/app`.
   * @default - no alias
   */
  readonly alias?: string;

  /**
   * The key's description.
   * @default - no description
   */
  readonly description?: string;

  /**
   * The key policy. Statements added with `addToResourcePolicy` and grants
   * are added to it.
   * @default - a policy that lets the account's IAM policies grant access to the key
   */
  readonly policy?: iam.PolicyDocument;

  /**
   * What happens to the key when it leaves the stack. `DESTROY` schedules
   * its deletion after `pendingWindow`; `RETAIN` keeps it. Neither holds up
   * the stack's deletion.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;

  /**
   * How long KMS waits before deleting the key under `DESTROY`: 7 to 30 days.
   * @default Duration.days(30)
   */
  readonly pendingWindow?: Duration;
}

/**
 * A symmetric KMS key in a CloudHSM key store (origin `AWS_CLOUDHSM`): its
 * material is made and used in the cluster's HSMs. Created once the key
 * store is CONNECTED. It is a `kms.IKey`: grants, aliases and key policy
 * statements work as on `kms.Key`.
 *
 * @resource Custom::CloudHsmKey
 * @stateful
 */
export class CloudHsmKey extends Resource implements kms.IKey, ITaggable {
  /** The CloudFormation type of the custom resource behind a key. */
  public static readonly RESOURCE_TYPE = RESOURCE_TYPES.key;

  /**
   * The key id.
   * @attribute
   */
  public readonly keyId: string;

  /**
   * The key ARN.
   * @attribute
   */
  public readonly keyArn: string;

  /** The key store the key is in. */
  public readonly keyStore: CloudHsmKeyStore;

  /**
   * The key's tags, set with `Tags.of(key).add(...)` (or of any scope above
   * it): sent with CreateKey, and changed on the key by later updates.
   */
  public readonly tags: TagManager;

  private readonly policy: iam.PolicyDocument;
  private readonly aliases: kms.Alias[] = [];
  private readonly grants: kms.KeyGrants;

  constructor(scope: Construct, id: string, props: CloudHsmKeyProps) {
    super(scope, id);
    const pendingWindow = props.pendingWindow ?? Duration.days(30);
    validateKeyProps(props, pendingWindow, this.node.path);
    this.keyStore = props.keyStore;
    this.policy = props.policy ?? new iam.PolicyDocument();
    if (!props.policy) {
      this.policy.addStatements(new iam.PolicyStatement({
        resources: ['*'], actions: ['kms:*'], principals: [new iam.AccountRootPrincipal()],
      }));
    }
    this.node.addValidation({ validate: () => this.policy.validateForResourcePolicy() });
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const stack = Stack.of(this);
    this.tags = new TagManager(TagType.MAP, RESOURCE_TYPES.key);
    const properties: KeyResourceProperties = {
      CustomKeyStoreId: props.keyStore.customKeyStoreId,
      Description: props.description,
      Policy: Lazy.string({ produce: () => stack.toJsonString(this.policy.toJSON()) }),
      PendingWindowDays: pendingWindow.toDays(),
      RemovalPolicy: removalPolicy === RemovalPolicy.DESTROY ? 'DESTROY' : 'RETAIN',
      // Rendered at synth, once every Tags aspect has run; a token stands for the map until then.
      Tags: Lazy.any({ produce: () => this.tags.renderTags() }) as unknown as Record<string, string>,
    };
    const resource = new CustomResource(this, 'Resource', {
      serviceToken: props.keyStore._machinery.serviceToken,
      resourceType: CloudHsmKey.RESOURCE_TYPE,
      // The workflow applies the policy itself, and never holds up the stack's deletion.
      removalPolicy: RemovalPolicy.DESTROY,
      properties: { ...properties },
    });
    resource.node.addDependency(props.keyStore._machinery.keyWorkflow);
    this.keyId = resource.ref;
    this.keyArn = stack.formatArn({
      service: 'kms', resource: 'key', resourceName: this.keyId, arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
    });
    this.grants = kms.KeyGrants.fromKey(this, true);
    if (props.alias !== undefined) this.addAlias(props.alias);
  }

  /** The key, as a reference. */
  public get keyRef(): kms.KeyReference {
    return { keyId: this.keyId, keyArn: this.keyArn };
  }

  public addAlias(aliasName: string): kms.Alias {
    const alias = new kms.Alias(this, this.aliases.length > 0 ? `Alias${aliasName}` : 'Alias', { aliasName, targetKey: this });
    this.aliases.push(alias);
    return alias;
  }

  public addToResourcePolicy(statement: iam.PolicyStatement, _allowNoOp?: boolean): iam.AddToResourcePolicyResult {
    this.policy.addStatements(statement);
    return { statementAdded: true, policyDependable: this.policy };
  }

  public grant(grantee: iam.IGrantable, ...actions: string[]): iam.Grant {
    return this.grants.actions(grantee, ...actions);
  }

  public grantDecrypt(grantee: iam.IGrantable): iam.Grant {
    return this.grants.decrypt(grantee);
  }

  public grantEncrypt(grantee: iam.IGrantable): iam.Grant {
    return this.grants.encrypt(grantee);
  }

  public grantEncryptDecrypt(grantee: iam.IGrantable): iam.Grant {
    return this.grants.encryptDecrypt(grantee);
  }

  public grantSign(grantee: iam.IGrantable): iam.Grant {
    return this.grants.sign(grantee);
  }

  public grantVerify(grantee: iam.IGrantable): iam.Grant {
    return this.grants.verify(grantee);
  }

  public grantSignVerify(grantee: iam.IGrantable): iam.Grant {
    return this.grants.signVerify(grantee);
  }

  public grantGenerateMac(grantee: iam.IGrantable): iam.Grant {
    return this.grants.generateMac(grantee);
  }

  public grantVerifyMac(grantee: iam.IGrantable): iam.Grant {
    return this.grants.verifyMac(grantee);
  }
}

function validateKeyProps(props: CloudHsmKeyProps, pendingWindow: Duration, path: string): void {
  const problems: string[] = [];
  if (!pendingWindow.isUnresolved()) {
    const days = pendingWindow.toDays({ integral: false });
    if (!Number.isInteger(days) || days < 7 || days > 30) {
      problems.push(`pendingWindow must be 7 to 30 whole days, got ${days} days`);
    }
  }
  const alias = props.alias;
  if (alias !== undefined && !Token.isUnresolved(alias) && (!alias.startsWith('alias/') || alias.startsWith('alias/aws/'))) {
    problems.push(`alias must start with alias/ and not with alias/aws/ (reserved for AWS), got '${alias}'`);
  }
  if (problems.length > 0) {
    throw new Error(`invalid CloudHsmKey props at ${path}:\n${problems.map((p) => `- ${p}`).join('\n')}`);
  }
}
