// Number arrays as PostgreSQL array literals, for parameters of thousands of elements: node-postgres's generic
// writer quotes and escapes every element, numbers too, and takes twice as long (≈ 1.4 µs per patrol fix of a
// batch of 5,000 with its six number columns; bench/RESULTS.md). Text arrays stay with node-postgres's writer,
// which is as fast as a hand-written one there.

/** `{1.5,NULL,3}`: finite numbers as JavaScript prints them (PostgreSQL reads them back exactly), null as NULL. */
export function numberArrayLiteral(values: ReadonlyArray<number | null>): string {
  return `{${values.map((value) => (value === null ? 'NULL' : String(value))).join(',')}}`;
}
