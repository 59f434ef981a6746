import { type CachedTile, TileCache } from '../../server/tiles/cache';

const tile = (bytes: number): CachedTile => ({ layer: 'buildings', z: 14, x: 1, y: 2, gzip: Buffer.alloc(bytes), etag: '"e"' });
// What one entry of 1,000 bytes counts for with a key of two characters (bookkeeping included).
const entryBytes = 1000 + 2 * 2 + 128;

describe('tile cache', () => {
  it('stays within its bytes, dropping the least recently used first', () => {
    const cache = new TileCache(10 * entryBytes);
    for (let i = 0; i < 10; i++) cache.set(`k${i}`, tile(1000));
    expect(cache.size).toEqual({ tiles: 10, bytes: 10 * entryBytes });
    cache.get('k0'); // in the older half: becomes the newest
    cache.set('kA', tile(1000));
    expect(cache.get('k0')).toBeDefined();
    expect(cache.get('k1')).toBeUndefined();
    expect(cache.size.bytes).toBeLessThanOrEqual(10 * entryBytes);
  });

  it('keeps a tile that is asked for all the time, however many others pass through', () => {
    const cache = new TileCache(10 * entryBytes);
    cache.set('hot', tile(1000));
    for (let i = 0; i < 1000; i++) {
      cache.set(`c${i % 100}`, tile(1000));
      expect(cache.get('hot')).toBeDefined();
    }
    expect(cache.size.bytes).toBeLessThanOrEqual(10 * entryBytes);
  });

  it('never keeps a tile larger than the whole cache, and replaces a key in place', () => {
    const cache = new TileCache(entryBytes);
    cache.set('k0', tile(5000));
    expect(cache.size).toEqual({ tiles: 0, bytes: 0 });
    cache.set('k0', tile(1000));
    cache.set('k0', tile(1000));
    expect(cache.size).toEqual({ tiles: 1, bytes: entryBytes });
  });
});
