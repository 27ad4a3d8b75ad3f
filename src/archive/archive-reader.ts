// Reads a .scal/.scam archive back and checks it against the archive contract
// (the layout the writer beside this file produces): a zip, every entry below
// one <uuid>/ folder, octoscan.xml well-formed with root <octoscan uuid=...>,
// and on Linux octoscan.xml the last entry. Whatever is wrong is listed in
// `problems`; what can still be read is read. Used by `octoscan-remote inspect`
// and by the summary page (OS family and version of a host).
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { basename } from 'node:path';
import type { Readable } from 'node:stream';
import yauzl, { type Entry, type ZipFile } from 'yauzl';

export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export interface ArchiveEntryInfo {
  name: string;
  size: number;
  compressedSize: number;
  /** stored, deflated, or the zip method number */
  method: string;
}

export interface OsInfo {
  /** os-release ID (rhel, debian, alpine, ...) or macos; '' when unknown */
  id: string;
  /** Distribution name: os-release NAME, or the first words of a *-release line, or macOS */
  name: string;
  /** os-release VERSION_ID, or the version found in a release file */
  version: string;
  /** PRETTY_NAME or the release line */
  pretty: string;
  /** The entry it was read from */
  source: string;
}

export interface JavaInfo {
  entry: string;
  path: string;
  /** The folder above bin/ (the Java home) */
  home: string;
  variant: string;
  /** From `java -version`: the quoted version, or "failed: ..." */
  version: string;
  /** Who built it, from `java -version`'s runtime line (Temurin, Corretto, Oracle, ...); '' when not told. */
  vendor: string;
}

export interface ArchiveSummary {
  file: string;
  /** True when the archive keeps the contract (problems is empty). */
  ok: boolean;
  problems: string[];
  kind: 'linux' | 'macos' | 'unknown';
  uuid: string;
  host: { fqdn: string; platform: string; login: string; userId: string; tag: string; timestamp: string; build: string; python: string };
  os?: OsInfo;
  packages: { list: string; count: number }[];
  java: JavaInfo[];
  warnings: { id: number; message: string }[];
  entries: ArchiveEntryInfo[];
}

/** Entries read whole to be understood; the rest are only counted. */
const SMALL = 4 * 1024 * 1024;
const PACKAGE_LISTS = ['dpkg/installed.txt', 'rpm/installed.txt', 'apk/installed.txt'];

function openZip(path: string): Promise<ZipFile> {
  return new Promise((resolve, reject) => {
    // decodeStrings: false so that yauzl does not refuse odd names itself: we judge them, and say why.
    yauzl.open(path, { lazyEntries: true, autoClose: false, decodeStrings: false, strictFileNames: false, validateEntrySizes: true }, (err, zf) => {
      if (err || !zf) reject(err ?? new Error('no zip file'));
      else resolve(zf);
    });
  });
}

function readStream(zf: ZipFile, entry: Entry): Promise<Readable> {
  return new Promise((resolve, reject) => {
    zf.openReadStream(entry, (err, stream) => (err || !stream ? reject(err ?? new Error('no stream')) : resolve(stream)));
  });
}

/** Reads the entry whole (up to `limit` bytes), or counts its lines, or calls `scan` on each chunk. */
async function consume(zf: ZipFile, entry: Entry, how: { keep: number; countLines?: boolean }): Promise<{ data: Buffer; lines: number }> {
  const stream = await readStream(zf, entry);
  const chunks: Buffer[] = [];
  let kept = 0;
  let lines = 0;
  let last = 0x0a;
  for await (const c of stream as AsyncIterable<Buffer>) {
    if (how.countLines) {
      for (const b of c) if (b === 0x0a) lines++;
      if (c.length) last = c[c.length - 1];
    }
    if (kept < how.keep) {
      chunks.push(c.subarray(0, how.keep - kept));
      kept += Math.min(c.length, how.keep - kept);
    }
  }
  if (how.countLines && last !== 0x0a) lines++;
  return { data: Buffer.concat(chunks), lines };
}

const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', isArray: (name) => name === 'info' || name === 'warning' });

function infoValue(parent: unknown, name: string): string {
  const infos = (parent as { info?: { name?: string; value?: string }[] } | undefined)?.info ?? [];
  const hit = infos.find((i) => i.name === name);
  return hit?.value === undefined ? '' : String(hit.value);
}

