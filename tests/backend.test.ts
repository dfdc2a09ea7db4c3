import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { requestedBackend, selectBackend, BackendError } from '../framework/backend.js';
import { backendReady } from './setup.js';

test('auto picks wasm here and says why tensorflow and webgpu were skipped', async () => {
  const report = await selectBackend('auto');
  assert.is(report.chosen, 'wasm');
  assert.equal(report.skipped.map((s) => s.name), ['tensorflow-gpu', 'webgpu', 'tensorflow']);
  assert.match(report.skipped[0].reason, /tfjs-node-gpu/);
  // No Vulkan driver in this process's environment (tests/webgpu.test.ts gives its children lavapipe's).
  assert.match(report.skipped[1].reason, /Dawn found no WebGPU adapter/);
  await backendReady;
});

test('a forced backend that cannot load names the package and how to install it', async () => {
  try {
    await selectBackend('tensorflow-gpu');
    assert.unreachable('tensorflow-gpu should not load here');
  } catch (err) {
    assert.instance(err, BackendError);
    assert.match((err as Error).message, /@tensorflow\/tfjs-node-gpu@4\.22\.0/);
    assert.match((err as Error).message, /CUDA 11\.2/);
  }
  await selectBackend(requestedBackend());
});

test('flag beats XP_BACKEND beats the experiment; unknown names are rejected', () => {
  const saved = process.env.XP_BACKEND;
  process.env.XP_BACKEND = 'cpu';
  try {
    assert.is(requestedBackend('wasm', 'tensorflow'), 'wasm');
    assert.is(requestedBackend(undefined, 'tensorflow'), 'cpu');
    delete process.env.XP_BACKEND;
    assert.is(requestedBackend(undefined, 'tensorflow'), 'tensorflow');
    assert.is(requestedBackend(), 'auto');
    assert.throws(() => requestedBackend('gpu'), /unknown backend 'gpu'/);
  } finally {
    if (saved === undefined) delete process.env.XP_BACKEND;
    else process.env.XP_BACKEND = saved;
  }
});

test('the selected backend is active in tfjs', async () => {
  await backendReady;
  assert.is(tf.getBackend(), requestedBackend() === 'auto' ? 'wasm' : requestedBackend());
});

test.run();
