import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  addKnownHostEntry,
  appendKnownHost,
  decideHostKey,
  DEFAULT_HOST_KEY_ALGORITHMS,
  hostKeyAlgorithms,
  fingerprint,
  hostKeyMessage,
  hostPattern,
  keyTypeOf,
  knownKeyTypes,
  loadKnownHosts,
  parseKnownHosts,
  type HashedHost,
} from '../../src/transport/known-hosts.js';

const run = promisify(execFile);

interface Key {
  pub: string; // "type base64" as it appears in known_hosts
  blob: Buffer;
  pubFile: string;
}

let dir: string;
const keys: Record<'ed1' | 'ed2' | 'rsa' | 'ecdsa', Key> = {} as never;

async function genKey(name: string, type: string, bits?: string): Promise<Key> {
  const file = join(dir, name);
  await run('ssh-keygen', ['-q', '-t', type, ...(bits ? ['-b', bits] : []), '-N', '', '-C', name, '-f', file]);
  const text = await readFile(`${file}.pub`, 'utf8');
  const [t, b64] = text.trim().split(' ');
  return { pub: `${t} ${b64}`, blob: Buffer.from(b64, 'base64'), pubFile: `${file}.pub` };
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'known-hosts-test-'));
  keys.ed1 = await genKey('ed1', 'ed25519');
  keys.ed2 = await genKey('ed2', 'ed25519');
  keys.rsa = await genKey('rsa', 'rsa', '2048');
  keys.ecdsa = await genKey('ecdsa', 'ecdsa', '256');
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const decide = (text: string, host: string, port: number, blob: Buffer) =>
  decideHostKey(parseKnownHosts(text, 'kh'), host, port, blob);

describe('hostPattern', () => {
  test('bare host for port 22, bracketed otherwise (IPv6 included)', () => {
    assert.equal(hostPattern('example.com', 22), 'example.com');
    assert.equal(hostPattern('127.0.0.1', 2222), '[127.0.0.1]:2222');
    assert.equal(hostPattern('::1', 22), '::1');
    assert.equal(hostPattern('::1', 2222), '[::1]:2222');
  });
});

describe('keyTypeOf and fingerprint', () => {
  test('key type read from the blob', () => {
    assert.equal(keyTypeOf(keys.ed1.blob), 'ssh-ed25519');
    assert.equal(keyTypeOf(keys.rsa.blob), 'ssh-rsa');
    assert.equal(keyTypeOf(keys.ecdsa.blob), 'ecdsa-sha2-nistp256');
  });

  test('malformed blob throws', () => {
    assert.throws(() => keyTypeOf(Buffer.from([0, 0])));
    assert.throws(() => keyTypeOf(Buffer.from([0, 0, 0, 50, 0x61])));
  });

  test('fingerprint equals ssh-keygen -l -E sha256', async () => {
    for (const k of Object.values(keys)) {
      const { stdout } = await run('ssh-keygen', ['-l', '-E', 'sha256', '-f', k.pubFile]);
      assert.equal(fingerprint(k.blob), stdout.split(' ')[1]);
    }
  });
});

