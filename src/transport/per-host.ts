// One run, two transports: a host whose hosts-file row says `transport`
// goes through that one, every other host through the run's --transport.
import type { HostSpec } from '../types.js';
import { opensshTransport } from './openssh.js';
import { ssh2Transport } from './ssh2-transport.js';
import type { Transport } from './transport.js';

const BY_NAME = { ssh2: ssh2Transport, openssh: opensshTransport } as const;

/** The transport for `spec`: its own, else the run's. */
export function transportFor(spec: Pick<HostSpec, 'transport'>, runDefault: 'ssh2' | 'openssh'): Transport {
  return BY_NAME[spec.transport ?? runDefault];
}

export function perHostTransport(runDefault: 'ssh2' | 'openssh'): Transport {
  return {
    name: runDefault,
    connect: (spec, opts) => transportFor(spec, runDefault).connect(spec, opts),
  };
}
