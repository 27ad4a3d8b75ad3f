// The framed stream between the probe script and the controller (src/probe/frames.ts).
// The golden stream was recorded once by running the real generated script on
// dash against a Debian 12 machine; its frame list was made by an independent
// Python split and checked by hand (test/golden/stream-linux.expected.json).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FrameError, FrameParser, newToken, splitStderr, STDERR_BOUNDS, type Frame } from '../../src/probe/frames.js';

const golden = join(fileURLToPath(new URL('.', import.meta.url)), '..', 'golden');
const stream = readFileSync(join(golden, 'stream-linux.bin'));
const expected = JSON.parse(readFileSync(join(golden, 'stream-linux.expected.json'), 'utf8')) as {
  token: string;
  bytes: number;
  sha256: string;
  preambleBytes: number;
  trailingBytes: number;
  frames: Record<string, unknown>[];
};
const TOKEN = expected.token;
const OTHER = '@@OCTO:fedcba9876543210fedcba9876543210@@';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** Frames as the expected file lists them: data chunks folded into their begin record. */
function fold(frames: Frame[]): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  let body: Buffer[] | undefined;
  let open: Record<string, unknown> | undefined;
  const close = (): void => {
    if (open && body) {
      const all = Buffer.concat(body);
      open.length = all.length;
      open.sha256 = sha(all);
    }
    open = undefined;
    body = undefined;
  };
  for (const f of frames) {
    if (f.type === 'data') {
      assert.ok(body, 'data frame outside an entry');
      assert.ok(f.chunk.length > 0, 'empty data frame');
      body.push(f.chunk);
      continue;
    }
    close();
    switch (f.type) {
      case 'begin':
        open = {
          type: 'begin', probe: f.probe, attempt: f.attempt, mtime: f.mtime ?? null, mode: f.mode ?? null,
          entry: f.name.toString('latin1'), length: 0, sha256: '',
        };
        body = [];
        out.push(open);
        break;
      case 'end':
        out.push({ type: 'end', rc: f.rc, more: f.more });
        break;
      case 'info':
        out.push({ type: 'info', key: f.key, value: f.value });
        break;
      case 'skip':
        out.push({ type: 'skip', probe: f.probe, reason: f.reason });
        break;
      case 'warning':
        out.push({ type: 'warning', id: f.id, message: f.message });
        break;
      case 'done':
        out.push({ type: 'done' });
        break;
    }
  }
  close();
  return out;
}

