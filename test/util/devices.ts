// devices.ts: the devices the loaded backend offers the op tests: ['cpu'] on the cpu backend,
// ['cpu', 'cuda'] on the cuda and cuda-sim backends. STEPRL_TEST_DEVICES (a comma list, e.g.
// "cuda", set by scripts/test.mjs for its simulator pass) narrows it, so the CPU cases do not run
// twice. A target is a device plus, on the cpu, one SIMD level: every CPU path and every device.
import { backendInfo, type Device } from '../../lib';
import { simdLevels, withSimd, type SimdName } from './simd';

export function availableDevices(): Device[] {
  return backendInfo().backend === 'cpu' ? ['cpu'] : ['cpu', 'cuda'];
}

// jest.config.js declares the suites that run per device (project "devices", which sets this
// global); scripts/test.mjs reruns exactly those on the CUDA simulator. A suite outside it that
// asks for devices would silently miss that pass, so it fails here instead.
function assertDeviceSuite(): void {
  if ((globalThis as { STEPRL_DEVICE_SUITE?: unknown }).STEPRL_DEVICE_SUITE !== true)
    throw new Error('test/util/devices.ts is used by a suite outside the jest project "devices": add its folder to DEVICE_DIRS '
      + 'in jest.config.js (and keep it out of HOST_ONLY) so that npm test also runs it on the CUDA simulator');
}

export function devices(): Device[] {
  assertDeviceSuite();
  const wanted = process.env.STEPRL_TEST_DEVICES?.split(',').map((d) => d.trim()).filter((d) => d !== '');
  const available = availableDevices();
  return wanted === undefined || wanted.length === 0 ? available : available.filter((d) => wanted.includes(d));
}

export const hasCuda = (): boolean => availableDevices().includes('cuda');

export interface Target {
  label: string;  // 'cpu (avx2)', 'cuda'
  device: Device;
  simd?: SimdName;
}

export function targets(): Target[] {
  return devices().flatMap((device): Target[] =>
    device === 'cpu' ? simdLevels().map((simd) => ({ label: `cpu (${simd})`, device, simd })) : [{ label: device, device }]);
}

/** Runs `body` with the target's SIMD level set (cpu) and restores it. */
export function onTarget<T>(target: Target, body: () => T): T {
  return target.simd === undefined ? body() : withSimd(target.simd, body);
}

/** describe(`${title} on ${target.label}`, ...) once per target (a skipped block when none). */
export function describeTargets(title: string, body: (target: Target) => void): void {
  const list = targets();
  if (list.length === 0) {
    describe.skip(`${title}: no device selected (STEPRL_TEST_DEVICES=${process.env.STEPRL_TEST_DEVICES})`, () => {
      test('skipped', () => undefined);
    });
  }
  for (const target of list) describe(`${title} on ${target.label}`, () => body(target));
}

/** describe() only when `device` is among the tested devices (skipped, and says why, otherwise). */
export function describeOn(device: Device, title: string, body: () => void): void {
  if (devices().includes(device)) describe(title, body);
  else describe.skip(`${title} (no ${device} in this run)`, () => test('skipped', () => undefined));
}
