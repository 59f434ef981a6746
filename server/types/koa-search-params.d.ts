// Koa's own query-string parser (what ctx.query is made with), for the fast path to read a query as Koa does.
declare module 'koa/lib/search-params' {
  /** A repeated name becomes an array of its values, in order. */
  export function parse(search: string): Record<string, string | string[]>;
}
