import { create, globals } from 'webgpu';
Object.assign(globalThis, globals);
globalThis.navigator = { gpu: create([]) };
const tf = await import('@tensorflow/tfjs');
await import('@tensorflow/tfjs-backend-webgpu');
console.log(await tf.setBackend('webgpu'), tf.getBackend());
const x = tf.randomNormal([64, 64]);
const y = tf.matMul(x, x);
console.log((await y.data()).slice(0, 3));
try { tf.add(y, 1).dataSync(); } catch (e) { console.log('dataSync:', e.message); }
console.log('done');
if (process.argv[2]) { tf.engine().reset?.(); delete globalThis.navigator; }
