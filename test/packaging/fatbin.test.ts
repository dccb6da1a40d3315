// fatbin.test.ts: scripts/fatbin.cjs, the architecture proof of `npm run pack`, on synthetic ELF
// files built here (fatbin containers with cubin and PTX entries, one deliberately incomplete, one
// whose payload contradicts its header), and on build-cuda/Release/steprl.node when a CUDA build
// is present (this machine: yes; a fresh CI clone: no, and the test says so).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

interface FatbinEntry { kind: 'sass' | 'ptx'; sm: number; bytes: number; compressed: boolean; payloadSm: number | null }
interface Fatbin { containers: { offset: number; source: string; entries: FatbinEntry[] }[] }
interface Architectures { sass: string[]; ptx: string[] }
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { readFatbin, summarize, buildRecord } = require('../../scripts/fatbin.cjs') as {
  readFatbin(file: string | Buffer): Fatbin;
  summarize(fatbin: Fatbin): Architectures & { containers: number; payloadsChecked: string; problems: string[] };
  buildRecord(dir: string): (Architectures & { from: string }) | null;
};
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { REQUIRED_ARCHITECTURES } = require('../../scripts/package_contents.cjs') as { REQUIRED_ARCHITECTURES: Architectures };

const root = path.resolve(__dirname, '..', '..');

/** A cubin's first 64 bytes: ELF64, OSABI 0x41 (CUDA), ABI version 8, SM in e_flags bits 8-15. */
function cubin(sm: number): Buffer {
  const b = Buffer.alloc(64);
  b.writeUInt32BE(0x7f454c46, 0);
  b[4] = 2; b[5] = 1; b[6] = 1; b[7] = 0x41; b[8] = 8;
  b.writeUInt16LE(190, 18); // EM_CUDA
  b.writeUInt32LE(0x09000004 | (sm << 8), 48);
  return b;
}

const pad8 = (b: Buffer): Buffer => Buffer.concat([b, Buffer.alloc((8 - (b.length % 8)) % 8)]);

/** One fatbin entry: a 64-byte header naming the source at +64, then the payload padded to 8. */
function entry(kind: 1 | 2, sm: number, payload: Buffer, source: string): Buffer {
  const name = pad8(Buffer.from(`${source}\0`));
  const body = pad8(payload);
  const h = Buffer.alloc(64);
  h.writeUInt16LE(kind, 0);
  h.writeUInt16LE(0x0101, 2);
  h.writeUInt32LE(64 + name.length, 4);
  h.writeBigUInt64LE(BigInt(body.length), 8);
  h.writeUInt32LE(sm, 28);
  h.writeUInt32LE(64, 32);
  h.writeUInt32LE(source.length, 36);
  h.writeBigUInt64LE(0x11n, 40);
  return Buffer.concat([h, name, body]);
}

function container(entries: Buffer[]): Buffer {
  const body = Buffer.concat(entries);
  const h = Buffer.alloc(16);
  h.writeUInt32LE(0xba55ed50, 0);
  h.writeUInt16LE(1, 4);
  h.writeUInt16LE(16, 6);
  h.writeBigUInt64LE(BigInt(body.length), 8);
  return Buffer.concat([h, body]);
}

/** A minimal ELF64 file whose only content section is .nv_fatbin. */
function elfWith(fatbin: Buffer): Buffer {
  const names = Buffer.from('\0.shstrtab\0.nv_fatbin\0');
  const dataOffset = 64;
  const namesOffset = dataOffset + fatbin.length;
  const shoff = namesOffset + names.length + ((8 - ((namesOffset + names.length) % 8)) % 8);
  const header = Buffer.alloc(64);
  header.writeUInt32BE(0x7f454c46, 0);
  header[4] = 2; header[5] = 1; header[6] = 1;
  header.writeUInt16LE(3, 16); // ET_DYN
  header.writeUInt16LE(62, 18); // x86-64
  header.writeBigUInt64LE(BigInt(shoff), 0x28);
  header.writeUInt16LE(64, 0x34);
  header.writeUInt16LE(64, 0x3a);
  header.writeUInt16LE(3, 0x3c);
  header.writeUInt16LE(1, 0x3e);
  const section = (name: number, offset: number, size: number): Buffer => {
    const s = Buffer.alloc(64);
    s.writeUInt32LE(name, 0);
    s.writeUInt32LE(name === 0 ? 0 : name === 1 ? 3 : 1, 4);
    s.writeBigUInt64LE(BigInt(offset), 0x18);
    s.writeBigUInt64LE(BigInt(size), 0x20);
    return s;
  };
  const body = Buffer.concat([header, fatbin, names]);
  return Buffer.concat([body, Buffer.alloc(shoff - body.length), section(0, 0, 0), section(1, namesOffset, names.length), section(11, dataOffset, fatbin.length)]);
}

