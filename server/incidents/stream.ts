import type { Queryable } from '../db/pool';
import type { EventBus } from '../events/bus';

export interface StreamedEvent {
  id: number;
  incidentId: number;
  kind: string;
  from: string | null;
  to: string;
  at: string;
  incident: Record<string, unknown>;
}

const pageSize = 500;

async function eventsAfter(db: Queryable, afterId: number): Promise<StreamedEvent[]> {
  const { rows } = await db.query<StreamedEvent>(
    `SELECT e.id, e.incident_id AS "incidentId", e.kind, e.from_status AS "from", e.to_status AS "to", e.at,
            json_build_object('category', i.category, 'status', i.status, 'location', ST_AsGeoJSON(i.geom, 7)::json,
                              'gridId', i.grid_id, 'department', i.department, 'priority', i.priority, 'duplicateOf', i.duplicate_of) AS incident
     FROM incident_events e JOIN incidents i ON i.id = e.incident_id
     WHERE e.id > $1 ORDER BY e.id LIMIT $2`,
    [afterId, pageSize],
  );
  return rows;
}

/**
 * Follows the incident timeline for one client. Notifications only say "something new"; what is sent is read
 * from incident_events after the last id sent, so a reconnect with Last-Event-ID (or a burst of notifications)
 * neither loses nor repeats events. Without Last-Event-ID the client gets only what happens from now on.
 */
export async function followIncidentEvents(
  db: Queryable,
  events: EventBus,
  lastEventId: number | null,
  send: (event: StreamedEvent) => void,
): Promise<() => void> {
  let lastSent = lastEventId ?? (await db.query<{ id: number }>('SELECT coalesce(max(id), 0) AS id FROM incident_events')).rows[0].id;
  let running = false;
  let again = false;
  let closed = false;
  const pump = async (): Promise<void> => {
    if (running) {
      again = true;
      return;
    }
    running = true;
    try {
      do {
        again = false;
        let page: StreamedEvent[];
        do {
          page = await eventsAfter(db, lastSent);
          for (const event of page) {
            if (closed) return;
            send(event);
            lastSent = event.id;
          }
        } while (page.length === pageSize);
      } while (again && !closed);
    } finally {
      running = false;
    }
  };
  const wake = () => void pump().catch(() => undefined);
  const offChange = events.onChange((change) => change.kind === 'incident-changed' && wake());
  const offResync = events.onResync(wake);
  await pump();
  return () => {
    closed = true;
    offChange();
    offResync();
  };
}
