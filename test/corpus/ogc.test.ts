import { useTestApp } from '../support/app';

/**
 * The bad inputs issue 22 names for the OGC routes, each with the status an OGC client expects and the OGC
 * exception document {code, description} naming what was wrong; none of them changes anything.
 */
describe('bad input on /ogc: OGC exception JSON with the right status, nothing changed', () => {
  const suite = useTestApp();

  interface BadCase {
    label: string;
    method?: 'get' | 'put' | 'patch' | 'delete' | 'post';
    url: string;
    headers?: Record<string, string>;
    body?: unknown;
    status: number;
    code: string;
    /** Text the description must contain: where the problem is. */
    names: string;
  }

  it('answers each with its status and an exception naming the problem', async () => {
    const { api, db } = suite;
    const { rows: hazards } = await db.pool.query<{ id: number; name: string; tag: string }>('SELECT id, name, xmin::text AS tag FROM hazards ORDER BY id LIMIT 1');
    const { rows: grids } = await db.pool.query<{ id: number; version: number; name: string }>('SELECT id, version, name FROM grids WHERE level = 4 ORDER BY id LIMIT 1');
    const hazard = `/ogc/collections/hazards/items/${hazards[0].id}`;
    const grid = `/ogc/collections/grids_level_4/items/${grids[0].id}`;
    const items = '/ogc/collections/buildings/items';
    const incidents = '/ogc/collections/incidents/items';
    const cases: BadCase[] = [
      { label: 'bbox of three numbers', url: `${items}?bbox=120.6,31.2,120.7`, status: 400, code: 'InvalidParameterValue', names: 'bbox' },
      { label: 'bbox with text', url: `${items}?bbox=a,b,c,d`, status: 400, code: 'InvalidParameterValue', names: 'bbox' },
      { label: 'bbox minimum above maximum', url: `${items}?bbox=120.7,31.2,120.6,31.3`, status: 400, code: 'InvalidParameterValue', names: 'bbox' },
      { label: 'bbox beyond degrees', url: `${items}?bbox=100,31,200,32`, status: 400, code: 'InvalidParameterValue', names: 'bbox' },
      { label: 'bbox-crs not served', url: `${items}?bbox=1,2,3,4&bbox-crs=EPSG:2385`, status: 400, code: 'InvalidParameterValue', names: 'bbox-crs' },
      { label: 'crs not served', url: `${items}?crs=${encodeURIComponent('http://www.opengis.net/def/crs/EPSG/0/2385')}`, status: 400, code: 'InvalidParameterValue', names: 'crs' },
      { label: 'limit over the maximum', url: `${items}?limit=10001`, status: 400, code: 'InvalidParameterValue', names: 'limit' },
      { label: 'limit zero', url: `${items}?limit=0`, status: 400, code: 'InvalidParameterValue', names: 'limit' },
      { label: 'negative offset', url: `${items}?offset=-1`, status: 400, code: 'InvalidParameterValue', names: 'offset' },
      { label: 'unknown collection', url: '/ogc/collections/nosuch/items', status: 404, code: 'NotFound', names: 'nosuch' },
      { label: 'people are no collection', url: '/ogc/collections/people', status: 404, code: 'NotFound', names: 'people' },
      { label: 'unknown feature', url: '/ogc/collections/hazards/items/999999999', status: 404, code: 'NotFound', names: '999999999' },
      { label: 'feature id not a number', url: '/ogc/collections/hazards/items/0x10', status: 400, code: 'InvalidParameterValue', names: 'featureId' },
      { label: 'datetime not a date', url: `${incidents}?datetime=yesterday`, status: 400, code: 'InvalidParameterValue', names: 'datetime' },
      { label: 'datetime without offset', url: `${incidents}?datetime=2025-03-01T08:00:00`, status: 400, code: 'InvalidParameterValue', names: 'datetime' },
      { label: 'datetime interval backwards', url: `${incidents}?datetime=2025-03-02T00:00:00Z/2025-03-01T00:00:00Z`, status: 400, code: 'InvalidParameterValue', names: 'datetime' },
      { label: 'datetime both ends open', url: `${incidents}?datetime=../..`, status: 400, code: 'InvalidParameterValue', names: 'datetime' },
      { label: 'datetime of three parts', url: `${incidents}?datetime=2025-03-01T00:00:00Z/../2025-03-02T00:00:00Z`, status: 400, code: 'InvalidParameterValue', names: 'datetime' },
      { label: 'datetime on a collection without time', url: `${items}?datetime=2025-03-01T00:00:00Z`, status: 400, code: 'InvalidParameterValue', names: 'datetime' },
      { label: 'unknown property filter', url: `${items}?colour=red`, status: 400, code: 'InvalidParameterValue', names: 'colour' },
      { label: 'filter value of the wrong kind', url: `${items}?floors=many`, status: 400, code: 'InvalidParameterValue', names: 'floors' },
      { label: 'unknown format', url: `${items}?f=xml`, status: 400, code: 'InvalidParameterValue', names: 'f' },
      {
        label: 'stale If-Match on a hazard',
        method: 'patch',
        url: hazard,
        headers: { 'If-Match': '"1"' },
        body: { properties: { name: 'stale' } },
        status: 412,
        code: 'PreconditionFailed',
        names: 'changed',
      },
      { label: 'a grid replacement without geometry', method: 'put', url: grid, headers: { 'If-Match': `"${grids[0].version + 5}"` }, body: { type: 'Feature', geometry: null, properties: { name: 'stale' } }, status: 400, code: 'InvalidParameterValue', names: 'geometry' },
      { label: 'stale If-Match on a grid patch', method: 'patch', url: grid, headers: { 'If-Match': `"${grids[0].version + 5}"` }, body: { properties: { name: 'stale' } }, status: 412, code: 'PreconditionFailed', names: 'version' },
      { label: 'grid change without If-Match', method: 'patch', url: grid, body: { properties: { name: 'blind' } }, status: 428, code: 'PreconditionRequired', names: 'If-Match' },
      { label: 'stale If-Match on a delete', method: 'delete', url: hazard, headers: { 'If-Match': '"1"' }, status: 412, code: 'PreconditionFailed', names: 'changed' },
      { label: 'a FeatureCollection where a Feature goes', method: 'post', url: '/ogc/collections/hazards/items', body: { type: 'FeatureCollection', features: [] }, status: 400, code: 'InvalidParameterValue', names: 'type' },
      { label: 'Content-Crs not served', method: 'patch', url: hazard, headers: { 'Content-Crs': '<http://www.opengis.net/def/crs/EPSG/0/2385>' }, body: { geometry: { type: 'Point', coordinates: [1, 2] } }, status: 400, code: 'InvalidParameterValue', names: 'Content-Crs' },
      { label: 'a write to a read-only collection', method: 'post', url: incidents, body: { type: 'Feature', geometry: null, properties: {} }, status: 405, code: 'MethodNotAllowed', names: 'incidents' },
      { label: 'PUT on the items', method: 'put', url: '/ogc/collections/hazards/items', body: {}, status: 405, code: 'MethodNotAllowed', names: 'POST' },
    ];
    const failures: string[] = [];
    for (const c of cases) {
      let request = api.request[c.method ?? 'get'](c.url).set(api.auth('admin')).set(c.headers ?? {});
      if (c.body !== undefined) request = request.send(c.body as object);
      const response = await request;
      const got = `${response.status} ${response.headers['content-type']} ${JSON.stringify(response.body)}`;
      const description = String(response.body?.description ?? '');
      const ok = response.status === c.status && response.body?.code === c.code && description.includes(c.names) && String(response.headers['content-type']).startsWith('application/json');
      if (!ok) failures.push(`${c.label}: ${got}`);
    }
    expect(failures).toEqual([]);
    expect((await db.pool.query('SELECT name, xmin::text AS tag FROM hazards WHERE id = $1', [hazards[0].id])).rows[0]).toEqual({ name: hazards[0].name, tag: hazards[0].tag });
    expect((await db.pool.query('SELECT version, name FROM grids WHERE id = $1', [grids[0].id])).rows[0]).toEqual({ version: grids[0].version, name: grids[0].name });
  });
});
