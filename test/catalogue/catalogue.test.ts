import { z } from 'zod';
import { cityCatalogue } from '../../server/catalogue/city';
import { attributeFields } from '../../server/catalogue/attributes';
import type { CatalogueLayer } from '../../server/catalogue/types';

const lamp: CatalogueLayer = {
  name: 'lamps',
  title: { zh: '灯', en: 'Lamps' },
  description: 'Lamps',
  table: 'lamps',
  geometry: { type: 'Point', column: 'geom', tileColumn: 'geom_3857' },
  attributes: z.object({ kind: z.string(), lit_at: z.iso.datetime({ offset: true }).nullable() }),
  read: ['admin'],
};

describe('the layer catalogue', () => {
  it('reads attribute types from the zod declarations', () => {
    expect(attributeFields(lamp.attributes).map(({ name, type, nullable }) => ({ name, type, nullable }))).toEqual([
      { name: 'kind', type: 'string', nullable: false },
      { name: 'lit_at', type: 'date-time', nullable: true },
    ]);
  });

  it('lists every grid member table of the city once, with its placement rule', () => {
    expect(Object.fromEntries(cityCatalogue.gridMembers.map((member) => [member.table, member.placement]))).toEqual({
      buildings: 'point-on-surface',
      hazards: 'point',
      key_places: 'point',
      incidents: 'point',
      patrol_tracks: 'longest-stretch',
      patrol_points: 'point',
    });
  });

  it('refuses an inconsistent declaration with every reason, before anything is served', () => {
    const broken: CatalogueLayer = {
      ...lamp,
      temporal: 'kind',
      features: { write: ['admin'], listFilters: ['colour'] },
      tiles: { bands: [{ minzoom: 0, maxzoom: 22 }], fields: ['kind', 'brightness'], filters: { level: { schema: z.string(), sqlType: 'text', description: 'clashes with grids' } } },
    };
    expect(() => cityCatalogue.with(broken)).toThrow(
      /temporal kind is not a date[\s\S]*list filter colour is not an attribute[\s\S]*tile field brightness[\s\S]*tile filter level of lamps/,
    );
    expect(() => cityCatalogue.with({ ...lamp, name: 'buildings' })).toThrow(/layer buildings is declared twice/);
    expect(() => cityCatalogue.with({ ...lamp, name: 'Lamps; DROP' })).toThrow(/lower-case letters/);
  });
});
