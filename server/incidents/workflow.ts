import type { Role } from '../auth/roles';

/**
 * The 4268 closed loop as one state machine. 发现 reported → 受理 accepted → 分流 dispatched → 处置 handling →
 * 跟踪 tracking → 督办 supervising → 反馈 feedback → 评价 closed (with a satisfaction score). Every allowed move is
 * one row of `transitions`, with the roles that may make it; nothing else may change an incident's status.
 */
export const statuses = ['reported', 'accepted', 'dispatched', 'handling', 'tracking', 'supervising', 'feedback', 'closed', 'rejected'] as const;
export type Status = (typeof statuses)[number];

export const finalStatuses: readonly Status[] = ['closed', 'rejected'];
export const openStatuses: readonly Status[] = statuses.filter((status) => !finalStatuses.includes(status));

export const stageNames: Record<Status, string> = {
  reported: '发现',
  accepted: '受理',
  dispatched: '分流',
  handling: '处置',
  tracking: '跟踪',
  supervising: '督办',
  feedback: '反馈',
  closed: '评价',
  rejected: '不予受理',
};

export interface Transition {
  from: Status;
  to: Status;
  roles: readonly Role[];
  /** Why the move exists, shown in the 409 answer listing the allowed moves. */
  meaning: string;
}

/** Who may report incidents (HTTP intake, and the tokens Open311 clients use as api_key). */
export const reporterRoles: readonly Role[] = ['admin', 'commander', 'hotline', 'grid_worker', 'police'];
/** Who may read incidents, their timelines and their photos. */
export const readerRoles: readonly Role[] = ['admin', 'planner', 'commander', 'hotline', 'grid_worker', 'police'];

const centre: readonly Role[] = ['commander', 'hotline'];
const handlers: readonly Role[] = ['grid_worker', 'police'];

export const transitions: readonly Transition[] = [
  { from: 'reported', to: 'accepted', roles: centre, meaning: 'accept the report' },
  { from: 'reported', to: 'rejected', roles: centre, meaning: 'reject an invalid report' },
  { from: 'accepted', to: 'dispatched', roles: ['commander'], meaning: 'dispatch to the responsible department' },
  { from: 'dispatched', to: 'dispatched', roles: ['commander'], meaning: 'reassign to another department' },
  { from: 'dispatched', to: 'accepted', roles: handlers, meaning: 'department refuses: back to the command centre' },
  { from: 'dispatched', to: 'handling', roles: handlers, meaning: 'department starts handling' },
  { from: 'handling', to: 'tracking', roles: handlers, meaning: 'handled; the centre verifies the result' },
  { from: 'tracking', to: 'handling', roles: ['commander'], meaning: 'not resolved: back to handling' },
  { from: 'tracking', to: 'feedback', roles: ['commander'], meaning: 'verified; feed back to the reporter' },
  { from: 'dispatched', to: 'supervising', roles: ['commander'], meaning: 'open supervision (督办)' },
  { from: 'handling', to: 'supervising', roles: ['commander'], meaning: 'open supervision (督办)' },
  { from: 'tracking', to: 'supervising', roles: ['commander'], meaning: 'open supervision (督办)' },
  { from: 'supervising', to: 'handling', roles: handlers, meaning: 'department resumes handling under supervision' },
  { from: 'supervising', to: 'dispatched', roles: ['commander'], meaning: 'reassign under supervision' },
  { from: 'feedback', to: 'closed', roles: centre, meaning: 'reporter evaluates (评价); case closed' },
];

/** Moves the scheduler makes without a person: an overdue stage opens supervision, overdue supervision raises its level. */
export const escalableStatuses: readonly Status[] = ['dispatched', 'handling', 'tracking', 'supervising'];

export function allowedFrom(from: Status, role: Role): Transition[] {
  return transitions.filter((t) => t.from === from && t.roles.includes(role));
}

export function findTransition(from: Status, to: Status): Transition | undefined {
  return transitions.find((t) => t.from === from && t.to === to);
}

export interface StageHours {
  accept_hours: number;
  dispatch_hours: number;
  handle_hours: number;
  feedback_hours: number;
  supervise_hours: number;
}

/**
 * Hours the incident may stay in the stage it enters, or null when that stage has no deadline of its own:
 * handling keeps the deadline set at dispatch (or at supervision), final states end the clock. Supervision has its
 * own deadline so an incident left under supervision is escalated again.
 */
export function stageHours(entering: Status, hours: StageHours): number | null | 'keep' {
  switch (entering) {
    case 'reported':
      return hours.accept_hours;
    case 'accepted':
      return hours.dispatch_hours;
    case 'dispatched':
      return hours.handle_hours;
    case 'handling':
      return 'keep';
    case 'tracking':
    case 'feedback':
      return hours.feedback_hours;
    case 'supervising':
      return hours.supervise_hours;
    default:
      return null;
  }
}
