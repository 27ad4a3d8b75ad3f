// A real container engine for the --containers tests (issue 17): Debian's
// podman with runc, images imported from folders (there is no registry here),
// containers that idle until removed. In this file's test, shims that answer
// `ps` in docker's and crictl's formats and hand `exec -i` to podman stand in
// for those two, so detection and parsing of all three meet in one sweep;
// crictl is not packaged for Debian 12, and Docker also runs for real against
// a daemon of its own (test/helpers/dockerd.ts, containers-docker.test.ts).
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DOCKER_TEMPLATE } from '../../src/containers/engines.js';
import { READ_SCRIPT_SH } from './read-script-sh.js';
import { buildProfileRoot, javaVersionFixture, type EmulatedTarget } from './emulated-targets.js';

/** The Debian image's java (the expected records name it). */
export const DEBIAN_JAVA = '/usr/lib/jvm/java-11-openjdk-amd64/bin/java';

/** The test images' roots, each in `<work>/root-<name>`: the Alpine and Debian profiles as the emulated targets build them, plus three small ones. */
export const CONTAINER_ROOTS = ['alpine', 'debian', 'noshell', 'stall', 'hostile'] as const;

/** Builds every root of CONTAINER_ROOTS below `work`; the two profiles' expectations come back. */
export function buildContainerRoots(work: string): { alpine: EmulatedTarget; debian: EmulatedTarget } {
  const alpine = buildProfileRoot('alpine-3.18', path.join(work, 'root-alpine'));
  const debian = buildProfileRoot('debian-10', path.join(work, 'root-debian'), {
    java: [{ path: DEBIAN_JAVA, text: javaVersionFixture('debian-openjdk-11.0.12.txt'), links: ['/usr/bin/java'] }],
  });
  noShellRoot(path.join(work, 'root-noshell'));
  busyboxRoot(path.join(work, 'root-stall'), STALLING_SH);
  busyboxRoot(path.join(work, 'root-hostile'), HOSTILE_SH);
  return { alpine, debian };
}

export const PODMAN = '/usr/bin/podman';
/** Every test container and image carries this label, so a crash leaves nothing another run mistakes for its own. */
export const TEST_LABEL = 'octoscan-test-17';

/**
 * This sandbox refuses crun's cgroup and rlimit setup; runc with cgroupfs and
 * fixed ulimits works. Written only where no containers.conf exists (an
 * admin's own is never touched); .ci/run does the same.
 */
export const CONTAINERS_CONF = '/etc/containers/containers.conf';
export const CONTAINERS_CONF_TEXT = `# Written by octoscan-remote's tests (issue 17): runc and cgroupfs, as this sandbox allows.
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
`;

/** Why podman cannot run containers here, or undefined. */
export function podmanUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (podman with root storage, images from root-owned folders)';
  if (!existsSync(PODMAN)) return `${PODMAN} missing (apt-get install podman runc)`;
  if (!existsSync('/usr/sbin/runc') && !existsSync('/usr/bin/runc')) return 'runc missing (apt-get install runc)';
  if (!existsSync(CONTAINERS_CONF)) {
    mkdirSync(path.dirname(CONTAINERS_CONF), { recursive: true });
    writeFileSync(CONTAINERS_CONF, CONTAINERS_CONF_TEXT);
  }
  const r = spawnSync(PODMAN, ['info', '--format', '{{.Host.OCIRuntime.Name}}'], { encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) return `podman info failed: ${(r.stderr || r.error?.message || '').trim().split('\n').pop()}`;
  return undefined;
}

