import { latLngToCell } from 'h3-js';
import seedrandom from 'seedrandom';
import { defaultFeatureOptions, HistoryState, type UnitEvent, walkWindows } from '../../server/risk/features';
import { h3Units } from '../../server/risk/units';

const cells = [latLngToCell(22.3, 114.17, 8), latLngToCell(22.31, 114.17, 8), latLngToCell(22.3, 114.18, 8), latLngToCell(22.28, 114.16, 8)];
const units = h3Units(cells);
const start = 200_000;

function randomEvents(days: number): UnitEvent[] {
  const random = seedrandom('features');
  const events = Array.from({ length: days * 4 }, () => ({ window: start + Math.floor(random() * days * 12), unit: Math.floor(random() * units.keys.length) }));
  return events.sort((a, b) => a.window - b.window);
}

function featuresByWindow(events: UnitEvent[], from: number, to: number): Map<number, number[]> {
  const state = new HistoryState(units, defaultFeatureOptions, start);
  const out = new Float64Array(units.keys.length * state.names.length);
  const seen = new Map<number, number[]>();
  walkWindows(events, state, from, to, (window) => {
    state.features(out);
    seen.set(window, Array.from(out));
  });
  return seen;
}

describe('risk features', () => {
  test('a planted future accident changes no feature of an earlier window (nor of its own)', () => {
    const events = randomEvents(400);
    const planted = start + 380 * 12 + 5;
    const before = featuresByWindow(events, planted - 400, planted + 1);
    const withPlant = [...events, { window: planted, unit: 2 }, { window: planted + 30, unit: 1 }].sort((a, b) => a.window - b.window);
    const after = featuresByWindow(withPlant, planted - 400, planted + 2);
    for (let window = planted - 400; window <= planted; window++) expect(after.get(window)).toEqual(before.get(window));
    // ...and it does enter the history of the next window, so the comparison above could fail.
    expect(after.get(planted + 1)).not.toEqual(featuresByWindow(events, planted + 1, planted + 2).get(planted + 1));
  });

  test('H3 units know their neighbours in the first ring', () => {
    const centre = latLngToCell(22.3, 114.17, 8);
    const ring = h3Units([centre, ...require('h3-js').gridDisk(centre, 1)]);
    const index = ring.keys.indexOf(centre);
    expect(ring.neighbourStart[index + 1] - ring.neighbourStart[index]).toBe(6);
  });
});
