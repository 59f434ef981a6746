import { isPlainValidFix, patrolFix } from '../../server/patrols/schemas';

// Ingest takes a batch through a hand-written check and asks zod only when that check says no (server/patrols/batch.ts).
// The check must never take a fix the schema refuses, or a bad fix would be stored instead of named in a 400.
describe('the fast fix check agrees with the patrol fix schema', () => {
  const valid = { workerId: 'D01-01-01-001-W1', t: 1_767_000_000_000, lon: 121.5, lat: 31.2, accuracy: 8, speed: 1.2, heading: 90 };
  const variants: Array<[string, unknown]> = [
    ['valid', valid],
    ['without optional fields', { workerId: valid.workerId, t: valid.t, lon: valid.lon, lat: valid.lat }],
    ['ISO time with offset', { ...valid, t: '2026-01-10T09:00:00+08:00' }],
    ['ISO time without offset', { ...valid, t: '2026-01-10T09:00:00' }],
    ['ISO time with a 16-hour offset', { ...valid, t: '2026-01-10T09:00:00+16:00' }],
    ['fractional epoch', { ...valid, t: valid.t + 0.5 }],
    ['negative epoch', { ...valid, t: -1 }],
    ['epoch beyond the date range', { ...valid, t: 8.64e15 + 1 }],
    ['time as a numeric string', { ...valid, t: String(valid.t) }],
    ['no time', { ...valid, t: undefined }],
    ['lon out of range', { ...valid, lon: 180.0001 }],
    ['lon at the edge', { ...valid, lon: -180 }],
    ['lat out of range', { ...valid, lat: -90.5 }],
    ['lat as a string', { ...valid, lat: '31.2' }],
    ['lat NaN', { ...valid, lat: Number.NaN }],
    ['lon infinite', { ...valid, lon: Number.POSITIVE_INFINITY }],
    ['accuracy null', { ...valid, accuracy: null }],
    ['accuracy negative', { ...valid, accuracy: -1 }],
    ['speed too high', { ...valid, speed: 1000.5 }],
    ['heading 360', { ...valid, heading: 360 }],
    ['heading 361', { ...valid, heading: 361 }],
    ['empty worker', { ...valid, workerId: '' }],
    ['worker of 65 characters', { ...valid, workerId: 'W'.repeat(65) }],
    ['worker with a NUL', { ...valid, workerId: 'W\u00001' }],
    ['worker with a newline', { ...valid, workerId: 'W\n1' }],
    ['worker as a number', { ...valid, workerId: 7 }],
    ['an unknown field', { ...valid, altitude: 12 }],
    ['a __proto__ field', JSON.parse(`{"workerId":"W1","t":${valid.t},"lon":121,"lat":31,"__proto__":{"x":1}}`)],
    ['an array', [valid]],
    ['null', null],
  ];

  it.each(variants)('%s', (_label, value) => {
    const schema = patrolFix.safeParse(value);
    expect(isPlainValidFix(value)).toBe(schema.success);
    if (schema.success) expect(schema.data).toEqual(value);
  });

  it('agrees on random fixes around the bounds', () => {
    let state = 17;
    const random = () => (state = (state * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
    const around = (edge: number) => edge + (random() - 0.5) * 2 * (random() < 0.5 ? 1e-9 : 1);
    for (let i = 0; i < 2000; i++) {
      const fix = {
        workerId: random() < 0.05 ? '' : 'W1',
        t: random() < 0.1 ? around(0) : Math.round(random() * 2e12),
        lon: around(random() < 0.5 ? -180 : 180),
        lat: around(random() < 0.5 ? -90 : 90),
        accuracy: around(random() < 0.5 ? 0 : 1e6),
        heading: around(random() < 0.5 ? 0 : 360),
      };
      expect([fix, isPlainValidFix(fix)]).toEqual([fix, patrolFix.safeParse(fix).success]);
    }
  });
});
