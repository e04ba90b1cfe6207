import type { Resource } from '@medplum/fhirtypes';
import type { Caller } from '../../access/caller';
import type { OperationInfo } from '../capability-statement';
import type { Repository } from '../repository';

/** What an operation gets: the caller's repository and the request's parameters. */
export interface OperationContext {
  readonly repo: Repository;
  readonly caller: Caller;
  /** Target resource id for instance-level operations. */
  readonly id?: string;
  /** Query parameters (GET) or Parameters/body fields (POST), flattened to strings. */
  readonly params: Record<string, string | undefined>;
  /** Raw request body for operations that take a document (e.g. XML). */
  readonly body?: unknown;
  readonly contentType?: string;
  /** The Accept header, for operations that answer in several formats. */
  readonly accept?: string;
}

/** An operation's answer: a FHIR resource, or raw content such as a C-CDA document or a zip. */
export type OperationResult =
  | { readonly kind: 'resource'; readonly status?: number; readonly resource: Resource }
  | {
      readonly kind: 'content';
      readonly status?: number;
      readonly contentType: string;
      readonly body: string | Uint8Array;
      readonly headers?: Record<string, string>;
    };

/** A FHIR $operation: its CapabilityStatement entry, where it runs and its handler. */
export interface FhirOperation {
  readonly info: OperationInfo;
  readonly level: 'system' | 'type' | 'instance';
  readonly methods: readonly ('GET' | 'POST')[];
  /** Body parser to use for POST: FHIR JSON (default), raw XML, or raw bytes. */
  readonly body?: 'json' | 'xml' | 'raw';
  /**
   * Parameters that may be given more than once (in the query, the Parameters body, or both): their values reach the
   * handler joined by commas. Any other given twice is a 400.
   */
  readonly repeatable?: readonly string[];
  /** A long write transaction (an import): it takes its turn at the HTTP layer's write gate (http/write-gate.ts). */
  readonly heavyWrite?: boolean;
  handle(context: OperationContext): Promise<OperationResult>;
}
