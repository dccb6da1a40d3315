// cuda_probe.ts: does this CUDA addon work here? Asked of a child process, so that a driver that
// crashes on load, a missing symbol or a hung GPU kills or stalls the child, never the user's
// process. The child loads the addon, finds a device, copies two rows of logits to it, runs the
// tokenLogprobs kernel and checks the result against log-softmax done in JS.
//
// Results are cached per (steprl version, addon path + mtime + size, driver identity) in
// $STEPRL_CACHE_DIR, else $XDG_CACHE_HOME/steprl, ~/.cache/steprl, or <tmpdir>/steprl-<user>
// (never inside node_modules), so the spawn happens once per install and driver, not per process.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import type { DriverInfo } from './cuda_locate';

export interface ProbeResult {
  ok: boolean;
  /** Why not, in one line: the stage (load, device, kernel, crash, timeout) and the error. */
  reason?: string;
  device?: { name: string; computeCapability: string; driverVersion: number; runtimeVersion: number };
  /** How long the child took. */
  ms: number;
  /** When the probe ran (ISO time). */
  at: string;
  /** Set when the result came from the cache: the cache file. */
  cachedIn?: string;
}

export interface ProbeKey {
  steprl: string;
  file: string;
  mtimeMs: number;
  size: number;
  driver: string;
}

// The child: plain CommonJS run with `node -e`, the addon path in STEPRL_PROBE_FILE. It prints one
// JSON line; a crash or a hang is seen by the parent as a signal, an exit code or a timeout.
const CHILD_SOURCE = String.raw`
'use strict';
const say = (result) => { process.stdout.write(JSON.stringify(result) + '\n'); process.exit(0); };
const oneLine = (error) => String(error && error.message || error).split('\n')[0].slice(0, 300);
let addon;
try { addon = require(process.env.STEPRL_PROBE_FILE); } catch (error) { say({ ok: false, reason: 'load: ' + oneLine(error) }); }
if (typeof addon.deviceInfo !== 'function') say({ ok: false, reason: 'load: not a CUDA build of steprl (no deviceInfo)' });
const info = addon.deviceInfo();
if (info.simulated) say({ ok: false, reason: 'device: this is the simulator build, not a GPU build' });
if (!(info.deviceCount > 0)) say({ ok: false, reason: 'device: ' + (info.error || 'no CUDA device') });
const device = { name: info.name, computeCapability: info.computeCapability, driverVersion: info.driverVersion, runtimeVersion: info.runtimeVersion };
try {
  // rows [0, 0] and [0, ln 3] with targets 1 and 0: log-softmax gives -ln 2 and -ln 4.
  const logits = addon.toDevice(new Float32Array([0, 0, 0, Math.log(3)]));
  const targets = addon.toDevice(new Int32Array([1, 0]));
  const out = addon.tokenLogprobs(logits, targets, 2, 2, 1, false, false);
  addon.synchronize();
  const got = Array.from(addon.toHost(out.logprobs));
  const want = [-Math.LN2, -2 * Math.LN2];
  if (got.some((v, i) => !(Math.abs(v - want[i]) < 1e-5)))
    say({ ok: false, device, reason: 'kernel: tokenLogprobs gave ' + JSON.stringify(got) + ', expected ' + JSON.stringify(want) });
} catch (error) {
  say({ ok: false, device, reason: 'kernel: ' + oneLine(error) });
}
say({ ok: true, device });
`;

const oneLine = (text: string): string => text.replace(/\s+/g, ' ').trim().slice(0, 300);

export interface ProbeOptions {
  timeoutMs?: number;
  /** The node binary for the child (process.execPath). */
  execPath?: string;
}

/** Runs the probe child on `file` now (no cache). Never throws. */
export function runProbe(file: string, options: ProbeOptions = {}): ProbeResult {
  const timeoutMs = options.timeoutMs ?? 60_000;
  const started = Date.now();
  const at = new Date(started).toISOString();
  const child = spawnSync(options.execPath ?? process.execPath, ['-e', CHILD_SOURCE], {
    encoding: 'utf8',
    timeout: timeoutMs,
    killSignal: 'SIGKILL',
    windowsHide: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    // ELECTRON_RUN_AS_NODE: inside Electron, execPath is the app; this makes it a plain node.
    env: { ...process.env, STEPRL_PROBE_FILE: file, ELECTRON_RUN_AS_NODE: '1' },
  });
  const ms = Date.now() - started;
  const stderr = oneLine((child.stderr ?? '').split('\n').filter(Boolean).slice(-2).join(' '));
  const last = (child.stdout ?? '').trim().split('\n').pop() ?? '';
  if (child.error && (child.error as NodeJS.ErrnoException).code === 'ETIMEDOUT')
    return { ok: false, reason: `timeout: no answer in ${timeoutMs / 1000} s (killed)`, ms, at };
  if (child.error) return { ok: false, reason: `spawn: ${oneLine(child.error.message)}`, ms, at };
  if (child.signal) return { ok: false, reason: `crash: the probe process died of ${child.signal}${stderr ? ` (${stderr})` : ''}`, ms, at };
  try {
    const answer = JSON.parse(last) as Omit<ProbeResult, 'ms' | 'at'>;
    if (typeof answer.ok === 'boolean') return { ...answer, ms, at };
  } catch {
    // not JSON: reported below
  }
  return { ok: false, reason: `crash: the probe process exited with code ${child.status}${stderr ? ` (${stderr})` : ''}`, ms, at };
}

