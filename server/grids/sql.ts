// The grids domain's SQL. Other domains' statements read grids only through the fragments at the top of this file
// (a grid's worker, outline, name), never the table itself, so the grids table can change in one place.

/** The first worker of the grid whose id is the SQL expression `gridId` (NULL when there is no such grid). */
export function gridFirstWorker(gridId: string): string {
  return `(SELECT g.workers[1] FROM grids g WHERE g.id = ${gridId})`;
}

/** The outline (EPSG:4326) of the grid whose id is the SQL expression `gridId` (NULL when there is no such grid). */
export function gridOutline(gridId: string): string {
  return `(SELECT g.geom FROM grids g WHERE g.id = ${gridId})`;
}

/**
 * What other domains may read of every grid, as a relation to join or select from: `JOIN ${gridFacts} g ON g.id = …`.
 * The planner folds it into the statement, so it costs what reading the table would.
 */
export const gridFacts = '(SELECT id, code, name, level, parent_id, workers[1] AS first_worker, geom FROM grids)';
