import { area } from '@turf/turf';
import { formatCount, formatDateTime } from '../../shell/format';
import { type MessageKey, t } from '../../shell/messages';
import type { GridFeature, GridImportReport, GridStats, GridWriteVerdict, HistoryEntry, PreviewFeature, RebalancePreview } from './data';

/** The planner's side panels as HTML, from the API's answers (every text through t, every data value escaped). */

export const levelNames: Record<number, MessageKey> = { 1: 'levelDistrict', 2: 'levelStreet', 3: 'levelCommunity', 4: 'levelGrid' };
export const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
export const m2 = (value: number) => `${formatCount(Math.round(value))} m²`;
const percent = (value: number) => `${value >= 0 ? '+' : ''}${(value * 100).toFixed(1)}%`;
const gridName = (grid: GridFeature) => escapeHtml(`${grid.properties.code} ${grid.properties.name}`);

/** The adjacent siblings as a list to tick (merge) or to pick one of (delete into). */
export const neighbourChoices = (neighbours: GridFeature[], type: 'checkbox' | 'radio') =>
  `<ul class="choices">${neighbours.map((other) => `<li><label><input type="${type}" name="neighbour" value="${other.id}" /> ${gridName(other)}</label></li>`).join('')}</ul>`;

export function detailsHtml(grid: GridFeature, ancestors: GridFeature[], stats: GridStats, incidents: number): string {
  const p = grid.properties;
  const target = p.householdsTarget;
  const households = `${formatCount(stats.households)}${target ? ` / ${formatCount(target)} (${percent((stats.households - target) / target)})` : ''}`;
  const people = Object.entries(stats.peopleByCategory).map(([category, n]) => `${escapeHtml(category)} ${formatCount(n)}`).join('，') || '—';
  const hazards = Object.entries(stats.hazardsByRiskLevel).map(([level, n]) => `${t('plannerRisk')}${escapeHtml(level)}: ${n}`).join('，') || '0';
  return `
    <h2>${gridName(grid)}</h2><div class="chain">${ancestors.map(gridName).join(' › ')} <span class="level">${t(levelNames[p.level])}</span> v${p.version}</div>
    <dl>
      <dt>${t('plannerHouseholds')}</dt><dd id="figure-households">${households}</dd>
      <dt>${t('plannerBuildings')}</dt><dd>${formatCount(stats.buildings)}</dd>
      <dt>${t('plannerPeople')}</dt><dd>${people}</dd>
      <dt>${t('plannerHazards')}</dt><dd>${hazards}</dd>
      <dt>${t('plannerKeyPlaces')}</dt><dd>${formatCount(stats.keyPlaces)}</dd>
      <dt>${t('plannerIncidents30')}</dt><dd>${formatCount(incidents)}</dd>
      <dt>${t('plannerWorkers')}</dt><dd>${escapeHtml([p.leader, ...p.workers].filter(Boolean).join('，') || '—')}</dd>
      <dt>${t('plannerArea')}</dt><dd>${m2(p.areaM2)}</dd>
    </dl>`;
}

/** Newest first, each earlier version with its restore button. */
export function historyHtml(entries: HistoryEntry[], currentVersion: number): string {
  const restore = (version: number) => (version < currentVersion ? `<button class="revert" data-version="${version}">${t('plannerRevert')}</button>` : '');
  const rows = entries.map(
    (entry) => `<li data-version="${entry.version}"><b>v${entry.version}</b> ${escapeHtml(entry.action)} · ${escapeHtml(entry.role ?? '—')} · ${formatDateTime(new Date(entry.at))}
      <small>${escapeHtml(entry.reason ?? '')}</small>${entry.after ? restore(entry.version) : ''}</li>`,
  );
  // A grid loaded in bulk has no entry of its own for its first version: the first change holds it as `before`.
  const first = entries[0]?.before as { version?: number } | null | undefined;
  if (first?.version) rows.unshift(`<li data-version="${first.version}"><b>v${first.version}</b> ${t('plannerOriginal')}${restore(first.version)}</li>`);
  if (rows.length === 0) return `<li class="empty">v${currentVersion} · ${t('plannerNoHistory')}</li>`;
  return rows.reverse().join('');
}

