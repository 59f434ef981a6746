import { comingSoon } from '../coming';

/** Grid planning: built by its own issue on this shell. */
export function mount(root: HTMLElement): void {
  comingSoon(root, 'screenPlanner');
}
