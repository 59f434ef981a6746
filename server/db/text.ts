/**
 * Whether any string inside holds a NUL character, which PostgreSQL text cannot store: a statement (or a COPY)
 * with one fails as a whole, so callers refuse such input first and name where it is. Iterative, so deeply
 * nested input cannot overflow the stack; no paths kept, since every request pays for it (a cached tile too).
 */
export function holdsNul(value: unknown): boolean {
  const pending = [value];
  while (pending.length > 0) {
    const item = pending.pop();
    if (typeof item === 'string') {
      if (item.includes('\u0000')) return true;
    } else if (item && typeof item === 'object') for (const child of Object.values(item)) pending.push(child);
  }
  return false;
}
