/**
 * Models of the vim25 VI/JSON API types the gateway uses, written from the official
 * vi-json OpenAPI spec. These describe DECODED values (see vim-codec.ts): boxed primitives in
 * `any` slots are unwrapped, `ArrayOfX` boxes become arrays, and data objects and
 * ManagedObjectReferences keep their `_typeName` (polymorphic values need it).
 */

/** Any: every wire object carries its type discriminator. */
export interface DataObject {
  _typeName?: string;
}

/** ManagedObjectReference: `{_typeName:'ManagedObjectReference', type, value}`; in URLs `{type}/{value}`. */
export interface ManagedObjectReference {
  _typeName?: 'ManagedObjectReference';
  type: string;
  value: string;
}

// ---------- vmodl ----------

/** LocalizableMessage (vmodl) */
export interface VimLocalizableMessage extends DataObject {
  key: string;
  arg?: KeyAnyValue[];
  message?: string;
}

/** KeyAnyValue */
export interface KeyAnyValue extends DataObject {
  key: string;
  value: unknown;
}

/**
 * MethodFault: the body of an HTTP 500. Real servers also send `faultstring`
 * (not in the schema); subtypes add their own fields (e.g. InvalidProperty.name).
 */
export interface MethodFault extends DataObject {
  faultCause?: MethodFault;
  faultMessage?: VimLocalizableMessage[];
  faultstring?: string;
  [extra: string]: unknown;
}

/** LocalizedMethodFault */
export interface LocalizedMethodFault extends DataObject {
  fault: MethodFault;
  localizedMessage?: string;
}

/** DynamicProperty */
export interface DynamicProperty extends DataObject {
  name: string;
  val: unknown;
}

/** InvalidProperty fault */
export interface InvalidPropertyFault extends MethodFault { name: string }
/** ManagedObjectNotFound fault */
export interface ManagedObjectNotFoundFault extends MethodFault { obj: ManagedObjectReference }
/** NoPermission fault (NotAuthenticated extends it) */
export interface NoPermissionFault extends MethodFault {
  object?: ManagedObjectReference;
  privilegeId?: string;
  missingPrivileges?: NoPermissionEntityPrivileges[];
}
/** NoPermissionEntityPrivileges */
export interface NoPermissionEntityPrivileges extends DataObject {
  entity: ManagedObjectReference;
  privilegeIds?: string[];
}
/** TaskInProgress fault */
export interface TaskInProgressFault extends MethodFault { task: ManagedObjectReference }
/** PlatformConfigFault */
export interface PlatformConfigFault extends MethodFault { text: string }

// ---------- vmodl.query (PropertyCollector) ----------

/** PropertySpec */
export interface PropertySpec extends DataObject {
  type: string;
  all?: boolean;
  pathSet?: string[];
}

/** SelectionSpec: base type; a bare one (`{name}`) refers to a named TraversalSpec. */
export interface SelectionSpec extends DataObject {
  name?: string;
}

/** TraversalSpec */
export interface TraversalSpec extends SelectionSpec {
  type: string;
  path: string;
  skip?: boolean;
  selectSet?: (SelectionSpec | TraversalSpec)[];
}

/** ObjectSpec */
export interface ObjectSpec extends DataObject {
  obj: ManagedObjectReference;
  skip?: boolean;
  selectSet?: (SelectionSpec | TraversalSpec)[];
}

/** PropertyFilterSpec */
export interface PropertyFilterSpec extends DataObject {
  propSet: PropertySpec[];
  objectSet: ObjectSpec[];
  reportMissingObjectsInResults?: boolean;
}

/** RetrieveOptions */
export interface RetrieveOptions extends DataObject {
  maxObjects?: number;
}

/** MissingProperty */
export interface MissingProperty extends DataObject {
  path: string;
  fault: MethodFault;
}

/** MissingObject */
export interface MissingObject extends DataObject {
  obj: ManagedObjectReference;
  fault: MethodFault;
}

/** ObjectContent */
export interface ObjectContent extends DataObject {
  obj: ManagedObjectReference;
  propSet?: DynamicProperty[];
  missingSet?: MissingProperty[];
}

