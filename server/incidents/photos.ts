import { createHash, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import type { IncomingMessage } from 'node:http';
import path from 'node:path';
import type { Readable } from 'node:stream';
import busboy from 'busboy';
import type { Config } from '../config';
import { type WriteContext, withWriteTransaction } from '../db/write-context';
import type { Actor } from '../auth/roles';
import { inGridScope } from '../auth/scope';
import type { Pool, PoolClient, Queryable } from '../db/pool';
import { BadRequestError, ConflictError, ForbiddenError, NotFoundError, PayloadTooLargeError, RuleViolationError, UnsupportedMediaTypeError } from '../errors';
import type { IntakeAttachment } from './intake';
import { lockIncidentFor } from './service';
import { insertPhotosSql, type PhotoRow, photoSql, type ReferencedPhotosRow, referencedPhotosSql } from './sql';
import { getIncident } from './views';
import { finalStatuses } from './workflow';

/**
 * Photos uploaded with a report (multipart/form-data: a `report` part with the JSON report, `photos` file parts).
 * Each file is streamed to UPLOAD_DIR under a random name while its real type is read from its first bytes; a
 * request that fails anywhere (a bad file, a bad report, the intake transaction) removes every file it wrote,
 * and the rows that reference the files are inserted in the intake transaction itself.
 */

export interface PhotoLimits {
  dir: string;
  maxBytes: number;
  maxCount: number;
  /** Largest `report` part. */
  reportBytes: number;
}

export function photoLimits(config: Config): PhotoLimits {
  return { dir: config.UPLOAD_DIR, maxBytes: Math.floor(config.PHOTO_MAX_MB * 1024 * 1024), maxCount: config.PHOTO_MAX_COUNT, reportBytes: 64 * 1024 };
}

export interface StoredPhoto {
  storedName: string;
  contentType: PhotoType['contentType'];
  bytes: number;
  sha256: string;
  originalName: string | null;
}

interface PhotoType {
  contentType: 'image/jpeg' | 'image/png' | 'image/webp';
  extension: string;
  matches: (head: Buffer) => boolean;
}

const pngSignature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

// What a file is comes from its first bytes, never from its name or its declared Content-Type. Three fixed
// signatures are all we accept, so no sniffing library is needed.
const photoTypes: readonly PhotoType[] = [
  { contentType: 'image/jpeg', extension: 'jpg', matches: (head) => head.length >= 3 && head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff },
  { contentType: 'image/png', extension: 'png', matches: (head) => head.subarray(0, 8).equals(pngSignature) },
  {
    contentType: 'image/webp',
    extension: 'webp',
    matches: (head) => head.subarray(0, 4).toString('latin1') === 'RIFF' && head.subarray(8, 12).toString('latin1') === 'WEBP',
  },
];
const signatureBytes = 12;

function sniff(head: Buffer): PhotoType | undefined {
  return photoTypes.find((type) => type.matches(head));
}

async function removeFiles(dir: string, names: string[]): Promise<void> {
  await Promise.all(names.map((name) => fs.promises.rm(path.join(dir, name), { force: true })));
}

/** The names this module gives stored files (as the CHECK of sql/070): nothing else in UPLOAD_DIR is touched. */
const storedNamePattern = /^[0-9a-f-]{36}\.(jpg|png|webp)$/;

/** An unreferenced photo file older than this is a leftover; younger, it may be an upload in progress. */
export const orphanPhotoAgeMs = 60 * 60 * 1000;

/**
 * Removes stored photo files that no incident references: a process killed between writing a file and committing
 * its row, or before removing a failed request's files, leaves them behind. Only files untouched for `minAgeMs`
 * go, so an upload another process is writing now is safe. Returns the names removed.
 */
export async function removeOrphanPhotos(db: Queryable, dir: string, now: Date, minAgeMs = orphanPhotoAgeMs): Promise<string[]> {
  const names = (await fs.promises.readdir(dir).catch(() => [] as string[])).filter((name) => storedNamePattern.test(name));
  const stale: string[] = [];
  for (const name of names) {
    const stat = await fs.promises.stat(path.join(dir, name)).catch(() => undefined);
    if (stat && now.getTime() - stat.mtimeMs >= minAgeMs) stale.push(name);
  }
  const orphans: string[] = [];
  // In pages: a city's upload folder holds millions of photos, too many names for one parameter.
  for (let start = 0; start < stale.length; start += 1000) {
    const page = stale.slice(start, start + 1000);
    const { rows } = await db.query<ReferencedPhotosRow>(referencedPhotosSql, [page]);
    const referenced = new Set(rows.map((row) => row.stored_name));
    orphans.push(...page.filter((name) => !referenced.has(name)));
  }
  await removeFiles(dir, orphans);
  return orphans;
}

/**
 * Streams one file part to disk. The part is always read to its end, even after a refusal or a disk error
 * (busboy stalls on a part nobody reads); a part that is not an accepted photo is dropped and its file removed.
 */
async function storePhoto(file: Readable & { truncated?: boolean }, label: string, originalName: string | null, limits: PhotoLimits): Promise<StoredPhoto> {
  const hash = createHash('sha256');
  let head = Buffer.alloc(0);
  let bytes = 0;
  let type: PhotoType | undefined;
  let out: fs.WriteStream | undefined;
  let storedName = '';
  let refused: Error | undefined;
  const refuse = (error: Error) => {
    refused ??= error;
  };
  const put = async (chunk: Buffer): Promise<void> => {
    const stream = out as fs.WriteStream;
    if (!stream.write(chunk)) await new Promise<void>((resolve) => stream.once('drain', () => resolve()).once('close', () => resolve()));
  };
  const begin = async (): Promise<void> => {
    type = sniff(head);
    if (!type) return refuse(new UnsupportedMediaTypeError(`${label} is not a JPEG, PNG or WebP image`, { file: label, accepted: photoTypes.map((t) => t.contentType) }));
    storedName = `${randomUUID()}.${type.extension}`;
    out = fs.createWriteStream(path.join(limits.dir, storedName), { flags: 'wx' }).on('error', refuse);
    await put(head);
  };
  try {
    for await (const chunk of file as AsyncIterable<Buffer>) {
      if (refused) continue;
      bytes += chunk.length;
      hash.update(chunk);
      if (out) await put(chunk);
      else {
        head = Buffer.concat([head, chunk]);
        if (head.length >= signatureBytes) await begin();
      }
    }
  } catch (error) {
    // The request broke off in the middle of this part.
    refuse(error as Error);
  }
  // A file shorter than a signature is judged on what came.
  if (!out && !refused && bytes > 0) await begin();
  if (file.truncated) refuse(new PayloadTooLargeError(`${label} is larger than ${limits.maxBytes} bytes`, { file: label, maxBytes: limits.maxBytes }));
  if (bytes === 0) refuse(new UnsupportedMediaTypeError(`${label} is empty`, { file: label }));
  const stream = out as fs.WriteStream | undefined;
  // 'close' follows both a flushed end and a failed write, so a disk error is seen here too.
  if (stream && !stream.closed) await new Promise<void>((resolve) => stream.once('close', () => resolve()).end());
  if (refused) {
    if (storedName) await removeFiles(limits.dir, [storedName]);
    throw refused;
  }
  return { storedName, contentType: (type as PhotoType).contentType, bytes, sha256: hash.digest('hex'), originalName };
}

export interface PhotoUpload {
  /** The form's text parts (a report's JSON is in `report`). */
  fields: Map<string, string>;
  photos: StoredPhoto[];
}

/** Reads a multipart upload: every photo checked and on disk, or an error naming the part and nothing left on disk. */
export async function receivePhotoUpload(request: IncomingMessage, limits: PhotoLimits): Promise<PhotoUpload> {
  const declaredLength = Number(request.headers['content-length'] ?? 0);
  const largestRequest = limits.maxCount * (limits.maxBytes + 4096) + limits.reportBytes + 4096;
  if (declaredLength > largestRequest) {
    throw new PayloadTooLargeError(`The upload is larger than ${limits.maxCount} photos of ${limits.maxBytes} bytes`, { maxBytes: limits.maxBytes, maxCount: limits.maxCount });
  }
  let parser: busboy.Busboy;
  try {
    // Phones and browsers send file names as raw UTF-8 (井盖.jpg); busboy's default would read them as latin1.
    parser = busboy({ headers: request.headers, defParamCharset: 'utf8', limits: { files: limits.maxCount, fileSize: limits.maxBytes, fields: 5, fieldSize: limits.reportBytes } });
  } catch (error) {
    throw new BadRequestError(`The multipart request cannot be read: ${(error as Error).message}`);
  }
  await fs.promises.mkdir(limits.dir, { recursive: true });
  const fields = new Map<string, string>();
  const stored: Array<StoredPhoto & { index: number }> = [];
  const writes: Array<Promise<void>> = [];
  let failure: Error | undefined;
  const fail = (error: Error) => {
    failure ??= error;
  };
  let fileIndex = 0;
  parser.on('field', (name, value, info) => {
    if (info.valueTruncated) fail(new PayloadTooLargeError(`Part ${name} is larger than ${limits.reportBytes} bytes`, { part: name }));
    fields.set(name, value);
  });
  parser.on('file', (name, file, info) => {
    const index = fileIndex++;
    const label = `photos[${index}]${info.filename ? ` "${info.filename}"` : ''}`;
    if (name !== 'photos') {
      fail(new BadRequestError(`Unexpected file part ${name}: photos are sent as parts named "photos"`, { part: name }));
      file.resume();
      return;
    }
    // The name is stored as text, which in PostgreSQL cannot hold NUL: refused here, named, not a failed insert.
    if (info.filename?.includes('\u0000')) {
      fail(new BadRequestError(`${label.replaceAll('\u0000', '\\0')}: the file name must not contain NUL characters`, { file: `photos[${index}]` }));
      file.resume();
      return;
    }
    writes.push(storePhoto(file, label, info.filename ?? null, limits).then((photo) => void stored.push({ ...photo, index }), fail));
  });
  parser.on('filesLimit', () => fail(new RuleViolationError(`At most ${limits.maxCount} photos per report`, { rule: 'photo-count', maxCount: limits.maxCount })));
  parser.on('fieldsLimit', () => fail(new BadRequestError('Too many form fields: send one part named "report"')));
  try {
    await new Promise<void>((resolve, reject) => {
      // Destroying the parser also ends the file part being written, so no store waits forever.
      const interrupted = (error: Error) => {
        parser.destroy(error);
        reject(error);
      };
      parser.on('close', resolve).on('error', reject);
      request.on('error', interrupted).on('aborted', () => interrupted(new BadRequestError('The upload was interrupted')));
      request.pipe(parser);
    });
  } catch (error) {
    fail(error instanceof BadRequestError ? error : new BadRequestError(`The multipart request cannot be read: ${(error as Error).message}`));
  }
  await Promise.allSettled(writes);
  const photos = stored.sort((a, b) => a.index - b.index).map(({ index: _index, ...photo }) => photo);
  if (failure) {
    await removeFiles(limits.dir, photos.map((photo) => photo.storedName));
    throw failure;
  }
  return { fields, photos };
}

/**
 * Runs `work` with an upload and a hook that records its photos in work's transaction. The files stay only if
 * they were recorded and work succeeded: a failed request leaves nothing, and neither does a retry answered with
 * the first request's result (its Idempotency-Key), whose photos are those of the first request.
 */
async function keptOnlyIfAttached<T>(limits: PhotoLimits, upload: PhotoUpload, work: (attach: IntakeAttachment) => Promise<T>): Promise<T> {
  let attached = false;
  const attach = (client: PoolClient, incidentId: number) => {
    attached = true;
    return attachPhotos(client, incidentId, upload.photos);
  };
  const removeUpload = () => removeFiles(limits.dir, upload.photos.map((photo) => photo.storedName));
  try {
    const result = await work(attach);
    if (!attached) await removeUpload();
    return result;
  } catch (error) {
    await removeUpload();
    throw error;
  }
}

/** What identifies an upload for its Idempotency-Key: each photo's content and name, not the multipart bytes. */
export function uploadIdentity(photos: StoredPhoto[]): Array<{ sha256: string; name: string | null }> {
  return photos.map((photo) => ({ sha256: photo.sha256, name: photo.originalName }));
}

function parseReport(value: string | undefined): unknown {
  if (value === undefined) throw new BadRequestError('A multipart report needs a part named "report" holding the JSON report', { part: 'report' });
  try {
    return JSON.parse(value);
  } catch (error) {
    throw new BadRequestError(`Part report is not JSON: ${(error as Error).message}`, { part: 'report' });
  }
}

/** Records the stored photos of a new incident; called inside the intake transaction. */
export async function attachPhotos(client: PoolClient, incidentId: number, photos: StoredPhoto[]): Promise<void> {
  if (!photos.length) return;
  await client.query(
    insertPhotosSql,
    [incidentId, photos.map((p) => p.storedName), photos.map((p) => p.contentType), photos.map((p) => p.bytes), photos.map((p) => p.sha256), photos.map((p) => p.originalName)],
  );
}

/**
 * Receives a multipart report and runs `create` with its JSON report, a hook that records the photos in the
 * intake transaction, and the photos (for the request's identity); when `create` fails the files are removed,
 * so a failed request leaves nothing behind.
 */
export async function reportWithPhotos<T>(
  request: IncomingMessage,
  limits: PhotoLimits,
  create: (report: unknown, attach: IntakeAttachment, photos: StoredPhoto[]) => Promise<T>,
): Promise<T> {
  const upload = await receivePhotoUpload(request, limits);
  return keptOnlyIfAttached(limits, upload, (attach) => create(parseReport(upload.fields.get('report')), attach, upload.photos));
}

/**
 * Photos added to an incident after its report (the department's photos of the handled site, 处置): same checks,
 * recorded in one transaction; a grid worker only within their grids, and not once the incident is final.
 * Returns the incident as that transaction leaves it.
 */
export async function addPhotos(pool: Pool, writer: WriteContext, limits: PhotoLimits, upload: PhotoUpload, incidentId: number, expectedVersion?: string): Promise<Record<string, unknown>> {
  const actor = writer.actor;
  if (!actor) throw new ForbiddenError('Adding photos needs an authenticated actor');
  return keptOnlyIfAttached(limits, upload, async (attach) => {
    if (!upload.photos.length) throw new RuleViolationError('No photos: send JPEG, PNG or WebP files in parts named "photos"', { rule: 'photo-required' });
    return withWriteTransaction(pool, writer, async (client) => {
      const incident = await lockIncidentFor(client, actor, incidentId, expectedVersion);
      if (finalStatuses.includes(incident.status)) throw new ConflictError(`Incident ${incidentId} is ${incident.status}: its photos are final`, { incidentStatus: incident.status });
      await attach(client, incidentId);
      return getIncident(client, incidentId);
    });
  });
}

export interface PhotoFile {
  contentType: string;
  bytes: number;
  sha256: string;
  path: string;
}

/** One uploaded photo of one incident, for serving back; outside a grid worker's grids there is none (404). */
export async function findPhoto(db: Queryable, dir: string, incidentId: number, photoId: number, reader: Actor | null): Promise<PhotoFile> {
  const { rows } = await db.query<PhotoRow>(
    photoSql,
    [photoId, incidentId],
  );
  if (!rows[0] || !inGridScope(reader, rows[0].grid_id)) throw new NotFoundError(`Incident ${incidentId} has no photo ${photoId}`);
  return { contentType: rows[0].content_type, bytes: rows[0].bytes, sha256: rows[0].sha256, path: path.join(dir, rows[0].stored_name) };
}
