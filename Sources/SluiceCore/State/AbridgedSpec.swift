/// What a planning read knows of a window that is not complete, beside its columns.
public struct OpenWindowDetails: Sendable, Hashable {
    public var attempts: Int
    public var jobID: String?
    public var lastError: String?

    public init(attempts: Int, jobID: String?, lastError: String?) {
        self.attempts = attempts
        self.jobID = jobID
        self.lastError = lastError
    }
}

extension SpecState {
    /// A spec built in bulk from a planning read (see `SluiceState.isAbridged`): one entry per window in
    /// each column, sorted by start, each fingerprint index into `fingerprintTable`. `details` holds the
    /// attempts, job id and error of windows by start (the read gives them for windows not complete);
    /// the others count 1 attempt. Each window's files are `fileCounts` placeholders (empty path, 0 bytes).
    ///
    /// `nil` when the columns differ in length, the starts are not strictly increasing, an index is out
    /// of the table or a count is negative: a read that cannot be trusted.
    public init?(abridged name: String, provider: String, fingerprintTable: [WindowFingerprints],
                 starts: [Int64], ends: [Int64], statuses: [WindowStatus], fingerprintIndices: [Int32],
                 updated: [Int64], fileCounts: [Int32], details: [Int64: OpenWindowDetails]) {
        let n = starts.count
        guard ends.count == n, statuses.count == n, fingerprintIndices.count == n, updated.count == n,
              fileCounts.count == n else { return nil }
        for i in 1..<max(n, 1) where starts[i] <= starts[i - 1] { return nil }
        for f in fingerprintIndices where f < 0 || Int(f) >= fingerprintTable.count { return nil }
        self.init(name: name, provider: provider)
        self.fingerprintTable = fingerprintTable
        self.starts = starts
        self.ends = ends
        self.statuses = statuses
        self.fingerprintIndices = fingerprintIndices
        self.updatedTimes = updated
        attemptCounts = [Int32](repeating: 1, count: n)
        jobMillis = [Int32](repeating: -1, count: n) // not read for planning
        jobIDs.reserveCapacity(entries: n, bytes: 0)
        errors.reserveCapacity(entries: n, bytes: 0)
        fileOffsets.reserveCapacity(n + 1)
        var total: Int32 = 0
        for (i, count) in fileCounts.enumerated() {
            guard count >= 0 else { return nil }
            let (sum, overflow) = total.addingReportingOverflow(count)
            guard !overflow else { return nil }
            total = sum
            fileOffsets.append(total)
            if let open = details[starts[i]] {
                attemptCounts[i] = Int32(clamping: open.attempts)
                jobIDs.append(open.jobID)
                errors.append(open.lastError)
            } else {
                jobIDs.append(nil)
                errors.append(nil)
            }
        }
        let zero = SHA256Digest(w0: 0, w1: 0, w2: 0, w3: 0)
        files.sizes = [Int64](repeating: 0, count: Int(total))
        files.hashes = [SHA256Digest](repeating: zero, count: Int(total))
        files.paths.reserveCapacity(entries: Int(total), bytes: 0)
        for _ in 0..<Int(total) { files.paths.append("") }
    }
}
