// Issue 20, the controller side, against a real sshd and the real ssh client:
// no hosts-file cell, argument or -l/-J value reaches a shell on the
// controller (a canary file proves nothing ran), on both transports;
// --transport openssh lets ssh apply its own config (Match exec with
// StrictHostKeyChecking yes refuses the unknown key); an untrusted
// ~/.ssh/config is refused at start; a sudo that echoes the password back
// leaves it in no output (report, stderr, --json, every archive entry).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { cliBuilt, readReport, runCli, type CliRun } from '../helpers/cli-sweep.js';
import { readArchive } from '../helpers/fake-ssh-server.js';
import { installSudoRules, type SudoRules } from '../helpers/sudoers.js';
import { createTestUser, setPassword, sshdAvailable, startSshd, type Sshd, type TestUser } from '../helpers/sshd.js';

const noSsh = spawnSync('ssh', ['-V']).error ? 'the ssh client is missing (openssh-client)' : undefined;
const skip = sshdAvailable() ?? noSsh ?? (existsSync('/usr/bin/sudo') ? undefined : 'sudo missing') ?? (cliBuilt ? undefined : 'the CLI is not built');
if (skip) console.error(`\n*** SKIPPING controller trust tests: ${skip} ***\n`);

const TRANSPORTS = ['ssh2', 'openssh'] as const;
// No ":" (chpasswd), no tab or newline (ps shows those as "?"); quotes, %, $ and blanks are in.
const SUDO_PASSWORD = `Echo-20 pw%s$HOME"q'x`;

