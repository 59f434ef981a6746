import { withWriteTransaction } from '../db/write-context';
import { tryTransactionLock } from '../db/advisory-lock';
import type { Pool, Queryable } from '../db/pool';
import type { Clock } from '../deps';
import type { Logger } from '../logger';
import { recordEvent } from './service';
import { type EscalateRow, escalateSql, mostOverdueGridsSql, overdueByDepartmentSql, type OverdueIncidentRow, overdueIncidentsSql } from './sql';
import { escalableStatuses, openStatuses } from './workflow';

// One scheduler per cluster: whoever holds this transaction-level advisory lock escalates; the others skip the round.
const escalationLockKey = 4_242_030;
const batchSize = 500;

export interface EscalationRound {
  /** False when another process held the lock: this round did nothing. */
  ran: boolean;
  escalated: number[];
}

/**
 * Opens supervision (督办) on every incident whose current stage is overdue at clock(), and records which
 * supervisor of the responsible department is notified. Supervision has its own deadline (catalogue
 * supervise_hours): an incident still under supervision past it is escalated again, one level higher.
 * Safe to run from any number of processes at once.
 */
export async function escalateOverdue(pool: Pool, clock: Clock): Promise<EscalationRound> {
  const now = clock();
  return withWriteTransaction(pool, { actor: null, route: 'scheduler incident-escalation' }, async (client) => {
    if (!(await tryTransactionLock(client, escalationLockKey))) return { ran: false, escalated: [] };
    const { rows } = await client.query<OverdueIncidentRow>(
      overdueIncidentsSql,
      [escalableStatuses, now, batchSize],
    );
    for (const incident of rows) {
      const { rows: updated } = await client.query<EscalateRow>(
        escalateSql,
        [incident.id, now],
      );
      const level = updated[0].escalation_level;
      await recordEvent(client, {
        incidentId: incident.id,
        at: now,
        kind: 'escalated',
        from: incident.status,
        to: 'supervising',
        actor: null,
        comment: incident.status === 'supervising' ? '督办超期，升级督办' : '超期自动督办',
        details: { overdueSince: incident.stage_due_at, department: incident.department, notified: incident.supervisor, level, supervisionDueAt: updated[0].stage_due_at },
      });
    }
    return { ran: true, escalated: rows.map((row) => row.id) };
  });
}

export interface OverdueCounts {
  department: string | null;
  /** Open incidents past their overall deadline. */
  overdue: number;
  /** Open incidents past the deadline of the stage they are in (supervision included). */
  stageOverdue: number;
  /** Of those, incidents whose supervision (督办) itself is overdue. */
  supervisionOverdue: number;
}

/** Overdue open incidents per department at clock(); departments with none are left out. */
export async function overdueByDepartment(db: Queryable, clock: Clock): Promise<OverdueCounts[]> {
  const { rows } = await db.query<OverdueCounts>(
    overdueByDepartmentSql,
    [clock()],
  );
  return rows;
}

export interface GridOverdue {
  gridId: number;
  code: string;
  name: string;
  overdue: number;
}

/** The grids with most open incidents past their overall deadline at clock() (as stats count overdueOpen), most first. */
export async function mostOverdueGrids(db: Queryable, clock: Clock, limit: number): Promise<GridOverdue[]> {
  const { rows } = await db.query<GridOverdue>(
    mostOverdueGridsSql,
    [clock(), limit, openStatuses],
  );
  return rows;
}

/** Runs a round every intervalMs in this process; the advisory lock keeps rounds of several processes apart. */
export function startEscalationScheduler(pool: Pool, clock: Clock, log: Logger, intervalMs = 60_000): () => void {
  const timer = setInterval(() => {
    escalateOverdue(pool, clock)
      .then((round) => {
        log.debug({ ran: round.ran, escalated: round.escalated.length }, 'escalation round');
        if (round.escalated.length) log.info({ escalated: round.escalated.length }, 'incidents escalated to supervision');
      })
      .catch((error: unknown) => log.warn({ err: error }, 'escalation round failed'));
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
