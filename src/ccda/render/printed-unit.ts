/**
 * A UCUM unit as it is printed for people ("10³/µL" for `10*3/uL`, "°C" for `Cel`, "mmHg" for `mm[Hg]`): the
 * narrative is read by patients and clinicians, the coded entry keeps the UCUM code. A unit that is not UCUM-shaped
 * is left as written.
 */
const WHOLE: Readonly<Record<string, string>> = {
  Cel: '°C',
  '[degF]': '°F',
  '[lb_av]': 'lb',
  '[oz_av]': 'oz',
  '[in_i]': 'in',
  '[ft_i]': 'ft',
  '[iU]': 'IU',
  '[IU]': 'IU',
  '/min': '/min',
  '{beats}/min': 'beats/min',
  '{breaths}/min': 'breaths/min',
  '1': '',
};

const SUPERSCRIPT: Readonly<Record<string, string>> = {
  '0': '⁰',
  '1': '¹',
  '2': '²',
  '3': '³',
  '4': '⁴',
  '5': '⁵',
  '6': '⁶',
  '7': '⁷',
  '8': '⁸',
  '9': '⁹',
  '-': '⁻',
};

const superscript = (digits: string): string => [...digits].map((d) => SUPERSCRIPT[d] ?? d).join('');

/** The printed form of a UCUM unit. */
export function printedUnit(unit: string): string {
  const whole = WHOLE[unit];
  if (whole !== undefined) return whole;
  return unit
    .replace(/10\*(-?\d+)/g, (_m, e: string) => `10${superscript(e)}`)
    .replace(/\{([^}]*)\}/g, (_m, note: string) => note.replace(/_/g, ' '))
    .replace(/\[([^\]]*?)(_[a-z]+)?\]/g, '$1')
    .replace(/\bu(?=(g|L|mol|U|IU|m)\b)/g, 'µ')
    .replace(/(?<=[A-Za-z])([23])\b/g, (_m, e: string) => superscript(e));
}
