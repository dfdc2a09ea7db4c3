/** The layer library blocks are made of (user blocks too: `import { Conv2d } from 'xp'`). */
export * from './activations.js';
export * from './attention.js';
export * from './conv.js';
export * from './double-conv.js';
export * from './linear.js';
export * from './norm.js';
export * from './param-store.js';
export * from './time-embedding.js';
