/**
 * The `trainer:` section: the run loop's own settings, declared once (TypeBox gives the JSON
 * Schema for schema.json and validation, and the TypeScript type). What is trained, and on
 * what loss, is the objective's and the model's business, not the loop's.
 */
import { Type, type Static } from '@sinclair/typebox';

export const TrainerParams = Type.Object(
  {
    epochs: Type.Integer({ minimum: 1, default: 1, description: 'Passes over the dataset' }),
    max_steps: Type.Optional(
      Type.Integer({ minimum: 1, description: 'Step budget: stop after this many optimizer steps, even mid-epoch' }),
    ),
    max_minutes: Type.Optional(
      Type.Number({
        exclusiveMinimum: 0,
        description:
          'Time budget in minutes of training (wall clock, resumed runs included): the run ends at it as if it had ' +
          "reached its last step (at-end callbacks, final checkpoint); run.json says 'stoppedBy: max_minutes'",
      }),
    ),
    grad_clip: Type.Optional(Type.Number({ exclusiveMinimum: 0, description: 'Clip gradients to this global norm' })),
    threads: Type.Union([Type.Integer({ minimum: 1 }), Type.Literal('auto')], {
      default: 'auto',
      description:
        'Threads that share each batch (data parallel, gradients summed in a fixed order). ' +
        "'auto': one per core on the wasm and cpu backends, which use one core per thread (with the native " +
        'kernels, only for models under 1 GFLOP per example and as many as get 8 examples of a batch each; a larger ' +
        'model runs on one thread with oneDNN on every core); 1 elsewhere',
    }),
    micro_batch: Type.Union([Type.Integer({ minimum: 1 }), Type.Literal('auto')], {
      default: 'auto',
      description:
        "Examples per forward/backward pass; gradients of a batch's slices are summed, so the step is the same. " +
        "'auto': the whole batch, except on the wasm and cpu backends, where it is what fits about 2 GB of activations",
    }),
  },
  { additionalProperties: false },
);

export type TrainerParams = Static<typeof TrainerParams>;
