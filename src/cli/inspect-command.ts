export async function runInspectCommand(args: string[]): Promise<number> {
  process.stderr.write(`octoscan-remote inspect: not yet implemented (${args.length} arguments)\n`);
  return 1;
}
