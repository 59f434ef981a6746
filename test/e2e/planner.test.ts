import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { useTestApp } from '../support/app';
import { openWatched, screenshots, useServedBrowser } from '../support/browser';

jest.setTimeout(600_000);

type Position = [number, number];

describe('the planner’s grid editor in headless Chromium, driven with the mouse', () => {
  const suite = useTestApp();
  const served = useServedBrowser(suite);
  let page: Page;
  let outside: string[];
  let errors: string[];

  const one = async <T>(sql: string, params: unknown[] = []) => (await suite.db.pool.query(sql, params)).rows[0] as T;
  const api = async (route: string) => (await suite.api.request.get(route).set(suite.api.auth('planner')).expect(200)).body;
  const idle = (on: Page) => on.waitForFunction(() => !document.getElementById('app')?.dataset.busy, undefined, { polling: 100, timeout: 120_000 });
  const settle = async (on: Page) => {
    await idle(on);
    await on.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve))));
  };
  /** Screen position of a place on the planner map. */
  const screen = (on: Page, lngLat: Position) =>
    on.evaluate((at) => (window as unknown as { citygridPlanner: { project: (p: Position) => Position } }).citygridPlanner.project(at), lngLat);
  const selectInTree = async (on: Page, code: string, id: number) => {
    await on.locator('#grid-search').fill(code);
    await on.locator(`#grid-tree button[data-grid-id="${id}"]`).click();
    await on.waitForFunction((want) => document.getElementById('app')?.dataset.selected === String(want), id);
    await settle(on);
  };
  /** Drags with the mouse in small steps, as a hand does (terra-draw follows pointer moves). */
  const drag = async (on: Page, from: Position, to: Position) => {
    await on.mouse.move(from[0], from[1]);
    await on.mouse.down();
    for (let step = 1; step <= 10; step++) await on.mouse.move(from[0] + ((to[0] - from[0]) * step) / 10, from[1] + ((to[1] - from[1]) * step) / 10);
    await on.mouse.up();
  };
  const geometryHex = async (id: number) => (await one<{ g: string }>('SELECT ST_AsEWKB(geom) AS g FROM grids WHERE id = $1', [id])).g;

  it('opens with the grid tree, no console error and no request off 127.0.0.1; selecting a grid in the tree shows its figures and history', async () => {
    ({ page, errors, outside } = await openWatched(served.browser, `${served.server.url}/planner?token=${suite.api.tokens.planner}`));
    expect(await page.locator('#grid-tree > li').count()).toBe((await one<{ n: number }>('SELECT count(*)::int AS n FROM grids WHERE level = 1')).n);
    const grid = await one<{ id: number; code: string }>('SELECT id, code FROM grids WHERE level = 4 ORDER BY id LIMIT 1');
    await selectInTree(page, grid.code, grid.id);
    const stats = await api(`/api/grids/${grid.id}/stats`);
    expect(await page.textContent('#grid-details h2')).toContain(grid.code);
    expect(await page.textContent('#figure-households')).toContain(String(stats.households));
    // One line per change, plus the bulk-loaded first version a first change holds as `before`; else the "no history" line.
    const { entries } = await api(`/api/grids/${grid.id}/history`);
    const firstLoaded = entries[0]?.before?.version ? 1 : 0;
    await page.waitForFunction((want) => document.querySelectorAll('#history li').length === want, Math.max(1, entries.length + firstLoaded));
    expect(await page.locator('#history li.empty').count()).toBe(entries.length + firstLoaded === 0 ? 1 : 0);
    expect(errors).toEqual([]);
    expect(outside).toEqual([]);
  });

  // A level-4 grid with a neighbour to its east sharing a vertical edge: the split, merge and vertex tests use them.
  const pair = () =>
    one<{ a: number; a_code: string; b: number; minx: number; miny: number; maxx: number; maxy: number }>(
      `SELECT a.id AS a, a.code AS a_code, b.id AS b, ST_XMin(a.geom) AS minx, ST_YMin(a.geom) AS miny, ST_XMax(a.geom) AS maxx, ST_YMax(a.geom) AS maxy
       FROM grids a JOIN grids b ON b.parent_id = a.parent_id AND b.level = 4 AND abs(ST_XMin(b.geom) - ST_XMax(a.geom)) < 1e-9
        AND ST_YMin(b.geom) < ST_YMax(a.geom) - 1e-4 AND ST_YMax(b.geom) > ST_YMin(a.geom) + 1e-4
       WHERE a.level = 4 AND ST_NumGeometries(a.geom) = 1 AND ST_NPoints(a.geom) = 5
       ORDER BY a.id OFFSET 2 LIMIT 1`,
    );

  it('splits a grid along a line drawn with clicks: the API then has two grids whose union is the old one; merging them back restores it', async () => {
    const { a, a_code, minx, miny, maxx, maxy } = await pair();
    const before = await geometryHex(a);
    const parent = (await one<{ p: number }>('SELECT parent_id AS p FROM grids WHERE id = $1', [a])).p;
    const siblingsBefore = (await api(`/api/grids/${parent}/children`)).features.length;
    await selectInTree(page, a_code, a);
    await page.locator('#tool-split').click();
    const middle = (minx + maxx) / 2;
    const [lineStart, lineEnd] = [await screen(page, [middle, miny - (maxy - miny) * 0.1]), await screen(page, [middle + (maxx - minx) * 0.05, maxy + (maxy - miny) * 0.1])];
    await page.mouse.click(lineStart[0], lineStart[1]);
    await page.mouse.click(lineEnd[0], lineEnd[1]);
    await page.keyboard.press('Enter');
    await page.locator('#split-commit').waitFor();
    expect(await page.locator('#split-preview tr[data-households]').count()).toBe(2);
    await page.locator('#split-commit').click();
    await settle(page);
    const after = (await api(`/api/grids/${parent}/children`)).features as Array<{ id: number }>;
    expect(after.length).toBe(siblingsBefore + 1);
    const created = await one<{ id: number }>('SELECT max(id)::int AS id FROM grids WHERE parent_id = $1', [parent]);
    const union = await one<{ difference_m2: number; a_m2: number; new_m2: number }>(
      `SELECT ST_Area(ST_SymDifference($1::geometry, ST_Union(a.geom, n.geom))::geography) AS difference_m2,
              ST_Area(a.geom::geography) AS a_m2, ST_Area(n.geom::geography) AS new_m2
       FROM grids a, grids n WHERE a.id = $2 AND n.id = $3`,
      [before, a, created.id],
    );
    expect(union.difference_m2).toBeLessThan(0.01);
    expect(union.a_m2).toBeGreaterThan(1000);
    expect(union.new_m2).toBeGreaterThan(1000);

    await page.locator('#tool-merge').click();
    await page.locator(`.choices input[value="${created.id}"]`).click();
    await page.locator('#merge-preview').click();
    await settle(page);
    await page.locator('#merge-commit').click();
    await settle(page);
    expect(await one('SELECT count(*)::int AS n FROM grids WHERE id = $1', [created.id])).toEqual({ n: 0 });
    const restored = await one<{ difference_m2: number }>('SELECT ST_Area(ST_SymDifference($1::geometry, geom)::geography) AS difference_m2 FROM grids WHERE id = $2', [before, a]);
    expect(restored.difference_m2).toBeLessThan(0.01);
    expect(errors).toEqual([]);
  });

  it('a vertex dragged to just inside the neighbour snaps onto its edge: the verdict is clean and the saved grid overlaps nothing', async () => {
    const { a, a_code, b, maxx, maxy, miny } = await pair();
    await selectInTree(page, a_code, a);
    await page.locator('#tool-edit').click();
    const corner = await screen(page, [maxx, maxy]);
    const down = await screen(page, [maxx, maxy - (maxy - miny) * 0.25]);
    // 6 px east of the shared edge: inside the neighbour, within the 12 px snap distance.
    const target: Position = [down[0] + 6, down[1]];
    await drag(page, corner, target);
    await page.waitForFunction(() => document.getElementById('app')?.dataset.draftSaved);
    await page.locator('#edit-check').click();
    await settle(page);
    expect(await page.getAttribute('#verdict', 'data-accepted')).toBe('true');
    expect(await page.textContent('#verdict-overlaps')).toBe('0');
    await page.locator('#edit-save').click();
    await settle(page);
    const overlap = await one<{ m2: number; moved: boolean }>(
      `SELECT coalesce(ST_Area(ST_CollectionExtract(ST_Intersection(a.geom, b.geom), 3)::geography), 0) AS m2, a.version > 1 AS moved FROM grids a, grids b WHERE a.id = $1 AND b.id = $2`,
      [a, b],
    );
    expect(overlap).toEqual({ m2: 0, moved: true });
    // Without the snap the same drop would have overlapped the neighbour by more than the 1 m² the server trims.
    const unsnapped = await page.evaluate((at) => (window as unknown as { citygridPlanner: { unproject: (p: Position) => Position } }).citygridPlanner.unproject(at), target);
    const grid = await api(`/api/grids/${a}`);
    const { type, coordinates } = grid.feature.geometry;
    const ring = (type === 'Polygon' ? coordinates[0] : coordinates[0][0]) as Position[];
    const withDrop = ring.map((position) => (Math.abs(position[0] - maxx) < 1e-7 && Math.abs(position[1] - unsnapped[1]) < 1e-5 ? unsnapped : position));
    const verdict = await suite.api.request
      .patch(`/api/grids/${a}?dryRun=true`)
      .set(suite.api.auth('planner'))
      .set('If-Match', `"${grid.version}"`)
      .send({ geometry: { type: 'Polygon', coordinates: [withDrop] } });
    expect([verdict.status, verdict.status === 200 ? null : verdict.body]).toEqual([200, null]);
    expect(verdict.body.overlaps.find((o: { gridId: number }) => o.gridId === b)?.areaM2).toBeGreaterThan(1);

    // Restoring version 1 (as loaded, before the split) from the history list writes a new version with that boundary.
    const { version } = await api(`/api/grids/${a}`);
    await page.locator('#history button.revert[data-version="1"]').click();
    await settle(page);
    const reverted = await one<{ version: number; moved_m2: number }>(
      `SELECT g.version, ST_Area(ST_SymDifference(g.geom, ST_SetSRID(ST_GeomFromGeoJSON(h.before ->> 'geometry'), 4326))::geography) AS moved_m2
       FROM grids g JOIN grid_history h ON h.grid_id = g.id AND h.version = 2 WHERE g.id = $1`,
      [a],
    );
    expect(reverted.version).toBe(version + 1);
    expect(reverted.moved_m2).toBeLessThan(0.01);
    expect(errors).toEqual([]);
  });

  it('deletes a grid into a neighbour picked from the list: the neighbour then holds both areas', async () => {
    const { a, a_code, b } = await one<{ a: number; a_code: string; b: number }>(
      `SELECT a.id AS a, a.code AS a_code, b.id AS b FROM grids a JOIN grids b ON b.parent_id = a.parent_id AND b.level = 4 AND a.id <> b.id
       WHERE a.level = 4 AND ST_Length(ST_Intersection(a.geom, b.geom)) > 0 ORDER BY a.id DESC, b.id LIMIT 1`,
    );
    const union = await one<{ m2: number }>('SELECT ST_Area(ST_Union(a.geom, b.geom)::geography) AS m2 FROM grids a, grids b WHERE a.id = $1 AND b.id = $2', [a, b]);
    await selectInTree(page, a_code, a);
    await page.locator('#tool-delete').click();
    await page.locator(`.choices input[value="${b}"]`).click();
    await settle(page);
    await page.locator('#delete-commit').click();
    await settle(page);
    expect(await one('SELECT count(*)::int AS n FROM grids WHERE id = $1', [a])).toEqual({ n: 0 });
    const target = await one<{ m2: number }>('SELECT ST_Area(geom::geography) AS m2 FROM grids WHERE id = $1', [b]);
    expect(Math.abs(target.m2 - union.m2)).toBeLessThan(0.01);
    expect(await page.getAttribute('#app', 'data-selected')).toBe(String(b));
    expect(errors).toEqual([]);
  });

  it('keeps an unsaved edit across a reload and lists it; when another planner saved the grid first, saving opens the conflict dialog', async () => {
    const grid = await one<{ id: number; code: string; maxx: number; maxy: number; miny: number; minx: number }>(
      `SELECT id, code, ST_XMax(geom) AS maxx, ST_YMax(geom) AS maxy, ST_YMin(geom) AS miny, ST_XMin(geom) AS minx
       FROM grids WHERE level = 4 AND ST_NPoints(geom) = 5 ORDER BY id OFFSET 7 LIMIT 1`,
    );
    await selectInTree(page, grid.code, grid.id);
    await page.locator('#tool-edit').click();
    const corner = await screen(page, [grid.minx, grid.miny]);
    await drag(page, corner, [corner[0] + 25, corner[1] - 25]);
    await page.waitForFunction(() => document.getElementById('app')?.dataset.draftSaved);
    await page.reload();
    await page.waitForFunction(() => document.body.dataset.ready === 'true', undefined, { timeout: 120_000 });
    await page.locator(`#drafts li[data-grid-id="${grid.id}"]`).waitFor();

    // The other planner, in a browser context of their own, moves another corner of the same grid and saves.
    const other = await served.browser.newContext({ viewport: { width: 1920, height: 1080 } });
    const otherPage = await other.newPage();
    await otherPage.goto(`${served.server.url}/planner?token=${suite.api.tokens.planner}`);
    await otherPage.waitForFunction(() => document.body.dataset.ready === 'true', undefined, { timeout: 120_000 });
    await selectInTree(otherPage, grid.code, grid.id);
    await otherPage.locator('#tool-edit').click();
    const theirCorner = await screen(otherPage, [grid.maxx, grid.maxy]);
    await drag(otherPage, theirCorner, [theirCorner[0] - 25, theirCorner[1] + 25]);
    await otherPage.waitForFunction(() => document.getElementById('app')?.dataset.draftSaved);
    await otherPage.locator('#edit-save').click();
    await settle(otherPage);
    expect((await api(`/api/grids/${grid.id}`)).version).toBe(2);
    await other.close();

    await page.locator(`#drafts button.draft-resume[data-grid-id="${grid.id}"]`).click();
    await settle(page);
    await page.locator('#edit-save').click();
    await page.locator('#conflict-dialog[open]').waitFor();
    const text = await page.textContent('#conflict-text');
    expect(text).toContain(grid.code);
    expect(text).toContain('planner');
    expect(text).toMatch(/2/);
    await page.locator('#conflict-compare').click();
    // The 412 itself is the browser's only complaint.
    expect(errors.filter((error) => !/status of 412/.test(error))).toEqual([]);
    errors.length = 0;
  });

  it('rebalances a community: the preview colours and lists the proposed grids, and after commit the API’s figures match it', async () => {
    const community = await one<{ id: number; code: string }>(
      `SELECT p.id, p.code FROM grids p WHERE p.level = 3 AND NOT EXISTS (SELECT 1 FROM grid_history h JOIN grids c ON c.id = h.grid_id WHERE c.parent_id = p.id)
       ORDER BY p.id DESC LIMIT 1`,
    );
    await selectInTree(page, community.code, community.id);
    await page.locator('#tool-rebalance').click();
    await page.locator('#rebalance-target').fill('150');
    await page.locator('#rebalance-preview').click();
    await settle(page);
    await page.screenshot({ path: path.join(screenshots, 'planner-1920x1080.png'), timeout: 120_000 });
    const preview = (await page.locator('#rebalance-table tr[data-households]').evaluateAll((rows) => rows.map((row) => Number((row as HTMLElement).dataset.households)))).sort((x, y) => x - y);
    expect(preview.length).toBeGreaterThan(1);
    await page.locator('#rebalance-commit').click();
    await page.waitForFunction(() => document.getElementById('app')?.dataset.rebalanced);
    const ids = JSON.parse((await page.getAttribute('#app', 'data-rebalanced'))!) as number[];
    const households = (await Promise.all(ids.map(async (id) => (await api(`/api/grids/${id}/stats`)).households as number))).sort((x, y) => x - y);
    expect(households).toEqual(preview);
    expect(errors).toEqual([]);
  });

  it('imports a small GeoJSON with a gap: the report shows the gap before anything is committed', async () => {
    const community = await one<{ id: number; code: string; grids: number }>(`SELECT id, code, (SELECT count(*)::int FROM grids) AS grids FROM grids WHERE level = 3 ORDER BY id LIMIT 1`);
    const { features } = await one<{ features: object[] }>(
      `WITH c AS (SELECT geom, code, (ST_XMin(geom) + ST_XMax(geom)) / 2 AS mid FROM grids WHERE id = $1)
       SELECT json_agg(json_build_object('type', 'Feature', 'properties', json_build_object('code', code || '-I' || side, 'name', '导入 ' || side),
                'geometry', ST_AsGeoJSON(ST_Intersection(geom, ST_MakeEnvelope(x0, ST_YMin(geom) - 1, x1, ST_YMax(geom) + 1, 4326)), 9)::json)) AS features
       FROM c, LATERAL (VALUES (1, ST_XMin(geom) - 1, mid - 0.0003), (2, mid + 0.0003, ST_XMax(geom) + 1)) AS sides(side, x0, x1)`,
      [community.id],
    );
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'planner-')), 'boundaries.geojson');
    fs.writeFileSync(file, JSON.stringify({ type: 'FeatureCollection', features }));
    await selectInTree(page, community.code, community.id);
    await page.locator('#tool-import').click();
    await page.locator('#import-file').setInputFiles(file);
    await page.locator('#import-level').selectOption('4');
    await page.locator('#import-check').click();
    await settle(page);
    expect(Number(await page.getAttribute('#import-report', 'data-gaps'))).toBeGreaterThanOrEqual(1);
    expect(await page.textContent('#import-report')).toMatch(/m²/);
    expect((await one<{ n: number }>('SELECT count(*)::int AS n FROM grids')).n).toBe(community.grids);
    expect(errors).toEqual([]);
    expect(outside).toEqual([]);
  });
});
