import { EventEmitter } from 'node:events';
import pg from 'pg';
import type { Queryable } from '../db/pool';
import type { Logger } from '../logger';

/**
 * What changed, as every server process hears it. Published with pg_notify inside the writing transaction, so
 * PostgreSQL delivers it only if (and when) that transaction commits, to every process that listens.
 */
export type ChangeEvent =
  | { kind: 'layer-changed'; layer: string; ids: number[]; bbox: [number, number, number, number] | null }
  | {
      kind: 'incident-changed';
      id: number;
      status: string;
      eventId?: number;
      /** Extent of the incident's point and its level-4 grid: where its changes show on maps. */
      gridBbox?: [number, number, number, number];
      /** Every incident of one intake batch (announced once: `id` is the last, gridBbox covers them all). */
      ids?: number[];
      /**
       * An intake batch's extents grid by grid (null when it spans too many grids to list, absent when the
       * notification would not fit with them): only these changed.
       */
      gridBboxes?: Array<[number, number, number, number]> | null;
      /**
       * Where an intake batch's single incidents lie, [lon, lat] rounded to 1e-6° (absent when the notification would
       * not fit with them): only map features there changed; the grid boxes still cover the grids' counts.
       */
      points?: Array<[number, number]> | null;
    }
  /** New risk predictions were stored (server/risk): the model, when, and the windows they cover. */
  | { kind: 'risk-predicted'; modelVersion: number; issuedAt: string; windows: string[]; units: number }
  /** Grid workers' new positions (server/patrols/live.ts), throttled per worker, for the live stream. */
  | { kind: 'patrol-positions'; positions: Array<{ workerId: string; t: string; lon: number; lat: number; gridId: number | null }> };

const channel = 'citygrid_changes';
/** For set-based writes that notify from their own statement (incident intake). */
export const changeChannel = channel;

/** Call with the transaction's client: the notification then commits or rolls back with the change itself. */
export async function publishChange(db: Queryable, event: ChangeEvent): Promise<void> {
  await db.query('SELECT pg_notify($1, $2)', [channel, JSON.stringify(event)]);
}

/** One LISTEN connection per process, fanning events out to in-process subscribers (tile cache, SSE, ...). */
export class EventBus {
  private readonly emitter = new EventEmitter();
  private client: pg.Client | undefined;
  private stopped = false;

  constructor(
    private readonly connectionString: string,
    private readonly log: Logger,
  ) {
    this.emitter.setMaxListeners(0);
  }

  async start(): Promise<void> {
    this.stopped = false;
    await this.connect();
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({ connectionString: this.connectionString, application_name: 'citygrid-events' });
    client.on('notification', (message) => {
      if (message.channel !== channel || !message.payload) return;
      try {
        this.emitter.emit('change', JSON.parse(message.payload) as ChangeEvent);
      } catch (error) {
        this.log.warn({ err: error }, 'ignoring a malformed change event');
      }
    });
    client.on('error', (error) => {
      // Only the established connection starts a reconnect; a failed attempt is retried by the loop that made it
      // (two loops would listen twice and deliver every event twice).
      if (this.stopped || client !== this.client) return;
      this.log.warn({ err: error }, 'event connection lost; reconnecting');
      void this.reconnect();
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${channel}`);
    } catch (error) {
      void client.end().catch(() => undefined);
      throw error;
    }
    if (this.stopped) {
      await client.end();
      return;
    }
    this.client = client;
  }

  private async reconnect(): Promise<void> {
    this.client = undefined;
    while (!this.stopped) {
      try {
        await this.connect();
        // Anything may have changed while we were deaf: subscribers drop their caches.
        this.emitter.emit('resync');
        return;
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    }
  }

  onChange(listener: (event: ChangeEvent) => void): () => void {
    this.emitter.on('change', listener);
    return () => this.emitter.off('change', listener);
  }

  /** Called after a lost connection came back: events may have been missed. */
  onResync(listener: () => void): () => void {
    this.emitter.on('resync', listener);
    return () => this.emitter.off('resync', listener);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.client?.end().catch(() => undefined);
    this.client = undefined;
  }
}
