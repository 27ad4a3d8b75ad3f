// Issue 17, the parts that need no engine: reading each engine's listing in
// its documented format, refusing ids that are not hex before they reach a
// command, telling "no /bin/sh" from a stalled shell and a sudo refusal, the
// configuration values in the spec's order, and the hosts-file columns.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { PassThrough, Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { configurationInfos, linuxOctoscanXml } from '../../src/archive/octoscan-xml.js';
import { DOCKER_TEMPLATE, ENGINES, execCommand, listingScript, parseListing, uniqueContainers } from '../../src/containers/engines.js';
import { classifyRefusal, scanContainers } from '../../src/containers/scan-containers.js';
import { readHostsFile } from '../../src/hosts/index.js';
import { serialize, el } from '../../src/archive/xml.js';
import type { ScanSettings } from '../../src/scan/scan-host.js';
import { formatReport, doneHostsOf, failedClass, reportRow } from '../../src/sweep/report.js';
import { summaryLine } from '../../src/sweep/progress.js';
import { summaryHtml } from '../../src/sweep/summary-html.js';
import { readReportRows } from '../../src/sweep/report-reader.js';
import { writeFileSync } from 'node:fs';
import type { RemoteProcess, Session } from '../../src/transport/transport.js';
import type { HostOutcome, HostSpec, OutcomeClass } from '../../src/types.js';
import { darwinProbes, linuxProbes } from '../../targets/index.js';
import { entry, minimalScan, tokenOf } from '../helpers/fake-ssh-server.js';
import { SCRIPT_LAST_LINE } from '../../src/probe/script.js';

const T = `@@OCTO:${'ab'.repeat(16)}@@`;
const ID1 = 'a'.repeat(64);
const ID2 = '0123456789ab'.repeat(5) + 'cdef';

function listing(parts: { engine: string; path?: string; stdout: string; rc?: number; stderr?: string }[]): string {
  return (
    parts.map((p) => `${T} ENGINE ${p.engine} ${p.path ?? `/usr/bin/${p.engine}`}\n${p.stdout}\n${T} RC ${p.rc ?? 0}\n${p.stderr ?? ''}\n\n${T} DONE\n`).join('') +
    `${T} END\n`
  );
}

