// Tiles made in one server process, handed to the others (node:cluster, server/supervisor.ts): after a write drops
// the tiles around it in every process, the first process asked for such a tile makes it and the others take its
// copy instead of each asking PostgreSQL again.
import cluster from 'node:cluster';
import type { CachedTile } from './cache';

/** A tile one process made and kept, with the cache key and the moment (ms since epoch) its query began. */
export interface SharedTile extends CachedTile {
  key: string;
  queryStartedAt: number;
}

/** The other server processes of this host, as the tile service sees them. */
export interface TilePeers {
  share(tile: SharedTile): void;
  /** Calls `take` with every tile another process shares; returns stop(). */
  onShared(take: (tile: SharedTile) => void): () => void;
}

interface TileMessage {
  type: 'tile';
  tile: SharedTile;
}

const isTileMessage = (message: unknown): message is TileMessage => (message as TileMessage | null)?.type === 'tile';

/** Over the IPC channel of a cluster worker: the supervisor passes each tile on to the other workers (relayTiles). */
export function clusterTilePeers(): TilePeers {
  return {
    share: (tile) => {
      const message: TileMessage = { type: 'tile', tile };
      process.send?.(message);
    },
    onShared: (take) => {
      const listener = (message: unknown) => {
        if (!isTileMessage(message)) return;
        // The 'advanced' IPC serialisation delivers a Buffer as a plain Uint8Array.
        const { gzip } = message.tile;
        take({ ...message.tile, gzip: Buffer.from(gzip.buffer, gzip.byteOffset, gzip.byteLength) });
      };
      process.on('message', listener);
      return () => process.off('message', listener);
    },
  };
}

/** In the supervisor: a tile message from one worker goes to every other worker. */
export function relayTiles(from: number, message: unknown): boolean {
  if (!isTileMessage(message)) return false;
  for (const worker of Object.values(cluster.workers ?? {})) {
    if (worker && worker.id !== from && worker.isConnected()) worker.send(message);
  }
  return true;
}
