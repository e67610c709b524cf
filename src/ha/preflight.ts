// What a node of a pair needs of its host, checked by `validate` before anything runs: keepalived
// (and conntrackd when nat or dsr connections are synced), the right to add addresses (root or
// CAP_NET_ADMIN), the interface, and VIPs that its neighbours route to it.

import { existsSync } from 'node:fs';
import { isIPv4 } from 'node:net';
import { networkInterfaces, type NetworkInterfaceInfo } from 'node:os';
import { haVips } from '../config/ha-checks.ts';
import type { Config } from '../config/types.ts';
import { findExecutable } from '../kernel/exec.ts';
import { hasNetAdmin } from '../kernel/requirements.ts';
import { subnetsOf, vipDevices } from './vip-device.ts';

export interface HaPreflight {
  errors: string[];
  warnings: string[];
}

/** The host as preflight reads it; tests pass another PATH or interface list. */
export interface HostView {
  path: string;
  /** the interfaces with their addresses (os.networkInterfaces()) */
  addresses: NodeJS.Dict<NetworkInterfaceInfo[]>;
  interfaceExists: (name: string) => boolean;
  netAdmin: boolean;
}

export function hostView(): HostView {
  return {
    path: process.env.PATH ?? '',
    addresses: networkInterfaces(),
    interfaceExists: (name) => existsSync(`/sys/class/net/${name}`),
    netAdmin: hasNetAdmin(),
  };
}

export function haPreflight(config: Pick<Config, 'ha' | 'services'>, host: HostView = hostView()): HaPreflight {
  const errors: string[] = [];
  const warnings: string[] = [];
  const ha = config.ha;
  // only a sync link: no keepalived, no interface, no conntrackd (it follows VRRP's roles)
  if (ha === undefined || !ha.vrrp) return { errors, warnings };
  if (findExecutable('keepalived', host.path) === null) {
    errors.push('ha: keepalived not found on PATH: install it (Debian: apt-get install keepalived); furiwake runs it to move the VIPs between the nodes');
  }
  if (!host.netAdmin) {
    errors.push(`ha: moving VIPs adds and removes addresses on ${ha.interface}: it needs root or CAP_NET_ADMIN, which this process (uid ${process.getuid?.() ?? '?'}) does not have`);
  }
  if (!host.interfaceExists(ha.interface)) {
    const names = Object.keys(host.addresses).sort();
    errors.push(`ha.interface: there is no interface ${ha.interface} on this host` +
      (names.length === 0 ? '' : ` (those with an address: ${names.join(', ')}; the name as \`ip link\` shows it)`));
  } else {
    warnings.push(...offLink(haVips(config), ha.interface, host.addresses));
  }
  const kernelServices = Object.keys(config.services).filter((name) => config.services[name].kernel != null);
  if (ha.conntrackSync !== null && kernelServices.length > 0 && findExecutable('conntrackd', host.path) === null) {
    const which = kernelServices.map((name) => `services.${name}`).join(', ');
    errors.push(`ha.conntrack-sync: conntrackd not found on PATH: install it (Debian: apt-get install conntrackd) so that connections of ${which} survive a failover, or set conntrack-sync: false`);
  }
  return { errors, warnings };
}

/**
 * VIPs outside every subnet of the interface (and of every other interface: such a VIP goes on
 * the interface of its network): the master announces them with gratuitous ARP or unsolicited
 * neighbour advertisements, but the neighbours only use an address on their link.
 */
function offLink(vips: readonly string[], name: string, interfaces: NodeJS.Dict<NetworkInterfaceInfo[]>): string[] {
  const { subnets, cidrs } = subnetsOf(interfaces[name] ?? [], vips);
  const devices = vipDevices(vips, name, interfaces);
  const where = cidrs.length === 0 ? `${name} has no address of its own` : `${name} is on ${cidrs.join(', ')}`;
  return vips
    .filter((vip) => devices.get(vip) === name && !subnets.check(vip, isIPv4(vip) ? 'ipv4' : 'ipv6'))
    .map((vip) => `ha.vips: ${vip} is in no subnet of ${name} (${where}): the neighbours on that link do not route it here, so clients reach it only through a route you add on your routers`);
}
