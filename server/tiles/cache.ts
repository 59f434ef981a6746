export interface CachedTile {
  layer: string;
  z: number;
  x: number;
  y: number;
  /** Gzipped MVT; empty for an empty tile (204). */
  gzip: Buffer;
  etag: string;
}

/**
 * Least-recently-used tiles bounded by their bytes, not their number: a z13 building tile can weigh a thousand
 * empty ones. A Map keeps insertion order, so moving an entry to the end on a hit makes the first key the oldest.
 * Only an entry in the older half is moved: a tile asked for again and again stays in the newer half without
 * a delete and an insert on every hit (a cached tile's whole answer costs ~15 µs; moving it cost ~1). So the
 * order is approximate: a tile used within the last half of the cache's turnover counts as just used.
 */
export class TileCache {
  private readonly entries = new Map<string, { tile: CachedTile; touched: number }>();
  private bytes = 0;
  /** Counts inserts and moves; an entry's `touched` is its place in that count. */
  private clock = 0;

  constructor(private readonly maxBytes: number) {}

  get(key: string): CachedTile | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (this.clock - entry.touched > this.entries.size / 2) {
      this.entries.delete(key);
      this.entries.set(key, entry);
      entry.touched = ++this.clock;
    }
    return entry.tile;
  }

  set(key: string, tile: CachedTile): void {
    const size = tileSize(key, tile);
    if (size > this.maxBytes) return;
    this.delete(key);
    this.entries.set(key, { tile, touched: ++this.clock });
    this.bytes += size;
    for (const [oldest, old] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.entries.delete(oldest);
      this.bytes -= tileSize(oldest, old.tile);
    }
  }

  /** Drops every tile the predicate picks; returns how many. */
  deleteWhere(predicate: (tile: CachedTile) => boolean): number {
    let dropped = 0;
    for (const [key, { tile }] of this.entries) {
      if (!predicate(tile)) continue;
      this.delete(key);
      dropped++;
    }
    return dropped;
  }

  clear(): void {
    this.entries.clear();
    this.bytes = 0;
  }

  get size(): { tiles: number; bytes: number } {
    return { tiles: this.entries.size, bytes: this.bytes };
  }

  private delete(key: string): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    this.bytes -= tileSize(key, entry.tile);
  }
}

// The key and bookkeeping cost memory too; counting them keeps a cache of empty tiles bounded.
function tileSize(key: string, tile: CachedTile): number {
  return tile.gzip.length + key.length * 2 + 128;
}
