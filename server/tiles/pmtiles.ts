import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';

/**
 * A writer of PMTiles version 3 archives (github.com/protomaps/PMTiles, spec/v3/spec.md), the single-file tile
 * format a CDN or a laptop serves by HTTP range requests. The npm `pmtiles` package only reads archives (its
 * writers are Go and Python programs), so this follows the specification, as its Python writer does: tiles are
 * added in ascending tile id (clustered), identical tiles are stored once, directories and metadata are gzipped,
 * and directories that do not fit the first 16 KiB are split into leaf directories.
 */

const headerLength = 127;
// The header and the compressed root directory must fit in the first 16 KiB (spec 4).
const maxRootLength = 16_384 - headerLength;
const compression = { none: 1, gzip: 2 } as const;
const tileTypeMvt = 1;

interface Entry {
  tileId: number;
  offset: number;
  length: number;
  /** Tiles (consecutive ids) this entry stands for; 0 for a leaf directory. */
  runLength: number;
}

export interface ArchiveDescription {
  minZoom: number;
  maxZoom: number;
  /** [west, south, east, north] in degrees. */
  bounds: [number, number, number, number];
  center: [number, number, number];
  /** The JSON metadata: for MVT it must hold `vector_layers` (TileJSON 3.0). */
  metadata: Record<string, unknown> & { vector_layers: unknown[] };
}

export interface ArchiveSummary {
  addressedTiles: number;
  tileEntries: number;
  tileContents: number;
  bytes: number;
}

/** Protocol-buffer varint; plain arithmetic, since tile ids pass 2^32 from zoom 16 on. */
function writeVarint(bytes: number[], value: number): void {
  let rest = value;
  while (rest >= 0x80) {
    bytes.push((rest % 0x80) | 0x80);
    rest = Math.floor(rest / 0x80);
  }
  bytes.push(rest);
}

/** One directory, encoded (spec 4.2) and gzipped. */
function serializeDirectory(entries: Entry[]): Buffer {
  const bytes: number[] = [];
  writeVarint(bytes, entries.length);
  let lastId = 0;
  for (const entry of entries) {
    writeVarint(bytes, entry.tileId - lastId);
    lastId = entry.tileId;
  }
  for (const entry of entries) writeVarint(bytes, entry.runLength);
  for (const entry of entries) writeVarint(bytes, entry.length);
  entries.forEach((entry, index) => {
    const previous = entries[index - 1];
    const contiguous = previous !== undefined && entry.offset === previous.offset + previous.length;
    writeVarint(bytes, contiguous ? 0 : entry.offset + 1);
  });
  return zlib.gzipSync(Buffer.from(bytes));
}

/** The root directory alone if it fits, else a root of leaf directories, each of leafSize entries (doubled until the root fits). */
function buildDirectories(entries: Entry[]): { root: Buffer; leaves: Buffer } {
  const whole = serializeDirectory(entries);
  if (whole.length <= maxRootLength) return { root: whole, leaves: Buffer.alloc(0) };
  for (let leafSize = 4096; ; leafSize *= 2) {
    const rootEntries: Entry[] = [];
    const leaves: Buffer[] = [];
    let offset = 0;
    for (let start = 0; start < entries.length; start += leafSize) {
      const leaf = serializeDirectory(entries.slice(start, start + leafSize));
      rootEntries.push({ tileId: entries[start].tileId, offset, length: leaf.length, runLength: 0 });
      leaves.push(leaf);
      offset += leaf.length;
    }
    const root = serializeDirectory(rootEntries);
    if (root.length <= maxRootLength) return { root, leaves: Buffer.concat(leaves) };
  }
}

function writePosition(header: Buffer, offset: number, lon: number, lat: number): void {
  header.writeInt32LE(Math.round(lon * 1e7), offset);
  header.writeInt32LE(Math.round(lat * 1e7), offset + 4);
}

