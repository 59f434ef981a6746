/**
 * Boundary edits not saved yet, kept in this browser (localStorage) so an accidental reload loses nothing: one
 * draft per grid, with the version it was drawn on (the If-Match of its save).
 */
export interface Draft {
  gridId: number;
  code: string;
  name: string;
  baseVersion: number;
  geometry: GeoJSON.Polygon;
  savedAt: string;
}

const draftsKey = 'citygrid.planner.drafts';

export function listDrafts(): Draft[] {
  try {
    const stored = JSON.parse(localStorage.getItem(draftsKey) ?? '[]') as Draft[];
    return Array.isArray(stored) ? stored : [];
  } catch {
    return [];
  }
}

export function keepDraft(draft: Draft): void {
  localStorage.setItem(draftsKey, JSON.stringify([draft, ...listDrafts().filter((other) => other.gridId !== draft.gridId)]));
}

export function dropDraft(gridId: number): void {
  localStorage.setItem(draftsKey, JSON.stringify(listDrafts().filter((draft) => draft.gridId !== gridId)));
}

export const draftOf = (gridId: number) => listDrafts().find((draft) => draft.gridId === gridId);
