import { BadRequestError } from '../errors';

/**
 * The first name=value pair of a query string or form body that does not percent-decode (`%E0%A4%A`), or
 * undefined. URLSearchParams and Koa keep such a value as raw text or U+FFFD, so a filter would silently match
 * something else, or a report be filed with the bytes mangled: it is refused instead.
 */
function undecodablePair(raw: string): string | undefined {
  if (!raw.includes('%')) return undefined;
  return raw.split('&').find((pair) => {
    try {
      decodeURIComponent(pair.replace(/\+/g, ' '));
      return false;
    } catch {
      return true;
    }
  });
}

/** Refuses (400) a query string or form body with malformed percent-encoding, naming the field. */
export function assertPercentDecodable(raw: string, where: 'query parameter' | 'form field'): void {
  const pair = undecodablePair(raw);
  if (pair === undefined) return;
  const name = pair.split('=')[0].slice(0, 50);
  throw new BadRequestError(`The ${where} ${name} has malformed percent-encoding`, { field: name });
}

/** Whether a query string (without "?") decodes: the tile fast path checks this before it parses anything. */
export function isPercentDecodable(raw: string): boolean {
  return undecodablePair(raw) === undefined;
}
