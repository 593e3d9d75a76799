// Reference ISNet inference with onnxruntime-node (tools/npm): reads a raw
// float32 [1,3,1024,1024] tensor, writes the raw float32 [1,1,1024,1024]
// output. Usage: node isnet_reference.mjs MODEL.onnx IN.f32 OUT.f32
import { createRequire } from 'node:module';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '../../tools/npm/package.json'));
const ort = require('onnxruntime-node');
const [model, input, output] = process.argv.slice(2);
const session = await ort.InferenceSession.create(model, { intraOpNumThreads: 2, interOpNumThreads: 1 });
const buf = readFileSync(input);
const data = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
const t0 = performance.now();
const out = await session.run({ input: new ort.Tensor('float32', data, [1, 3, 1024, 1024]) });
const ms = performance.now() - t0;
const mask = out.output ?? out[session.outputNames[0]];
writeFileSync(output, Buffer.from(mask.data.buffer, mask.data.byteOffset, mask.data.byteLength));
console.log(`onnxruntime-node ${ms.toFixed(0)} ms`);
