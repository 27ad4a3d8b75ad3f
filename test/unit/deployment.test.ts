// The deployment files, checked here because Docker and Kubernetes are not:
// every YAML parses and has the fields its kind needs; every path a
// Dockerfile copies exists; every command line in the manifests, the systemd
// unit and the README is accepted by the CLI's own option parser; the pods of
// the Indexed Job cover a hosts file exactly once; the compose stand-in takes
// an upload like octo-collect. Nothing here starts a container.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { Command, CommanderError } from 'commander';
import { parseAllDocuments } from 'yaml';
import { buildCommand } from '../../src/cli/options.js';
import { inspectCommand } from '../../src/cli/inspect-command.js';
import { scriptCommand } from '../../src/cli/script-command.js';
import { summaryCommand } from '../../src/cli/summary-command.js';
import { planCommand } from '../../src/cli/plan-command.js';
import { uploadCommand } from '../../src/cli/upload-command.js';
import { parseShard, selectShard } from '../../src/hosts/index.js';
import { collectorConfig } from '../../src/upload/collector-config.js';
import { UploadQueue } from '../../src/upload/upload-queue.js';
import { workspace } from '../helpers/workspace.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const DOCKER = path.join(ROOT, 'docker');
const fresh = workspace('octoscan-deploy-');

type Doc = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function yamlDocs(file: string): Doc[] {
  // merge: compose files use YAML merge keys (<<: *anchor), as Docker Compose reads them.
  const docs = parseAllDocuments(readFileSync(file, 'utf8'), { merge: true });
  for (const d of docs) assert.deepEqual(d.errors.map((e) => e.message), [], `${file}: YAML errors`);
  return docs.map((d) => d.toJS({ maxAliasCount: 100 }) as Doc).filter((d) => d !== null);
}

