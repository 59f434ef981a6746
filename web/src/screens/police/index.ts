import { comingSoon } from '../coming';

/** Police analysis: built by its own issue on this shell. */
export function mount(root: HTMLElement): void {
  comingSoon(root, 'screenPolice');
}
