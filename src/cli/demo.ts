// `furiwake demo`: the embedded default. Starts demo backends on loopback, then furiwake with a
// config written for them (validated like any file), prints what to try, runs until Ctrl-C.

import { Furiwake } from '../app.ts';
import { parseConfig } from '../config/load.ts';
import { startHttpBackend, startUdpEchoBackend, type DemoBackend } from '../demo/backends.ts';
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
  echo:                     # a udp virtual service: each client flow keeps its member
    listen: 127.0.0.1:${udpPort}
    mode: udp
    pool: echo
    max-flows: 4096
  shop:                     # an http service: a cookie keeps each client on its member
    listen: 127.0.0.1:${shopPort}
    mode: http
    pool: shop
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
  shop:
    algorithm: round-robin
    health:
      initial-state: up
      monitors:
        - { type: http, path: /health, expect-status: 200, interval: 1s, timeout: 500ms, rise: 2, fall: 2 }
    members:
${web.map((b) => `      - { address: 127.0.0.1:${b.port}, id: ${b.name} }`).join('\n')}
`;
}

const FLAPPING = { period: 30_000, down: 10_000 };

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
      'Another program may hold the port; try furiwake demo --port 18080 (or --port 0 for any free port).\n');
    return 1;
  }
  const w = app.address('web');
  const e = app.address('echo');
  const h = app.address('shop');
  process.stdout.write(`
furiwake demo is running.
  tcp service web   ${w.address}:${w.port}  -> ${web.map((b) => `${b.name} (127.0.0.1:${b.port})`).join(', ')}  weighted-round-robin 2:1:1
  udp service echo  ${e.address}:${e.port}  -> ${echo.map((b) => `${b.name} (127.0.0.1:${b.port})`).join(', ')}  round-robin per flow
  http service shop ${h.address}:${h.port}  -> ${web.map((b) => b.name).join(', ')}  round-robin, cookie persistence
  dashboard         http://127.0.0.1:${app.admin.address()?.port}/   (API /api/v1, metrics /metrics)

  web-3 fails its health check for 10 s of every 30 (its /health answers 503): the dashboard
  shows it going down and coming back, and no client is sent to it while it is down.

Try:
  for i in 1 2 3 4 5 6 7 8; do curl -s http://${w.address}:${w.port}/; done     # web-1 twice as often
  echo hello | nc -u -w1 ${e.address} ${e.port}                              # one flow, one member
  for i in 1 2 3; do curl -s -b /tmp/furiwake.jar -c /tmp/furiwake.jar http://${h.address}:${h.port}/; done   # one member, kept by its cookie
  furiwake ctl --admin http://127.0.0.1:${app.admin.address()?.port} members       # the members and their health, as the dashboard shows them
Stop with Ctrl-C.
`);
  const code = await runUntilSignal(app, log, () => 2_000, null);
  await Promise.all(backends.map((b) => b.close()));
  return code;
}
