// The subcommands beside the default (scan) command. The default command takes
// host arguments, so a subcommand is recognised only as the very first
// argument; a host literally named like one is given as user@script, or via
// --hosts, or after an option (`octoscan-remote -o . script`).
export const SUBCOMMANDS = ['script', 'inspect', 'summary', 'upload', 'plan'] as const;

export const SUBCOMMAND_HELP = `
Commands (first argument; a host of that name: user@script, or --hosts):
  script [--list] [--os linux|macos] [--sudo] [--java-dir DIR]  the script a scan sends, or a table of its probes
  inspect [--json] FILE...                                       what a .scal/.scam archive holds; exit 1 if it breaks the contract
  summary REPORT [--compare PREV] -o FILE.html                   an HTML summary page of a run's report
  upload [--from DIR] URL                                        send the archives still waiting in DIR to octo-collect
  plan [--json] [scan options] [HOST...]                         each host's settings as the scan would use them (ssh -G style); connects to nothing`;

/** Runs a subcommand when args[0] names one; undefined otherwise (then args are the scan's). */
export async function runSubcommand(args: string[]): Promise<number | undefined> {
  switch (args[0]) {
    case 'script':
      return (await import('./script-command.js')).runScriptCommand(args.slice(1));
    case 'inspect':
      return (await import('./inspect-command.js')).runInspectCommand(args.slice(1));
    case 'summary':
      return (await import('./summary-command.js')).runSummaryCommand(args.slice(1));
    case 'upload':
      return (await import('./upload-command.js')).runUploadCommand(args.slice(1));
    case 'plan':
      return (await import('./plan-command.js')).runPlanCommand(args.slice(1));
    default:
      return undefined;
  }
}
