import type { Role } from './api';
import type { MessageKey } from './messages';

/** A screen of the app: its route, who may open it, and how it is loaded (each is its own chunk). */
export interface Screen {
  path: string;
  title: MessageKey;
  hint: MessageKey;
  roles: readonly Role[];
  load: () => Promise<{ mount: (root: HTMLElement) => void | Promise<void> }>;
}

export const screens: Screen[] = [
  { path: '/wall', title: 'screenWall', hint: 'screenWallHint', roles: ['admin', 'commander'], load: () => import('../screens/wall') },
  { path: '/planner', title: 'screenPlanner', hint: 'screenPlannerHint', roles: ['admin', 'planner'], load: () => import('../screens/planner') },
  { path: '/police', title: 'screenPolice', hint: 'screenPoliceHint', roles: ['admin', 'commander', 'police'], load: () => import('../screens/police') },
  {
    path: '/map',
    title: 'screenMap',
    hint: 'screenMapHint',
    roles: ['admin', 'planner', 'commander', 'police', 'grid_worker', 'hotline'],
    load: () => import('../screens/map'),
  },
];