/** RetrieveResult */
export interface RetrieveResult extends DataObject {
  token?: string;
  objects: ObjectContent[];
}

/** PropertyChangeOp_enum */
export type PropertyChangeOp = 'add' | 'remove' | 'assign' | 'indirectRemove';
/** ObjectUpdateKind_enum */
export type ObjectUpdateKind = 'modify' | 'enter' | 'leave';

/** PropertyChange */
export interface PropertyChange extends DataObject {
  name: string;
  op: PropertyChangeOp;
  val?: unknown;
}

/** ObjectUpdate */
export interface ObjectUpdate extends DataObject {
  kind: ObjectUpdateKind;
  obj: ManagedObjectReference;
  changeSet?: PropertyChange[];
  missingSet?: MissingProperty[];
}

/** PropertyFilterUpdate */
export interface PropertyFilterUpdate extends DataObject {
  filter: ManagedObjectReference;
  objectSet?: ObjectUpdate[];
  missingSet?: MissingObject[];
}

/** UpdateSet */
export interface UpdateSet extends DataObject {
  version: string;
  filterSet?: PropertyFilterUpdate[];
  truncated?: boolean;
}

/** WaitOptions */
export interface WaitOptions extends DataObject {
  maxWaitSeconds?: number;
  maxObjectUpdates?: number;
}

// ---------- vim ----------

/** AboutInfo */
export interface AboutInfo extends DataObject {
  name: string;
  fullName: string;
  vendor: string;
  version: string;
  patchLevel?: string;
  build: string;
  localeVersion?: string;
  localeBuild?: string;
  osType: string;
  productLineId: string;
  apiType: string;
  /** "x.y.z.a": the release used in every `/sdk/vim25/{release}` URL after bootstrap. */
  apiVersion: string;
  instanceUuid?: string;
  licenseProductName?: string;
  licenseProductVersion?: string;
}

type MoRef = ManagedObjectReference;

/** ServiceContent */
export interface ServiceContent extends DataObject {
  rootFolder: MoRef;
  propertyCollector: MoRef;
  viewManager?: MoRef;
  about: AboutInfo;
  setting?: MoRef;
  userDirectory?: MoRef;
  sessionManager?: MoRef;
  authorizationManager?: MoRef;
  serviceManager?: MoRef;
  perfManager?: MoRef;
  scheduledTaskManager?: MoRef;
  alarmManager?: MoRef;
  eventManager?: MoRef;
  taskManager?: MoRef;
  extensionManager?: MoRef;
  customizationSpecManager?: MoRef;
  guestCustomizationManager?: MoRef;
  customFieldsManager?: MoRef;
  accountManager?: MoRef;
  diagnosticManager?: MoRef;
  licenseManager?: MoRef;
  searchIndex?: MoRef;
  fileManager?: MoRef;
  datastoreNamespaceManager?: MoRef;
  virtualDiskManager?: MoRef;
  virtualizationManager?: MoRef;
  snmpSystem?: MoRef;
  vmProvisioningChecker?: MoRef;
  vmCompatibilityChecker?: MoRef;
  ovfManager?: MoRef;
  ipPoolManager?: MoRef;
  dvSwitchManager?: MoRef;
  hostProfileManager?: MoRef;
  clusterProfileManager?: MoRef;
  complianceManager?: MoRef;
  localizationManager?: MoRef;
  storageResourceManager?: MoRef;
  guestOperationsManager?: MoRef;
  overheadMemoryManager?: MoRef;
  certificateManager?: MoRef;
  ioFilterManager?: MoRef;
  vStorageObjectManager?: MoRef;
  hostSpecManager?: MoRef;
  cryptoManager?: MoRef;
  healthUpdateManager?: MoRef;
  failoverClusterConfigurator?: MoRef;
  failoverClusterManager?: MoRef;
  tenantManager?: MoRef;
  siteInfoManager?: MoRef;
  storageQueryManager?: MoRef;
  directPathProfileManager?: MoRef;
}

/** UserSession */
export interface UserSession extends DataObject {
  key: string;
  userName: string;
  fullName: string;
  loginTime: string;
  lastActiveTime: string;
  locale: string;
  messageLocale: string;
  extensionSession: boolean;
  ipAddress: string;
  userAgent: string;
  callCount: number;
}

