// ONNX Runtime (npm package onnxruntime-node, CPU) runs libdigitcnn's exports:
//   node ort_check.js DIR MODEL...   reads DIR/input.bin (8, 3, 32, 32) and, per model, DIR/<model>.onnx
//                                    and DIR/<model>.out.bin (libdigitcnn's (8, 10) outputs); exits 1
//                                    when an output differs by more than 1e-4.
// check_onnx.py (mode ort) runs it with NODE_PATH pointing at the installed package.
const fs = require("fs");
const path = require("path");
const ort = require("onnxruntime-node");

function floats(file) {
  const b = fs.readFileSync(file);
  return new Float32Array(b.buffer, b.byteOffset, b.length / 4);
}

async function main() {
  const [dir, ...models] = process.argv.slice(2);
  const input = floats(path.join(dir, "input.bin"));
  let ok = true;
  for (const name of models) {
    const session = await ort.InferenceSession.create(path.join(dir, name + ".onnx"));
    const feeds = {[session.inputNames[0]]: new ort.Tensor("float32", input, [8, 3, 32, 32])};
    const result = await session.run(feeds);
    const theirs = result[session.outputNames[0]].data;
    const ours = floats(path.join(dir, name + ".out.bin"));
    let diff = theirs.length === ours.length ? 0 : Infinity;
    for (let i = 0; i < ours.length && diff !== Infinity; ++i) diff = Math.max(diff, Math.abs(theirs[i] - ours[i]));
    console.log(`${name}: ONNX Runtime ${ort.env.versions ? ort.env.versions.common : ""} vs libdigitcnn: max |difference| ${diff.toExponential(3)}`);
    if (!(diff <= 1e-4)) ok = false;
  }
  process.exit(ok ? 0 : 1);
}

main().catch((e) => { console.error(e); process.exit(1); });
