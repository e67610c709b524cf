// How the two ends of a replication link prove they hold the shared key (ha.sync.key), and how
// every frame after that is signed. Both ends send a fresh nonce; each answers with an HMAC over
// both nonces, its role and its name, so an answer cannot be replayed on another link nor
// reflected back to its sender. From then on each direction signs its frames with a key derived
// from both nonces, over a sequence number, so a frame cannot be forged, replayed or reordered by
// whoever sits on the path (TLS, when configured, also hides them).

import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { MAC_BYTES, NONCE_BYTES } from './sync-frame.ts';

/** who opened the TCP connection: part of everything signed, so the two directions differ */
export type LinkRole = 'connect' | 'accept';

/** bytes of the MAC at the end of each frame after authentication (HMAC-SHA256, cut) */
export const FRAME_MAC_BYTES = 16;

const LABEL = 'furiwake-sync/1';

export function nonce(): Buffer {
  return randomBytes(NONCE_BYTES);
}

/** What a node of role `role` answers: it knows the key, for these two nonces, under this name. */
export function answer(key: Buffer, role: LinkRole, theirNonce: Buffer, ownNonce: Buffer, ownName: string): Buffer {
  return createHmac('sha256', key).update(`${LABEL} auth ${role}\n`).update(theirNonce).update(ownNonce).update(ownName, 'latin1').digest();
}

/** Whether the peer's answer is the one its role, our nonce, its nonce and its name call for. */
export function answerHolds(key: Buffer, peerRole: LinkRole, ownNonce: Buffer, peerNonce: Buffer, peerName: string, mac: Buffer): boolean {
  const want = answer(key, peerRole, ownNonce, peerNonce, peerName);
  return mac.length === MAC_BYTES && timingSafeEqual(want, mac);
}

/** The key that signs the frames the `sender` end sends on this link. */
export function frameKey(key: Buffer, sender: LinkRole, connectNonce: Buffer, acceptNonce: Buffer): Buffer {
  return createHmac('sha256', key).update(`${LABEL} frames ${sender}\n`).update(connectNonce).update(acceptNonce).digest();
}

/** The MAC of the `seq`-th frame body sent with `frameKey`. */
export function frameMac(frameKey: Buffer, seq: number, body: Buffer): Buffer {
  const s = Buffer.allocUnsafe(8);
  s.writeBigUInt64BE(BigInt(seq));
  return createHmac('sha256', frameKey).update(s).update(body).digest().subarray(0, FRAME_MAC_BYTES);
}

export function macHolds(frameKeyIn: Buffer, seq: number, body: Buffer, mac: Buffer): boolean {
  return mac.length === FRAME_MAC_BYTES && timingSafeEqual(frameMac(frameKeyIn, seq, body), mac);
}
