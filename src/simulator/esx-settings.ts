// Renders vLCM (esx/settings) REST bodies from the inventory, in the field
// order of the official schemas Esx.Settings.SoftwareInfo and
// Esx.Settings.Clusters.InstalledImages.InstalledImageInfo.

import { compareImages, imageKey } from './inventory.ts';
import type { HostImage, SimCluster, SimHost, VCenterInventory } from './inventory.ts';

type Json = Record<string, unknown>;

/** Vapi.Std.LocalizableMessage; keys in the order vCenter prints them. */
export function message(id: string, defaultMessage: string, args: string[] = []): Json {
  return { args, default_message: defaultMessage, id };
}

export function softwareInfo(image: HostImage): Json {
  const info: Json = {
    base_image: {
      details: {
        display_name: 'ESXi',
        display_version: image.release.displayVersion,
        release_date: image.release.releaseDate,
      },
      version: image.release.baseImageVersion,
    },
  };
  if (image.addOn) {
    info.add_on = {
      details: {
        display_name: image.addOn.displayName,
        vendor: image.addOn.vendor,
        display_version: image.addOn.displayVersion,
      },
      name: image.addOn.name,
      version: image.addOn.version,
    };
  }
  info.components = Object.fromEntries(
    image.components.map((c) => [
      c.name,
      { version: c.version, details: { display_name: c.displayName, vendor: c.vendor, display_version: c.displayVersion } },
    ]),
  );
  info.solutions = Object.fromEntries(
    image.solutions.map((s) => [
      s.name,
      {
        details: {
          display_name: s.displayName,
          display_version: s.version,
          components: s.components.map((c) => ({
            component: c.component,
            display_name: c.displayName,
            display_version: s.version,
            vendor: 'VMware, Inc.',
          })),
        },
        version: s.version,
        components: s.components.map((c) => ({ component: c.component })),
      },
    ]),
  );
  return info;
}

function installedImage(image: HostImage, hosts: string[]): Json {
  return { software_info: softwareInfo(image), host_list: hosts };
}

function notification(id: string, time: string, text: string, args: string[], type: 'INFO' | 'WARNING' | 'ERROR', extra: Json = {}): Json {
  return { type, id, time, message: message(id, text, args), ...extra };
}

/** GET /api/esx/settings/clusters/{cluster}/installed-images */
export function installedImageInfo(inv: VCenterInventory, cluster: SimCluster): Json {
  const hosts = cluster.hosts.map((id) => inv.hostById.get(id)).filter((h): h is SimHost => h !== undefined);
  const { completionTime, status, failedHosts } = cluster.installedImages;
  const failed = new Set(failedHosts);
  const successful = hosts.filter((h) => !failed.has(h.moId));

  // Group hosts that run the same image; order groups by first appearance.
  const groups = new Map<string, { image: HostImage; hosts: string[] }>();
  for (const h of successful) {
    const key = imageKey(h.image);
    const g = groups.get(key) ?? { image: h.image, hosts: [] };
    g.hosts.push(h.moId);
    groups.set(key, g);
  }
  const all = [...groups.values()];
  const mostUsed = all.reduce<(typeof all)[number] | undefined>(
    (best, g) => (!best || g.hosts.length > best.hosts.length ? g : best),
    undefined,
  );
  const highest = all.reduce<(typeof all)[number] | undefined>(
    (best, g) => (!best || compareImages(g.image, best.image) > 0 ? g : best),
    undefined,
  );
  const categories: Json = { is_highest_and_widely_used_image_equal: mostUsed === highest };
  if (mostUsed) categories.most_widely_used_image = installedImage(mostUsed.image, mostUsed.hosts);
  if (highest) categories.highest_versioned_image = installedImage(highest.image, highest.hosts);
  const others = all.filter((g) => g !== mostUsed && g !== highest);
  if (others.length > 0) categories.host_image_list = others.map((g) => installedImage(g.image, g.hosts));

  const hostNotifications: Json = {};
  const orphaned: Record<string, string[]> = {};
  for (const h of hosts) {
    if (failed.has(h.moId)) {
      hostNotifications[h.moId] = {
        errors: [
          notification(
            'com.vmware.vcIntegrity.lifecycle.EsxImage.HostNotReachable',
            completionTime,
            `Cannot extract the installed image from host ${h.name}: the host is ${h.connectionState === 'disconnected' ? 'disconnected' : 'not responding'}.`,
            [h.name],
            'ERROR',
            { resolution: message('com.vmware.vcIntegrity.lifecycle.EsxImage.HostNotReachable.resolution', 'Reconnect the host and extract the installed images again.'), retriable: true },
          ),
        ],
      };
    } else if (h.orphanedVibs.length > 0) {
      hostNotifications[h.moId] = {
        warnings: [
          notification(
            'com.vmware.vcIntegrity.lifecycle.EsxImage.OrphanedVibs',
            completionTime,
            `Host ${h.name} has VIBs that are not part of any component: ${h.orphanedVibs.join(', ')}.`,
            [h.name, h.orphanedVibs.join(', ')],
            'WARNING',
          ),
        ],
      };
    }
    for (const vib of h.orphanedVibs) (orphaned[vib] ??= []).push(h.moId);
  }

  const notifications: Json = {};
  if (status === 'EXTRACT_INSTALLED_IMAGE_FAILURE') {
    notifications.EXTRACT_INSTALLED_IMAGE = {
      errors: [
        notification(
          'com.vmware.vcIntegrity.lifecycle.EsxImage.ExtractInstalledImageFailed',
          completionTime,
          `Failed to extract the installed image from ${failedHosts.length} host(s) in cluster ${cluster.name}.`,
          [String(failedHosts.length), cluster.name],
          'ERROR',
          { originator: 'com.vmware.vcIntegrity.lifecycle', retriable: true },
        ),
      ],
    };
  }

  return {
    completion_time: completionTime,
    uniform_image: groups.size === 1,
    status,
    successful_hosts: successful.map((h) => h.moId),
    failed_hosts: [...failedHosts],
    unsupported_hosts: [],
    image_categories: categories,
    host_notifications: hostNotifications,
    host_info: Object.fromEntries(hosts.map((h) => [h.moId, { name: h.name }])),
    orphaned_vibs: orphaned,
    notifications,
  };
}
