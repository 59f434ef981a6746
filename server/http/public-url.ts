/**
 * The URL a client reached this server by, for the absolute URLs inside answers (TileJSON, /tiles). Taken from
 * the request's Host header only when that host is one of PUBLIC_URL's, or a loopback name (a browser on this
 * machine: localhost and 127.0.0.1 are different origins to it); anything else gets the first PUBLIC_URL. A
 * forged Host must not send map clients, or a cache in between, to another server.
 */
export function publicUrlFor(publicUrls: readonly string[]): (host: string | undefined, protocol: string) => string {
  const byHost = new Map(publicUrls.map((url) => [new URL(url).host, url]));
  return (host, protocol) => {
    const listed = host === undefined ? undefined : byHost.get(host.toLowerCase());
    if (listed) return listed;
    if (host !== undefined && isLoopback(host)) return `${protocol}://${host}`;
    return publicUrls[0];
  };
}

/** localhost, 127.x.x.x or [::1], with or without a port. */
function isLoopback(host: string): boolean {
  return /^(localhost|127(\.\d{1,3}){3}|\[::1\])(:\d{1,5})?$/i.test(host);
}
