// The name a host goes by in the report, the log and the summary: the one
// people use (inventory name, hosts-file `name`, the ssh_config alias or the
// text typed), not necessarily the address connected to.
import type { HostSpec } from '../types.js';

export function hostName(spec: Pick<HostSpec, 'host' | 'name' | 'alias'>): string {
  return spec.name ?? spec.alias ?? spec.host;
}
