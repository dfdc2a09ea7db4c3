const t0 = Date.now();
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
console.log('import ms', Date.now()-t0, typeof tf.conv2d, typeof tf.train.adam, typeof tf.registerKernel, typeof tf.getKernel);
await tf.setBackend('wasm'); console.log(tf.getBackend());
const x = tf.randomNormal([2,8,8,3]); const w = tf.variable(tf.randomNormal([3,3,3,4]));
try { const g = tf.grad(w => tf.conv2d(x, w, 1, 'same').sum())(w); g.print(); } catch(e) { console.log('ERR', e.message); }
