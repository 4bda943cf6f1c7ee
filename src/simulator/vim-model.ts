// The VI/JSON managed-object view of the inventory: which objects exist,
// their types, and their properties as typed values. Property names and
// data object fields follow the vSphere Web Services API (vim25).

import type { Access } from './authz.ts';
import type { MoRef, SimCluster, SimFolder, SimHost, VCenterInventory } from './inventory.ts';
import type { SessionStore, VimSession } from './sessions.ts';
import { taskInfo } from './tasks.ts';
import type { SimTask, TaskStore } from './tasks.ts';
import {
  bool,
  data,
  dateTime,
  enumOf,
  int,
  long,
  moref,
  morefs,
  short,
  str,
  strings,
} from './vim-values.ts';
import type { VimValue } from './vim-values.ts';
import { withQuirks } from './quirks.ts';
import type { SimQuirks } from './quirks.ts';

export interface VimContext {
  inv: VCenterInventory;
  sessions: SessionStore;
  tasks: TaskStore;
  /** What the session's user may read and do (nothing governed by permissions without a session). */
  access: Access;
  /** The caller's session, when authenticated. */
  session?: VimSession;
  /** Answers a real vCenter may give that the default simulator does not (quirks.ts). */
  quirks?: SimQuirks;
}

export interface ManagedObject {
  ref: MoRef;
  /** Unset (optional) properties answer undefined. */
  get(name: string): VimValue | undefined;
}

/** Subtype → supertype, for PropertySpec/TraversalSpec type matching. */
const SUPERTYPE: Record<string, string> = {
  ClusterComputeResource: 'ComputeResource',
  ComputeResource: 'ManagedEntity',
  HostSystem: 'ManagedEntity',
  Folder: 'ManagedEntity',
  Datacenter: 'ManagedEntity',
  ResourcePool: 'ManagedEntity',
  VirtualApp: 'ResourcePool',
  VirtualMachine: 'ManagedEntity',
  Datastore: 'ManagedEntity',
  Network: 'ManagedEntity',
  DistributedVirtualPortgroup: 'Network',
  OpaqueNetwork: 'Network',
  DistributedVirtualSwitch: 'ManagedEntity',
  VmwareDistributedVirtualSwitch: 'DistributedVirtualSwitch',
  StoragePod: 'Folder',
  ManagedEntity: 'ExtensibleManagedObject',
  ContainerView: 'ManagedObjectView',
  ListView: 'ManagedObjectView',
  InventoryView: 'ManagedObjectView',
  ManagedObjectView: 'View',
  Task: 'ExtensibleManagedObject',
};

export function isA(type: string, base: string): boolean {
  for (let t: string | undefined = type; t !== undefined; t = SUPERTYPE[t]) if (t === base) return true;
  return false;
}

const MANAGED_ENTITY_PROPS = ['alarmActionsEnabled', 'configStatus', 'disabledMethod', 'name', 'overallStatus', 'parent', 'recentTask'] as const;
const COMPUTE_RESOURCE_PROPS = [...MANAGED_ENTITY_PROPS, 'configurationEx', 'datastore', 'host', 'network', 'resourcePool', 'summary'] as const;

/** Properties each modelled type declares (inherited ones included). */
export const PROPERTIES: Record<string, readonly string[]> = {
  ManagedEntity: MANAGED_ENTITY_PROPS,
  Folder: [...MANAGED_ENTITY_PROPS, 'childEntity', 'childType'],
  Datacenter: [...MANAGED_ENTITY_PROPS, 'datastore', 'datastoreFolder', 'hostFolder', 'network', 'networkFolder', 'vmFolder'],
  ComputeResource: COMPUTE_RESOURCE_PROPS,
  ClusterComputeResource: COMPUTE_RESOURCE_PROPS,
  HostSystem: [...MANAGED_ENTITY_PROPS, 'config', 'configManager', 'datastore', 'hardware', 'network', 'runtime', 'summary', 'vm'],
  ResourcePool: [...MANAGED_ENTITY_PROPS, 'owner', 'resourcePool', 'vm'],
  ServiceInstance: ['content', 'serverClock'],
  SessionManager: ['currentSession', 'defaultLocale', 'sessionList'],
  PropertyCollector: ['filter'],
  ViewManager: ['viewList'],
  ContainerView: ['container', 'recursive', 'type', 'view'],
  HostPatchManager: [],
  Task: ['info'],
  TaskManager: ['maxCollector', 'recentTask'],
  PropertyFilter: ['partialUpdates', 'spec'],
};

