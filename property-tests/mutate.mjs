#!/usr/bin/env node
// Runs a command with one source file temporarily mutated, then restores the file, whatever happens.
//
//   node property-tests/mutate.mjs <file> <old> <new> -- <command…>
//
// <old> must occur exactly once in <file>; it is replaced by <new> for the duration of the
// command and put back afterwards (also on Ctrl-C). The exit status is the command's: a
// mutation is caught when it is non-zero. See "Mutations" in property-tests/README.md.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';

const [file, oldText, newText, sep, cmd, ...args] = process.argv.slice(2);
if (!file || oldText === undefined || newText === undefined || sep !== '--' || !cmd) {
  console.error('usage: node property-tests/mutate.mjs <file> <old> <new> -- <command…>');
  process.exit(2);
}
const original = readFileSync(file, 'utf8');
const count = original.split(oldText).length - 1;
if (count !== 1) {
  console.error(`mutate: ${JSON.stringify(oldText)} occurs ${count} times in ${file} (expected once); nothing changed`);
  process.exit(2);
}
const at = original.indexOf(oldText);
const restore = () => {
  const now = readFileSync(file, 'utf8');
  // Put back only the mutated text (where it was put, else its first occurrence), so
  // concurrent edits elsewhere in the file survive.
  if (now.slice(at, at + newText.length) === newText) writeFileSync(file, now.slice(0, at) + oldText + now.slice(at + newText.length));
  else if (now.includes(newText)) writeFileSync(file, now.replace(newText, oldText));
};
process.on('SIGINT', () => {
  restore();
  process.exit(130);
});
writeFileSync(file, original.replace(oldText, newText));
let status = 1;
try {
  const r = spawnSync(cmd, args, { stdio: 'inherit' });
  status = r.status ?? 1;
} finally {
  restore();
}
console.error(`mutate: ${file} restored; the command exited with ${status} (${status === 0 ? 'mutation NOT caught' : 'mutation caught'})`);
process.exit(status);
