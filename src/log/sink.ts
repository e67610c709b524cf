// Where log lines go. A sink never blocks the caller and never throws: a destination that is
// full, gone or slow loses lines (counted in `dropped`), never traffic.

/** Which log a line belongs to (syslog's MSGID; files and stdout do not write it). */
export const LogKind = { PROCESS: 0, ACCESS: 1 } as const;
export type LogKind = (typeof LogKind)[keyof typeof LogKind];

/** Syslog severities (RFC 5424) the logs use. */
export const Severity = { CRITICAL: 2, ERROR: 3, WARNING: 4, INFO: 6, DEBUG: 7 } as const;

export interface LogSink {
  /** `line` without its newline */
  write(line: string, severity: number, kind: LogKind): void;
  /** a file: closes it and opens the path again (after logrotate renamed it); others: nothing */
  reopen(): string | null;
  /** writes what is buffered (within a short time for a network server), then lets go */
  close(): Promise<void>;
  /** lines lost since the sink was made */
  readonly dropped: number;
}

/** How a sink tells of its destination's trouble (once per episode, not once per line). */
export type SinkProblem = (message: string, detail: Record<string, unknown>) => void;
