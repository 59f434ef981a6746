import { cellsAround, incidentCells } from '../geo/h3';
import { type WriteContext, withWriteTransaction } from '../db/write-context';
import { type OneMessageStatement, type Pool, type PoolClient, type Queryable, runAsOneMessage, withConnection } from '../db/pool';
import { RuleViolationError } from '../errors';
import { changeChannel } from '../events/bus';
import { checkFingerprint, type KeyedWrite, keptHours, replaceResult, scopesAndKeys } from '../idempotency/keys';
import type { CreateIncidentInput } from './schemas';
import { auditTriggerOnSql, type CategoryNamesRow, categoryNamesSql, intakeLocksSql, writeBatchSql, type WrittenReport } from './sql';
import { getIncident } from './views';

/** Near-duplicates: same category, still open, this close in space and time, are linked to the first report. */
export const duplicateRadiusMetres = 50;
export const duplicateWindowHours = 24;

/**
 * The H3 resolution of the intake's locks. Its cells' edges are well over 100 m long, so two points within
 * duplicateRadiusMetres lie in the same or neighbouring cells (test/incidents/intake-batch.test.ts checks it).
 */
export const duplicateLockResolution = 9;

/** Reports written in one statement at most; more wait for the next batch. */
export const maxBatchSize = 200;

/** More rows of a new incident (its uploaded photos), written in the intake transaction. */
export type IntakeAttachment = (client: PoolClient, incidentId: number) => Promise<void>;

export interface IntakeReport {
  input: CreateIncidentInput;
  writer: WriteContext;
  reportedAt: Date;
  attach?: IntakeAttachment;
}

/** The stored incident as GET /api/incidents/:id shows it. */
export type Incident = Record<string, unknown>;

interface Pending {
  report: IntakeReport;
  resolve: (incident: Incident) => void;
  reject: (error: unknown) => void;
}

/**
 * Group commit: reports that arrive while a batch is being written wait and are written together by the next
 * batch, with set-based SQL. Each caller is answered only once the statement holding its report has committed,
 * so nothing acknowledged is lost. Near-duplicate linking stays exact: a batch sees every report committed before
 * it, links to earlier reports of its own batch (`decided` in writeBatchSql), and waits for batches of other
 * processes with a report of the same category (lockCategoriesAndKeys).
 */
class IntakeQueue {
  private waiting: Pending[] = [];
  private writing = false;

  constructor(private readonly pool: Pool) {}

  submit(report: IntakeReport): Promise<Incident> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ report, resolve, reject });
      if (!this.writing) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.writing = true;
    try {
      while (this.waiting.length) await this.write(this.waiting.splice(0, batchLength(this.waiting)));
    } finally {
      this.writing = false;
    }
  }

  /** A failed batch is retried report by report, so one bad report gets its own error and fails no other. */
  private async write(batch: Pending[]): Promise<void> {
    let outcomes: Outcome[];
    try {
      outcomes = await writeBatch(this.pool, batch.map((pending) => pending.report));
    } catch (error) {
      if (batch.length === 1) batch[0].reject(error);
      else for (const pending of batch) await this.write([pending]);
      return;
    }
    outcomes.forEach((outcome, i) => ('error' in outcome ? batch[i].reject(outcome.error) : batch[i].resolve(outcome.incident)));
  }
}

/** A report with attachments is written alone (its own transaction, see writeAlone); others in arrival order. */
function batchLength(waiting: Pending[]): number {
  const attached = waiting.findIndex((pending) => pending.report.attach);
  if (attached === 0) return 1;
  return Math.min(maxBatchSize, attached < 0 ? waiting.length : attached);
}

// One queue per pool (so per app, and per test database), made on first use: callers keep passing the pool.
const queues = new WeakMap<Pool, IntakeQueue>();

export function intakeQueue(pool: Pool): IntakeQueue {
  let queue = queues.get(pool);
  if (!queue) {
    queue = new IntakeQueue(pool);
    queues.set(pool, queue);
  }
  return queue;
}

/** `replayed`: the report's Idempotency-Key was used by a committed report, whose incident this is. */
type Outcome = { incident: Incident; replayed?: boolean } | { error: Error };

/**
 * A batch is one implicit transaction sent as one message (runAsOneMessage): the category and key locks, then one
 * statement writing its incidents, audit rows, timeline events, Idempotency-Keys and notification. They commit
 * together or not at all, and while the batch holds its locks it waits on nothing of this process (a round trip
 * to a busy process's event loop takes milliseconds, and other processes' batches of the category wait that long).
 * Reports with an unknown category or outside every grid are left out and answered with their own error. A report
 * with attachments adds them in the same transaction (writeAlone).
 */
async function writeBatch(pool: Pool, reports: IntakeReport[]): Promise<Outcome[]> {
  const [first] = reports;
  if (first.attach) return writeAlone(pool, first, first.attach);
  const rows = await withConnection(pool, async (client) => (await runAsOneMessage(client, intakeStatements(reports)))[1].rows as WrittenReport[]);
  const stored = rows.filter((row) => row.incident && reports[row.ord].writer.idempotency).length;
  if (rows.length > 0 && rows[0].remembered !== stored) throw new Error('an Idempotency-Key was claimed twice in one batch');
  return Promise.all(rows.map((row) => outcomeOf(pool, reports[row.ord], row)));
}