describe('parseKnownHosts', () => {
  test('plain entries with comments, blank lines, CRLF and trailing comments', () => {
    const text = [
      '# a comment',
      '',
      `host1,10.0.0.1 ${keys.ed1.pub} a trailing comment`,
      '   # indented comment',
      `\t[host2]:2222 ${keys.rsa.pub}`,
      `@revoked * ${keys.ed2.pub}`,
      `@cert-authority *.example.com ${keys.ecdsa.pub}`,
      '',
    ].join('\r\n');
    const warnings: string[] = [];
    const entries = parseKnownHosts(text, '/tmp/kh', warnings);
    assert.deepEqual(warnings, []);
    assert.equal(entries.length, 4);
    assert.deepEqual(
      entries.map((e) => [e.file, e.line, e.marker, e.hosts, e.keyType]),
      [
        ['/tmp/kh', 3, undefined, ['host1', '10.0.0.1'], 'ssh-ed25519'],
        ['/tmp/kh', 5, undefined, ['[host2]:2222'], 'ssh-rsa'],
        ['/tmp/kh', 6, 'revoked', ['*'], 'ssh-ed25519'],
        ['/tmp/kh', 7, 'cert-authority', ['*.example.com'], 'ecdsa-sha2-nistp256'],
      ],
    );
    assert.ok(entries[0].key.equals(keys.ed1.blob));
    assert.ok(!('marker' in entries[0]));
  });

  test('malformed lines are skipped with warnings, good lines survive', () => {
    const b64 = keys.ed1.pub.split(' ')[1];
    const text = [
      'onlyhost',
      'host ssh-ed25519',
      'host ssh-ed25519 !!!notbase64!!!',
      `host ssh-rsa ${b64}`, // type text disagrees with the blob
      `@bogus host ${keys.ed1.pub}`,
      `|1|c2hvcnQ=|c2hvcnQ= ${keys.ed1.pub}`, // salt and hash not 20 bytes
      `|2|abc|def ${keys.ed1.pub}`,
      `host,,other ${keys.ed1.pub}`,
      'host ssh-ed25519 AAAA', // base64 but not a key blob
      `good ${keys.ed1.pub}`,
    ].join('\n');
    const warnings: string[] = [];
    const entries = parseKnownHosts(text, 'kh', warnings);
    assert.equal(entries.length, 1);
    assert.equal(entries[0].line, 10);
    assert.equal(warnings.length, 9);
    assert.deepEqual(
      warnings.map((w) => w.split(':').slice(0, 2).join(':')),
      ['kh:1', 'kh:2', 'kh:3', 'kh:4', 'kh:5', 'kh:6', 'kh:7', 'kh:8', 'kh:9'],
    );
    // Without a warnings list it still just skips.
    assert.equal(parseKnownHosts(text, 'kh').length, 1);
  });

  test('hashed entries produced by ssh-keygen -H', async () => {
    const file = join(dir, 'hashed-parse');
    await writeFile(file, `host1 ${keys.ed1.pub}\n`);
    await run('ssh-keygen', ['-H', '-f', file]);
    const entries = parseKnownHosts(await readFile(file, 'utf8'), file);
    assert.equal(entries.length, 1);
    const h = entries[0].hosts[0] as HashedHost;
    assert.equal(h.salt.length, 20);
    assert.equal(h.hash.length, 20);
  });
});

