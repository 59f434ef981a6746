import { ConfigError, loadConfig } from '../../server/config';
import { workersWanted } from '../../server/supervisor';

describe('configuration from the environment', () => {
  it('has working defaults', () => {
    const config = loadConfig({});
    expect(config.PORT).toBe(8080);
    expect(config.HOST).toBe('127.0.0.1');
    expect(config.DATABASE_URL).toBeUndefined();
  });

  it('names every bad variable in one clear error', () => {
    const attempt = () => loadConfig({ PORT: 'eighty', DATABASE_URL: 'not a url', LOG_LEVEL: 'loud' });
    expect(attempt).toThrow(ConfigError);
    try {
      attempt();
    } catch (error) {
      const message = (error as Error).message;
      expect(message).toMatch(/^invalid configuration/);
      expect(message).toMatch(/PORT:/);
      expect(message).toMatch(/DATABASE_URL:/);
      expect(message).toMatch(/LOG_LEVEL:/);
    }
  });

  it('takes PUBLIC_URL as a list of origins and CITY_EXTENT as a bbox, refusing anything else by name', () => {
    expect(loadConfig({}).PUBLIC_URL).toEqual(['http://127.0.0.1:8080']);
    expect(loadConfig({ HOST: '0.0.0.0', PORT: '9000' }).PUBLIC_URL).toEqual(['http://127.0.0.1:9000']);
    expect(loadConfig({ PUBLIC_URL: 'https://map.city.gov/, http://10.0.0.5:8080' }).PUBLIC_URL).toEqual(['https://map.city.gov', 'http://10.0.0.5:8080']);
    expect(loadConfig({ CITY_EXTENT: '120.5,31.2,120.9,31.4' }).CITY_EXTENT).toEqual([120.5, 31.2, 120.9, 31.4]);
    expect(() => loadConfig({ PUBLIC_URL: 'https://map.city.gov/tiles?x=1' })).toThrow(/PUBLIC_URL/);
    expect(() => loadConfig({ PUBLIC_URL: 'javascript:alert(1)' })).toThrow(/PUBLIC_URL/);
    expect(() => loadConfig({ CITY_EXTENT: '120.9,31.2,120.5,31.4' })).toThrow(/CITY_EXTENT/);
    expect(() => loadConfig({ CITY_EXTENT: '-180,-90,180,90' })).toThrow(/CITY_EXTENT/);
  });

  it('takes the number of server processes from --workers, else WORKERS, refusing anything but 1 to 64', () => {
    expect(loadConfig({}).WORKERS).toBe(1);
    expect(workersWanted([], loadConfig({ WORKERS: '3' }).WORKERS)).toBe(3);
    expect(workersWanted(['--workers', '2'], 3)).toBe(2);
    expect(workersWanted(['--workers=4'], 1)).toBe(4);
    for (const bad of [['--workers'], ['--workers', '0'], ['--workers', '65'], ['--workers', 'two'], ['--workers', '1.5']]) {
      expect(() => workersWanted(bad, 1)).toThrow(/--workers/);
    }
    expect(() => loadConfig({ WORKERS: '0' })).toThrow(/WORKERS/);
    expect(loadConfig({ RUN_SCHEDULERS: 'false' }).RUN_SCHEDULERS).toBe(false);
    expect(() => loadConfig({ RUN_SCHEDULERS: 'maybe' })).toThrow(/RUN_SCHEDULERS/);
  });

  it('rejects a port out of range', () => {
    expect(() => loadConfig({ PORT: '70000' })).toThrow(/PORT/);
  });

  it("takes the city's time zone as an IANA name, Asia/Shanghai by default", () => {
    expect(loadConfig({}).CITY_TIME_ZONE).toBe('Asia/Shanghai');
    expect(loadConfig({ CITY_TIME_ZONE: 'America/New_York' }).CITY_TIME_ZONE).toBe('America/New_York');
    expect(() => loadConfig({ CITY_TIME_ZONE: 'Boston' })).toThrow(/CITY_TIME_ZONE/);
  });
});
