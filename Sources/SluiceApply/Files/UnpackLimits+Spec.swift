import SluiceCore

extension UnpackLimits {
    /// sluice's defaults with a spec's `archives` overrides applied.
    public init(_ config: ArchiveLimitsConfig) {
        self.init()
        if let mib = config.maxEntryMiB { maxEntryBytes = mib << 20 }
        if let mib = config.maxTotalMiB { maxTotalBytes = mib << 20 }
        if let ratio = config.maxRatio { maxRatio = ratio }
        if let entries = config.maxEntries { maxEntries = Int(clamping: entries) }
    }
}
