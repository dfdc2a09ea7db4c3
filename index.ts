/**
 * What a component module imports from xp (`import { block, Type, ... } from 'xp'`): the
 * decorators and parameter helpers, the injection tokens, the contracts, the layer library,
 * and tfjs itself so a user module shares xp's engine.
 */
import * as tf from '@tensorflow/tfjs';

export { tf };
export { inject, multiInject, optional } from 'inversify';
export * from './framework/registry/index.js';
export { TOKENS } from './framework/container/tokens.js';
export type * from './framework/interfaces.js';
export * from './framework/nn/index.js';
export { Rng } from './framework/rng.js';