describe('decideHostKey', () => {
  test('plain match on port 22 reports line and fingerprint', () => {
    const d = decide(`# c\nhost1 ${keys.ed1.pub}\n`, 'host1', 22, keys.ed1.blob);
    assert.equal(d.verdict, 'match');
    assert.deepEqual(d.matchedLine, { file: 'kh', line: 2 });
    assert.equal(d.keyType, 'ssh-ed25519');
    assert.equal(d.fingerprint, fingerprint(keys.ed1.blob));
    assert.deepEqual(d.knownTypes, ['ssh-ed25519']);
  });

  test('[host]:port entries and bare entries do not stand in for each other', () => {
    const text = `[host1]:2222 ${keys.ed1.pub}\nhost2 ${keys.ed1.pub}\n`;
    assert.equal(decide(text, 'host1', 2222, keys.ed1.blob).verdict, 'match');
    assert.equal(decide(text, 'host1', 22, keys.ed1.blob).verdict, 'unknown');
    assert.equal(decide(text, 'host2', 22, keys.ed1.blob).verdict, 'match');
    assert.equal(decide(text, 'host2', 2222, keys.ed1.blob).verdict, 'unknown');
    assert.equal(decide(`[::1]:2222 ${keys.ed1.pub}\n`, '::1', 2222, keys.ed1.blob).verdict, 'match');
  });

  test('host names compare case-insensitively', () => {
    assert.equal(decide(`Host1.Example.COM ${keys.ed1.pub}\n`, 'HOST1.example.com', 22, keys.ed1.blob).verdict, 'match');
  });

  test('hashed entries match host and [host]:port but nothing else', async () => {
    const file = join(dir, 'hashed');
    await writeFile(file, `host1 ${keys.ed1.pub}\n[::1]:2222 ${keys.ed1.pub}\n[10.1.1.1]:2200 ${keys.rsa.pub}\n`);
    await run('ssh-keygen', ['-H', '-f', file]);
    const entries = await loadKnownHosts([file]);
    assert.ok(entries.every((e) => e.hosts.every((h) => typeof h !== 'string')));
    assert.equal(decideHostKey(entries, 'host1', 22, keys.ed1.blob).verdict, 'match');
    assert.equal(decideHostKey(entries, 'HOST1', 22, keys.ed1.blob).verdict, 'match');
    assert.equal(decideHostKey(entries, '::1', 2222, keys.ed1.blob).verdict, 'match');
    assert.equal(decideHostKey(entries, '10.1.1.1', 2200, keys.rsa.blob).verdict, 'match');
    assert.equal(decideHostKey(entries, 'host1', 2222, keys.ed1.blob).verdict, 'unknown');
    assert.equal(decideHostKey(entries, '::1', 22, keys.ed1.blob).verdict, 'unknown');
    assert.equal(decideHostKey(entries, 'host2', 22, keys.ed1.blob).verdict, 'unknown');
    const changed = decideHostKey(entries, 'host1', 22, keys.ed2.blob);
    assert.equal(changed.verdict, 'changed');
    assert.deepEqual(changed.matchedLine, { file, line: 1 });
  });

  test('several keys per host: each type matches its own line', () => {
    const text = `h ${keys.ed1.pub}\nh ${keys.rsa.pub}\nh ${keys.ecdsa.pub}\n`;
    for (const [k, line] of [[keys.ed1, 1], [keys.rsa, 2], [keys.ecdsa, 3]] as const) {
      const d = decide(text, 'h', 22, k.blob);
      assert.equal(d.verdict, 'match');
      assert.equal(d.matchedLine?.line, line);
      assert.deepEqual(d.knownTypes, ['ssh-ed25519', 'ssh-rsa', 'ecdsa-sha2-nistp256']);
    }
  });

  test('same type with a different key is changed; a later matching line still wins', () => {
    const d = decide(`x ${keys.rsa.pub}\nh ${keys.rsa.pub}\nh ${keys.ed1.pub}\n`, 'h', 22, keys.ed2.blob);
    assert.equal(d.verdict, 'changed');
    assert.deepEqual(d.matchedLine, { file: 'kh', line: 3 });
    assert.deepEqual(d.knownTypes, ['ssh-rsa', 'ssh-ed25519']);
    const both = decide(`h ${keys.ed1.pub}\nh ${keys.ed2.pub}\n`, 'h', 22, keys.ed2.blob);
    assert.equal(both.verdict, 'match');
    assert.equal(both.matchedLine?.line, 2);
  });

  test('unknown when only other key types are known, and they are reported', () => {
    const d = decide(`h ${keys.rsa.pub}\nh ${keys.ecdsa.pub}\nother ${keys.ed1.pub}\n`, 'h', 22, keys.ed1.blob);
    assert.equal(d.verdict, 'unknown');
    assert.equal(d.matchedLine, undefined);
    assert.deepEqual(d.knownTypes, ['ssh-rsa', 'ecdsa-sha2-nistp256']);
    assert.deepEqual(decide('', 'h', 22, keys.ed1.blob).knownTypes, []);
  });

  test('wildcards * and ?', () => {
    const text = `*.example.com ${keys.ed1.pub}\n10.0.0.? ${keys.rsa.pub}\n[*.lab]:2222 ${keys.ecdsa.pub}\n`;
    assert.equal(decide(text, 'a.example.com', 22, keys.ed1.blob).verdict, 'match');
    assert.equal(decide(text, 'example.com', 22, keys.ed1.blob).verdict, 'unknown');
    assert.equal(decide(text, 'a.example.com', 22, keys.ed2.blob).verdict, 'changed');
    assert.equal(decide(text, '10.0.0.7', 22, keys.rsa.blob).verdict, 'match');
    assert.equal(decide(text, '10.0.0.17', 22, keys.rsa.blob).verdict, 'unknown');
    assert.equal(decide(text, 'db.lab', 2222, keys.ecdsa.blob).verdict, 'match');
    assert.equal(decide(text, 'db.lab', 22, keys.ecdsa.blob).verdict, 'unknown');
    // A '.' in a pattern is literal, not a regex wildcard.
    assert.equal(decide(text, 'aXexampleYcom', 22, keys.ed1.blob).verdict, 'unknown');
  });

  test('a matching negation vetoes the line wherever it appears', () => {
    for (const hosts of ['*.example.com,!bad.example.com', '!bad.example.com,*.example.com', '!BAD.example.com,*']) {
      const text = `${hosts} ${keys.ed1.pub}\n`;
      assert.equal(decide(text, 'good.example.com', 22, keys.ed1.blob).verdict, 'match', hosts);
      const bad = decide(text, 'bad.example.com', 22, keys.ed2.blob);
      assert.equal(bad.verdict, 'unknown', hosts);
      assert.deepEqual(bad.knownTypes, []);
    }
    // A negation alone never makes a positive match.
    assert.equal(decide(`!bad ${keys.ed1.pub}\n`, 'good', 22, keys.ed1.blob).verdict, 'unknown');
  });

  test('@revoked refuses the key for any host, even one that also lists it', () => {
    const text = `h ${keys.ed1.pub}\n@revoked other.host ${keys.ed1.pub}\n`;
    const d = decide(text, 'h', 22, keys.ed1.blob);
    assert.equal(d.verdict, 'revoked');
    assert.deepEqual(d.matchedLine, { file: 'kh', line: 2 });
    assert.equal(decide(text, 'h', 22, keys.ed2.blob).verdict, 'changed');
  });

  test('@cert-authority lines do not match or conflict with plain keys', () => {
    const text = `@cert-authority h ${keys.ed1.pub}\n`;
    const d = decide(text, 'h', 22, keys.ed1.blob);
    assert.equal(d.verdict, 'unknown');
    assert.deepEqual(d.knownTypes, []);
    assert.equal(decide(text, 'h', 22, keys.ed2.blob).verdict, 'unknown');
  });
});

