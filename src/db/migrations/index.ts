import type { Migration } from 'kysely';
import * as resources from './0001-resources';
import * as accounts from './0002-accounts';
import * as accountJobs from './0003-account-jobs';
import * as auditLog from './0004-audit-log';
import * as auditLogJsonb from './0005-audit-log-jsonb';
import * as patientOrganizationIndex from './0006-patient-organization-index';
import * as releaseNotice from './0007-release-notice';
import * as recordOwners from './0008-record-owners';
import * as importedFile from './0010-imported-file';
import * as binaryContent from './0011-binary-content';
import * as wellFormedContent from './0012-well-formed-content';
import * as portalNotice from './0013-portal-notice';
import * as billing from './0014-billing';
import * as portalEnrollment from './0015-portal-enrollment';
import * as smartOauth from './0016-smart-oauth';
import * as subscriptions from './0017-subscriptions';
import * as searchResourceCodeIndexes from './0018-search-resource-code-indexes';
import * as bulkExport from './0019-bulk-export';
import * as portalNoticeAddress from './0022-portal-notice-address';
import * as oauthGrantAccount from './0023-oauth-grant-account';
import * as exportChunkVersions from './0024-export-chunk-versions';
import * as subscriptionOwnerAccess from './0025-subscription-owner-access';
import * as referenceLastUpdated from './0026-reference-last-updated';
import * as ginWithoutPendingList from './0027-gin-without-pending-list';
import * as refreshTokenExpiryIndex from './0028-refresh-token-expiry-index';

/** Every migration, in order. Names are permanent: Kysely records them in kysely_migration. */
export const MIGRATIONS: Record<string, Migration> = {
  '0001-resources': resources,
  '0002-accounts': accounts,
  '0003-account-jobs': accountJobs,
  '0004-audit-log': auditLog,
  '0005-audit-log-jsonb': auditLogJsonb,
  '0006-patient-organization-index': patientOrganizationIndex,
  '0007-release-notice': releaseNotice,
  '0008-record-owners': recordOwners,
  '0010-imported-file': importedFile,
  '0011-binary-content': binaryContent,
  '0012-well-formed-content': wellFormedContent,
  '0013-portal-notice': portalNotice,
  '0014-billing': billing,
  '0015-portal-enrollment': portalEnrollment,
  '0016-smart-oauth': smartOauth,
  '0017-subscriptions': subscriptions,
  '0018-search-resource-code-indexes': searchResourceCodeIndexes,
  '0019-bulk-export': bulkExport,
  '0022-portal-notice-address': portalNoticeAddress,
  '0023-oauth-grant-account': oauthGrantAccount,
  '0024-export-chunk-versions': exportChunkVersions,
  '0025-subscription-owner-access': subscriptionOwnerAccess,
  '0026-reference-last-updated': referenceLastUpdated,
  '0027-gin-without-pending-list': ginWithoutPendingList,
  '0028-refresh-token-expiry-index': refreshTokenExpiryIndex,
};
