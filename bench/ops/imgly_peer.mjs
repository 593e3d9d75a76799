// The peer: @imgly/background-removal-node@1.4.5 (tools/npm, installed with
// --ignore-scripts and sharp pinned to 0.33.5). Removes the background of
// each photo one at a time, after one warm-up, and prints photos/s.
// Usage: node imgly_peer.mjs medium|small PHOTO...
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '../../tools/npm/package.json'));
const { removeBackground } = require('@imgly/background-removal-node');
const [model, ...photos] = process.argv.slice(2);
const dist = path.join(here, '../../tools/npm/node_modules/@imgly/background-removal-node/dist/');
const config = { publicPath: `file://${dist}`, model, output: { format: 'image/png' } };
const blobOf = (p) => new Blob([readFileSync(p)], { type: p.endsWith('.png') ? 'image/png' : 'image/jpeg' });
await removeBackground(blobOf(photos[0]), config);  // warm-up: session creation
const t0 = performance.now();
let bytes = 0;
for (const p of photos) {
  const out = await removeBackground(blobOf(p), config);
  bytes += (await out.arrayBuffer()).byteLength;
}
const s = (performance.now() - t0) / 1000;
console.log(`imgly-node ${model}: ${photos.length} photos in ${s.toFixed(2)} s = ${(photos.length / s).toFixed(3)} photos/s (${bytes} bytes of PNG)`);