export function verdictHtml(verdict: GridWriteVerdict): string {
  const head = verdict.accepted ? t('plannerAccepted') : `${t('plannerRefused')}: ${escapeHtml(verdict.refusal?.message ?? '')}`;
  return `<p class="${verdict.accepted ? 'ok' : 'refused'}">${head}</p>
    <dl><dt>${t('plannerOverlaps')}</dt><dd id="verdict-overlaps">${verdict.overlaps.map((o) => `${escapeHtml(o.code)} ${m2(o.areaM2)}`).join('，') || '0'}</dd>
    <dt>${t('plannerGaps')}</dt><dd id="verdict-gaps">${verdict.gaps.count} · ${m2(verdict.gaps.beforeAreaM2)} → ${m2(verdict.gaps.areaM2)}</dd>
    <dt>${t('plannerOutsideParent')}</dt><dd id="verdict-outside">${m2(verdict.outsideParentM2)}</dd>
    <dt>${t('plannerCutBuildings')}</dt><dd id="verdict-cut">${verdict.cutBuildings.length}</dd></dl>`;
}

/** Split pieces or a merged union: households and buildings from the server, the area measured here (turf). */
export function piecesTable(pieces: PreviewFeature[]): string {
  const rows = pieces.map(
    (piece, index) =>
      `<tr data-households="${piece.properties.households}"><td>${index + 1}</td><td>${formatCount(piece.properties.households)}</td><td>${formatCount(piece.properties.buildings ?? 0)}</td><td>${m2(area(piece))}</td></tr>`,
  );
  return `<table class="pieces"><tr><th>#</th><th>${t('plannerHouseholds')}</th><th>${t('plannerBuildings')}</th><th>${t('plannerArea')}</th></tr>${rows.join('')}</table>`;
}

export function rebalanceHtml(preview: RebalancePreview): string {
  const rows = preview.proposal.features.map((feature, index) => {
    const p = feature.properties;
    const off = Math.abs(p.deviation ?? 0) > 0.1 ? 'off' : '';
    return `<tr data-households="${p.households}"><td>${index + 1}</td><td>${formatCount(p.households)}</td><td class="${off}">${percent(p.deviation ?? 0)}</td><td>${(p.polsbyPopper ?? 0).toFixed(2)}</td></tr>`;
  });
  const summary = t('plannerRebalanceSummary')
    .replace('{grids}', String(preview.grids))
    .replace('{households}', formatCount(preview.households))
    .replace('{deviation}', percent(preview.maxAbsDeviation))
    .replace('{moving}', formatCount(preview.buildingsChangingGrid));
  return `<p>${summary}</p>
    <table class="pieces" id="rebalance-table"><tr><th>#</th><th>${t('plannerHouseholds')}</th><th>${t('plannerDeviation')}</th><th>${t('plannerCompactness')}</th></tr>${rows.join('')}</table>`;
}

export function importReportHtml(report: GridImportReport & { dryRun: boolean }): string {
  const row = (label: string, summary: GridImportReport['before'] | null) =>
    summary
      ? `<tr><td>${label}</td><td data-gaps="${summary.gaps}">${summary.gaps} · ${m2(summary.gapAreaM2)}</td><td>${summary.overlaps} · ${m2(summary.overlapAreaM2)}</td><td>${summary.outside} · ${m2(summary.outsideAreaM2)}</td></tr>`
      : '';
  return `<p>${report.dryRun ? t('plannerDryRun') : t('plannerImported')}: ${report.imported} · ${t('plannerReplaced')} ${report.replaced} · ${t('plannerRepairedInvalid')} ${report.repairedInvalid}</p>
    <table class="pieces"><tr><th></th><th>${t('plannerGaps')}</th><th>${t('plannerOverlaps')}</th><th>${t('plannerOutsideParent')}</th></tr>
    ${row(t('plannerAsFiled'), report.before)}${row(t('plannerAfterRepair'), report.after)}</table>
    ${report.siblingOverlaps.map((o) => `<div>${escapeHtml(o.codes.join(' / '))}: ${m2(o.areaM2)}</div>`).join('')}
    <p>${t('plannerAreaChanges')}: ${report.areaChanges.length}</p>`;
}
