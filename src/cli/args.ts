// The command line of `furiwake` and `furiwake ctl`: one way to read options, one way to refuse.

import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';

/**
 * The options and positionals of `args`; on an unknown or malformed option, `usage` gets
 * "<program>: <what is wrong>" followed by the help text on `stderr`, and the result is null.
 */
export function parseCommandLine<O extends ParseArgsOptionsConfig>(args: string[], options: O, program: string, help: string, stderr: NodeJS.WritableStream) {
  try {
    return parseArgs({ args, allowPositionals: true as const, options });
  } catch (err) {
    stderr.write(`${program}: ${(err as Error).message}\n\n${help}`);
    return null;
  }
}