describe('controller trust (issue 20)', { skip }, () => {
  let work: string;
  let sshd: Sshd;
  let user: TestUser;
  let echoOut: TestUser;
  let echoThrough: TestUser;
  let knownHosts: string;
  let sudoRules: SudoRules | undefined;

  before(async () => {
    work = mkdtempSync('/tmp/octoscan-i20c-');
    chmodSync(work, 0o755);
    user = await createTestUser('oct20-scan');
    echoOut = await createTestUser('oct20-echo1');
    echoThrough = await createTestUser('oct20-echo2');
    for (const u of [echoOut, echoThrough]) setPassword(u.name, SUDO_PASSWORD);
    sudoRules = installSudoRules('20-echo', [echoOut.name, echoThrough.name], [`${echoOut.name} ALL=(root) ALL`, `${echoThrough.name} ALL=(root) ALL`]);
    // The fake sudo comes first on the PATH of the scan user's sessions.
    sshd = await startSshd({ users: [user, echoOut, echoThrough], extraConfig: 'PermitUserEnvironment yes' });
    installFakeSudo(echoOut, ECHO_ON_STDOUT);
    installFakeSudo(echoThrough, ECHO_AND_PASS_THROUGH);
    knownHosts = join(work, 'known_hosts');
    await sshd.writeKnownHosts(knownHosts, ['127.0.0.1']);
  });
  after(async () => {
    sudoRules?.remove();
    await sshd?.stop();
    for (const u of [echoOut, echoThrough]) if (u) spawnSync('usermod', ['-p', '*', u.name]);
    for (const u of [echoOut, echoThrough]) if (u) rmSync(join(u.home, '.ssh', 'environment'), { force: true });
    if (work) rmSync(work, { recursive: true, force: true });
  });

  function installFakeSudo(u: TestUser, script: string): void {
    const bin = join(u.home, 'bin');
    mkdirSync(bin, { recursive: true });
    writeFileSync(join(bin, 'sudo'), script, { mode: 0o755 });
    mkdirSync(join(u.home, '.ssh'), { recursive: true, mode: 0o700 });
    writeFileSync(join(u.home, '.ssh', 'environment'), `PATH=${bin}:/usr/local/bin:/usr/bin:/bin\n`, { mode: 0o600 });
    for (const p of [bin, join(bin, 'sudo'), join(u.home, '.ssh'), join(u.home, '.ssh', 'environment')]) chownSync(p, u.uid, u.gid);
  }

  const cli = (args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliRun> => runCli(args, { env: { ...process.env, SSH_AUTH_SOCK: '', ...env }, killAfterMs: 180_000 });
  const explain = (r: CliRun): string => `exit ${r.code}\n--- stderr:\n${r.stderr}`;

  describe('no text from a hosts file, an argument or an option reaches a shell', () => {
    // Each case: how it is given, and the character the message must name.
    const cases = (canary: string): { name: string; hosts?: string; args: string[]; names: RegExp }[] => {
      const touch = `touch\\$IFS${canary}`;
      const hostsFile = (column: string, value: string): string => `host,port,user,${column}\n127.0.0.1,${sshd.port},${user.name},"${value.replace(/"/g, '""')}"\n`;
      return [
        { name: 'the issue\'s jump cell', hosts: hostsFile('jump', `x$IFS-oProxyCommand=${touch}@bastion`), args: [], names: /hosts-\w+\.csv:2: column "jump": .*user must not contain "\$"/ },
        { name: 'a jump cell whose host runs a command', hosts: hostsFile('jump', `${user.name}@127.0.0.1;touch${canary}`), args: [], names: /hosts-\w+\.csv:2: column "jump": .*host must not contain ";"/ },
        { name: 'a user cell for a ProxyCommand\'s %r', hosts: `host,port,user\n127.0.0.1,${sshd.port},"a\`touch${canary}\`"\n`, args: [], names: /hosts-\w+\.csv:2: column "user": .*user must not contain "`"/ },
        { name: 'a host cell', hosts: `host,port,user\n"h$(touch${canary})",${sshd.port},${user.name}\n`, args: [], names: /hosts-\w+\.csv:2: column "host": .*host must not contain "\$"/ },
        { name: '-J', args: [`${user.name}@127.0.0.1:${sshd.port}`, '-J', `x$IFS-oProxyCommand=${touch}@bastion`], names: /--jump must be .*user must not contain "\$"/ },
        { name: '-l', args: [`127.0.0.1:${sshd.port}`, '-l', `x|touch${canary}`], names: /--user "x\|touch.*": user must not contain "\|"/ },
        { name: 'a host argument', args: [`${user.name}@h&&touch${canary}:${sshd.port}`], names: /<args>: .*host must not contain "&"/ },
      ];
    };

    for (const transport of TRANSPORTS) {
      test(`each is refused at start and nothing runs (--transport ${transport})`, async () => {
        // A ProxyCommand in the user's config that uses %r and %h: the second way to a shell.
        const config = join(work, `pc-${transport}.conf`);
        writeFileSync(config, 'Host *\n  ProxyCommand /bin/sh -c "exec nc %h %p # %r"\n', { mode: 0o644 });
        const canary = join(work, `canary-${transport}-${randomBytes(3).toString('hex')}`);
        for (const c of cases(canary)) {
          const out = mkdtempSync(join(work, 'out-'));
          const args = [...c.args, '--out', out, '--transport', transport, '-i', user.keyPath, '--known-hosts', knownHosts, '--retries', '0', '-F', config, '--no-progress'];
          if (c.hosts) {
            const file = join(work, `hosts-${randomBytes(3).toString('hex')}.csv`);
            writeFileSync(file, c.hosts);
            args.push('--hosts', file);
          }
          const r = await cli(args);
          assert.equal(r.code, 1, `${c.name}: ${explain(r)}`);
          assert.match(r.stderr, c.names, `${c.name}: ${r.stderr}`);
          assert.ok(!existsSync(canary), `${c.name}: the canary was created: a shell ran it`);
        }
      });
    }

    test('a directory account (user@domain) passes the same rule', async () => {
      const out = mkdtempSync(join(work, 'out-'));
      const hosts = join(work, 'hosts-dir.csv');
      writeFileSync(hosts, `host,port,user\n127.0.0.1,${sshd.port},jdoe@corp.example.com\n`);
      const r = await cli(['--hosts', hosts, '--out', out, '-i', user.keyPath, '--known-hosts', knownHosts, '--retries', '0', '--report', join(out, 'r.csv')]);
      assert.equal(r.code, 2, explain(r));
      assert.equal(readReport(join(out, 'r.csv'))[0].class, 'auth', 'accepted at start, and refused by the server: no such account');
    });
  });

  test('--transport openssh: Match exec with StrictHostKeyChecking yes refuses the unknown host key; its User and Port are used', async () => {
    const config = join(work, 'match-exec.conf');
    writeFileSync(config, [
      'Match exec "true"',
      '  StrictHostKeyChecking yes',
      `  User ${user.name}`,
      `  Port ${sshd.port}`,
      `  IdentityFile ${user.keyPath}`,
      'Host *',
      '  StrictHostKeyChecking no',
      '  User nobody',
      '  Port 1',
      '',
    ].join('\n'), { mode: 0o644 });
    const empty = join(work, 'empty_known_hosts');
    writeFileSync(empty, '');
    const run = async (kh: string): Promise<{ r: CliRun; row: ReturnType<typeof readReport>[number] }> => {
      const out = mkdtempSync(join(work, 'out-'));
      const report = join(out, 'r.csv');
      const r = await cli(['127.0.0.1', '--transport', 'openssh', '-F', config, '--known-hosts', kh, '--out', out, '--report', report, '--retries', '0', '--no-progress']);
      return { r, row: readReport(report)[0] };
    };
    const unknown = await run(empty);
    assert.equal(unknown.row.class, 'hostkey-unknown', `${unknown.row.message}\n${unknown.r.stderr}`);
    assert.match(unknown.row.message, /Host key verification failed/);
    assert.doesNotMatch(unknown.r.stderr, /host-key-policy off|host key not verified/);
    // With the key known, ssh logs in as Match exec's User on its Port: those came from ssh, not from us.
    const known = await run(knownHosts);
    assert.equal(known.row.class, 'ok', `${known.row.message}\n${known.r.stderr}`);
    const xml = (await readArchive(known.row.archive)).get('octoscan.xml')!.toString('utf8');
    assert.match(xml, new RegExp(`<info name="login" type="S" value="${user.name}"/>`));
  });

  describe('an untrusted ~/.ssh/config is refused at start (a fresh HOME)', () => {
    for (const [what, prepare] of [
      ['group-writable', (f: string) => chmodSync(f, 0o664)],
      ['owned by another user', (f: string) => chownSync(f, 65534, 65534)],
    ] as const) {
      test(what, async () => {
        const home = mkdtempSync(join(work, 'home-'));
        mkdirSync(join(home, '.ssh'), { mode: 0o700 });
        const cfg = join(home, '.ssh', 'config');
        writeFileSync(cfg, `Host target\n  HostName 127.0.0.1\n  Port ${sshd.port}\n  StrictHostKeyChecking no\n`, { mode: 0o644 });
        prepare(cfg);
        for (const transport of TRANSPORTS) {
          const out = mkdtempSync(join(work, 'out-'));
          const r = await cli([`${user.name}@target`, '--transport', transport, '-i', user.keyPath, '--known-hosts', knownHosts, '--out', out, '--no-progress'], { HOME: home });
          assert.equal(r.code, 1, `${transport}: ${explain(r)}`);
          assert.match(r.stderr, new RegExp(`Bad owner or permissions on ${cfg.replace(/[.]/g, '\\.')}`), transport);
        }
      });
    }
  });

  for (const transport of TRANSPORTS) {
    test(`a sudo that echoes the password: it is in no output (--transport ${transport})`, async () => {
      const out = mkdtempSync(join(work, 'out-'));
      const report = join(out, 'report.csv');
      const hosts = join(work, `hosts-echo-${transport}.csv`);
      writeFileSync(hosts, `host,port,user\n127.0.0.1,${sshd.port},${echoOut.name}\n127.0.0.1,${sshd.port},${echoThrough.name}\n`);
      const pwFile = join(work, 'sudo-pw');
      writeFileSync(pwFile, `${SUDO_PASSWORD}\n`, { mode: 0o600 });
      const r = await cli([
        '--hosts', hosts, '--transport', transport, '-i', echoOut.keyPath, '-i', echoThrough.keyPath, '--known-hosts', knownHosts, '--out', out, '--report', report,
        '--sudo', '--sudo-password-file', pwFile, '--json', '-v', '--retries', '0', '--no-progress',
      ]);
      const rows = readReport(report);
      const byUser = new Map(rows.map((row) => [(row as unknown as { user: string }).user, row]));
      const refused = byUser.get(echoOut.name)!;
      const through = byUser.get(echoThrough.name)!;
      // The fake echoed on standard output before the root shell: sudo counts as refused, in sudo's (scrubbed) words.
      assert.equal(refused.class, 'sudo', `${refused.message}\n${r.stderr}`);
      assert.match(refused.message, /unexpected output before the root shell started: echo of the password: \[secret removed\]/);
      assert.equal(through.class, 'ok', `${through.message}\n${r.stderr}`);
      const outputs: [string, Buffer][] = [['stderr', Buffer.from(r.stderr)], ['stdout (--json)', Buffer.from(r.stdout)], ['report', readFileSync(report)]];
      let sawMarker = 0;
      for (const row of [refused, through]) {
        const a = await readArchive(row.archive);
        for (const e of a.entries) outputs.push([`${row.archive}: ${e.name}`, e.data]);
        const scanJson = JSON.parse(a.get('octoscan-remote/scan.json')!.toString('utf8'));
        if (row === through) {
          // It did echo: the argv of a process in ps, and the password on stderr in two writes, then as base64.
          assert.match(a.get('cmd/ps_ef')!.toString('utf8'), /argv-\[secret removed\]/);
          assert.match(scanJson.stderr, /goodbye \[secret removed\]\n\[secret removed\]/);
          sawMarker++;
        } else {
          assert.match(scanJson.sudoRefused, /\[secret removed\]/);
          assert.match(a.get('octoscan.xml')!.toString('utf8'), /\[secret removed\]/);
          sawMarker++;
        }
      }
      assert.equal(sawMarker, 2);
      const forms = [SUDO_PASSWORD, JSON.stringify(SUDO_PASSWORD).slice(1, -1), Buffer.from(SUDO_PASSWORD).toString('base64').replace(/=+$/, ''), 'Echo-20 pw'];
      for (const [where, data] of outputs) for (const f of forms) assert.ok(!data.includes(Buffer.from(f)), `${JSON.stringify(f)} in ${where}`);
    });
  }
});

// Writes what it read as the password to standard output, before any root shell: the gate sees it.
const ECHO_ON_STDOUT = `#!/bin/sh
case "$1" in -n) echo 'sudo: a password is required' >&2; exit 1;; esac
printf '%s' "$3" >&2
IFS= read -r pw
printf 'echo of the password: %s\\n' "$pw"
exit 1
`;

// Echoes the password on standard error, puts it into a process's arguments while the
// scan runs (ps), lets the real sudo go on with it, and afterwards writes it to standard
// error in two pieces and as base64.
const ECHO_AND_PASS_THROUGH = `#!/bin/sh
case "$1" in -n) echo 'sudo: a password is required' >&2; exit 1;; esac
printf '%s' "$3" >&2
IFS= read -r pw
printf 'echo: %s\\n' "$pw" >&2
sh -c 'sleep 120' "argv-$pw" </dev/null >/dev/null 2>&1 &
bg=$!
{ printf '%s\\n' "$pw"; cat; } | /usr/bin/sudo -S -p '' /bin/sh -s
rc=$?
kill $bg 2>/dev/null
half=$(printf '%s' "$pw" | cut -c1-6)
rest=$(printf '%s' "$pw" | cut -c7-)
printf 'goodbye %s' "$half" >&2
sleep 0.3
printf '%s\\n' "$rest" >&2
printf '%s' "$pw" | base64 >&2
exit $rc
`;
