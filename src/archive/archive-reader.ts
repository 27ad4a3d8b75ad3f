// Reads a .scal/.scam archive back and checks it against the archive contract
// (the layout the writer beside this file produces): a zip, every entry below
// one <uuid>/ folder, octoscan.xml well-formed with root <octoscan uuid=...>,
// and on Linux octoscan.xml the last entry. Whatever is wrong is listed in
// `problems`; what can still be read is read. Used by `octoscan-remote inspect`
// and by the summary page (OS family and version of a host).
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { fstatSync, read } from 'node:fs';
import { basename } from 'node:path';
import { Readable } from 'node:stream';
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

const MiB = 1024 * 1024;

/**
 * What the reader takes from one archive. An archive may come from anywhere
 * (inspect is meant for archives made by other means) and may be hostile, so
 * memory stays bounded whatever it declares: entries are streamed, the few that
 * are read to be understood are kept only up to a cap, and sizes are judged
 * from the central directory before anything is decompressed. Scans write
 * hundreds of entries, none near these figures.
 */
export const ARCHIVE_LIMITS = {
  /** Entries in the central directory; above it the archive is not read further. */
  entries: 100_000,
  /** Declared uncompressed size of one entry. */
  entrySize: 2048 * MiB,
  /** Declared uncompressed sizes of all entries together. */
  totalSize: 8192 * MiB,
  /** Uncompressed to compressed size of one entry above `ratioFrom` bytes (deflate reaches 1032:1 on zeros; text 5 to 20:1). */
  ratio: 200,
  ratioFrom: 1 * MiB,
  /** Bytes decompressed in all: package lists are counted as they stream by. */
  decompressed: 1024 * MiB,
  /** octoscan.xml and the head of system_profiler.xml, kept to be parsed. */
  xml: 4 * MiB,
  /** Each release, sysctl, brew and Java version entry, kept to be parsed. */
  text: 1 * MiB,
  /** cmd/brew.json, kept to count its formulae. */
  brew: 16 * MiB,
  /** Of all the kept texts together. */
  kept: 32 * MiB,
  /** Of all the entry names together (a scan's take well under 1 MiB). */
  names: 16 * MiB,
} as const;
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

/** Reads ranges of a descriptor that stays open (yauzl.fromFd closes the descriptor it is given). */
class OpenFileReader extends yauzl.RandomAccessReader {
  constructor(private readonly fd: number) {
    super();
  }

  override _readStreamForRange(start: number, end: number): Readable {
    // Not fs.createReadStream({ fd }): destroying that closes the descriptor, autoClose or not.
    const fd = this.fd;
    let at = start;
    return new Readable({
      read(size) {
        const n = Math.min(size, 64 * 1024, end - at);
        if (n <= 0) return void this.push(null);
        const buf = Buffer.allocUnsafe(n);
        read(fd, buf, 0, n, at, (err, got) => {
          if (err) return this.destroy(err);
          if (got === 0) return void this.push(null);
          at += got;
          this.push(buf.subarray(0, got));
        });
      },
    });
  }
}

