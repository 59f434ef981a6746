import { z } from 'zod';
import { isoDateTime, wholeNumber } from '../http/request-schemas';

/** Ids one GET requests.json may name: all of them are read in one query. */
export const maxRequestIds = 100;

/** GeoReport v2 POST fields; lat/long arrive as strings from form-encoded clients. */
export const open311RequestBody = z
  .object({
    service_code: z.string().min(1).max(50),
    lat: z.coerce.number().min(-90).max(90),
    long: z.coerce.number().min(-180).max(180),
    description: z.string().max(4000).optional(),
    media_url: z.string().url().max(2000).refine((url) => /^https?:\/\//.test(url), 'media_url must be http(s)').optional(),
    email: z.string().email().max(200).optional(),
    phone: z.string().max(50).optional(),
    first_name: z.string().max(100).optional(),
    last_name: z.string().max(100).optional(),
    /** A citygrid API token of a role that may report incidents (README: Open311). */
    api_key: z.string().min(1).max(200),
    jurisdiction_id: z.string().max(100).optional(),
    device_id: z.string().max(200).optional(),
    address_string: z.string().max(500).optional(),
  })
  .strict();
export type Open311RequestBody = z.infer<typeof open311RequestBody>;

export const open311RequestsQuery = z
  .object({
    service_request_id: z
      .string()
      .regex(/^\d{1,15}(,\d{1,15})*$/, 'comma-separated request ids')
      .refine((text) => text.split(',').length <= maxRequestIds, `at most ${maxRequestIds} request ids`)
      .transform((text) => [...new Set(text.split(',').map(Number))])
      .optional(),
    service_code: z.string().max(50).optional(),
    start_date: isoDateTime.optional(),
    end_date: isoDateTime.optional(),
    status: z.enum(['open', 'closed']).optional(),
    jurisdiction_id: z.string().max(100).optional(),
    // Clients send their key on every call; reading is public, so it is accepted and not needed.
    api_key: z.string().max(200).optional(),
  })
  .strict();
export type Open311RequestsQuery = z.infer<typeof open311RequestsQuery>;

/** GeoReport v2 errors: an array of {code, description}, the code repeating the HTTP status. */
export const open311Errors = z.array(z.object({ code: z.number().int(), description: z.string() }));

export const serviceCodeParams = z.object({ code: z.string().min(1).max(50) }).strict();
export const requestIdParams = z.object({ id: wholeNumber({ min: 1 }) }).strict();

// Answers (GeoReport v2, JSON format).
export const servicesAnswer = z.array(
  z.object({ service_code: z.string(), service_name: z.string(), description: z.string(), metadata: z.boolean(), type: z.string(), keywords: z.string(), group: z.string() }),
);

export const serviceDefinitionAnswer = z.object({ service_code: z.string(), attributes: z.array(z.unknown()) });

export const requestsAnswer = z.array(
  z.object({
    service_request_id: z.string(),
    status: z.enum(['open', 'closed']),
    status_notes: z.string(),
    service_name: z.string(),
    service_code: z.string().nullable(),
    description: z.string().nullable(),
    agency_responsible: z.string().nullable(),
    service_notice: z.string().nullable(),
    requested_datetime: z.string(),
    updated_datetime: z.string(),
    expected_datetime: z.string().nullable(),
    address: z.string().nullable(),
    lat: z.number(),
    long: z.number(),
    media_url: z.string().nullable(),
  }),
);

export const filedRequestAnswer = z.array(z.object({ service_request_id: z.string(), service_notice: z.string(), account_id: z.null() }));
