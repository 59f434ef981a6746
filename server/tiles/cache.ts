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
 * empty ones. A Map keeps insertion order, so re-inserting on a hit makes the first key the oldest.
 */
export class TileCache {
  private readonly entries = new Map<string, CachedTile>();
  private bytes = 0;

  constructor(private readonly maxBytes: number) {}

  get(key: string): CachedTile | undefined {
    const tile = this.entries.get(key);
    if (!tile) return undefined;
    this.entries.delete(key);
    this.entries.set(key, tile);
    return tile;
  }

  set(key: string, tile: CachedTile): void {
    const size = tileSize(key, tile);
    if (size > this.maxBytes) return;
    this.delete(key);
    this.entries.set(key, tile);
    this.bytes += size;
    for (const [oldest, old] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.entries.delete(oldest);
      this.bytes -= tileSize(oldest, old);
    }
  }

  /** Drops every tile the predicate picks; returns how many. */
  deleteWhere(predicate: (tile: CachedTile) => boolean): number {
    let dropped = 0;
    for (const [key, tile] of this.entries) {
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
    const tile = this.entries.get(key);
    if (!tile) return;
    this.entries.delete(key);
    this.bytes -= tileSize(key, tile);
  }
}

// The key and bookkeeping cost memory too; counting them keeps a cache of empty tiles bounded.
function tileSize(key: string, tile: CachedTile): number {
  return tile.gzip.length + key.length * 2 + 128;
}
