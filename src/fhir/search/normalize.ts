/** Lower case without diacritics, so "José" matches a search for "jose" as FHIR string search asks. */
export function normalizeString(text: string): string {
  return text
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .trim();
}
