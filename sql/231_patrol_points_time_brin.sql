-- The btree on patrol_points.recorded_at cost ≈ 2.6 µs of every fix stored (13 ms per 5,000 into a table of
-- 1,000,000: every worker's fixes fall on the same times of day, so each insert lands among many equal keys), and
-- served only retention and reads by time. Retention now walks the (worker, recorded_at) index worker by worker
-- (server/patrols/retention.ts), which holds each worker's oldest fixes first; reads by time of the raw fixes
-- (the layer's datetime filter) use this BRIN index: fixes are stored roughly in the order they were taken (phones
-- send within hours), so each range of blocks spans a short time, and keeping it costs almost nothing per insert.
CREATE INDEX patrol_points_recorded_at_brin ON patrol_points USING brin (recorded_at);
DROP INDEX patrol_points_recorded_at_idx;