/**
 * One report and its attachments in one transaction, the attachments audited as every other write. The batch
 * statement stores its key with the incident as it was before its attachments; the key then answers the incident
 * with them (replaceResult), in the same transaction.
 */
async function writeAlone(pool: Pool, report: IntakeReport, attach: IntakeAttachment): Promise<Outcome[]> {
  const { writer } = report;
  return withWriteTransaction(pool, { ...writer, idempotency: undefined }, async (client) => {
    const [row] = (await runAsOneMessage(client, intakeStatements([report], false)))[1].rows as WrittenReport[];
    const outcome = await outcomeOf(client, report, row);
    if ('error' in outcome || outcome.replayed) return [outcome];
    // The batch statement switched the audit trigger off for its own rows, for the rest of the transaction.
    await client.query(auditTriggerOnSql);
    const id = outcome.incident.id as number;
    await attach(client, id);
    const incident = await getIncident(client, id);
    if (writer.idempotency) await replaceResult(client, { actor: writer.actor, claim: writer.idempotency, result: incident });
    return [{ incident }];
  });
}

/** The reports of a batch that carry an Idempotency-Key. */
function keyedReports(reports: IntakeReport[]): KeyedWrite[] {
  return reports.flatMap(({ writer }) => (writer.idempotency ? [{ actor: writer.actor, claim: writer.idempotency }] : []));
}

/**
 * Another process's batch with a report that may be a near-duplicate of one of this batch (same category, within
 * duplicateRadiusMetres) must have committed before this batch looks for near-duplicates, or two reports of one spot
 * at one instant would both become first reports (each statement sees only what committed before it started). So a
 * batch first takes a transaction lock per category and H3 cell around each report (duplicateLocks: two such reports
 * share a cell), in the order of their keys (no deadlock), and only then, in a statement of its own, writes. Batches
 * of other categories, or elsewhere in the city, go on beside. The locks of the reports' Idempotency-Keys are taken
 * with them, in the same order.
 *
 * Both statements are prepared once per connection (`prepare`), except inside a transaction of more statements
 * (writeAlone): there a session that lost it (runAsOneMessage) would have failed that whole transaction.
 */
function intakeStatements(reports: IntakeReport[], prepare = true): [OneMessageStatement, OneMessageStatement] {
  const lock = {
    text: intakeLocksSql,
    values: [reports.flatMap(duplicateLocks), ...scopesAndKeys(keyedReports(reports))],
    ...(prepare && { prepared: { name: 'intake_locks', types: ['text[]', 'text[]', 'text[]'] } }),
  };
  const batch = {
    text: writeBatchSql,
    values: [JSON.stringify(reports.map(reportRow)), changeChannel, duplicateWindowHours, duplicateRadiusMetres, keptHours],
    ...(prepare && { prepared: { name: 'intake_batch', types: ['jsonb', 'text', 'int', 'float8', 'int'] } }),
  };
  return [lock, batch];
}

/** The lock names of a report: its category with its H3 cell and each neighbouring cell. */
export function duplicateLocks({ input }: Pick<IntakeReport, 'input'>): string[] {
  const [lon, lat] = input.location.coordinates;
  return cellsAround(lon, lat, duplicateLockResolution).map((cell) => `${input.category} ${cell}`);
}

/** What a report is answered, from its row of the batch statement. */
async function outcomeOf(db: Queryable, report: IntakeReport, row: WrittenReport): Promise<Outcome> {
  const { input, writer } = report;
  if (row.stored_key && writer.idempotency) {
    try {
      checkFingerprint({ actor: writer.actor, claim: writer.idempotency }, row.stored_key);
    } catch (error) {
      return { error: error as Error };
    }
    return { incident: row.stored_key.result as Incident, replayed: true };
  }
  if (!row.known_category) return { error: await unknownCategory(db, input.category) };
  if (!row.inside_grid) return { error: new RuleViolationError('The location lies outside every level-4 grid', { rule: 'inside-grid', location: input.location }) };
  return { incident: row.incident as Incident };
}

async function unknownCategory(db: Queryable, category: string): Promise<RuleViolationError> {
  const { rows } = await db.query<CategoryNamesRow>(categoryNamesSql);
  return new RuleViolationError(`Unknown incident category ${category}`, { rule: 'known-category', categories: rows.map((r) => r.name) });
}

function reportRow(report: IntakeReport, ord: number) {
  const { input, writer } = report;
  const [[keyScope], [keyName]] = scopesAndKeys(keyedReports([report]));
  const [lon, lat] = input.location.coordinates;
  const [h3_r7, h3_r8, h3_r9, h3_r10] = incidentCells(lon, lat);
  return {
    ord,
    category: input.category,
    source: input.source,
    description: input.description ?? null,
    reported_at: report.reportedAt.toISOString(),
    lon,
    lat,
    h3_r7,
    h3_r8,
    h3_r9,
    h3_r10,
    reporter_contact: input.reporterContact ?? null,
    photos: input.photos,
    token_id: writer.actor?.tokenId ?? null,
    role: writer.actor?.role ?? null,
    route: writer.route,
    request_id: writer.requestId ?? null,
    key_scope: keyScope ?? null,
    key_name: keyName ?? null,
    key_fingerprint: writer.idempotency?.fingerprint ?? null,
  };
}
