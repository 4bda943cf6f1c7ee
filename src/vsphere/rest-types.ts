/**
 * Models of the vCenter REST ("Automation") API bodies the gateway reads, written from the
 * official OpenAPI spec (vcenter.yaml, schemas `Vcenter.*`, `Esx.Settings.*`, `Vapi.Std.*`).
 * Names drop the dots: `Esx.Settings.SoftwareInfo` -> `SoftwareInfo`.
 * Optional (`?`) exactly where the spec does not list the property as required.
 *
 * Most are now aliases of the types `npm run gen:vsphere-types` generates from the spec subset
 * (src/vsphere/generated/rest.ts); the rest (filters, error and enum types) stay hand-written.
 * vSphere enums are open: a value outside a generated enum union can still arrive at run
 * time, which is why the GraphQL layer reads them through openEnum().
 */
import type { components } from './generated/rest.ts';

type RestSchemas = components['schemas'];

// ---------- Vcenter.Cluster / Vcenter.Host ----------

/** Vcenter.Cluster.Summary */
export type ClusterSummary = RestSchemas['Vcenter.Cluster.Summary'];

/** Vcenter.Cluster.FilterSpec (sent as repeated query parameters). */
export interface ClusterFilter {
  clusters?: string[];
  names?: string[];
  folders?: string[];
  datacenters?: string[];
}

/** Vcenter.Host.ConnectionState */
export type HostConnectionState = 'CONNECTED' | 'DISCONNECTED' | 'NOT_RESPONDING';
/** Vcenter.Host.PowerState */
export type HostPowerState = 'POWERED_ON' | 'POWERED_OFF' | 'STANDBY';

/** Vcenter.Host.Summary */
export type HostSummary = RestSchemas['Vcenter.Host.Summary'];

/** Vcenter.Host.FilterSpec (sent as repeated query parameters; `connectionStates` -> `connection_states`). */
export interface HostFilter {
  hosts?: string[];
  names?: string[];
  folders?: string[];
  datacenters?: string[];
  clusters?: string[];
  standalone?: boolean;
  connectionStates?: HostConnectionState[];
}

// ---------- Vapi.Std ----------

/** Vapi.Std.LocalizationParam.DateTimeFormat */
export type DateTimeFormat =
  | 'SHORT_DATE' | 'MED_DATE' | 'LONG_DATE' | 'FULL_DATE'
  | 'SHORT_TIME' | 'MED_TIME' | 'LONG_TIME' | 'FULL_TIME'
  | 'SHORT_DATE_TIME' | 'MED_DATE_TIME' | 'LONG_DATE_TIME' | 'FULL_DATE_TIME';

/** Vapi.Std.NestedLocalizableMessage */
export interface NestedLocalizableMessage {
  id: string;
  params?: Record<string, LocalizationParam>;
}

/** Vapi.Std.LocalizationParam */
export interface LocalizationParam {
  s?: string;
  /** date-time */
  dt?: string;
  i?: number;
  d?: number;
  l?: NestedLocalizableMessage;
  format?: DateTimeFormat;
  precision?: number;
}

/** Vapi.Std.LocalizableMessage */
export type LocalizableMessage = RestSchemas['Vapi.Std.LocalizableMessage'];

/** Vapi.Std.Errors.Error.Type */
export type VapiErrorType =
  | 'ERROR' | 'ALREADY_EXISTS' | 'ALREADY_IN_DESIRED_STATE' | 'CANCELED' | 'CONCURRENT_CHANGE'
  | 'FEATURE_IN_USE' | 'INTERNAL_SERVER_ERROR' | 'INVALID_ARGUMENT' | 'INVALID_ELEMENT_CONFIGURATION'
  | 'INVALID_ELEMENT_TYPE' | 'INVALID_REQUEST' | 'NOT_ALLOWED_IN_CURRENT_STATE' | 'NOT_FOUND'
  | 'OPERATION_NOT_FOUND' | 'RESOURCE_BUSY' | 'RESOURCE_IN_USE' | 'RESOURCE_INACCESSIBLE'
  | 'SERVICE_UNAVAILABLE' | 'TIMED_OUT' | 'UNABLE_TO_ALLOCATE_RESOURCE' | 'UNAUTHENTICATED'
  | 'UNAUTHORIZED' | 'UNEXPECTED_INPUT' | 'UNSUPPORTED' | 'UNVERIFIED_PEER';

/** Vapi.Std.Errors.Error (and every error that extends it). `challenge` exists on Unauthenticated/Unauthorized. */
export interface VapiError {
  /** "Can be missing or null for compatibility with preceding implementations." */
  error_type?: VapiErrorType | null;
  messages: LocalizableMessage[];
  data?: unknown;
  challenge?: string;
}

