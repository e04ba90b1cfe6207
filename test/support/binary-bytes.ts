import type { Binary } from '@medplum/fhirtypes';
import { storedContentOf } from '../../src/fhir/binary/binary-content';
import type { Repository } from '../../src/fhir/repository';

/** The bytes of a stored Binary, read through `repo` (which must see it). */
export async function storedBytes(repo: Repository, id: string): Promise<Buffer> {
  const content = storedContentOf(await repo.read<Binary>('Binary', id));
  if (!content) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  for await (const chunk of repo.openContent(content)) chunks.push(chunk);
  return Buffer.concat(chunks);
}
