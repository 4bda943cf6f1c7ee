import type { ReportFreshness, UserErrorCode } from './generated/resolvers-types.ts';
/**
 * What resolvers pass to each other (codegen "mappers"). Objects that live in vCenter
 * are references ({vcenter, moId}) plus what the parent already knew; resolvers fetch
 * the rest through the request's DataLoaders, so an object reached by two paths costs
 * one upstream read.
 */
import type {
  InstalledImageInfo,
  InstalledImage,
  SoftwareInfo,
  Notification,
  Notifications,
  LocalizableMessage,
  TaskInfo,
} from '../vsphere/index.ts';
import type { Connection, Edge } from './connection.ts';
import type { HostRecord } from './loaders.ts';

// `__typename` lets graphql-js resolve the Node interface without guessing from shapes.
export interface VCenterModel {
  __typename: 'VCenter';
  name: string;
}

export interface ClusterModel {
  __typename: 'Cluster';
  vcenter: string;
  moId: string;
  name: string;
  haEnabled: boolean;
  drsEnabled: boolean;
}

export interface HostModel {
  __typename: 'Host';
  vcenter: string;
  moId: string;
  /** The host's properties, when the parent field already read them in this request. */
  record?: HostRecord;
}

export function vcenterRef(name: string): VCenterModel {
  return { __typename: 'VCenter', name };
}

export function hostRef(vcenter: string, moId: string): HostModel {
  return { __typename: 'Host', vcenter, moId };
}

/** Models of records that outlive a request (the mirror's): made once per record, not per query. */
const hostModels = new WeakMap<HostRecord, HostModel>();

/** A host whose properties are already known: its fields resolve without another lookup. */
export function hostModel(record: HostRecord): HostModel {
  let model = hostModels.get(record);
  if (!model) hostModels.set(record, (model = { __typename: 'Host', vcenter: record.vcenter, moId: record.moId, record }));
  return model;
}

export type ClusterConnectionModel = Connection<ClusterModel>;
export type HostConnectionModel = Connection<HostModel>;
export type ClusterEdgeModel = Edge<ClusterModel>;
export type HostEdgeModel = Edge<HostModel>;

export interface InstalledImageInfoModel {
  vcenter: string;
  cluster: string;
  info: InstalledImageInfo;
  freshness: ReportFreshness;
}

export interface InstalledImageModel {
  vcenter: string;
  image: InstalledImage;
}

/** vCenter's SoftwareInfo; `freshness` on the top-level ones (a cluster's desired software, a host's image). */
export type SoftwareInfoModel = SoftwareInfo & { freshness?: ReportFreshness };

export interface HostNotificationsModel {
  host: HostModel;
  notifications: Notifications;
}

export interface InstalledImageHostInfoModel {
  host: HostModel;
  name: string;
  isVsanWitness?: boolean | null;
}

export interface OrphanedVibModel {
  vib: string;
  hosts: HostModel[];
}

export interface OperationNotificationsModel {
  operation: string;
  notifications: Notifications;
}

export type NotificationsModel = Notifications;
export type NotificationModel = Notification;
export type LocalizableMessageModel = LocalizableMessage;

export interface PatchScanModel {
  __typename: 'PatchScan';
  vcenter: string;
  taskMoId: string;
  /**
   * The Task.info this scan was read with. Set by subscriptions (each event carries its
   * own fresh snapshot) and by reads that already fetched it; otherwise fields load it
   * through the request's loader.
   */
  info?: TaskInfo;
  /** The host, when known without the task (the mutation that started the scan knows it; TaskInfo.entity is optional). */
  hostMoId?: string;
  /** vCenter no longer has the task (state EXPIRED); `info` is the last state seen. */
  expired?: boolean;
}

export function patchScanRef(
  vcenter: string,
  taskMoId: string,
  info?: TaskInfo,
  extra: { hostMoId?: string | undefined; expired?: boolean } = {},
): PatchScanModel {
  return {
    __typename: 'PatchScan',
    vcenter,
    taskMoId,
    ...(info ? { info } : {}),
    ...(extra.hostMoId ? { hostMoId: extra.hostMoId } : {}),
    ...(extra.expired ? { expired: true } : {}),
  };
}

export interface SkippedHostModel {
  host: HostModel;
  reason: string;
  code: UserErrorCode;
}

/** A host change from an inventory mirror, with the host as a model whose fields resolve from the change's record. */
export interface HostChangeModel {
  kind: 'ADDED' | 'REMOVED' | 'CHANGED';
  host: HostModel;
  changes: { field: 'NAME' | 'CLUSTER' | 'CONNECTION_STATE' | 'POWER_STATE' | 'MAINTENANCE_MODE' | 'BUILD'; before: string | null; after: string | null }[];
  version: number;
}
