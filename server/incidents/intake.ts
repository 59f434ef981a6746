import { incidentCells } from '../geo/h3';
import { type WriteContext, withWriteTransaction } from '../db/write-context';
import { type Pool, type PoolClient, type Queryable, withTransaction } from '../db/pool';
import { RuleViolationError } from '../errors';
import { changeChannel } from '../events/bus';
import { claimKeys, type KeyedWrite, rememberResults, scopesAndKeys } from '../idempotency/keys';
import type { CreateIncidentInput } from './schemas';
import { auditTriggerOnSql, type CategoryNamesRow, categoryNamesSql, lockCategoriesAndKeysSql, writeBatchSql, type WrittenReport } from './sql';
import { getIncident } from './views';

/** Near-duplicates: same category, still open, this close in space and time, are linked to the first report. */
export const duplicateRadiusMetres = 50;
export const duplicateWindowHours = 24;

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
 * A batch is one statement, and so one transaction: its incidents, audit rows, timeline events and notification
 * commit together or not at all, in one round trip. Reports with an unknown category or outside every grid are
 * left out and answered with their own error. A report with attachments adds them in the same transaction.
 */
async function writeBatch(pool: Pool, reports: IntakeReport[]): Promise<Outcome[]> {
  const [first] = reports;
  if (first.attach) return writeAlone(pool, first, first.attach);
  return withTransaction(pool, async (client) => {
    const outcomes = await runBatch(client, reports);
    await rememberOutcomes(client, reports, outcomes);
    return outcomes;
  });
}

/**
 * One report and its attachments in one transaction, the attachments audited as every other write. Its key is
 * claimed by runBatch (after the category locks, as in every batch), so the writer goes in without it.
 */
async function writeAlone(pool: Pool, report: IntakeReport, attach: IntakeAttachment): Promise<Outcome[]> {
  return withWriteTransaction(pool, { ...report.writer, idempotency: undefined }, async (client) => {
    const [outcome] = await runBatch(client, [report]);
    if ('error' in outcome || outcome.replayed) return [outcome];
    // The batch statement switched the audit trigger off for its own rows, for the rest of the transaction.
    await client.query(auditTriggerOnSql);
    const id = outcome.incident.id as number;
    await attach(client, id);
    const attached = [{ incident: await getIncident(client, id) }];
    await rememberOutcomes(client, [report], attached);
    return attached;
  });
}

/** The reports of a batch that carry an Idempotency-Key, with their index in the batch. */
function keyedReports(reports: IntakeReport[]): Array<KeyedWrite & { index: number }> {
  return reports.flatMap(({ writer }, index) => (writer.idempotency ? [{ actor: writer.actor, claim: writer.idempotency, index }] : []));
}

/** Stores each new incident under its report's Idempotency-Key, in the batch's transaction. */
async function rememberOutcomes(client: PoolClient, reports: IntakeReport[], outcomes: Outcome[]): Promise<void> {
  const written = keyedReports(reports).flatMap((keyed) => {
    const outcome = outcomes[keyed.index];
    return 'incident' in outcome && !outcome.replayed ? [{ ...keyed, result: outcome.incident }] : [];
  });
  await rememberResults(client, written);
}

/**
 * The reports whose Idempotency-Key a committed report used: their outcome is that report's incident (or the
 * error of a key reused for another report). Their locks were taken with the category locks
 * (lockCategoriesAndKeys), in every batch, so batches and single reports take their locks in one order.
 */
async function claimReportKeys(client: PoolClient, reports: IntakeReport[]): Promise<Map<number, Outcome>> {
  const keyed = keyedReports(reports);
  const settled = new Map<number, Outcome>();
  if (keyed.length === 0) return settled;
  const claimed = await claimKeys(client, keyed, { locked: true });
  claimed.forEach((earlier, i) => {
    if (earlier.stored) settled.set(keyed[i].index, { incident: earlier.result as Incident, replayed: true });
  });
  return settled;
}

/**
 * Another process's batch with a report of the same category must have committed before this batch looks for
 * near-duplicates, or two reports of one spot at one instant would both become first reports (each statement
 * sees only what committed before it started). So a batch first takes a transaction lock per category, in the
 * order of their keys (no deadlock), and only then runs its statement. Batches of other categories go on beside.
 * The same statement takes the locks of the reports' Idempotency-Keys, after the categories (a round trip less
 * than claimKeys taking them).
 */
async function lockCategoriesAndKeys(client: PoolClient, reports: IntakeReport[]): Promise<void> {
  await client.query({
    name: 'incident-intake-lock',
    text: lockCategoriesAndKeysSql,
    values: [reports.map((report) => report.input.category), ...scopesAndKeys(keyedReports(reports))],
  });
}

async function runBatch(client: PoolClient, reports: IntakeReport[]): Promise<Outcome[]> {
  await lockCategoriesAndKeys(client, reports);
  const outcomes = await claimReportKeys(client, reports);
  const fresh = reports.map((report, index) => ({ report, index })).filter(({ index }) => !outcomes.has(index));
  if (fresh.length === 0) return reports.map((_, index) => outcomes.get(index) as Outcome);
  // Named, so each connection plans it once: planning took about 2 ms of every batch.
  const { rows } = await client.query<WrittenReport>({
    name: 'incident-intake-batch',
    text: writeBatchSql,
    values: [JSON.stringify(fresh.map(({ report }, ord) => reportRow(report, ord))), changeChannel, duplicateWindowHours, duplicateRadiusMetres],
  });
  for (const row of rows) {
    const { report, index } = fresh[row.ord];
    const { input } = report;
    if (!row.known_category) outcomes.set(index, { error: await unknownCategory(client, input.category) });
    else if (!row.inside_grid) outcomes.set(index, { error: new RuleViolationError('The location lies outside every level-4 grid', { rule: 'inside-grid', location: input.location }) });
    else outcomes.set(index, { incident: row.incident as Incident });
  }
  return reports.map((_, index) => outcomes.get(index) as Outcome);
}

async function unknownCategory(db: Queryable, category: string): Promise<RuleViolationError> {
  const { rows } = await db.query<CategoryNamesRow>(categoryNamesSql);
  return new RuleViolationError(`Unknown incident category ${category}`, { rule: 'known-category', categories: rows.map((r) => r.name) });
}

function reportRow(report: IntakeReport, ord: number) {
  const { input, writer } = report;
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
  };
}
