// Static product data the simulated inventory draws from: ESXi releases, OEM
// add-ons, driver components, orphaned VIBs. Values follow the shapes real
// vSphere 8.0 systems report (base image version "8.0.3-0.35.24280767",
// display version "8.0 U3b", ...). The minor "0.NN" part of a base image
// version is plausible, not looked up for every release.

export interface EsxiRelease {
  /** AboutInfo.version, e.g. '8.0.3' */
  version: string;
  /** AboutInfo.build, e.g. '24280767' */
  build: string;
  /** vLCM base image version, e.g. '8.0.3-0.35.24280767' */
  baseImageVersion: string;
  /** vLCM base image display version, e.g. '8.0 U3b' */
  displayVersion: string;
  /** ISO date-time */
  releaseDate: string;
}

/** Ordered oldest → newest; the order is what "highest versioned" means. */
export const ESXI_RELEASES: readonly EsxiRelease[] = [
  { version: '8.0.2', build: '22380479', baseImageVersion: '8.0.2-0.0.22380479', displayVersion: '8.0 U2', releaseDate: '2023-09-21T00:00:00Z' },
  { version: '8.0.3', build: '24022510', baseImageVersion: '8.0.3-0.0.24022510', displayVersion: '8.0 U3', releaseDate: '2024-06-25T00:00:00Z' },
  { version: '8.0.3', build: '24280767', baseImageVersion: '8.0.3-0.35.24280767', displayVersion: '8.0 U3b', releaseDate: '2024-09-17T00:00:00Z' },
  { version: '8.0.3', build: '24414501', baseImageVersion: '8.0.3-0.50.24414501', displayVersion: '8.0 U3c', releaseDate: '2024-12-12T00:00:00Z' },
  { version: '8.0.3', build: '24585383', baseImageVersion: '8.0.3-0.55.24585383', displayVersion: '8.0 U3d', releaseDate: '2025-03-04T00:00:00Z' },
];

export function releaseByBuild(build: string): EsxiRelease {
  const r = ESXI_RELEASES.find((x) => x.build === build);
  if (!r) throw new Error(`unknown ESXi build ${build}`);
  return r;
}

/** Position in ESXI_RELEASES: larger is newer. */
export function releaseRank(r: EsxiRelease): number {
  return ESXI_RELEASES.findIndex((x) => x.build === r.build);
}

export interface ServerVendor {
  key: 'DEL' | 'HPE' | 'LVO';
  /** HostHardwareSummary.vendor */
  hardwareVendor: string;
  models: readonly string[];
  addOnName: string;
  addOnDisplayName: string;
  addOnVendor: string;
  /** Driver components the vendor add-on brings, beyond the base image. */
  components: readonly ComponentTemplate[];
}

export interface ComponentTemplate {
  name: string;
  version: string;
  displayName: string;
  vendor: string;
  displayVersion: string;
}

const BNXTNET: ComponentTemplate = {
  name: 'bnxtnet',
  version: '228.0.110.0-1OEM.800.1.0.20613240',
  displayName: 'Broadcom NetXtreme-E Network and ROCE/RDMA Drivers for VMware ESXi',
  vendor: 'Broadcom',
  displayVersion: '228.0.110.0',
};
const LPFC: ComponentTemplate = {
  name: 'Broadcom-ELX-lpfc',
  version: '14.2.673.0-1OEM.800.1.0.20613240',
  displayName: 'Broadcom Emulex Connectivity Division lpfc driver for FC adapters',
  vendor: 'Broadcom',
  displayVersion: '14.2.673.0',
};
const I40EN: ComponentTemplate = {
  name: 'Intel-i40en',
  version: '2.6.3.0-1OEM.800.1.0.20143090',
  displayName: 'Intel(R) Ethernet Controllers X710, XL710, XXV710, and X722 Driver',
  vendor: 'Intel',
  displayVersion: '2.6.3.0',
};
const SMARTPQI: ComponentTemplate = {
  name: 'Microchip-smartpqi',
  version: '80.4495.0.5000-1OEM.800.1.0.20613240',
  displayName: 'smartpqi',
  vendor: 'Microchip',
  displayVersion: '80.4495.0.5000',
};

