// Where and how to reach octo-collect: the URL, the credentials of a collector
// behind basic auth, and the TLS and proxy settings of the HTTP client. All of
// it is checked before the first scan, so a typo ends the run at once (exit 1)
// instead of after a night of scanning into a spool nobody empties.
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { rootCertificates } from 'node:tls';
// undici is loaded only when a run uploads: it is a sixth of the CLI's start-up.
import type { Dispatcher, EnvHttpProxyAgent } from 'undici';
import { readOwnerOnlyFile } from '../fsutil/secret-file.js';

export class CollectorConfigError extends Error {}

export interface CollectorOptions {
  url: string;
  /** PEM file with extra CA certificates (a private CA). */
  ca?: string;
  /** Skip certificate verification: an explicit opt-in, warned about. */
  insecure?: boolean;
  /** File holding `user:password` for basic auth, readable by its owner only. */
  authFile?: string;
}

export interface CollectorConfig {
  url: URL;
  /** The Authorization header value, when the collector needs basic auth. Never logged. */
  authorization?: string;
  dispatcher: Dispatcher;
  /** True when a proxy variable is set (HTTPS_PROXY, HTTP_PROXY, lower case too). */
  proxied: boolean;
}

/** The environment variable with `user:password` when no --upload-auth-file is given. */
export const AUTH_ENV = 'OCTOSCAN_UPLOAD_AUTH';

// Node's built-in list is Mozilla's; a site's own CA usually sits in the
// system bundle (update-ca-certificates), which Node 20 does not read by itself.
const SYSTEM_BUNDLES = ['/etc/ssl/certs/ca-certificates.crt', '/etc/pki/tls/certs/ca-bundle.crt', '/etc/ssl/cert.pem'];

function systemCertificates(): string[] {
  for (const f of SYSTEM_BUNDLES) {
    try {
      return [readFileSync(f, 'utf8')];
    } catch {
      /* not this distribution's path */
    }
  }
  return [];
}

export function parseCollectorUrl(raw: string, option = '--upload'): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new CollectorConfigError(`${option} ${JSON.stringify(raw)}: not a URL; expected http://collector:8080 or https://collector.example.com/`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new CollectorConfigError(`${option} ${JSON.stringify(raw)}: the collector URL must start with http:// or https://`);
  }
  if (url.username || url.password) {
    // Arguments are visible to every user in ps; the URL would also end up in logs.
    throw new CollectorConfigError(`${option}: the URL holds credentials; put user:password in --upload-auth-file FILE or ${AUTH_ENV} instead`);
  }
  return url;
}

/** `user:password` from the file, else the environment (then removed from it, so no child inherits it). */
async function readCredentials(o: CollectorOptions): Promise<string | undefined> {
  let text: string | undefined;
  let source: string;
  if (o.authFile) {
    text = await readOwnerOnlyFile('--upload-auth-file', o.authFile, (m) => new CollectorConfigError(m));
    source = `--upload-auth-file ${o.authFile}`;
  } else {
    text = process.env[AUTH_ENV] || undefined;
    source = AUTH_ENV;
  }
  delete process.env[AUTH_ENV];
  if (text === undefined) return undefined;
  const colon = text.indexOf(':');
  if (colon <= 0 || /[\r\n]/.test(text)) throw new CollectorConfigError(`${source}: expected one line user:password`);
  return `Basic ${Buffer.from(text, 'utf8').toString('base64')}`;
}

async function readCa(file: string): Promise<string> {
  const text = await readFile(file, 'utf8').catch((err: Error) => {
    throw new CollectorConfigError(`--ca ${file}: ${err.message}`);
  });
  if (!/-----BEGIN CERTIFICATE-----/.test(text)) throw new CollectorConfigError(`--ca ${file}: no PEM certificate (-----BEGIN CERTIFICATE-----) in the file`);
  return text;
}

function proxyVariableSet(): boolean {
  return ['https_proxy', 'HTTPS_PROXY', 'http_proxy', 'HTTP_PROXY'].some((v) => process.env[v]);
}

export async function collectorConfig(o: CollectorOptions): Promise<CollectorConfig> {
  const url = parseCollectorUrl(o.url);
  if (o.ca && o.insecure) throw new CollectorConfigError('--ca and --insecure exclude each other: --ca verifies the collector with that CA, --insecure verifies nothing');
  const authorization = await readCredentials(o);
  const extra = o.ca ? [await readCa(o.ca)] : [];
  const tls = o.insecure ? { rejectUnauthorized: false } : { ca: [...rootCertificates, ...systemCertificates(), ...extra] };
  const proxied = proxyVariableSet();
  // The proxy agent reads HTTPS_PROXY/HTTP_PROXY/NO_PROXY itself; `requestTls`
  // is the TLS to the collector through a proxy tunnel, `connect` without one.
  // (undici passes the options on to its ProxyAgents; its types know only the Agent's.)
  const proxyOptions = { connect: tls, requestTls: tls } as ConstructorParameters<typeof EnvHttpProxyAgent>[0];
  const undici = await import('undici');
  const dispatcher: Dispatcher = proxied ? new undici.EnvHttpProxyAgent(proxyOptions) : new undici.Agent({ connect: tls });
  return { url, authorization, dispatcher, proxied };
}
