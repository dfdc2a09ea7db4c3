/**
 * WebGPU in Node through Dawn (the optional `webgpu` package, which ships a prebuilt dawn.node):
 * the adapter Dawn finds, and tfjs's webgpu backend on it. Dawn reaches a GPU through Vulkan on
 * Linux, so it needs libvulkan.so.1 and a driver: a GPU's own, or Mesa's software rasterizer
 * lavapipe (Mesa 25 or newer; bookworm's 22.3 lacks features Dawn requires).
 */
import fs from 'node:fs';
import path from 'node:path';
import { BackendError } from './errors.js';

export interface WebGpuAdapter {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** A CPU rasterizer (lavapipe, SwiftShader): right numbers, far slower than wasm. */
  software: boolean;
  limits: {
    maxBufferSize: number;
    maxStorageBufferBindingSize: number;
    maxComputeWorkgroupStorageSize: number;
    maxComputeInvocationsPerWorkgroup: number;
  };
}

/** What xp reads of Dawn's WebGPU objects (typed here: the `webgpu` package is optional). */
interface DawnAdapter {
  info: { vendor: string; architecture: string; device: string; description: string; isFallbackAdapter?: boolean };
  limits: WebGpuAdapter['limits'];
}
interface Gpu {
  requestAdapter(options: { powerPreference: 'high-performance' | 'low-power' }): Promise<DawnAdapter | null>;
}
interface DawnModule {
  create(flags: string[]): Gpu;
  globals: Record<string, unknown>;
}

const DAWN_PACKAGE = 'webgpu';
const TFJS_WEBGPU_PACKAGE = '@tensorflow/tfjs-backend-webgpu';

const NO_ADAPTER =
  'Dawn found no WebGPU adapter: it needs libvulkan.so.1 (Debian: libvulkan1) and a Vulkan driver ' +
  '(a GPU driver, or Mesa 25 lavapipe selected with VK_DRIVER_FILES); `vulkaninfo --summary` lists what Vulkan sees';

let gpu: Gpu | undefined;

/** Dawn's GPU object, made once per process (with the WebGPU globals tfjs expects, GPUBufferUsage and the like). */
async function dawn(): Promise<Gpu> {
  if (gpu) return gpu;
  let module: DawnModule;
  try {
    module = (await import(DAWN_PACKAGE)) as DawnModule;
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ERR_MODULE_NOT_FOUND' && e.message.includes("'webgpu'")) {
      throw new BackendError('the webgpu package (Dawn for Node) is not installed (an optional dependency)');
    }
    throw new BackendError(`the webgpu package is installed but dawn.node failed to load: ${e.message.split('\n')[0]}`);
  }
  for (const [name, value] of Object.entries(module.globals)) {
    if (!(name in globalThis)) Object.defineProperty(globalThis, name, { value, configurable: true, writable: true });
  }
  gpu = module.create([]);
  return gpu;
}

/**
 * Whether the Vulkan loader can be found on Linux (in LD_LIBRARY_PATH or the linker's cache):
 * without it Dawn has nothing to try, and asking it anyway prints a warning on every command.
 */
function vulkanLoaderFound(): boolean {
  const dirs = (process.env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean);
  if (dirs.some((dir) => fs.existsSync(path.join(dir, 'libvulkan.so.1')))) return true;
  try {
    return fs.readFileSync('/etc/ld.so.cache').includes('libvulkan.so.1');
  } catch {
    return true; // no cache to read: let Dawn look for itself
  }
}

/** The adapter tfjs would get (it asks for high performance too); throws a BackendError saying why there is none. */
export async function findWebGpuAdapter(): Promise<WebGpuAdapter> {
  if (process.platform === 'linux' && !vulkanLoaderFound()) throw new BackendError(NO_ADAPTER);
  const adapter = await (await dawn()).requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) throw new BackendError(NO_ADAPTER);
  const { info } = adapter;
  const { limits } = adapter;
  return {
    vendor: info.vendor,
    architecture: info.architecture,
    device: info.device,
    description: info.description,
    software: info.isFallbackAdapter === true || /llvmpipe|lavapipe|swiftshader/i.test(`${info.device} ${info.description}`),
    limits: {
      maxBufferSize: limits.maxBufferSize,
      maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
      maxComputeWorkgroupStorageSize: limits.maxComputeWorkgroupStorageSize,
      maxComputeInvocationsPerWorkgroup: limits.maxComputeInvocationsPerWorkgroup,
    },
  };
}

/** One line for `xp doctor` and the bench: what the adapter is and the limits that bound tensor sizes. */
export function describeAdapter(a: WebGpuAdapter): string {
  const fields = [`vendor ${a.vendor || 'not reported'}`, `architecture ${a.architecture || 'not reported'}`, `driver ${a.description || 'not reported'}`];
  const limits = [
    `max buffer ${bytes(a.limits.maxBufferSize)}`,
    `max storage binding ${bytes(a.limits.maxStorageBufferBindingSize)}`,
    `workgroup storage ${bytes(a.limits.maxComputeWorkgroupStorageSize)}`,
    `${a.limits.maxComputeInvocationsPerWorkgroup} invocations per workgroup`,
  ];
  return `${a.device || 'unnamed device'} (${a.software ? 'software' : 'hardware'}; ${fields.join(', ')}); ${limits.join(', ')}`;
}

function bytes(n: number): string {
  for (const [unit, size] of [['GiB', 2 ** 30], ['MiB', 2 ** 20], ['KiB', 2 ** 10]] as const) {
    if (n >= size) return `${Number((n / size).toFixed(2))} ${unit}`;
  }
  return `${n} B`;
}

/**
 * Makes `navigator.gpu` Dawn's and imports tfjs's webgpu backend, which registers itself only
 * where `navigator.gpu` exists when it is first imported. The process keeps it to the end: the
 * webgpu package's advice, to drop `navigator.gpu` so that Node can exit, made xp's processes
 * abort or hang at exit on lavapipe (Dawn's instance collected under the live device), and
 * without it they exit normally.
 */
export async function registerWebGpuBackend(): Promise<void> {
  const gpuObject = await dawn();
  const nav = (globalThis as { navigator?: object }).navigator;
  if (nav) Object.defineProperty(nav, 'gpu', { value: gpuObject, configurable: true });
  else Object.defineProperty(globalThis, 'navigator', { value: { gpu: gpuObject }, configurable: true, writable: true });
  try {
    await import(TFJS_WEBGPU_PACKAGE);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ERR_MODULE_NOT_FOUND') {
      throw new BackendError('@tensorflow/tfjs-backend-webgpu is not installed (an optional dependency)');
    }
    throw new BackendError(`@tensorflow/tfjs-backend-webgpu failed to load: ${e.message.split('\n')[0]}`);
  }
}
