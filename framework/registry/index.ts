import 'reflect-metadata';

export * from './registry.js';
export * from './decorators.js';
export * from './params.js';