describe('loadKnownHosts', () => {
  test('reads files in order, missing files are empty', async () => {
    const a = join(dir, 'load-a');
    const b = join(dir, 'load-b');
    await writeFile(a, `h ${keys.ed1.pub}\n`);
    await writeFile(b, `bad line\nh ${keys.rsa.pub}\n`);
    const warnings: string[] = [];
    const entries = await loadKnownHosts([a, join(dir, 'missing'), join(dir, 'nodir', 'x'), b], warnings);
    assert.deepEqual(
      entries.map((e) => [e.file, e.line]),
      [[a, 1], [b, 2]],
    );
    assert.equal(warnings.length, 1);
    assert.ok(warnings[0].startsWith(`${b}:1:`));
  });

  test('other read errors throw naming the path', async () => {
    const d = join(dir, 'is-a-dir');
    await mkdir(d);
    await assert.rejects(loadKnownHosts([d]), (err: Error) => err.message.includes(d));
  });
});

describe('appendKnownHost', () => {
  test('creates dir 0700 and file 0600; reparse matches and ssh-keygen -F finds it', async () => {
    const sshDir = join(dir, 'fresh', '.ssh');
    const file = join(sshDir, 'known_hosts');
    await appendKnownHost(file, '127.0.0.1', 2222, keys.ed1.blob);
    await appendKnownHost(file, 'host1', 22, keys.rsa.blob);
    assert.equal((await stat(sshDir)).mode & 0o777, 0o700);
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    const text = await readFile(file, 'utf8');
    assert.equal(text, `[127.0.0.1]:2222 ${keys.ed1.pub}\nhost1 ${keys.rsa.pub}\n`);
    const entries = parseKnownHosts(text, file);
    assert.equal(decideHostKey(entries, '127.0.0.1', 2222, keys.ed1.blob).verdict, 'match');
    assert.equal(decideHostKey(entries, 'host1', 22, keys.rsa.blob).verdict, 'match');
    const { stdout } = await run('ssh-keygen', ['-F', '[127.0.0.1]:2222', '-f', file]);
    assert.match(stdout, /found: line 1/);
    assert.ok(stdout.includes(keys.ed1.pub));
    await run('ssh-keygen', ['-F', 'host1', '-f', file]);
  });

  test('adds the missing final newline of an existing file first', async () => {
    const file = join(dir, 'no-newline');
    await writeFile(file, `h ${keys.rsa.pub}`);
    await appendKnownHost(file, '::1', 2222, keys.ed1.blob);
    const text = await readFile(file, 'utf8');
    assert.equal(text, `h ${keys.rsa.pub}\n[::1]:2222 ${keys.ed1.pub}\n`);
    const entries = parseKnownHosts(text, file);
    assert.equal(entries.length, 2);
    assert.equal(decideHostKey(entries, '::1', 2222, keys.ed1.blob).verdict, 'match');
    assert.equal(decideHostKey(entries, 'h', 22, keys.rsa.blob).verdict, 'match');
    const { stdout } = await run('ssh-keygen', ['-F', '[::1]:2222', '-f', file]);
    assert.match(stdout, /found: line 2/);
  });
});

