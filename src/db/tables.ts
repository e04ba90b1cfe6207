import type { ColumnType, Generated } from 'kysely';

/** The current version of every resource (deleted ones stay, marked deleted, so vread/history work). */
export interface ResourceTable {
  resource_type: string;
  id: string;
  version: number;
  last_updated: ColumnType<Date, Date | string, Date | string>;
  deleted: boolean;
  /** The resource as JSON text: served as stored, without re-serialising. */
  content: string;
  /** Ids of the Patients whose compartment holds this resource (FHIR patient CompartmentDefinition). */
  compartments: string[];
}

/** Every version of every resource, including the current one. */
export interface ResourceHistoryTable {
  resource_type: string;
  id: string;
  version: number;
  last_updated: ColumnType<Date, Date | string, Date | string>;
  deleted: boolean;
  content: string;
}

interface IndexRow {
  resource_type: string;
  resource_id: string;
  /** The search parameter code, e.g. `code`, `patient`, `birthdate`. */
  code: string;
}

/** Token and uri search values; `text` holds lower-cased display text for `:text`. */
export interface SearchTokenTable extends IndexRow {
  system: string | null;
  value: string | null;
  text: string | null;
}

/** String search values, normalised (lower case, accents removed) for prefix/contains matching. */
export interface SearchStringTable extends IndexRow {
  value: string;
  /** The value as written, for `:exact`. */
  exact: string;
}

/** Date search values as the closed interval the stored value covers at its precision. */
export interface SearchDateTable extends IndexRow {
  low: ColumnType<Date, Date | string, Date | string>;
  high: ColumnType<Date, Date | string, Date | string>;
}

/** Reference search values, split into target type and id for joins. */
export interface SearchReferenceTable extends IndexRow {
  target_type: string | null;
  target_id: string;
}

/** Quantity and number search values. */
export interface SearchQuantityTable extends IndexRow {
  value: string;
  system: string | null;
  unit: string | null;
}

/** All tables Chartkeeper's Kysely instance knows. */
export interface Tables {
  resource: ResourceTable;
  resource_history: ResourceHistoryTable;
  search_token: SearchTokenTable;
  search_string: SearchStringTable;
  search_date: SearchDateTable;
  search_reference: SearchReferenceTable;
  search_quantity: SearchQuantityTable;
}
