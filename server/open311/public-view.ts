import { cellAt, cellCentre } from '../geo/h3';

/**
 * What the public (unauthenticated Open311 reads) may see of a report. Residents write their own or a neighbour's
 * phone and ID-card numbers or e-mail addresses into descriptions ("请联系13812345678"); those are removed.
 * Reports of sensitive categories (a dispute, a security tip, a household) are placed at the centre of their H3
 * cell, not at the door.
 */

const separator = '[ -]?';
const date = '(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\\d|3[01])';

/**
 * Resident ID card (居民身份证) numbers: 18 characters (6-digit region, yyyymmdd birth date, 3-digit sequence, check
 * digit 0-9 or X), or the old 15 (yymmdd, no check digit). Not checksum-verified: a mistyped ID is still one.
 */
const idCardNumber = new RegExp(
  `(?<!\\d)(?:[1-9]\\d{5}${separator}(?:18|19|20)\\d{2}${date}${separator}\\d{3}[\\dX]|[1-9]\\d{5}\\d{2}${date}\\d{3})(?![\\dX])`,
  'gi',
);

/** Mainland mobile numbers: 1[3-9]x xxxx xxxx, optionally after +86 / 0086 / 86, in groups of 3-4-4 with spaces or hyphens. */
const mobileNumber = new RegExp(`(?<!\\d)(?:(?:\\+|00)?86${separator})?1[3-9]\\d(?:${separator}\\d{4}){2}(?!\\d)`, 'g');

/** E-mail addresses: a reporter's way back to them as much as a phone number. */
const emailAddress = /[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[a-z]{2,}/gi;

/**
 * Full-width digits, X, plus and hyphen (typed on phones) as ASCII: one UTF-16 unit each way, so a match in the
 * folded text has the same offsets in the original.
 */
function foldFullWidth(text: string): string {
  return text.replace(/[\uFF10-\uFF19\uFF38\uFF58\uFF0B\uFF0D]/g, (c) => String.fromCharCode(c.charCodeAt(0) - 0xfee0));
}

function hideMatches(text: string, pattern: RegExp, replacement: string): string {
  const folded = foldFullWidth(text);
  let result = '';
  let from = 0;
  for (const match of folded.matchAll(pattern)) {
    result += text.slice(from, match.index) + replacement;
    from = match.index + match[0].length;
  }
  return result + text.slice(from);
}

export const hiddenIdCard = '[身份证号已隐去]';
export const hiddenPhone = '[手机号已隐去]';
export const hiddenEmail = '[邮箱已隐去]';

/**
 * A description as the public sees it: e-mail addresses first (their digits could read as a number), then
 * ID-card numbers (an 18-digit ID holds 11-digit runs), then mobiles.
 */
export function publicDescription(description: string | null): string | null {
  if (description === null) return null;
  const withoutEmail = description.replace(emailAddress, hiddenEmail);
  return hideMatches(hideMatches(withoutEmail, idCardNumber, hiddenIdCard), mobileNumber, hiddenPhone);
}

/** H3 resolution 8: cells of about 0.74 km² (edge ≈ 530 m), wide enough that a point no longer names a building. */
const publicCellResolution = 8;

/** The location the public sees: exact, or for a sensitive category the centre of its H3 cell (6 decimals). */
export function publicLocation([lon, lat]: [number, number], sensitive: boolean): { lat: number; long: number } {
  if (!sensitive) return { lat, long: lon };
  const [cellLon, cellLat] = cellCentre(cellAt(lon, lat, publicCellResolution));
  return { lat: Number(cellLat.toFixed(6)), long: Number(cellLon.toFixed(6)) };
}
