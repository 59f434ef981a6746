import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** A fresh temporary folder for the suite (beforeAll), removed with everything in it after the suite. */
export function useTempFolder(prefix: string): { readonly path: string } {
  let folder: string | undefined;
  beforeAll(() => {
    folder = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  });
  afterAll(() => folder && fs.rmSync(folder, { recursive: true, force: true }));
  return {
    get path() {
      if (!folder) throw new Error('useTempFolder: the folder exists only inside tests and hooks');
      return folder;
    },
  };
}
