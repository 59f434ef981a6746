/** The API token comes from ?token= once, then from localStorage, so links printed by `npm start` just work. */
export function apiToken(): string | null {
  const fromUrl = new URLSearchParams(location.search).get('token');
  if (fromUrl) localStorage.setItem('citygrid.token', fromUrl);
  return fromUrl ?? localStorage.getItem('citygrid.token');
}

export async function getJson<T>(path: string): Promise<T> {
  const token = apiToken();
  const response = await fetch(path, { headers: token ? { Authorization: `Bearer ${token}` } : {} });
  const body = await response.json();
  if (!response.ok) throw new Error(`${response.status} ${body.title ?? response.statusText}`);
  return body as T;
}

export interface FeatureCollection {
  type: 'FeatureCollection';
  features: Array<{ geometry: { type: string; coordinates: unknown }; properties: Record<string, unknown> }>;
  nextCursor?: number | null;
}

/** Follows nextCursor until every page of a GeoJSON listing is in. */
export async function getAllFeatures(path: string): Promise<FeatureCollection> {
  const features: FeatureCollection['features'] = [];
  let cursor: number | null | undefined = 0;
  while (cursor !== null && cursor !== undefined) {
    const page: FeatureCollection = await getJson<FeatureCollection>(`${path}${path.includes('?') ? '&' : '?'}cursor=${cursor}`);
    features.push(...page.features);
    cursor = page.nextCursor;
  }
  return { type: 'FeatureCollection', features };
}