/**
 * Every managed object type name the vim25 API knows (MoTypes_enum of the
 * spec, vim part). A PropertySpec naming anything else is an InvalidType.
 */
export const KNOWN_TYPES: ReadonlySet<string> = new Set(
  `Alarm AlarmManager AuthorizationManager CertificateManager ClusterComputeResource ClusterEVCManager ClusterProfile
  ClusterProfileManager ComputeResource ContainerView CryptoManager CryptoManagerHost CryptoManagerHostKMS CryptoManagerKmip
  CustomFieldsManager CustomizationSpecManager Datacenter Datastore DatastoreNamespaceManager DiagnosticManager
  DirectPathProfileManager DistributedVirtualPortgroup DistributedVirtualSwitch DistributedVirtualSwitchManager
  EnvironmentBrowser EventHistoryCollector EventManager ExtensibleManagedObject ExtensionManager FailoverClusterConfigurator
  FailoverClusterManager FileManager Folder GuestAliasManager GuestAuthManager GuestFileManager GuestOperationsManager
  GuestProcessManager GuestWindowsRegistryManager HealthUpdateManager HistoryCollector HostAccessManager
  HostActiveDirectoryAuthentication HostAssignableHardwareManager HostAuthenticationManager HostAuthenticationStore
  HostAutoStartManager HostBootDeviceSystem HostCacheConfigurationManager HostCertificateManager HostCpuSchedulerSystem
  HostDatastoreBrowser HostDatastoreSystem HostDateTimeSystem HostDiagnosticSystem HostDirectoryStore HostEsxAgentHostManager
  HostFirewallSystem HostFirmwareSystem HostGraphicsManager HostHealthStatusSystem HostImageConfigManager
  HostKernelModuleSystem HostLocalAccountManager HostLocalAuthentication HostMemorySystem HostNetworkSystem HostNvdimmSystem
  HostPatchManager HostPciPassthruSystem HostPowerSystem HostProfile HostProfileManager HostServiceSystem HostSnmpSystem
  HostSpecificationManager HostStorageSystem HostSystem HostVFlashManager HostVMotionSystem HostVStorageObjectManager
  HostVirtualNicManager HostVsanHealthSystem HostVsanInternalSystem HostVsanSystem HttpNfcLease InventoryView IoFilterManager
  IpPoolManager IscsiManager LicenseAssignmentManager LicenseManager ListView LocalizationManager ManagedEntity
  ManagedObjectView MessageBusProxy Network OpaqueNetwork OptionManager OverheadMemoryManager OvfManager PerformanceManager
  Profile ProfileComplianceManager ProfileManager PropertyCollector PropertyFilter ResourcePlanningManager ResourcePool
  ScheduledTask ScheduledTaskManager SearchIndex ServiceInstance ServiceManager SessionManager SimpleCommand SiteInfoManager
  StoragePod StorageQueryManager StorageResourceManager Task TaskHistoryCollector TaskManager TenantTenantManager
  UserDirectory VStorageObjectManagerBase VcenterVStorageObjectManager View ViewManager VirtualApp VirtualDiskManager
  VirtualMachine VirtualMachineCompatibilityChecker VirtualMachineGuestCustomizationManager VirtualMachineProvisioningChecker
  VirtualMachineSnapshot VirtualizationManager VmwareDistributedVirtualSwitch`.split(/\s+/),
);

