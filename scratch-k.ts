import { requestedBackend, selectBackend } from './framework/backend.js';
import { measureKernelRates } from './bench/native-kernels.js';
await selectBackend(requestedBackend(undefined, 'wasm'));
const r = await measureKernelRates(process.argv[2]);
console.log(r.report);
