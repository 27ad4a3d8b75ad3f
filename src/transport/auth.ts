// Authentication for the ssh2 transport, in OpenSSH's order and within what
// the server offers: publickey (agent keys, then key files), then
// keyboard-interactive answering the password prompt, then password. What was
// tried is kept for the `auth` failure message; a password never is.
import { readFileSync } from 'node:fs';
import ssh2, { type AnyAuthMethod, type AuthHandlerMiddleware, type KeyboardInteractiveCallback, type ParsedKey } from 'ssh2';
import type { HostSpec } from '../types.js';
import { peerText } from '../text/peer-text.js';
import { parsePrivateKey } from './key-formats.js';

const { utils, OpenSSHAgent } = ssh2;

/** Secrets for authentication, read once per run from files, the environment or the terminal. */
export interface AuthSecrets {
  /** SSH agent socket, normally $SSH_AUTH_SOCK. */
  agent?: string;
  /** Passphrase for encrypted identity files. */
  passphrase?: string;
  /** Login password (password and keyboard-interactive). */
  password?: string;
}

export interface AuthPlan {
  /** ssh2's authHandler. */
  handler: AuthHandlerMiddleware;
  /** What was tried so far, in order, for the failure message. */
  tried(): string[];
  /** Why something was not tried (unusable key file, method the server did not offer). */
  notes(): string[];
}

const keyCache = new Map<string, ParsedKey | string>();

/** A private key, parsed once per run; a string explains why it cannot be used. */
export function identity(path: string, passphrase: string | undefined): ParsedKey | string {
  // Keyed by the passphrase too: a file read without one must not hide what it gives with one.
  const cacheKey = `${passphrase ?? ''}\0${path}`;
  const cached = keyCache.get(cacheKey);
  if (cached !== undefined) return cached;
  let result: ParsedKey | string;
  try {
    const parsed = parsePrivateKey(readFileSync(path), passphrase);
    if (parsed instanceof Error) {
      result = /encrypted/i.test(parsed.message) && !passphrase
        ? `identity ${path} is encrypted and no passphrase was given (--passphrase-file or OCTOSCAN_SSH_PASSPHRASE)`
        : /bad decrypt|integrity|passphrase/i.test(parsed.message)
          ? `identity ${path}: wrong passphrase`
          : `identity ${path} cannot be used: ${parsed.message}`;
    } else {
      result = Array.isArray(parsed) ? parsed[0] : parsed;
    }
  } catch (err) {
    result = `identity ${path} cannot be read: ${(err as Error).message}`;
  }
  keyCache.set(cacheKey, result);
  return result;
}

/** The public half of an identity file, for IdentitiesOnly with an agent: from the key, else from `<path>.pub`. */
function publicBlob(path: string, passphrase: string | undefined): Buffer | undefined {
  const key = identity(path, passphrase);
  if (typeof key !== 'string') return key.getPublicSSH();
  try {
    const pub = utils.parseKey(readFileSync(`${path}.pub`));
    if (pub instanceof Error) return undefined;
    return (Array.isArray(pub) ? pub[0] : pub).getPublicSSH();
  } catch {
    return undefined;
  }
}

/**
 * An agent that offers only the given public keys: IdentitiesOnly means the
 * agent's other keys are never shown to the server (as ssh does), so a host
 * with MaxAuthTries is not exhausted by unrelated keys.
 */
class FilteredAgent extends OpenSSHAgent {
  constructor(socket: string, private readonly allowed: Buffer[]) {
    super(socket);
  }
  override getIdentities(cb: (err: Error | undefined, keys?: ParsedKey[]) => void): void {
    super.getIdentities((err, keys) => {
      if (err || !keys) return cb(err ?? undefined, undefined);
      const parsed = keys.filter((k): k is ParsedKey => 'getPublicSSH' in k);
      cb(undefined, parsed.filter((k) => this.allowed.some((b) => b.equals(k.getPublicSSH()))));
    });
  }
}