function serializeHeader(fields: {
  rootLength: number;
  metadataLength: number;
  leavesLength: number;
  tileDataLength: number;
  summary: Omit<ArchiveSummary, 'bytes'>;
  description: ArchiveDescription;
}): Buffer {
  const header = Buffer.alloc(headerLength);
  header.write('PMTiles', 0, 'utf8');
  header.writeUInt8(3, 7);
  const rootOffset = headerLength;
  const metadataOffset = rootOffset + fields.rootLength;
  const leavesOffset = metadataOffset + fields.metadataLength;
  const tileDataOffset = leavesOffset + fields.leavesLength;
  const numbers = [
    rootOffset, fields.rootLength, metadataOffset, fields.metadataLength, leavesOffset, fields.leavesLength, tileDataOffset, fields.tileDataLength,
    fields.summary.addressedTiles, fields.summary.tileEntries, fields.summary.tileContents,
  ];
  numbers.forEach((value, index) => header.writeBigUInt64LE(BigInt(value), 8 + index * 8));
  const { minZoom, maxZoom, bounds, center } = fields.description;
  header.writeUInt8(1, 96); // clustered: tiles are added in tile id order
  header.writeUInt8(compression.gzip, 97); // directories and metadata
  header.writeUInt8(compression.gzip, 98); // tiles
  header.writeUInt8(tileTypeMvt, 99);
  header.writeUInt8(minZoom, 100);
  header.writeUInt8(maxZoom, 101);
  writePosition(header, 102, bounds[0], bounds[1]);
  writePosition(header, 110, bounds[2], bounds[3]);
  header.writeUInt8(center[2], 118);
  writePosition(header, 119, center[0], center[1]);
  return header;
}

/**
 * Collects gzipped tiles in ascending tile id into a temporary file, then writes the archive: header, root
 * directory, metadata, leaf directories, tile data.
 */
export class PmtilesWriter {
  private readonly entries: Entry[] = [];
  private readonly offsetByHash = new Map<string, number>();
  private readonly data: number;
  private dataLength = 0;
  private addressedTiles = 0;

  constructor(private readonly dataFile: string) {
    this.data = fs.openSync(dataFile, 'w');
  }

  /** Adds one tile, already gzipped; ids must ascend (zxyToTileId of the npm pmtiles package). */
  addTile(tileId: number, gzippedTile: Buffer): void {
    const last = this.entries.at(-1);
    if (last && tileId < last.tileId + last.runLength) throw new Error(`tile ${tileId} added after tile ${last.tileId + last.runLength - 1}`);
    if (gzippedTile.length === 0) throw new Error(`tile ${tileId} is empty: leave empty tiles out`);
    const hash = createHash('sha256').update(gzippedTile).digest('base64');
    const stored = this.offsetByHash.get(hash);
    this.addressedTiles++;
    if (stored !== undefined && last && last.offset === stored && last.tileId + last.runLength === tileId) {
      last.runLength++;
      return;
    }
    const offset = stored ?? this.dataLength;
    if (stored === undefined) {
      fs.writeSync(this.data, gzippedTile);
      this.offsetByHash.set(hash, offset);
      this.dataLength += gzippedTile.length;
    }
    this.entries.push({ tileId, offset, length: gzippedTile.length, runLength: 1 });
  }

  /** Gives up: removes the temporary data file. */
  discard(): void {
    fs.closeSync(this.data);
    fs.rmSync(this.dataFile, { force: true });
  }

  /** Writes the archive to `out` and removes the temporary data file. */
  async finish(out: string, description: ArchiveDescription): Promise<ArchiveSummary> {
    fs.closeSync(this.data);
    try {
      if (this.entries.length === 0) throw new Error('no tile has any feature: nothing to archive (check the layers, zooms and data)');
      const { root, leaves } = buildDirectories(this.entries);
      const metadata = zlib.gzipSync(JSON.stringify(description.metadata));
      const summary = { addressedTiles: this.addressedTiles, tileEntries: this.entries.length, tileContents: this.offsetByHash.size };
      const header = serializeHeader({ rootLength: root.length, metadataLength: metadata.length, leavesLength: leaves.length, tileDataLength: this.dataLength, summary, description });
      const output = fs.createWriteStream(out);
      output.write(Buffer.concat([header, root, metadata, leaves]));
      await pipeline(fs.createReadStream(this.dataFile), output);
      return { ...summary, bytes: header.length + root.length + metadata.length + leaves.length + this.dataLength };
    } finally {
      fs.rmSync(this.dataFile, { force: true });
    }
  }
}