/** The same, over a descriptor the caller opened (and closes): the file checked is the file read. */
function openZipFd(fd: number): Promise<ZipFile> {
  return new Promise((resolve, reject) => {
    const options = { lazyEntries: true, autoClose: false, decodeStrings: false, strictFileNames: false, validateEntrySizes: true };
    yauzl.fromRandomAccessReader(new OpenFileReader(fd), fstatSync(fd).size, options, (err, zf) => {
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

/**
 * Keeps the first `keep` bytes of the entry (then stops decompressing it), or
 * streams it whole counting its lines. `read` is the bytes decompressed.
 */
async function consume(zf: ZipFile, entry: Entry, how: { keep: number; countLines?: boolean }): Promise<{ data: Buffer; lines: number; read: number }> {
  const stream = await readStream(zf, entry);
  const chunks: Buffer[] = [];
  let kept = 0;
  let lines = 0;
  let read = 0;
  let last = 0x0a;
  for await (const c of stream as AsyncIterable<Buffer>) {
    read += c.length;
    if (how.countLines) {
      for (let i = c.indexOf(0x0a); i >= 0; i = c.indexOf(0x0a, i + 1)) lines++;
      if (c.length) last = c[c.length - 1];
    }
    if (kept < how.keep) {
      chunks.push(Buffer.from(c.subarray(0, how.keep - kept))); // a copy: a slice would hold the whole chunk
      kept += Math.min(c.length, how.keep - kept);
    }
    if (!how.countLines && kept >= how.keep) {
      stream.destroy();
      break;
    }
  }
  if (how.countLines && last !== 0x0a) lines++;
  return { data: Buffer.concat(chunks), lines, read };
}

/** Why an entry's declared sizes are refused unread, or undefined when they are fine. */
function sizeProblem(name: string, size: number, compressed: number): string | undefined {
  const L = ARCHIVE_LIMITS;
  if (size > L.entrySize) return `zip bomb: ${JSON.stringify(name)} declares ${size} bytes uncompressed, more than the ${L.entrySize}-byte limit of one entry`;
  if (size > L.ratioFrom && size > compressed * L.ratio) {
    return `zip bomb: ${JSON.stringify(name)} declares ${size} bytes from ${compressed} compressed (${Math.round(size / Math.max(1, compressed))}:1; the limit is ${L.ratio}:1)`;
  }
  return undefined;
}

const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', isArray: (name) => name === 'info' || name === 'warning' });

/** The validator's verdict; what it throws (a nesting too deep for the stack) is a malformed document too. */
function xmlValid(text: string): true | { err: { line: number; msg: string } } {
  try {
    return XMLValidator.validate(text);
  } catch (err) {
    return { err: { line: 0, msg: (err as Error).message } };
  }
}

/** The parsed document, or why it could not be parsed (the parser refuses nesting deeper than it can hold). */
function xmlTree(text: string): Record<string, unknown> | string {
  try {
    return parser.parse(text) as Record<string, unknown>;
  } catch (err) {
    return (err as Error).message;
  }
}

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

/**
 * Reads one archive; never throws for a bad archive (problems says what is wrong), only for a missing file.
 * With `fd`, reads that open descriptor (named `file` in messages) instead of opening `file`.
 */
export async function readArchive(file: string, fd?: number): Promise<ArchiveSummary> {
  const s = emptySummary(file);
  let zf: ZipFile;
  try {
    zf = fd === undefined ? await openZip(file) : await openZipFd(fd);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EACCES' || code === 'EISDIR') throw err;
    s.problems.push(`not a zip archive: ${(err as Error).message}`);
    return s;
  }
  const fileUuid = /([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.sca[a-z]$/i.exec(basename(file))?.[1]?.toLowerCase();
  if (!fileUuid) s.problems.push(`file name ${JSON.stringify(basename(file))} is not <uuid>.scal or <uuid>.scam`);
  if (zf.entryCount > ARCHIVE_LIMITS.entries) {
    zf.close();
    s.problems.push(`holds ${zf.entryCount} entries, more than the ${ARCHIVE_LIMITS.entries} inspect reads (a scan writes hundreds): not read further`);
    return s;
  }
  let nameBytes = 0;
  let declared = 0; // uncompressed sizes of the entries so far, as the central directory gives them
  let decompressed = 0;
  let keptBytes = 0;
  const bombs: string[] = [];
  const keptText = async (entry: Entry, cap: number): Promise<string | undefined> => {
    const room = Math.min(cap, ARCHIVE_LIMITS.kept - keptBytes);
    if (room <= 0) return undefined;
    const r = await consume(zf, entry, { keep: room });
    decompressed += r.read;
    keptBytes += r.data.length;
    return r.data.toString('utf8');
  };
  const texts = new Map<string, string>();
  let xmlText: string | undefined;
  let xmlUnread = false; // present, but over a limit
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
          // Names are kept (the listing); 100,000 names of 64 KB each would not fit the ceiling.
          nameBytes += raw.length;
          if (nameBytes > ARCHIVE_LIMITS.names) {
            s.problems.push(`the entry names take more than the ${ARCHIVE_LIMITS.names} bytes inspect reads: not read further`);
            return resolve();
          }
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
          // Judged before a byte is decompressed: an entry over a limit is listed, never read.
          declared += entry.uncompressedSize;
          const bomb = sizeProblem(name, entry.uncompressedSize, entry.compressedSize);
          if (bomb) bombs.push(bomb);
          const readable = !bomb && declared <= ARCHIVE_LIMITS.totalSize && decompressed + entry.uncompressedSize <= ARCHIVE_LIMITS.decompressed;
          if (!readable) {
            if (rel === 'octoscan.xml') xmlUnread = true;
          } else if (rel === 'octoscan.xml') {
            if (entry.uncompressedSize > ARCHIVE_LIMITS.xml) xmlUnread = true;
            else xmlText = await keptText(entry, ARCHIVE_LIMITS.xml);
          } else if (PACKAGE_LISTS.includes(rel)) {
            const { lines, read } = await consume(zf, entry, { keep: 0, countLines: true });
            decompressed += read;
            s.packages.push({ list: rel, count: lines });
          } else if (rel === 'system_profiler.xml') {
            profilerHead = await keptText(entry, ARCHIVE_LIMITS.xml);
          } else if (/^(release|release-usrlib)\//.test(rel) || rel === 'sysctl.properties' || rel === 'cmd/brew.json' || /^java\/(static|dynamic)\/[^/]+\/version$/.test(rel)) {
            const text = await keptText(entry, rel === 'cmd/brew.json' ? ARCHIVE_LIMITS.brew : ARCHIVE_LIMITS.text);
            if (text !== undefined) texts.set(rel, text);
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
  if (bombs.length) s.problems.push(bombs.length > 1 ? `${bombs[0]} (and ${bombs.length - 1} more entries over the limits)` : bombs[0]);
  if (declared > ARCHIVE_LIMITS.totalSize) s.problems.push(`zip bomb: the entries declare ${declared} bytes uncompressed together, more than the ${ARCHIVE_LIMITS.totalSize}-byte limit`);

  // octoscan.xml: present, last on Linux, well-formed, root <octoscan uuid=...>
  if (xmlText === undefined && xmlUnread) {
    s.problems.push(`octoscan.xml is not read: over the limits of inspect (${ARCHIVE_LIMITS.xml} bytes, or the archive's)`);
  } else if (xmlText === undefined) {
    s.problems.push('octoscan.xml is missing');
  } else {
    if (s.kind !== 'macos' && files[files.length - 1] !== 'octoscan.xml') s.problems.push(`octoscan.xml is not the last entry (the last is ${files[files.length - 1]})`);
    const valid = xmlValid(xmlText);
    if (valid !== true) {
      s.problems.push(`octoscan.xml is malformed: line ${valid.err.line}: ${valid.err.msg}`);
    } else {
      const doc = xmlTree(xmlText);
      const root = typeof doc === 'string' ? undefined : (doc['octoscan'] as Record<string, unknown> | undefined);
      if (typeof doc === 'string') {
        s.problems.push(`octoscan.xml cannot be parsed: ${doc}`);
      } else if (!root || typeof root !== 'object') {
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
