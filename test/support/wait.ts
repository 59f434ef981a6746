import type { ChangeEvent, EventBus } from '../../server/events/bus';

/**
 * Resolves once `check` holds, asked again after each short pause: for what only the database's own view shows
 * (a statement waiting on a lock). Fails after `timeoutMs` naming what it waited for, so a missed moment is a
 * failure, never a pass.
 */
export async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`waited ${timeoutMs} ms for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** The change events the bus delivers from now on, and a way to wait until enough of them have arrived. */
export function watchChanges(bus: Pick<EventBus, 'onChange'>) {
  const events: ChangeEvent[] = [];
  let wake: (() => void) | undefined;
  const stop = bus.onChange((event) => {
    events.push(event);
    wake?.();
  });
  return {
    events,
    stop,
    /** Resolves when `predicate` holds for the events so far; fails after `timeoutMs` listing what arrived. */
    async until(predicate: (events: ChangeEvent[]) => boolean, timeoutMs = 10_000): Promise<void> {
      const deadline = Date.now() + timeoutMs;
      while (!predicate(events)) {
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`no such change events within ${timeoutMs} ms; received ${JSON.stringify(events)}`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    },
  };
}
