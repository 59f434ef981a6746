-- Patrol coverage (server/patrols/coverage.ts) asks, for every 10 m piece of road and every building, whether a
-- track of the day passes within 30 m. Asked of whole tracks, the index hands back a day's walk (2,000 vertices
-- back and forth along the same streets) and each answer measures all of it: 27 µs per road piece, 0.17 ms per
-- building. Each track is therefore also kept as pieces of 32 consecutive fixes with the track's start, so an
-- answer measures a few short lines of that day only. Consecutive pieces share their end fix: together they are
-- exactly the track, and every distance is the one to the whole track. btree_gist puts the start in the index.
CREATE EXTENSION IF NOT EXISTS btree_gist;

CREATE TABLE patrol_track_pieces (
  track_id bigint NOT NULL REFERENCES patrol_tracks (id) ON DELETE CASCADE,
  -- The track's start: a day's pieces are those of the day's tracks (tracks are kept for years, in the same streets).
  started_at timestamptz NOT NULL,
  geom_3857 geometry(LineString, 3857) NOT NULL
);
-- Shape first: GIST splits its pages by the first column, and the pieces of one day all start within hours.
CREATE INDEX patrol_track_pieces_geom_idx ON patrol_track_pieces USING gist (geom_3857, started_at);
CREATE INDEX patrol_track_pieces_track_idx ON patrol_track_pieces (track_id);

INSERT INTO patrol_track_pieces (track_id, started_at, geom_3857)
SELECT t.id, t.started_at, ST_MakeLine(d.geom ORDER BY d.path[1])
FROM patrol_tracks t
CROSS JOIN LATERAL ST_DumpPoints(t.geom_3857) d
-- Vertex 31k+1 ends piece k-1 and starts piece k.
CROSS JOIN LATERAL unnest(CASE WHEN (d.path[1] - 1) % 31 = 0 AND d.path[1] > 1 THEN ARRAY[(d.path[1] - 1) / 31 - 1, (d.path[1] - 1) / 31]
                               ELSE ARRAY[(d.path[1] - 1) / 31] END) AS piece(n)
GROUP BY t.id, t.started_at, piece.n
HAVING count(*) > 1;
