/** Training kernels for the wasm backend (placeholder until the fast kernels land). */
export function registerWasmTrainingKernels(): void {}
