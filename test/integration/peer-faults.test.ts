// Issue 10: one host can never end the sweep. Each fault the review reported
// runs in a real CLI sweep, the hostile peer first and good hosts after it, with
// the peers in a child process so that what is measured (the CLI's memory, its
// exit) is the controller's alone. Then the fuzzer: seeded random peers,
// before and after login, beside good hosts.
import assert from 'node:assert/strict';
import { readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { sweep } from '../../src/sweep/sweep.js';
import { clientKeyFile, hostSpec, scanSettings } from '../helpers/fake-ssh-server.js';
import { cliBuilt, runCli, sweepPeers, sweepProblems, type ReportRow, type Swept } from '../helpers/cli-sweep.js';
import { startHostilePeers, type PeerRequest } from '../helpers/hostile-peers.js';
import { workspace } from '../helpers/workspace.js';

const freshDir = workspace('octoscan-peer-faults-');
const skip = cliBuilt ? undefined : 'dist/ not built (npm run build)';
const MB = 1e6;

const good = (n: number): PeerRequest[] => Array.from({ length: n }, () => ({ name: 'healthy' }));

function sweepOf(requests: PeerRequest[], extra: string[] = [], opts: Parameters<typeof runCli>[1] = {}): Promise<Swept> {
  return sweepPeers(freshDir('sweep'), requests, extra, opts);
}

function assertSweepSurvived(s: Swept, goodHosts: number, why: string): void {
  assert.deepEqual(sweepProblems(s, goodHosts), [], why);
}

const rowOf = (s: Swept, label: string): ReportRow => s.rows.find((r) => r.tag === label)!;

describe('a peer that breaks SSH before login cannot crash or hang the sweep', { skip, concurrency: true }, () => {
  test('two plaintext DISCONNECTs 20 ms apart (two ssh2 errors): classified, the 5 good hosts scanned', async () => {
    const s = await sweepOf([{ name: 'double-disconnect' }, ...good(5)]);
    assertSweepSurvived(s, 5, 'double disconnect');
    const r = rowOf(s, 'double-disconnect');
    assert.equal(r.class, 'protocol');
    assert.match(r.message, /first/);
  });

  test('bytes under the encryption during authentication (bad MAC), then more bytes', async () => {
    const s = await sweepOf([{ name: 'badmac-auth' }, ...good(5)]);
    assertSweepSurvived(s, 5, 'bad MAC');
    assert.equal(rowOf(s, 'badmac-auth').class, 'protocol');
  });

  test('a peer that closes the connection as soon as it is accepted (sshd shedding load): unreachable, retried, and the sweep goes on', async () => {
    const s = await sweepOf([{ name: 'close-on-accept' }, ...good(2)], ['--retries', '1']);
    assertSweepSurvived(s, 2, 'close on accept');
    const r = rowOf(s, 'close-on-accept');
    assert.equal(r.class, 'unreachable', `${r.class}: ${r.message}`);
    assert.equal(r.phase, 'handshake');
    assert.equal(r.attempts, '2', 'worth a retry, like a reset before the banner');
  });

  for (const name of ['ff-after-banner', 'bad-kexinit', 'unknown-message']) {
    test(`${name}, and the peer never closes TCP: classified, and the CLI exits right after its summary`, async () => {
      const s = await sweepOf([{ name }, ...good(2)]);
      assertSweepSurvived(s, 2, name);
      const r = rowOf(s, name);
      assert.equal(r.class, 'protocol', `${r.class}: ${r.message}`);
    });
  }
});

describe('what a logged-in target can make the controller keep is bounded', { skip, concurrency: 2 }, () => {
  const cases: [string, RegExp][] = [
    ['warning-flood', /warning records/],
    ['entry-flood', /entr(y|ies)/],
    ['skip-flood', /skip records/],
    ['fact-flood', /fact/],
  ];
  for (const [name, message] of cases) {
    test(`${name}: the host ends as protocol with a clear message, RSS stays bounded, the others are scanned`, { timeout: 120_000 }, async () => {
      const s = await sweepOf([{ name }, ...good(3)], ['--host-timeout', '60']);
      assertSweepSurvived(s, 3, name);
      const r = rowOf(s, name);
      assert.equal(r.class, 'protocol', `${r.class}: ${r.message}`);
      assert.match(r.message, message);
      assert.match(r.message, /not running it as written/);
      console.error(`[${name}] peak RSS ${(s.run.peakRss / MB).toFixed(0)} MB, ${s.run.wallMs.toFixed(0)} ms: ${r.message}`);
      assert.ok(s.run.peakRss < 250 * MB, `peak RSS ${(s.run.peakRss / MB).toFixed(0)} MB`);
    });
  }
});

describe('a closed standard output or error stops only the printing', { skip }, () => {
  test('| head -1: every archive, the report, exit 0', async () => {
    const s = await sweepOf(good(12), ['-j', '4'], { closeStdoutAfterLines: 1 });
    assertSweepSurvived(s, 12, 'closed stdout');
    assert.equal(s.archives.length, 12);
    assert.equal(s.run.code, 0);
  });

  test('closed standard error (with a failing host, so there is a lot to say): every archive, the report, exit 2', async () => {
    const s = await sweepOf([{ name: 'double-disconnect' }, ...good(6)], ['-j', '3'], { closeStderr: true });
    assert.equal(s.run.signal, null);
    assert.equal(s.run.code, 2);
    assert.equal(s.rows.length, 7);
    assert.equal(s.archives.length, 6);
    assert.deepEqual(s.others, []);
  });

  test('--json to a closed stdout', async () => {
    const s = await sweepOf(good(6), ['--json'], { closeStdoutAfterLines: 1 });
    assertSweepSurvived(s, 6, 'closed stdout with --json');
  });
});

describe('nothing from a peer reaches a terminal or a report unescaped', { skip }, () => {
  test('a DISCONNECT text with terminal escapes, before and after login', async () => {
    const s = await sweepOf([{ name: 'escape-disconnect' }, { name: 'escape-after-login' }, ...good(1)]);
    assertSweepSurvived(s, 1, 'escapes');
    const control = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/; // newline (0x0a) separates our own lines
    assert.doesNotMatch(s.run.stderr, control, `stderr holds a raw control character: ${JSON.stringify(s.run.stderr)}`);
    for (const r of s.rows) assert.doesNotMatch(r.message, /[\x00-\x1f\x7f-\x9f]/, `report message: ${JSON.stringify(r.message)}`);
    const before = rowOf(s, 'escape-disconnect');
    assert.equal(before.class, 'protocol');
    assert.match(before.message, /\\x1b\]0;PWNED\\x07\\x1b\[2K\\x0d/, 'the text is kept, visibly escaped');
    assert.match(s.run.stderr, /FAILED protocol .*\\x1b\]0;PWNED/);
    assert.doesNotMatch(s.run.stderr, /^(\S+Z )?\s*ok root@db01/m);
  });
});