export const SERVER_VENDORS: readonly ServerVendor[] = [
  {
    key: 'DEL',
    hardwareVendor: 'Dell Inc.',
    models: ['PowerEdge R750', 'PowerEdge R650', 'PowerEdge R760'],
    addOnName: 'DEL-ESXi',
    addOnDisplayName: 'Dell Customization for ESXi 8.0',
    addOnVendor: 'Dell Inc.',
    components: [BNXTNET, LPFC],
  },
  {
    key: 'HPE',
    hardwareVendor: 'HPE',
    models: ['ProLiant DL380 Gen10 Plus', 'ProLiant DL360 Gen11', 'ProLiant DL380 Gen11'],
    addOnName: 'HPE-Custom-AddOn',
    addOnDisplayName: 'HPE Customization for HPE Servers',
    addOnVendor: 'Hewlett Packard Enterprise',
    components: [I40EN, SMARTPQI],
  },
  {
    key: 'LVO',
    hardwareVendor: 'Lenovo',
    models: ['ThinkSystem SR650 V2', 'ThinkSystem SR630 V3'],
    addOnName: 'LVO',
    addOnDisplayName: 'Lenovo Customization for ESXi 8.0',
    addOnVendor: 'Lenovo',
    components: [BNXTNET, I40EN],
  },
];

/** The OEM add-on version follows the ESXi release it was built for. */
export function addOnVersion(vendor: ServerVendor, release: EsxiRelease): string {
  const short = release.version.replaceAll('.', ''); // '803'
  switch (vendor.key) {
    case 'DEL':
      return `${short}.${release.build}-A03`;
    case 'HPE':
      return `${short}.0.0.11.8.0-6`;
    case 'LVO':
      return `${short}.${release.build}-LVO.${short}.10.2`;
  }
}

/** An async VMware driver that ships as an override component; its version tracks the base image. */
export function vmkusbComponent(release: EsxiRelease): ComponentTemplate {
  const patch = release.baseImageVersion.split('-')[1] ?? '0.0.0'; // '0.35.24280767'
  const short = release.version.replaceAll('.', '');
  return {
    name: 'VMware-vmkusb',
    version: `0.1-28vmw.${short}.${patch}`,
    displayName: 'USB Native Driver for VMware',
    vendor: 'VMware, Inc.',
    displayVersion: `0.1-28vmw.${short}.${patch}`,
  };
}

/** VIBs left on a host from an older installation, reported as "name(version)". */
export const ORPHANED_VIBS: readonly string[] = [
  'qedi(2.19.9.0-1OEM.700.1.0.15843807)',
  'scsi-mpt3sas(17.00.12.00-1OEM.700.1.0.15843807)',
];

export const VCENTER_ABOUT = {
  name: 'VMware VirtualCenter',
  fullName: 'VMware vCenter Server 8.0.3 build 24322831',
  vendor: 'VMware, Inc.',
  version: '8.0.3',
  build: '24322831',
  localeVersion: 'INTL',
  localeBuild: '000',
  osType: 'linux-x64',
  productLineId: 'vpx',
  apiType: 'VirtualCenter',
  apiVersion: '8.0.3.0',
  licenseProductName: 'VMware VirtualCenter Server',
  licenseProductVersion: '8.0',
} as const;

/** vSphere HA installs this solution on every host of an HA-enabled cluster. */
export const HA_SOLUTION = {
  name: 'com.vmware.vsphere-ha',
  version: `${VCENTER_ABOUT.version}-${VCENTER_ABOUT.build}`,
  displayName: 'vSphere HA',
  component: 'vsphere-fdm',
  componentDisplayName: 'vSphere High Availability',
} as const;

export const DATACENTER_NAMES: readonly string[] = [
  'DC-East', 'DC-West', 'DC-Central', 'DC-North', 'DC-South', 'DC-Frankfurt',
  'DC-London', 'DC-Paris', 'DC-Tokyo', 'DC-Sydney', 'DC-Dallas', 'DC-Chicago',
];

export const CLUSTER_ROLES: readonly string[] = ['Prod', 'Prod', 'Prod', 'Dev', 'Test', 'Mgmt', 'VDI', 'Edge'];
