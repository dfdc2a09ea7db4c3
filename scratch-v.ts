import * as tf from '@tensorflow/tfjs';
import { requestedBackend, selectBackend } from './framework/backend.js';
await selectBackend(requestedBackend(undefined, 'wasm'));
const A = { strides: 1, pad: 'same', dataFormat: 'NHWC' } as const;
for (const [n, s, ci, co] of [[16, 28, 24, 24], [16, 14, 48, 48], [4, 28, 320, 320], [4,7,512,512]]) {
  const x = tf.randomNormal([n, s, s, ci]), dy = tf.randomNormal([n, s, s, co]), w = tf.randomNormal([3, 3, ci, co]);
  for (let r = 0; r < 2; r++) {
    tf.dispose(tf.engine().runKernel(tf.Conv2DBackpropFilter, { x, dy }, { ...A, filterShape: [3, 3, ci, co] }));
    tf.dispose(tf.engine().runKernel(tf.Conv2DBackpropInput, { dy, filter: w }, { ...A, inputShape: x.shape }));
    tf.dispose(tf.engine().runKernel(tf.Conv2D, { x, filter: w }, { ...A, dilations: 1 }));
  }
}
