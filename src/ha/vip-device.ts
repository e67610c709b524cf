// Which interface a VIP goes on. keepalived adds each VIP to a device and announces it there
// (gratuitous ARP, unsolicited neighbour advertisement): a VIP of another network than
// `ha.interface` — the members' gateway on the back segment, in the usual nat pair — must go on
// the interface of its network, or its neighbours never learn that it moved.

import { BlockList, isIPv4 } from 'node:net';
import type { NetworkInterfaceInfo } from 'node:os';

/** The networks of an interface's addresses, and their CIDRs; the VIPs themselves (/32, /128 on the master) are no network. */
export function subnetsOf(addresses: readonly NetworkInterfaceInfo[], vips: readonly string[]): { subnets: BlockList; cidrs: string[] } {
  const subnets = new BlockList();
  const cidrs: string[] = [];
  for (const a of addresses) {
    if (a.cidr === null) continue;
    const prefix = Number(a.cidr.slice(a.cidr.lastIndexOf('/') + 1));
    if (vips.includes(a.address) && prefix === (a.family === 'IPv4' ? 32 : 128)) continue;
    subnets.addSubnet(a.address, prefix, a.family === 'IPv4' ? 'ipv4' : 'ipv6');
    cidrs.push(a.cidr);
  }
  return { subnets, cidrs };
}

const holds = (subnets: BlockList, vip: string): boolean => subnets.check(vip, isIPv4(vip) ? 'ipv4' : 'ipv6');

/**
 * The device of each VIP: `main` (ha.interface) when the VIP is in one of its networks or in no
 * network of this host, else the first other interface with a network that holds it.
 */
export function vipDevices(vips: readonly string[], main: string, interfaces: NodeJS.Dict<NetworkInterfaceInfo[]>): Map<string, string> {
  const networks = Object.entries(interfaces)
    .filter(([, addresses]) => addresses !== undefined)
    .map(([name, addresses]) => ({ name, subnets: subnetsOf(addresses!, vips).subnets }));
  const own = networks.find((n) => n.name === main);
  const devices = new Map<string, string>();
  for (const vip of vips) {
    const other = own !== undefined && holds(own.subnets, vip) ? undefined : networks.find((n) => n.name !== main && holds(n.subnets, vip));
    devices.set(vip, other?.name ?? main);
  }
  return devices;
}
