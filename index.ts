export { registry } from './framework/registry/index.js';
