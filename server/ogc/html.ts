/** The plain HTML view of the OGC API (conformance class html): every JSON document has a page. */
import type { Link } from './documents';

function escape(value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value) ?? '';
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function linkList(links: readonly Link[]): string {
  const items = links.filter((link) => link.rel !== 'self').map((link) => `<li><a href="${escape(link.href)}" rel="${escape(link.rel)}">${escape(link.title ?? link.rel)}</a> <small>${escape(link.type)}</small></li>`);
  return `<ul class="links">${items.join('')}</ul>`;
}

export function page(title: string, body: string, links: readonly Link[]): string {
  return `<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>${escape(title)}</title>
<style>body{font:14px/1.5 system-ui,"Noto Sans CJK SC",sans-serif;margin:2em;max-width:80em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 8px;text-align:left}</style>
</head><body><h1>${escape(title)}</h1>${body}${linkList(links)}</body></html>`;
}

export function landingHtml(document: { title: string; description: string; links: Link[] }): string {
  return page(document.title, `<p>${escape(document.description)}</p>`, document.links);
}

export function conformanceHtml(conformsTo: readonly string[], links: readonly Link[]): string {
  return page('Conformance · 符合性', `<ul>${conformsTo.map((uri) => `<li>${escape(uri)}</li>`).join('')}</ul>`, links);
}

export function collectionsHtml(collections: ReadonlyArray<{ id: string; title: string; description: string; links: Link[] }>, links: readonly Link[]): string {
  const rows = collections.map((c) => {
    const items = c.links.find((link) => link.rel === 'items' && link.type === 'text/html');
    return `<tr><td><a href="${escape(items?.href ?? '')}">${escape(c.id)}</a></td><td>${escape(c.title)}</td><td>${escape(c.description)}</td></tr>`;
  });
  return page('Collections · 图层', `<table><tr><th>id</th><th>标题 Title</th><th>说明 Description</th></tr>${rows.join('')}</table>`, links);
}

export function collectionHtml(document: { title: string; description: string; crs: string[]; extent: unknown; links: Link[] }): string {
  return page(document.title, `<p>${escape(document.description)}</p><p>CRS: ${document.crs.map(escape).join(', ')}</p><p>Extent: <code>${escape(document.extent)}</code></p>`, document.links);
}

interface FeatureLike {
  id: number;
  geometry: { type?: string } | null;
  properties: Record<string, unknown>;
}

export function itemsHtml(title: string, collection: { features: FeatureLike[]; numberMatched: number; numberReturned: number; links: Link[] }, itemHref: (id: number) => string): string {
  const names = [...new Set(collection.features.flatMap((feature) => Object.keys(feature.properties)))];
  const rows = collection.features.map(
    (feature) => `<tr><td><a href="${escape(itemHref(feature.id))}">${feature.id}</a></td><td>${escape(feature.geometry?.type ?? '')}</td>${names.map((name) => `<td>${escape(feature.properties[name] ?? '')}</td>`).join('')}</tr>`,
  );
  const summary = `<p>${collection.numberReturned} of ${collection.numberMatched} features · 共 ${collection.numberMatched} 个要素</p>`;
  return page(title, `${summary}<table><tr><th>id</th><th>geometry</th>${names.map((name) => `<th>${escape(name)}</th>`).join('')}</tr>${rows.join('')}</table>`, collection.links);
}

export function itemHtml(title: string, feature: FeatureLike & { links: Link[] }): string {
  const rows = Object.entries(feature.properties).map(([name, value]) => `<tr><th>${escape(name)}</th><td>${escape(value ?? '')}</td></tr>`);
  return page(`${title} · ${feature.id}`, `<table>${rows.join('')}</table><p>Geometry: <code>${escape(JSON.stringify(feature.geometry).slice(0, 2000))}</code></p>`, feature.links);
}
