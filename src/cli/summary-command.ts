export async function runSummaryCommand(args: string[]): Promise<number> {
  process.stderr.write(`octoscan-remote summary: not yet implemented (${args.length} arguments)\n`);
  return 1;
}