describe('engine listings', () => {
  it('docker ps: a template naming only the fields read (never .Size, so no size computation), the pod label by its key', () => {
    const docker = ENGINES.find((e) => e.name === 'docker')!.ps;
    assert.equal(docker, `ps --no-trunc --format '${DOCKER_TEMPLATE}'`);
    // {{json .}} marshals every field, .Size among them, and the client then asks for containers/json?size=1.
    assert.doesNotMatch(docker, /\{\{json \.\}\}|\.Size|\.Labels|\.State|--size/);
    assert.match(docker, /\{\{json \(\.Label "io\.kubernetes\.pod\.name"\)\}\}/);
    assert.doesNotMatch(docker.slice(docker.indexOf("'") + 1, -1), /'/, 'one single-quoted shell word');
    const stdout = [
      JSON.stringify({ id: ID1, names: 'web,web-alias', image: 'nginx:1.25', status: 'Up 2 hours (healthy)', pod: 'web-0' }),
      // A label value 'hello,io.kubernetes.pod.name=spoofed' is only another label's value here: the pod comes from its own key.
      JSON.stringify({ id: ID2, names: 'api', image: 'gcr.io/distroless/java17', status: 'Up 5 minutes', pod: '' }),
      // .Status as dockerd words it (.State is unknown to clients before 20.10).
      JSON.stringify({ id: 'c'.repeat(64), names: 'held', image: 'busybox', status: 'Up 5 seconds (Paused)', pod: '' }),
      JSON.stringify({ id: 'd'.repeat(64), names: 'loop', image: 'busybox', status: 'Restarting (1) 3 seconds ago', pod: '' }),
    ].join('\n');
    const [l] = parseListing(listing([{ engine: 'docker', stdout }]), T);
    assert.equal(l.error, undefined);
    assert.deepEqual(l.containers, [
      { engine: 'docker', id: ID1, name: 'web', image: 'nginx:1.25', pod: 'web-0' },
      { engine: 'docker', id: ID2, name: 'api', image: 'gcr.io/distroless/java17' },
      { engine: 'docker', id: 'c'.repeat(64), name: 'held', image: 'busybox', state: 'paused' },
      { engine: 'docker', id: 'd'.repeat(64), name: 'loop', image: 'busybox', state: 'restarting' },
    ]);
  });

  it('podman ps --format json: an array, Names a list, Labels an object or null', () => {
    const stdout = JSON.stringify([
      { Id: ID1, Names: ['db'], Image: 'docker.io/library/postgres:16', Labels: null, PodName: '' },
      { Id: ID2, Names: ['app', 'alias'], Image: 'localhost/app:latest', State: 'running', Labels: { 'io.kubernetes.pod.name': 'app-pod' } },
      { Id: 'c'.repeat(64), Names: ['held'], Image: 'i', State: 'paused', Labels: {} },
    ]);
    const [l] = parseListing(listing([{ engine: 'podman', stdout }]), T);
    assert.deepEqual(l.containers, [
      { engine: 'podman', id: ID1, name: 'db', image: 'docker.io/library/postgres:16' },
      { engine: 'podman', id: ID2, name: 'app', image: 'localhost/app:latest', pod: 'app-pod' },
      { engine: 'podman', id: 'c'.repeat(64), name: 'held', image: 'i', state: 'paused' },
    ]);
    assert.deepEqual(parseListing(listing([{ engine: 'podman', stdout: '[]' }]), T)[0].containers, []);
  });

  it('crictl ps -o json: metadata.name, the image reference, the pod from the CRI labels; the state of those not running', () => {
    const stdout = JSON.stringify({
      containers: [
        { id: ID1, podSandboxId: 'f'.repeat(64), metadata: { name: 'app', attempt: 0 }, image: { image: 'registry.k8s.io/pause:3.9' }, imageRef: 'sha256:' + 'e'.repeat(64), state: 'CONTAINER_RUNNING', labels: { 'io.kubernetes.pod.name': 'shop-7d4b9c-x2x9q', 'io.kubernetes.pod.namespace': 'shop' } },
        { id: ID2, metadata: { name: 'sidecar' }, image: { image: 'sha256:' + 'd'.repeat(64) }, imageRef: 'docker.io/envoyproxy/envoy@sha256:' + 'c'.repeat(64), state: 'CONTAINER_RUNNING', labels: {} },
        { id: 'b'.repeat(64), metadata: { name: 'done' }, image: { image: 'x' }, state: 'CONTAINER_EXITED', labels: {} },
      ],
    });
    const [l] = parseListing(listing([{ engine: 'crictl', stdout }]), T);
    assert.deepEqual(l.containers, [
      { engine: 'crictl', id: ID1, name: 'app', image: 'registry.k8s.io/pause:3.9', pod: 'shop-7d4b9c-x2x9q' },
      { engine: 'crictl', id: ID2, name: 'sidecar', image: 'docker.io/envoyproxy/envoy@sha256:' + 'c'.repeat(64) },
      { engine: 'crictl', id: 'b'.repeat(64), name: 'done', image: 'x', state: 'exited' },
    ]);
  });

  it('a docker client without a daemon is "not running"; a refusal is an error that quotes the engine', () => {
    const ls = parseListing(
      listing([
        { engine: 'docker', stdout: '', rc: 1, stderr: 'Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?' },
        { engine: 'podman', stdout: '', rc: 125, stderr: 'Error: open /var/lib/containers/storage/db.sql: permission denied' },
      ]),
      T,
    );
    assert.match(ls[0].notRunning!, /Cannot connect to the Docker daemon/);
    assert.equal(ls[0].error, undefined);
    assert.equal(ls[1].error, 'podman ps failed (exit 125): Error: open /var/lib/containers/storage/db.sql: permission denied');
  });

  it('an id that is not hex never reaches a command: the engine gets an error row, not a scan', () => {
    const stdout = JSON.stringify([{ Id: `${ID1}; rm -rf /`, Names: ['x'], Image: 'i' }]);
    const [l] = parseListing(listing([{ engine: 'podman', stdout }]), T);
    assert.deepEqual(l.containers, []);
    assert.match(l.error!, /not 12 to 64 hex digits/);
    assert.throws(() => execCommand('/usr/bin/docker', 'abc; reboot'), /unsafe container id/);
    assert.throws(() => execCommand('/usr/bin/dock er', ID1), /unsafe engine path/);
    assert.equal(execCommand('/usr/bin/docker', ID1), `/usr/bin/docker exec -i ${ID1} /bin/sh -s`);
  });

  it('a listing that ends early or breaks its frames is refused; peer text in names stays text', () => {
    assert.throws(() => parseListing(`${T} ENGINE docker /usr/bin/docker\n`, T), /ended early/);
    const stdout = JSON.stringify([{ Id: ID1, Names: ['evil\u001b[2Jname'], Image: 'img\nnext' }]);
    const [l] = parseListing(listing([{ engine: 'podman', stdout }]), T);
    assert.equal(l.containers[0].name, 'evil\u001b[2Jname', 'kept as given; escaped where shown (report, stderr)');
  });

  it('the same container through two engines (podman-docker) is scanned once, by the first', () => {
    const d = JSON.stringify({ id: ID1, names: 'web', image: 'i', status: 'Up 1 second', pod: '' });
    const p = JSON.stringify([{ Id: ID1, Names: ['web'], Image: 'i' }, { Id: ID2, Names: ['db'], Image: 'j' }]);
    const u = uniqueContainers(parseListing(listing([{ engine: 'docker', stdout: d }, { engine: 'podman', stdout: p }]), T));
    assert.deepEqual(u.map((x) => [x.container.engine, x.container.id, x.path]), [['docker', ID1, '/usr/bin/docker'], ['podman', ID2, '/usr/bin/podman']]);
  });

  it('the listing script runs in dash and busybox ash, passing stdout through and keeping stderr apart', () => {
    const dir = execFileSync('mktemp', ['-d'], { encoding: 'utf8' }).trim();
    execFileSync('/bin/sh', ['-c', `printf '#!/bin/sh\\necho "{\\\\"containers\\\\":[]}"\\n' > ${dir}/crictl; printf '#!/bin/sh\\necho "permission denied" >&2; exit 3\\n' > ${dir}/podman; chmod +x ${dir}/crictl ${dir}/podman`]);
    // podman-docker: a `docker` that is podman is not run (its ps knows no .Label; podman itself is listed).
    execFileSync('/bin/sh', ['-c', `printf '#!/bin/sh\\n[ "$1" = --version ] && echo "podman version 4.3.1" && exit 0\\necho "Error: template: ps: cannot evaluate field Label" >&2; exit 125\\n' > ${dir}/docker; chmod +x ${dir}/docker`]);
    for (const sh of ['/bin/dash', '/bin/busybox']) {
      const args = sh.endsWith('busybox') ? ['sh', '-s'] : ['-s'];
      const out = execFileSync(sh, args, { input: listingScript(T), encoding: 'utf8', env: { PATH: `${dir}:/nonexistent` } });
      const ls = parseListing(out, T).filter((l) => l.path.startsWith(dir));
      assert.deepEqual(ls.map((l) => [l.engine, l.containers.length, l.error ?? '', l.notRunning ?? '']), [
        ['docker', 0, '', 'docker is podman (podman-docker): its containers are listed as podman\'s'],
        ['podman', 0, 'podman ps failed (exit 3): permission denied', ''],
        ['crictl', 0, '', ''],
      ], sh);
    }
    // Not root: podman is named, not run (rootless podman would write its storage into the home folder).
    if (process.getuid?.() === 0 && existsSync('/usr/bin/setpriv')) {
      execFileSync('chmod', ['755', dir]);
      const out = execFileSync('/usr/bin/setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', '/bin/dash', '-s'], { input: listingScript(T), encoding: 'utf8', env: { PATH: `${dir}:/nonexistent` } });
      const ls = parseListing(out, T).filter((l) => l.path.startsWith(dir));
      assert.deepEqual(ls.map((l) => [l.engine, l.containers.length]), [['docker', 0], ['podman', 0], ['crictl', 0]]);
      assert.equal(ls[1].error, undefined);
      assert.match(ls[1].needsRoot!, /^podman was not run: without root it would create rootless storage in the scan user's home; root's containers are listed with --sudo$/);
    }
    execFileSync('rm', ['-rf', dir]);
  });
});