describe('hostKeyMessage', () => {
  const file = '/root/.ssh/known_hosts';

  test('unknown names host, file, offered key and the accept-new option', () => {
    const d = decideHostKey([], '127.0.0.1', 2222, keys.ed1.blob);
    assert.equal(
      hostKeyMessage(d, '127.0.0.1', 2222, file),
      `host key for [127.0.0.1]:2222 is not in ${file} (offered ssh-ed25519 ${fingerprint(keys.ed1.blob)}); ` +
        'verify it and add it, or use --host-key-policy accept-new',
    );
    const other = decideHostKey(parseKnownHosts(`h ${keys.rsa.pub}\n`, file), 'h', 22, keys.ed1.blob);
    assert.match(hostKeyMessage(other, 'h', 22, file), /it only has ssh-rsa for this host/);
  });

  test('changed names the line and the ssh-keygen -R command', () => {
    const entries = parseKnownHosts(`# x\n[127.0.0.1]:2222 ${keys.ed1.pub}\n`, file);
    const d = decideHostKey(entries, '127.0.0.1', 2222, keys.ed2.blob);
    const msg = hostKeyMessage(d, '127.0.0.1', 2222, file);
    assert.equal(
      msg,
      `HOST KEY CHANGED for [127.0.0.1]:2222: offered ssh-ed25519 ${fingerprint(keys.ed2.blob)}, ` +
        `${file} line 2 has a different ssh-ed25519 key; refusing to connect (possible man-in-the-middle). ` +
        `If the change is expected, remove the old key with: ssh-keygen -R '[127.0.0.1]:2222' -f ${file}`,
    );
    assert.ok(!msg.includes('\n'));
  });

  test('changed quotes an awkward file path', () => {
    const odd = "/tmp/my known_hosts's";
    const d = decideHostKey(parseKnownHosts(`h ${keys.ed1.pub}\n`, odd), 'h', 22, keys.ed2.blob);
    assert.ok(hostKeyMessage(d, 'h', 22, odd).endsWith(`-f '/tmp/my known_hosts'\\''s'`));
  });

  test('revoked says so and names the line', () => {
    const d = decideHostKey(parseKnownHosts(`@revoked * ${keys.ed1.pub}\n`, file), 'h', 22, keys.ed1.blob);
    const msg = hostKeyMessage(d, 'h', 22, file);
    assert.match(msg, /REVOKED/);
    assert.ok(msg.includes(`${file} line 1`));
    assert.ok(msg.includes(fingerprint(keys.ed1.blob)));
  });
});