function podman(args: string[], input?: Buffer | string): string {
  return execFileSync(PODMAN, args, { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'], maxBuffer: 64 << 20 }).trim();
}

/** `tar -C <root> -c . | podman import - localhost/<name>`, as the issue says. */
export function importImage(root: string, name: string): string {
  const tar = execFileSync('tar', ['-C', root, '-c', '.'], { maxBuffer: 1 << 30 });
  podman(['import', '--change', `LABEL ${TEST_LABEL}=1`, '-q', '-', `localhost/${name}`], tar);
  return `localhost/${name}`;
}

export interface RunOptions {
  name: string;
  labels?: Record<string, string>;
  /** The main process; default: a shell that idles. */
  command?: string[];
}

/** podman run -d; the container's full id. */
export function runContainer(image: string, o: RunOptions): string {
  const labels = Object.entries({ [TEST_LABEL]: '1', ...o.labels }).flatMap(([k, v]) => ['--label', `${k}=${v}`]);
  return podman(['run', '-d', '--name', o.name, '--network', 'none', ...labels, image, ...(o.command ?? ['/bin/sh', '-c', 'while :; do sleep 3600; done'])]);
}

export function removeContainers(names: string[]): void {
  if (names.length) spawnSync(PODMAN, ['rm', '-f', '-t', '0', ...names], { stdio: 'ignore', timeout: 120_000 });
}

export function removeImages(images: string[]): void {
  if (images.length) spawnSync(PODMAN, ['rmi', '-f', ...images], { stdio: 'ignore', timeout: 120_000 });
}

/**
 * Removes the test containers and images a killed run left behind: those whose
 * name ends in the run id of a process that is gone. A live run's are kept.
 */
export function removeStaleTestObjects(): void {
  const dead = (name: string): boolean => {
    const m = /-(\d+)-[0-9a-f]{6}(?::latest)?$/.exec(name);
    if (!m) return false;
    try {
      process.kill(Number(m[1]), 0);
      return false;
    } catch (err) {
      return (err as NodeJS.ErrnoException).code === 'ESRCH';
    }
  };
  const list = (args: string[]): string[] => {
    const r = spawnSync(PODMAN, args, { encoding: 'utf8', timeout: 60_000 });
    return r.status === 0 ? r.stdout.split('\n').map((l) => l.trim()).filter(Boolean) : [];
  };
  removeContainers(list(['ps', '-a', '--filter', `label=${TEST_LABEL}`, '--format', '{{.Names}}']).filter(dead));
  removeImages(list(['images', '--filter', `label=${TEST_LABEL}`, '--format', '{{.Repository}}']).filter(dead));
}

/** A unique suffix for names, so parallel runs on one machine do not meet. */
export function runId(): string {
  return `${process.pid}-${randomBytes(3).toString('hex')}`;
}

/** A root with busybox-static as its only program, and no /bin/sh (a distroless stand-in): /sleep idles. */
export function noShellRoot(root: string): void {
  mkdirSync(root, { recursive: true });
  writeFileSync(path.join(root, 'bb'), readFileSync('/bin/busybox'), { mode: 0o755 });
  chmodSync(path.join(root, 'bb'), 0o755);
  symlinkSync('bb', path.join(root, 'sleep'));
  mkdirSync(path.join(root, 'etc'));
  writeFileSync(path.join(root, 'etc/os-release'), 'ID=distroless\n');
}

/** busybox with its applets, and /bin/sh replaced by `sh` (a script run by busybox's own shell). */
export function busyboxRoot(root: string, sh: string): void {
  mkdirSync(path.join(root, 'bin'), { recursive: true });
  writeFileSync(path.join(root, 'bin/busybox'), readFileSync('/bin/busybox'), { mode: 0o755 });
  chmodSync(path.join(root, 'bin/busybox'), 0o755);
  for (const a of ['sleep', 'cat', 'sed', 'head', 'printf', 'ls']) symlinkSync('busybox', path.join(root, 'bin', a));
  mkdirSync(path.join(root, 'etc'));
  writeFileSync(path.join(root, 'etc/os-release'), 'ID=busybox\nNAME="busybox test image"\n');
  writeFileSync(path.join(root, 'bin/sh'), sh, { mode: 0o755 });
  chmodSync(path.join(root, 'bin/sh'), 0o755);
}

/**
 * A shell that runs the first line it is sent (the scan's marker: the shell
 * works) and then stalls, reading nothing more: the script never runs.
 */
export const STALLING_SH = `#!/bin/busybox sh
IFS= read -r first
eval "$first"
exec /bin/busybox sleep 100000
`;

/**
 * A hostile shell: it has the script, so it has the frame token. It forges
 * records with it (names that climb out of the archive folder, an absolute
 * path, a second octoscan.xml, a fact), then runs the real script.
 */
export const HOSTILE_SH = `#!/bin/busybox sh
IFS= read -r first
eval "$first"
${READ_SCRIPT_SH}
T=$(printf '%s\\n' "$script" | /bin/busybox sed -n "s/^_T='\\\\(@@OCTO:[0-9a-f]*@@\\\\)'.*$/\\\\1/p")
r() { printf '\\n%s %s\\n' "$T" "$*"; }
r B release - - ../../../../tmp/octoscan-escaped
printf 'climbed out'
r E 0
r B release - - /etc/passwd
printf 'absolute'
r E 0
r B release - - octoscan.xml
printf '<octoscan forged="yes"/>'
r E 0
r B release - - ..
printf 'dot dot'
r E 0
r I fqdn forged.example
printf '%s\\n' "$script" | /bin/busybox sh
`;

/**
 * The docker shim: \`docker ps --no-trunc --format '<DOCKER_TEMPLATE>'\` prints the
 * podman containers carrying label \`select\` as that template renders them (id,
 * names, image, status, the pod label by its key); \`docker exec -i ...\` is podman's.
 */
export function dockerShim(select: string): string {
  return `#!/usr/bin/python3
# docker (octoscan-remote test shim): ps with octoscan's template, exec through podman.
import json, os, subprocess, sys
a = sys.argv[1:]
if a == ['ps', '--no-trunc', '--format', ${JSON.stringify(DOCKER_TEMPLATE)}]:
    out = subprocess.run(['${PODMAN}', 'ps', '--no-trunc', '--filter', 'label=${select}', '--format', 'json'], check=True, capture_output=True, text=True).stdout
    for c in json.loads(out or '[]'):
        labels = c.get('Labels') or {}
        print(json.dumps({'id': c['Id'], 'names': c['Names'][0], 'image': c['Image'], 'status': 'Up 1 minute', 'pod': labels.get('io.kubernetes.pod.name', '')}))
    sys.exit(0)
if a[:2] == ['exec', '-i']:
    os.execv('${PODMAN}', ['podman'] + a)
sys.stderr.write('docker (test shim): unsupported: %r\\n' % a)
sys.exit(64)
`;
}

/**
 * The crictl shim: \`crictl ps -o json\` prints the podman containers carrying
 * label \`select\` as crictl's {"containers": [...]} (id, metadata.name,
 * image.image, imageRef, state, labels with the Kubernetes pod); exec through podman.
 */
export function crictlShim(select: string): string {
  return `#!/usr/bin/python3
# crictl (octoscan-remote test shim): ps -o json in crictl's form, exec through podman.
import json, os, subprocess, sys
a = sys.argv[1:]
if a == ['ps', '-o', 'json']:
    out = subprocess.run(['${PODMAN}', 'ps', '--no-trunc', '--filter', 'label=${select}', '--format', 'json'], check=True, capture_output=True, text=True).stdout
    cs = []
    for c in json.loads(out or '[]'):
        labels = c.get('Labels') or {}
        cs.append({'id': c['Id'], 'podSandboxId': '0' * 64,
                   'metadata': {'name': labels.get('io.kubernetes.container.name', c['Names'][0]), 'attempt': 0},
                   'image': {'image': c['Image'], 'annotations': {}}, 'imageRef': 'sha256:' + (c.get('ImageID') or '0' * 64),
                   'state': 'CONTAINER_RUNNING', 'createdAt': '1764478800000000000', 'labels': labels, 'annotations': {}})
    print(json.dumps({'containers': cs}, indent=2))
    sys.exit(0)
if a[:2] == ['exec', '-i']:
    os.execv('${PODMAN}', ['podman'] + a)
sys.stderr.write('crictl (test shim): unsupported: %r\\n' % a)
sys.exit(1)
`;
}

/** A podman that lists only the containers with label \`select\` (each test host sees its own), the real one otherwise. */
export function podmanShim(select: string): string {
  return `#!/bin/sh
# podman (octoscan-remote test shim): ps shows this test host's containers only.
if [ "$1" = ps ]; then shift; exec ${PODMAN} ps --filter label=${select} "$@"; fi
exec ${PODMAN} "$@"
`;
}

export function writeShim(dir: string, name: string, text: string): string {
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  const p = path.join(dir, name);
  writeFileSync(p, text, { mode: 0o755 });
  chmodSync(p, 0o755);
  return p;
}
