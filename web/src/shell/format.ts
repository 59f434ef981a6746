/** Number and date formats and the colour scales every screen shares. */
import { language } from './messages';

const locale = () => (language() === 'zh' ? 'zh-CN' : 'en-GB');

export function formatCount(value: number | null | undefined): string {
  return value === null || value === undefined ? '—' : new Intl.NumberFormat(locale()).format(value);
}

/** A rate of 0..1 as a percentage with one decimal. */
export function formatRate(value: number | null | undefined): string {
  return value === null || value === undefined ? '—' : `${(value * 100).toFixed(1)}%`;
}

export function formatTime(iso: string | Date): string {
  return new Intl.DateTimeFormat(locale(), { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false, timeZone: 'Asia/Shanghai' }).format(new Date(iso));
}

export function formatDateTime(date: Date): string {
  return new Intl.DateTimeFormat(locale(), { dateStyle: 'medium', timeStyle: 'medium', hour12: false, timeZone: 'Asia/Shanghai' }).format(date);
}

/** The dark command-centre palette. */
export const palette = {
  background: '#050d18',
  panel: 'rgba(8, 22, 40, 0.82)',
  text: '#d8e6f5',
  muted: '#7f9bb8',
  accent: '#37c3ff',
  good: '#3ddc97',
  warn: '#ffb547',
  bad: '#ff5a5f',
  series: ['#37c3ff', '#3ddc97', '#ffb547', '#ff5a5f', '#a78bfa', '#f472b6', '#5eead4', '#facc15', '#60a5fa', '#fb923c'],
} as const;

type Rgb = [number, number, number];

/** Incident density, dark blue to hot yellow-white: the heatmap and the count hexagons. */
export const heatRamp: Rgb[] = [
  [20, 60, 120],
  [40, 130, 200],
  [80, 200, 220],
  [250, 200, 80],
  [255, 120, 60],
  [255, 60, 80],
];

/** A colour of the ramp for t in 0..1. */
export function rampColour(t: number, ramp: Rgb[] = heatRamp): Rgb {
  const x = Math.min(1, Math.max(0, t)) * (ramp.length - 1);
  const [a, b] = [ramp[Math.floor(x)], ramp[Math.ceil(x)]];
  const f = x - Math.floor(x);
  return [0, 1, 2].map((k) => Math.round(a[k] + (b[k] - a[k]) * f)) as Rgb;
}

export function hexToRgb(hex: string): Rgb {
  const n = Number.parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}
