// ansible_ssh_common_args and ansible_ssh_extra_args: the words Ansible
// puts on ssh's command line, and what a scan takes from them (the bastion).

/** Words as Python's shlex.split (POSIX mode) cuts them, as Ansible does with ansible_ssh_*_args. */
export function shellWords(text: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "'") {
      const end = text.indexOf("'", i + 1);
      if (end === -1) throw new Error('no closing quotation');
      word = (word ?? '') + text.slice(i + 1, end);
      i = end;
    } else if (c === '"') {
      let v = '';
      let j = i + 1;
      for (; j < text.length && text[j] !== '"'; j++) {
        if (text[j] === '\\' && j + 1 < text.length && '\\"$`\n'.includes(text[j + 1])) j++;
        v += text[j];
      }
      if (j >= text.length) throw new Error('no closing quotation');
      word = (word ?? '') + v;
      i = j;
    } else if (c === '\\') {
      if (i + 1 >= text.length) throw new Error('no escaped character');
      word = (word ?? '') + text[++i];
    } else if (/\s/.test(c)) {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else word = (word ?? '') + c;
  }
  if (word !== undefined) words.push(word);
  return words;
}

/** What ansible_ssh_common_args / _extra_args hold for a scan: the ProxyJump chain, a ProxyCommand, the rest. */
export function sshArgsJump(words: string[]): { jump?: string; proxyCommand?: string; unused: string[] } {
  let jump: string | undefined;
  let proxyCommand: string | undefined;
  const unused: string[] = [];
  for (let i = 0; i < words.length; i++) {
    const w = words[i];
    let option: string | undefined;
    let jumpValue: string | undefined;
    if (w === '-o' && i + 1 < words.length) option = words[++i];
    else if (w.startsWith('-o') && w.length > 2) option = w.slice(2);
    else if (w === '-J' && i + 1 < words.length) jumpValue = words[++i];
    else if (w.startsWith('-J') && w.length > 2) jumpValue = w.slice(2);
    if (option !== undefined) {
      // ssh -o takes "Keyword=value" or "Keyword value".
      const m = /^\s*([A-Za-z]+)\s*(?:=\s*|\s+)(.*)$/s.exec(option);
      const key = m?.[1].toLowerCase();
      if (key === 'proxyjump') jumpValue = m![2].trim();
      else if (key === 'proxycommand') proxyCommand ??= m![2].trim();
      else unused.push(`-o ${option}`);
    } else if (jumpValue === undefined) unused.push(w);
    // As ssh: the first ProxyJump given wins.
    if (jumpValue !== undefined) jump ??= jumpValue;
  }
  return { jump, proxyCommand, unused };
}
