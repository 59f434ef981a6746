-- The wall reads the patrols of one day (server/wall/patrols.ts) and those running at one moment.
CREATE INDEX patrol_tracks_started_at_idx ON patrol_tracks (started_at);
