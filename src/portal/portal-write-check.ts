/**
 * Every rule the portal puts on writes, as the repository runs them (src/fhir/write-check.ts): a portal caller's
 * messages, files and requests, and anyone's answers to a portal request.
 */
import type { WriteCheck } from '../fhir/write-check';
import { billingMessageCheck } from './messaging/billing-message-rules';
import { portalWriteCheck as messageWriteCheck } from './messaging/message-lookup';
import { queuePortalNotice } from './requests/portal-notice-rules';
import { portalRequestCheck, requestAnswerCheck } from './requests/request-write-check';

/** A portal caller's writes (RepositoryContext.portalWriteCheck). */
export const portalWriteCheck: WriteCheck = async (resource, patientIds, session) => {
  await billingMessageCheck(resource, patientIds, session);
  await messageWriteCheck(resource, patientIds, session);
  await portalRequestCheck(resource, patientIds, session);
};

/** Every caller's writes (RepositoryContext.writeCheck): answers to requests, and the emails they and messages give. */
export const anyWriteCheck: WriteCheck = async (resource, patientIds, session) => {
  await requestAnswerCheck(resource, patientIds, session);
  await queuePortalNotice(resource, patientIds, session);
};
