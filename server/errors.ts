/**
 * Domain errors thrown by services (which know nothing of HTTP). server/http/problem.ts maps each class to one
 * status in one table, so every route answers the same way.
 */
export class DomainError extends Error {
  constructor(
    message: string,
    /** Extra members for the problem document: the rule broken, the offending geometry, allowed values... */
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class NotFoundError extends DomainError {}
/** The request is well-formed but breaks a rule of the domain (invalid geometry, outside parent, ...). */
export class RuleViolationError extends DomainError {}
/** The change conflicts with the current state (invalid transition, still referenced, duplicate). */
export class ConflictError extends DomainError {}
/** Optimistic locking: the caller's version is stale. */
export class StaleVersionError extends DomainError {}
export class PreconditionRequiredError extends DomainError {}
export class ForbiddenError extends DomainError {}
export class UnauthorizedError extends DomainError {}
export class BadRequestError extends DomainError {}
export class PayloadTooLargeError extends DomainError {}
export class UnsupportedMediaTypeError extends DomainError {}
/** An Idempotency-Key sent again with a different request: the first request's answer does not fit it. */
export class IdempotencyKeyReusedError extends DomainError {}
/** The server has no capacity for this now (heavy work queue full, no free connection); the client may retry. */
export class ServerBusyError extends DomainError {}
