/**
 * Time is cut into 2-hour windows aligned to local midnight of the city (a fixed UTC offset): window n covers
 * [n·2h, (n+1)·2h) of local time since 1970-01-01. The model, the evaluator and the scheduler use the same cut,
 * so "the next 6 windows" on the police screen are the windows the evaluation scored.
 */
export const WINDOW_HOURS = 2;
export const WINDOW_MS = WINDOW_HOURS * 3_600_000;
export const SLOTS_PER_DAY = 24 / WINDOW_HOURS;
export const WEEK_SLOTS = 7 * SLOTS_PER_DAY;
export const WINDOWS_PER_DAY = SLOTS_PER_DAY;

/** "+08:00" → minutes east of UTC; null when malformed. */
export function parseUtcOffset(text: string): number | null {
  const match = /^([+-])(\d{2}):?(\d{2})$/.exec(text.trim());
  if (!match) return null;
  const minutes = Number(match[2]) * 60 + Number(match[3]);
  if (minutes > 14 * 60) return null;
  return match[1] === '-' ? -minutes : minutes;
}

export function formatUtcOffset(minutes: number): string {
  const sign = minutes < 0 ? '-' : '+';
  const abs = Math.abs(minutes);
  return `${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}

export function windowOf(epochMs: number, offsetMinutes: number): number {
  return Math.floor((epochMs + offsetMinutes * 60_000) / WINDOW_MS);
}

export function windowStartMs(window: number, offsetMinutes: number): number {
  return window * WINDOW_MS - offsetMinutes * 60_000;
}

/** Local 2-hour slot of the day, 0 = 00:00–02:00. */
export function slotOfDay(window: number): number {
  return ((window % SLOTS_PER_DAY) + SLOTS_PER_DAY) % SLOTS_PER_DAY;
}

/** Local day number since 1970-01-01. */
export function dayOf(window: number): number {
  return Math.floor(window / SLOTS_PER_DAY);
}

/** Slot of the week, 0 = Monday 00:00–02:00 (1970-01-01 was a Thursday). */
export function slotOfWeek(window: number): number {
  const weekday = (((dayOf(window) + 3) % 7) + 7) % 7;
  return weekday * SLOTS_PER_DAY + slotOfDay(window);
}
