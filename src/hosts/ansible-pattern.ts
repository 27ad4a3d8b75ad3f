// --limit: Ansible's host patterns, evaluated as ansible-core 2.14 does
// (InventoryManager._evaluate_patterns): the pattern is split on ',' (or on
// ':' when it has no comma), the plain parts are unions in order, then '&'
// parts intersect, then '!' parts remove, whatever order they were written
// in. A part is a host or group name, a glob (fnmatch: * ? [seq] [!seq]),
// or '~regex' (matched from the start, as Python's re.match); a group stands
// for its hosts and its children's; 'all' and '*' are every host. A part may
// end in a subscript, [i], [i:j], [-1].

/** The names a pattern selects from. */
export interface PatternIndex {
  /** Every host name, in list order. */
  hosts: readonly string[];
  /** Group name -> its hosts and its descendants' hosts, in list order ('all' need not be here). */
  groups: ReadonlyMap<string, readonly string[]>;
}

export interface PatternResult {
  /** The names selected, in the order Ansible gives them. */
  hosts: string[];
  /** Parts that matched no group or host (Ansible warns "Could not match supplied host pattern"). */
  unmatched: string[];
}

export class PatternError extends Error {}

/** The parts of a pattern, as ansible's split_host_pattern cuts them. */
export function splitPattern(pattern: string): string[] {
  const p = pattern.trim();
  let parts: string[];
  if (p.includes(',')) parts = p.split(',');
  // What parses as one address (an IPv6 address, name:port) is one part, as ansible's parse_address decides.
  else if ((/^[0-9a-fA-F:]+$/.test(p) && (p.match(/:/g) ?? []).length >= 2) || /^[A-Za-z0-9._-]+:[0-9]+$/.test(p)) parts = [p];
  else parts = p.match(/(?:[^\s:[\]]|\[[^\]]*\])+/g) ?? [];
  return parts.map((s) => s.trim()).filter((s) => s !== '');
}

/** fnmatch.translate: the glob as an anchored, case-sensitive regular expression. */
function globRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (c === '[') {
      const close = glob.indexOf(']', glob[i + 1] === '!' ? i + 3 : i + 2);
      if (close === -1) {
        re += '\\[';
        continue;
      }
      let set = glob.slice(i + 1, close);
      if (set.startsWith('!')) set = `^${set.slice(1)}`;
      else if (set.startsWith('^')) set = `\\${set}`;
      re += `[${set.replace(/\\/g, '\\\\')}]`;
      i = close;
    } else re += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return new RegExp(`^(?:${re})$`, 's');
}

function regExpOf(part: string): RegExp {
  if (!part.startsWith('~')) return globRegExp(part);
  try {
    // Python's named groups (?P<name>...) are (?<name>...) here; re.match anchors at the start only.
    return new RegExp(`^(?:${part.slice(1).replace(/\(\?P</g, '(?<')})`);
  } catch (err) {
    throw new PatternError(`invalid regular expression ${JSON.stringify(part)}: ${(err as Error).message}`);
  }
}

// ansible's PATTERN_WITH_SUBSCRIPT: [i] (i may be negative), [i:j] or [i:] (i, j not negative; j included).
const SUBSCRIPT = /^(.+)\[(?:(-?[0-9]+)|([0-9]+)([:-])([0-9]*))\]$/;

/** Hosts matching one part (without its & or !), with ansible's subscript applied (_apply_subscript, quirks included). */
function matchPart(part: string, index: PatternIndex): string[] {
  const m = part.startsWith('~') ? null : SUBSCRIPT.exec(part);
  const hosts = enumerate(m ? m[1] : part, index);
  if (!m) return hosts;
  const at = (i: number): number => (i < 0 ? hosts.length + i : i);
  const start = Number(m[2] ?? m[3]);
  const end = m[2] !== undefined ? 0 : m[5] ? Number(m[5]) : -1;
  // As ansible: an end of 0 (web[1:0]) is read as no end, so one host.
  if (end !== 0) return hosts.slice(start, (end === -1 ? hosts.length - 1 : end) + 1);
  const name = hosts[at(start)];
  if (name === undefined) throw new PatternError(`no host at index ${start} of ${JSON.stringify(m[1])} (${hosts.length} host${hosts.length === 1 ? '' : 's'})`);
  return [name];
}

function enumerate(pattern: string, index: PatternIndex): string[] {
  if (pattern === 'all' || pattern === '*') return [...index.hosts];
  const re = regExpOf(pattern);
  const seen = new Set<string>();
  const out: string[] = [];
  const add = (h: string): void => {
    if (!seen.has(h)) {
      seen.add(h);
      out.push(h);
    }
  };
  let groupMatched = false;
  for (const [group, hosts] of index.groups) {
    if (!re.test(group)) continue;
    groupMatched = true;
    for (const h of hosts) add(h);
  }
  // Host names too when no group matched, or the pattern is a glob or regex (as ansible).
  if (!groupMatched || pattern.startsWith('~') || /[.?*[]/.test(pattern)) {
    for (const h of index.hosts) if (re.test(h)) add(h);
  }
  return out;
}

/** The hosts `pattern` selects (Ansible's --limit), in Ansible's order. Throws PatternError for a bad regex or subscript. */
export function selectByPattern(pattern: string, index: PatternIndex): PatternResult {
  const parts = splitPattern(pattern);
  const regular = parts.filter((p) => p[0] !== '&' && p[0] !== '!');
  const ordered = [...(regular.length ? regular : ['all']), ...parts.filter((p) => p[0] === '&'), ...parts.filter((p) => p[0] === '!')];
  const known = new Set(index.hosts);
  const unmatched: string[] = [];
  let hosts: string[] = [];
  for (const p of ordered) {
    const kind = p[0] === '&' || p[0] === '!' ? p[0] : '';
    const body = kind ? p.slice(1) : p;
    const that = known.has(p) ? [p] : matchPart(body, index);
    if (that.length === 0 && body !== 'all') unmatched.push(body);
    if (kind === '!') {
      const drop = new Set(that);
      hosts = hosts.filter((h) => !drop.has(h));
    } else if (kind === '&') {
      const keep = new Set(that);
      hosts = hosts.filter((h) => keep.has(h));
    } else {
      const have = new Set(hosts);
      for (const h of that) if (!have.has(h)) hosts.push(h);
    }
  }
  return { hosts, unmatched };
}
