#!/usr/bin/env node
// main.ts: the `steprl` command. Until the trainer lands, `demo` (what `npm start` runs) says so,
// and `doctor` reports the backend in use.
import { doctor } from './doctor';

const HELP = `steprl <command>

Commands:
  demo     the main job: SFT, then every RL algorithm on an embedded task, eval and report
  doctor   the backend in use and why, SIMD level, threads, CUDA: driver, package, probe
           (--probe probes CUDA now, --json)
  help     this text
`;

function main(argv: string[]): number {
  const [command = 'help'] = argv;
  switch (command) {
    case 'demo':
      console.log('steprl demo: the main job (SFT, GRPO/PPO/PSPO/PRL/PRPO training, eval, report) arrives with the trainer.');
      console.log('The kernels are ready: `npm test` checks them, `npm run bench` times them.');
      return 0;
    case 'doctor':
      return doctor(argv.slice(1));
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(HELP);
      return 0;
    default:
      process.stderr.write(`steprl: unknown command ${JSON.stringify(command)}\n\n${HELP}`);
      return 2;
  }
}

process.exitCode = main(process.argv.slice(2));
