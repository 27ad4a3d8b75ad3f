// `octoscan-remote upload [--from DIR] URL`: sends the archives still waiting
// in a folder (a run whose collector was down, a killed run) to octo-collect,
// oldest first, removing each once accepted. With --report FILE, the rows of
// the archives it delivered say `uploaded` afterwards. Exit 0 when the folder
// is empty of archives afterwards (or all were kept with --keep), 3 when some
// still wait, 4 when the report could not be updated, 1 for bad arguments.
import { Command } from 'commander';
import { parseWords } from './parse-words.js';
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { markDelivered } from '../sweep/report-update.js';
import { CollectorConfigError, collectorConfig } from '../upload/collector-config.js';
import { addUploadOptions, type UploadCliOptions } from '../upload/upload-options.js';
import { startUploadRun, uploadSummaryLine } from '../upload/upload-run.js';
import { escapeControls } from '../text/peer-text.js';
import { err } from './stdio.js';

const EXIT = { ok: 0, usage: 1, waiting: 3, controller: 4, interrupted: 130 } as const;

export function uploadCommand(): Command {
  const cmd = new Command('octoscan-remote upload')
    .description('Send the <uuid>.scal/.scam archives waiting in a folder to octo-collect (as curl -F upload=@FILE URL), oldest first; each is removed once the collector accepted it (200, 201, or 303: it already had it).')
    .argument('<url>', 'the collector, e.g. http://collector:8080')
    .option('--from <dir>', 'folder holding the archives (the scan\'s --out)', '.')
    .option('--report <file>', 'a report written by --report: the rows of the archives delivered now get upload=uploaded (and lose the waiting reason)');
  return addUploadOptions(cmd).addHelpText(
    'after',
    `
Exit codes: 0 nothing left waiting; 3 some archives still wait (collector down or
refusing); 4 the --report could not be updated; 1 bad arguments; 130 interrupted.
Environment: OCTOSCAN_UPLOAD_AUTH (user:password), HTTPS_PROXY/HTTP_PROXY/NO_PROXY.`,
  );
}

export async function runUploadCommand(args: string[]): Promise<number> {
  const cmd = uploadCommand();
  const early = parseWords(cmd, args);
  if (early !== undefined) return early;
  const o = cmd.opts<UploadCliOptions & { from: string; report?: string }>();
  const dir = resolve(o.from);
  const st = await stat(dir).catch(() => undefined);
  if (!st?.isDirectory()) {
    err(`octoscan-remote upload: --from ${o.from}: not a folder\n`);
    return EXIT.usage;
  }
  if (!o.keep && (await access(dir, constants.W_OK).then(() => false, () => true))) {
    err(`octoscan-remote upload: --from ${o.from}: folder is not writable, so sent archives cannot be removed; give --keep to send without removing\n`);
    return EXIT.usage;
  }
  if (o.report) {
    const problem = await access(o.report, constants.R_OK | constants.W_OK).then(() => undefined, (e: Error) => e.message);
    if (problem) {
      err(`octoscan-remote upload: --report ${o.report}: ${problem}\n`);
      return EXIT.usage;
    }
  }
  let config;
  try {
    config = await collectorConfig({ url: cmd.args[0], ca: o.ca, insecure: o.insecure, authFile: o.uploadAuthFile });
  } catch (e) {
    if (e instanceof CollectorConfigError) {
      err(`octoscan-remote upload: ${e.message}\n`);
      return EXIT.usage;
    }
    throw e;
  }
  if (o.insecure) err("octoscan-remote upload: --insecure: the collector's certificate is not verified; anyone on the path can take the archives\n");
  const interrupt = new AbortController();
  const onSignal = (): void => interrupt.abort();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const run = await startUploadRun(config, { ...o, dir, leftoversOnly: true, signal: interrupt.signal, log: (m) => err(`${escapeControls(m)}\n`) });
    const totals = await run.finish();
    err(`${uploadSummaryLine({ ...totals, leftovers: 0 }, config, dir)}\n`);
    if (o.report && totals.delivered.length) {
      try {
        const n = await markDelivered(o.report, new Set(totals.delivered.map((f) => basename(f))));
        err(`octoscan-remote upload: --report ${o.report}: ${n} row(s) now say uploaded\n`);
      } catch (e) {
        err(`octoscan-remote upload: --report ${o.report}: ${(e as Error).message}\n`);
        return EXIT.controller;
      }
    }
    if (interrupt.signal.aborted) return EXIT.interrupted;
    return totals.waiting ? EXIT.waiting : EXIT.ok;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
