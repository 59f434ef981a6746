import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { embeddedClusterStatus, ensureEmbeddedCluster, stopEmbeddedCluster } from '../../server/db/embedded';

// Only where the tests run the embedded cluster themselves (PostGIS and the postgres user are then set up).
const embedded = !process.env.DATABASE_URL;

(embedded ? describe : describe.skip)('embedded cluster', () => {
  jest.setTimeout(90_000);

  it('starts on the next free port when its port is taken, and reports the port it took', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const taken = (blocker.address() as net.AddressInfo).port;
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'citygrid-embedded-'));
    const cluster = { home, port: taken, database: 'postgres', log: () => undefined };
    try {
      const url = ensureEmbeddedCluster(cluster);
      const port = Number(new URL(url).port);
      expect(port).toBeGreaterThan(taken);
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      const { rows } = await client.query<{ port: string }>('SHOW port');
      await client.end();
      expect(Number(rows[0].port)).toBe(port);
      // A second call finds it running and gives the same address, though the configured port is still taken.
      expect(ensureEmbeddedCluster(cluster)).toBe(url);
      expect(embeddedClusterStatus(cluster)).toContain(`127.0.0.1:${port}`);
    } finally {
      stopEmbeddedCluster(cluster);
      blocker.close();
      fs.rmSync(home, { recursive: true, force: true });
    }
  });
});
