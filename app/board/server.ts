/**
 * The board's HTTP server: the page (built into dist/board/ by app/board/build.ts) and a small
 * read-only JSON API over a BoardStore. Requests name runs and sweeps by id, never by path;
 * an id must be well formed and in the index of RUNS_DIR, so nothing outside it is reachable.
 * Bound to loopback, it also refuses requests for other host names (DNS rebinding).
 */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { XpError } from '../../framework/errors.js';
import { packageRoot } from '../../framework/paths.js';
import { badId } from './folders.js';
import { BadFolder, BoardStore } from './store.js';
import type { RunData } from './run-data.js';

export interface BoardOptions {
  runsDir: string;
  port: number;
  host: string;
  /** Where the built page is (default: dist/board/ of this package). */
  pageDir?: string;
}

export interface Board {
  url: string;
  close(): Promise<void>;
}

export const PAGE_DIR = path.join(packageRoot, 'dist', 'board');

const PAGE_FILES: Record<string, string> = {
  '/': 'index.html',
  '/app.js': 'app.js',
  '/app.css': 'app.css',
};

const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8' };

const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '[::1]']);

/** Downsampled points per curve when the page does not say. */
const DEFAULT_POINTS = 1000;
const MAX_POINTS = 20_000;

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export async function startBoard({ runsDir, port, host, pageDir = PAGE_DIR }: BoardOptions): Promise<Board> {
  const page = readPage(pageDir);
  const store = new BoardStore(runsDir);
  const loopbackOnly = host === '127.0.0.1' || host === 'localhost' || host === '::1';
  const server = http.createServer((request, response) => {
    try {
      if (request.method !== 'GET' && request.method !== 'HEAD') throw new HttpError(405, 'the board only reads');
      if (loopbackOnly && !LOOPBACK_NAMES.has(hostName(request.headers.host))) throw new HttpError(403, 'unexpected Host header');
      const url = new URL(request.url ?? '/', 'http://board');
      const file = PAGE_FILES[url.pathname];
      if (file) return send(response, 200, TYPES[path.extname(file)], page.get(file)!);
      route(store, url, response);
    } catch (err) {
      sendError(response, err);
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(err.code === 'EADDRINUSE' ? new XpError(`port ${port} on ${host} is in use; pick another with --port (0 takes a free one)`) : err),
    );
    server.listen(port, host, resolve);
  });
  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${shownHost}:${address.port}/`,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function route(store: BoardStore, url: URL, response: http.ServerResponse): void {
  const params = url.searchParams;
  switch (url.pathname) {
    case '/api/runs':
      return sendJson(response, store.list());
    case '/api/run':
      return sendJson(response, runOf(store, params).detail());
    case '/api/scalars': {
      const run = runOf(store, params);
      const points = numberParam(params, 'points', DEFAULT_POINTS, 10, MAX_POINTS);
      const smoothing = numberParam(params, 'smoothing', 0, 0, 0.999);
      return sendJson(response, { id: run.id, version: run.version(), curves: run.curves(points, smoothing) });
    }
    case '/api/csv': {
      const run = runOf(store, params);
      const tag = textParam(params, 'tag');
      const csv = run.csv(tag);
      if (csv === undefined) throw new HttpError(404, `${run.id} has no scalar tag ${tag}`);
      const name = `${run.id}-${tag}`.replace(/[^\w.=-]+/g, '_');
      response.setHeader('Content-Disposition', `attachment; filename="${name}.csv"`);
      return send(response, 200, 'text/csv; charset=utf-8', csv);
    }
    case '/api/image': {
      const run = runOf(store, params);
      const tag = textParam(params, 'tag');
      const step = numberParam(params, 'step', NaN, 0, Number.MAX_SAFE_INTEGER);
      const index = numberParam(params, 'index', 0, 0, Number.MAX_SAFE_INTEGER);
      const image = run.image(tag, step, index);
      if (!image) throw new HttpError(404, `${run.id} has no image ${tag} at step ${step}`);
      return send(response, 200, imageType(image), image);
    }
    case '/api/sweep': {
      const id = idParam(params);
      const sweep = store.sweep(id);
      if (!sweep) throw new HttpError(404, `no sweep ${id}`);
      return sendJson(response, sweep);
    }
    default:
      throw new HttpError(404, `no such page: ${url.pathname}`);
  }
}

function runOf(store: BoardStore, params: URLSearchParams): RunData {
  const id = idParam(params);
  const run = store.run(id);
  if (!run) throw new HttpError(404, `no run ${id}`);
  return run;
}

function idParam(params: URLSearchParams): string {
  const id = textParam(params, 'id');
  const problem = badId(id);
  if (problem) throw new HttpError(400, `id ${JSON.stringify(id)}: ${problem}`);
  return id;
}

function textParam(params: URLSearchParams, name: string): string {
  const value = params.get(name);
  if (value === null) throw new HttpError(400, `missing parameter ${name}`);
  return value;
}

function numberParam(params: URLSearchParams, name: string, fallback: number, min: number, max: number): number {
  const text = params.get(name);
  if (text === null && !Number.isNaN(fallback)) return fallback;
  const value = Number(text ?? NaN);
  if (text === '' || !Number.isFinite(value) || value < min || value > max) throw new HttpError(400, `${name} must be a number from ${min} to ${max}`);
  return value;
}

/** The host name of a Host header, without its port. */
function hostName(header: string | undefined): string {
  return (header ?? '').replace(/:\d+$/, '').toLowerCase();
}

/** PNG or JPEG (what the images plugin holds), by their first bytes. */
function imageType(bytes: Buffer): string {
  if (bytes.subarray(0, 4).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47]))) return 'image/png';
  if (bytes[0] === 0xff && bytes[1] === 0xd8) return 'image/jpeg';
  return 'application/octet-stream';
}

function readPage(dir: string): Map<string, Buffer> {
  const page = new Map<string, Buffer>();
  for (const file of Object.values(PAGE_FILES)) {
    const full = path.join(dir, file);
    if (!fs.existsSync(full)) throw new XpError(`the board's page is not built (${full} is missing): run npm run build`);
    page.set(file, fs.readFileSync(full));
  }
  return page;
}

function sendJson(response: http.ServerResponse, body: unknown, status = 200): void {
  send(response, status, 'application/json; charset=utf-8', JSON.stringify(body));
}

function sendError(response: http.ServerResponse, err: unknown): void {
  if (err instanceof HttpError) return sendJson(response, { error: err.message }, err.status);
  if (err instanceof BadFolder) return sendJson(response, { error: err.message }, 422);
  console.error(err);
  sendJson(response, { error: (err as Error).message }, 500);
}

function send(response: http.ServerResponse, status: number, type: string, body: string | Buffer): void {
  response.writeHead(status, {
    'Content-Type': type,
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
    'Content-Security-Policy': "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:",
  });
  response.end(response.req.method === 'HEAD' ? undefined : body);
}