function agentSocket(spec: HostSpec, secrets: AuthSecrets): string | undefined {
  const a = spec.identityAgent;
  if (a === undefined) return secrets.agent;
  if (a === 'none' || a === '') return undefined;
  // ssh_config's `IdentityAgent SSH_AUTH_SOCK` names the variable, not a file.
  if (a === 'SSH_AUTH_SOCK') return secrets.agent;
  return a;
}

/** Does a keyboard-interactive prompt ask for the login password? (PAM: "Password: ", "user@host's password:") */
export function isPasswordPrompt(prompt: { prompt: string; echo?: boolean }): boolean {
  return prompt.echo !== true && /password|passwort|mot de passe|contrase|kennwort/i.test(prompt.prompt);
}

type Candidate = { method: 'publickey' | 'keyboard-interactive' | 'password'; label: string; auth: AnyAuthMethod };

export function authPlan(spec: HostSpec, secrets: AuthSecrets): AuthPlan {
  const tried: string[] = [];
  const notes: string[] = [];
  const queue: Candidate[] = [];
  const user = spec.user;

  const agent = agentSocket(spec, secrets);
  if (agent) {
    let agentAuth: AnyAuthMethod = { type: 'agent', username: user, agent };
    if (spec.identitiesOnly) {
      const allowed = spec.identities.map((p) => publicBlob(p, secrets.passphrase)).filter((b): b is Buffer => b !== undefined);
      agentAuth = { type: 'agent', username: user, agent: new FilteredAgent(agent, allowed) };
    }
    queue.push({ method: 'publickey', label: 'agent keys', auth: agentAuth });
  }
  for (const path of spec.identities) {
    const key = identity(path, secrets.passphrase);
    if (typeof key === 'string') notes.push(key);
    else queue.push({ method: 'publickey', label: `publickey ${key.type} (${path})`, auth: { type: 'publickey', username: user, key } });
  }
  const password = secrets.password;
  if (password !== undefined) {
    if (spec.kbdInteractiveAuthentication !== false) {
      // One answer per attempt: a server that asks again was given a wrong password,
      // and answering the same again would only spend its MaxAuthTries.
      let answered = false;
      const prompt = (_name: string, _instr: string, _lang: string, prompts: { prompt: string; echo?: boolean }[], finish: KeyboardInteractiveCallback): void => {
        const answers = prompts.map((p) => {
          if (!answered && isPasswordPrompt(p)) return password;
          notes.push(`keyboard-interactive asked ${JSON.stringify(peerText(p.prompt, 80))}, which only a person can answer`);
          return '';
        });
        if (answers.includes(password)) answered = true;
        finish(answers);
      };
      queue.push({ method: 'keyboard-interactive', label: 'keyboard-interactive (password)', auth: { type: 'keyboard-interactive', username: user, prompt } });
    }
    if (spec.passwordAuthentication !== false) queue.push({ method: 'password', label: 'password', auth: { type: 'password', username: user, password } });
  }

  let offered: string[] | undefined;
  let askedNone = false;
  const handler: AuthHandlerMiddleware = (methodsLeft, _partial, next) => {
    // Like ssh: ask with "none" first, which tells us what the server offers.
    if (!askedNone) {
      askedNone = true;
      return next({ type: 'none', username: user });
    }
    if (methodsLeft) offered = methodsLeft;
    for (;;) {
      const c = queue.shift();
      if (!c) {
        if (offered) notes.push(`the server offers ${offered.map((m) => peerText(m, 40)).join(', ') || 'nothing'}`);
        return next(false as unknown as AnyAuthMethod);
      }
      if (offered && !offered.includes(c.method)) continue;
      tried.push(c.label);
      return next(c.auth);
    }
  };
  return { handler, tried: () => [...tried], notes: () => [...new Set(notes)] };
}
