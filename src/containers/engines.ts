// Container engines on a host: which of Docker, Podman and crictl (containerd,
// CRI-O) are there, and their running containers. One small shell script asks
// each engine found for its running containers in a machine-readable form;
// this module writes that script and reads its answer. Everything an engine
// prints is peer text: names, images and labels are only ever shown (escaped)
// or written into octoscan.xml; a container id must be plain hex before it is
// put into a command.
import { peerText } from '../text/peer-text.js';
import type { ContainerInfo } from '../types.js';

export type EngineName = ContainerInfo['engine'];

/**
 * docker ps's template: one JSON object per line with only the fields read.
 * `{{json .}}` names every field, .Size among them, and for .Size the client
 * asks dockerd to compute each container's disk usage (`containers/json?size=1`):
 * seconds per container with many files. `--size=false` exists only in newer
 * clients; a template that never names .Size is the same on every version.
 * .Status, not .State (which clients before 20.10 do not know). The pod label
 * is read by its key, not split out of the comma-joined .Labels, where a value
 * holding `,k=v` would forge it.
 */
export const DOCKER_TEMPLATE = '{"id":{{json .ID}},"names":{{json .Names}},"image":{{json .Image}},"status":{{json .Status}},"pod":{{json (.Label "io.kubernetes.pod.name")}}}';

/**
 * The listing command of each engine, in its documented machine-readable
 * format (the containers `ps` shows without -a: running, paused, restarting;
 * full ids), and the words that start a shell in one of its containers:
 * `<engine> exec -i <id> /bin/sh -s`.
 */
export const ENGINES: readonly { name: EngineName; ps: string }[] = [
  { name: 'docker', ps: `ps --no-trunc --format '${DOCKER_TEMPLATE}'` },
  // podman ps: one JSON array (Id, Names[], Image, State, Labels{} as an object); no sizes unless --size.
  { name: 'podman', ps: 'ps --no-trunc --format json' },
  // crictl ps: {"containers":[{id, metadata.name, image.image, imageRef, labels{}}]}; running ones by default.
  { name: 'crictl', ps: 'ps -o json' },
];

/** What the listing script may print in all; more is a broken or hostile host. */
export const LISTING_CAP = 16 * 1024 * 1024;

/** The exec command for one container; `path` and `id` are checked here, so nothing else reaches the host's shell. */
export function execCommand(enginePath: string, id: string): string {
  if (!SAFE_PATH.test(enginePath)) throw new Error(`unsafe engine path ${JSON.stringify(enginePath)}`);
  if (!ID.test(id)) throw new Error(`unsafe container id ${JSON.stringify(id)}`);
  return `${enginePath} exec -i ${id} /bin/sh -s`;
}

const SAFE_PATH = /^\/[A-Za-z0-9/_.+-]+$/;
const ID = /^[0-9a-f]{12,64}$/;

/**
 * The listing script. The engines are looked up on the session's PATH first
 * (root's secure_path under sudo; where an admin put a crictl or a docker
 * that is not in the system folders), then in the system folders. stdout of
 * each listing is passed through as is; its stderr (why it failed) is kept
 * apart, in a variable, so it can be quoted.
 */
export function listingScript(token: string): string {
  const lines = [
    `PATH=\${PATH:+$PATH:}/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin; export PATH`,
    'LC_ALL=C; export LC_ALL',
    `t=${token}`,
    'list() {',
    '  p=$(command -v "$1" 2>/dev/null) || return 0',
    '  case $p in /*) ;; *) return 0 ;; esac',
    // podman-docker's `docker` is podman (its ps knows no .Label, and without root it would be rootless podman): podman itself is listed.
    `  if [ "$1" = docker ]; then case $("$p" --version 2>/dev/null) in *odman*) printf '%s ALIAS %s %s\\n' "$t" "$1" "$p"; return 0 ;; esac; fi`,
    // Rootless podman creates its storage in the user's home on first use: not read-only.
    `  if [ "$1" = podman ] && [ "$(id -u)" != 0 ]; then printf '%s NOTROOT %s %s\\n' "$t" "$1" "$p"; return 0; fi`,
    `  printf '%s ENGINE %s %s\\n' "$t" "$1" "$p"`,
    '  shift',
    // stdout straight through (fd 3), stderr into $err.
    '  { err=$("$p" "$@" 2>&1 >&3 3>&-); rc=$?; } 3>&1',
    `  printf '\\n%s RC %s\\n' "$t" "$rc"`,
    `  printf '%s\\n' "$err" | head -c 4096`,
    `  printf '\\n%s DONE\\n' "$t"`,
    '}',
    ...ENGINES.map((e) => `list ${e.name} ${e.ps}`),
    `printf '%s END\\n' "$t"`,
    'exit 0',
  ];
  return `${lines.join('\n')}\n`;
}

