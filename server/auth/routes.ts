import type { AppDeps } from '../deps';
import { defineRoute } from '../http/route';
import { z } from 'zod';
import { allRoles, roles } from './roles';

const sessionAnswer = z.object({ role: z.enum(roles), label: z.string().nullable() });
import { jsonAnswer } from '../http/request-schemas';

/** Who the token belongs to: the web app's start page lists the screens this role may open. */
export function sessionRoutes(_deps: AppDeps) {
  return [
    defineRoute({
      method: 'get',
      path: '/api/session',
      operationId: 'getSession',
      responses: jsonAnswer(sessionAnswer),
      summary: "The bearer token's role and label",
      tag: 'auth',
      access: allRoles,
      handler(ctx, { actor }) {
        ctx.set('Cache-Control', 'no-store');
        ctx.body = { role: actor?.role, label: actor?.label ?? null };
      },
    }),
  ];
}
