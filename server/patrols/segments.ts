import type { FlagReason } from './schemas';

/** A stored fix as track building reads it: its flag from ingest (inaccurate, outside_city) or from the last build. */
export interface StoredFix {
  id: number;
  /** Epoch milliseconds. */
  ms: number;
  lon: number;
  lat: number;
  gridId: number | null;
  flag: FlagReason | null;
}

/** Faster than this between two fixes is a GPS jump, not a walk or a ride (144 km/h). */
export const maxSpeedMps = 40;
/** A gap longer than this between accepted fixes ends one track and starts the next. */
export const maxGapMs = 10 * 60_000;

const earthRadiusM = 6_371_008.8;
const radians = Math.PI / 180;

/** Great-circle distance in metres (haversine): fixes are metres apart, where it agrees with the spheroid to 0.5%. */
export function metresBetween(a: { lon: number; lat: number }, b: { lon: number; lat: number }): number {
  const dLat = (b.lat - a.lat) * radians;
  const dLon = (b.lon - a.lon) * radians;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * radians) * Math.cos(b.lat * radians) * Math.sin(dLon / 2) ** 2;
  return 2 * earthRadiusM * Math.asin(Math.min(1, Math.sqrt(h)));
}

const speedBetween = (a: StoredFix, b: StoredFix) => metresBetween(a, b) / (Math.abs(b.ms - a.ms) / 1000);

/**
 * The fixes of one worker's day with their speed flags decided, as a function of the whole day (never of the order
 * in which batches came): a fix is too fast when reaching it from the last accepted fix before it takes more than
 * 40 m/s. The day's first usable fix has no fix before it, so it is judged by the two after it: it is the jump
 * when it is far from the next fix while the next two are close to each other.
 */
export function decideSpeedFlags(fixes: StoredFix[]): Array<FlagReason | null> {
  const usable = fixes.map((fix) => fix.flag !== 'inaccurate' && fix.flag !== 'outside_city');
  const flags = fixes.map((fix, i) => (usable[i] ? null : fix.flag));
  const candidates = fixes.map((_, i) => i).filter((i) => usable[i]);
  let previous: StoredFix | undefined;
  candidates.forEach((index, k) => {
    const fix = fixes[index];
    if (previous) {
      if (speedBetween(previous, fix) > maxSpeedMps) flags[index] = 'too_fast';
      else previous = fix;
      return;
    }
    const [next, afterNext] = [candidates[k + 1], candidates[k + 2]].map((i) => (i === undefined ? undefined : fixes[i]));
    const isJump = next !== undefined && speedBetween(fix, next) > maxSpeedMps && (afterNext === undefined || speedBetween(next, afterNext) <= maxSpeedMps);
    if (isJump) flags[index] = 'too_fast';
    else previous = fix;
  });
  return flags;
}

/** Accepted fixes of a day cut into tracks at gaps over 10 minutes; a piece of a single fix makes no track. */
export function cutIntoTracks(fixes: StoredFix[], flags: Array<FlagReason | null>): StoredFix[][] {
  const tracks: StoredFix[][] = [];
  let current: StoredFix[] = [];
  fixes.forEach((fix, i) => {
    if (flags[i] !== null) return;
    const last = current[current.length - 1];
    if (last && fix.ms - last.ms > maxGapMs) {
      tracks.push(current);
      current = [];
    }
    current.push(fix);
  });
  tracks.push(current);
  return tracks.filter((track) => track.length > 1);
}

// EWKB type words (PostGIS extended WKB): a LineString with an SRID, and with M too.
const ewkbLineString = 0x20000002;
const ewkbLineStringM = 0x60000002;
const wgs84 = 4326;

/**
 * Hex EWKB of a line through `fixes` in SRID 4326, with each fix's epoch seconds as M when `withTime`: the
 * coordinates go as the doubles they are, with nothing to print in Node or to parse in PostgreSQL (as text, that
 * was a few µs per fix of the ingest).
 */
function lineEwkbHex(fixes: StoredFix[], withTime: boolean): string {
  const dimensions = withTime ? 3 : 2;
  const bytes = Buffer.allocUnsafe(13 + fixes.length * dimensions * 8);
  bytes.writeUInt8(1, 0);
  bytes.writeUInt32LE(withTime ? ewkbLineStringM : ewkbLineString, 1);
  bytes.writeUInt32LE(wgs84, 5);
  bytes.writeUInt32LE(fixes.length, 9);
  let offset = 13;
  for (const fix of fixes) {
    offset = bytes.writeDoubleLE(fix.lon, offset);
    offset = bytes.writeDoubleLE(fix.lat, offset);
    if (withTime) offset = bytes.writeDoubleLE(fix.ms / 1000, offset);
  }
  return bytes.toString('hex');
}

/** A track as LINESTRINGM with epoch seconds as M (exact to the millisecond), as hex EWKB. */
export const trackEwkb = (track: StoredFix[]) => lineEwkbHex(track, true);

/** Fixes per piece of a track (sql/181): short lines with tight boxes for the coverage index. */
export const fixesPerPiece = 32;

/**
 * A track as hex EWKB pieces of up to 32 consecutive fixes, each starting at the fix the one before ends at:
 * together they are exactly the track's line (2D).
 */
export function trackPiecesEwkb(track: StoredFix[]): string[] {
  const pieces: string[] = [];
  for (let first = 0; first < track.length - 1; first += fixesPerPiece - 1) pieces.push(lineEwkbHex(track.slice(first, first + fixesPerPiece), false));
  return pieces;
}

/** Where a track was: its length, and per level-4 grid the metres and seconds of the stretches starting there (sql/171). */
export interface TrackStretches {
  distanceM: number;
  gridIds: number[];
  metres: number[];
  seconds: number[];
  /** The grid holding most of the track (track_grid_at): longest, ties to the lower id; null if in none. */
  mainGridId: number | null;
}

export function trackStretches(track: StoredFix[]): TrackStretches {
  const perGrid = new Map<number, { metres: number; seconds: number }>();
  let distanceM = 0;
  for (let i = 0; i + 1 < track.length; i++) {
    const metres = metresBetween(track[i], track[i + 1]);
    distanceM += metres;
    const gridId = track[i].gridId;
    if (gridId === null) continue;
    const sum = perGrid.get(gridId) ?? { metres: 0, seconds: 0 };
    sum.metres += metres;
    sum.seconds += (track[i + 1].ms - track[i].ms) / 1000;
    perGrid.set(gridId, sum);
  }
  const gridIds = [...perGrid.keys()].sort((a, b) => a - b);
  const longest = gridIds.reduce<number | null>((best, id) => (best === null || perGrid.get(id)!.metres > perGrid.get(best)!.metres ? id : best), null);
  return {
    distanceM,
    gridIds,
    metres: gridIds.map((id) => perGrid.get(id)!.metres),
    seconds: gridIds.map((id) => perGrid.get(id)!.seconds),
    mainGridId: longest,
  };
}
