// keepalived's console (--log-console): mostly chatter, kept at debug; but its warnings are how an
// operator learns that keepalived did not take the config (an interface that does not exist ends
// it with a permanent config error, and the supervisor restarts it in vain) or that it disabled
// furiwake's liveness check as unsafe (then a killed furiwake would keep the VIPs).

export interface KeepalivedLine {
  level: 'warn' | 'debug';
  /** what it means for furiwake, when that is not plain from the line */
  meaning: string | null;
}

const CHATTER: KeepalivedLine = { level: 'debug', meaning: null };
const WARNING: KeepalivedLine = { level: 'warn', meaning: null };
const CHECK_OFF: KeepalivedLine = {
  level: 'warn',
  meaning: "furiwake's liveness check is off: a killed or stalled furiwake keeps the VIPs (keepalived runs scripts only from directories no other user may write to, as root)",
};
const CONFIG: KeepalivedLine = { level: 'warn', meaning: 'keepalived cannot run with this config; it is started again, in vain until the cause is fixed' };

export function keepalivedSays(line: string): KeepalivedLine {
  if (line.includes('Disabling track script furiwake_') || line.includes('Unsafe permissions found for script')) return CHECK_OFF;
  if (line.includes('permanent error CONFIG') || line.includes('Non-existent interface') || line.includes('Config files missing')) return CONFIG;
  if (line.includes('WARNING') || line.includes('Unknown keyword') || line.includes('SECURITY VIOLATION') || line.includes('rror')) return WARNING;
  return CHATTER;
}
