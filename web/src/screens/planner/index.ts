import '../../map/setup';
import './planner.css';
import { area, bbox, booleanIntersects } from '@turf/turf';
import type { LngLatBoundsLike } from 'maplibre-gl';
import { ApiError, apiToken } from '../../shell/api';
import { formatDateTime } from '../../shell/format';
import { applyTexts, languageToggle, onLanguageChange, t } from '../../shell/messages';
import { openDarkCityMap } from '../../map/dark-city-map';
import * as api from './data';
import type { GridFeature, HistoryEntry } from './data';
import { type Draft, draftOf, dropDraft, keepDraft, listDrafts } from './drafts';
import { BoundaryEditor, editablePolygon } from './editor';
import { addPlannerLayers, showFeatures } from './layers';
import { detailsHtml, escapeHtml, historyHtml, importReportHtml, levelNames, m2, neighbourChoices, piecesTable, rebalanceHtml, verdictHtml } from './panels';

const layout = `
  <header class="planner-header"><h1 data-text="plannerTitle"></h1><div class="planner-meta"><span id="planner-status"></span></div></header>
  <aside class="planner-left">
    <input id="grid-search" type="search" autocomplete="off" />
    <ul id="grid-tree"></ul>
    <section id="drafts-section"><h2 data-text="plannerDrafts"></h2><ul id="drafts"></ul></section>
  </aside>
  <div id="planner-map"></div>
  <aside class="planner-right">
    <section id="grid-details"><p class="hint" data-text="plannerPickGrid"></p></section>
    <section id="tools">
      <button id="tool-edit" data-text="plannerEdit"></button><button id="tool-split" data-text="plannerSplit"></button>
      <button id="tool-merge" data-text="plannerMerge"></button><button id="tool-delete" data-text="plannerDeleteInto"></button>
      <button id="tool-rebalance" data-text="plannerRebalance"></button><button id="tool-import" data-text="plannerImport"></button>
    </section>
    <section id="work"></section>
    <section id="history-section"><h2 data-text="plannerHistory"></h2><ol id="history"></ol></section>
  </aside>
  <dialog id="conflict-dialog"><h2 data-text="plannerConflictTitle"></h2><p id="conflict-text"></p>
    <div class="buttons"><button id="conflict-reload" data-text="plannerReload"></button><button id="conflict-compare" data-text="plannerCompare"></button>
    <button id="conflict-close" data-text="plannerClose"></button></div></dialog>`;

/**
 * The planner's grid editor: the grid tree beside the map, a grid's figures and history, and every grid operation
 * of the API (edit with the server's verdict first, split, merge, delete into a neighbour, rebalance, revert,
 * import). Writes send If-Match; a 412 opens the conflict dialog. Unsaved boundaries stay in localStorage.
 */