export interface EngineListing {
  engine: EngineName;
  path: string;
  containers: ContainerInfo[];
  /** The engine is installed but its daemon is not running: nothing to scan, not a failure. */
  notRunning?: string;
  /** It would not list (no access, bad output): the reason, for a report row. */
  error?: string;
  /**
   * It lists only as root (podman, which is never run rootless; a socket the
   * user may not open): why, naming --sudo. In a run without sudo this is a
   * note row (`needs-root`), not a failure; with sudo, `error` is the failure.
   */
  needsRoot?: string;
}

/** Reads the listing script's output. Throws an Error naming what is wrong when it is not the script's output. */
export function parseListing(text: string, token: string): EngineListing[] {
  if (!text.includes(`${token} END\n`)) throw new Error('the container listing ended early');
  const out: EngineListing[] = [];
  for (const m of text.matchAll(new RegExp(`^${escapeRe(token)} ALIAS (docker) (/[^\n]*)$`, 'gm'))) {
    out.push({ engine: 'docker', path: m[2], containers: [], notRunning: 'docker is podman (podman-docker): its containers are listed as podman\'s' });
  }
  for (const m of text.matchAll(new RegExp(`^${escapeRe(token)} NOTROOT (podman) (/[^\n]*)$`, 'gm'))) {
    out.push({
      engine: 'podman', path: m[2], containers: [],
      needsRoot: 'podman was not run: without root it would create rootless storage in the scan user\'s home; root\'s containers are listed with --sudo',
    });
  }
  const parts = text.split(`${token} ENGINE `).slice(1);
  for (const part of parts) {
    const head = /^(docker|podman|crictl) (\/[^\n]*)\n/.exec(part);
    if (!head) throw new Error(`bad engine line in the container listing: ${peerText(part.split('\n')[0], 200)}`);
    const engine = head[1] as EngineName;
    const path = head[2];
    const rcAt = part.indexOf(`\n${token} RC `);
    const doneAt = part.indexOf(`\n${token} DONE\n`);
    if (rcAt < 0 || doneAt < rcAt) throw new Error(`the ${engine} listing is incomplete`);
    const stdout = part.slice(head[0].length, rcAt);
    const rcLine = part.slice(rcAt + token.length + 5, part.indexOf('\n', rcAt + 1));
    const rc = Number(rcLine);
    const stderr = part.slice(part.indexOf('\n', rcAt + 1) + 1, doneAt).trim();
    const l: EngineListing = { engine, path, containers: [] };
    if (!SAFE_PATH.test(path)) {
      l.error = `${engine} found at an unusable path ${peerText(path, 200)}`;
    } else if (rc !== 0) {
      const said = peerText(stderr.split('\n').filter(Boolean).slice(-3).join('; ') || `exit code ${rcLine}`, 500);
      if (NOT_RUNNING.test(stderr)) l.notRunning = `${engine} ps: ${said}`;
      else l.error = `${engine} ps failed (exit ${peerText(rcLine, 20)}): ${said}`;
      // The engine's socket is root's (or its group's): without sudo that is a fact about the account, not a fault.
      if (l.error && DENIED.test(stderr)) l.needsRoot = `${l.error}; the scan user may not use ${engine}: root's containers are listed with --sudo (or add the user to the engine's group)`;
    } else {
      try {
        l.containers = PARSERS[engine](stdout);
      } catch (err) {
        l.error = `${engine} ps: unreadable output: ${peerText((err as Error).message, 300)}`;
      }
    }
    out.push(l);
  }
  return out;
}

// An installed client whose daemon or socket is not there (docker CLI only,
// containerd stopped): the same as no engine.
const NOT_RUNNING = /Cannot connect to the Docker daemon|Is the docker daemon running|connect: no such file or directory|validate service connection|no such file or directory.*\.sock|unable to connect to Podman socket/i;

const DENIED = /permission denied/i;

type Json = Record<string, unknown>;

const escapeRe = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

function checkedId(v: unknown, engine: string): string {
  const id = str(v).toLowerCase();
  // Never into a command unless it is the hex an engine gives its containers.
  if (!ID.test(id)) throw new Error(`${engine} gave a container id that is not 12 to 64 hex digits: ${peerText(str(v) || String(v), 100)}`);
  return id;
}

function podLabel(labels: unknown): string | undefined {
  if (labels && typeof labels === 'object') {
    const pod = (labels as Json)['io.kubernetes.pod.name'];
    if (typeof pod === 'string' && pod) return pod;
  }
  return undefined;
}

