import type { Response } from 'supertest';
import type { EventBus } from '../../server/events/bus';

export interface Tile {
  z: number;
  x: number;
  y: number;
}

/** The web-mercator tile holding a point at zoom z. */
export function tileAt(lon: number, lat: number, z: number): Tile {
  const n = 2 ** z;
  const rad = (lat * Math.PI) / 180;
  return {
    z,
    x: Math.floor(((lon + 180) / 360) * n),
    y: Math.floor(((1 - Math.log(Math.tan(rad) + 1 / Math.cos(rad)) / Math.PI) / 2) * n),
  };
}

/** A supertest parser that keeps a tile's bytes as they came. */
export const binary = (res: Response, done: (error: Error | null, body: Buffer) => void) => {
  const chunks: Buffer[] = [];
  res.on('data', (chunk: Buffer) => chunks.push(chunk));
  res.on('end', () => done(null, Buffer.concat(chunks)));
};

/** Follows a bus's change events: `all(ids)` resolves once incident-changed events have named every one of ids. */
export function announcedIncidents(events: Pick<EventBus, 'onChange'>) {
  const seen = new Set<number>();
  let check = () => {};
  const off = events.onChange((event) => {
    if (event.kind === 'incident-changed') for (const id of event.ids ?? [event.id]) seen.add(id);
    check();
  });
  const all = (ids: number[]) =>
    new Promise<void>((resolve) => {
      check = () => ids.every((id) => seen.has(id)) && resolve();
      check();
    });
  return { all, off };
}
