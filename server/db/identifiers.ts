import pg from 'pg';

/**
 * The one way a name (table, column) reaches SQL text: double-quoted, so that no name, however it is spelled, is
 * read as SQL. Values are never spliced at all: they are bound parameters.
 */
export function identifier(name: string): string {
  return pg.escapeIdentifier(name);
}

/** A table with an alias, for FROM and JOIN: `"buildings" t`. */
export function tableAs(table: string, alias: string): string {
  return `${identifier(table)} ${alias}`;
}

/** A name as an SQL string literal, where SQL needs the name as text (a JSON key). */
export function nameLiteral(name: string): string {
  return pg.escapeLiteral(name);
}
