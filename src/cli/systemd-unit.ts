// `furiwake systemd-unit [-c FILE]`: prints a systemd service for this installation and, given a
// config, for what that config needs. The unit runs node on furiwake's own entry (not an npx
// wrapper, so SIGTERM and SIGHUP reach furiwake), checks the file before every start and reload
// (an invalid file fails `systemctl reload` and the running config stays), and grants only the
// capabilities the config needs instead of running as root where it can.

import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Config } from '../config/types.ts';
import { furiwakeVersion } from '../version.ts';

/** Where the unit looks for the config when none is named. */
export const DEFAULT_CONFIG = '/etc/furiwake/furiwake.yaml';

/** What a config needs from the host, in systemd's words. */
export interface UnitNeeds {
  capabilities: string[];
  /** VRRP (ha with interface and router-id): keepalived, a child of furiwake, wants root */
  root: boolean;
  limitNofile: number;
  /** seconds systemd waits for a stop: the shutdown grace and a margin */
  stopTimeout: number;
}

const PRIVILEGED_PORT = 1024;
/** a floor that leaves room for bursts whatever the config bounds */
const MIN_NOFILE = 65_536;
/** the kernel's usual nr_open */
const MAX_NOFILE = 1_048_576;

export function needsFor(config: Config | null): UnitNeeds {
  if (config === null) {
    return { capabilities: ['CAP_NET_BIND_SERVICE', 'CAP_NET_RAW'], root: false, limitNofile: MIN_NOFILE, stopTimeout: 30 };
  }
  const caps = new Set<string>();
  const services = Object.values(config.services);
  const ports = services.map((s) => s.listen.port);
  if (config.admin !== undefined) ports.push(config.admin.listen.port);
  if (ports.some((p) => p > 0 && p < PRIVILEGED_PORT)) caps.add('CAP_NET_BIND_SERVICE');
  const monitors = Object.values(config.pools).flatMap((p) => [...p.health.monitors, ...p.members.flatMap((m) => m.health?.monitors ?? [])]);
  if (monitors.some((m) => m.type === 'icmp')) caps.add('CAP_NET_RAW');
  // nftables and conntrack, children of furiwake, inherit it as an ambient capability
  if (services.some((s) => s.mode === 'nat' || s.mode === 'dsr')) caps.add('CAP_NET_ADMIN');
  const root = config.ha?.vrrp === true;
  if (root) for (const cap of ['CAP_NET_ADMIN', 'CAP_NET_RAW', 'CAP_NET_BIND_SERVICE']) caps.add(cap);
  // every udp flow holds a descriptor; every proxied connection two (client and member)
  let wanted = 1024;
  for (const s of services) if (s.mode === 'udp') wanted += s.maxFlows;
  for (const p of Object.values(config.pools)) {
    for (const m of p.members) wanted += m.maxConnections > 0 ? 2 * m.maxConnections : 0;
    wanted += 2 * p.queue.max;
  }
  return {
    capabilities: [...caps].sort(),
    root,
    limitNofile: Math.min(MAX_NOFILE, Math.max(MIN_NOFILE, wanted)),
    stopTimeout: Math.ceil(config.global.shutdownGrace / 1000) + 20,
  };
}

/** systemd quotes: a path with spaces or specials is written in double quotes, escaped. */
function quoted(arg: string): string {
  return /^[A-Za-z0-9_./:@+=[\]-]+$/.test(arg) ? arg : `"${arg.replace(/[\\"]/g, (c) => `\\${c}`).replace(/%/g, '%%')}"`;
}

export interface UnitOptions {
  /** the config file the unit runs (absolute) */
  configFile: string;
  /** its parsed contents; null: a unit for any config (the common capabilities) */
  config: Config | null;
  /** the node binary and furiwake's entry (default: this process's) */
  node?: string;
  entry?: string;
}

/** The unit, as docs/running-as-a-service.md explains it line by line. */
export function systemdUnit(options: UnitOptions): string {
  const needs = needsFor(options.config);
  const node = options.node ?? process.execPath;
  const entry = options.entry ?? fileURLToPath(new URL('../../bin/furiwake.js', import.meta.url));
  const run = (...args: string[]): string => [node, entry, ...args].map(quoted).join(' ');
  const caps = needs.capabilities.join(' ');
  const dir = dirname(options.configFile);
  const lines = [
    `# furiwake ${furiwakeVersion()}: made by \`furiwake systemd-unit${options.config === null ? '' : ` -c ${options.configFile}`}\``,
    '# Install: furiwake systemd-unit -c FILE > /etc/systemd/system/furiwake.service',
    '#          systemctl daemon-reload && systemctl enable --now furiwake',
    '[Unit]',
    'Description=furiwake load balancer',
    'Wants=network-online.target',
    'After=network-online.target',
    '',
    '[Service]',
    // furiwake tells no readiness; `start` exits 1 when a listener cannot bind (and is restarted)
    'Type=exec',
  ];
  if (needs.root) {
    // keepalived adds the VIPs and sends VRRP as root; the bounding set keeps the rest away
    lines.push('User=root', `CapabilityBoundingSet=${caps} CAP_SYS_NICE CAP_KILL CAP_DAC_OVERRIDE`, 'RuntimeDirectory=furiwake', 'RuntimeDirectoryMode=0750');
  } else {
    lines.push('User=furiwake', 'Group=furiwake');
    lines.push(...(caps === '' ? ['CapabilityBoundingSet='] : [`AmbientCapabilities=${caps}`, `CapabilityBoundingSet=${caps}`]));
    lines.push('NoNewPrivileges=true');
  }
  lines.push(
    // relative paths in the file (certificates, CA files) are read from the config's directory
    `WorkingDirectory=${quoted(dir)}`,
    // whatever the file reads with ${VAR}: FURIWAKE_ADMIN_TOKEN=..., RADIUS_SECRET=...
    `EnvironmentFile=-${quoted(`${dir}/furiwake.env`)}`,
    `ExecStartPre=${run('validate', '-c', options.configFile)}`,
    `ExecStart=${run('start', '-c', options.configFile)}`,
    ...readiness(options.config, run),
    // an invalid file fails the reload here; furiwake would keep the running config anyway
    `ExecReload=${run('validate', '-c', options.configFile)}`,
    'ExecReload=/bin/kill -HUP $MAINPID',
    'KillSignal=SIGTERM',
    // SIGTERM to furiwake alone: it removes its rules and stops its children itself
    'KillMode=mixed',
    `TimeoutStopSec=${needs.stopTimeout}s`,
    'Restart=on-failure',
    'RestartSec=2s',
    `LimitNOFILE=${needs.limitNofile}`,
    'ProtectSystem=strict',
    'ProtectHome=true',
    'PrivateTmp=true',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  );
  return lines.join('\n');
}

/**
 * With an admin section, start is finished once its API answers (furiwake binds it after every
 * service): units ordered after furiwake wait for that. Without one, none is possible.
 */
function readiness(config: Config | null, run: (...args: string[]) => string): string[] {
  if (config?.admin === undefined) return [];
  const { host, port } = config.admin.listen;
  const local = host === '0.0.0.0' || host === '' ? '127.0.0.1' : host === '::' ? '::1' : host;
  const url = `http://${local.includes(':') ? `[${local}]` : local}:${port}`;
  return [`ExecStartPost=${run('ctl', '--admin', url, 'wait', '60')}`];
}
