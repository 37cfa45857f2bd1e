// Runs the real dsgw binary for integration tests: writes its config into a temp dir, starts
// `dsgw serve` on port 0, reads the port from its "server.listening" log line, keeps every
// stderr log line, and kills whatever is still running when the test process exits.

import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { accessSync, constants, mkdtempSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export function dsgwBinary() {
  const bin = process.env.DSGW_BIN ?? path.join(repoRoot, 'build', 'dsgw');
  try {
    accessSync(bin, constants.X_OK);
  } catch {
    throw new Error(`dsgw binary not found at ${bin}: build it or set DSGW_BIN`);
  }
  return bin;
}

export function makeTempDir(prefix = 'dsgw-test-') {
  return mkdtempSync(path.join(tmpdir(), prefix));
}

export function sha256Hex(text) {
  return createHash('sha256').update(text).digest('hex');
}

// A port that was free a moment ago, for a backend that must refuse connections.
export async function closedPort() {
  const server = net.createServer().listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

// --- configuration -----------------------------------------------------------------------------

function tomlValue(value) {
  if (Array.isArray(value)) return `[${value.map(tomlValue).join(', ')}]`;
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  throw new Error(`no TOML form for ${JSON.stringify(value)}`);
}

function tomlTable(header, table) {
  const lines = Object.entries(table)
    .filter(([, value]) => value !== undefined)
    .map(([key, value]) => `${key} = ${tomlValue(value)}`);
  return [header, ...lines].join('\n');
}

// { server: {...}, api_key: [{...}], backend: [{...}] } -> TOML text with [server],
// [[api_key]] and [[backend]] sections, in that order.
export function toToml(config) {
  const sections = [];
  for (const [name, value] of Object.entries(config)) {
    if (Array.isArray(value)) {
      for (const table of value) sections.push(tomlTable(`[[${name}]]`, table));
    } else if (value !== undefined) {
      sections.push(tomlTable(`[${name}]`, value));
    }
  }
  return `${sections.join('\n\n')}\n`;
}

// The [server] table tests start from: loopback, port 0, short timeouts so failures show fast.
export function serverConfig(overrides = {}) {
  return {
    listen: '127.0.0.1:0',
    workers: 64,
    max_inflight: 32,
    shutdown_grace_ms: 5000,
    log_level: 'info',
    ...overrides,
  };
}

// A [[backend]] table for an OpenAI-compatible upstream at `baseUrl` (a mock's baseUrl).
export function openaiBackend(baseUrl, overrides = {}) {
  return {
    name: 'mock',
    kind: 'openai',
    base_url: baseUrl,
    model: 'upstream-model-id',
    models: ['m1', 'alias'],
    jurisdiction: 'lan',
    connect_timeout_ms: 2000,
    first_byte_timeout_ms: 10000,
    total_timeout_ms: 60000,
    ...overrides,
  };
}

// config: TOML text, or an object for toToml(). Returns the file's path.
export function writeConfig(dir, config, name = 'dsgw.toml') {
  const file = path.join(dir, name);
  writeFileSync(file, typeof config === 'string' ? config : toToml(config));
  return file;
}

// --- processes ---------------------------------------------------------------------------------

const liveChildren = new Set();
process.on('exit', () => {
  for (const child of liveChildren) child.kill('SIGKILL');
});

// A running `dsgw serve`. `logs` holds each stderr line parsed as JSON (null when a line is not
// JSON); `lines` the raw text.
export class Dsgw {
  constructor(child, configPath) {
    this.child = child;
    this.configPath = configPath;
    this.lines = [];
    this.logs = [];
    this.exit = undefined;
    this.listeners = new Set();
    liveChildren.add(child);
    createInterface({ input: child.stderr }).on('line', (line) => {
      this.lines.push(line);
      this.logs.push(parseLogLine(line));
      this.notify();
    });
    child.stdout.on('data', () => {}); // never let a full pipe block the daemon
    this.exited = new Promise((resolve) => {
      // 'close' rather than 'exit': by then every stderr line has been read.
      child.on('close', (code, signal) => {
        liveChildren.delete(child);
        this.exit = { code, signal };
        this.notify();
        resolve(this.exit);
      });
    });
  }

  get port() { return this.listening.port; }
  get url() { return `http://127.0.0.1:${this.port}`; }
  get baseUrl() { return `${this.url}/v1`; }

  notify() {
    for (const listener of this.listeners) listener();
  }

  subscribe(listener) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  // The first log line from index `from` on matching `match` (an event name or a predicate);
  // rejects at once if dsgw exits without logging it.
  waitForLog(match, { timeoutMs = 10000, from = 0 } = {}) {
    const predicate = typeof match === 'string' ? (log) => log?.event === match : match;
    const what = typeof match === 'string' ? match : 'a matching line';
    return new Promise((resolve, reject) => {
      const finish = (settle) => {
        clearTimeout(timer);
        unsubscribe();
        settle();
      };
      const timer = setTimeout(() => finish(() => reject(
        new Error(`dsgw did not log ${what} within ${timeoutMs} ms:\n${this.tail()}`))), timeoutMs);
      const check = () => {
        const found = this.logs.slice(from).find(predicate);
        if (found) return finish(() => resolve(found));
        if (this.exit) {
          finish(() => reject(new Error(`dsgw exited (${JSON.stringify(this.exit)}) before logging ${what}:\n${this.tail()}`)));
        }
      };
      const unsubscribe = this.subscribe(check);
      check();
    });
  }

  tail(count = 20) {
    return this.lines.slice(-count).join('\n');
  }

  signal(name) {
    this.child.kill(name);
  }

  async waitForExit(timeoutMs = 10000) {
    let timer;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`dsgw still running after ${timeoutMs} ms:\n${this.tail()}`)), timeoutMs);
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  // Rewrites the config file, sends SIGHUP and returns the resulting config.reloaded or
  // config.reload_failed line.
  // `timeoutMs`: a reload that (re)loads local models takes seconds.
  async reload(config, { timeoutMs = 30000 } = {}) {
    const text = typeof config === 'string' ? config : toToml(config);
    writeConfig(path.dirname(this.configPath), text, path.basename(this.configPath));
    const revision = sha256Hex(text).slice(0, 12);
    const from = this.logs.length;
    this.signal('SIGHUP');
    // dsgw also reloads when it sees the file change, and such a reload may have read the file
    // just before this write: wait for the reload of this text (or for a failure).
    return this.waitForLog((log) => (log?.event === 'config.reloaded' && log.revision === revision) ||
                                    log?.event === 'config.reload_failed', { from, timeoutMs });
  }

  // Teardown: SIGTERM, then SIGKILL if it lingers. Safe to call twice.
  async stop() {
    if (this.exit) return this.exit;
    this.signal('SIGTERM');
    try {
      return await this.waitForExit(5000);
    } catch {
      this.signal('SIGKILL');
      return this.exited;
    }
  }
}