export async function mount(root: HTMLElement): Promise<void> {
  root.className = 'planner';
  root.innerHTML = layout;
  root.querySelector('.planner-meta')?.append(languageToggle());
  const element = <T extends HTMLElement>(selector: string) => root.querySelector(selector) as T;
  const status = (text: string) => (element('#planner-status').textContent = text);
  if (!apiToken()) {
    status(t('noToken'));
    document.body.dataset.ready = 'error';
    return;
  }
  const grids = new Map<number, GridFeature>();
  const childrenOf = (id: number | null) => [...grids.values()].filter((grid) => grid.properties.parentId === id).sort((a, b) => a.properties.code.localeCompare(b.properties.code));
  const ancestors = (id: number) => {
    const chain: GridFeature[] = [];
    for (let grid = grids.get(id); grid?.properties.parentId; grid = grids.get(grid.properties.parentId)) {
      const parent = grids.get(grid.properties.parentId);
      if (parent) chain.unshift(parent);
    }
    return chain;
  };
  const leavesUnder = (id: number): number[] => {
    const grid = grids.get(id);
    if (!grid) return [];
    return grid.properties.level === 4 ? [id] : childrenOf(id).flatMap((child) => leavesUnder(child.id));
  };
  let selectedId: number | null = null;
  const selected = () => (selectedId === null ? undefined : grids.get(selectedId));

  const map = await openDarkCityMap(element('#planner-map'));
  addPlannerLayers(map);
  const editor = new BoundaryEditor(map);
  // For whoever drives the page (a browser test acting with the mouse): where a place is on screen.
  const mapBox = () => element('#planner-map').getBoundingClientRect();
  (window as unknown as { citygridPlanner: unknown }).citygridPlanner = {
    project: (lngLat: [number, number]) => {
      const point = map.project(lngLat);
      return [mapBox().left + point.x, mapBox().top + point.y];
    },
    unproject: ([x, y]: [number, number]) => map.unproject([x - mapBox().left, y - mapBox().top]).toArray(),
  };
  const settled = () => new Promise<void>((resolve) => map.once('idle', () => resolve()));

  // Work runs one piece at a time; data-busy tells a watcher (or a test) that an answer is pending.
  let pending = Promise.resolve();
  const queue = (work: () => Promise<void>) => {
    root.dataset.busy = 'true';
    pending = pending
      .then(work)
      .catch((error: Error) => showError(error))
      .finally(() => delete root.dataset.busy);
    return pending;
  };
  const showError = (error: Error) => {
    if (error instanceof ApiError && error.status === 412) return void openConflict().catch((failure: Error) => status(failure.message));
    status(error.message);
    element('#planner-status').dataset.error = 'true';
  };

  // ---- the tree --------------------------------------------------------------------------------------------
  const search = element<HTMLInputElement>('#grid-search');
  const treeNode = (grid: GridFeature, open: Set<number>): string => {
    const kids = open.has(grid.id) ? childrenOf(grid.id) : [];
    const draft = draftOf(grid.id) ? ' •' : '';
    return `<li data-grid-id="${grid.id}" data-level="${grid.properties.level}"${grid.id === selectedId ? ' class="selected"' : ''}>
      <button class="tree-node" data-grid-id="${grid.id}">${escapeHtml(grid.properties.code)} ${escapeHtml(grid.properties.name)}${draft}</button>
      ${kids.length ? `<ul>${kids.map((kid) => treeNode(kid, open)).join('')}</ul>` : ''}</li>`;
  };
  const renderTree = () => {
    const query = search.value.trim().toLowerCase();
    const tree = element('#grid-tree');
    if (query) {
      const hits = [...grids.values()].filter((grid) => grid.properties.code.toLowerCase().includes(query) || grid.properties.name.toLowerCase().includes(query)).slice(0, 200);
      tree.innerHTML = hits.map((grid) => treeNode(grid, new Set())).join('');
      return;
    }
    const open = new Set<number>(selectedId === null ? [] : [...ancestors(selectedId).map((grid) => grid.id), selectedId]);
    tree.innerHTML = childrenOf(null).map((grid) => treeNode(grid, open)).join('');
    tree.querySelector('li.selected')?.scrollIntoView({ block: 'nearest' });
  };
  search.addEventListener('input', renderTree);
  element('#grid-tree').addEventListener('click', (event) => {
    const id = Number((event.target as HTMLElement).closest<HTMLElement>('.tree-node')?.dataset.gridId);
    if (id) void queue(() => select(id, { fly: true }));
  });
  map.on('click', 'siblings-fill', (event) => {
    if (tool !== 'none') return;
    const id = Number(event.features?.[0]?.properties?.id);
    if (id && id !== selectedId) void queue(() => select(id, { fly: false }));
  });

  // ---- selection: map, figures, history ---------------------------------------------------------------------
  const reloadGrids = async () => {
    grids.clear();
    for (const grid of await api.allGrids()) grids.set(grid.id, grid);
  };
  const siblingsOf = (grid: GridFeature) => childrenOf(grid.properties.parentId).filter((other) => other.properties.level === grid.properties.level);
  const neighboursOf = (grid: GridFeature) => siblingsOf(grid).filter((other) => other.id !== grid.id && booleanIntersects(other, grid));
  const drawSelection = () => {
    const grid = selected();
    const around = grid ? [...siblingsOf(grid), ...childrenOf(grid.id)] : [];
    showFeatures(map, 'siblings', around.map((other) => ({ ...other, properties: { ...other.properties, id: other.id } })));
    showFeatures(map, 'selected', grid ? [grid] : []);
  };
  const select = async (id: number, { fly }: { fly: boolean }) => {
    stopTool();
    selectedId = id;
    root.dataset.selected = String(id);
    const grid = grids.get(id) as GridFeature;
    renderTree();
    drawSelection();
    if (fly) map.fitBounds(bbox(grid) as LngLatBoundsLike, { padding: 80, duration: 600 });
    await Promise.all([showDetails(grid), showHistory(grid)]);
    if (fly) await settled();
  };
  const showDetails = async (grid: GridFeature) => {
    const [stats, incidents] = await Promise.all([api.gridStats(grid.id), api.recentIncidents(leavesUnder(grid.id))]);
    element('#grid-details').innerHTML = detailsHtml(grid, ancestors(grid.id), stats, incidents);
  };
  const showHistory = async (grid: GridFeature) => {
    element('#history').innerHTML = historyHtml(await api.gridHistory(grid.id), grid.properties.version);
  };
  element('#history').addEventListener('click', (event) => {
    const version = Number((event.target as HTMLElement).closest<HTMLElement>('button.revert')?.dataset.version);
    const grid = selected();
    if (!version || !grid) return;
    void queue(async () => {
      await api.revert(grid.id, grid.properties.version, version);
      await afterWrite(grid.id);
    });
  });
  const afterWrite = async (id: number) => {
    stopTool();
    await reloadGrids();
    const still = grids.has(id) ? id : null;
    if (still === null) {
      selectedId = null;
      renderTree();
      drawSelection();
      return;
    }
    await select(still, { fly: false });
    status(t('plannerSaved'));
  };

  // ---- tools ------------------------------------------------------------------------------------------------
  let tool: 'none' | 'edit' | 'split' | 'merge' | 'delete' | 'rebalance' | 'import' = 'none';
  const work = element('#work');
  const stopTool = () => {
    tool = 'none';
    root.dataset.tool = tool;
    editor.stop();
    work.innerHTML = '';
    for (const source of ['proposal', 'verdict', 'compare']) showFeatures(map, source, []);
  };
  const startTool = (next: typeof tool) => {
    stopTool();
    tool = next;
    root.dataset.tool = next;
  };
  const needGrid = () => {
    const grid = selected();
    if (!grid) status(t('plannerPickGrid'));
    return grid;
  };
  /** A tool button that works on the selected grid. */
  const gridTool = (button: string, name: typeof tool, open: (grid: GridFeature) => void) =>
    element(button).addEventListener('click', () => {
      const grid = needGrid();
      if (!grid) return;
      startTool(name);
      open(grid);
    });

  // Edit: terra-draw with snapping; every change is kept as a draft; check asks the server's verdict.
  let editing: { grid: GridFeature; geometry: GeoJSON.Polygon; baseVersion: number } | null = null;
  const startEdit = (grid: GridFeature, draft?: Draft) => {
    const polygon = draft?.geometry ?? editablePolygon(grid.geometry);
    if (!polygon) return status(t('plannerMultiPart'));
    startTool('edit');
    editing = { grid, geometry: polygon, baseVersion: draft?.baseVersion ?? grid.properties.version };
    const parent = grid.properties.parentId === null ? undefined : grids.get(grid.properties.parentId);
    const neighbours = [...siblingsOf(grid).filter((other) => other.id !== grid.id), ...(parent ? [parent] : [])].map((other) => other.geometry);
    work.innerHTML = `<h2>${t('plannerEdit')}</h2><p class="hint">${t('plannerEditHint')}</p><div id="edit-area"></div>
      <div class="buttons"><button id="edit-check">${t('plannerCheck')}</button><button id="edit-save">${t('plannerSave')}</button><button id="edit-cancel">${t('plannerCancel')}</button></div>
      <div id="verdict"></div>`;
    const showArea = () => (element('#edit-area').textContent = `${t('plannerArea')} ${m2(area(editing!.geometry))}`);
    showArea();
    editor.edit(polygon, neighbours, (geometry) => {
      if (!editing) return;
      editing.geometry = geometry;
      keepDraft({ gridId: grid.id, code: grid.properties.code, name: grid.properties.name, baseVersion: editing.baseVersion, geometry, savedAt: new Date().toISOString() });
      root.dataset.draftSaved = String(Date.now());
      showArea();
      renderDrafts();
    });
    element('#edit-check').addEventListener('click', () => void queue(checkEdit));
    element('#edit-save').addEventListener('click', () => void queue(saveEdit));
    element('#edit-cancel').addEventListener('click', () => {
      dropDraft(grid.id);
      renderDrafts();
      stopTool();
    });
  };
  const checkEdit = async () => {
    if (!editing) return;
    const verdict = await api.checkBoundary(editing.grid.id, editing.baseVersion, editing.geometry);
    showFeatures(map, 'verdict', verdict.gaps.features as GeoJSON.Feature[]);
    const box = element('#verdict');
    box.dataset.accepted = String(verdict.accepted);
    box.innerHTML = verdictHtml(verdict);
  };
  const saveEdit = async () => {
    if (!editing) return;
    const { grid, geometry, baseVersion } = editing;
    await api.saveBoundary(grid.id, baseVersion, geometry);
    dropDraft(grid.id);
    renderDrafts();
    await afterWrite(grid.id);
  };
  element('#tool-edit').addEventListener('click', () => {
    const grid = needGrid();
    if (grid) startEdit(grid, draftOf(grid.id));
  });

  // Split: draw a line (click the points, Enter to finish), see the two pieces, commit.
  gridTool('#tool-split', 'split', (grid) => {
    work.innerHTML = `<h2>${t('plannerSplit')}</h2><p class="hint">${t('plannerSplitHint')}</p><div id="split-preview"></div>`;
    editor.drawLine((line) => void queue(async () => {
      const pieces = await api.splitPreview(grid.id, line);
      showProposal(pieces.map((piece, index) => ({ ...piece, properties: { ...piece.properties, colour: index === 0 ? '#3ddc97' : '#37c3ff' } })));
      element('#split-preview').innerHTML = `${piecesTable(pieces)}<div class="buttons"><button id="split-commit">${t('plannerCommit')}</button></div>`;
      element('#split-commit').addEventListener('click', () => void queue(async () => {
        await api.splitCommit(grid.id, grid.properties.version, line);
        await afterWrite(grid.id);
      }));
    }));
  });
  const showProposal = (features: GeoJSON.Feature[]) => showFeatures(map, 'proposal', features);


  // Merge: tick neighbours, preview the union, commit (the selected grid survives).
  gridTool('#tool-merge', 'merge', (grid) => {
    const neighbours = neighboursOf(grid);
    work.innerHTML = `<h2>${t('plannerMerge')}</h2><p class="hint">${t('plannerMergeHint')}</p>
      ${neighbourChoices(neighbours, 'checkbox')}
      <div class="buttons"><button id="merge-preview">${t('plannerPreview')}</button><button id="merge-commit" disabled>${t('plannerCommit')}</button></div><div id="merge-result"></div>`;
    const ticked = () => [...work.querySelectorAll<HTMLInputElement>('.choices input:checked')].map((input) => Number(input.value));
    element('#merge-preview').addEventListener('click', () => void queue(async () => {
      const ids = [grid.id, ...ticked()];
      const merged = await api.mergePreview(ids);
      showProposal(merged);
      element('#merge-result').innerHTML = piecesTable(merged);
      element<HTMLButtonElement>('#merge-commit').disabled = false;
    }));
    element('#merge-commit').addEventListener('click', () => void queue(async () => {
      const ids = [grid.id, ...ticked()];
      await api.mergeCommit(ids, ids.map((id) => grids.get(id)!.properties.version));
      await afterWrite(grid.id);
    }));
  });

  // Delete into a neighbour: it takes the area, children and members.
  gridTool('#tool-delete', 'delete', (grid) => {
    const neighbours = neighboursOf(grid);
    work.innerHTML = `<h2>${t('plannerDeleteInto')}</h2><p class="hint">${t('plannerDeleteHint')}</p>
      ${neighbourChoices(neighbours, 'radio')}
      <div class="buttons"><button id="delete-commit">${t('plannerCommit')}</button></div>`;
    work.querySelector('.choices')?.addEventListener('change', () => void queue(async () => {
      const target = Number(work.querySelector<HTMLInputElement>('.choices input:checked')?.value);
      showProposal(await api.mergePreview([target, grid.id]));
    }));
    element('#delete-commit').addEventListener('click', () => void queue(async () => {
      const target = Number(work.querySelector<HTMLInputElement>('.choices input:checked')?.value);
      if (!target) return;
      await api.deleteInto(grid.id, grid.properties.version, target, grids.get(target)!.properties.version);
      await afterWrite(target);
    }));
  });

  // Rebalance a parent's children to a target of households: preview coloured by deviation, then commit.
  gridTool('#tool-rebalance', 'rebalance', (grid) => {
    const parent = grid.properties.level === 4 && grid.properties.parentId ? grids.get(grid.properties.parentId)! : grid;
    const target = childrenOf(parent.id).find((child) => child.properties.householdsTarget)?.properties.householdsTarget ?? 250;
    work.innerHTML = `<h2>${t('plannerRebalance')} · ${escapeHtml(parent.properties.name)}</h2>
      <label>${t('plannerTarget')} <input id="rebalance-target" type="number" min="1" max="100000" value="${target}" /></label>
      <div class="buttons"><button id="rebalance-preview">${t('plannerPreview')}</button><button id="rebalance-commit" disabled>${t('plannerCommit')}</button></div><div id="rebalance-result"></div>`;
    const input = element<HTMLInputElement>('#rebalance-target');
    element('#rebalance-preview').addEventListener('click', () => void queue(async () => {
      const preview = await api.rebalancePreview(parent.id, Number(input.value));
      showProposal(preview.proposal.features);
      element('#rebalance-result').innerHTML = rebalanceHtml(preview);
      element<HTMLButtonElement>('#rebalance-commit').disabled = false;
    }));
    element('#rebalance-commit').addEventListener('click', () => void queue(async () => {
      const committed = await api.rebalanceCommit(parent.id, parent.properties.version, Number(input.value));
      await afterWrite(parent.id);
      root.dataset.rebalanced = JSON.stringify(committed.ids ?? []);
    }));
  });


  // Import: a GeoJSON of boundaries for a level, its report first, then the commit.
  element('#tool-import').addEventListener('click', () => {
    startTool('import');
    const level = Math.min(4, (selected()?.properties.level ?? 3) + 1);
    work.innerHTML = `<h2>${t('plannerImport')}</h2><p class="hint">${t('plannerImportHint')}</p>
      <input id="import-file" type="file" accept=".geojson,.json,application/geo+json,application/json" />
      <label>${t('plannerLevel')} <select id="import-level">${[1, 2, 3, 4].map((n) => `<option value="${n}"${n === level ? ' selected' : ''}>${t(levelNames[n])}</option>`).join('')}</select></label>
      <label><input id="import-replace" type="checkbox" checked /> ${t('plannerReplace')}</label>
      <label><input id="import-repair" type="checkbox" /> ${t('plannerRepair')}</label>
      <div class="buttons"><button id="import-check">${t('plannerCheck')}</button><button id="import-commit" disabled>${t('plannerCommit')}</button></div><div id="import-report"></div>`;
    let file: { features: GeoJSON.Feature[] } | null = null;
    const options = (dryRun: boolean) => ({
      level: Number(element<HTMLSelectElement>('#import-level').value),
      replace: element<HTMLInputElement>('#import-replace').checked,
      repair: element<HTMLInputElement>('#import-repair').checked,
      dryRun,
    });
    const read = async () => {
      const chosen = element<HTMLInputElement>('#import-file').files?.[0];
      if (!chosen) throw new Error(t('plannerNoFile'));
      file = JSON.parse(await chosen.text());
      showProposal(file?.features ?? []);
      return file;
    };
    element('#import-check').addEventListener('click', () => void queue(async () => {
      const report = await api.importBoundaries(await read(), options(true));
      showImportReport(report);
      element<HTMLButtonElement>('#import-commit').disabled = false;
    }));
    element('#import-commit').addEventListener('click', () => void queue(async () => {
      const report = await api.importBoundaries(file ?? (await read()), options(false));
      showImportReport(report);
      await reloadGrids();
      renderTree();
      drawSelection();
      status(t('plannerSaved'));
    }));
  });


  const showImportReport = (report: api.GridImportReport & { dryRun: boolean }) => {
    const box = element('#import-report');
    box.dataset.gaps = String(report.before.gaps);
    box.innerHTML = importReportHtml(report);
  };

  // ---- conflicts --------------------------------------------------------------------------------------------
  const dialog = element<HTMLDialogElement>('#conflict-dialog');
  const openConflict = async () => {
    const grid = editing?.grid ?? selected();
    if (!grid) return;
    const current = await api.oneGrid(grid.id);
    const last: HistoryEntry | undefined = (await api.gridHistory(grid.id)).at(-1);
    element('#conflict-text').textContent = t('plannerConflictText')
      .replace('{code}', grid.properties.code)
      .replace('{version}', String(current.properties.version))
      .replace('{who}', last ? `${last.role ?? '—'}${last.tokenId ? ` #${last.tokenId}` : ''}` : '—')
      .replace('{when}', last ? formatDateTime(new Date(last.at)) : '—')
      .replace('{reason}', last?.reason ?? '—');
    dialog.dataset.gridId = String(grid.id);
    conflictCurrent = current;
    dialog.showModal();
  };
  let conflictCurrent: GridFeature | null = null;
  element('#conflict-reload').addEventListener('click', () => {
    dialog.close();
    const id = Number(dialog.dataset.gridId);
    dropDraft(id);
    renderDrafts();
    void queue(() => afterWrite(id));
  });
  element('#conflict-compare').addEventListener('click', () => {
    dialog.close();
    const mine = editing?.geometry;
    const theirs = conflictCurrent;
    showFeatures(map, 'compare', [
      ...(theirs ? [{ type: 'Feature' as const, geometry: theirs.geometry, properties: { colour: '#3ddc97' } }] : []),
      ...(mine ? [{ type: 'Feature' as const, geometry: mine, properties: { colour: '#ff4d4f' } }] : []),
    ]);
    status(t('plannerCompareLegend'));
  });
  element('#conflict-close').addEventListener('click', () => dialog.close());

  // ---- drafts -----------------------------------------------------------------------------------------------
  const renderDrafts = () => {
    const drafts = listDrafts();
    element('#drafts').innerHTML = drafts.length
      ? drafts.map((draft) => `<li data-grid-id="${draft.gridId}"><span>${escapeHtml(`${draft.code} ${draft.name}`)} · v${draft.baseVersion} · ${formatDateTime(new Date(draft.savedAt))}</span>
          <button class="draft-resume" data-grid-id="${draft.gridId}">${t('plannerResume')}</button><button class="draft-drop" data-grid-id="${draft.gridId}">${t('plannerDiscard')}</button></li>`).join('')
      : `<li class="hint">${t('plannerNoDrafts')}</li>`;
  };
  element('#drafts').addEventListener('click', (event) => {
    const button = (event.target as HTMLElement).closest<HTMLElement>('button');
    const id = Number(button?.dataset.gridId);
    if (!id) return;
    if (button?.classList.contains('draft-drop')) {
      dropDraft(id);
      renderDrafts();
      renderTree();
      return;
    }
    void queue(async () => {
      await select(id, { fly: true });
      const grid = grids.get(id);
      if (grid) startEdit(grid, draftOf(id));
    });
  });

  const showTexts = () => {
    applyTexts(root);
    search.placeholder = t('plannerSearch');
    document.title = t('plannerTitle');
    renderDrafts();
  };
  onLanguageChange(() => {
    showTexts();
    const grid = selected();
    if (grid) void queue(() => select(grid.id, { fly: false }));
  });
  await reloadGrids();
  renderTree();
  showTexts();
  map.once('idle', () => requestAnimationFrame(() => requestAnimationFrame(() => (document.body.dataset.ready = 'true'))));
  map.triggerRepaint();
}

