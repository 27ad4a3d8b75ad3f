// `octoscan-remote script`: what a scan runs on a target, for the people who
// approve it. Prints exactly the script a scan sends (only the frame token is
// a placeholder: a real one is 128 random bits drawn per scan), or with --list
// a table of the probes and the programs the script can start.
import { Command, InvalidArgumentError, Option } from 'commander';
import { darwinProbes, linuxProbes } from '../../targets/index.js';
import { externalPrograms, JAVA_RUN_RULE, probeRows, type ProbeRow } from '../probe/catalogue.js';
import { buildScript, DEFAULT_SCRIPT_DEADLINE, PLACEHOLDER_TOKEN, scriptSha256 } from '../probe/script.js';
import { containerSteps, listingScript } from '../containers/engines.js';
import { markerLine, PLAIN_COMMAND, SUDO_COMMAND, sudoPasswordCommand, SUDO_PROMPT_SHOWN } from '../scan/privilege.js';
import { parseWords } from './parse-words.js';
import { err as writeErr, out as writeOut } from './stdio.js';

export { PLACEHOLDER_TOKEN };
/** The command the scan execs on the target; the script arrives on its standard input. */
export const EXEC_COMMAND = PLAIN_COMMAND;
/** What --sudo execs first. */
export const SUDO_EXEC_COMMAND = SUDO_COMMAND;
/** What the scan sends before the script under sudo (the marker is random per scan too). */
export const PLACEHOLDER_MARKER = 'octoscan-root-000000000000000000000000';

/** How a --sudo scan starts the script, for the people who approve it. */
export const SUDO_STEPS = [
  `1. exec \`${SUDO_COMMAND}\` and send one line, \`${markerLine(PLACEHOLDER_MARKER).trim()}\`; once the root shell prints the marker, send the script.`,
  `2. Only if sudo answers that a password is required and one was given (--sudo-password-file, OCTOSCAN_SUDO_PASSWORD, --ask-sudo-pass):`,
  `   exec \`${sudoPasswordCommand(SUDO_PROMPT_SHOWN)}\`, write the password once when that prompt appears, then the marker line, then the script.`,
  `3. If sudo refuses (not allowed, password needed or wrong, requiretty): exec \`${PLAIN_COMMAND}\` with the script, as an unprivileged scan;`,
  '   the host is reported with class "sudo" and sudo\'s message, and octoscan.xml carries a 1004 warning naming it.',
].join('\n');

export interface ScriptCommandOptions {
  os?: 'linux' | 'macos';
  sudo: boolean;
  javaDir: string[];
  list: boolean;
  sha256?: boolean;
  containers?: boolean;
}

const javaDirs = (v: string, prev: string[]): string[] => {
  const dirs = v.split(':').filter((d) => d !== '');
  for (const d of dirs) if (!d.startsWith('/')) throw new InvalidArgumentError(`Java search folder must be an absolute path on the target, got ${JSON.stringify(d)}`);
  return [...prev, ...dirs];
};

export function scriptCommand(): Command {
  return new Command('octoscan-remote script')
    .description(
      'Print exactly the script a scan sends to a target (token shown as a placeholder), or with --list a table of each probe: what it runs or reads, deadline, cap, whether it needs root, and every program the script can start.',
    )
    .addOption(new Option('--os <os>', 'only this OS: with --list, its probes; without, the script is the same for every OS (detected on the target), so this only checks the name').choices(['linux', 'macos']))
    .option('--sudo', `show how a --sudo scan starts the script (${SUDO_EXEC_COMMAND} first)`, false)
    .option('--java-dir <dir>', 'extra folder searched for Java, as in a scan; repeatable or colon-separated', javaDirs, [])
    .option('--list', 'a table of the probes instead of the script', false)
    .option('--sha256', 'only the sha256 of the script as printed (for these --java-dir folders): what scan.json and the report record as script_sha256', false)
    .option('--containers', 'what --containers adds: the container listing script (with --list: the commands it runs in each container)', false)
    .allowExcessArguments(false);
}

