// The upload options, shared by the scan (--upload URL) and the `upload`
// subcommand (URL argument), so both spell and check them the same way.
import { type Command, InvalidArgumentError } from 'commander';

export interface UploadCliOptions {
  keep: boolean;
  ca?: string;
  insecure: boolean;
  uploadAuthFile?: string;
  uploadParallel: number;
  uploadRetries: number;
  uploadTimeout: number;
}

const integer = (name: string, min: number, max: number) => (v: string): number => {
  if (!/^\d+$/.test(v.trim()) || Number(v) < min || Number(v) > max) throw new InvalidArgumentError(`${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(v)}`);
  return Number(v);
};
const seconds = (name: string) => (v: string): number => {
  const n = Number(v);
  if (!/^\d+(\.\d+)?$/.test(v.trim()) || !(n > 0) || n > 86400) throw new InvalidArgumentError(`${name} must be a number of seconds from 0.1 to 86400, got ${JSON.stringify(v)}`);
  return n;
};

export const UPLOAD_DEFAULTS = { parallel: 4, retries: 10, timeout: 300 } as const;

export function addUploadOptions(cmd: Command): Command {
  return cmd
    .option('--keep', 'keep each archive in the folder after the collector took it (default: removed once accepted)', false)
    .option('--ca <file>', 'PEM file of CA certificates trusted for the collector, besides the system ones')
    .option('--insecure', 'do not verify the collector\'s TLS certificate (warned about; prefer --ca)', false)
    .option('--upload-auth-file <file>', 'file holding user:password for a collector behind basic auth (mode 0600; or set OCTOSCAN_UPLOAD_AUTH)')
    .option('--upload-parallel <n>', 'uploads at once', integer('--upload-parallel', 1, 64), UPLOAD_DEFAULTS.parallel)
    .option('--upload-retries <n>', 'failed tries in a row after which the collector counts as down for this run (exponential back-off from 0.5 s, capped at 10 s)', integer('--upload-retries', 0, 100), UPLOAD_DEFAULTS.retries)
    .option('--upload-timeout <seconds>', 'deadline of one upload, connection to answer', seconds('--upload-timeout'), UPLOAD_DEFAULTS.timeout);
}

/** The upload options that only make sense with a collector. */
export function uploadOnlyOptionsGiven(o: Partial<UploadCliOptions>): string[] {
  const given: string[] = [];
  if (o.keep) given.push('--keep');
  if (o.ca) given.push('--ca');
  if (o.insecure) given.push('--insecure');
  if (o.uploadAuthFile) given.push('--upload-auth-file');
  return given;
}