describe('after a sweep of hostile peers, nothing is left open', () => {
  test('in-process sweep: no socket, timer or handle more than before', { timeout: 60_000 }, async () => {
    const peers = await startHostilePeers([
      { name: 'double-disconnect' },
      { name: 'ff-after-banner' },
      { name: 'bad-kexinit' },
      { name: 'unknown-message' },
      { name: 'badmac-auth' },
      { name: 'escape-after-login' },
      { name: 'healthy' },
    ]);
    const dir = freshDir('handles');
    const knownHosts = path.join(dir, 'known_hosts');
    writeFileSync(knownHosts, `${peers.knownHostsLines.join('\n')}\n`);
    const count = (): Map<string, number> => {
      const m = new Map<string, number>();
      for (const r of process.getActiveResourcesInfo()) m.set(r, (m.get(r) ?? 0) + 1);
      return m;
    };
    try {
      clientKeyFile();
      const before = count();
      const outcomes = await sweep(
        peers.peers.map((p) => hostSpec(p)),
        scanSettings(dir, { knownHosts, connectTimeoutMs: 3000, authTimeoutMs: 3000, hostTimeoutMs: 8000 }),
        { parallel: 7, retries: 0, retryDelayMs: 10 },
      );
      assert.equal(outcomes.length, 7);
      assert.equal(outcomes[6].class, 'ok', outcomes[6].message);
      for (const o of outcomes.slice(0, 6)) assert.equal(o.class, 'protocol', `${o.spec.port}: ${o.class} ${o.message}`);
      // Handles close on the next turns of the event loop.
      await new Promise((r) => setTimeout(r, 200));
      const after = count();
      for (const [kind, n] of after) {
        assert.ok(n <= (before.get(kind) ?? 0), `${kind}: ${before.get(kind) ?? 0} before the sweep, ${n} after (${process.getActiveResourcesInfo().join(', ')})`);
      }
    } finally {
      peers.close();
    }
  });
});

describe('report and retry files are never written through a planted symlink', () => {
  test('a symlink at the old predictable temporary name is left alone', async () => {
    const { writeReport } = await import('../../src/sweep/report.js');
    const { writeRetryFile } = await import('../../src/hosts/retry-file.js');
    const dir = freshDir('symlink');
    const victim = path.join(dir, 'victim');
    writeFileSync(victim, 'precious\n');
    const report = path.join(dir, 'r.csv');
    const retry = path.join(dir, 'retry.csv');
    // The names the old code used: .<name>.<pid>.tmp, opened with 'w'.
    symlinkSync(victim, path.join(dir, `.r.csv.${process.pid}.tmp`));
    symlinkSync(victim, path.join(dir, `.retry.csv.${process.pid}.tmp`));
    const spec = hostSpec({ host: 'db01', port: 22 });
    await writeReport(report, [{ spec, class: 'auth', phase: 'auth', message: 'no', startedAt: new Date(), durationMs: 1, bytes: 0, warnings: 0, attempts: 1 }]);
    await writeRetryFile(retry, ['host', 'port', 'user'], [spec]);
    assert.equal(readFileSync(victim, 'utf8'), 'precious\n');
    assert.match(readFileSync(report, 'utf8'), /^host,port,user/);
    assert.match(readFileSync(retry, 'utf8'), /^host,port,user\ndb01,22,scan\n$/);
  });
});
