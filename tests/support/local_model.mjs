// Model directories for tests of the local engine: the demo model (the real R1 tokenizer with
// tiny random Qwen2 weights, tools/make-demo-model.sh) written into a temp dir, and broken
// copies of it built from symlinks.

import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { dsgwBinary } from './harness.mjs';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

// Whether the dsgw under test was built with the local engine (libtorch): its --help lists the
// `generate` verb. A build without libtorch serves kind = "local" backends as not usable.
export function dsgwHasEngine() {
  let help;
  try {
    help = execFileSync(dsgwBinary(), ['--help'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    help = `${err.stdout ?? ''}${err.stderr ?? ''}`;
  }
  return /^\s+generate\b/m.test(help);
}

// Writes the demo model into `dir` (a few seconds) and returns `dir`.
export async function makeDemoModel(dir) {
  await promisify(execFile)(path.join(repoRoot, 'tools', 'make-demo-model.sh'), [dir], {
    cwd: repoRoot,
    timeout: 120000,
  });
  return dir;
}

// A model dir at `dir` holding links to `files` of the model in `modelDir` (and nothing else).
export function partialModel(modelDir, dir, files) {
  mkdirSync(dir, { recursive: true });
  for (const file of files) symlinkSync(path.join(modelDir, file), path.join(dir, file));
  return dir;
}

// The added tokens of the DeepSeek-R1 chat template.
export const kBos = '<｜begin▁of▁sentence｜>';
export const kUser = '<｜User｜>';
export const kAssistant = '<｜Assistant｜>';
export const kThinkStart = '<think>';