/** ServiceContent references: [field, MoRef type, MoID] in schema order (a vCenter has no accountManager). */
const SERVICE_CONTENT_REFS: ReadonlyArray<readonly [string, string, string]> = [
  ['rootFolder', 'Folder', 'group-d1'],
  ['propertyCollector', 'PropertyCollector', 'propertyCollector'],
  ['viewManager', 'ViewManager', 'ViewManager'],
  ['about', '', ''],
  ['setting', 'OptionManager', 'VpxSettings'],
  ['userDirectory', 'UserDirectory', 'UserDirectory'],
  ['sessionManager', 'SessionManager', 'SessionManager'],
  ['authorizationManager', 'AuthorizationManager', 'AuthorizationManager'],
  ['serviceManager', 'ServiceManager', 'ServiceMgr'],
  ['perfManager', 'PerformanceManager', 'PerfMgr'],
  ['scheduledTaskManager', 'ScheduledTaskManager', 'ScheduledTaskManager'],
  ['alarmManager', 'AlarmManager', 'AlarmManager'],
  ['eventManager', 'EventManager', 'EventManager'],
  ['taskManager', 'TaskManager', 'TaskManager'],
  ['extensionManager', 'ExtensionManager', 'ExtensionManager'],
  ['customizationSpecManager', 'CustomizationSpecManager', 'CustomizationSpecManager'],
  ['guestCustomizationManager', 'VirtualMachineGuestCustomizationManager', 'GuestCustomizationManager'],
  ['customFieldsManager', 'CustomFieldsManager', 'CustomFieldsManager'],
  ['diagnosticManager', 'DiagnosticManager', 'DiagMgr'],
  ['licenseManager', 'LicenseManager', 'LicenseManager'],
  ['searchIndex', 'SearchIndex', 'SearchIndex'],
  ['fileManager', 'FileManager', 'FileManager'],
  ['datastoreNamespaceManager', 'DatastoreNamespaceManager', 'DatastoreNamespaceManager'],
  ['virtualDiskManager', 'VirtualDiskManager', 'virtualDiskManager'],
  ['snmpSystem', 'HostSnmpSystem', 'SnmpSystem'],
  ['vmProvisioningChecker', 'VirtualMachineProvisioningChecker', 'ProvChecker'],
  ['vmCompatibilityChecker', 'VirtualMachineCompatibilityChecker', 'CompatChecker'],
  ['ovfManager', 'OvfManager', 'OvfManager'],
  ['ipPoolManager', 'IpPoolManager', 'IpPoolManager'],
  ['dvSwitchManager', 'DistributedVirtualSwitchManager', 'DVSManager'],
  ['hostProfileManager', 'HostProfileManager', 'HostProfileManager'],
  ['clusterProfileManager', 'ClusterProfileManager', 'ClusterProfileManager'],
  ['complianceManager', 'ProfileComplianceManager', 'MoComplianceManager'],
  ['localizationManager', 'LocalizationManager', 'LocalizationManager'],
  ['storageResourceManager', 'StorageResourceManager', 'StorageResourceManager'],
  ['guestOperationsManager', 'GuestOperationsManager', 'guestOperationsManager'],
  ['overheadMemoryManager', 'OverheadMemoryManager', 'OverheadMemoryManager'],
  ['certificateManager', 'CertificateManager', 'certificateManager'],
  ['ioFilterManager', 'IoFilterManager', 'IoFilterManager'],
  ['vStorageObjectManager', 'VcenterVStorageObjectManager', 'VStorageObjectManager'],
  ['hostSpecManager', 'HostSpecificationManager', 'HostSpecificationManager'],
  ['cryptoManager', 'CryptoManagerKmip', 'CryptoManager'],
  ['healthUpdateManager', 'HealthUpdateManager', 'HealthUpdateManager'],
  ['failoverClusterConfigurator', 'FailoverClusterConfigurator', 'FailoverClusterConfigurator'],
  ['failoverClusterManager', 'FailoverClusterManager', 'FailoverClusterManager'],
  ['tenantManager', 'TenantTenantManager', 'TenantManager'],
  ['siteInfoManager', 'SiteInfoManager', 'SiteInfoManager'],
  ['storageQueryManager', 'StorageQueryManager', 'StorageQueryManager'],
];

