/**
 * `fleetprov … | head`: the CLI as a child process whose standard output's reader is gone before it
 * writes. It must end quietly with status 0 (no EPIPE stack trace), and a failure that writes only to
 * standard error keeps its exit code.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { describe, test } from 'node:test';
import { exitQuietlyOnClosedPipe } from '../../src/cli/main.js';
import { fleetprovBin } from '../e2e/support.js';

/** Runs the bin with its stdout pipe closed by the reader at once; resolves to the exit status and stderr. */
function runWithClosedStdout(args: readonly string[]): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [fleetprovBin(), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    // Close the read end before node has even loaded the CLI: every write to stdout gets EPIPE.
    child.stdout.destroy();
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (t: string) => void (stderr += t));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stderr });
    });
  });
}

describe('fleetprov with a closed standard output', () => {
  for (const args of [['--help'], ['server', '--help'], ['template', 'validate', '--help']]) {
    test(`fleetprov ${args.join(' ')} | head exits 0 without a stack trace`, async () => {
      const r = await runWithClosedStdout(args);
      assert.equal(r.signal, null);
      assert.equal(r.code, 0, r.stderr);
      assert.doesNotMatch(r.stderr, /EPIPE|Unhandled|\n\s+at /);
    });
  }

  test('a failure reported on stderr only keeps its exit code', async () => {
    const r = await runWithClosedStdout(['template', 'validate', '/nonexistent/template.json']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /cannot read template \/nonexistent\/template\.json: no such file/);
  });

  test('EPIPE on stdout exits 0, on stderr is ignored; other stream errors are rethrown', () => {
    const stdout = new EventEmitter();
    const stderr = new EventEmitter();
    const exits: number[] = [];
    exitQuietlyOnClosedPipe({ stdout, stderr }, (code) => exits.push(code));
    const epipe = Object.assign(new Error('write EPIPE'), { code: 'EPIPE' });
    stderr.emit('error', epipe);
    assert.deepEqual(exits, []);
    stdout.emit('error', epipe);
    assert.deepEqual(exits, [0]);
    const other = Object.assign(new Error('write EIO'), { code: 'EIO' });
    assert.throws(() => stdout.emit('error', other), /EIO/);
    assert.throws(() => stderr.emit('error', other), /EIO/);
  });
});