/** KEY=value lines of os-release / lsb-release, quotes removed. */
export function parseOsRelease(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (!m) continue;
    let v = m[2].trim();
    if ((v.startsWith('"') && v.endsWith('"')) || (v.startsWith("'") && v.endsWith("'"))) v = v.slice(1, -1);
    out[m[1]] = v.replace(/\\(["$`\\])/g, '$1');
  }
  return out;
}

/** The OS of a Linux archive from its release entries: os-release first, then the older files. */
export function osFromRelease(files: Map<string, string>): OsInfo | undefined {
  for (const name of ['release/os-release', 'release-usrlib/os-release']) {
    const text = files.get(name);
    if (text === undefined) continue;
    const r = parseOsRelease(text);
    if (!r['NAME'] && !r['ID']) continue;
    return { id: r['ID'] ?? '', name: r['NAME'] ?? r['ID'] ?? '', version: r['VERSION_ID'] ?? '', pretty: r['PRETTY_NAME'] ?? r['NAME'] ?? '', source: name };
  }
  const lsb = files.get('release/lsb-release');
  if (lsb) {
    const r = parseOsRelease(lsb);
    if (r['DISTRIB_ID']) {
      return { id: r['DISTRIB_ID'].toLowerCase(), name: r['DISTRIB_ID'], version: r['DISTRIB_RELEASE'] ?? '', pretty: r['DISTRIB_DESCRIPTION'] ?? r['DISTRIB_ID'], source: 'release/lsb-release' };
    }
  }
  // "CentOS Linux release 7.9.2009 (Core)", "Red Hat Enterprise Linux Server release 7.3 (Maipo)", "SUSE Linux Enterprise Server 12 (x86_64)"
  for (const [name, text] of files) {
    if (!/^release\/[^/]*-release$/.test(name) || name === 'release/lsb-release') continue;
    const line = text.split(/\r?\n/).find((l) => l.trim() !== '')?.trim() ?? '';
    if (!line) continue;
    const m = /^(.*?)\s+(?:release\s+)?v?(\d+(?:\.\d+)*)/.exec(line);
    const id = name.slice('release/'.length, -'-release'.length).toLowerCase();
    if (m) return { id, name: m[1].replace(/\s+release$/, ''), version: m[2], pretty: line, source: name };
    if (/^\d+(\.\d+)*$/.test(line)) return { id, name: id, version: line, pretty: `${id} ${line}`, source: name };
  }
  const deb = files.get('release/debian_version');
  if (deb) return { id: 'debian', name: 'Debian', version: deb.trim(), pretty: `Debian ${deb.trim()}`, source: 'release/debian_version' };
  return undefined;
}

/** The macOS version: sysctl kern.osproductversion, else system_profiler's os_version. */
export function osFromMac(sysctl: string | undefined, profilerHead: string | undefined): OsInfo | undefined {
  const v = sysctl && /^kern\.osproductversion\s*[:=]\s*(\S+)/m.exec(sysctl);
  if (v) return { id: 'macos', name: 'macOS', version: v[1], pretty: `macOS ${v[1]}`, source: 'sysctl.properties' };
  const p = profilerHead && /<key>os_version<\/key>\s*<string>([^<]*)<\/string>/.exec(profilerHead);
  if (p) {
    const ver = /(\d+(?:\.\d+)+|\d+)/.exec(p[1])?.[1] ?? '';
    return { id: 'macos', name: 'macOS', version: ver, pretty: p[1], source: 'system_profiler.xml' };
  }
  return undefined;
}

/** A Java version record (Linux or macOS form): path, variant and the version java -version printed. */
export function parseJavaRecord(entry: string, text: string): JavaInfo {
  const path = /^Path:(.*)$/m.exec(text)?.[1] ?? '';
  const variant = /^Variant:(.*)$/m.exec(text)?.[1] ?? '';
  const failed = /^FAILED: (.*)$/m.exec(text)?.[1];
  const version = failed !== undefined ? `failed: ${failed}` : (/version "([^"]+)"/.exec(text)?.[1] ?? /version (\S+)/.exec(text)?.[1] ?? '');
  const home = path.replace(/\/(jre\/)?bin\/java$/, '') || path;
  return { entry, path, home, variant, version, vendor: failed !== undefined ? '' : javaVendor(text) };
}

// Distributions name themselves in the runtime or VM line of `java -version`.
const JAVA_VENDORS: [RegExp, string][] = [
  [/Temurin|AdoptOpenJDK|Adoptium/, 'Eclipse Adoptium'], [/Corretto/, 'Amazon Corretto'], [/Zulu/, 'Azul Zulu'],
  [/Semeru|OpenJ9|IBM/, 'IBM'], [/GraalVM/, 'GraalVM'], [/Microsoft/, 'Microsoft'], [/Red[ _]?Hat|\.el\d/, 'Red Hat'],
  [/SapMachine/, 'SAP'], [/Liberica|BellSoft/, 'BellSoft Liberica'], [/Java\(TM\)|HotSpot\(TM\)/, 'Oracle'],
  [/-Debian|Debian/, 'Debian OpenJDK'], [/Ubuntu/, 'Ubuntu OpenJDK'], [/OpenJDK/, 'OpenJDK'],
];

/** The vendor a `java -version` text names, or ''. */
export function javaVendor(text: string): string {
  return JAVA_VENDORS.find(([re]) => re.test(text))?.[1] ?? '';
}

function emptySummary(file: string): ArchiveSummary {
  const kind = /\.scal$/i.test(file) ? 'linux' : /\.scam$/i.test(file) ? 'macos' : 'unknown';
  return {
    file, ok: false, problems: [], kind, uuid: '',
    host: { fqdn: '', platform: '', login: '', userId: '', tag: '', timestamp: '', build: '', python: '' },
    packages: [], java: [], warnings: [], entries: [],
  };
}

/** Reads one archive; never throws for a bad archive (problems says what is wrong), only for a missing file. */
export async function readArchive(file: string): Promise<ArchiveSummary> {
  const s = emptySummary(file);
  let zf: ZipFile;
  try {
    zf = await openZip(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EACCES' || code === 'EISDIR') throw err;
    s.problems.push(`not a zip archive: ${(err as Error).message}`);
    return s;
  }
  const fileUuid = /([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.sca[a-z]$/i.exec(basename(file))?.[1]?.toLowerCase();
  if (!fileUuid) s.problems.push(`file name ${JSON.stringify(basename(file))} is not <uuid>.scal or <uuid>.scam`);
  const texts = new Map<string, string>();
  let xmlText: string | undefined;
  let profilerHead: string | undefined;
  const files: string[] = []; // file entries (not folders), in zip order, below <uuid>/
  let top: string | undefined;
  const outside: string[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      zf.on('error', reject);
      zf.on('end', resolve);
      zf.on('entry', (entry: Entry) => {
        void (async () => {
          const raw = entry.fileName as unknown as Buffer;
          const name = raw.toString('utf8');
          const isDir = name.endsWith('/');
          const segs = name.split('/');
          if (top === undefined && !isDir) top = segs[0];
          const bad = name.startsWith('/') || name.includes('\\') || segs.some((x) => x === '..' || x === '.') || name.includes('\0') || /^[A-Za-z]:/.test(name);
          const folder = fileUuid ?? top;
          if (bad || segs[0] !== folder || segs.length < 2 || (!isDir && segs[segs.length - 1] === '')) {
            if (!(isDir && segs.length === 2 && segs[0] === folder)) outside.push(name);
          }
          if (isDir) return zf.readEntry();
          const rel = segs.slice(1).join('/');
          s.entries.push({ name, size: entry.uncompressedSize, compressedSize: entry.compressedSize, method: entry.compressionMethod === 0 ? 'stored' : entry.compressionMethod === 8 ? 'deflated' : `method ${entry.compressionMethod}` });
          files.push(rel);
          if (rel === 'octoscan.xml') {
            xmlText = (await consume(zf, entry, { keep: SMALL })).data.toString('utf8');
          } else if (PACKAGE_LISTS.includes(rel)) {
            const { lines } = await consume(zf, entry, { keep: 0, countLines: true });
            s.packages.push({ list: rel, count: lines });
          } else if (rel === 'system_profiler.xml') {
            profilerHead = (await consume(zf, entry, { keep: SMALL })).data.toString('utf8');
          } else if (
            (/^(release|release-usrlib)\//.test(rel) || rel === 'sysctl.properties' || rel === 'cmd/brew.json' || /^java\/(static|dynamic)\/[^/]+\/version$/.test(rel)) &&
            entry.uncompressedSize <= 64 * 1024 * 1024
          ) {
            texts.set(rel, (await consume(zf, entry, { keep: 64 * 1024 * 1024 })).data.toString('utf8'));
          }
          zf.readEntry();
        })().catch(reject);
      });
      zf.readEntry();
    });
  } catch (err) {
    s.problems.push(`broken zip: ${(err as Error).message}`);
  } finally {
    zf.close();
  }
  s.uuid = fileUuid ?? top ?? '';
  if (top !== undefined && !UUID_RE.test(top)) s.problems.push(`top folder ${JSON.stringify(top)} is not a lowercase UUID`);
  if (fileUuid && top !== undefined && top !== fileUuid) s.problems.push(`entries are below ${top}/, but the file name says ${fileUuid}`);
  if (outside.length) s.problems.push(`${outside.length} entr${outside.length === 1 ? 'y' : 'ies'} outside ${s.uuid || '<uuid>'}/: ${outside.slice(0, 5).map((n) => JSON.stringify(n)).join(', ')}${outside.length > 5 ? ', ...' : ''}`);
  if (!s.entries.length && !s.problems.length) s.problems.push('the archive is empty');

  // octoscan.xml: present, last on Linux, well-formed, root <octoscan uuid=...>
  if (xmlText === undefined) {
    s.problems.push('octoscan.xml is missing');
  } else {
    if (s.kind !== 'macos' && files[files.length - 1] !== 'octoscan.xml') s.problems.push(`octoscan.xml is not the last entry (the last is ${files[files.length - 1]})`);
    const valid = XMLValidator.validate(xmlText);
    if (valid !== true) {
      s.problems.push(`octoscan.xml is malformed: line ${valid.err.line}: ${valid.err.msg}`);
    } else {
      const doc = parser.parse(xmlText) as Record<string, unknown>;
      const root = doc['octoscan'] as Record<string, unknown> | undefined;
      if (!root || typeof root !== 'object') {
        s.problems.push('octoscan.xml has no <octoscan> root element');
      } else {
        const attr = (k: string): string => (root[k] === undefined || typeof root[k] === 'object' ? '' : String(root[k]));
        if (!attr('uuid')) s.problems.push('octoscan.xml: the root has no uuid attribute');
        else if (s.uuid && attr('uuid') !== s.uuid) s.problems.push(`octoscan.xml: uuid ${attr('uuid')} differs from the archive's ${s.uuid}`);
        if (s.kind === 'unknown') s.kind = root['shell'] !== undefined ? 'macos' : 'linux';
        s.host = {
          fqdn: attr('fqdn'), platform: attr('platform'), build: attr('build'), timestamp: attr('timestamp'), python: attr('python'),
          login: infoValue(root['user'], 'login'), userId: infoValue(root['user'], 'user_id'), tag: infoValue(root['configuration'], 'tag'),
        };
        const warnings = (root['warning'] as { id?: string; message?: string }[] | undefined) ?? [];
        s.warnings = warnings.map((w) => ({ id: Number(w.id), message: String(w.message ?? '') }));
      }
    }
  }

  s.os = s.kind === 'macos' ? osFromMac(texts.get('sysctl.properties'), profilerHead) : osFromRelease(new Map([...texts].filter(([k]) => /^release(-usrlib)?\//.test(k))));
  const brew = texts.get('cmd/brew.json');
  if (brew !== undefined) {
    try {
      const v = JSON.parse(brew) as unknown;
      if (Array.isArray(v)) s.packages.push({ list: 'cmd/brew.json', count: v.length });
    } catch {
      // not JSON: brew's own problem, not the archive's
    }
  }
  for (const [rel, text] of texts) if (/^java\/(static|dynamic)\/[^/]+\/version$/.test(rel)) s.java.push(parseJavaRecord(rel, text));
  s.ok = s.problems.length === 0;
  return s;
}
