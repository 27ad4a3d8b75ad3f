// `octoscan-remote inspect FILE...`: what an archive holds, and whether it
// keeps the archive contract. Exit 1 when any archive breaks it (or cannot be
// read), so it also checks archives made by other means.
import { Command } from 'commander';
import { readArchive, type ArchiveSummary } from '../archive/archive-reader.js';
import { parseWords } from './parse-words.js';
import { err as writeErr, out as writeOut } from './stdio.js';
import { escapeControls, escapeControlsInJson } from '../text/peer-text.js';

export function inspectCommand(): Command {
  return new Command('octoscan-remote inspect')
    .description(
      'Show what .scal/.scam archives hold: host facts from octoscan.xml, the OS, package counts, Java homes and versions, warnings, entries with sizes. Exit 1 when an archive breaks the contract (not a zip, entries outside <uuid>/, octoscan.xml missing, not last or malformed) or is over the limits of inspect (a zip bomb, more than 100,000 entries).',
    )
    .argument('<files...>', 'archives to read')
    .option('--json', 'one JSON object per archive, one per line', false);
}

/** Text from an archive shown with the rule of peer text (controls, bidi, separators escaped), so an archive cannot drive the terminal. */
export const printable = escapeControls;

export function inspectText(a: ArchiveSummary): string {
  const p = printable;
  const out: string[] = [`${p(a.file)}: ${a.ok ? 'ok' : 'BREAKS THE ARCHIVE CONTRACT'}`];
  for (const problem of a.problems) out.push(`  problem: ${p(problem)}`);
  if (a.entries.length === 0) return out.join('\n') + '\n';
  out.push(`  uuid      ${p(a.uuid)}  (${a.kind})`);
  out.push(`  fqdn      ${p(a.host.fqdn)}`);
  out.push(`  platform  ${p(a.host.platform)}`);
  out.push(`  user      ${p(a.host.login)}${a.host.userId ? ` (uid ${p(a.host.userId)})` : ''}`);
  out.push(`  tag       ${p(a.host.tag)}`);
  if (a.host.timestamp) out.push(`  scanned   ${p(a.host.timestamp)}${a.kind === 'linux' ? ' UTC' : ' (target local time)'}`);
  out.push(`  os        ${a.os ? `${p(a.os.pretty)} (${p(a.os.id || '?')} ${p(a.os.version || '?')}, from ${p(a.os.source)})` : 'unknown'}`);
  if (a.packages.length === 0) out.push('  packages  no package list');
  for (const pk of a.packages) out.push(`  packages  ${pk.count} in ${pk.list}`);
  if (a.java.length === 0) out.push('  java      none found');
  for (const j of a.java) out.push(`  java      ${p(j.home)}  ${p(j.version || '?')}${j.variant ? ` ${p(j.variant)}` : ''}  (${p(j.entry)})`);
  out.push(`  warnings  ${a.warnings.length}`);
  for (const w of a.warnings) out.push(`    ${w.id} ${p(w.message)}`);
  const total = a.entries.reduce((n, e) => n + e.size, 0);
  out.push(`  entries   ${a.entries.length}, ${total} bytes`);
  const width = a.entries.reduce((w, e) => Math.max(w, String(e.size).length), 0);
  for (const e of a.entries) out.push(`    ${String(e.size).padStart(width)}  ${e.method === 'deflated' ? '' : `[${e.method}] `}${p(e.name)}`);
  return out.join('\n') + '\n';
}

export async function runInspectCommand(args: string[]): Promise<number> {
  const cmd = inspectCommand();
  const early = parseWords(cmd, args);
  if (early !== undefined) return early;
  const json = Boolean(cmd.opts().json);
  let bad = 0;
  for (const file of cmd.args) {
    let a: ArchiveSummary;
    try {
      a = await readArchive(file);
    } catch (err) {
      writeErr(`octoscan-remote inspect: ${printable(file)}: ${(err as Error).message}\n`);
      bad++;
      continue;
    }
    if (!a.ok) bad++;
    writeOut(json ? `${escapeControlsInJson(JSON.stringify(a))}\n` : inspectText(a));
    if (!a.ok) for (const problem of a.problems) writeErr(`octoscan-remote inspect: ${printable(file)}: ${printable(problem)}\n`);
  }
  return bad ? 1 : 0;
}