/** Parses one command line (arguments after the program name) with the parser the CLI itself uses. */
function parseCli(args: string[], where: string): Command {
  const sub: Record<string, () => Command> = { upload: uploadCommand, script: scriptCommand, inspect: inspectCommand, summary: summaryCommand, plan: planCommand };
  const cmd = (sub[args[0]] ?? buildCommand)().exitOverride().configureOutput({ writeErr: () => {}, writeOut: () => {} });
  try {
    cmd.parse(sub[args[0]] ? args.slice(1) : args, { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) assert.fail(`${where}: the CLI rejects ${JSON.stringify(args)}: ${e.message}`);
    throw e;
  }
  return cmd;
}

/** Shell words of a command line, up to the first pipe, redirection, && or comment. */
function shellWords(line: string): string[] {
  const words: string[] = [];
  let cur = '';
  let inWord = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === "'" || c === '"') {
      const end = line.indexOf(c, i + 1);
      assert.ok(end > i, `unterminated quote in ${line}`);
      cur += line.slice(i + 1, end);
      inWord = true;
      i = end;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(cur);
      cur = '';
      inWord = false;
    } else if (!inWord && (c === '#' || c === '|' || c === '>' || c === ';' || c === '&' || c === ')')) {
      break;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (inWord) words.push(cur);
  return words;
}

const COMMAND = /(?:^|\s)(?:octoscan-remote|node bin\/octoscan-remote\.js|\/usr\/local\/bin\/octoscan-remote)\s+(.*)$/;

/** The octoscan-remote command lines in the README's code blocks, with their line numbers. */
function readmeCommands(): { line: number; args: string[] }[] {
  const lines = readFileSync(path.join(ROOT, 'README.md'), 'utf8').split('\n');
  const found: { line: number; args: string[] }[] = [];
  let fenced = false;
  let shell = false;
  lines.forEach((text, i) => {
    if (/^```/.test(text)) {
      fenced = !fenced;
      shell = fenced && /^```(sh|bash)?\s*$/.test(text);
      return;
    }
    if (!shell || /^\s*(docker build|git clone|cd |npm |sudo apt|kubectl)/.test(text)) return;
    // Usage lines ([--os linux|macos]) show syntax, not a command to run.
    if (/\[-/.test(text)) return;
    const m = COMMAND.exec(text);
    if (!m) return;
    const args = shellWords(m[1]);
    if (args.length) found.push({ line: i + 1, args });
  });
  return found;
}

function jobOf(): { cronJob: Doc; configMap: Doc } {
  const docs = yamlDocs(path.join(DOCKER, 'k8s-indexed-job.yaml'));
  const cronJob = docs.find((d) => d.kind === 'CronJob');
  const configMap = docs.find((d) => d.kind === 'ConfigMap');
  assert.ok(cronJob && configMap, 'k8s-indexed-job.yaml holds a CronJob and a ConfigMap');
  return { cronJob, configMap };
}

const podArgs = (cronJob: Doc, index: number): string[] =>
  (cronJob.spec.jobTemplate.spec.template.spec.containers[0].args as string[]).map((a) => a.replace('$(JOB_COMPLETION_INDEX)', String(index)));

/**
 * Whether .dockerignore in `context` lets a path into the build context. Only
 * the form the repository uses: `*` first, then `!path` for what is sent.
 */
function sentByDockerignore(context: string): (src: string) => boolean {
  const file = path.join(context, '.dockerignore');
  if (!existsSync(file)) return () => true;
  const lines = readFileSync(file, 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  assert.equal(lines[0], '*', `${file}: starts with * (everything out), then !path for what the build copies`);
  const kept = lines.slice(1).map((l) => {
    assert.match(l, /^![^*?[]+$/, `${file}: ${l}: only !path lines after *`);
    return l.slice(1).replace(/\/$/, '');
  });
  return (src) => kept.some((k) => src === k || src.startsWith(`${k}/`));
}

describe('deployment files', () => {
  it('every YAML file parses and has the fields its kind needs', () => {
    const yamls = readdirSync(DOCKER).filter((f) => /\.ya?ml$/.test(f));
    assert.ok(yamls.includes('compose.yaml') && yamls.includes('k8s-indexed-job.yaml'), yamls.join(', '));
    for (const f of yamls) {
      for (const d of yamlDocs(path.join(DOCKER, f))) {
        if (f === 'compose.yaml') continue;
        assert.ok(d.apiVersion && d.kind && d.metadata?.name, `${f}: apiVersion, kind, metadata.name`);
      }
    }
    const { cronJob, configMap } = jobOf();
    assert.equal(cronJob.apiVersion, 'batch/v1');
    assert.match(cronJob.spec.schedule, /^\S+ \S+ \S+ \S+ \S+$/);
    const job = cronJob.spec.jobTemplate.spec;
    assert.equal(job.completionMode, 'Indexed');
    assert.equal(job.parallelism, job.completions);
    assert.equal(job.backoffLimit, undefined, 'backoffLimit 0 would let the first failing shard stop the others');
    assert.ok(job.backoffLimitPerIndex >= 0);
    const pod = job.template.spec;
    assert.equal(pod.restartPolicy, 'Never', 'podFailurePolicy needs restartPolicy Never');
    for (const rule of job.podFailurePolicy.rules) {
      assert.ok(['FailIndex', 'FailJob', 'Ignore', 'Count'].includes(rule.action));
      assert.equal(rule.onExitCodes.containerName, pod.containers[0].name);
      assert.ok(!rule.onExitCodes.values.includes(2), 'exit 2 (some hosts failed) is mapped to 0 by --failed-exit, not a failure');
    }
    const c = pod.containers[0];
    assert.ok(c.name && c.image && Array.isArray(c.args));
    // Every mounted volume is declared; the hosts and known_hosts come from the ConfigMap, the key from a Secret.
    const volumes = new Map((pod.volumes as Doc[]).map((v) => [v.name, v]));
    for (const m of c.volumeMounts as Doc[]) assert.ok(volumes.has(m.name), `volume ${m.name} declared`);
    assert.equal(volumes.get('config')!.configMap.name, configMap.metadata.name);
    assert.ok(configMap.data['hosts.csv'] && configMap.data['known_hosts']);
    const secret = [...volumes.values()].find((v) => v.secret);
    assert.ok(secret, 'the key comes from a Secret');
    // Secret files are root's, group fsGroup: the non-root user reads them through the group bit.
    assert.equal(secret.secret.defaultMode & 0o040, 0o040, 'defaultMode lets the group read the key');
    assert.equal(pod.securityContext.fsGroup, pod.securityContext.runAsUser);
    // Uploading: the spool is the pod's own; only the reports live on a claim, each shard its own file.
    const args = podArgs(cronJob, 0);
    assert.ok(args.includes('--upload'));
    const spool = (c.volumeMounts as Doc[]).find((m) => m.mountPath === args[args.indexOf('--out') + 1]);
    assert.ok(spool && volumes.get(spool.name)!.emptyDir, 'the spool is an emptyDir');
    const reportDir = args[args.indexOf('--report-dir') + 1];
    const reportsMount = (c.volumeMounts as Doc[]).find((m) => m.mountPath === reportDir);
    assert.ok(reportsMount, '--report-dir is a mounted volume');
    const claim = volumes.get(reportsMount.name)!.persistentVolumeClaim;
    assert.ok(claim, 'the reports are kept on a PersistentVolumeClaim');
    assert.ok(yamlDocs(path.join(DOCKER, 'k8s-indexed-job.yaml')).some((d) => d.kind === 'PersistentVolumeClaim' && d.metadata.name === claim.claimName), 'the claim is declared');
    for (const v of volumes.values()) assert.ok(!v.nfs && !v.hostPath, `volume ${v.name} is no host or NFS path`);
    for (const m of c.volumeMounts as Doc[]) if (!volumes.get(m.name)!.emptyDir && m !== reportsMount) assert.equal(m.readOnly, true, `${m.name} mounted read-only`);
    // A pinned tag that is not pulled from Docker Hub.
    for (const d of yamlDocs(path.join(DOCKER, 'k8s-indexed-job.yaml')).filter((x) => x.kind === 'CronJob')) {
      for (const ct of d.spec.jobTemplate.spec.template.spec.containers as Doc[]) {
        assert.match(ct.image, /:[0-9][\w.-]*$/, `${ct.name}: a pinned image tag, not :latest`);
        assert.equal(ct.imagePullPolicy, 'IfNotPresent');
      }
    }
    // Exit 4 (the controller could not keep what it scanned) is a failure, never ignored.
    const rules = job.podFailurePolicy.rules as Doc[];
    assert.ok(rules.some((r) => r.action !== 'Ignore' && r.onExitCodes.values.includes(4)), 'exit 4 counts as a failure');
    // The morning page from the shards: a summary over the report folder.
    const summaryJob = yamlDocs(path.join(DOCKER, 'k8s-indexed-job.yaml')).find((d) => d.kind === 'CronJob' && d !== cronJob && d.metadata.name !== cronJob.metadata.name);
    assert.ok(summaryJob, 'a CronJob makes the morning page');
    const summaryArgs = summaryJob.spec.jobTemplate.spec.template.spec.containers[0].args as string[];
    assert.deepEqual(summaryArgs.slice(0, 2), ['summary', reportDir]);
    assert.equal(summaryCommand().exitOverride().configureOutput({ writeErr: () => {} }).parse(summaryArgs.slice(1), { from: 'user' }).opts().out, `${reportDir}/last-night.html`);

    const [compose] = yamlDocs(path.join(DOCKER, 'compose.yaml'));
    const services = compose.services as Record<string, Doc>;
    const targets = Object.keys(services).filter((s) => /^target\d+$/.test(s));
    assert.ok(targets.length >= 2 && targets.length <= 3, 'two or three SSH targets');
    assert.ok(services.collector && services.controller);
    for (const [name, s] of Object.entries(services)) {
      assert.ok(s.image || s.build, `${name}: image or build`);
      if (s.build) assert.ok(existsSync(path.join(DOCKER, s.build.context, s.build.dockerfile)), `${name}: ${s.build.context}/${s.build.dockerfile} exists`);
      for (const v of (s.volumes ?? []) as string[]) {
        const [src] = v.split(':');
        if (src.startsWith('.')) assert.ok(existsSync(path.join(DOCKER, src)), `${name}: mounted ${src} exists`);
        else assert.ok(compose.volumes?.[src] !== undefined, `${name}: volume ${src} declared`);
      }
    }
    for (const t of targets) assert.ok(Object.keys(services.controller.depends_on).includes(t), `controller waits for ${t}`);
    // docker-compose 1.29 (Debian 12) rejects a top-level name: the README's commands give -p.
    assert.equal(compose.name, undefined, 'no top-level name: (docker-compose 1.29 rejects it)');
    for (const [name, s] of Object.entries(services)) assert.equal(s.init, true, `${name}: init: true, so that SIGTERM stops it at once`);
    // The demo hosts file names exactly the targets.
    const demoHosts = readFileSync(path.join(DOCKER, 'demo-hosts.csv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split(',')[0]);
    assert.deepEqual(demoHosts.sort(), targets.sort());
  });

  it('the demo target entry point is valid POSIX sh', () => {
    const script = path.join(DOCKER, 'target-entrypoint.sh');
    const r = spawnSync('sh', ['-n', script], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(readFileSync(path.join(DOCKER, 'target.Dockerfile'), 'utf8'), /ENTRYPOINT \["\/bin\/sh", "\/usr\/local\/bin\/target-entrypoint.sh"\]/);
  });

  it('every path a Dockerfile copies exists in its build context', () => {
    const [compose] = yamlDocs(path.join(DOCKER, 'compose.yaml'));
    const contexts = new Map<string, string>([['Dockerfile', ROOT]]);
    for (const s of Object.values(compose.services as Record<string, Doc>)) {
      if (s.build) contexts.set(path.basename(s.build.dockerfile), path.resolve(DOCKER, s.build.context));
    }
    const dockerfiles = readdirSync(DOCKER).filter((f) => /Dockerfile$/.test(f));
    assert.ok(dockerfiles.length >= 2);
    for (const f of dockerfiles) {
      const context = contexts.get(f);
      assert.ok(context, `${f}: built by compose.yaml or the README (build context known)`);
      const copies = readFileSync(path.join(DOCKER, f), 'utf8').split('\n').filter((l) => /^COPY\s/.test(l) && !/--from=/.test(l));
      assert.ok(copies.length > 0);
      const sent = sentByDockerignore(context);
      for (const l of copies) {
        const words = l.trim().split(/\s+/).slice(1);
        for (const src of words.slice(0, -1)) {
          assert.ok(existsSync(path.join(context, src)), `${f}: COPY ${src}: missing in ${context}`);
          assert.ok(sent(src), `${f}: COPY ${src}: .dockerignore keeps it out of the build context`);
        }
      }
    }
  });

  it('every command line in the manifests, the unit and the README is accepted by the CLI parser', () => {
    const { cronJob } = jobOf();
    parseCli(podArgs(cronJob, 0), 'k8s-indexed-job.yaml');
    const [compose] = yamlDocs(path.join(DOCKER, 'compose.yaml'));
    parseCli(compose.services.controller.command, 'compose.yaml controller');
    const unit = readFileSync(path.join(DOCKER, 'octoscan-remote.service'), 'utf8');
    const exec = /^ExecStart=(\S+)\s+(.*)$/m.exec(unit);
    assert.ok(exec, 'ExecStart');
    const unitCmd = parseCli(shellWords(exec[2]), 'octoscan-remote.service');
    // The folders it writes are ones systemd creates for it, and the only ones it may write.
    assert.match(unit, /^LogsDirectory=octoscan octoscan\/reports$/m);
    assert.match(unit, /^StateDirectory=.*octoscan\/spool/m);
    const o = unitCmd.opts();
    assert.equal(o.reportDir, '/var/log/octoscan/reports');
    assert.equal(o.out, '/var/lib/octoscan/spool');
    assert.ok(o.summary.startsWith('/var/log/octoscan/') && o.compare === 'previous' && o.quiet === true);
    assert.ok(o.retryFile.startsWith('/var/lib/octoscan/'));
    // The service account's files are named, none is looked for in a home folder.
    assert.ok(o.identity.every((f: string) => f.startsWith('/etc/octoscan/')) && o.knownHosts.startsWith('/etc/octoscan/') && o.hosts.startsWith('/etc/octoscan/'));
    assert.match(unit, /^SuccessExitStatus=2$/m, 'exit 3 and 4 stay failures');
    for (const h of ['ProtectSystem=strict', 'NoNewPrivileges=yes', 'PrivateTmp=yes', 'ReadWritePaths=/var/lib/octoscan /var/log/octoscan']) assert.match(unit, new RegExp(`^${h}$`, 'm'));
    const dockerRun = /^#\s+docker run .* octoscan-remote (.*)$/m.exec(readFileSync(path.join(DOCKER, 'Dockerfile'), 'utf8'));
    assert.ok(dockerRun, 'the Dockerfile shows a docker run');
    parseCli(shellWords(dockerRun[1]), 'Dockerfile example');

    const commands = readmeCommands();
    assert.ok(commands.length >= 13, `${commands.length} README command lines found`);
    assert.ok(commands.some((c) => c.args.includes('/ssh/id_ed25519')), 'the README docker run line is among them');
    assert.ok(commands.some((c) => c.args.includes('/var/log/octoscan/reports')), 'the README cron line is among them');
    for (const c of commands) parseCli(c.args, `README.md:${c.line}`);
    assert.ok(commands.some((c) => c.args[0] === 'upload'), 'the README shows the upload subcommand');
    assert.ok(commands.some((c) => c.args.includes('--upload')), 'the README shows --upload');
  });

  it('systemd-analyze verify accepts the unit and the timer (ExecStart pointed at the real CLI)', (t) => {
    if (!existsSync('/usr/bin/systemd-analyze')) {
      assert.ok(!process.env.CI, 'systemd-analyze is missing in CI: .ci/run installs systemd');
      t.skip('no systemd-analyze here');
      return;
    }
    // verify checks that ExecStart's binary exists and is executable: a copy of
    // the unit runs this checkout's CLI instead of /usr/local/bin's.
    const dir = mkdtempSync(path.join(os.tmpdir(), 'octoscan-unit-'));
    try {
      const unit = readFileSync(path.join(DOCKER, 'octoscan-remote.service'), 'utf8');
      // Through a link in the temporary folder: ExecStart splits an unquoted path at a space (a checkout under 'check out').
      const cli = path.join(dir, 'octoscan-remote');
      symlinkSync(path.join(ROOT, 'bin', 'octoscan-remote.js'), cli);
      assert.match(unit, /^ExecStart=\/usr\/local\/bin\/octoscan-remote /m);
      writeFileSync(path.join(dir, 'octoscan-remote.service'), unit.replace(/^ExecStart=\/usr\/local\/bin\/octoscan-remote /m, `ExecStart=${cli} `));
      copyFileSync(path.join(DOCKER, 'octoscan-remote.timer'), path.join(dir, 'octoscan-remote.timer'));
      const files = ['octoscan-remote.service', 'octoscan-remote.timer'].map((f) => path.join(dir, f));
      const r = spawnSync('/usr/bin/systemd-analyze', ['verify', ...files], { encoding: 'utf8', timeout: 60_000 });
      assert.equal(r.status, 0, r.stderr);
      // Unknown keys and bad values are only warnings: none may concern these files.
      const about = r.stderr.split('\n').filter((l) => l.includes('octoscan-remote'));
      assert.deepEqual(about, [], r.stderr);
      // And it does notice: a misspelt key in the same copy is reported.
      writeFileSync(files[0], readFileSync(files[0], 'utf8').replace('ProtectSystem=strict', 'ProtectSystm=strict'));
      const bad = spawnSync('/usr/bin/systemd-analyze', ['verify', files[0]], { encoding: 'utf8', timeout: 60_000 });
      assert.match(bad.stderr, /Unknown key 'ProtectSystm'/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the pods of the Indexed Job cover a hosts file exactly once', () => {
    const { cronJob } = jobOf();
    const n = cronJob.spec.jobTemplate.spec.completions as number;
    const hosts = Array.from({ length: 2000 }, (_, i) => ({ host: `h${i}.example.com`, port: i % 3 ? 22 : 2222, user: i % 5 ? 'scan' : 'root' }));
    const seen = new Map<string, number>();
    for (let i = 0; i < n; i++) {
      const opts = parseCli(podArgs(cronJob, i), `pod ${i}`).opts();
      const shard = parseShard(opts.shard);
      assert.equal(shard.count, n, `pod ${i}: --shard ${opts.shard} divides by completions (${n})`);
      assert.equal(shard.index, i);
      for (const h of selectShard(hosts, shard)) seen.set(`${h.host}:${h.port}:${h.user}`, (seen.get(`${h.host}:${h.port}:${h.user}`) ?? 0) + 1);
    }
    assert.equal(seen.size, hosts.length, 'no host left out');
    assert.deepEqual([...new Set(seen.values())], [1], 'no host scanned twice');
  });

  it('the compose stand-in takes an upload like octo-collect (200, then 303 for the same name)', async (t) => {
    const port = await new Promise<number>((r) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => r(p));
      });
    });
    const collected = fresh('collected');
    const child = spawn(process.execPath, [path.join(DOCKER, 'octo-collect-standin.mjs')], { env: { ...process.env, PORT: String(port), COLLECT_DIR: collected }, stdio: ['ignore', 'pipe', 'inherit'] });
    t.after(() => child.kill());
    await new Promise<void>((r) => child.stdout!.once('data', () => r()));
    const dir = fresh('out');
    const file = path.join(dir, `${randomUUID()}.scal`);
    writeFileSync(file, 'archive');
    const send = async (): Promise<string> => {
      const q = new UploadQueue({ config: await collectorConfig({ url: `http://127.0.0.1:${port}` }), parallel: 1, retries: 0, timeoutMs: 10_000, keep: true, log: () => {} });
      const r = q.add(file);
      await q.finish();
      return `${(await r).state}${(await r).duplicate ? ' (duplicate)' : ''}`;
    };
    assert.equal(await send(), 'uploaded');
    assert.equal(await send(), 'uploaded (duplicate)');
    assert.deepEqual(readdirSync(collected), [path.basename(file)]);
    assert.equal(readFileSync(path.join(collected, path.basename(file)), 'utf8'), 'archive');
    // SIGTERM ends it cleanly (exit 0), as `docker stop` needs from a PID 1 without an init.
    const exited = new Promise<number | string | null>((r) => child.once('exit', (code, signal) => r(code ?? signal)));
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
  });
});
