// Where in an inventory file a bad value was written, for messages: Ansible
// hands over merged variables without their origin, so the value is looked
// for again in the source files (the host's own line first, then any line
// setting the variable to it, as a [group:vars] section or YAML vars do).
import { readFileSync, statSync } from 'node:fs';

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** `file:line` of the first line that sets `variable` to `value` (on `host`'s line if there is one), or undefined. */
export function lineOf(sources: string[], host: string, variable: string, value: string): { file: string; line: number } | undefined {
  const setting = new RegExp(`(^|[\\s{,])${escape(variable)}\\s*[=:]\\s*["']?${escape(value)}`);
  const hostLine = new RegExp(`^\\s*${escape(host)}(\\s|:|$)`);
  let fallback: { file: string; line: number } | undefined;
  for (const file of sources) {
    let text: string;
    try {
      if (!statSync(file).isFile()) continue;
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    const lines = text.split(/\r?\n/);
    for (let i = 0; i < lines.length; i++) {
      if (!setting.test(lines[i])) continue;
      if (hostLine.test(lines[i])) return { file, line: i + 1 };
      fallback ??= { file, line: i + 1 };
    }
  }
  return fallback;
}
