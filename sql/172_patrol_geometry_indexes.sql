-- Every geometry column has its GIST index (test/db/migrate.test.ts): bbox reads of playback lines and of the live
-- positions use them.
CREATE INDEX patrol_tracks_geom_m_idx ON patrol_tracks USING gist (geom_m);
CREATE INDEX patrol_live_geom_idx ON patrol_live USING gist (geom);