/** TaskInfoState_enum */
export type TaskInfoState = 'queued' | 'running' | 'success' | 'error';

/** TaskReason and subtypes (discriminated by `_typeName`). */
export interface TaskReason extends DataObject {}
export interface TaskReasonUser extends TaskReason { _typeName?: 'TaskReasonUser'; userName: string }
export interface TaskReasonSystem extends TaskReason { _typeName?: 'TaskReasonSystem' }
export interface TaskReasonAlarm extends TaskReason {
  _typeName?: 'TaskReasonAlarm';
  alarmName: string;
  alarm: MoRef;
  entityName: string;
  entity: MoRef;
}
export interface TaskReasonSchedule extends TaskReason { _typeName?: 'TaskReasonSchedule'; name: string; scheduledTask: MoRef }
export type AnyTaskReason = TaskReasonUser | TaskReasonSystem | TaskReasonAlarm | TaskReasonSchedule | TaskReason;

/**
 * TaskInfo. The spec types `error` as MethodFault; over the wire vCenter reports a
 * LocalizedMethodFault `{fault, localizedMessage}` (as SOAP does), so both are accepted.
 */
export interface TaskInfo extends DataObject {
  key: string;
  task: MoRef;
  description?: VimLocalizableMessage;
  name?: string;
  descriptionId: string;
  entity?: MoRef;
  entityName?: string;
  locked?: MoRef[];
  state: TaskInfoState;
  cancelled: boolean;
  cancelable: boolean;
  error?: LocalizedMethodFault | MethodFault;
  result?: unknown;
  progress?: number;
  progressDetails?: KeyAnyValue[];
  reason: AnyTaskReason;
  queueTime: string;
  startTime?: string;
  completeTime?: string;
  eventChainId: number;
  changeTag?: string;
  parentTaskKey?: string;
  rootTaskKey?: string;
  activationId?: string;
}

/** HostConfigManager (only the members the gateway uses are typed; the rest pass through). */
export interface HostConfigManager extends DataObject {
  patchManager?: MoRef;
  imageConfigManager?: MoRef;
  firmwareSystem?: MoRef;
  [member: string]: unknown;
}

/** HostPatchManagerPatchManagerOperationSpec */
export interface HostPatchManagerPatchManagerOperationSpec extends DataObject {
  proxy?: string;
  port?: number;
  userName?: string;
  password?: string;
  cmdOption?: string;
}

export type HostPatchManagerReason = 'obsoleted' | 'missingPatch' | 'missingLib' | 'hasDependentPatch' | 'conflictPatch' | 'conflictLib';
export type HostPatchManagerIntegrityStatus =
  | 'validated' | 'keyNotFound' | 'keyRevoked' | 'keyExpired' | 'digestMismatch' | 'notEnoughSignatures' | 'validationError';
export type HostPatchManagerInstallState = 'hostRestarted' | 'imageActive';

/** HostPatchManagerStatusPrerequisitePatch */
export interface HostPatchManagerStatusPrerequisitePatch extends DataObject {
  id: string;
  installState?: HostPatchManagerInstallState[];
}

/** HostPatchManagerStatus */
export interface HostPatchManagerStatus extends DataObject {
  id: string;
  applicable: boolean;
  reason?: HostPatchManagerReason[];
  integrity?: HostPatchManagerIntegrityStatus;
  installed: boolean;
  installState?: HostPatchManagerInstallState[];
  prerequisitePatch?: HostPatchManagerStatusPrerequisitePatch[];
  restartRequired: boolean;
  reconnectRequired: boolean;
  vmOffRequired: boolean;
  supersededPatchIds?: string[];
}

/** HostPatchManagerResult */
export interface HostPatchManagerResult extends DataObject {
  version: string;
  status?: HostPatchManagerStatus[];
  xmlResult?: string;
}

/** ScanHostPatchV2RequestType */
export interface ScanHostPatchV2Request {
  metaUrls?: string[];
  bundleUrls?: string[];
  spec?: HostPatchManagerPatchManagerOperationSpec;
}
