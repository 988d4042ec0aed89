import * as acmpca from 'aws-cdk-lib/aws-acmpca';

/**
 * The type of the HSMs in a cluster.
 */
export class HsmType {
  /** hsm2m.medium: the current HSM type, FIPS or non-FIPS. */
  public static readonly HSM2M_MEDIUM = new HsmType('hsm2m.medium');

  /**
   * Any HSM type by its AWS name, for types newer than this library.
   * @param name the AWS name, such as `hsm2m.medium`
   */
  public static of(name: string): HsmType {
    return new HsmType(name);
  }

  private constructor(
    /** The AWS name of the HSM type. */
    public readonly name: string,
  ) {}
}

/** Whether the cluster runs in FIPS-validated mode. Fixed at creation. */
export enum ClusterMode {
  /** FIPS 140-3 level 3 validated mode. */
  FIPS = 'FIPS',
  /** Non-FIPS mode, which allows more algorithms; hsm2m types only. */
  NON_FIPS = 'NON_FIPS',
}

/** How the HSMs' network interfaces are addressed. */
export enum NetworkType {
  /** IPv4 only. */
  IPV4 = 'IPV4',
  /** IPv4 and IPv6. KMS key stores still reach the HSMs over IPv4. */
  DUALSTACK = 'DUALSTACK',
}

/** The kinds of PKI that can issue the cluster certificate. */
export enum ClusterPkiKind {
  /** A throwaway root CA made in a handler; its key is never stored. */
  EPHEMERAL_CA = 'EPHEMERAL_CA',
  /** A new AWS Private CA root CA. */
  PRIVATE_CA = 'PRIVATE_CA',
  /** An existing AWS Private CA. */
  CERTIFICATE_AUTHORITY = 'CERTIFICATE_AUTHORITY',
  /** The user's own PKI: the create stops once the CSR is published. */
  EXTERNAL = 'EXTERNAL',
}

/** Options of `ClusterPki.external()`. */
export interface ExternalPkiOptions {
  /**
   * Whether the cluster certificate and your CA certificate are in their
   * secrets (`clusterCertificateSecret`, `customerCaCertificateSecret`).
   * Deploying an update that sets it checks them against the cluster's
   * current CSR, initializes the cluster, activates it on the management
   * client and adds the remaining HSMs. A certificate that is refused
   * leaves the cluster UNINITIALIZED, ready for a corrected try.
   * @default false
   */
  readonly certificatesReady?: boolean;
}

/**
 * Who issues the cluster certificate that initializes the cluster.
 */
export abstract class ClusterPki {
  /**
   * A handler generates a throwaway root CA, signs the cluster CSR with it,
   * stores only the CA certificate and never persists the CA's private key.
   * Costs nothing. This is the default.
   */
  public static ephemeralCa(): ClusterPki {
    return new PkiChoice(ClusterPkiKind.EPHEMERAL_CA);
  }

  /**
   * A new AWS Private CA root CA issues the certificate. The CA is billed
   * monthly while it exists.
   */
  public static privateCa(): ClusterPki {
    return new PkiChoice(ClusterPkiKind.PRIVATE_CA);
  }

  /**
   * An existing AWS Private CA issues the certificate.
   * @param certificateAuthority the CA, in this account and region
   */
  public static fromCertificateAuthority(certificateAuthority: acmpca.ICertificateAuthority): ClusterPki {
    return new PkiChoice(ClusterPkiKind.CERTIFICATE_AUTHORITY, certificateAuthority);
  }

  /**
   * Your own PKI issues the certificate. The stack's create stops after the
   * cluster CSR is published to its secret; put the signed certificate and
   * your root CA's certificate into their secrets, then deploy the stack
   * again with `ClusterPki.external({ certificatesReady: true })` to
   * initialize and activate the cluster and add its other HSMs.
   * @param options whether the certificates are ready
   */
  public static external(options: ExternalPkiOptions = {}): ClusterPki {
    return new PkiChoice(ClusterPkiKind.EXTERNAL, undefined, options.certificatesReady ?? false);
  }

  /** Which kind of PKI. */
  public abstract readonly kind: ClusterPkiKind;

  /** The existing CA, for `fromCertificateAuthority`. */
  public abstract readonly certificateAuthority?: acmpca.ICertificateAuthority;

  /** For `external`: whether your certificates are in their secrets. */
  public abstract readonly certificatesReady: boolean;
}

class PkiChoice extends ClusterPki {
  constructor(
    public readonly kind: ClusterPkiKind,
    public readonly certificateAuthority?: acmpca.ICertificateAuthority,
    public readonly certificatesReady: boolean = false,
  ) {
    super();
  }
}
