-- Incidents closed loop (4268 mechanism): a catalogue of categories (事件清单) with the responsible department,
-- per-stage deadlines and priority; workflow columns on incidents; a timeline of events per incident.

CREATE TABLE incident_departments (
  name text PRIMARY KEY,
  -- Who is notified when an incident of this department is escalated to supervision (督办).
  supervisor text NOT NULL
);

CREATE TABLE incident_categories (
  name text PRIMARY KEY,
  -- Open311 service_code: ASCII, stable, what external clients file against.
  code text NOT NULL UNIQUE CHECK (code ~ '^[a-z0-9-]+$'),
  department text NOT NULL REFERENCES incident_departments (name),
  priority smallint NOT NULL CHECK (priority BETWEEN 1 AND 4),
  accept_hours real NOT NULL CHECK (accept_hours > 0),
  dispatch_hours real NOT NULL CHECK (dispatch_hours > 0),
  handle_hours real NOT NULL CHECK (handle_hours > 0),
  feedback_hours real NOT NULL CHECK (feedback_hours > 0),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TRIGGER incident_categories_audit AFTER INSERT OR UPDATE OR DELETE ON incident_categories FOR EACH ROW EXECUTE FUNCTION audit_row_change();

INSERT INTO incident_departments (name, supervisor) VALUES
  ('城管局', '城管局督查科'), ('住建局', '住建局督查科'), ('公安局', '公安局指挥中心'), ('消防救援大队', '消防救援大队值班室'),
  ('司法所', '司法所所长'), ('市政公用局', '市政公用局督查科'), ('园林绿化局', '园林绿化局督查科'), ('交警大队', '交警大队指挥室'),
  ('生态环境局', '生态环境局执法支队'), ('市场监管局', '市场监管局稽查科'), ('水务局', '水务局督查科'), ('街道办', '街道办网格中心');

-- Deadlines follow priority: 1 is urgent (safety), 4 is routine.
INSERT INTO incident_categories (name, code, department, priority, accept_hours, dispatch_hours, handle_hours, feedback_hours)
SELECT c.name, c.code, c.department, c.priority, p.accept_hours, p.dispatch_hours, p.handle_hours, p.feedback_hours
FROM (VALUES
  ('环境卫生', 'sanitation', '城管局', 3), ('违章建筑', 'illegal-building', '城管局', 2), ('群租', 'group-renting', '住建局', 2),
  ('窨井盖', 'manhole-cover', '市政公用局', 1), ('消防隐患', 'fire-hazard', '消防救援大队', 1), ('矛盾纠纷', 'dispute', '司法所', 2),
  ('占道经营', 'street-vending', '城管局', 3), ('道路破损', 'road-damage', '市政公用局', 2), ('噪音扰民', 'noise', '生态环境局', 3),
  ('绿化养护', 'greenery', '园林绿化局', 4), ('路灯故障', 'street-light', '市政公用局', 3), ('违规停车', 'illegal-parking', '交警大队', 3),
  ('垃圾满溢', 'overflowing-bins', '城管局', 3), ('乱贴乱画', 'graffiti', '城管局', 4), ('建筑垃圾', 'construction-waste', '城管局', 3),
  ('道路积水', 'road-flooding', '水务局', 1), ('排水堵塞', 'blocked-drain', '水务局', 2), ('供水漏水', 'water-leak', '水务局', 2),
  ('燃气隐患', 'gas-hazard', '住建局', 1), ('危房', 'dangerous-building', '住建局', 1), ('电梯故障', 'lift-fault', '市场监管局', 1),
  ('食品安全', 'food-safety', '市场监管局', 2), ('无证经营', 'unlicensed-business', '市场监管局', 3),
  ('非机动车乱停', 'bike-parking', '城管局', 4), ('僵尸车', 'abandoned-vehicle', '交警大队', 4), ('交通设施损坏', 'traffic-facility', '交警大队', 2),
  ('治安隐患', 'public-security', '公安局', 1), ('流动人口登记', 'migrant-registration', '公安局', 4), ('树木倒伏', 'fallen-tree', '园林绿化局', 1),
  ('油烟污染', 'cooking-fumes', '生态环境局', 3), ('宠物扰民', 'pets', '街道办', 4)
) AS c (name, code, department, priority)
JOIN (VALUES (1, 1, 1, 4, 24), (2, 2, 2, 24, 48), (3, 4, 4, 72, 72), (4, 8, 8, 168, 72))
  AS p (priority, accept_hours, dispatch_hours, handle_hours, feedback_hours) USING (priority);

-- The demo data's status names are the workflow's: 'closed' is the final state after evaluation (评价).
ALTER TABLE incidents
  ADD CONSTRAINT incidents_status_check CHECK (status IN ('reported', 'accepted', 'dispatched', 'handling', 'tracking', 'supervising', 'feedback', 'closed', 'rejected')),
  ADD COLUMN department text,
  ADD COLUMN priority smallint,
  ADD COLUMN assigned_worker text,
  ADD COLUMN reporter_contact text,
  ADD COLUMN photos text[] NOT NULL DEFAULT '{}',
  ADD COLUMN duplicate_of bigint REFERENCES incidents (id),
  -- Overall deadline (reported + every stage) and the deadline of the stage the incident is in now.
  ADD COLUMN due_at timestamptz,
  ADD COLUMN stage_due_at timestamptz,
  ADD COLUMN escalated_at timestamptz,
  ADD COLUMN satisfaction smallint CHECK (satisfaction BETWEEN 1 AND 5),
  ADD COLUMN external_id text,
  ADD COLUMN version integer NOT NULL DEFAULT 1;
CREATE INDEX incidents_category_reported_idx ON incidents (category, reported_at);
CREATE INDEX incidents_stage_due_idx ON incidents (stage_due_at) WHERE stage_due_at IS NOT NULL;
CREATE INDEX incidents_department_idx ON incidents (department);
CREATE UNIQUE INDEX incidents_external_id_idx ON incidents (source, external_id) WHERE external_id IS NOT NULL;

-- One rule for every insert path (API, COPY imports, demo data): department, priority and deadlines come from the
-- catalogue unless the row brings its own (imported history carries its real target dates).
CREATE FUNCTION incidents_fill_from_catalogue() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  c incident_categories%ROWTYPE;
BEGIN
  SELECT * INTO c FROM incident_categories WHERE name = NEW.category;
  IF NOT FOUND THEN
    RETURN NEW;
  END IF;
  NEW.department := coalesce(NEW.department, c.department);
  NEW.priority := coalesce(NEW.priority, c.priority);
  NEW.due_at := coalesce(NEW.due_at, NEW.reported_at + make_interval(secs => 3600 * (c.accept_hours + c.dispatch_hours + c.handle_hours + c.feedback_hours)));
  IF NEW.stage_due_at IS NULL AND NEW.status = 'reported' THEN
    NEW.stage_due_at := NEW.reported_at + make_interval(secs => 3600 * c.accept_hours);
  END IF;
  RETURN NEW;
END
$$;
CREATE TRIGGER incidents_fill_from_catalogue BEFORE INSERT ON incidents FOR EACH ROW EXECUTE FUNCTION incidents_fill_from_catalogue();

-- Rows that exist already (a database migrated after its demo load) get the same treatment.
UPDATE incidents i SET department = c.department, priority = c.priority,
  due_at = i.reported_at + make_interval(secs => 3600 * (c.accept_hours + c.dispatch_hours + c.handle_hours + c.feedback_hours))
FROM incident_categories c WHERE c.name = i.category AND i.department IS NULL;

-- The timeline: every intake, transition, escalation and duplicate link. Its id is also the SSE event id, so a
-- client reconnecting with Last-Event-ID replays exactly what it missed.
CREATE TABLE incident_events (
  id bigserial PRIMARY KEY,
  incident_id bigint NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
  at timestamptz NOT NULL,
  kind text NOT NULL CHECK (kind IN ('reported', 'transition', 'escalated', 'duplicate-linked')),
  from_status text,
  to_status text NOT NULL,
  actor_token_id bigint,
  actor_role text,
  comment text,
  details jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX incident_events_incident_idx ON incident_events (incident_id, id);
