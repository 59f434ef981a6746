import { PreconditionRequiredError, StaleVersionError } from '../errors';

/**
 * Optimistic concurrency for a versioned row, checked inside the write's transaction after the row is locked: the
 * version the client last read (If-Match) must still be the row's. `required`: a write without it is refused
 * (428; grids, where two planners editing one area must not overwrite each other); otherwise it writes over
 * whatever is there (features, incidents: phone apps and Open311 clients that never send If-Match keep working).
 */
export function checkVersion(what: string, current: string | number, expected: string | undefined, required: boolean, details: Record<string, unknown> = {}): void {
  if (expected === undefined) {
    if (required) throw new PreconditionRequiredError(`changing ${what} needs If-Match with the version you last read`, details);
    return;
  }
  if (String(current) !== expected) {
    throw new StaleVersionError(`${what} is at version ${current}, not ${expected}: reload and retry`, { ...details, currentVersion: current });
  }
}
