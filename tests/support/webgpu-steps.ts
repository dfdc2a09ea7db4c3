/**
 * A few training steps of the quick-start model on one backend, for tests/webgpu.test.ts to
 * compare backends: the same weights (from the seed), batches and noise on each. Each backend
 * runs in a process of its own: tfjs has one engine, and moving a tensor off webgpu would read
 * it synchronously, which webgpu cannot do in Node.
 *
 *   node --import tsx tests/support/webgpu-steps.ts BACKEND OUT.json
 *
 * Writes the loss of every step, the first step's gradients, and the tensor count after each step.
 */
import fs from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { selectBackend, type BackendName } from '../../framework/backend.js';
import { resolveExperiment } from '../../framework/config/resolve.js';
import { assemble } from '../../framework/container/assembly.js';
import { TOKENS } from '../../framework/container/tokens.js';
import type { Dataset, Denoiser, Objective, OptimizerFactory } from '../../framework/interfaces.js';
import { Rng } from '../../framework/rng.js';
import { readScalar } from '../../framework/tensors.js';
import { registerBuiltins } from '../../components/index.js';

export interface StepsReport {
  backend: string;
  losses: number[];
  /** The first step's gradients, by variable name. */
  gradients: Record<string, number[]>;
  tensorsAfterEachStep: number[];
}

const STEPS = 3;
const BATCH = 2;

const [backend, out] = process.argv.slice(2);
await selectBackend(backend as BackendName);
const config = await resolveExperiment('experiments/quickstart.yaml', { registry: registerBuiltins(), overrides: [`dataset.batch_size=${BATCH}`] });
const container = assemble(config);
const model = container.get(TOKENS.Model) as Denoiser;
const dataset = container.get(TOKENS.Dataset) as Dataset;
const objective = container.get(TOKENS.Objective) as Objective;
const optimizer = (container.get(TOKENS.Optimizer) as OptimizerFactory).create();
const rng = new Rng(0);
const batches = dataset.batches(rng.fork('data'));
const variables = [...model.variables().values()];
const report: StepsReport = { backend: tf.getBackend(), losses: [], gradients: {}, tensorsAfterEachStep: [] };
for (let step = 0; step < STEPS; step++) {
  const x = batches.toTensor(batches.nextBatch());
  const inputs = objective.prepare({ x }, rng);
  const { value, grads } = tf.variableGrads(() => objective.loss(inputs), variables);
  report.losses.push(await readScalar(value));
  if (step === 0) {
    for (const [name, g] of Object.entries(grads)) report.gradients[name] = Array.from(await g.data());
  }
  optimizer.applyGradients(grads);
  tf.dispose([...Object.values(grads), x, ...Object.values(inputs)]);
  report.tensorsAfterEachStep.push(tf.memory().numTensors);
}
fs.writeFileSync(out, JSON.stringify(report));
optimizer.dispose();
objective.dispose?.();
model.dispose();
