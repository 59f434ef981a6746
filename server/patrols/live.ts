import type { Actor } from '../auth/roles';
import type { Queryable } from '../db/pool';
import type { Clock } from '../deps';
import { type ChangeEvent, type EventBus, publishChange } from '../events/bus';
import type { LivePosition } from './schemas';
import { livePositionsSql, markAnnouncedSql, upsertLivePositionsSql } from './sql';

/** A worker with a fix this recent is on duty. */
export const onDutyMinutes = 15;
// NOTIFY payloads end at 8000 bytes; a position is about 110 bytes of JSON.
const positionsPerEvent = 50;

export type PositionEvent = Extract<ChangeEvent, { kind: 'patrol-positions' }>['positions'][number];

/**
 * Keeps each worker's newest accepted fix (patrol_live) and announces it on the live stream when it is recent (a
 * worker on duty) and the worker's last announcement is at least `intervalSeconds` old: the wall moves its dots a
 * few times a minute, however often phones post. Sent with the transaction, so only committed positions go out.
 */
export async function announcePositions(
  db: Queryable,
  newest: Array<{ worker: string; ms: number; lon: number; lat: number }>,
  now: Date,
  intervalSeconds: number,
): Promise<void> {
  if (!newest.length) return;
  const { rows } = await db.query<PositionEvent & { announce: boolean }>(
    upsertLivePositionsSql,
    [newest.map((n) => n.worker), newest.map((n) => n.ms), newest.map((n) => n.lon), newest.map((n) => n.lat), now, onDutyMinutes, intervalSeconds],
  );
  const due = rows.filter((row) => row.announce).map(({ announce: _announce, ...position }) => position);
  if (!due.length) return;
  await db.query(markAnnouncedSql, [due.map((p) => p.workerId), now]);
  for (let i = 0; i < due.length; i += positionsPerEvent) {
    await publishChange(db, { kind: 'patrol-positions', positions: due.slice(i, i + positionsPerEvent) });
  }
}

/** Whose positions a reader may see: commanders and admins everyone's, a grid worker their own, others none. */
export function positionsVisibleTo(reader: Actor | null): (workerId: string) => boolean {
  if (reader?.role === 'commander' || reader?.role === 'admin') return () => true;
  if (reader?.role === 'grid_worker' && reader.worker) return (workerId) => workerId === reader.worker;
  return () => false;
}

/**
 * Sends each new position the reader may see as it is announced (event `position`, no id: a position is not
 * replayed after a reconnect, the next one comes soon). While the client's buffer is full, positions are dropped
 * rather than queued: a slow wall holds no backlog of stale dots. Returns stop().
 */
export function followPositions(events: EventBus, reader: Actor | null, sink: { send: (data: string) => boolean; drained: () => Promise<boolean> }): () => void {
  const visible = positionsVisibleTo(reader);
  let congested = false;
  return events.onChange((change) => {
    if (change.kind !== 'patrol-positions' || congested) return;
    for (const position of change.positions) {
      if (!visible(position.workerId) || sink.send(JSON.stringify(position))) continue;
      congested = true;
      void sink.drained().then((taken) => (congested = !taken));
      return;
    }
  });
}

/** Each worker's last position with a fix in the last `hours`; a grid worker sees only their own. */
export async function livePositions(db: Queryable, clock: Clock, reader: Actor | null, hours: number): Promise<{ at: string; workers: LivePosition[] }> {
  const at = clock();
  const own = reader?.role === 'grid_worker' ? reader.worker ?? '' : null;
  const { rows } = await db.query<LivePosition>(
    livePositionsSql,
    [at, hours, onDutyMinutes, own],
  );
  return { at: at.toISOString(), workers: rows };
}