// ---------- Esx.Settings ----------

/** Esx.Settings.HostInfo */
export type EsxHostInfo = RestSchemas['Esx.Settings.HostInfo'];

/** Esx.Settings.Notification.Type */
export type NotificationType = 'INFO' | 'WARNING' | 'ERROR';

/** Esx.Settings.Notification */
export type Notification = RestSchemas['Esx.Settings.Notification'];

/** Esx.Settings.Notifications */
export type Notifications = RestSchemas['Esx.Settings.Notifications'];

/** Esx.Settings.ComponentDetails */
export type ComponentDetails = RestSchemas['Esx.Settings.ComponentDetails'];

/** Esx.Settings.ComponentInfo (nullable in the spec: a removed component maps to null). */
export type ComponentInfo = RestSchemas['Esx.Settings.ComponentInfo'];

/** Esx.Settings.SolutionComponentDetails */
export type SolutionComponentDetails = RestSchemas['Esx.Settings.SolutionComponentDetails'];

/** Esx.Settings.SolutionDetails */
export type SolutionDetails = RestSchemas['Esx.Settings.SolutionDetails'];

/** Esx.Settings.SolutionComponentSpec */
export type SolutionComponentSpec = RestSchemas['Esx.Settings.SolutionComponentSpec'];

/** Esx.Settings.SolutionInfo */
export type SolutionInfo = RestSchemas['Esx.Settings.SolutionInfo'];

/** Esx.Settings.BaseImageDetails */
export type BaseImageDetails = RestSchemas['Esx.Settings.BaseImageDetails'];

/** Esx.Settings.BaseImageInfo */
export type BaseImageInfo = RestSchemas['Esx.Settings.BaseImageInfo'];

/** Esx.Settings.AddOnDetails */
export type AddOnDetails = RestSchemas['Esx.Settings.AddOnDetails'];

/** Esx.Settings.AddOnInfo */
export type AddOnInfo = RestSchemas['Esx.Settings.AddOnInfo'];

/** Esx.Settings.HardwareSupportPackageInfo */
export type HardwareSupportPackageInfo = RestSchemas['Esx.Settings.HardwareSupportPackageInfo'];

/** Esx.Settings.HardwareSupportInfo */
export type HardwareSupportInfo = RestSchemas['Esx.Settings.HardwareSupportInfo'];

/** Esx.Settings.HostHardwareInfo */
export type HostHardwareInfo = RestSchemas['Esx.Settings.HostHardwareInfo'];

/** Esx.Settings.ImageSelectionInfo.SelectionType */
export type ImageSelectionType = 'HOST_UUID' | 'HOST_HARDWARE_SPEC' | 'UNKNOWN';

/** Esx.Settings.ImageSelectionInfo */
export type ImageSelectionInfo = RestSchemas['Esx.Settings.ImageSelectionInfo'];

/** Esx.Settings.AlternativeImageInfo */
export type AlternativeImageInfo = RestSchemas['Esx.Settings.AlternativeImageInfo'];

/** Esx.Settings.SoftwareInfo */
export type SoftwareInfo = RestSchemas['Esx.Settings.SoftwareInfo'];

// ---------- Esx.Settings.Clusters.InstalledImages ----------

/** Esx.Settings.Clusters.InstalledImages.InstalledImage */
export type InstalledImage = RestSchemas['Esx.Settings.Clusters.InstalledImages.InstalledImage'];

/** Esx.Settings.Clusters.InstalledImages.ImageCategories */
export type ImageCategories = RestSchemas['Esx.Settings.Clusters.InstalledImages.ImageCategories'];

/** Esx.Settings.Clusters.InstalledImages.InstalledImageInfo.Status */
export type InstalledImageStatus = 'UNAVAILABLE' | 'ELIGIBILITY_CHECK_FAILURE' | 'EXTRACT_INSTALLED_IMAGE_FAILURE' | 'SUCCESS';

/** Esx.Settings.Clusters.InstalledImages.InstalledImageInfo.OperationType (keys of `notifications`). */
export type InstalledImageOperationType = 'ELIGIBILITY_CHECK' | 'EXTRACT_INSTALLED_IMAGE';

/** Esx.Settings.Clusters.InstalledImages.InstalledImageInfo */
export type InstalledImageInfo = RestSchemas['Esx.Settings.Clusters.InstalledImages.InstalledImageInfo'];

/** Cis.Session.Info */
export interface SessionInfo {
  user: string;
  created_time: string;
  last_accessed_time: string;
}
