/**
 * The one way the web app talks to the server: JSON over fetch with the bearer token, and the live incident
 * stream. The token comes from ?token= (links printed by `npm start`) or the sign-in form, and is kept for this
 * browser session only (sessionStorage): a wall PC left signed in forgets it when the browser closes.
 */
import type { paths } from './api-types';

const tokenKey = 'citygrid.token';

export function apiToken(): string | null {
  const fromUrl = new URLSearchParams(location.search).get('token');
  if (fromUrl) sessionStorage.setItem(tokenKey, fromUrl);
  return fromUrl ?? sessionStorage.getItem(tokenKey);
}

export function signIn(token: string): void {
  sessionStorage.setItem(tokenKey, token.trim());
}

export function signOut(): void {
  sessionStorage.removeItem(tokenKey);
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** The problem+json document the server answered, when it sent one. */
    readonly problem: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

/**
 * A write: JSON body (if any), the bearer token and extra headers (If-Match). Answers the body and the ETag; a
 * 4xx/5xx becomes an ApiError carrying the problem document (a 412 names the current version).
 */
export async function sendJson<T>(method: 'POST' | 'PATCH' | 'DELETE', path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ body: T; etag: string | null }> {
  const token = apiToken();
  const response = await fetch(new URL(path, location.origin), {
    method,
    headers: { ...(token ? { Authorization: `Bearer ${token}` } : {}), ...(body === undefined ? {} : { 'Content-Type': 'application/json' }), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiError(response.status, `${response.status} ${answer.detail ?? answer.title ?? response.statusText}`, answer);
  return { body: answer as T, etag: response.headers.get('ETag') };
}

type JsonAnswerOf<Operations> = Operations extends { get: { responses: { 200: { content: { 'application/json': infer Answer } } } } } ? Answer : never;

/** A path of the API whose GET answers JSON, as the OpenAPI document names it (/tiles/{layer}.json). */
export type ApiPath = { [P in keyof paths]: [JsonAnswerOf<paths[P]>] extends [never] ? never : P }[keyof paths];

/** What GET `P` answers: the types are generated from the server's OpenAPI document (npm run api:types). */
export type ApiAnswer<P extends ApiPath> = JsonAnswerOf<paths[P]>;

/** GET a path of the API (its {name} parts filled from `params`) with the bearer token; the answer typed by the API. */
export async function getJson<P extends ApiPath>(path: P, query: Record<string, string | number | undefined> = {}, params: Record<string, string> = {}): Promise<ApiAnswer<P>> {
  const token = apiToken();
  const url = new URL(path.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(params[name])), location.origin);
  for (const [key, value] of Object.entries(query)) if (value !== undefined) url.searchParams.set(key, String(value));
  const response = await fetch(url, { headers: token ? { Authorization: `Bearer ${token}` } : {} });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiError(response.status, `${response.status} ${body.title ?? response.statusText}`);
  return body as ApiAnswer<P>;
}

/** Requests to this server carry the token (TileJSON and tiles fetched by maplibre); nothing else is fetched. */
export function authorizeRequest(url: string): { url: string; headers?: Record<string, string> } {
  const token = apiToken();
  return new URL(url, location.href).origin === location.origin && token ? { url, headers: { Authorization: `Bearer ${token}` } } : { url };
}

export type Role = 'admin' | 'planner' | 'commander' | 'police' | 'grid_worker' | 'hotline';

export function session(): Promise<ApiAnswer<'/api/session'>> {
  return getJson('/api/session');
}

/** One event of GET /api/incidents/stream (server/incidents/stream.ts). */
export interface IncidentEvent {
  id: number;
  incidentId: number;
  kind: 'reported' | 'transition' | 'escalated' | 'duplicate-linked';
  from: string | null;
  to: string;
  at: string;
  incident: { category: string; status: string; location: { type: 'Point'; coordinates: [number, number] }; gridId: number | null; department: string | null; priority: number | null };
}

export type StreamState = 'connecting' | 'live' | 'reconnecting';

/**
 * Follows the incident stream and keeps following it: the browser's EventSource retries by itself after a network
 * drop (sending Last-Event-ID), but gives up for good on an HTTP error (a 503 while the database restarts), so a
 * closed source is replaced after a pause, resuming after the last event seen. No event is lost or repeated.
 */
export function followIncidents(onEvent: (event: IncidentEvent) => void, onState: (state: StreamState) => void): () => void {
  let lastEventId: string | undefined;
  let source: EventSource | undefined;
  let retry: number | undefined;
  let stopped = false;
  const open = () => {
    const url = new URL('/api/incidents/stream', location.origin);
    url.searchParams.set('access_token', apiToken() ?? '');
    if (lastEventId) url.searchParams.set('lastEventId', lastEventId);
    source = new EventSource(url);
    source.onopen = () => onState('live');
    source.addEventListener('incident', (message) => {
      lastEventId = message.lastEventId || lastEventId;
      onEvent(JSON.parse(message.data) as IncidentEvent);
    });
    source.onerror = () => {
      onState('reconnecting');
      if (source?.readyState !== EventSource.CLOSED || stopped) return;
      retry = window.setTimeout(open, 3000);
    };
  };
  onState('connecting');
  open();
  return () => {
    stopped = true;
    clearTimeout(retry);
    source?.close();
  };
}