/** Well-known singleton MoIDs, e.g. SessionManager → 'SessionManager'. */
export function singletonMoId(type: string): string | undefined {
  return SERVICE_CONTENT_REFS.find(([, t]) => t === type)?.[2] ?? (type === 'ServiceInstance' ? 'ServiceInstance' : undefined);
}

/** HostSystem.configManager: [field, MoRef type, MoID prefix] in schema order. */
const HOST_CONFIG_MANAGER: ReadonlyArray<readonly [string, string, string]> = [
  ['cpuScheduler', 'HostCpuSchedulerSystem', 'cpuSchedulerSystem'],
  ['datastoreSystem', 'HostDatastoreSystem', 'datastoreSystem'],
  ['memoryManager', 'HostMemorySystem', 'memoryManagerSystem'],
  ['storageSystem', 'HostStorageSystem', 'storageSystem'],
  ['networkSystem', 'HostNetworkSystem', 'networkSystem'],
  ['vmotionSystem', 'HostVMotionSystem', 'vmotionSystem'],
  ['virtualNicManager', 'HostVirtualNicManager', 'virtualNicManager'],
  ['serviceSystem', 'HostServiceSystem', 'serviceSystem'],
  ['firewallSystem', 'HostFirewallSystem', 'firewallSystem'],
  ['advancedOption', 'OptionManager', 'EsxHostAdvSettings'],
  ['diagnosticSystem', 'HostDiagnosticSystem', 'diagnosticsystem'],
  ['autoStartManager', 'HostAutoStartManager', 'hostAutoStartManager'],
  ['snmpSystem', 'HostSnmpSystem', 'snmpSystem'],
  ['dateTimeSystem', 'HostDateTimeSystem', 'dateTimeSystem'],
  ['patchManager', 'HostPatchManager', 'patchManager'],
  ['imageConfigManager', 'HostImageConfigManager', 'imageConfigManager'],
  ['bootDeviceSystem', 'HostBootDeviceSystem', 'bootDeviceSystem'],
  ['firmwareSystem', 'HostFirmwareSystem', 'firmwareSystem'],
  ['healthStatusSystem', 'HostHealthStatusSystem', 'healthStatusSystem'],
  ['pciPassthruSystem', 'HostPciPassthruSystem', 'pciPassthruSystem'],
  ['licenseManager', 'LicenseManager', 'LicenseManager'],
  ['kernelModuleSystem', 'HostKernelModuleSystem', 'kernelModuleSystem'],
  ['authenticationManager', 'HostAuthenticationManager', 'authenticationManager'],
  ['powerSystem', 'HostPowerSystem', 'powerSystem'],
  ['cacheConfigurationManager', 'HostCacheConfigurationManager', 'cacheConfigManager'],
  ['esxAgentHostManager', 'HostEsxAgentHostManager', 'esxAgentHostManager'],
  ['iscsiManager', 'IscsiManager', 'iscsiManager'],
  ['vFlashManager', 'HostVFlashManager', 'vFlashManager'],
  ['vsanSystem', 'HostVsanSystem', 'vsanSystem'],
  ['messageBusProxy', 'MessageBusProxy', 'messageBusProxy'],
  ['graphicsManager', 'HostGraphicsManager', 'graphicsManager'],
  ['vsanInternalSystem', 'HostVsanInternalSystem', 'vsanInternalSystem'],
  ['certificateManager', 'HostCertificateManager', 'certificateManager'],
  ['cryptoManager', 'CryptoManagerHost', 'cryptoManager'],
  ['nvdimmSystem', 'HostNvdimmSystem', 'nvdimmSystem'],
  ['assignableHardwareManager', 'HostAssignableHardwareManager', 'assignableHardwareManager'],
];

