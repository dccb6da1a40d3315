// progress.ts: a one-line progress bar with ETA and live metrics on a terminal; on a pipe or in
// CI, plain lines at most every few seconds (and at the end), so logs stay readable.
export class Progress {
  readonly #label: string;
  readonly #total: number;
  readonly #start = Date.now();
  readonly #tty: boolean;
  #lastLine = 0;
  #done = 0;

  constructor(label: string, total: number, readonly stream: NodeJS.WriteStream = process.stderr) {
    this.#label = label;
    this.#total = Math.max(total, 1);
    this.#tty = Boolean(stream.isTTY) && !process.env.CI;
  }

  static clock(seconds: number): string {
    if (!Number.isFinite(seconds)) return '--:--';
    const s = Math.max(0, Math.round(seconds));
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    return `${h > 0 ? `${h}:${String(m).padStart(2, '0')}` : m}:${String(sec).padStart(2, '0')}`;
  }

  update(done: number, metrics: Record<string, number | string> = {}): void {
    this.#done = done;
    const elapsed = (Date.now() - this.#start) / 1000;
    const eta = done > 0 ? (elapsed / done) * (this.#total - done) : NaN;
    const fields = Object.entries(metrics).map(([k, v]) => `${k} ${typeof v === 'number' ? (Math.abs(v) >= 100 || Number.isInteger(v) ? v.toFixed(0) : v.toPrecision(3)) : v}`).join('  ');
    const fraction = Math.min(done / this.#total, 1);
    if (this.#tty) {
      const width = 24, filled = Math.round(fraction * width);
      const bar = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
      const columns = this.stream.columns ?? 120;
      const line = `${this.#label} ${bar} ${done}/${this.#total}  ${Progress.clock(elapsed)} elapsed, ETA ${Progress.clock(eta)}  ${fields}`;
      this.stream.write(`\r\x1b[2K${line.slice(0, columns - 1)}`);
    } else if (Date.now() - this.#lastLine > 5000 || done >= this.#total) {
      this.#lastLine = Date.now();
      this.stream.write(`${this.#label} ${done}/${this.#total} (${Math.round(fraction * 100)}%) ${Progress.clock(elapsed)} elapsed, ETA ${Progress.clock(eta)}  ${fields}\n`);
    }
  }

  finish(message?: string): void {
    if (this.#tty) this.stream.write('\r\x1b[2K');
    const elapsed = Progress.clock((Date.now() - this.#start) / 1000);
    this.stream.write(`${this.#label}: ${message ?? `${this.#done}/${this.#total} done`} (${elapsed})\n`);
  }
}
