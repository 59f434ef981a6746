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