/** 'host-12' → 'patchManager-12': a host's config managers share its number. */
export function hostConfigManagerMoId(hostMoId: string, prefix: string): string {
  return `${prefix}-${hostMoId.slice('host-'.length)}`;
}

export function patchManagerHost(ctx: Pick<VimContext, 'inv'>, moId: string): SimHost | undefined {
  const m = /^patchManager-(\d+)$/.exec(moId);
  return m ? ctx.inv.hostById.get(`host-${m[1]}`) : undefined;
}

export function aboutInfo(about: Record<string, string>): VimValue {
  // AboutInfo field order from the schema.
  const order = ['name', 'fullName', 'vendor', 'version', 'patchLevel', 'build', 'localeVersion', 'localeBuild', 'osType', 'productLineId', 'apiType', 'apiVersion', 'instanceUuid', 'licenseProductName', 'licenseProductVersion'];
  return data('AboutInfo', Object.fromEntries(order.map((k) => [k, about[k] === undefined ? undefined : str(about[k])])));
}

export function serviceContent(inv: VCenterInventory): VimValue {
  const fields: Record<string, VimValue> = {};
  for (const [field, type, moId] of SERVICE_CONTENT_REFS) {
    fields[field] = field === 'about' ? aboutInfo(inv.about) : moref(type, moId);
  }
  return data('ServiceContent', fields);
}

export function userSession(s: VimSession): VimValue {
  return data('UserSession', {
    key: str(s.key),
    userName: str(s.userName),
    fullName: str(s.userName.split('\\').pop() ?? s.userName),
    loginTime: dateTime(s.loginTime.toISOString()),
    lastActiveTime: dateTime(s.lastActiveTime.toISOString()),
    locale: str(s.locale),
    messageLocale: str(s.locale),
    extensionSession: bool(false),
    ipAddress: str(s.ipAddress),
    userAgent: str(s.userAgent),
    callCount: long(s.callCount),
  });
}

export function hostProduct(host: SimHost): VimValue {
  const r = host.image.release;
  return aboutInfo({
    name: 'VMware ESXi',
    fullName: `VMware ESXi ${r.version} build-${r.build}`,
    vendor: 'VMware, Inc.',
    version: r.version,
    build: r.build,
    localeVersion: 'INTL',
    localeBuild: '000',
    osType: 'vmnix-x86',
    productLineId: 'embeddedEsx',
    apiType: 'HostAgent',
    apiVersion: `${r.version}.0`,
    licenseProductName: 'VMware ESX Server',
    licenseProductVersion: '8.0',
  });
}

function hostRuntime(host: SimHost): VimValue {
  const connected = host.connectionState === 'connected';
  return data('HostRuntimeInfo', {
    connectionState: enumOf('HostSystemConnectionState', host.connectionState),
    powerState: enumOf('HostSystemPowerState', host.powerState),
    standbyMode: connected ? str('none') : undefined,
    inMaintenanceMode: bool(host.inMaintenanceMode),
    inQuarantineMode: bool(false),
    bootTime: connected ? dateTime(host.bootTime) : undefined,
  });
}

function hostStatus(host: SimHost): string {
  return host.connectionState === 'connected' ? 'green' : 'gray';
}

function hostHardwareSummary(host: SimHost): VimValue {
  const hw = host.hardware;
  return data('HostHardwareSummary', {
    vendor: str(hw.vendor),
    model: str(hw.model),
    uuid: str(hw.uuid),
    memorySize: long(hw.memorySize),
    cpuModel: str(hw.cpuModel),
    cpuMhz: int(hw.cpuMhz),
    numCpuPkgs: short(hw.numCpuPkgs),
    numCpuCores: short(hw.numCpuCores),
    numCpuThreads: short(hw.numCpuThreads),
    numNics: int(hw.numNics),
    numHBAs: int(hw.numHBAs),
  });
}

const ref = (type: string, value: string): MoRef => ({ type, value });

