#!/usr/bin/env node
// Builds xp's native kernels (framework/kernels/native/onednn.cc, an N-API addon over oneDNN)
// with the system's C++ compiler, against the Node-API headers of the `node-api-headers`
// package: node-gyp would download Node's headers, which this project's machines cannot.
//
//   npm run build:native                 build, or fail saying what is missing
//   node scripts/build-native.mjs --if-possible
//                                        build where a compiler and oneDNN are present, else
//                                        say so in one line and exit 0 (npm install runs this:
//                                        xp then runs on its wasm kernels)
//
// The addon is written to a temporary file and renamed into place, so a failed build never
// leaves a half-written one for xp to load.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const source = path.join(root, 'framework', 'kernels', 'native', 'onednn.cc');
const output = path.join(root, 'framework', 'kernels', 'native', 'build', 'xp-onednn.node');
const INSTALL = 'apt-get install g++ libdnnl-dev';
const ifPossible = process.argv.includes('--if-possible');

function compiler() {
  for (const candidate of [process.env.CXX, 'g++', 'c++', 'clang++'].filter(Boolean)) {
    try {
      execFileSync(candidate, ['--version'], { stdio: 'ignore' });
      return candidate;
    } catch {
      // not this one
    }
  }
  return undefined;
}

function napiHeaders() {
  try {
    return path.dirname(createRequire(import.meta.url).resolve('node-api-headers/include/node_api.h'));
  } catch {
    return undefined;
  }
}

function hasOneDnn(cxx) {
  try {
    execFileSync(cxx, ['-x', 'c++', '-E', '-'], { input: '#include "oneapi/dnnl/dnnl.hpp"\n', stdio: ['pipe', 'ignore', 'ignore'] });
    return true;
  } catch {
    return false;
  }
}

function missing() {
  const cxx = compiler();
  if (!cxx) return { reason: 'no C++ compiler (g++)' };
  if (!hasOneDnn(cxx)) return { reason: 'oneDNN headers not found (oneapi/dnnl/dnnl.hpp)' };
  const headers = napiHeaders();
  if (!headers) return { reason: 'the node-api-headers package is not installed (npm install)' };
  return { cxx, headers };
}

function build({ cxx, headers }) {
  fs.mkdirSync(path.dirname(output), { recursive: true });
  const temporary = `${output}.${process.pid}.tmp`;
  const flags = ['-O2', '-std=c++17', '-shared', '-fPIC', '-fvisibility=hidden', '-fopenmp', `-I${headers}`];
  try {
    execFileSync(cxx, [...flags, source, '-o', temporary, '-ldnnl'], { stdio: 'inherit' });
    fs.renameSync(temporary, output);
  } finally {
    fs.rmSync(temporary, { force: true });
  }
}

const found = missing();
if (found.reason) {
  const message = `native kernels not built: ${found.reason}; to build them: ${INSTALL} && npm run build:native`;
  if (ifPossible) {
    console.log(`xp: ${message} (xp runs on its wasm kernels meanwhile)`);
    process.exit(0);
  }
  console.error(`error: ${message}`);
  process.exit(1);
}
try {
  build(found);
  console.log(`xp: native kernels built: ${path.relative(process.cwd(), output)}`);
} catch {
  const message = `building ${path.relative(root, source)} failed (the compiler's error is above)`;
  if (!ifPossible) {
    console.error(`error: ${message}`);
    process.exit(1);
  }
  console.log(`xp: ${message}; xp runs on its wasm kernels`);
}