export function scriptText(opts: Pick<ScriptCommandOptions, 'javaDir'>): string {
  // Build with the placeholder itself: the text is then exactly what a scan sends with its token.
  return buildScript({ linux: linuxProbes, darwin: darwinProbes }, { token: PLACEHOLDER_TOKEN, javaDirs: opts.javaDir });
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => rows.reduce((w, r) => Math.max(w, r[i].length), h.length));
  // The last column is left ragged: long command lines wrap harmlessly there.
  const line = (r: string[]): string => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

export function listText(opts: ScriptCommandOptions): string {
  let rows: ProbeRow[] = probeRows({ linux: linuxProbes, darwin: darwinProbes }, opts.javaDir);
  if (opts.os) rows = rows.filter((r) => r.os === opts.os);
  const exec = opts.sudo ? SUDO_EXEC_COMMAND : EXEC_COMMAND;
  const out: string[] = [
    `The scan execs \`${exec}\` on the target (one SSH exec channel) and feeds it the script on standard input;`,
    'nothing is copied to or written on the target. Each probe below fails alone.',
    opts.sudo
      ? `With --sudo every probe runs as root:\n${SUDO_STEPS}`
      : 'As an unprivileged user the "needs root" column lists what is read only by root (warning 1002 "readable by root only").',
    '',
    table(
      ['os', 'probe', 'entry', 'deadline', 'cap', 'needs root', 'runs or reads'],
      rows.map((r) => [r.os, r.id, r.entry, r.deadline, r.cap, r.root || '-', r.source]),
    ),
    '',
    'Every program the script can start (checked by a test that reads the script; none of them writes):',
    '',
    table(
      ['program', 'os', 'used by'],
      externalPrograms(rows)
        .filter((p) => !opts.os || p.os.split(', ').includes(opts.os))
        .map((p) => [p.program, p.os, p.usedBy]),
    ),
    '',
    'Besides these, only shell builtins (printf, read, test, kill, wait, command -v, ...).',
    '',
    `Discovered programs (<java>: found by the search, on PATH, in $JAVA_HOME, behind /proc/<pid>/exe) are not ours: ${JAVA_RUN_RULE}.`,
    '',
    ...(opts.containers ? [containerSteps(opts.sudo), ''] : []),
  ];
  return out.join('\n');
}

/** Runs the subcommand; args are the words after `script`. */
export async function runScriptCommand(args: string[]): Promise<number> {
  const cmd = scriptCommand();
  const early = parseWords(cmd, args);
  if (early !== undefined) return early;
  const opts = cmd.opts() as ScriptCommandOptions;
  if (opts.sha256) {
    // The marker line of --sudo is not part of the script: the hash is the same with and without it.
    writeOut(`${scriptSha256({ linux: linuxProbes, darwin: darwinProbes }, opts.javaDir)}\n`);
    return 0;
  }
  if (opts.list) {
    writeOut(listText(opts));
    return 0;
  }
  if (opts.containers) {
    writeErr(`${containerSteps(opts.sudo)}\nStandard output below is the listing script of step 1; the token ${PLACEHOLDER_TOKEN} stands for 128 random bits drawn per scan.\n`);
    writeOut(listingScript(PLACEHOLDER_TOKEN));
    return 0;
  }
  writeErr(
    `octoscan-remote: the scan execs \`${opts.sudo ? SUDO_EXEC_COMMAND : EXEC_COMMAND}\` with this script on standard input` +
      `; the token ${PLACEHOLDER_TOKEN} stands for 128 random bits drawn per scan, and _H=${DEFAULT_SCRIPT_DEADLINE} for the host's deadline in seconds (--host-timeout; a container's: --container-timeout)` +
      '; after the script, the scan writes the steering lines (H, then K <pid> for a command past its deadline or cap) on the same standard input\n' +
      (opts.sudo ? `${SUDO_STEPS}\nStandard output below is exactly that standard input: the marker line, then the script.\n` : ''),
  );
  if (opts.sudo) writeOut(markerLine(PLACEHOLDER_MARKER));
  writeOut(scriptText(opts));
  return 0;
}
