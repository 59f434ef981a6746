import { z } from 'zod';
import type { FieldType } from './types';

export type AttributeType = 'integer' | 'number' | 'string' | 'boolean' | 'date' | 'date-time';

/** One attribute as the rest of the server needs it: name, type, whether it may be null, and its JSON Schema. */
export interface AttributeField {
  name: string;
  type: AttributeType;
  nullable: boolean;
  required: boolean;
  /** JSON Schema of a value (for OpenAPI, OGC queryables and the like). */
  schema: JsonSchema;
}

interface JsonSchema {
  type?: string;
  format?: string;
  anyOf?: JsonSchema[];
  [keyword: string]: unknown;
}

function typeOf(schema: JsonSchema): AttributeType {
  if (schema.type === 'string' && (schema.format === 'date' || schema.format === 'date-time')) return schema.format;
  if (schema.type === 'integer' || schema.type === 'number' || schema.type === 'boolean') return schema.type;
  return 'string';
}

/** The attributes of a layer in declaration order, read from its zod object (one source for every consumer). */
export function attributeFields(attributes: z.ZodObject): AttributeField[] {
  const json = z.toJSONSchema(attributes, { io: 'input', unrepresentable: 'any' }) as { properties: Record<string, JsonSchema>; required?: string[] };
  const required = new Set(json.required ?? []);
  return Object.entries(json.properties).map(([name, schema]) => {
    const options = schema.anyOf ?? [schema];
    const value = options.find((option) => option.type !== 'null') ?? schema;
    return { name, type: typeOf(value), nullable: options.some((option) => option.type === 'null'), required: required.has(name), schema: value };
  });
}

export function fieldType(type: AttributeType): FieldType {
  if (type === 'integer' || type === 'number') return 'Number';
  return type === 'boolean' ? 'Boolean' : 'String';
}

/** SQL of a column as tiles carry it: dates as text, instants as ISO 8601 UTC with Z (MVT has no time type). */
export function attributeSql(type: AttributeType, column: string): string {
  if (type === 'date') return `${column}::text`;
  if (type === 'date-time') return `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')`;
  return column;
}
