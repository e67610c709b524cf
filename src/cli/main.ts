// The furiwake command: start, validate, demo. Prints errors for people; exit codes for scripts.

import { furiwakeVersion } from '../version.ts';
import { parseCommandLine } from './args.ts';
import { runCtl } from './ctl.ts';
import { runDemo } from './demo.ts';
import { runStart } from './start.ts';
import { runSystemdUnit } from './systemd-unit-command.ts';
import { runValidate } from './validate.ts';

const HELP = `furiwake — a load balancer

Usage:
  furiwake start -c FILE        run the services of a config file
  furiwake validate -c FILE     check a config file; print every error; exit 0 when valid
  furiwake demo [--port N]      run demo backends and services in front of them (default port 8080)
  furiwake ctl COMMAND ...      talk to a running furiwake through its admin API (furiwake ctl --help)
  furiwake systemd-unit [-c FILE]
                                print a systemd service that runs this furiwake on FILE (default
                                /etc/furiwake/furiwake.yaml) with the capabilities FILE needs
  furiwake --help | --version

Options:
  -c, --config FILE   the config file (YAML or JSON)
  --port N            demo: the first service port (0 = any free port)

Signals (start, demo):
  SIGTERM, SIGINT     stop accepting, let live connections finish (global.shutdown-grace), exit
  SIGHUP              start: reload the config file; an invalid file keeps the running config
                      (demo has no file: it ignores SIGHUP)

Docs: docs/README.md (the manual), docs/configuration.md (every key)
`;

export async function main(argv: string[]): Promise<number> {
  // a reader that goes away (`furiwake ctl ha | head -3`) loses the rest of the output, and the
  // command ends as it would have: no stack trace for the EPIPE
  if (process.stdout.listeners('error').every((l) => l !== ignoreClosedPipe)) process.stdout.on('error', ignoreClosedPipe);
  // ctl has options of its own
  if (argv[0] === 'ctl') return runCtl(argv.slice(1));
  const parsed = parseCommandLine(
    argv,
    {
      config: { type: 'string', short: 'c' },
      port: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean', short: 'v' },
    },
    'furiwake',
    HELP,
    process.stderr,
  );
  if (parsed === null) return 2;
  const { values, positionals } = parsed;
  if (values.version === true) {
    process.stdout.write(`furiwake ${furiwakeVersion()}\n`);
    return 0;
  }
  const [command, ...rest] = positionals;
  if (values.help === true || command === undefined || command === 'help') {
    process.stdout.write(HELP);
    return values.help === true || command === 'help' ? 0 : 2;
  }
  if (rest.length > 0) {
    process.stderr.write(`furiwake: unexpected argument ${rest[0]}\n`);
    return 2;
  }
  switch (command) {
    case 'start':
    case 'validate': {
      if (values.config === undefined) {
        process.stderr.write(`furiwake ${command}: a config file is needed: -c FILE\n`);
        return 2;
      }
      return command === 'start' ? runStart(values.config) : runValidate(values.config);
    }
    case 'systemd-unit':
      return runSystemdUnit(values.config);
    case 'demo': {
      const port = values.port === undefined ? 8080 : Number(values.port);
      if (!Number.isInteger(port) || port < 0 || port > 65534) {
        process.stderr.write(`furiwake demo: --port must be a port number (0 for any free port), got ${values.port}\n`);
        return 2;
      }
      return runDemo(port);
    }
    default:
      process.stderr.write(`furiwake: unknown command ${command}\n\n${HELP}`);
      return 2;
  }
}

/** Output that cannot be written is lost, never a crash (the logger of `start` does the same, log.ts). */
function ignoreClosedPipe(): void {}