/** The cache folder: STEPRL_CACHE_DIR, XDG_CACHE_HOME/steprl, ~/.cache/steprl, tmpdir/steprl-<user>. */
export function probeCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.STEPRL_CACHE_DIR) return path.resolve(env.STEPRL_CACHE_DIR);
  const home = (() => {
    try {
      return os.homedir();
    } catch {
      return '';
    }
  })();
  const base = env.XDG_CACHE_HOME && path.isAbsolute(env.XDG_CACHE_HOME) ? env.XDG_CACHE_HOME : home ? path.join(home, '.cache') : '';
  const preferred = base ? path.join(base, 'steprl') : '';
  if (preferred && !preferred.split(path.sep).includes('node_modules')) {
    try {
      fs.mkdirSync(preferred, { recursive: true });
      fs.accessSync(preferred, fs.constants.W_OK);
      return preferred;
    } catch {
      // read-only home (containers, CI sandboxes): fall through to the temp folder
    }
  }
  const user = (() => {
    try {
      return os.userInfo().username;
    } catch {
      return String(process.getuid?.() ?? 'user');
    }
  })();
  return path.join(os.tmpdir(), `steprl-${user}`);
}

export function probeKey(file: string, steprlVersion: string, driver: DriverInfo): ProbeKey {
  const real = fs.realpathSync(file);
  const stat = fs.statSync(real);
  return { steprl: steprlVersion, file: real, mtimeMs: stat.mtimeMs, size: stat.size, driver: driver.identity };
}

export function probeCacheFile(key: ProbeKey, dir: string): string {
  const hash = createHash('sha256').update(JSON.stringify(key)).digest('hex').slice(0, 20);
  return path.join(dir, `cuda-probe-${hash}.json`);
}

/** The cached result for this key, or null. */
export function readProbeCache(key: ProbeKey, dir: string): ProbeResult | null {
  const file = probeCacheFile(key, dir);
  try {
    const entry = JSON.parse(fs.readFileSync(file, 'utf8')) as { key: ProbeKey; result: ProbeResult };
    if (JSON.stringify(entry.key) !== JSON.stringify(key) || typeof entry.result?.ok !== 'boolean') return null;
    return { ...entry.result, cachedIn: file };
  } catch {
    return null;
  }
}

function writeProbeCache(key: ProbeKey, dir: string, result: ProbeResult): void {
  const file = probeCacheFile(key, dir);
  try {
    fs.mkdirSync(dir, { recursive: true });
    const temp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(temp, `${JSON.stringify({ key, result }, null, 2)}\n`);
    fs.renameSync(temp, file);
  } catch {
    // an unwritable cache only costs a probe per process
  }
}

export interface CachedProbeOptions extends ProbeOptions {
  cacheDir?: string;
  /** Ignore a cached result and probe again (the new result is cached). */
  refresh?: boolean;
  /** The probe to run on a miss (tests pass a fake). */
  run?: (file: string) => ProbeResult;
}

/** The probe result for `file` with this driver: cached when possible. Timeouts are not cached. */
export function cachedProbe(file: string, steprlVersion: string, driver: DriverInfo, options: CachedProbeOptions = {}): ProbeResult {
  let key: ProbeKey;
  try {
    key = probeKey(file, steprlVersion, driver);
  } catch (error) {
    return { ok: false, reason: `load: ${oneLine((error as Error).message)}`, ms: 0, at: new Date().toISOString() };
  }
  const dir = options.cacheDir ?? probeCacheDir();
  if (!options.refresh) {
    const hit = readProbeCache(key, dir);
    if (hit !== null) return hit;
  }
  const result = (options.run ?? ((f: string) => runProbe(f, options)))(key.file);
  if (!result.reason?.startsWith('timeout')) writeProbeCache(key, dir, result);
  return result;
}
