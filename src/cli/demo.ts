// `furiwake demo`: the embedded default. Starts demo backends on loopback, then furiwake with a
// config written for them (validated like any file), prints what to try, runs until Ctrl-C.
// It shows what furiwake is for: a monitored pool whose members fail and come back (on a timer,
// and on a command it prints), persistence with a stick table to look at, and the commands to
// try — `npx furiwake ctl` and node one-liners, since curl or nc may not be installed.

import { Furiwake } from '../app.ts';
import { parseConfig } from '../config/load.ts';
import { FAIL_FOR, startHttpBackend, startUdpEchoBackend, type DemoBackend } from '../demo/backends.ts';
import { createLogger } from '../log.ts';
import { runUntilSignal } from './run.ts';

export function demoConfig(port: number, web: DemoBackend[], echo: DemoBackend[]): string {
  const udpPort = port === 0 ? 0 : port + 1;
  const adminPort = port === 0 ? 0 : port + 2;
  const shopPort = port === 0 ? 0 : port + 3;
  return `# furiwake demo: the embedded default config
admin:                      # dashboard, API and metrics; no token, so loopback only
  listen: 127.0.0.1:${adminPort}
services:
  web:                      # a tcp virtual service in front of three HTTP servers
    listen: 127.0.0.1:${port}
    mode: tcp
    pool: web
  echo:                     # a udp virtual service: source-ip persistence keeps each client on one member
    listen: 127.0.0.1:${udpPort}
    mode: udp
    pool: echo
    max-flows: 4096
    persistence: { method: source-ip, timeout: 10m }
  shop:                     # an http service on the same pool: a cookie keeps each client on its member
    listen: 127.0.0.1:${shopPort}
    mode: http
    pool: web
    persistence: { method: cookie }
pools:
  web:
    algorithm: weighted-round-robin
    health:                 # web-3 fails its health check 10 s out of every 30: watch it leave and come back
      initial-state: up
      monitors:
        - { type: http, path: /health, expect-status: 200, interval: 1s, timeout: 500ms, rise: 2, fall: 2 }
    members:
${web.map((b, i) => `      - { address: 127.0.0.1:${b.port}, id: ${b.name}, weight: ${i === 0 ? 2 : 1} }`).join('\n')}
  echo:
    algorithm: round-robin
    members:
${echo.map((b) => `      - { address: 127.0.0.1:${b.port}, id: ${b.name} }`).join('\n')}
`;
}

const FLAPPING = { period: 30_000, down: 10_000 };
/** Loopback addresses the udp one-liner sends from: three clients, three stick table entries. */
const CLIENTS = ['127.0.0.2', '127.0.0.3', '127.0.0.4'];

/** What the demo prints once it runs: where everything is, and commands that work as printed. */
export function demoText(ports: { web: number; echo: number; shop: number; admin: number }, web: DemoBackend[], echo: DemoBackend[]): string {
  const ctl = `npx furiwake ctl --admin http://127.0.0.1:${ports.admin}`;
  const failing = web[1];
  const udp = `const d=require('dgram');for(const a of ${JSON.stringify(CLIENTS).replaceAll('"', "'")})for(let i=0;i<2;i++){` +
    `const s=d.createSocket('udp4');s.on('message',m=>{console.log(a+' <- '+m);s.close()});s.bind(0,a,()=>s.send('hello',${ports.echo},'127.0.0.1'))}`;
  const tcp = `const h=require('http');let n=8;const go=()=>h.get('http://127.0.0.1:${ports.web}/',{agent:false},r=>{r.pipe(process.stdout);r.on('end',()=>--n&&go())});go()`;
  const fail = `fetch('http://127.0.0.1:${failing.port}/fail').then(r=>r.text()).then(t=>process.stdout.write(t))`;
  return `
furiwake demo is running.
  tcp service web   127.0.0.1:${ports.web}  -> ${web.map((b) => `${b.name} (127.0.0.1:${b.port})`).join(', ')}  weighted-round-robin 2:1:1
  udp service echo  127.0.0.1:${ports.echo}  -> ${echo.map((b) => `${b.name} (127.0.0.1:${b.port})`).join(', ')}  source-ip persistence (a stick table)
  http service shop 127.0.0.1:${ports.shop}  -> the web pool, cookie persistence
  dashboard         http://127.0.0.1:${ports.admin}/   (API /api/v1, metrics /metrics)

  The web pool is health-checked every second. web-3 fails its check for the last 10 s of every
  30 (its /health answers 503): the dashboard shows it going down and coming back, and no client
  is sent to it while it is down. A member changes state after 2 checks in a row say so.

Try, from another terminal in this directory (node is all it takes; curl is not needed):
  Three clients (${CLIENTS.join(', ')}) each open two udp flows to echo; each client stays on one member:
    node -e "${udp}"
  The stick table that remembers them:
    ${ctl} stick echo
  Eight new connections to web; web-1 (weight 2) answers twice as often as each other member that is up:
    node -e "${tcp}"
  The members: STATE, each health check's last result, and their connections:
    ${ctl} members
  Make ${failing.name} fail its health check now, for ${FAIL_FOR / 1000} s (or open http://127.0.0.1:${failing.port}/fail in a browser):
    node -e "${fail}"
  Drain web-1 (it keeps its clients and takes no new ones), then enable it again:
    ${ctl} drain web web-1
    ${ctl} enable web web-1
  The live connections, client -> VIP => balancer -> member:
    ${ctl} connections
  Open http://127.0.0.1:${ports.shop}/ in a browser and reload: its cookie keeps you on one member.
Stop with Ctrl-C.
`;
}

export async function runDemo(port: number): Promise<number> {
  // web-3 is sick for the last 10 s of every 30: the monitors take it out and bring it back
  const web = await Promise.all(['web-1', 'web-2', 'web-3'].map((name) => startHttpBackend(name, name === 'web-3' ? FLAPPING : null)));
  const echo = await Promise.all(['echo-1', 'echo-2'].map(startUdpEchoBackend));
  const backends = [...web, ...echo];
  const log = createLogger('info');
  let app: Furiwake;
  try {
    app = await Furiwake.start(parseConfig(demoConfig(port, web, echo), '<demo>'), log);
  } catch (err) {
    await Promise.all(backends.map((b) => b.close()));
    process.stderr.write(`furiwake demo: ${(err as Error).message}\n` +
      'Another program may hold the port; try npx furiwake demo --port 18080 (or --port 0 for any free port).\n');
    return 1;
  }
  const ports = { web: app.address('web').port, echo: app.address('echo').port, shop: app.address('shop').port, admin: app.admin.address()?.port ?? 0 };
  process.stdout.write(demoText(ports, web, echo));
  const code = await runUntilSignal(app, log, () => 2_000, null);
  await Promise.all(backends.map((b) => b.close()));
  return code;
}