/** Feeds `input` in chunks of the sizes `next()` returns; returns frames and the parser. */
function feed(token: string, input: Buffer, next: () => number): { frames: Frame[]; parser: FrameParser } {
  const parser = new FrameParser(token);
  const frames: Frame[] = [];
  for (let i = 0; i < input.length; ) {
    const n = Math.max(1, next());
    frames.push(...parser.push(input.subarray(i, i + n)));
    i += n;
  }
  return { frames, parser };
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const rec = (token: string, fields: string): string => `\n${token} ${fields}\n`;

function parseAll(token: string, input: Buffer | string): { frames: Frame[]; parser: FrameParser } {
  const parser = new FrameParser(token);
  const frames = parser.push(Buffer.isBuffer(input) ? input : Buffer.from(input, 'latin1'));
  return { frames, parser };
}

function bodyOf(frames: Frame[]): Buffer {
  return Buffer.concat(frames.flatMap((f) => (f.type === 'data' ? [f.chunk] : [])));
}

describe('golden recorded stream (dash, Debian 12)', () => {
  it('is the recorded file', () => {
    assert.equal(stream.length, expected.bytes);
    assert.equal(sha(stream), expected.sha256);
  });

  it('parses whole into exactly the hand-checked frames', () => {
    const { frames, parser } = feed(TOKEN, stream, () => stream.length);
    assert.deepEqual(fold(frames), expected.frames);
    parser.end();
    assert.equal(parser.finished, true);
    assert.equal(parser.preambleBytes, expected.preambleBytes);
    assert.equal(parser.trailingBytes, expected.trailingBytes);
    assert.equal(parser.strayBytes, 0);
  });

  it('sanity of the expected list itself: starts with os fact, ends with Z, dpkg present', () => {
    assert.deepEqual(expected.frames[0], { type: 'info', key: 'os', value: 'Linux' });
    assert.deepEqual(expected.frames.at(-1), { type: 'done' });
    const dpkg = expected.frames.find((f) => f.probe === 'dpkg' && f.type === 'begin');
    assert.ok(dpkg && (dpkg.length as number) > 10000);
  });

  for (let size = 1; size <= 7; size++) {
    it(`gives identical frames fed in chunks of ${size} byte(s)`, () => {
      const { frames, parser } = feed(TOKEN, stream, () => size);
      assert.deepEqual(fold(frames), expected.frames);
      parser.end();
      assert.equal(parser.preambleBytes, 0);
      assert.equal(parser.trailingBytes, 0);
    });
  }

  for (const seed of [1, 2, 3, 42, 1234567]) {
    it(`gives identical frames fed in random chunk sizes (seed ${seed})`, () => {
      const rnd = mulberry32(seed);
      // Mix of tiny chunks (around delimiter boundaries) and big ones.
      const { frames, parser } = feed(TOKEN, stream, () => (rnd() < 0.5 ? 1 + Math.floor(rnd() * 80) : 1 + Math.floor(rnd() * 9000)));
      assert.deepEqual(fold(frames), expected.frames);
      parser.end();
    });
  }

  it('gives identical frames when split at every offset of every delimiter', () => {
    // Two chunks, the cut placed inside a record delimiter, for every delimiter and offset.
    const delim = Buffer.from(`\n${TOKEN} `, 'latin1');
    const cuts: number[] = [];
    for (let at = stream.indexOf(delim); at >= 0; at = stream.indexOf(delim, at + 1)) {
      for (let k = 1; k < delim.length + 3; k++) cuts.push(at + k);
    }
    assert.ok(cuts.length > 100);
    for (const cut of cuts.filter((_, i) => i % 7 === 0)) {
      let first = true;
      const { frames } = feed(TOKEN, stream, () => (first ? ((first = false), cut) : stream.length));
      assert.deepEqual(fold(frames), expected.frames, `cut at ${cut}`);
    }
  });
});

describe('FrameParser: delimiters and bodies', () => {
  it('newToken has 128 random bits in the documented shape', () => {
    const a = newToken();
    const b = newToken();
    assert.match(a, /^@@OCTO:[0-9a-f]{32}@@$/);
    assert.notEqual(a, b);
  });

  it('finds a token split across chunks at every position', () => {
    const input = Buffer.from(`${rec(TOKEN, 'B release - - release/x')}hello${rec(TOKEN, 'E 0')}${rec(TOKEN, 'Z')}`, 'latin1');
    const second = input.indexOf(`\n${TOKEN} E`);
    for (let cut = second; cut <= second + TOKEN.length + 3; cut++) {
      const parser = new FrameParser(TOKEN);
      const frames = [...parser.push(input.subarray(0, cut)), ...parser.push(input.subarray(cut))];
      assert.equal(bodyOf(frames).toString('latin1'), 'hello', `cut at ${cut}`);
      assert.deepEqual(frames.at(-2), { type: 'end', rc: 0, more: false });
      assert.deepEqual(frames.at(-1), { type: 'done' });
      parser.end();
    }
  });

  it('a body holding another token record stays body', () => {
    const forged = `before\n${OTHER} B cpuinfo - - proc/cpuinfo\nforged\n${OTHER} E 0\nafter`;
    const input = `${rec(TOKEN, 'B ps#0 - - cmd/ps_ef')}${forged}${rec(TOKEN, 'E 0 0')}${rec(TOKEN, 'Z')}`;
    const { frames, parser } = parseAll(TOKEN, input);
    assert.equal(bodyOf(frames).toString('latin1'), forged);
    assert.deepEqual(
      frames.filter((f) => f.type !== 'data').map((f) => f.type),
      ['begin', 'end', 'done'],
    );
    parser.end();
  });

  it('the token is a record wherever it stands: its newline in front is cut only where it is there; one character short is body', () => {
    // The token is secret per scan: content cannot hold it, so every occurrence is the shell's.
    const body = `x\n${TOKEN.slice(0, -1)} Z\ny`;
    const input = `${rec(TOKEN, 'B ps#0 - - cmd/ps_ef')}${body}${TOKEN} E 0 0\n${TOKEN} Z\n`;
    for (const size of [1, 3, 1000]) {
      const { frames, parser } = feed(TOKEN, Buffer.from(input, 'latin1'), () => size);
      assert.equal(bodyOf(frames).toString('latin1'), body, `chunk ${size}`);
      assert.deepEqual(frames.filter((f) => f.type !== 'data').map((f) => f.type), ['begin', 'end', 'done'], `chunk ${size}`);
      parser.end();
    }
  });

  it('the token followed by anything but a space or + is a protocol error', () => {
    for (const bad of [`\n${TOKEN}E 0\n`, `\n${TOKEN}\n`, `x${TOKEN}-K 1 1\n`]) {
      assert.throws(() => new FrameParser(TOKEN).push(Buffer.from(`${rec(TOKEN, 'B ps#0 - - cmd/ps_ef')}${bad}`, 'latin1')), FrameError, JSON.stringify(bad));
    }
  });

  it('keeps binary bodies byte for byte, including NUL, CR and lone newlines', () => {
    const body = Buffer.from([0, 1, 2, 0x0a, 0x0d, 0x0a, 0xff, 0xfe, 0x0a, 0x40, 0x40, 0x0a]);
    const input = Buffer.concat([
      Buffer.from(rec(TOKEN, 'B hyperv - 0600 hyperv/.kvp_pool_0'), 'latin1'),
      body,
      Buffer.from(rec(TOKEN, 'E 0') + rec(TOKEN, 'Z'), 'latin1'),
    ]);
    for (let size = 1; size <= 5; size++) {
      const { frames } = feed(TOKEN, input, () => size);
      assert.deepEqual(bodyOf(frames), body);
      const begin = frames.find((f) => f.type === 'begin');
      assert.deepEqual(begin, { type: 'begin', probe: 'hyperv', attempt: 0, mtime: undefined, mode: 0o600, name: Buffer.from('hyperv/.kvp_pool_0') });
    }
  });

  it('an empty body gives no data frame', () => {
    const { frames } = parseAll(TOKEN, `${rec(TOKEN, 'B who#0 - - cmd/who')}${rec(TOKEN, 'E 0 0')}${rec(TOKEN, 'Z')}`);
    assert.deepEqual(frames.map((f) => f.type), ['begin', 'end', 'done']);
  });

  it('parses every record type and field', () => {
    const input = [
      rec(TOKEN, 'I tz +0100'),
      rec(TOKEN, 'I libc'), // empty value
      rec(TOKEN, 'I login Jürgen Müller'),
      rec(TOKEN, "W 1001 add_file cannot read '/etc/oratab': file does not exist"),
      rec(TOKEN, 'S udevadm-dmi not-found:udevadm'),
      rec(TOKEN, 'B last#1 - - cmd/last'),
      rec(TOKEN, 'E 0 0'),
      rec(TOKEN, 'B release 1700000000 0644 release/name with spaces'),
      rec(TOKEN, 'E 0'),
      rec(TOKEN, 'B ps#0 x 99 cmd/ps_ef'), // unparseable mtime and mode: absent
      rec(TOKEN, 'E 141 1'),
      rec(TOKEN, 'B ps#1 - - cmd/ps_ef'),
      rec(TOKEN, 'E'), // empty status: a failure
      rec(TOKEN, 'Z'),
    ].join('');
    const { frames } = parseAll(TOKEN, Buffer.from(input, 'utf8'));
    assert.deepEqual(frames, [
      { type: 'info', key: 'tz', value: '+0100' },
      { type: 'info', key: 'libc', value: '' },
      { type: 'info', key: 'login', value: 'Jürgen Müller' },
      { type: 'warning', id: 1001, message: "add_file cannot read '/etc/oratab': file does not exist" },
      { type: 'skip', probe: 'udevadm-dmi', reason: 'not-found:udevadm' },
      { type: 'begin', probe: 'last', attempt: 1, mtime: undefined, mode: undefined, name: Buffer.from('cmd/last') },
      { type: 'end', rc: 0, more: false },
      { type: 'begin', probe: 'release', attempt: 0, mtime: 1700000000, mode: 0o644, name: Buffer.from('release/name with spaces') },
      { type: 'end', rc: 0, more: false },
      { type: 'begin', probe: 'ps', attempt: 0, mtime: undefined, mode: undefined, name: Buffer.from('cmd/ps_ef') },
      { type: 'end', rc: 141, more: true },
      { type: 'begin', probe: 'ps', attempt: 1, mtime: undefined, mode: undefined, name: Buffer.from('cmd/ps_ef') },
      { type: 'end', rc: 255, more: false },
      { type: 'done' },
    ]);
  });

  it('keeps raw (non-UTF-8) bytes of an entry name', () => {
    const input = Buffer.concat([
      Buffer.from(`\n${TOKEN} B release - - release/`, 'latin1'),
      Buffer.from([0xff, 0xc3, 0x28]),
      Buffer.from(`\n${rec(TOKEN, 'E 0')}${rec(TOKEN, 'Z')}`, 'latin1'),
    ]);
    const { frames } = parseAll(TOKEN, input);
    const begin = frames[0] as Extract<Frame, { type: 'begin' }>;
    assert.deepEqual(begin.name, Buffer.from([...Buffer.from('release/'), 0xff, 0xc3, 0x28]));
  });

  it(
    'does not keep a view of a chunk the caller reuses after push() returns',
    () => {
      const input = Buffer.from(`${rec(TOKEN, 'I os Linux')}${rec(TOKEN, 'B ps#0 - - cmd/ps_ef')}hello world${rec(TOKEN, 'E 0 0')}${rec(TOKEN, 'Z')}`);
      for (let size = 1; size <= 9; size++) {
        const parser = new FrameParser(TOKEN);
        const frames: Frame[] = [];
        const scratch = Buffer.alloc(size);
        for (let i = 0; i < input.length; i += size) {
          const n = input.copy(scratch, 0, i, i + size);
          frames.push(...parser.push(scratch.subarray(0, n)));
        }
        assert.deepEqual(frames.filter((f) => f.type !== 'data'), [
          { type: 'info', key: 'os', value: 'Linux' },
          { type: 'begin', probe: 'ps', attempt: 0, mtime: undefined, mode: undefined, name: Buffer.from('cmd/ps_ef') },
          { type: 'end', rc: 0, more: false },
          { type: 'done' },
        ], `chunk ${size}`);
        assert.equal(bodyOf(frames).toString(), 'hello world', `chunk ${size}`);
      }
    },
  );

  it('holds at most a delimiter of body in memory whatever the body size', () => {
    const parser = new FrameParser(TOKEN);
    parser.push(Buffer.from(rec(TOKEN, 'B dpkg#0 - - dpkg/installed.txt'), 'latin1'));
    let received = 0;
    const chunk = Buffer.alloc(64 * 1024, 0x0a); // all newlines: each could start a delimiter
    for (let i = 0; i < 64; i++) {
      for (const f of parser.push(chunk)) if (f.type === 'data') received += f.chunk.length;
      const pending = (parser as unknown as { pending: Buffer }).pending;
      assert.ok(pending.length < TOKEN.length + 2, `pending ${pending.length} bytes`);
    }
    assert.ok(received >= 64 * chunk.length - TOKEN.length - 2);
  });
});

describe('FrameParser: noise and stream ends', () => {
  it('counts login-shell noise before the first record', () => {
    const noise = 'Last login: Mon Nov 24 19:45:45 2026 from 10.0.0.1\nWelcome!\n\n';
    const input = `${noise}${rec(TOKEN, 'I os Linux')}${rec(TOKEN, 'Z')}`;
    for (const size of [1, 2, 5, 10000]) {
      const { frames, parser } = feed(TOKEN, Buffer.from(input), () => size);
      assert.equal(parser.preambleBytes, Buffer.byteLength(noise), `chunk ${size}`);
      assert.deepEqual(frames, [{ type: 'info', key: 'os', value: 'Linux' }, { type: 'done' }]);
      parser.end();
    }
  });

  it('counts stray bytes between records and never turns them into data', () => {
    const input = `${rec(TOKEN, 'I os Linux')}stray!${rec(TOKEN, 'S scsi absent')}${rec(TOKEN, 'Z')}`;
    const { frames, parser } = parseAll(TOKEN, input);
    assert.equal(parser.strayBytes, 'stray!'.length);
    assert.equal(frames.some((f) => f.type === 'data'), false);
  });

  it('counts bytes after Z as trailing, in the same chunk and in later ones', () => {
    const input = `${rec(TOKEN, 'I os Linux')}${rec(TOKEN, 'Z')}logout\n`;
    const { frames, parser } = parseAll(TOKEN, input);
    assert.deepEqual(frames.at(-1), { type: 'done' });
    assert.equal(parser.trailingBytes, 'logout\n'.length);
    assert.deepEqual(parser.push(Buffer.from(`${rec(TOKEN, 'B ps#0 - - cmd/ps_ef')}abc`)), []);
    assert.equal(parser.trailingBytes, 'logout\n'.length + rec(TOKEN, 'B ps#0 - - cmd/ps_ef').length + 3);
    parser.end();
    for (let size = 1; size <= 4; size++) {
      const f = feed(TOKEN, Buffer.from(input), () => size);
      assert.equal(f.parser.trailingBytes, 'logout\n'.length, `chunk ${size}`);
    }
  });

  it('end() with no output at all throws FrameError', () => {
    const parser = new FrameParser(TOKEN);
    assert.throws(() => parser.end(), FrameError);
    const p2 = new FrameParser(TOKEN);
    p2.push(Buffer.from('motd only\n'));
    assert.throws(() => p2.end(), FrameError);
  });

  it('end() before Z throws FrameError, wherever the stream stops', () => {
    const full = `${rec(TOKEN, 'I os Linux')}${rec(TOKEN, 'B ps#0 - - cmd/ps_ef')}body${rec(TOKEN, 'E 0 0')}${rec(TOKEN, 'Z')}`;
    const zAt = full.lastIndexOf(`\n${TOKEN} Z`);
    for (let cut = 1; cut <= zAt + TOKEN.length + 3; cut++) {
      const parser = new FrameParser(TOKEN);
      parser.push(Buffer.from(full.slice(0, cut)));
      assert.throws(() => parser.end(), FrameError, `cut at ${cut}`);
    }
    // the Z header without its newline is not a finished record either
    const parser = new FrameParser(TOKEN);
    parser.push(Buffer.from(full.slice(0, -1)));
    assert.equal(parser.finished, false);
    assert.throws(() => parser.end(), FrameError);
  });
});

describe('FrameParser: malformed records throw FrameError', () => {
  const bad: [string, string][] = [
    ['unknown type', 'X something'],
    ['lower-case type', 'b ps#0 - - cmd/ps_ef'],
    ['type glued to a field', 'B2 ps - - cmd/ps_ef'],
    ['probe id with upper case', 'B Bad_Probe - - cmd/x'],
    ['probe id with a slash', 'B ../ps - - cmd/x'],
    ['probe id with a non-numeric attempt', 'B ps#x - - cmd/ps_ef'],
    ['begin with too few fields', 'B ps#0 - -'],
    ['warning without a numeric id', 'W abc message'],
    ['warning with a six-digit id', 'W 100000 message'],
    ['info with a bad key', 'I Bad.Key value'],
    ['empty record', ''],
  ];
  for (const [what, fields] of bad) {
    it(what, () => {
      const parser = new FrameParser(TOKEN);
      assert.throws(() => parser.push(Buffer.from(`${rec(TOKEN, fields)}${rec(TOKEN, 'Z')}`)), FrameError);
    });
  }

  it('over-long header arriving in small chunks', () => {
    const parser = new FrameParser(TOKEN);
    parser.push(Buffer.from(`\n${TOKEN} B ps#0 - - `));
    const big = Buffer.alloc(4096, 0x61);
    assert.throws(() => {
      for (let i = 0; i < 20; i++) parser.push(big);
    }, FrameError);
  });

  it('over-long header without a newline arriving in one chunk', () => {
    const parser = new FrameParser(TOKEN);
    assert.throws(() => parser.push(Buffer.concat([Buffer.from(`\n${TOKEN} W 9001 `), Buffer.alloc(70000, 0x61)])), FrameError);
  });

  it(
    'over-long header (70000 bytes) is refused however it is chunked, even when its newline is in the same chunk',
    () => {
      const input = Buffer.concat([Buffer.from(`\n${TOKEN} B dpkg#0 - - `), Buffer.alloc(70000, 0x61), Buffer.from(`\n${rec(TOKEN, 'E 0 0')}${rec(TOKEN, 'Z')}`)]);
      for (const size of [input.length, 4096]) {
        assert.throws(() => feed(TOKEN, input, () => size), FrameError, `chunk ${size}`);
      }
    },
  );
});

describe('splitStderr: the commands\' standard error heads, framed on the script\'s stderr', () => {
  const t = newToken();
  it('separates each probe\'s head from the shell\'s own stderr', () => {
    const text = `sh: noise\n\n${t} P hostnamectl#0\nFailed to connect to bus\n\n${t} p\nmore noise\n\n${t} P ipcs#0\n\n${t} p\n`;
    const r = splitStderr(text, t);
    assert.equal(r.own, 'sh: noise\nmore noise\n');
    assert.deepEqual([...r.probes], [['hostnamectl#0', 'Failed to connect to bus\n']]);
  });
  it('is bounded against a forged stream: heads cut, probe count capped, bad names dropped', () => {
    const many = Array.from({ length: STDERR_BOUNDS.probes + 50 }, (_, i) => `\n${t} P p${i}#0\n${'x'.repeat(10_000)}\n${t} p\n`).join('');
    const r = splitStderr(`${many}\n${t} P bad/name\nx\n${t} p\n`, t);
    assert.equal(r.probes.size, STDERR_BOUNDS.probes);
    for (const h of r.probes.values()) assert.equal(h.length, STDERR_BOUNDS.headBytes);
    assert.equal(r.probes.has('bad/name'), false);
  });
  it('an unterminated section ends at the end of the stream', () => {
    const r = splitStderr(`\n${t} P rpm#0\nrpmdb: lock`, t);
    assert.deepEqual([...r.probes], [['rpm#0', 'rpmdb: lock']]);
    assert.equal(r.own, '');
  });
});
