// Runs an ONNX model with onnxruntime-node (the reference peer) on a .npy
// float32 input: prints "ort: median_ms=... min_ms=... peak_rss_mb=..." and
// writes the first output as .npy. Usage:
//   node ort_peer.js MODEL.onnx INPUT_NAME IN.npy OUT.npy THREADS RUNS
const path = require('path');
const fs = require('fs');
const ort = require(path.join(__dirname, '../../tools/npm/node_modules/onnxruntime-node'));

function readNpy(file) {
  const buf = fs.readFileSync(file);
  const hlen = buf.readUInt16LE(8);
  const header = buf.slice(10, 10 + hlen).toString('latin1');
  if (!header.includes("'<f4'")) throw new Error('only <f4 .npy inputs');
  const shape = header.match(/'shape': \(([^)]*)\)/)[1].split(',').map(s => s.trim()).filter(s => s).map(Number);
  const data = new Float32Array(buf.buffer.slice(buf.byteOffset + 10 + hlen, buf.byteOffset + buf.length));
  return {shape, data};
}

function writeNpy(file, shape, data) {
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  const pad = 64 - ((10 + header.length + 1) % 64);
  header += ' '.repeat(pad % 64) + '\n';
  const h = Buffer.alloc(10);
  h.write('\x93NUMPY', 0, 'latin1');
  h.writeUInt8(1, 6); h.writeUInt8(0, 7); h.writeUInt16LE(header.length, 8);
  fs.writeFileSync(file, Buffer.concat([h, Buffer.from(header, 'latin1'), Buffer.from(data.buffer, data.byteOffset, data.byteLength)]));
}

async function main() {
  const [model, inputName, inFile, outFile, threads, runs] = process.argv.slice(2);
  const opts = {intraOpNumThreads: Number(threads), interOpNumThreads: 1, executionMode: 'sequential',
                graphOptimizationLevel: 'all'};
  const session = await ort.InferenceSession.create(model, opts);
  const x = readNpy(inFile);
  const feeds = {[inputName]: new ort.Tensor('float32', x.data, x.shape)};
  const times = [];
  let first;
  for (let r = 0; r < Number(runs); ++r) {
    const t0 = process.hrtime.bigint();
    const out = await session.run(feeds);
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    if (r === 0) first = out[session.outputNames[0]];
  }
  const sorted = [...times].sort((a, b) => a - b);
  const rss = process.resourceUsage().maxRSS / 1024;
  console.log(`ort: median_ms=${sorted[Math.floor(sorted.length / 2)].toFixed(1)} min_ms=${sorted[0].toFixed(1)} ` +
              `first_ms=${times[0].toFixed(1)} peak_rss_mb=${rss.toFixed(1)} runs=${runs} threads=${threads}`);
  writeNpy(outFile, first.dims, first.data);
}
main().catch(e => { console.error(e); process.exit(1); });
