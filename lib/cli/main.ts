#!/usr/bin/env node
// main.ts: the `steprl` command: demo (the main job, what `npm start` runs), sft, train, eval,
// report, doctor. Unusable input stops with one clear message and a non-zero exit.
import { SteprlError } from '../errors';
import { UsageError } from './args';
import { runDemo } from './commands/demo';
import { runEval } from './commands/eval';
import { runLearn } from './commands/learn';
import { runReport } from './commands/report';
import { runSft } from './commands/sft';
import { runTrain } from './commands/train';
import { doctor } from './doctor';

const HELP = `steprl <command> [options]     (steprl <command> --help for its options)

Commands:
  demo     the main job: SFT warm start, then GRPO, PPO, PSPO, PRL, PRPO and process-GRPO
           from the same start on the embedded task; held-out eval before/after; report
  sft      supervised warm start on a task's worked solutions (some deliberately flawed)
  train    reinforcement learning from a checkpoint (--algo grpo|ppo|pspo|prl|prpo|process-grpo)
  eval     held-out avg@n / pass@n, and best-of-N with the PRM, an ORM and majority voting
  learn    the learning benchmark (npm run bench:learning): every algorithm from one SFT start
           per task, over seeds; avg@8, pass@k with 95% intervals, paired differences vs GRPO
  report   one offline HTML file with the charts of a folder of runs
  doctor   the backend in use and why, SIMD level, threads, CUDA: driver, package, probe
           (--probe probes CUDA now, --json)
  help     this text
`;

async function main(argv: string[]): Promise<number> {
  const [command = 'help', ...rest] = argv;
  try {
    switch (command) {
      case 'demo': await runDemo(rest); return 0;
      case 'sft': await runSft(rest); return 0;
      case 'train': await runTrain(rest); return 0;
      case 'eval': {
        const result = await runEval(rest);
        if (result) process.stdout.write(JSON.stringify(result, null, 2) + '\n');
        return 0;
      }
      case 'learn': await runLearn(rest); return 0;
      case 'report': runReport(rest); return 0;
      case 'doctor': return doctor(rest);
      case 'help':
      case '--help':
      case '-h':
        process.stdout.write(HELP);
        return 0;
      default:
        process.stderr.write(`steprl: unknown command ${JSON.stringify(command)}\n\n${HELP}`);
        return 2;
    }
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`steprl ${error.command}: ${error.message}\n(steprl ${error.command} --help lists the options)\n`);
      return 2;
    }
    if (error instanceof SteprlError) {
      process.stderr.write(`steprl ${command}: ${error.message}\n`);
      return 1;
    }
    const e = error as Error;
    process.stderr.write(`steprl ${command}: ${e?.message ?? String(error)}\n${process.env.STEPRL_DEBUG ? `${e?.stack}\n` : '(set STEPRL_DEBUG=1 for the stack)\n'}`);
    return 1;
  }
}

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
