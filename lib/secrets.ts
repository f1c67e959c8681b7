/**
 * Recognising secrets in text people type and in URLs, so the API can refuse them before they reach
 * workflow history (which keeps everything forever) and strip them from what it logs. The logger's
 * field-path redaction (lib/logger.ts) covers structured fields; this covers free text.
 */
const SECRET_PATTERNS: { what: string; re: RegExp }[] = [
  { what: 'a bearer token', re: /\bjmrb_[A-Za-z0-9_-]{16,}/ },
  { what: 'a connection string with a password', re: /\b[a-z][a-z0-9+.-]*:\/\/[^\s/:@]+:[^\s/@]+@/i },
  // "pass word:", "pass_word=", "PASSWORD :" … and full-width colons
  { what: 'a password assignment', re: /\b(pass[\s_-]*word|passwd|pwd|secret|api[_-]?key)\s*[=:：]\s*\S+/i },
  // 密码 password, 口令 pass phrase, 密钥 secret key (no \b: CJK characters are not word characters)
  { what: 'a password assignment', re: /(密码|口令|密钥)\s*[=:：]\s*\S+/ },
  { what: 'an Authorization header', re: /\bbearer\s+[A-Za-z0-9._~+/-]{20,}/i },
];

/** What kind of secret the text seems to hold, or null. */
export function secretIn(text: string): string | null {
  for (const p of SECRET_PATTERNS) if (p.re.test(text)) return p.what;
  return null;
}

const SECRET_QUERY_KEYS = /^(token|access_token|password|passwd|secret|signature|key|api_key|apikey|authorization)$/i;

/** The URL with the values of secret-looking query parameters replaced, for logs. */
export function redactUrlQuery(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return secretIn(url) ? '[redacted url]' : url;
  const params = url
    .slice(q + 1)
    .split('&')
    .map((pair) => {
      const [k] = pair.split('=', 1);
      let key = k;
      try {
        key = decodeURIComponent(k);
      } catch {
        /* keep the raw key */
      }
      return SECRET_QUERY_KEYS.test(key) || secretIn(pair) ? `${k}=[redacted]` : pair;
    });
  const path = url.slice(0, q);
  return `${secretIn(path) ? '[redacted path]' : path}?${params.join('&')}`;
}
