// The hosts a run is about, from the command line: one place for the scan and
// for `plan`, so both see the same list from the same options (--hosts, host
// arguments, --local) and resolve ssh_config with the same context.
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import { join } from 'node:path';
import { FILE_REASON, HostsFileError, hostKey, parseHostArg, readHostsFile } from '../hosts/index.js';
import type { ResolveContext } from '../hosts/resolve.js';
import { configFiles } from '../hosts/ssh-config.js';
import type { HostSpec } from '../types.js';
import type { CliOptions } from './options.js';

/** A mistake in the options (exit 1 before anything connects). */
export class UsageError extends Error {}

/** The options typed on the command line (not defaults): they beat ssh_config, defaults do not. */
export function typedOptions(cmd: Command): Set<string> {
  const names = ['user', 'port', 'knownHosts', 'hostKeyPolicy', 'connectTimeout', 'keepalive'];
  return new Set(names.filter((n) => cmd.getOptionValueSource(n) === 'cli'));
}

/** The hosts as given, in order, each once; notes gets what to say at the start. */
export async function selectHosts(opts: CliOptions, typed: Set<string>, notes: string[]): Promise<{ hosts: HostSpec[]; columns: string[] }> {
  // Port 0 and user '' stand for "not given": ssh_config may still set them (resolve.ts).
  const defaults = { port: typed.has('port') ? opts.port : 0, user: typed.has('user') ? opts.user : '', identities: [] };
  let hosts: HostSpec[] = [];
  let columns: string[] = ['host', 'port', 'user'];
  if (opts.local) {
    if (opts.targets.length || opts.hosts) throw new UsageError('--local scans this machine; it takes no hosts');
    hosts = [{ host: 'localhost', port: 0, user: opts.user, identities: [], tag: '', origin: { file: '<local>', line: 0 } }];
  } else {
    let emptyFile = false;
    if (opts.hosts) {
      try {
        const r = await readHostsFile(opts.hosts, defaults);
        hosts = r.hosts;
        columns = r.columns;
      } catch (e) {
        // A retry file after a clean night has a header and no rows: nothing to do is a success.
        if (!(e instanceof HostsFileError && e.total === 1 && e.errors[0]?.reason === FILE_REASON.headerOnly)) throw e;
        emptyFile = true;
        notes.push(`--hosts ${opts.hosts}: a header row and no host rows: nothing to scan`);
      }
    }
    for (const t of opts.targets) hosts.push(parseHostArg(t, defaults));
    if (hosts.length === 0 && !emptyFile) throw new UsageError('no hosts: give [user@]host[:port] arguments, --hosts FILE, or --local');
    // The same host from the file and the command line is scanned once.
    const seen = new Set<string>();
    hosts = hosts.filter((h) => {
      const k = hostKey(h);
      if (seen.has(k)) return false;
      seen.add(k);
      return true;
    });
  }
  return { hosts, columns };
}

/** How ssh_config is read for this run, with what the command line fixed. */
export function resolveContextOf(opts: CliOptions, typed: Set<string>, defaultIdentities: string[]): ResolveContext {
  const me = userInfo();
  return {
    config: { files: configFiles(opts.config, homedir()), home: homedir(), localUser: me.username, uid: me.uid },
    given: {
      user: typed.has('user') ? opts.user : undefined,
      port: typed.has('port') ? opts.port : undefined,
      jump: opts.jump,
      knownHosts: typed.has('knownHosts') ? opts.knownHosts : undefined,
      hostKeyPolicy: typed.has('hostKeyPolicy') ? opts.hostKeyPolicy : undefined,
      connectTimeoutMs: typed.has('connectTimeout') ? opts.connectTimeout * 1000 : undefined,
      keepaliveIntervalMs: typed.has('keepalive') ? opts.keepalive * 1000 : undefined,
    },
    legacy: opts.legacyAlgorithms,
    defaultIdentities,
    identities: opts.identity,
  };
}

/** The key files ssh tries when nothing names one, those that exist. */
export function defaultIdentities(): string[] {
  return ['id_ed25519', 'id_ecdsa', 'id_rsa'].map((n) => join(homedir(), '.ssh', n)).filter((p) => existsSync(p));
}
