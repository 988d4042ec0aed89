// The handler binaries as the Rust contract (handlers/contract.json) lists
// them, for the build scripts: their names, where each goes in
// construct/assets, and the manifest that records their input hashes.
//
//   node scripts/handlers.mjs list                      one handler name a line
//   node scripts/handlers.mjs architectures             one architecture a line
//   node scripts/handlers.mjs path HANDLER ARCH         the bootstrap's path under construct/assets
//   node scripts/handlers.mjs hash HANDLER ARCH         the hash the manifest records, or nothing
//   node scripts/handlers.mjs manifest ARCH=HASH ...    writes the manifest from the installed binaries
//                                                       (other architectures keep their entries)
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const contract = JSON.parse(fs.readFileSync(path.join(root, 'handlers', 'contract.json'), 'utf-8'));
const assets = path.join(root, 'construct', 'assets');
const manifestFile = path.join(assets, contract.assets.manifest);
const handlers = Object.values(contract.handlers);

function binary(handler, architecture) {
  return path.join(assets, contract.assets.path.replace('{handler}', handler).replace('{architecture}', architecture));
}

function readManifest() {
  try {
    return JSON.parse(fs.readFileSync(manifestFile, 'utf-8'));
  } catch {
    return { handlers: {} };
  }
}

const [command, ...args] = process.argv.slice(2);
switch (command) {
  case 'list':
    console.log(handlers.join('\n'));
    break;
  case 'architectures':
    console.log(contract.architectures.join('\n'));
    break;
  case 'path':
    console.log(binary(args[0], args[1]));
    break;
  case 'hash':
    process.stdout.write(readManifest().handlers[args[0]]?.[args[1]]?.hash ?? '');
    break;
  case 'manifest': {
    // An architecture not built this time keeps its entry while its binary
    // is there (built earlier from the inputs its hash names).
    const hashes = Object.fromEntries(args.map((a) => a.split('=')));
    const previous = readManifest();
    const manifest = { handlers: {} };
    for (const handler of handlers) {
      manifest.handlers[handler] = {};
      for (const architecture of contract.architectures) {
        const hash = hashes[architecture] ?? previous.handlers[handler]?.[architecture]?.hash;
        if (!hash || !fs.existsSync(binary(handler, architecture))) {
          if (hashes[architecture]) throw new Error(`${binary(handler, architecture)} is missing`);
          continue;
        }
        const { size } = fs.statSync(binary(handler, architecture));
        manifest.handlers[handler][architecture] = { hash, bytes: size };
      }
    }
    fs.writeFileSync(`${manifestFile}.tmp`, `${JSON.stringify(manifest, null, 2)}\n`);
    fs.renameSync(`${manifestFile}.tmp`, manifestFile);
    break;
  }
  default:
    console.error('usage: node scripts/handlers.mjs list|architectures|path|hash|manifest ...');
    process.exit(2);
}
