// A peer that resets a stream with NO_ERROR (RFC 9113 8.1) after its message's END_STREAM only
// says it wants no more of ours; before it, its message is incomplete. node's http2 ends the
// stream's readable side in both cases alike ('end', with rstCode 0 both times), so a body of
// unknown length would be taken for whole. What tells them apart is whether the END_STREAM was
// read (the readable side had ended) when the stream closes, which the 'http2.client.stream.close'
// and 'http2.server.stream.close' diagnostics channels let us see: node publishes them as it
// closes the stream, before it ends the readable side itself. Each side listens once for the
// process (node publishes only while someone listens) and finds its own streams by a tag.

import diagnostics from 'node:diagnostics_channel';
import type { ClientHttp2Stream, Http2Stream, ServerHttp2Stream } from 'node:http2';

/** (a Readable's state: ended once its end was pushed, before 'end' is emitted) */
type Readable = { _readableState: { ended: boolean } };

/** Whether `stream`, closing now (in an onStreamClosing listener), closed before the peer's END_STREAM was read. */
export function closedBeforeEnd(stream: Http2Stream): boolean {
  return !(stream as unknown as Readable)._readableState.ended;
}

/**
 * Calls `closing` with every HTTP/2 stream of the process as it closes: 'client', the streams we
 * open (to members); 'server', those clients open to us.
 */
export function onStreamClosing(side: 'client', closing: (stream: ClientHttp2Stream) => void): void;
export function onStreamClosing(side: 'server', closing: (stream: ServerHttp2Stream) => void): void;
export function onStreamClosing(side: 'client' | 'server', closing: (stream: never) => void): void {
  diagnostics.subscribe(`http2.${side}.stream.close`, (message) => closing((message as { stream: never }).stream));
}