const ptx = (sm: number): Buffer => Buffer.from(`//\n.version 9.0\n.target sm_${sm}\n.address_size 64\n`);
const complete = (source: string): Buffer =>
  container([...[80, 86, 89].map((sm) => entry(2, sm, cubin(sm), source)), entry(1, 90, ptx(90), source), entry(2, 90, cubin(90), source)]);

describe('fatbin.cjs on synthetic files', () => {
  test('two complete translation units: SASS sm_80/86/89/90 and PTX compute_90, every payload agreeing', () => {
    // containers are 8-aligned with padding between them, as the linker lays them out
    const fat = readFatbin(elfWith(Buffer.concat([complete('/src/cuda/a.cu'), Buffer.alloc(8), complete('/src/cuda/b.cu')])));
    expect(fat.containers.map((c) => c.source)).toEqual(['/src/cuda/a.cu', '/src/cuda/b.cu']);
    expect(fat.containers[0].entries.map((e) => [e.kind, e.sm, e.payloadSm])).toEqual([
      ['sass', 80, 80], ['sass', 86, 86], ['sass', 89, 89], ['ptx', 90, 90], ['sass', 90, 90],
    ]);
    expect(summarize(fat)).toEqual({ ...REQUIRED_ARCHITECTURES, containers: 2, payloadsChecked: '10/10', problems: [] });
  });

  test('a translation unit missing an architecture, and a payload contradicting its header, are problems', () => {
    const partial = container([entry(2, 80, cubin(80), '/src/cuda/c.cu'), entry(2, 89, cubin(80), '/src/cuda/c.cu')]);
    const summary = summarize(readFatbin(elfWith(Buffer.concat([complete('/src/cuda/a.cu'), partial]))));
    expect(summary.sass).toEqual(['sm_80', 'sm_89']);
    expect(summary.ptx).toEqual([]);
    expect(summary.problems).toEqual([
      '/src/cuda/c.cu lacks compute_90, sm_86, sm_90',
      "/src/cuda/c.cu: the sm_89 entry's payload says sm_80",
    ]);
  });

  test('files that are not CUDA builds are refused with a reason', () => {
    expect(() => readFatbin(Buffer.from('not an elf file at all, just text that is long enough to have a header'.repeat(2)))).toThrow('not an ELF file');
    expect(readFatbin(elfWith(Buffer.alloc(0))).containers).toEqual([]);
    const noSection = elfWith(Buffer.alloc(8));
    noSection.write('.nv_fatbix', noSection.indexOf('.nv_fatbin'));
    expect(() => readFatbin(noSection)).toThrow('no .nv_fatbin section: not a CUDA build');
  });

  test('the build record: what CMake asked nvcc for, from build.ninja', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'steprl-fatbin-'));
    fs.writeFileSync(path.join(dir, 'build.ninja'), [80, 86, 89].map((a) => `--generate-code=arch=compute_${a},code=[sm_${a}]`).join(' ') +
      ' --generate-code=arch=compute_90,code=[compute_90,sm_90]\n');
    expect(buildRecord(dir)).toEqual({ ...REQUIRED_ARCHITECTURES, from: path.join(dir, 'build.ninja') });
    expect(buildRecord(path.join(dir, 'absent'))).toBeNull();
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

const cudaBuild = path.join(root, 'build-cuda', 'Release', 'steprl.node');
const cudaTest = fs.existsSync(cudaBuild) ? test : test.skip;
if (!fs.existsSync(cudaBuild)) console.log('fatbin.test: no build-cuda/Release/steprl.node (npm run build:cuda): the real-binary check is skipped');

describe('fatbin.cjs on the real CUDA build', () => {
  cudaTest('build-cuda/Release/steprl.node embeds every cuda/*.cu with the promised architectures', () => {
    const fat = readFatbin(cudaBuild);
    const summary = summarize(fat);
    expect(summary.problems).toEqual([]);
    expect({ sass: summary.sass, ptx: summary.ptx }).toEqual(REQUIRED_ARCHITECTURES);
    const cu = fs.readdirSync(path.join(root, 'cuda')).filter((f) => f.endsWith('.cu'));
    // a build older than a newly added .cu file lacks it; compare with what the build had
    expect(fat.containers.map((c) => path.basename(c.source)).every((f) => cu.includes(f))).toBe(true);
    const record = buildRecord(path.join(root, 'build-cuda'));
    if (record !== null) expect({ sass: record.sass, ptx: record.ptx }).toEqual({ sass: summary.sass, ptx: summary.ptx });
  });
});
