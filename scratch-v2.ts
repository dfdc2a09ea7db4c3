import * as tf from '@tensorflow/tfjs';
import { requestedBackend, selectBackend } from './framework/backend.js';
import { setNativeThreads } from './framework/kernels/native/onednn-kernels.js';
await selectBackend(requestedBackend(undefined, 'wasm'));
setNativeThreads(Number(process.argv[2] ?? 1));
const A = { strides: 1, pad: 'same', dataFormat: 'NHWC' } as const;
for (const [n, s, ci, co] of [[16, 28, 24, 24], [16, 14, 48, 48], [4, 28, 320, 320], [4,7,512,512]]) {
  const x = tf.randomNormal([n, s, s, ci]), dy = tf.randomNormal([n, s, s, co]), w = tf.randomNormal([3, 3, ci, co]);
  const flop = 2 * n * s * s * ci * co * 9;
  for (const [name, f] of [['dW', () => tf.engine().runKernel(tf.Conv2DBackpropFilter, { x, dy }, { ...A, filterShape: [3, 3, ci, co] })],
    ['dx', () => tf.engine().runKernel(tf.Conv2DBackpropInput, { dy, filter: w }, { ...A, inputShape: x.shape })],
    ['fwd', () => tf.engine().runKernel(tf.Conv2D, { x, filter: w }, { ...A, dilations: 1 })]] as const) {
    let best = 1e9;
    for (let r = 0; r < 8; r++) { const t = performance.now(); tf.dispose(f() as tf.Tensor); best = Math.min(best, performance.now() - t); }
    console.log(n, s, ci, co, name, best.toFixed(2), 'ms', (flop / best / 1e6).toFixed(1));
  }
}
