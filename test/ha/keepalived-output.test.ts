// What keepalived prints on its console: its warnings (a config it cannot take, an interface that
// does not exist, a check script it disables as unsafe) must reach furiwake's log as warnings, not
// hide among its chatter at debug. The lines are keepalived 2.2.7's own.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { keepalivedSays } from '../../src/ha/keepalived-output.ts';

const AT = 'Wed Dec  2 07:36:50 2026: ';

describe("keepalived's console", () => {
  it('its warnings and errors are warnings, with what they mean for furiwake where it matters', () => {
    const warned = [
      "(/run/furiwake/ha-1-9/keepalived.conf: Line 12) WARNING - interface eth9 for vrrp_instance furiwake_4 doesn't exist",
      "(/run/furiwake/ha-1-9/keepalived.conf: Line 21) Unknown keyword 'bogus_keyword'",
      'Non-existent interface specified in configuration',
      'pid 3584 exited with permanent error CONFIG. Terminating',
      "Config files missing '/run/furiwake/ha-1-9/keepalived.conf'.",
      'Unsafe permissions found for script \'/tmp/x/alive.sh\' - disabling.',
      'Disabling track script furiwake_alive due to insecure',
      'SECURITY VIOLATION - scripts are being executed but script_security not enabled.',
    ];
    for (const line of warned) assert.equal(keepalivedSays(AT + line).level, 'warn', line);
    const disabled = keepalivedSays(`${AT}Disabling track script furiwake_alive due to insecure`);
    assert.match(disabled.meaning ?? '', /furiwake's liveness check is off/);
    const chatter = [
      'Starting VRRP child process, pid=3685',
      'Registering Kernel netlink reflector',
      '(furiwake_4) entering FAULT state (no IPv4 address for interface)',
      'NOTICE: setting config option max_auto_priority should result in better keepalived performance',
      'Startup complete',
    ];
    for (const line of chatter) assert.deepEqual(keepalivedSays(AT + line), { level: 'debug', meaning: null }, line);
  });
});
