import * as fs from 'fs';
import * as path from 'path';
import { AssetHashType } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { ARCHITECTURES, ASSETS, HANDLERS } from './contract.generated';

/** The folder with the prebuilt handler binaries and their manifest. */
export const ASSETS_DIR = path.join(__dirname, '..', '..', 'assets');

/** The Rust handlers shipped in the package, by binary name. */
export type HandlerName = typeof HANDLERS[keyof typeof HANDLERS];

/** The folder name used for an architecture. */
type ArchDir = typeof ARCHITECTURES[number];

interface Manifest {
  readonly handlers: Record<string, Record<string, { readonly hash: string; readonly bytes: number }>>;
}

let manifest: Manifest | undefined;

function readManifest(): Manifest {
  if (!manifest) {
    const file = path.join(ASSETS_DIR, ASSETS.manifest);
    if (!fs.existsSync(file)) {
      throw new Error(
        `cdk-cloudhsm: the prebuilt Lambda handlers are missing (no ${file}). ` +
        'An installed package always has them; in a checkout of the source, run `npm run build` first.',
      );
    }
    manifest = JSON.parse(fs.readFileSync(file, 'utf-8')) as Manifest;
  }
  return manifest;
}

/** The folder name used for an architecture. */
function archDir(architecture: lambda.Architecture): ArchDir {
  if (architecture.name === lambda.Architecture.ARM_64.name) return ARCHITECTURES[0];
  if (architecture.name === lambda.Architecture.X86_64.name) return ARCHITECTURES[1];
  throw new Error(`cdk-cloudhsm: handlers are built for arm64 and x86_64 only, not ${architecture.name}`);
}

/**
 * The code of a prebuilt handler. Its asset hash is the hash of the build
 * inputs (sources, Cargo.lock, toolchain), so an unchanged handler is not
 * uploaded or redeployed again even though zips are not byte-reproducible.
 */
export function handlerCode(name: HandlerName, architecture: lambda.Architecture): lambda.Code {
  const arch = archDir(architecture);
  const entry = readManifest().handlers[name]?.[arch];
  const bootstrap = path.join(ASSETS_DIR, ASSETS.path.replace('{handler}', name).replace('{architecture}', arch));
  const dir = path.dirname(bootstrap);
  if (!entry || !fs.existsSync(bootstrap)) {
    throw new Error(
      `cdk-cloudhsm: the prebuilt handler ${name} for ${arch} is missing from ${ASSETS_DIR}. ` +
      'Run `npm run build` in a checkout of the source.',
    );
  }
  return lambda.Code.fromAsset(dir, {
    assetHash: `${name}-${arch}-${entry.hash}`,
    assetHashType: AssetHashType.CUSTOM,
  });
}
