import { applyTexts, languageToggle, type MessageKey, onLanguageChange } from '../shell/messages';

/** The page of a screen still to be built: its title, a "coming" line and the way back. */
export function comingSoon(root: HTMLElement, title: MessageKey): void {
  root.className = 'start';
  root.innerHTML = `
    <header class="start-header"><strong data-text="${title}"></strong></header>
    <main class="start-main"><section class="card"><p id="coming" data-text="coming"></p><a href="/" data-text="backToStart"></a></section></main>`;
  root.querySelector('header')?.append(languageToggle());
  applyTexts(root);
  onLanguageChange(() => applyTexts(root));
  document.body.dataset.ready = 'true';
}