describe('why a container shell did not start', () => {
  const plain = { kind: 'plain' } as const;
  it('no /bin/sh: docker/podman exit 126/127 or say so', () => {
    const e = classifyRefusal('h c', { refused: 'x', code: 127, stderr: 'Error: runc: exec failed: unable to start container process: exec: "/bin/sh": stat /bin/sh: no such file or directory: OCI runtime attempted to invoke a command that was not found' }, plain, 60_000);
    assert.equal(e.cls, 'no-shell');
    assert.match(e.message, /^h c: no \/bin\/sh in the container .*no archive \(engine: Error: runc: exec failed/);
  });
  it('no /bin/sh, as docker says it: on standard output, exit 126, nothing on standard error (both clients)', () => {
    const said = 'OCI runtime exec failed: exec failed: unable to start container process: exec: "/bin/sh": stat /bin/sh: no such file or directory: unknown';
    for (const code of [126, null, 1]) {
      const e = classifyRefusal('h c', { refused: `unexpected output before the root shell started: ${said}`, code, stderr: '', stdout: `${said}\n` }, { kind: 'sudo-n' }, 60_000);
      assert.equal(e.cls, 'no-shell', `exit ${code}`);
      assert.match(e.message, /\(engine: OCI runtime exec failed: .*stat \/bin\/sh: no such file or directory: unknown\)$/);
    }
    // docker 20.10's wording (runc 1.0) and crun's through podman, whatever the status.
    assert.equal(classifyRefusal('h', { refused: 'x', code: 126, stderr: '', stdout: 'OCI runtime exec failed: exec failed: container_linux.go:380: starting container process caused: exec: "/bin/sh": stat /bin/sh: no such file or directory: unknown\n' }, plain, 60_000).cls, 'no-shell');
    assert.equal(classifyRefusal('h', { refused: 'x', code: 1, stderr: 'Error: crun: executable file `/bin/sh` not found in $PATH: No such file or directory: OCI runtime attempted to invoke a command that was not found\n' }, plain, 60_000).cls, 'no-shell');
    // A paused container is not "no shell" (scanContainers does not enter one; were it entered, the engine's refusal is protocol).
    assert.equal(classifyRefusal('h', { refused: 'x', code: 1, stderr: 'Error response from daemon: Container p1 is paused, unpause the container before exec\n' }, plain, 60_000).cls, 'protocol');
  });
  it('a shell that never answers is a timeout; sudo refusing is sudo; anything else is protocol', () => {
    assert.equal(classifyRefusal('h', { refused: 'sudo did not answer within 60 s', code: null, stderr: '' }, plain, 60_000).cls, 'timeout');
    assert.equal(classifyRefusal('h', { refused: 'sudo: a password is required', code: 1, stderr: 'sudo: a password is required\n' }, { kind: 'sudo-n' }, 60_000).cls, 'sudo');
    assert.equal(classifyRefusal('h', { refused: 'x', code: 1, stderr: 'Error: container is paused' }, plain, 60_000).cls, 'protocol');
  });
});

describe('configuration values', () => {
  it('tag always; then machine, host, cluster, container (True), virt, only when given', () => {
    const names = (c: Parameters<typeof configurationInfos>[1]): string => serialize(el('configuration', [], configurationInfos('t', c)), '');
    assert.equal(names({}).match(/name="(\w+)"/g)!.join(' '), 'name="tag"');
    const all = names({ virt: 'kvm', container: true, cluster: 'c', host: 'h', machine: 'm' });
    assert.equal(all.match(/name="(\w+)"/g)!.join(' '), 'name="tag" name="machine" name="host" name="cluster" name="container" name="virt"');
    assert.match(all, /<info name="container" type="B" value="True"\/>/);
    const xml = linuxOctoscanXml({ uuid: 'u', python: 'none', platform: 'p', fqdn: 'f', timestamp: 't', userId: '0', effectiveUserId: '0', login: 'root', tag: '', config: { cluster: 'prod & "eu"' }, warnings: [], durationMs: 1 });
    assert.match(xml, /<configuration>\n\s+<info name="tag" type="S" value=""\/>\n\s+<info name="cluster" type="S" value="prod &amp; &quot;eu&quot;"\/>\n\s+<\/configuration>/);
  });
});

describe('hosts-file columns', () => {
  const read = (text: string) => readHostsFile('hosts.csv', { port: 22, user: 'root', identities: [] }, { input: Readable.from([Buffer.from(text)]) });
  it('containers, machine, config_host, cluster, virt', async () => {
    const r = await read('host,containers,machine,config_host,cluster,virt\na,yes,vm1,hv1,prod,kvm\nb,no,,,,\nc,,,,,\n');
    assert.deepEqual(r.hosts.map((h) => [h.host, h.containers, h.config]), [
      ['a', true, { machine: 'vm1', host: 'hv1', cluster: 'prod', virt: 'kvm' }],
      ['b', false, undefined],
      ['c', undefined, undefined],
    ]);
  });
  it('bad values name file, line, column and what was expected', async () => {
    await assert.rejects(read('host,containers,cluster\na,maybe,x\nb,yes,"x\u0001y"\n'), (e: Error) => {
      assert.match(e.message, /hosts\.csv:2: column "containers": value "maybe": containers must be yes or no \(or empty for the --containers default\)/);
      assert.match(e.message, /hosts\.csv:3: column "cluster": value .*: cluster must not contain control characters other than tab/);
      return true;
    });
  });
});

// ---------------------------------------------------------------------------
// A host's containers against a scripted session: the bound on containers at
// once, a stalled one at its deadline while the others finish, no-shell.
type Behaviour = 'ok' | 'stall' | 'no-shell' | 'linger' | 'complete';

function scriptedSession(containers: { id: string; name: string; does: Behaviour; state?: string }[], engineSays?: { rc: number; stderr: string }): { session: Session; commands: string[]; kills: string[]; maxAtOnce: () => number } {
  const kills: string[] = [];
  let active = 0;
  let max = 0;
  const commands: string[] = [];
  const session: Session = {
    info: { transport: 'scripted' },
    async start(command: string): Promise<RemoteProcess> {
      commands.push(command);
      const stdin = new PassThrough();
      const stdout = new PassThrough();
      const stderr = new PassThrough();
      let done: (x: { code: number | null; signal?: string }) => void = () => {};
      const exit = new Promise<{ code: number | null; signal?: string }>((r) => (done = r));
      let running = true;
      const end = (code: number | null): void => {
        if (!running) return;
        running = false;
        stdout.end();
        stderr.end();
        done({ code });
      };
      let input = '';
      if (command === '/bin/sh -s' || command === 'sudo -n /bin/sh -s') {
        // The listing script: answer as podman would (under sudo, once the marker line proved the root shell).
        stdin.on('data', (c: Buffer) => {
          if (!input && command.startsWith('sudo')) stdout.write(`${/^printf '%s\\n' (\S+)$/m.exec(c.toString())![1]}\n`);
          input += c.toString();
        });
        stdin.on('end', () => {
          const t = /^t=(@@OCTO:[0-9a-f]{32}@@)$/m.exec(input)![1];
          const json = JSON.stringify(containers.map((c) => ({ Id: c.id, Names: [c.name], Image: `img/${c.name}`, State: c.state ?? 'running' })));
          if (engineSays) stdout.write(`${t} ENGINE docker /usr/bin/docker\n\n${t} RC ${engineSays.rc}\n${engineSays.stderr}\n\n${t} DONE\n${t} END\n`);
          else stdout.write(`${t} ENGINE podman /usr/bin/podman\n${json}\n\n${t} RC 0\n\n\n${t} DONE\n${t} END\n`);
          end(0);
        });
        return { stdin, stdout, stderr, exit, kill: () => end(null) };
      }
      const c = containers.find((x) => command.endsWith(`/usr/bin/podman exec -i ${x.id} /bin/sh -s`))!;
      active++;
      max = Math.max(max, active);
      const finish = (code: number | null): void => {
        if (running) active--;
        end(code);
      };
      let answered = false;
      const answer = (): void => {
        if (answered) return;
        answered = true;
        if (c.does === 'stall') return; // the script is never answered
        setTimeout(() => {
          // minimalScan has a release file and no package list (incomplete); 'complete' adds apk's.
          const t = tokenOf(input);
          stdout.write(minimalScan(t, c.does === 'complete' ? [entry(t, 'apk', 'apk/installed.txt', 'busybox-1.36.1-r2 x86_64 {busybox} (GPL-2.0-only) [installed]\n')] : []));
          // linger: a process the script left behind holds the channel; only kill() ends it.
          if (c.does !== 'linger') finish(0);
        }, 150);
      };
      stdin.on('data', (chunk: Buffer) => {
        const first = input === '';
        input += chunk.toString();
        // The script is whole at its last line: the scan keeps the input open after it.
        if (input.endsWith(`\n${SCRIPT_LAST_LINE}\n`)) answer();
        if (first) {
          const marker = /^printf '%s\\n' (\S+)$/m.exec(input)![1];
          if (c.does === 'no-shell') {
            stderr.write('Error: runc: exec failed: unable to start container process: exec: "/bin/sh": stat /bin/sh: no such file or directory\n');
            setTimeout(() => finish(127), 10);
          } else stdout.write(`${marker}\n`);
        }
      });
      stdin.on('end', answer);
      // As sshd does for a command whose children hold the channel: a kill is asked for, the close never confirmed.
      return { stdin, stdout, stderr, exit, kill: () => (c.does === 'linger' ? kills.push(c.name) : finish(null)) };
    },
    close() {},
  };
  return { session, commands, kills, maxAtOnce: () => max };
}

/** Scan settings for a scripted session: nothing connects, containers on. */
const settings = (out: string, parallel: number, timeoutMs: number, bounds: { max?: number; allTimeoutMs?: number } = {}): ScanSettings => ({
  outDir: out,
  transport: { name: 'ssh2', connect: () => Promise.reject(new Error('unused')) },
  connect: { connectTimeoutMs: 5000, authTimeoutMs: 5000, keepaliveIntervalMs: 5000, keepaliveCountMax: 3, knownHostsFiles: [], knownHostsWriteFile: '', hostKeyPolicy: 'strict' },
  hostTimeoutMs: 60_000,
  sections: { linux: linuxProbes, darwin: darwinProbes },
  warn: () => {},
  containers: { enabled: true, parallel, timeoutMs, listTimeoutMs: 5000, max: bounds.max ?? 200, allTimeoutMs: bounds.allTimeoutMs ?? 600_000 },
});

describe('a host\'s containers, scripted', () => {
  const spec: HostSpec = { host: 'node1', port: 22, user: 'scan', identities: [], tag: 't', origin: { file: '<args>', line: 0 }, config: { cluster: 'k1' } };
  const ids = ['1', '2', '3', '4', '5'].map((d) => d.repeat(64));

  for (const parallel of [1, 2]) {
    it(`at most ${parallel} at once; the stalled one times out at its deadline while the others finish`, async () => {
      const out = mkdtempSync('/tmp/octoscan-ctr-unit-');
      try {
        const s = scriptedSession([
          { id: ids[0], name: 'stuck', does: 'stall' },
          { id: ids[1], name: 'a', does: 'ok' },
          { id: ids[2], name: 'distroless', does: 'no-shell' },
          { id: ids[3], name: 'b', does: 'ok' },
          { id: ids[4], name: 'c', does: 'ok' },
        ]);
        const t0 = performance.now();
        const rows = await scanContainers(s.session, spec, settings(out, parallel, 3000), { where: 'scan@node1', fqdn: 'node1.example.com', started: '/bin/sh -s' });
        const wall = performance.now() - t0;
        assert.equal(s.maxAtOnce(), parallel, 'the bound is reached and never passed');
        assert.deepEqual(rows.map((r) => [r.container?.name, r.class]), [['stuck', 'timeout'], ['a', 'ok'], ['distroless', 'no-shell'], ['b', 'ok'], ['c', 'ok']]);
        assert.match(rows[0].message, /^scan@node1 podman container stuck \(111111111111\): per-container deadline of 3 s passed during stream$/);
        assert.ok(rows[0].durationMs >= 2900 && rows[0].durationMs < 10_000, String(rows[0].durationMs));
        // One at a time, the others wait for the stuck one; two at a time, they pass it.
        if (parallel === 2) assert.ok(wall < 3000 + 3000, `${wall} ms`);
        assert.equal(readdirSync(out).filter((f) => f.endsWith('.scal')).length, 3, 'an archive per container that ran the script, nothing else');
        assert.deepEqual(readdirSync(out).filter((f) => !f.endsWith('.scal')), [], 'no temporaries left');
        assert.equal(s.commands.filter((c) => c.includes(' exec -i ')).length, 5);
      } finally {
        rmSync(out, { recursive: true, force: true });
      }
    });
  }
});

describe('a host\'s containers: states, bounds, completeness, engines only root may use', () => {
  const spec: HostSpec = { host: 'node1', port: 22, user: 'scan', identities: [], tag: '', origin: { file: '<args>', line: 0 } };
  const host = { where: 'scan@node1', fqdn: 'node1.example.com', started: '/bin/sh -s' };
  const id = (d: string): string => d.repeat(64);
  const inTmp = async (f: (out: string) => Promise<void>): Promise<void> => {
    const out = mkdtempSync('/tmp/octoscan-ctr-unit-');
    try {
      await f(out);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  };

  it('paused, restarting and exited containers get a row with their state and are never entered; not failures', () =>
    inTmp(async (out) => {
      const s = scriptedSession([
        { id: id('1'), name: 'held', does: 'ok', state: 'paused' },
        { id: id('2'), name: 'looping', does: 'ok', state: 'restarting' },
        { id: id('3'), name: 'gone', does: 'ok', state: 'exited' },
        { id: id('4'), name: 'up', does: 'complete' },
      ]);
      const rows = await scanContainers(s.session, spec, settings(out, 1, 30_000), host);
      assert.deepEqual(rows.map((r) => [r.container?.name, r.class]), [['held', 'not-running'], ['looping', 'not-running'], ['gone', 'not-running'], ['up', 'ok']]);
      assert.match(rows[0].message, /^scan@node1 podman container held \(111111111111\): paused: not entered/);
      assert.deepEqual(s.commands.filter((c) => c.includes(' exec -i ')), [`/usr/bin/podman exec -i ${id('4')} /bin/sh -s`], 'only the running one is entered');
      assert.deepEqual(rows.map((r) => failedClass(r.class, true)), [false, false, false, false]);
    }));

  it('container rows carry completeness, entries, release, package list and warnings, flagged incomplete as hosts are', () =>
    inTmp(async (out) => {
      const s = scriptedSession([{ id: id('a'), name: 'distro', does: 'ok' }, { id: id('b'), name: 'alpine', does: 'complete' }]);
      const rows = await scanContainers(s.session, spec, settings(out, 1, 30_000), host);
      const [distro, alpine] = rows.map((r) => reportRow(r));
      assert.equal(distro.completeness, 'incomplete: no package list', 'a release file and no package list');
      assert.equal(distro.release, 'yes');
      assert.equal(distro.package_list, 'no');
      assert.ok(Number(distro.entries) >= 3, String(distro.entries));
      assert.equal(alpine.completeness, 'complete');
      assert.equal(alpine.package_list, 'yes');
      assert.equal(alpine.entries, Number(distro.entries) + 1);
      assert.equal(typeof alpine.warning_ids, 'string');
    }));

  it('--max-containers: the containers past N get skipped rows saying why; the cut is reported', () =>
    inTmp(async (out) => {
      const warned: string[] = [];
      const s = scriptedSession([...['1', '2', '3', '4'].map((d) => ({ id: id(d), name: `c${d}`, does: 'ok' as const })), { id: id('5'), name: 'held', does: 'ok', state: 'paused' }]);
      const rows = await scanContainers(s.session, spec, { ...settings(out, 1, 30_000, { max: 2 }), warn: (m) => warned.push(m) }, host);
      assert.deepEqual(rows.map((r) => [r.container?.name, r.class]), [['c1', 'ok'], ['c2', 'ok'], ['c3', 'skipped'], ['c4', 'skipped'], ['held', 'not-running']]);
      assert.match(rows[2].message, /: not scanned: --max-containers 2 reached \(4 running on this host\)$/);
      assert.deepEqual(warned, ['scan@node1: --max-containers 2: 2 of 4 running containers not scanned']);
      assert.equal(s.commands.filter((c) => c.includes(' exec -i ')).length, 2);
      assert.equal(failedClass('skipped', true), false);
    }));

  it('--containers-timeout: one deadline for all of a host\'s containers; the one in flight times out, the rest are skipped', () =>
    inTmp(async (out) => {
      const warned: string[] = [];
      const s = scriptedSession([{ id: id('1'), name: 'a', does: 'ok' }, { id: id('2'), name: 'stuck', does: 'stall' }, { id: id('3'), name: 'b', does: 'ok' }, { id: id('4'), name: 'c', does: 'ok' }]);
      const t0 = performance.now();
      // Each container alone has 60 s; all of them together 2 s.
      const rows = await scanContainers(s.session, spec, { ...settings(out, 1, 60_000, { allTimeoutMs: 2000 }), warn: (m) => warned.push(m) }, host);
      const wall = performance.now() - t0;
      assert.deepEqual(rows.map((r) => [r.container?.name, r.class]), [['a', 'ok'], ['stuck', 'timeout'], ['b', 'skipped'], ['c', 'skipped']]);
      assert.match(rows[1].message, /^scan@node1 podman container stuck \(222222222222\): the host's containers \(--containers-timeout\) deadline of 2 s passed during stream$/);
      assert.match(rows[2].message, /: not scanned: the host's --containers-timeout of 2 s passed before its turn$/);
      assert.ok(wall >= 1900 && wall < 8000, `${wall} ms`);
      assert.deepEqual(warned, ['scan@node1: --containers-timeout 2 s passed: 2 container(s) not scanned']);
      assert.equal(failedClass('timeout', true), true, 'the one cut in flight is a failure, as any timeout');
    }));

  it('an engine only root may use: without sudo a needs-root note naming --sudo; with sudo an engine failure', () =>
    inTmp(async (out) => {
      const denied = { rc: 1, stderr: 'Got permission denied while trying to connect to the Docker daemon socket at unix:///var/run/docker.sock: dial unix /var/run/docker.sock: connect: permission denied' };
      const plainRows = await scanContainers(scriptedSession([], denied).session, spec, settings(out, 1, 30_000), host);
      assert.deepEqual(plainRows.map((r) => [r.container?.engine, r.class]), [['docker', 'needs-root']]);
      assert.match(plainRows[0].message, /^scan@node1: docker ps failed \(exit 1\): Got permission denied .*; the scan user may not use docker: root's containers are listed with --sudo/);
      assert.equal(failedClass('needs-root', true), false);
      const sudoRows = await scanContainers(scriptedSession([], denied).session, spec, settings(out, 1, 30_000), { ...host, started: 'sudo -n /bin/sh -s' });
      assert.deepEqual(sudoRows.map((r) => [r.container?.engine, r.class]), [['docker', 'engine']]);
      assert.doesNotMatch(sudoRows[0].message, /--sudo/);
    }));
});

describe('one count of failures: summary line, exit code and retry file', () => {
  const spec = (host: string): HostSpec => ({ host, port: 22, user: 'scan', identities: [], tag: '', origin: { file: '<args>', line: 0 } });
  const base = { phase: 'done' as const, message: '', startedAt: new Date(), durationMs: 5, bytes: 0, warnings: 0, attempts: 1 };
  const ctr = (host: string, cls: OutcomeClass, engine: 'docker' | 'podman' = 'docker', cid = '') =>
    ({ ...base, spec: spec(host), class: cls, container: { engine, id: cid, name: cid ? 'c' : '', image: '' } });
  it('a host with a failed container or engine counts as failed; notes do not', () => {
    const outcomes: HostOutcome[] = [
      { ...base, spec: spec('notes'), class: 'ok', containers: [ctr('notes', 'needs-root', 'podman'), ctr('notes', 'no-shell', 'docker', ID1), ctr('notes', 'not-running', 'docker', ID2), ctr('notes', 'skipped', 'docker', ID2)] },
      { ...base, spec: spec('engine'), class: 'ok', containers: [ctr('engine', 'engine', 'docker')] },
      { ...base, spec: spec('ctr'), class: 'ok', containers: [ctr('ctr', 'protocol', 'docker', ID1)] },
      { ...base, spec: spec('down'), class: 'unreachable' },
    ];
    assert.match(summaryLine(outcomes, 1000), /^4 hosts: 1 ok, 3 failed \(containers 2, unreachable 1\) in 1\.0 s$/);
    const failed = outcomes.filter((o) => [o, ...(o.containers ?? [])].some((r) => failedClass(r.class, Boolean(r.container))));
    assert.deepEqual(failed.map((o) => o.spec.host), ['engine', 'ctr', 'down'], 'the retry file and the exit code take the same hosts');
  });

  for (const file of ['r.csv', 'r.jsonl']) {
    it(`${file}: the page reads the same count from the report's rows`, async () => {
      const dir = mkdtempSync('/tmp/octoscan-ctr-page-');
      try {
        const path = `${dir}/${file}`;
        writeFileSync(path, formatReport(path, [
          { ...base, spec: spec('notes'), class: 'ok' }, ctr('notes', 'needs-root', 'podman'), ctr('notes', 'not-running', 'docker', ID1),
          { ...base, spec: spec('ctr'), class: 'ok' }, ctr('ctr', 'protocol', 'docker', ID2),
          { ...base, spec: spec('down'), class: 'unreachable' },
        ]));
        const rows = await readReportRows(path);
        assert.deepEqual(rows.map((r) => [r.host, r.class, r.containersFailed ?? 0]), [['notes', 'ok', 0], ['ctr', 'ok', 1], ['down', 'unreachable', 0]]);
        const html = summaryHtml({ rows, archives: new Map(), source: path, generatedAt: new Date() });
        assert.match(html, /<h1>octoscan-remote: 3 hosts, 1 ok, 2 failed<\/h1>/);
        assert.match(html, /<p id="container-failures">1 of them scanned ok but had a container or engine that failed/);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});

describe('report rows of containers', () => {
  const spec: HostSpec = { host: 'node1', port: 22, user: 'scan', identities: [], tag: '', origin: { file: '<args>', line: 0 } };
  const base = { spec, phase: 'done' as const, message: '', startedAt: new Date(), durationMs: 5, bytes: 0, warnings: 0, attempts: 1 };
  const rows = [
    { ...base, class: 'timeout' as const, message: 'node1: connect deadline' },
    { ...base, class: 'ok' as const, archive: '/import/x.scal', container: { engine: 'docker' as const, id: ID1, name: '=cmd|calc', image: 'nginx' } },
  ];
  for (const file of ['r.csv', 'r.jsonl']) {
    it(`${file}: container columns last; --resume and the summary read only the host's own row`, async () => {
      const dir = mkdtempSync('/tmp/octoscan-ctr-report-');
      try {
        const path = `${dir}/${file}`;
        const text = formatReport(path, rows);
        writeFileSync(path, text);
        if (file.endsWith('.csv')) {
          const [head, , second] = text.split('\n');
          assert.match(head, /,carried_over,engine,container_id,container_name,image,upload,address,script_sha256,os_family,os_name,os_version,java$/);
          assert.ok(second.includes(`,docker,${ID1},'=cmd|calc,nginx,-,node1,`), second);
        }
        assert.equal((await doneHostsOf(path)).size, 0, 'an ok container does not make its failed host ok');
        assert.deepEqual((await readReportRows(path)).map((r) => r.class), ['timeout']);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it(`${file}: --resume takes a host as done only when its containers did not fail, and carries their rows with it`, async () => {
      const dir = mkdtempSync('/tmp/octoscan-ctr-report-');
      try {
        const node = (host: string): HostSpec => ({ ...spec, host });
        const ctr = (host: string, cls: 'ok' | 'no-shell' | 'timeout', id: string) =>
          ({ ...base, spec: node(host), class: cls, archive: cls === 'ok' ? `/import/${id.slice(0, 8)}.scal` : '', container: { engine: 'podman' as const, id, name: `c-${id.slice(0, 4)}`, image: 'alpine' } });
        const path = `${dir}/${file}`;
        writeFileSync(path, formatReport(path, [
          { ...base, spec: node('good'), class: 'ok' as const, archive: '/import/good.scal' },
          ctr('good', 'ok', 'a'.repeat(64)),
          ctr('good', 'no-shell', 'b'.repeat(64)),
          { ...base, spec: node('halfway'), class: 'ok' as const, archive: '/import/halfway.scal' },
          ctr('halfway', 'ok', 'c'.repeat(64)),
          ctr('halfway', 'timeout', 'd'.repeat(64)),
          { ...base, spec: node('plain'), class: 'ok' as const, archive: '/import/plain.scal' },
        ]));
        const done = await doneHostsOf(path);
        assert.deepEqual([...done.keys()].map((k) => k.split('\0')[0]).sort(), ['good', 'plain'], 'a host whose container timed out is scanned again');
        const good = done.get('good\x0022\x00scan')!;
        assert.equal(good.row['archive'], '/import/good.scal');
        assert.deepEqual(good.containers.map((c) => [c['container_id'], c['class']]), [['a'.repeat(64), 'ok'], ['b'.repeat(64), 'no-shell']], 'its container rows, in order');
        assert.deepEqual(done.get('plain\x0022\x00scan')!.containers, []);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});

describe('a container whose script leaves a process holding its channel', () => {
  it('keeps its complete archive: the command is ended after the grace period, not at the deadline', async () => {
    const out = mkdtempSync('/tmp/octoscan-ctr-unit-');
    try {
      const s = scriptedSession([{ id: 'e'.repeat(64), name: 'daemonizer', does: 'linger' }, { id: 'f'.repeat(64), name: 'next', does: 'ok' }]);
      const spec: HostSpec = { host: 'node1', port: 22, user: 'scan', identities: [], tag: '', origin: { file: '<args>', line: 0 } };
      const rows = await scanContainers(s.session, spec, settings(out, 1, 30_000), { where: 'scan@node1', fqdn: 'node1', started: '/bin/sh -s' });
      assert.deepEqual(rows.map((r) => [r.container?.name, r.class]), [['daemonizer', 'ok'], ['next', 'ok']], rows.map((r) => r.message).join(' | '));
      assert.ok(rows[0].durationMs < 15_000, `${rows[0].durationMs} ms: ended after the grace, long before the 30 s deadline`);
      assert.deepEqual(s.kills, ['daemonizer'], 'the lingering command was told to end');
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
