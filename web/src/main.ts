import './style.css';
import { language, setLanguage } from './shell/messages';
import { screens } from './shell/screens';

/** One page, one screen per route (the server answers every screen path with this page). */
async function route(): Promise<void> {
  setLanguage(language());
  const root = document.getElementById('app') as HTMLElement;
  const path = location.pathname.replace(/\/$/, '') || '/';
  const screen = screens.find((candidate) => candidate.path === path);
  const module = screen ? await screen.load() : await import('./screens/start');
  await module.mount(root);
}

route().catch((error: Error) => {
  document.body.dataset.ready = 'error';
  document.body.append(`error: ${error.message}`);
});
