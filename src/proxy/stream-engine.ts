// Which stream engine the tcp data plane runs on: Node's stream handles when this Node has them
// (the default, about twice as fast per new connection), else net.Socket. FURIWAKE_TCP_ENGINE=
// handles|sockets chooses one; asking for handles on a Node without them is an error at start.

import { handleEngine } from './handle-stream.ts';
import { socketEngine } from './socket-stream.ts';
import type { StreamEngine } from './stream.ts';

export function streamEngine(choice: string | undefined = process.env.FURIWAKE_TCP_ENGINE): StreamEngine {
  switch (choice ?? '') {
    case '':
    case 'auto':
      return handleEngine ?? socketEngine;
    case 'sockets':
      return socketEngine;
    case 'handles':
      if (handleEngine === null) throw new Error('FURIWAKE_TCP_ENGINE=handles: this Node has no usable TCP stream handles (process.binding)');
      return handleEngine;
    default:
      throw new Error(`FURIWAKE_TCP_ENGINE: expected auto, handles or sockets, got ${JSON.stringify(choice)}`);
  }
}