function managedEntity(name: string, parent: MoRef | undefined, status: string): Record<string, () => VimValue | undefined> {
  return {
    alarmActionsEnabled: () => bool(true),
    configStatus: () => enumOf('ManagedEntityStatus', status),
    disabledMethod: () => strings([]),
    name: () => str(name),
    overallStatus: () => enumOf('ManagedEntityStatus', status),
    parent: () => (parent ? moref(parent.type, parent.value) : undefined),
    recentTask: () => morefs([]),
  };
}

function folderProps(f: SimFolder): Record<string, () => VimValue | undefined> {
  return {
    ...managedEntity(f.name, f.parent, 'green'),
    childEntity: () => morefs(f.children),
    childType: () => strings(f.childType),
  };
}

function clusterProps(ctx: VimContext, c: SimCluster): Record<string, () => VimValue | undefined> {
  const hosts = c.hosts.map((id) => ctx.inv.hostById.get(id)).filter((h): h is SimHost => h !== undefined);
  const connected = hosts.filter((h) => h.connectionState === 'connected');
  const effective = connected.filter((h) => !h.inMaintenanceMode);
  const status = connected.length === hosts.length ? 'green' : 'yellow';
  const sum = (xs: SimHost[], f: (h: SimHost) => number): number => xs.reduce((a, h) => a + f(h), 0);
  return {
    ...managedEntity(c.name, ref('Folder', c.parentFolder), status),
    configurationEx: () =>
      data('ClusterConfigInfoEx', {
        dasConfig: data('ClusterDasConfigInfo', {
          enabled: bool(c.haEnabled),
          vmMonitoring: str('vmMonitoringDisabled'),
          hostMonitoring: str('enabled'),
          failoverLevel: int(1),
          admissionControlEnabled: bool(c.haEnabled),
        }),
        drsConfig: data('ClusterDrsConfigInfo', {
          enabled: bool(c.drsEnabled),
          enableVmBehaviorOverrides: bool(true),
          defaultVmBehavior: enumOf('DrsBehavior', 'fullyAutomated'),
          vmotionRate: int(3),
        }),
      }),
    datastore: () => morefs([]),
    host: () => morefs(c.hosts.map((id) => ref('HostSystem', id))),
    network: () => morefs([]),
    resourcePool: () => moref('ResourcePool', c.resourcePool),
    summary: () =>
      data('ClusterComputeResourceSummary', {
        totalCpu: int(sum(hosts, (h) => h.hardware.cpuMhz * h.hardware.numCpuCores)),
        totalMemory: long(sum(hosts, (h) => h.hardware.memorySize)),
        numCpuCores: short(sum(hosts, (h) => h.hardware.numCpuCores)),
        numCpuThreads: short(sum(hosts, (h) => h.hardware.numCpuThreads)),
        effectiveCpu: int(sum(effective, (h) => h.hardware.cpuMhz * h.hardware.numCpuCores)),
        effectiveMemory: long(Math.floor(sum(effective, (h) => h.hardware.memorySize) / (1024 * 1024))),
        numHosts: int(hosts.length),
        numEffectiveHosts: int(effective.length),
        overallStatus: enumOf('ManagedEntityStatus', status),
        currentFailoverLevel: int(c.haEnabled ? 1 : 0),
        numVmotions: int(0),
      }),
  };
}

/**
 * HostSystem properties, one function per property, shared by every host: a read of 2,500
 * hosts resolves each of them, and building a record of closures per host was most of its cost.
 */
