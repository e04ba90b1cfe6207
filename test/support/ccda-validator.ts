import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import path from 'node:path';

/** ../shared/tools/validate-ccda: the CDA schema and the official C-CDA R2.1 Schematron. */
export const CCDA_VALIDATOR = path.resolve(__dirname, '../../../shared/tools/validate-ccda');

const SCHEMATRON_SKELETON = '/usr/lib/python3/dist-packages/lxml/isoschematron/resources/xsl/iso-schematron-xslt1';

/**
 * Why validate-ccda cannot run here, or undefined when it can. It needs Debian's libxml2-utils, xsltproc and
 * python3-lxml (.ci/run installs them); without them the validation tests skip with this reason.
 */
export function ccdaValidatorMissing(): string | undefined {
  if (!existsSync(CCDA_VALIDATOR)) return `validator absent (${CCDA_VALIDATOR})`;
  for (const tool of ['xmllint', 'xsltproc']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0)
      return `${tool} not installed (apt-get install -y libxml2-utils xsltproc python3-lxml)`;
  }
  // validate-ccda uses the ISO Schematron skeleton that Debian's python3-lxml ships, from this folder.
  if (!existsSync(SCHEMATRON_SKELETON))
    return `python3-lxml not installed (${SCHEMATRON_SKELETON} absent; apt-get install -y python3-lxml)`;
  return undefined;
}