describe('host-key algorithms offered', () => {
  test('ssh-rsa (SHA-1) is not offered by default; the types known_hosts holds for the host come first', () => {
    assert.ok(!DEFAULT_HOST_KEY_ALGORITHMS.includes('ssh-rsa'));
    assert.deepEqual(hostKeyAlgorithms(['ssh-rsa']).slice(0, 2), ['rsa-sha2-512', 'rsa-sha2-256']);
    assert.ok(!hostKeyAlgorithms(['ssh-rsa']).includes('ssh-rsa'), 'a known RSA key does not bring SHA-1 back');
    assert.equal(hostKeyAlgorithms(['ecdsa-sha2-nistp256'])[0], 'ecdsa-sha2-nistp256');
  });

  test('with the legacy list, a known RSA key prefers SHA-2 and still allows ssh-rsa', () => {
    const legacy = [...DEFAULT_HOST_KEY_ALGORITHMS, 'ssh-rsa'];
    assert.deepEqual(hostKeyAlgorithms(['ssh-rsa'], legacy).slice(0, 3), ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa']);
  });
});

describe('hashed names and keys accepted during a run', () => {
  test('the precomputed HMAC states agree with createHmac, for short, long (several blocks) and non-ASCII names', async () => {
    const { createHmac, randomBytes } = await import('node:crypto');
    const { HashedNames } = await import('../../src/transport/hashed-names.js');
    const names = ['h', 'host1.example.com', '[10.1.1.1]:2200', 'x'.repeat(55), 'y'.repeat(56), 'z'.repeat(119), `${'a.'.repeat(120)}com`, 'bücher.example'];
    const table = new HashedNames();
    names.forEach((n, i) => {
      const salt = randomBytes(20);
      table.add(salt, createHmac('sha1', salt).update(n).digest(), i);
    });
    names.forEach((n, i) => assert.deepEqual(table.lookup(n), [i], n));
    assert.deepEqual(table.lookup('nothere'), []);
    assert.deepEqual(table.lookup('HOST1.example.com'), [], 'lookups take the name as given (callers lowercase it)');
  });

  test('appendKnownHost returns the line it wrote, and addKnownHostEntry makes it count at once', async () => {
    const file = join(dir, 'accepted');
    await writeFile(file, `# c\n\nh ${keys.rsa.pub}`); // no final newline
    const entries = await loadKnownHosts([file]);
    assert.equal(decideHostKey(entries, '::1', 2222, keys.ed1.blob).verdict, 'unknown'); // the index is built now
    const e = await appendKnownHost(file, '::1', 2222, keys.ed1.blob);
    assert.deepEqual([e.file, e.line, e.hosts, e.keyType], [file, 4, ['[::1]:2222'], 'ssh-ed25519']);
    const { stdout } = await run('ssh-keygen', ['-F', '[::1]:2222', '-f', file]);
    assert.match(stdout, /found: line 4/);
    addKnownHostEntry(entries, e);
    const d = decideHostKey(entries, '::1', 2222, keys.ed1.blob);
    assert.equal(d.verdict, 'match');
    assert.deepEqual(d.matchedLine, { file, line: 4 });
    assert.deepEqual(knownKeyTypes(entries, '::1', 2222), ['ssh-ed25519']);
  });
});
