import pg from 'pg';

/**
 * The one way a name (table, column) reaches SQL text: double-quoted, so that no name, however it is spelled, is
 * read as SQL. Values are never spliced at all: they are bound parameters.
 */
export function identifier(name: string): string {
  return pg.escapeIdentifier(name);
}

/** `schema.table`-free table reference with an alias: `"buildings" t`. */
export function tableAs(table: string, alias: string): string {
  return `${identifier(table)} ${alias}`;
}
