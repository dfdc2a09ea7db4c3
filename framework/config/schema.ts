/**
 * schema.json: the JSON Schema of experiment files, generated from the registry. Each kind
 * gets a dispatch definition (`type` picks the component, `if`/`then` applies its parameters,
 * so errors come only from the chosen component), each component a definition of its own.
 */
import { KINDS, type Kind, type Registry } from '../registry/registry.js';
import { BACKENDS } from '../backend.js';
import { requiredParams } from '../registry/params.js';
import { TrainerParams } from '../training/trainer-params.js';

/** Top-level sections holding one component, and the kind each names. */
export const COMPONENT_SECTIONS = {
  objective: 'objective',
  model: 'model',
  dataset: 'dataset',
  schedule: 'schedule',
  optimizer: 'optimizer',
  lr_schedule: 'lr_schedule',
  sampler: 'sampler',
} as const satisfies Record<string, Kind>;

/** Top-level sections holding named instances (`callbacks.ema`), and their kind. */
export const INSTANCE_SECTIONS = { callbacks: 'callback' } as const satisfies Record<string, Kind>;

export type JsonSchema = Record<string, unknown>;

/** A name that becomes a folder: no separators, no `..`, nothing hidden. */
export const PLAIN_NAME_PATTERN = '^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$';

export function componentDefinitionName(kind: Kind, name: string): string {
  return `${kind}.${name}`;
}

export function buildSchema(registry: Registry): JsonSchema {
  const defs: Record<string, JsonSchema> = {};
  for (const kind of KINDS) {
    defs[kind] = dispatchDefinition(registry, kind);
    for (const reg of registry.list(kind)) {
      const params = plain(reg.params);
      defs[componentDefinitionName(kind, reg.name)] = {
        type: 'object',
        description: reg.description,
        properties: { type: { const: reg.name, description: reg.description }, ...(params.properties as object) },
        required: ['type', ...requiredParams(params)],
        additionalProperties: false,
      };
    }
  }
  const ref = (kind: Kind) => ({ $ref: `#/$defs/${kind}` });
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    title: 'xp experiment',
    description: 'An xp experiment file. Generated from the component registry by `xp schema --write`.',
    type: 'object',
    properties: {
      name: {
        type: 'string',
        pattern: PLAIN_NAME_PATTERN,
        description: 'Experiment name; runs go to runs/<name>/. Defaults to the file name.',
      },
      extends: {
        description: 'Parent experiment file(s), relative to this one. Maps merge deeply; lists and scalars replace.',
        anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }],
      },
      imports: {
        type: 'array',
        items: { type: 'string' },
        description: 'Modules (.ts or .js, relative to this file) whose decorated classes register components.',
      },
      seed: { type: 'integer', minimum: 0, default: 0, description: 'Seed of every random choice of the run.' },
      backend: {
        enum: ['auto', ...BACKENDS],
        default: 'auto',
        description: 'Compute backend; --backend and XP_BACKEND take precedence.',
      },
      trainer: { ...plain(TrainerParams), description: 'The run loop: how long to train, on how many threads, in slices of what size.' },
      ...Object.fromEntries(Object.entries(COMPONENT_SECTIONS).map(([section, kind]) => [section, ref(kind)])),
      ...Object.fromEntries(
        Object.entries(INSTANCE_SECTIONS).map(([section, kind]) => [
          section,
          {
            type: 'object',
            description: `Named ${kind} instances: <name>: {type: ..., ...}.`,
            additionalProperties: ref(kind),
            default: {},
          },
        ]),
      ),
      sweep: SWEEP_SCHEMA,
    },
    required: ['trainer', 'objective', 'model', 'dataset', 'optimizer'],
    additionalProperties: false,
    allOf: sectionsNeeded(registry),
    $defs: defs,
  };
}

/** The experiment sections a chosen component needs (an objective's `schedule`, say), as if/then rules. */
function sectionsNeeded(registry: Registry): JsonSchema[] {
  return (Object.entries(COMPONENT_SECTIONS) as [string, Kind][]).flatMap(([section, kind]) =>
    registry
      .list(kind)
      .filter((reg) => reg.needs?.length)
      .map((reg) => ({
        if: { properties: { [section]: { properties: { type: { const: reg.name } }, required: ['type'] } }, required: [section] },
        then: { required: reg.needs, [NEEDED_BY]: `${section}.type`, description: `${kind} '${reg.name}' needs it` },
      })),
  );
}

/** Marks a rule of sectionsNeeded: the key whose value demands the sections (errors point at it). */
export const NEEDED_BY = 'x-needed-by';

const SCALAR = { type: ['number', 'string', 'boolean'] };

/** `sweep:`, read by `xp sweep` (and ignored by `xp run`): trials as overrides of the rest of the file. */
const SWEEP_SCHEMA = {
  type: 'object',
  description: 'Trials for `xp sweep`: a grid, explicit trials and/or random search over dotted paths.',
  additionalProperties: false,
  properties: {
    name: {
      type: 'string',
      pattern: PLAIN_NAME_PATTERN,
      description: 'Sweep name; trials go to runs/<name>/<timestamp>/. Default: the experiment name.',
    },
    grid: {
      type: 'object',
      description: 'path: [values]; every combination is a trial.',
      additionalProperties: { type: 'array', minItems: 1, items: SCALAR },
    },
    trials: {
      type: 'array',
      description: 'Explicit trials, each {path: value, ...}.',
      items: { type: 'object', additionalProperties: SCALAR },
    },
    random: {
      type: 'object',
      description: 'Random search: count draws of params, each a list of choices or {min, max, log}.',
      additionalProperties: false,
      required: ['count', 'params'],
      properties: {
        seed: { type: 'integer', minimum: 0, default: 0, description: 'Seed of the draws' },
        count: { type: 'integer', minimum: 1, description: 'Number of trials to draw' },
        params: {
          type: 'object',
          additionalProperties: {
            anyOf: [
              { type: 'array', minItems: 1, items: SCALAR },
              {
                type: 'object',
                additionalProperties: false,
                required: ['min', 'max'],
                properties: { min: { type: 'number' }, max: { type: 'number' }, log: { type: 'boolean', default: false } },
              },
            ],
          },
        },
      },
    },
    parallel: { type: 'integer', minimum: 1, description: 'Trials at once (default: one per core; one on a GPU)' },
  },
};

function dispatchDefinition(registry: Registry, kind: Kind): JsonSchema {
  const names = registry.names(kind);
  return {
    type: 'object',
    description: `A ${kind}: 'type' names a registered ${kind}, the other keys are its parameters.`,
    required: ['type'],
    // An empty enum is not valid JSON Schema: with nothing registered, no type is accepted.
    properties: {
      type: names.length
        ? { title: `${kind} type`, enum: names, description: `Registered ${kind}: ${names.join(', ')}` }
        : { not: {} },
    },
    allOf: names.map((name) => ({
      if: { properties: { type: { const: name } } },
      then: { $ref: `#/$defs/${componentDefinitionName(kind, name)}` },
    })),
  };
}

/** TypeBox schemas carry symbol-keyed metadata; JSON drops it. */
function plain(schema: object): JsonSchema {
  return JSON.parse(JSON.stringify(schema));
}

export function schemaText(registry: Registry): string {
  return `${JSON.stringify(buildSchema(registry), null, 2)}\n`;
}
