/** The fleet query: every cluster, its hosts with product info (a cluster has at most 96), and each cluster's installed images. */
export const FLEET_QUERY = /* GraphQL */ `
  query Fleet {
    clusters(first: 1000) {
      totalCount
      nodes {
        id
        moId
        name
        haEnabled
        drsEnabled
        vcenter { name }
        hosts(first: 100) {
          totalCount
          nodes {
            id
            moId
            name
            connectionState
            powerState
            inMaintenanceMode
            product { name version build }
            installedImage { baseImage { version } }
          }
        }
        installedImages {
          status
          completionTime
          uniformImage
          successfulHosts { moId name }
          failedHosts { moId name }
          unsupportedHosts { moId }
          imageCategories {
            isHighestAndWidelyUsedImageEqual
            mostWidelyUsedImage { softwareInfo { baseImage { version displayVersion } } hosts { moId } }
            highestVersionedImage { softwareInfo { baseImage { version } } hosts { moId } }
            hostImageList { softwareInfo { baseImage { version } addOn { name version } components { name version } } hosts { moId name } }
          }
          hostNotifications { host { moId name } notifications { errors { id message { defaultMessage } } warnings { id } info { id } } }
          hostInfo { host { moId } name isVsanWitness }
          orphanedVibs { vib name version hosts { moId name } }
          notifications { operation notifications { errors { id type message { id defaultMessage args } } } }
        }
      }
    }
  }
`;
