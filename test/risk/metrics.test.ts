import seedrandom from 'seedrandom';
import { emptyDay, pairedBootstrap, scoreWindow, summarise, topProbability } from '../../server/risk/metrics';

// 20 units, unit i scored 20 − i: top 1 % = 0.2 units, top 5 % = unit 0, top 10 % = units 0 and 1.
const ranked = Array.from({ length: 20 }, (_, unit) => 20 - unit);

describe('risk metrics', () => {
  test('a hand-built window gives the hand-computed hit rates and recall at K', () => {
    const day = emptyDay();
    // Accidents in units 0, 1 and 5 and one outside every unit: K = 3 distinct units, of which 0 and 1 are in the top 3.
    scoreWindow(ranked, [0, 1, 5, -1], day);
    const summary = summarise([day]);
    expect(summary.hits[0]).toBeCloseTo(0.2 / 4, 12);
    expect(summary.hits[1]).toBeCloseTo(1 / 4, 12);
    expect(summary.hits[2]).toBeCloseTo(2 / 4, 12);
    expect(summary.recallAtK).toBeCloseTo(2 / 3, 12);
  });

  test('recall at K averages windows; windows without accidents in units do not count', () => {
    const day = emptyDay();
    scoreWindow(ranked, [0], day); // K = 1, unit 0 is first: 1
    scoreWindow(ranked, [3, 3], day); // K = 1, unit 3 is fourth: 0
    scoreWindow(ranked, [-1], day); // no unit: counted as an accident (a miss), not as a window
    scoreWindow(ranked, [], day);
    const summary = summarise([day]);
    expect(summary.recallAtK).toBeCloseTo(0.5, 12);
    expect(day.accidents).toBe(4);
    expect(summary.hits[2]).toBeCloseTo(1 / 4, 12);
  });

  test('ties are broken at random in expectation', () => {
    const flat = new Array(20).fill(1);
    expect(topProbability(flat, 7, 1)).toBeCloseTo(1 / 20, 12);
    expect(topProbability([3, 2, 2, 2, 1], 2, 2)).toBeCloseTo(1 / 3, 12);
    expect(topProbability([3, 2, 2, 2, 1], 0, 2)).toBe(1);
    expect(topProbability([3, 2, 2, 2, 1], 4, 4)).toBe(0);
  });

  test('the paired bootstrap brackets the ratio and is 1 against itself', () => {
    const random = seedrandom('bootstrap');
    const days = Array.from({ length: 60 }, (_, index) => {
      const day = emptyDay();
      scoreWindow(ranked, [index % 4, (index * 7) % 20], day);
      return day;
    });
    const reversed = days.map((_, index) => {
      const day = emptyDay();
      scoreWindow([...ranked].reverse(), [index % 4, (index * 7) % 20], day);
      return day;
    });
    const self = pairedBootstrap(days, days, 200, random);
    expect(self.hits[1]).toEqual({ ratio: 1, ci90: [1, 1] });
    const against = pairedBootstrap(days, reversed, 200, random);
    const [low, high] = against.hits[2].ci90;
    expect(low).toBeLessThanOrEqual(against.hits[2].ratio);
    expect(high).toBeGreaterThanOrEqual(against.hits[2].ratio);
    expect(against.hits[2].ratio).toBeGreaterThan(1);
  });
});
