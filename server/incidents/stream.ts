import type { Actor } from '../auth/roles';
import { inGridScope } from '../auth/scope';
import type { Queryable } from '../db/pool';
import type { EventBus } from '../events/bus';
import { eventsAfterSql, eventsPastSql, positionAtEventSql, settledEndSql } from './sql';

/**
 * One event as sent: its id and its JSON (id, incidentId, kind, from, to, at and the incident's category, status,
 * location, gridId, department, priority, duplicateOf), rendered by PostgreSQL so that a replay of many events costs
 * this process one string per event.
 */
export interface StreamedEvent {
  id: number;
  data: string;
}

/**
 * Where a reader stands in the timeline: the last event sent, by (transaction id, event id). Event ids are taken
 * at insert but become visible at commit, so id order is not the order in which events can be seen; (xid, id)
 * order restricted to transactions older than every running one (pg_snapshot_xmin) is: no event can appear
 * later below a position already read (sql/071).
 */
export interface StreamPosition {
  xid: string;
  id: number;
}

const pageSize = 200;
// A finished-but-not-yet-deliverable event waits for older transactions (anywhere in the cluster) to end; they
// send no notification of their own, so the reader looks again after this long.
const pendingRetryMs = 100;

/** A page row: the event as sent, where it stands, and its incident's grid (who may see it). */
type EventRow = StreamedEvent & { xid: string; gridId: number | null };

async function eventsAfter(db: Queryable, after: StreamPosition): Promise<EventRow[]> {
  const { rows } = await db.query<EventRow>(
    eventsAfterSql,
    [after.xid, after.id, pageSize],
  );
  return rows;
}

/**
 * Committed events past the position that were not sent: still unsettled, or settled only since the read (the
 * read and this check see different snapshots, so asking "is anything unsettled now?" could miss an event that
 * was unsettled for the read and is settled for the check, and no notification would come for it again).
 */
async function hasUnsentEvents(db: Queryable, after: StreamPosition): Promise<boolean> {
  const { rows } = await db.query(eventsPastSql, [after.xid, after.id]);
  return rows.length > 0;
}

/**
 * The position to start from: after the event a reconnecting client saw last (Last-Event-ID; an id that no longer
 * exists resumes after the nearest earlier event), or the settled end of the timeline for a new client.
 */
export async function startPosition(db: Queryable, lastEventId: number | null): Promise<StreamPosition> {
  const { rows } = await db.query<StreamPosition>(
    lastEventId === null ? settledEndSql : positionAtEventSql,
    lastEventId === null ? [] : [lastEventId],
  );
  return rows[0] ?? { xid: '0', id: 0 };
}

/** Where one follower's events go (an SSE response, see http/event-stream.ts). */
export interface EventSink {
  /** false: the client's buffer is full; wait for drained() before sending more. */
  send(event: StreamedEvent): boolean;
  /** true once the client has room again; false when it is gone or too slow (the stream is over). */
  drained(): Promise<boolean>;
  /** The stream cannot go on (the database failed): end it; the client resumes with Last-Event-ID. */
  end(): void;
}

/** The events a reader receives: a grid worker those of incidents in their grids (gridScope), everyone else all. */
export function eventsVisibleTo(reader: Actor | null): (gridId: number | null) => boolean {
  return (gridId) => inGridScope(reader, gridId);
}

/**
 * Follows the incident timeline for one client from `start` (see startPosition). Notifications only say
 * "something new"; what is sent is read from incident_events after the last position sent, so a reconnect with
 * Last-Event-ID (or a burst of notifications) neither loses nor repeats events, even when transactions commit out
 * of id order. Reading is paced by the client: a page is read only when the previous one has been taken, so a
 * replay of millions of events holds one page in memory per client, however slowly it reads. Events the reader may
 * not see (`visible`, e.g. eventsVisibleTo) are passed over, not sent. Returns stop().
 */
export function followIncidentEvents(
  db: Queryable,
  events: EventBus,
  start: StreamPosition,
  sink: EventSink,
  visible: (gridId: number | null) => boolean,
): () => void {
  let position = start;
  let running = false;
  let again = false;
  let closed = false;
  let retry: NodeJS.Timeout | undefined;
  /** Sends a page; false when the client is gone or too slow. */
  const sendPage = async (page: EventRow[]): Promise<boolean> => {
    for (const { xid, gridId, ...event } of page) {
      if (closed) return false;
      position = { xid, id: event.id };
      if (!visible(gridId)) continue;
      if (!sink.send(event) && !(await sink.drained())) return false;
    }
    return !closed;
  };
  const pump = async (): Promise<void> => {
    if (running) {
      again = true;
      return;
    }
    running = true;
    try {
      do {
        again = false;
        let page: EventRow[];
        do {
          page = await eventsAfter(db, position);
          if (!(await sendPage(page))) return;
        } while (page.length === pageSize);
      } while (again && !closed);
      if (!closed && !retry && (await hasUnsentEvents(db, position))) {
        retry = setTimeout(() => {
          retry = undefined;
          wake();
        }, pendingRetryMs);
      }
    } finally {
      running = false;
    }
  };
  const wake = () =>
    void pump().catch(() => {
      if (!closed) sink.end();
    });
  const offChange = events.onChange((change) => change.kind === 'incident-changed' && wake());
  const offResync = events.onResync(wake);
  wake();
  return () => {
    closed = true;
    clearTimeout(retry);
    offChange();
    offResync();
  };
}