const HOST_PROPS: Record<string, (ctx: VimContext, h: SimHost) => VimValue | undefined> = {
  alarmActionsEnabled: () => bool(true),
  configStatus: (_, h) => enumOf('ManagedEntityStatus', hostStatus(h)),
  disabledMethod: () => strings([]),
  name: (_, h) => str(h.name),
  overallStatus: (_, h) => enumOf('ManagedEntityStatus', hostStatus(h)),
  parent: (_, h) => moref('ClusterComputeResource', h.cluster),
  recentTask: (ctx, h) => morefs(visibleTasks(ctx, ctx.tasks.forEntity(h.moId))),
  // vCenter holds no configuration for a disconnected host: config is unset until it reconnects.
  config: (_, h) =>
    h.connectionState === 'disconnected'
      ? undefined
      : data('HostConfigInfo', {
          host: moref('HostSystem', h.moId),
          product: hostProduct(h),
        }),
  configManager: (_, h) =>
    data(
      'HostConfigManager',
      Object.fromEntries(HOST_CONFIG_MANAGER.map(([field, type, prefix]) => [field, moref(type, hostConfigManagerMoId(h.moId, prefix))])),
    ),
  datastore: () => morefs([]),
  hardware: () => undefined, // HostHardwareInfo is large; summary.hardware carries what clients use
  network: () => morefs([]),
  runtime: (_, h) => hostRuntime(h),
  summary: (_, h) =>
    data('HostListSummary', {
      host: moref('HostSystem', h.moId),
      hardware: hostHardwareSummary(h),
      runtime: hostRuntime(h),
      config: data('HostConfigSummary', {
        name: str(h.name),
        port: int(443),
        product: hostProduct(h),
        vmotionEnabled: bool(h.connectionState === 'connected'),
        faultToleranceEnabled: bool(false),
      }),
      overallStatus: enumOf('ManagedEntityStatus', hostStatus(h)),
      rebootRequired: bool(false),
      managementServerIp: str('127.0.0.1'),
    }),
  vm: () => morefs([]),
};

function hostObject(ctx: VimContext, r: MoRef, h: SimHost): ManagedObject {
  return { ref: r, get: (name) => HOST_PROPS[name]?.(ctx, h) };
}

/** Objects directly inside a container, as ContainerView and traversal see them. */
export function containerChildren(ctx: VimContext, container: MoRef): MoRef[] {
  const { inv } = ctx;
  switch (container.type) {
    case 'Folder':
      return inv.folderById.get(container.value)?.children ?? [];
    case 'Datacenter': {
      const dc = inv.datacenterById.get(container.value);
      return dc
        ? [ref('Folder', dc.vmFolder), ref('Folder', dc.hostFolder), ref('Folder', dc.datastoreFolder), ref('Folder', dc.networkFolder)]
        : [];
    }
    case 'ClusterComputeResource': {
      const c = inv.clusterById.get(container.value);
      return c ? [ref('ResourcePool', c.resourcePool), ...c.hosts.map((id) => ref('HostSystem', id))] : [];
    }
    default:
      return [];
  }
}

/** ContainerView.view: everything inside the container (not itself) of the wanted types. */
export function containerViewContents(ctx: VimContext, container: MoRef, types: string[], recursive: boolean): MoRef[] {
  const out: MoRef[] = [];
  const walk = (c: MoRef): void => {
    for (const child of containerChildren(ctx, c)) {
      if (types.length === 0 || types.some((t) => isA(child.type, t))) out.push(child);
      if (recursive) walk(child);
    }
  };
  walk(container);
  return out;
}

/** Tasks the session's user may see: those whose entity it may read. */
function visibleTasks(ctx: VimContext, tasks: SimTask[]): MoRef[] {
  return tasks.map((t) => ref('Task', t.moId)).filter((t) => ctx.access.mayRead(t));
}

function object(refValue: MoRef, props: Record<string, () => VimValue | undefined>): ManagedObject {
  return { ref: refValue, get: (name) => props[name]?.() };
}

/** Finds a managed object by reference; undefined when it does not exist (for this session). */
export function resolve(ctx: VimContext, r: MoRef): ManagedObject | undefined {
  return withQuirks(resolveObject(ctx, r), ctx.quirks);
}