function parseLogLine(line) {
  try {
    const value = JSON.parse(line);
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? value : null;
  } catch {
    return null;
  }
}

// Starts `dsgw serve --config FILE` and waits for its "server.listening" line.
// config: TOML text or an object for toToml(). env: added to this process's environment.
// `startTimeoutMs`: local models take seconds to load before dsgw listens.
export async function startDsgw(config, { dir = makeTempDir(), env = {}, startTimeoutMs = 10000 } = {}) {
  const configPath = writeConfig(dir, config);
  // In `dir`, so that the default [storage] state_dir ("state") is the test's own.
  const child = spawn(dsgwBinary(), ['serve', '--config', configPath], {
    cwd: dir,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const dsgw = new Dsgw(child, configPath);
  try {
    dsgw.listening = await dsgw.waitForLog('server.listening', { timeoutMs: startTimeoutMs });
  } catch (err) {
    await dsgw.stop();
    throw err;
  }
  return dsgw;
}

// Runs dsgw with `args` to completion: { code, signal, stdout, stderr }.
export function runDsgw(args, { timeoutMs = 10000, env = {} } = {}) {
  return new Promise((resolve) => {
    execFile(dsgwBinary(), args, { timeout: timeoutMs, env: { ...process.env, ...env } }, (err, stdout, stderr) => {
      resolve({ code: err ? err.code ?? null : 0, signal: err?.signal ?? null, stdout, stderr });
    });
  });
}

// `dsgw check` on a config (TOML text or object) written to a fresh temp dir.
export async function checkConfig(config, options) {
  const configPath = writeConfig(makeTempDir('dsgw-check-'), config);
  return { configPath, ...(await runDsgw(['check', '--config', configPath], options)) };
}
