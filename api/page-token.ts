import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * 分页令牌 The list's page tokens as this API issues them: Temporal's own token (base64url) followed by a
 * 22-character MAC under the API's key. A token this API did not issue is refused at once (400), without
 * asking Temporal — whose dev server takes ~20 s to say "something went wrong" about a token it cannot read,
 * longer than a request may wait on it (app.ts' deadline).
 */
const MAC_LENGTH = 22;

const mac = (key: string, body: string) => createHmac('sha256', key).update(`runs-page-token\n${body}`).digest('base64url').slice(0, MAC_LENGTH);

export function sealPageToken(key: string, serverToken: Uint8Array): string {
  const body = Buffer.from(serverToken).toString('base64url');
  return body + mac(key, body);
}

/** Temporal's token inside a token this API issued, or undefined when it is not one. */
export function openPageToken(key: string, token: string): Buffer | undefined {
  if (token.length <= MAC_LENGTH) return undefined;
  const body = token.slice(0, -MAC_LENGTH);
  const given = Buffer.from(token.slice(-MAC_LENGTH));
  const expected = Buffer.from(mac(key, body));
  return given.length === expected.length && timingSafeEqual(given, expected) ? Buffer.from(body, 'base64url') : undefined;
}