function resolveObject(ctx: VimContext, r: MoRef): ManagedObject | undefined {
  const { inv } = ctx;
  switch (r.type) {
    case 'Folder': {
      const f = inv.folderById.get(r.value);
      return f && object(r, folderProps(f));
    }
    case 'Datacenter': {
      const dc = inv.datacenterById.get(r.value);
      if (!dc) return undefined;
      return object(r, {
        ...managedEntity(dc.name, ref('Folder', dc.parentFolder), 'green'),
        datastore: () => morefs([]),
        datastoreFolder: () => moref('Folder', dc.datastoreFolder),
        hostFolder: () => moref('Folder', dc.hostFolder),
        network: () => morefs([]),
        networkFolder: () => moref('Folder', dc.networkFolder),
        vmFolder: () => moref('Folder', dc.vmFolder),
      });
    }
    case 'ClusterComputeResource': {
      const c = inv.clusterById.get(r.value);
      return c && object(r, clusterProps(ctx, c));
    }
    case 'HostSystem': {
      const h = inv.hostById.get(r.value);
      return h && hostObject(ctx, r, h);
    }
    case 'ResourcePool': {
      const rp = inv.resourcePoolById.get(r.value);
      if (!rp) return undefined;
      return object(r, {
        ...managedEntity(rp.name, ref('ClusterComputeResource', rp.owner), 'green'),
        owner: () => moref('ClusterComputeResource', rp.owner),
        resourcePool: () => morefs([]),
        vm: () => morefs([]),
      });
    }
    case 'ServiceInstance':
      return r.value === 'ServiceInstance'
        ? object(r, { content: () => serviceContent(inv), serverClock: () => dateTime(new Date().toISOString()) })
        : undefined;
    case 'SessionManager':
      return r.value === 'SessionManager'
        ? object(r, {
            currentSession: () => (ctx.session ? userSession(ctx.session) : undefined),
            defaultLocale: () => str('en'),
            sessionList: () => ({ kind: 'array', type: 'ArrayOfUserSession', items: [...ctx.sessions.vim.values()].map(userSession) }),
          })
        : undefined;
    case 'PropertyCollector': {
      // The default collector exists for everyone; private ones only for the session that created them.
      if (r.value !== 'propertyCollector' && !ctx.session?.collectors.has(r.value)) return undefined;
      const filters = () => [...(ctx.session?.filters.values() ?? [])].filter((f) => f.collector === r.value);
      return object(r, { filter: () => morefs(filters().map((f) => ref('PropertyFilter', f.moId))) });
    }
    case 'TaskManager':
      return r.value === 'TaskManager'
        ? object(r, {
            maxCollector: () => int(32),
            recentTask: () => morefs(visibleTasks(ctx, ctx.tasks.recent())),
          })
        : undefined;
    case 'ViewManager':
      return r.value === 'ViewManager'
        ? object(r, { viewList: () => morefs([...(ctx.session?.views.keys() ?? [])].map((id) => ref('ContainerView', id))) })
        : undefined;
    case 'ContainerView': {
      const v = ctx.session?.views.get(r.value);
      if (!v) return undefined;
      return object(r, {
        container: () => moref(v.container.type, v.container.value),
        recursive: () => bool(v.recursive),
        type: () => strings(v.types),
        // A view lists only what its session's user may read.
        view: () => morefs(containerViewContents(ctx, v.container, v.types, v.recursive).filter((o) => ctx.access.mayRead(o))),
      });
    }
    case 'HostPatchManager':
      return patchManagerHost(ctx, r.value) ? object(r, {}) : undefined;
    case 'Task': {
      const t = ctx.tasks.tasks.get(r.value);
      return t && object(r, { info: () => taskInfo(t, Date.now()) });
    }
    case 'PropertyFilter': {
      // Filters belong to the session that created them.
      const f = ctx.session?.filters.get(r.value);
      return f && object(r, { partialUpdates: () => bool(f.partialUpdates), spec: () => undefined });
    }
    default:
      return undefined;
  }
}

/** Declared property names of a type, or undefined for types the simulator does not model. */
export function propertiesOf(type: string): readonly string[] | undefined {
  return PROPERTIES[type];
}
