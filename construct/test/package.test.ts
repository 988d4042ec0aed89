import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';

const construct = path.resolve(import.meta.dirname, '..');
const contract = JSON.parse(fs.readFileSync(path.join(construct, '..', 'handlers', 'contract.json'), 'utf-8'));

test('the npm package carries the bootstrap of each handler for both architectures, executable', () => {
  const dist = path.join(construct, 'dist', 'js');
  const tarballs = fs.existsSync(dist) ? fs.readdirSync(dist).filter((f) => f.endsWith('.tgz')) : [];
  assert.equal(tarballs.length, 1, 'one tarball in construct/dist/js: run `npm run build` first');
  const listing = execFileSync('tar', ['tvzf', path.join(dist, tarballs[0])], { encoding: 'utf-8' });
  const manifest = JSON.parse(fs.readFileSync(path.join(construct, 'assets', contract.assets.manifest), 'utf-8'));
  const handlers: string[] = Object.values(contract.handlers);
  assert.deepEqual(Object.keys(manifest.handlers).sort(), [...handlers].sort(), 'the manifest lists every handler');
  for (const handler of handlers) {
    for (const arch of contract.architectures as string[]) {
      const file = contract.assets.path.replace('{handler}', handler).replace('{architecture}', arch);
      const line = listing.split('\n').find((l) => l.endsWith(`package/assets/${file}`));
      assert.ok(line, `${handler}/${arch}/bootstrap is in the tarball`);
      assert.match(line, /^-rwxr-xr-x /, `${handler}/${arch}/bootstrap is executable`);
      const size = Number(line.split(/\s+/)[2]);
      assert.equal(size, manifest.handlers[handler][arch].bytes);
    }
  }
  assert.ok(listing.includes(`package/assets/${contract.assets.manifest}`));
  assert.ok(listing.includes('package/lib/index.js'));
  assert.ok(!listing.includes('package/src/'), 'sources stay out of the package');
});
