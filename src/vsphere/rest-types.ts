/**
 * Models of the vCenter REST ("Automation") API bodies the gateway reads, written from the
 * official OpenAPI spec (vcenter.yaml, schemas `Vcenter.*`, `Esx.Settings.*`, `Vapi.Std.*`).
 * Names drop the dots: `Esx.Settings.SoftwareInfo` -> `SoftwareInfo`.
 * Optional (`?`) exactly where the spec does not list the property as required.
 */

// ---------- Vcenter.Cluster / Vcenter.Host ----------

/** Vcenter.Cluster.Summary */
export interface ClusterSummary {
  /** MoID of the ClusterComputeResource, e.g. `domain-c8`. */
  cluster: string;
  name: string;
  ha_enabled: boolean;
  drs_enabled: boolean;
}

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
export interface HostSummary {
  /** MoID of the HostSystem, e.g. `host-12`. */
  host: string;
  name: string;
  connection_state: HostConnectionState;
  /** Only relevant when connection_state is CONNECTED. */
  power_state?: HostPowerState;
  /** Added in vSphere API 9.0.0.0. */
  host_uuid?: string;
}

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
export interface LocalizableMessage {
  id: string;
  default_message: string;
  args: string[];
  params?: Record<string, LocalizationParam>;
  localized?: string;
}

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
export interface EsxHostInfo {
  name: string;
  is_vsan_witness?: boolean;
}

/** Esx.Settings.Notification.Type */
export type NotificationType = 'INFO' | 'WARNING' | 'ERROR';

/** Esx.Settings.Notification */
export interface Notification {
  type?: NotificationType;
  id: string;
  /** date-time */
  time: string;
  message: LocalizableMessage;
  resolution?: LocalizableMessage;
  originator?: string;
  retriable?: boolean;
}

/** Esx.Settings.Notifications */
export interface Notifications {
  info?: Notification[];
  warnings?: Notification[];
  errors?: Notification[];
}

/** Esx.Settings.ComponentDetails */
export interface ComponentDetails {
  display_name: string;
  vendor: string;
  display_version?: string;
}

/** Esx.Settings.ComponentInfo (nullable in the spec: a removed component maps to null). */
export interface ComponentInfo {
  version?: string;
  details?: ComponentDetails;
}

/** Esx.Settings.SolutionComponentDetails */
export interface SolutionComponentDetails {
  component: string;
  display_name: string;
  display_version?: string;
  vendor: string;
}

/** Esx.Settings.SolutionDetails */
export interface SolutionDetails {
  display_name: string;
  display_version: string;
  components: SolutionComponentDetails[];
}

/** Esx.Settings.SolutionComponentSpec */
export interface SolutionComponentSpec {
  component: string;
}

/** Esx.Settings.SolutionInfo */
export interface SolutionInfo {
  details?: SolutionDetails;
  version: string;
  components: SolutionComponentSpec[];
}

/** Esx.Settings.BaseImageDetails */
export interface BaseImageDetails {
  display_name: string;
  display_version: string;
  /** date-time */
  release_date: string;
  /** Added in 8.0.3.0: full version -> display version. */
  quick_patch_compatible_versions?: Record<string, string>;
}

/** Esx.Settings.BaseImageInfo */
export interface BaseImageInfo {
  details?: BaseImageDetails;
  version: string;
}

/** Esx.Settings.AddOnDetails */
export interface AddOnDetails {
  display_name: string;
  vendor: string;
  display_version: string;
}

/** Esx.Settings.AddOnInfo */
export interface AddOnInfo {
  details?: AddOnDetails;
  name: string;
  version: string;
}

/** Esx.Settings.HardwareSupportPackageInfo */
export interface HardwareSupportPackageInfo {
  pkg: string;
  version: string;
}

/** Esx.Settings.HardwareSupportInfo */
export interface HardwareSupportInfo {
  /** Keyed by Hardware Support Manager id. */
  packages: Record<string, HardwareSupportPackageInfo>;
}

/** Esx.Settings.HostHardwareInfo */
export interface HostHardwareInfo {
  vendor: string;
  models?: string[];
  families?: string[];
  oem_strings?: string[];
}

/** Esx.Settings.ImageSelectionInfo.SelectionType */
export type ImageSelectionType = 'HOST_UUID' | 'HOST_HARDWARE_SPEC' | 'UNKNOWN';

/** Esx.Settings.ImageSelectionInfo */
export interface ImageSelectionInfo {
  selection_type: ImageSelectionType;
  host_uuids?: string[];
  host_hardware_spec?: HostHardwareInfo;
}

/** Esx.Settings.AlternativeImageInfo */
export interface AlternativeImageInfo {
  base_image: BaseImageInfo;
  add_on?: AddOnInfo;
  components: Record<string, ComponentInfo | null>;
  solutions: Record<string, SolutionInfo>;
  hardware_support?: HardwareSupportInfo;
  removed_components?: Record<string, ComponentInfo | null>;
  display_name: string;
  selection_criteria: ImageSelectionInfo;
}

/** Esx.Settings.SoftwareInfo */
export interface SoftwareInfo {
  base_image: BaseImageInfo;
  add_on?: AddOnInfo;
  components: Record<string, ComponentInfo | null>;
  solutions: Record<string, SolutionInfo>;
  hardware_support?: HardwareSupportInfo;
  removed_components?: Record<string, ComponentInfo | null>;
  alternative_images?: Record<string, AlternativeImageInfo>;
}

// ---------- Esx.Settings.Clusters.InstalledImages ----------

/** Esx.Settings.Clusters.InstalledImages.InstalledImage */
export interface InstalledImage {
  software_info: SoftwareInfo;
  host_list: string[];
}

/** Esx.Settings.Clusters.InstalledImages.ImageCategories */
export interface ImageCategories {
  is_highest_and_widely_used_image_equal: boolean;
  most_widely_used_image?: InstalledImage;
  highest_versioned_image?: InstalledImage;
  host_image_list?: InstalledImage[];
}

/** Esx.Settings.Clusters.InstalledImages.InstalledImageInfo.Status */
export type InstalledImageStatus = 'UNAVAILABLE' | 'ELIGIBILITY_CHECK_FAILURE' | 'EXTRACT_INSTALLED_IMAGE_FAILURE' | 'SUCCESS';

/** Esx.Settings.Clusters.InstalledImages.InstalledImageInfo.OperationType (keys of `notifications`). */
export type InstalledImageOperationType = 'ELIGIBILITY_CHECK' | 'EXTRACT_INSTALLED_IMAGE';

/** Esx.Settings.Clusters.InstalledImages.InstalledImageInfo */
export interface InstalledImageInfo {
  /** date-time */
  completion_time: string;
  uniform_image: boolean;
  status: InstalledImageStatus;
  successful_hosts: string[];
  failed_hosts: string[];
  unsupported_hosts: string[];
  image_categories: ImageCategories;
  /** Keyed by host MoID. */
  host_notifications: Record<string, Notifications>;
  /** Keyed by host MoID. */
  host_info: Record<string, EsxHostInfo>;
  /** Vib `name(version)` -> host MoIDs. */
  orphaned_vibs: Record<string, string[]>;
  /** Keyed by InstalledImageOperationType. */
  notifications: Partial<Record<InstalledImageOperationType, Notifications>> & Record<string, Notifications>;
}

/** Cis.Session.Info */
export interface SessionInfo {
  user: string;
  created_time: string;
  last_accessed_time: string;
}
