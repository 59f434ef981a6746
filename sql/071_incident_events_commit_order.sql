-- SSE without gaps: ids of incident_events are taken when a row is inserted but become visible when its
-- transaction commits, so a reader following id order could pass an id whose transaction commits later. Each
-- event now records its top-level transaction id; the stream reads only events of transactions older than every
-- transaction of this database still running (from the reader's own snapshot), in (xid, id) order, which is
-- final: no event can appear later below a position already read. See server/incidents/stream.ts.
ALTER TABLE incident_events ADD COLUMN xid xid8 NOT NULL DEFAULT pg_current_xact_id();
CREATE INDEX incident_events_xid_idx ON incident_events (xid, id);
