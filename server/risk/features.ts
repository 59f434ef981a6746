import type { UnitSet } from './units';
import { SLOTS_PER_DAY, WEEK_SLOTS, WINDOWS_PER_DAY, slotOfDay, slotOfWeek } from './windows';

/** One accident as the model sees it: which unit (−1: outside every unit) and which 2-hour window. */
export interface UnitEvent {
  unit: number;
  window: number;
}

export interface FeatureOptions {
  /** Time constant of the exponentially decayed count, in days. */
  decayDays: number;
  /** Prior weight (in accidents) that pulls a unit's time-of-day profile toward the city's (empirical Bayes). */
  profilePrior: number;
  /** Recent-count horizons in days. */
  recentDays: number[];
}

export const defaultFeatureOptions: FeatureOptions = { decayDays: 365, profilePrior: 30, recentDays: [7, 28, 90, 365] };

/**
 * Feature names in column order. Unit features explain why one unit outranks another (shown to the police);
 * city features are equal for every unit of a window and only set the level (calibration).
 */
export function featureNames(options: FeatureOptions, units: UnitSet): string[] {
  return [
    'longRunRate',
    'decayedCount',
    ...options.recentDays.map((days) => `recent${days}d`),
    'neighbourRate',
    'areaTimeOfDay',
    'timeOfDay',
    'areaWeekday',
    'weekday',
    ...units.attributes.map((attribute) => attribute.name),
    'cityTimeOfDay',
    'cityTrend',
  ];
}

/**
 * The history of accidents up to a point in time, per unit, and the features it implies for one window.
 * Events must be added in time order, and only events before the window asked for: `walkWindows` enforces
 * that, so no feature can see the window it scores or anything later.
 */
export class HistoryState {
  readonly names: string[];
  private readonly unitCount: number;
  private now: number;
  private readonly total: Float64Array;
  private readonly decayed: Float64Array;
  private readonly daySlots: Float64Array;
  private readonly weekSlots: Float64Array;
  private readonly recent: Float64Array[];
  private readonly regionTotal: Float64Array;
  private readonly regionDaySlots: Float64Array;
  private readonly regionWeekSlots: Float64Array;
  private readonly cityDaySlots = new Float64Array(SLOTS_PER_DAY);
  private readonly cityWeekSlots = new Float64Array(WEEK_SLOTS);
  private readonly weekSlotWindows = new Float64Array(WEEK_SLOTS);
  private cityTotal = 0;
  private cityRecent = 0;
  private readonly added: UnitEvent[] = [];
  private readonly expiryCursor: number[];
  private cityRecentCursor = 0;
  private readonly decayPerWindow: number;

  constructor(
    private readonly units: UnitSet,
    private readonly options: FeatureOptions,
    /** First window of the history: rates are counts over the windows since. */
    readonly historyStart: number,
  ) {
    this.names = featureNames(options, units);
    this.unitCount = units.keys.length;
    this.now = historyStart;
    this.total = new Float64Array(this.unitCount);
    this.decayed = new Float64Array(this.unitCount);
    this.daySlots = new Float64Array(this.unitCount * SLOTS_PER_DAY);
    this.weekSlots = new Float64Array(this.unitCount * WEEK_SLOTS);
    this.recent = options.recentDays.map(() => new Float64Array(this.unitCount));
    const regions = units.region.reduce((max, region) => Math.max(max, region + 1), 0);
    this.regionTotal = new Float64Array(regions);
    this.regionDaySlots = new Float64Array(regions * SLOTS_PER_DAY);
    this.regionWeekSlots = new Float64Array(regions * WEEK_SLOTS);
    this.expiryCursor = options.recentDays.map(() => 0);
    this.decayPerWindow = Math.exp(-1 / (options.decayDays * WINDOWS_PER_DAY));
  }

  get window(): number {
    return this.now;
  }

  /** Moves the clock one window on: decays, expires recent counts, counts the window passed. */
  private step(): void {
    this.weekSlotWindows[slotOfWeek(this.now)]++;
    this.now++;
    for (let unit = 0; unit < this.unitCount; unit++) this.decayed[unit] *= this.decayPerWindow;
    this.options.recentDays.forEach((days, horizon) => {
      const oldest = this.now - days * WINDOWS_PER_DAY;
      let cursor = this.expiryCursor[horizon];
      for (; cursor < this.added.length && this.added[cursor].window < oldest; cursor++) {
        const unit = this.added[cursor].unit;
        if (unit >= 0) this.recent[horizon][unit]--;
      }
      this.expiryCursor[horizon] = cursor;
    });
    const cityOldest = this.now - CITY_TREND_DAYS * WINDOWS_PER_DAY;
    for (; this.cityRecentCursor < this.added.length && this.added[this.cityRecentCursor].window < cityOldest; this.cityRecentCursor++) this.cityRecent--;
  }

  /** Moves the clock to the start of `window`, then adds the accidents of the window just ended. */
  advanceTo(window: number, endedWindowEvents: UnitEvent[] = []): void {
    if (window < this.now) throw new Error(`history cannot go back from window ${this.now} to ${window}`);
    while (this.now < window) this.step();
    for (const event of endedWindowEvents) this.add(event);
  }

  private add(event: UnitEvent): void {
    if (event.window !== this.now - 1) throw new Error(`event of window ${event.window} added at window ${this.now}`);
    this.added.push(event);
    this.cityTotal++;
    this.cityRecent++;
    this.cityDaySlots[slotOfDay(event.window)]++;
    this.cityWeekSlots[slotOfWeek(event.window)]++;
    const unit = event.unit;
    if (unit < 0) return;
    this.total[unit]++;
    this.decayed[unit] += 1;
    this.daySlots[unit * SLOTS_PER_DAY + slotOfDay(event.window)]++;
    this.weekSlots[unit * WEEK_SLOTS + slotOfWeek(event.window)]++;
    for (const counts of this.recent) counts[unit]++;
    const region = this.units.region[unit];
    this.regionTotal[region]++;
    this.regionDaySlots[region * SLOTS_PER_DAY + slotOfDay(event.window)]++;
    this.regionWeekSlots[region * WEEK_SLOTS + slotOfWeek(event.window)]++;
  }