/** The state an engine gave, lowercase, when it is not running (crictl: CONTAINER_EXITED -> exited). */
function stateOf(v: unknown): { state?: string } {
  const s = str(v).toLowerCase().replace(/^container_/, '');
  return s && s !== 'running' ? { state: s } : {};
}

/**
 * docker's .Status, as dockerd words it: `Up 2 hours`, `Up 2 hours (healthy)`,
 * `Up 5 seconds (Paused)`, `Restarting (1) 3 seconds ago`, `Exited (0) …`,
 * `Created`, `Dead`, `Removal In Progress`.
 */
function dockerState(v: unknown): { state?: string } {
  const s = str(v).trim();
  if (/\(paused\)$/i.test(s)) return { state: 'paused' };
  if (s === '' || /^up\b/i.test(s)) return {};
  return stateOf(s.split(/[\s(]/)[0]);
}

const PARSERS: Record<EngineName, (stdout: string) => ContainerInfo[]> = {
  docker(stdout) {
    const out: ContainerInfo[] = [];
    for (const line of stdout.split('\n')) {
      if (!line.trim()) continue;
      const o = JSON.parse(line) as Json;
      const pod = str(o['pod']);
      // Names: docker joins a container's names with commas; a name holds none.
      out.push({ engine: 'docker', id: checkedId(o['id'], 'docker'), name: str(o['names']).split(',')[0], image: str(o['image']), ...dockerState(o['status']), ...(pod ? { pod } : {}) });
    }
    return out;
  },
  podman(stdout) {
    if (!stdout.trim()) return [];
    const list = JSON.parse(stdout) as unknown;
    if (!Array.isArray(list)) throw new Error('not a JSON array');
    return list.map((o: Json) => {
      const names = Array.isArray(o['Names']) ? (o['Names'] as unknown[]).map(str) : [str(o['Names'])];
      const pod = podLabel(o['Labels']);
      return { engine: 'podman' as const, id: checkedId(o['Id'] ?? o['ID'], 'podman'), name: names[0] ?? '', image: str(o['Image']), ...stateOf(o['State']), ...(pod ? { pod } : {}) };
    });
  },
  crictl(stdout) {
    if (!stdout.trim()) return [];
    const doc = JSON.parse(stdout) as Json;
    const list = doc['containers'];
    if (!Array.isArray(list)) throw new Error('no "containers" array');
    return list
      .map((o: Json) => {
        const meta = (o['metadata'] ?? {}) as Json;
        const image = str(((o['image'] ?? {}) as Json)['image']);
        const pod = podLabel(o['labels']);
        return {
          engine: 'crictl' as const,
          id: checkedId(o['id'], 'crictl'),
          name: str(meta['name']),
          // image.image is the reference as pulled; some runtimes put the image id there, then imageRef says more.
          image: image && !/^sha256:/.test(image) ? image : str(o['imageRef']) || image,
          ...stateOf(o['state']),
          ...(pod ? { pod } : {}),
        };
      });
  },
};

/**
 * The containers to scan, once each: an engine that fronts another (podman's
 * docker alias) lists the same ids, and the first engine wins.
 */
export function uniqueContainers(listings: EngineListing[]): { container: ContainerInfo; path: string }[] {
  const seen = new Set<string>();
  const out: { container: ContainerInfo; path: string }[] = [];
  for (const l of listings) {
    for (const c of l.containers) {
      if (seen.has(c.id)) continue;
      seen.add(c.id);
      out.push({ container: c, path: l.path });
    }
  }
  return out;
}

/** What --containers runs on a host, for the people who approve it (`script --containers`). */
export function containerSteps(sudo: boolean): string {
  const pre = sudo ? 'sudo -n ' : '';
  return [
    `With --containers, after the host's own script, on the same connection:`,
    `1. exec \`${pre}/bin/sh -s\`${sudo ? ' (the marker line first, as for the script)' : ''} with the container listing script on standard input; for each of docker, podman, crictl found`,
    '   on PATH (then in the system folders) it runs exactly one listing, read as JSON, never run:',
    ...ENGINES.map((e) => `     ${e.name} ${e.ps}`),
    '   podman only as root (rootless podman would create its storage in the scan user\'s home); a docker whose',
    '   `docker --version` says podman (podman-docker) is not run: podman itself is listed.',
    `2. for each running container (at most --max-containers; paused, restarting or exited ones are not entered):`,
    `   exec \`${pre}<engine path> exec -i <id> /bin/sh -s\` (id: 12 to 64 hex digits, checked), send`,
    '   one marker line; once the container\'s shell prints it, send the same probe script (a new token). No /bin/sh: class no-shell, no archive.',
  ].join('\n');
}
