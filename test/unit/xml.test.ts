// octoscan.xml writing (src/archive/xml.ts, octoscan-xml.ts), checked with two
// independent parsers: fast-xml-parser, and Python's expat (strict XML 1.0,
// with the attribute-value normalisation the import's parser applies).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { el, escapeAttr, serialize } from '../../src/archive/xml.js';
import { formatDuration, LINUX_BUILD, linuxOctoscanXml, type LinuxScanFacts } from '../../src/archive/octoscan-xml.js';

const DECL = '<?xml version="1.0" encoding="utf-8"?>';

// The options of the brief. With fast-xml-parser 5.12 they leave numeric character
// references (&#9;) undecoded: numeric references are only decoded with htmlEntities on.
const strictOptions = { ignoreAttributes: false, attributeNamePrefix: '', processEntities: true, htmlEntities: false, trimValues: false, parseAttributeValue: false } as const;
const parser = new XMLParser(strictOptions);
// Same, with numeric references decoded (htmlEntities also enables them). Our writer never
// emits a named HTML entity, and "&amp;nbsp;" is checked below to stay text.
const refParser = new XMLParser({ ...strictOptions, htmlEntities: true });

/** The real interpreter behind python3 (a pyenv shim costs half a second per start). */
const PYTHON = ((): string | undefined => {
  const r = spawnSync('python3', ['-c', 'import sys, xml.etree.ElementTree; print(sys.executable)'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
})();
const havePython = PYTHON !== undefined;

type Tree = [string, [string, string][]][];

/**
 * Every element's attributes in document order, parsed by Python's expat, for many
 * documents in one python run; an entry is an Error when expat refused that document.
 */
function expatMany(docs: string[]): (Tree | Error)[] {
  const code = `
import sys, json, xml.etree.ElementTree as ET
out = []
for d in json.loads(sys.stdin.buffer.read().decode('utf-8')):
    try:
        root = ET.fromstring(d.encode('utf-8'))
        out.append([[e.tag, list(e.attrib.items())] for e in root.iter()])
    except ET.ParseError as err:
        out.append(str(err))
print(json.dumps(out))
`;
  // JSON.stringify escapes lone surrogates (\ud800), but our documents never hold any.
  const r = spawnSync(PYTHON!, ['-c', code], { input: Buffer.from(JSON.stringify(docs), 'utf8'), encoding: 'utf8', maxBuffer: 64 << 20 });
  assert.equal(r.status, 0, r.stderr);
  return (JSON.parse(r.stdout) as (Tree | string)[]).map((x) => (typeof x === 'string' ? new Error(`expat refused the XML: ${x}`) : x));
}

function expat(xml: string): Tree {
  const [t] = expatMany([xml]);
  if (t instanceof Error) throw t;
  return t;
}

/** What XML 1.0 can hold (Char production); everything else must come back as U+FFFD. */
function xmlCanHold(cp: number): boolean {
  return cp === 0x9 || cp === 0xa || cp === 0xd || (cp >= 0x20 && cp <= 0xd7ff) || (cp >= 0xe000 && cp <= 0xfffd) || (cp >= 0x10000 && cp <= 0x10ffff);
}
function expectedText(s: string): string {
  let out = '';
  // for..of walks code points; a lone surrogate comes out on its own.
  for (const ch of s) out += xmlCanHold(ch.codePointAt(0)!) ? ch : '\uFFFD';
  return out;
}

const controls = Array.from({ length: 0x20 }, (_, i) => String.fromCharCode(i)).join('');
const VALUES: [string, string][] = [
  ['plain', 'hello world'],
  ['empty', ''],
  ['markup', '<octoscan uuid="x"/> & </a> >'],
  ['entities as text', '&amp; &lt; &#9; &#x41; &nbsp; &unknown;'],
  ['quotes', `it's "quoted" ''""`],
  ['tab CR LF', 'a\tb\rc\nd\r\ne\n'],
  ['leading and trailing spaces', '  padded  '],
  ['all C0 controls', controls],
  ['NUL inside', 'a\u0000b'],
  ['DEL and C1 (allowed)', '\u007f\u0080\u009f'],
  ['lone high surrogate', 'x\uD800y'],
  ['lone low surrogate', 'x\uDC00y'],
  ['reversed pair', '\uDE00\uD83D'],
  ['U+FFFE and U+FFFF', 'a\uFFFEb\uFFFFc'],
  ['U+FFFD itself', '\uFFFD'],
  ['emoji', 'scan 😀 ✓ 🇩🇪'],
  ['astral max', '\u{10FFFF}'],
  ['non-ASCII', 'Jürgen Ørsted 日本語 Ελληνικά'],
  ['python repr message', "add_command_output exception ['hostnamectl', 'status']: CalledProcessError(1, ['hostnamectl', 'status'])"],
  ['CDATA end', ']]>'],
];

describe('escapeAttr / serialize round-trip', () => {
  const docOf = (value: string): string => serialize(el('root', [['v', value], ['w', 'second']], [el('child', [['v', value]])]), DECL);
  // one python run for every value below
  let strict: (Tree | Error)[] | undefined;
  const strictTree = (i: number): Tree | Error => {
    strict ??= expatMany(VALUES.map(([, v]) => docOf(v)));
    return strict[i];
  };

  VALUES.forEach(([what, value], index) => {
    it(what, () => {
      const xml = docOf(value);
      assert.equal(XMLValidator.validate(xml), true, 'XMLValidator');
      // Nothing XML 1.0 forbids, anywhere in the document.
      for (const ch of xml) assert.ok(xmlCanHold(ch.codePointAt(0)!), `raw U+${ch.codePointAt(0)!.toString(16)} in the document`);
      // No raw tab, CR or LF inside an attribute value: a parser would normalise them to spaces.
      for (const m of xml.matchAll(/="([^"]*)"/g)) assert.doesNotMatch(m[1], /[\t\r\n<]/);
      const want = expectedText(value);
      const parsed = refParser.parse(xml) as { root: { v: string; w: string; child: { v: string } } };
      assert.equal(parsed.root.v, want);
      assert.equal(parsed.root.child.v, want);
      assert.equal(parsed.root.w, 'second');
      if (havePython) {
        const tree = strictTree(index);
        if (tree instanceof Error) throw tree;
        assert.deepEqual(tree, [['root', [['v', want], ['w', 'second']]], ['child', [['v', want]]]]);
      }
    });
  });

  it('the brief\'s parser options give the text back for values without character references', () => {
    for (const value of ['<&>"\'', 'Jürgen 😀', '  x  ', 'a&amp;b']) {
      const xml = serialize(el('r', [['v', value]]), DECL);
      assert.equal((parser.parse(xml) as { r: { v: string } }).r.v, value);
    }
  });

  it('python3 expat is there to check strictly (else the strict half of these tests is skipped)', (t) => {
    if (!havePython) {
      console.error('xml.test: SKIPPED strict expat checks: python3 not installed');
      t.skip('python3 not installed');
      return;
    }
    // and it does refuse what XML cannot hold, so the checks above mean something
    assert.throws(() => expat('<a v="\u0001"/>'));
    assert.throws(() => expat('<a v="a<b"/>'));
  });

  it('escapes exactly as the writer promises', () => {
    assert.equal(escapeAttr('a&b<c>d"e\tf\ng\rh'), 'a&amp;b&lt;c&gt;d&quot;e&#9;f&#10;g&#13;h');
    assert.equal(escapeAttr("it's"), "it's");
    assert.equal(escapeAttr('\u0000\u0008\u000b\u000c\u001f'), '\uFFFD'.repeat(5));
    assert.equal(escapeAttr('\uD800'), '\uFFFD');
    assert.equal(escapeAttr('\uD83D\uDE00'), '\uD83D\uDE00');
    assert.equal(escapeAttr('\uFFFE\uFFFF'), '\uFFFD\uFFFD');
  });

  it('random strings of any UTF-16 units round-trip (property)', () => {
    let seed = 12345;
    const rnd = (): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
    const pool = [0x0, 0x9, 0xa, 0xd, 0x1f, 0x20, 0x22, 0x26, 0x27, 0x3c, 0x3e, 0x7f, 0xe9, 0xd7ff, 0xd800, 0xdbff, 0xdc00, 0xdfff, 0xe000, 0xfffd, 0xfffe, 0xffff];
    const docs: string[] = [];
    const wants: string[] = [];
    for (let n = 0; n < 300; n++) {
      let s = '';
      const len = Math.floor(rnd() * 12);
      for (let i = 0; i < len; i++) s += String.fromCharCode(rnd() < 0.7 ? pool[Math.floor(rnd() * pool.length)] : Math.floor(rnd() * 0x10000));
      const xml = serialize(el('r', [['v', s]]), DECL);
      assert.equal(XMLValidator.validate(xml), true);
      assert.equal((refParser.parse(xml) as { r: { v: string } }).r.v, expectedText(s), JSON.stringify(s));
      docs.push(xml);
      wants.push(expectedText(s));
    }
    if (havePython) {
      // one expat run for all: a document with one element per value
      const all = `${DECL}\n<all>${docs.map((d) => d.slice(DECL.length + 1).trim()).join('')}</all>`;
      const tree = expat(all);
      assert.deepEqual(tree.slice(1).map(([, attrs]) => attrs[0][1]), wants);
    }
  });
});

describe('serialize layout', () => {
  it('four-space indents, self-closing empty elements, declaration first, trailing newline', () => {
    const xml = serialize(el('a', [['x', '1']], [el('b', [], [el('c', [['y', '2']])]), el('d')]), DECL);
    assert.equal(xml, `${DECL}\n<a x="1">\n    <b>\n        <c y="2"/>\n    </b>\n    <d/>\n</a>\n`);
  });
});

// Spec section 2, the recorded example, copied by hand (indent of the markdown block removed).
const SPEC_EXAMPLE = `<?xml version="1.0" encoding="utf-8"?>
<octoscan uuid="<uuid>" python="3.11.2" platform="Linux-6.18.44-fc-v782-x86_64-with-glibc2.36" build="1.10.9.41 2024-06-13" fqdn="localhost" timestamp="2026-11-24T19:45:45">
    <user>
        <info name="user_id" type="I" value="1001"/>
        <info name="effective_user_id" type="I" value="1001"/>
        <info name="login" type="S" value="scanuser"/>
    </user>
    <operating_system>
        <info name="platform" type="S" value="Linux-6.18.44-fc-v782-x86_64-with-glibc2.36"/>
    </operating_system>
    <configuration>
        <info name="tag" type="S" value=""/>
    </configuration>
    <warning id="1004" message="add_command_output exception ['hostnamectl', 'status']: CalledProcessError(1, ['hostnamectl', 'status'])"/>
    <warning id="1004" message="add_command_output exception ['systemctl', 'list-units', '-all', '--no-page']: CalledProcessError(1, ['systemctl', 'list-units', '-all', '--no-page'])"/>
    <octoscan>
        <info name="performance" type="S" value="0:00:01.415411"/>
    </octoscan>
</octoscan>
`;

const UUID = '3f2504e0-4f89-41d3-9a0c-0305e82c3301';
const exampleFacts: LinuxScanFacts = {
  uuid: UUID,
  python: '3.11.2',
  platform: 'Linux-6.18.44-fc-v782-x86_64-with-glibc2.36',
  fqdn: 'localhost',
  timestamp: '2026-11-24T19:45:45',
  userId: '1001',
  effectiveUserId: '1001',
  login: 'scanuser',
  tag: '',
  warnings: [
    { id: 1004, message: "add_command_output exception ['hostnamectl', 'status']: CalledProcessError(1, ['hostnamectl', 'status'])" },
    { id: 1004, message: "add_command_output exception ['systemctl', 'list-units', '-all', '--no-page']: CalledProcessError(1, ['systemctl', 'list-units', '-all', '--no-page'])" },
  ],
  durationMs: 1415.411,
};

describe('linuxOctoscanXml (spec section 2)', () => {
  it('the hand copy of the example matches the spec file (when the spec is there)', (t) => {
    const spec = '/work/shared/spec/octoscan-archive.md';
    if (!existsSync(spec)) {
      t.skip('spec file not present');
      return;
    }
    const text = readFileSync(spec, 'utf8');
    const start = text.indexOf('    <?xml version="1.0" encoding="utf-8"?>\n    <octoscan uuid="<uuid>"');
    assert.ok(start >= 0);
    const block = text.slice(start).split('\n\n')[0];
    assert.equal(block.split('\n').map((l) => l.slice(4)).join('\n') + '\n', SPEC_EXAMPLE);
  });

  it('reproduces the recorded example byte for byte', () => {
    assert.equal(linuxOctoscanXml(exampleFacts), SPEC_EXAMPLE.replace('<uuid>', UUID));
  });

  it('root attributes in the spec order; children in the spec order', () => {
    const xml = linuxOctoscanXml({ ...exampleFacts, tag: 'dc1', warnings: [{ id: 9001, message: 'Exception: x' }] });
    const root = /^<octoscan ([^>]*)>$/m.exec(xml)![1];
    assert.deepEqual([...root.matchAll(/(\w+)="/g)].map((m) => m[1]), ['uuid', 'python', 'platform', 'build', 'fqdn', 'timestamp']);
    assert.equal(LINUX_BUILD, '1.10.9.41 2024-06-13');
    const parsed = parser.parse(xml) as { octoscan: Record<string, unknown> };
    const o = parsed.octoscan as {
      build: string;
      user: { info: { name: string; type: string; value: string }[] };
      operating_system: { info: { name: string; type: string; value: string } };
      configuration: { info: { name: string; type: string; value: string } };
      warning: { id: string; message: string };
      octoscan: { info: { name: string; type: string; value: string } };
    };
    assert.equal(o.build, '1.10.9.41 2024-06-13');
    assert.deepEqual(o.user.info.map((i) => [i.name, i.type, i.value]), [['user_id', 'I', '1001'], ['effective_user_id', 'I', '1001'], ['login', 'S', 'scanuser']]);
    assert.deepEqual(o.operating_system.info, { name: 'platform', type: 'S', value: exampleFacts.platform });
    assert.deepEqual(o.configuration.info, { name: 'tag', type: 'S', value: 'dc1' });
    assert.deepEqual(o.warning, { id: '9001', message: 'Exception: x' });
    assert.deepEqual(o.octoscan.info, { name: 'performance', type: 'S', value: '0:00:01.415411' });
    // element order: user, operating_system, configuration, warning*, octoscan
    const order = [...xml.matchAll(/^ {4}<(\w+)/gm)].map((m) => m[1]);
    assert.deepEqual(order, ['user', 'operating_system', 'configuration', 'warning', 'octoscan']);
  });

  it('no warnings: no warning element; info attributes are name, type, value in that order', () => {
    const xml = linuxOctoscanXml({ ...exampleFacts, warnings: [] });
    assert.doesNotMatch(xml, /<warning/);
    for (const m of xml.matchAll(/<info ([^/]*)\/>/g)) assert.deepEqual([...m[1].matchAll(/(\w+)="/g)].map((x) => x[1]), ['name', 'type', 'value']);
  });

  it('hostile values from the target stay inside their attributes', () => {
    const evil = '"/><injected a="1';
    const xml = linuxOctoscanXml({ ...exampleFacts, fqdn: evil, login: `${evil}\u0001\n`, warnings: [{ id: 1004, message: `${evil}\u0000` }] });
    assert.equal(XMLValidator.validate(xml), true);
    assert.doesNotMatch(xml, /<injected/);
    const o = (refParser.parse(xml) as { octoscan: { fqdn: string; user: { info: { value: string }[] }; warning: { message: string } } }).octoscan;
    assert.equal(o.fqdn, evil);
    assert.equal(o.user.info[2].value, `${evil}\uFFFD\n`);
    assert.equal(o.warning.message, `${evil}\uFFFD`);
    if (havePython) expat(xml);
  });
});

describe('formatDuration: Python str(timedelta) as H:MM:SS[.ffffff]', () => {
  const cases: [number, string][] = [
    [0, '0:00:00'],
    [1500, '0:00:01.500000'],
    [2000, '0:00:02'],
    [3725000.001, '1:02:05.000001'],
    [1415.411, '0:00:01.415411'],
    [59999.999, '0:00:59.999999'],
    [60000, '0:01:00'],
    [3600000, '1:00:00'],
    [36000000.5, '10:00:00.000500'],
    [0.001, '0:00:00.000001'],
  ];
  for (const [ms, want] of cases) {
    it(`${ms} ms -> ${want}`, () => assert.equal(formatDuration(ms), want));
  }

  it('negative durations (a clock step) clamp to zero', () => {
    assert.equal(formatDuration(-5), '0:00:00');
  });

  it('agrees with real Python for many durations under a day', (t) => {
    if (!havePython) {
      t.skip('python3 not installed');
      return;
    }
    let seed = 7;
    const rnd = (): number => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32);
    // whole microseconds (as performance.now() differences give after rounding), no half-microsecond ties
    const values = Array.from({ length: 400 }, (_, i) => {
      const micros = i < 50 ? i * 1000 : Math.floor(rnd() * (i % 2 ? 1e7 : 8.6e10));
      return micros / 1000;
    });
    const r = spawnSync(PYTHON!, ['-c', 'import sys, datetime\nfor l in sys.stdin: print(datetime.timedelta(microseconds=int(l)))'], {
      input: values.map((ms) => String(Math.round(ms * 1000))).join('\n') + '\n',
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr);
    const py = r.stdout.trim().split('\n');
    values.forEach((ms, i) => assert.equal(formatDuration(ms), py[i], `${ms} ms`));
  });
});