  /** Count of accidents seen per unit so far (the historical average ranks by it). */
  totals(): Float64Array {
    return this.total;
  }

  /**
   * Features of every unit for the current window, row-major (unit × feature) into `out`. All counts are turned
   * into log rates per window, so their scale does not depend on how long the history is.
   */
  features(out: Float64Array): void {
    const names = this.names.length;
    const elapsed = Math.max(1, this.now - this.historyStart);
    const daySlot = slotOfDay(this.now);
    const weekSlot = slotOfWeek(this.now);
    const cityRate = (this.cityTotal + 1) / elapsed;
    const cityDayShare = (this.cityDaySlots[daySlot] + 1) / (this.cityTotal + SLOTS_PER_DAY);
    const cityWeekWithinDay = (this.cityWeekSlots[weekSlot] + 1) / (this.cityDaySlots[daySlot] + 7);
    const cityWeekRate = (this.cityWeekSlots[weekSlot] + 1) / Math.max(1, this.weekSlotWindows[weekSlot]);
    const trendWindows = Math.min(elapsed, CITY_TREND_DAYS * WINDOWS_PER_DAY);
    const cityTrend = Math.log((this.cityRecent + 1) / trendWindows / cityRate);
    const decayNorm = (1 - this.decayPerWindow ** elapsed) / (1 - this.decayPerWindow);
    const prior = this.options.profilePrior;
    const recentWindows = this.options.recentDays.map((days) => Math.min(elapsed, days * WINDOWS_PER_DAY));
    const { neighbourStart, neighbourIndex, attributes } = this.units;
    for (let unit = 0; unit < this.unitCount; unit++) {
      const total = this.total[unit];
      const base = unit * names;
      let column = 0;
      out[base + column++] = Math.log((total + 0.5) / elapsed / cityRate);
      out[base + column++] = Math.log((this.decayed[unit] + 0.5) / decayNorm / cityRate);
      for (let horizon = 0; horizon < recentWindows.length; horizon++) out[base + column++] = Math.log((this.recent[horizon][unit] + 0.5) / recentWindows[horizon] / cityRate);
      let neighbourTotal = 0;
      let neighbourSlot = 0;
      const first = neighbourStart[unit];
      const last = neighbourStart[unit + 1];
      for (let index = first; index < last; index++) {
        neighbourTotal += this.total[neighbourIndex[index]];
        neighbourSlot += this.daySlots[neighbourIndex[index] * SLOTS_PER_DAY + daySlot];
      }
      out[base + column++] = Math.log((neighbourTotal / Math.max(1, last - first) + 0.5) / elapsed / cityRate);
      // Time-of-day profiles by empirical Bayes, each level shrunk toward the one above: region (a district
      // with its own rhythm: nightlife, offices) toward the city, the unit's neighbourhood toward its region,
      // the unit toward its neighbourhood. A unit with few accidents thus inherits its area's rhythm.
      const region = this.units.region[unit];
      const regionTotal = this.regionTotal[region];
      const regionDayShare = (this.regionDaySlots[region * SLOTS_PER_DAY + daySlot] + prior * cityDayShare) / (regionTotal + prior);
      const areaShare = (neighbourSlot + prior * regionDayShare) / (neighbourTotal + prior);
      const dayShare = (this.daySlots[unit * SLOTS_PER_DAY + daySlot] + prior * areaShare) / (total + prior);
      out[base + column++] = Math.log(areaShare / cityDayShare);
      out[base + column++] = Math.log(dayShare / areaShare);
      const regionWeekWithinDay = (this.regionWeekSlots[region * WEEK_SLOTS + weekSlot] + prior * cityWeekWithinDay) / (this.regionDaySlots[region * SLOTS_PER_DAY + daySlot] + prior);
      const weekWithinDay = (this.weekSlots[unit * WEEK_SLOTS + weekSlot] + prior * regionWeekWithinDay) / (this.daySlots[unit * SLOTS_PER_DAY + daySlot] + prior);
      out[base + column++] = Math.log(regionWeekWithinDay / cityWeekWithinDay);
      out[base + column++] = Math.log(weekWithinDay / regionWeekWithinDay);
      for (const attribute of attributes) out[base + column++] = attribute.values[unit];
      out[base + column++] = Math.log(cityWeekRate);
      out[base + column++] = cityTrend;
    }
  }
}

/** The city-wide trend compares the last 90 days with the long run. */
const CITY_TREND_DAYS = 90;

/**
 * Walks the windows from the history's start to `to` one by one, adding each window's accidents only once the
 * window has ended: `visit(window, state)` (for windows from `from` on) sees exactly the accidents that started
 * before the window. `events` are sorted by window.
 */
export function walkWindows(
  events: UnitEvent[],
  state: HistoryState,
  from: number,
  to: number,
  visit: (window: number, state: HistoryState) => void,
): void {
  let cursor = 0;
  for (; cursor < events.length && events[cursor].window < state.window; cursor++);
  const ended: UnitEvent[] = [];
  for (let window = state.window; window < to; window++) {
    ended.length = 0;
    for (; cursor < events.length && events[cursor].window < window; cursor++) ended.push(events[cursor]);
    state.advanceTo(window, ended);
    if (window >= from) visit(window, state);
  }
}
