import { ApiError, apiToken, session, signIn, signOut } from '../../shell/api';
import { applyTexts, languageToggle, onLanguageChange, t } from '../../shell/messages';
import { screens } from '../../shell/screens';

/** The start page: sign in with a token, then the screens this token's role may open. */
export async function mount(root: HTMLElement): Promise<void> {
  root.className = 'start';
  const token = apiToken();
  const who = token ? await session().catch((error: unknown) => (error instanceof ApiError && error.status === 401 ? null : Promise.reject(error))) : null;
  if (token && !who) signOut();
  root.innerHTML = `
    <header class="start-header"><strong data-text="appTitle"></strong></header>
    <main class="start-main"></main>`;
  root.querySelector('header')?.append(languageToggle());
  const main = root.querySelector('main') as HTMLElement;
  if (!who) {
    main.innerHTML = `
      <form id="sign-in" class="card">
        <h1 data-text="signInTitle"></h1>
        <p data-text="signInHint"></p>
        <label><span data-text="tokenLabel"></span> <input name="token" autocomplete="off" size="48" required></label>
        <button type="submit" data-text="signIn"></button>
        ${token ? '<p class="error" data-text="badToken"></p>' : ''}
      </form>`;
    main.querySelector('form')?.addEventListener('submit', (event) => {
      event.preventDefault();
      signIn(new FormData(event.target as HTMLFormElement).get('token') as string);
      void mount(root);
    });
  } else {
    const allowed = screens.filter((screen) => screen.roles.includes(who.role));
    main.innerHTML = `
      <section class="card">
        <p><span data-text="signedInAs"></span>: <b id="role">${who.role}</b>${who.label ? ` · ${escapeHtml(who.label)}` : ''}
          <button id="sign-out" data-text="signOut"></button></p>
        <h1 data-text="screens"></h1>
        <ul id="screens">${allowed.map((screen) => `<li><a href="${screen.path}"><b data-text="${screen.title}"></b></a> <span data-text="${screen.hint}"></span></li>`).join('')}</ul>
        ${allowed.length ? '' : '<p data-text="noScreens"></p>'}
      </section>`;
    main.querySelector('#sign-out')?.addEventListener('click', () => {
      signOut();
      location.href = '/';
    });
  }
  applyTexts(root);
  onLanguageChange(() => applyTexts(root));
  document.title = t('appTitle');
  document.body.dataset.ready = 'true';
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
