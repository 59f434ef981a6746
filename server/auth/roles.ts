export const roles = ['admin', 'planner', 'commander', 'police', 'grid_worker', 'hotline'] as const;
export type Role = (typeof roles)[number];

/** Who made a request: attached by the auth middleware, passed to services that apply role rules. */
export interface Actor {
  tokenId: number;
  role: Role;
  label: string | null;
  /** For grid workers: the level-4 grids they serve; empty for every other role. */
  gridIds: number[];
  /** For grid workers: the worker id (grids.workers) whose GPS fixes they post and read; null when unbound. */
  worker?: string | null;
}

export const allRoles: readonly Role[] = roles;
/** Who sees accident risk: the police who deploy on it, the command centre, admins. */
export const riskRoles: readonly Role[] = ['police', 'commander', 'admin'];
