import SluiceCore
import Testing

/// A window's record through the events of its export, as apply changes it (only through these).
@Suite struct WindowRecordTests {
    static let t0 = Timestamp(rfc3339: "2025-02-01T00:00:00Z")!
    static let digest = SHA256Digest(w0: 1, w1: 2, w2: 3, w3: 4)

    func fresh() -> WindowRecord {
        WindowRecord(window: ExportWindow(start: Self.t0, end: Self.t0 + .days(1)), status: .submitted,
                     fingerprints: WindowFingerprints(data: Self.digest, destination: Self.digest), attempts: 0, updated: Self.t0)
    }

    @Test func aSubmitCountsAnAttemptAndClearsWhatAnEarlierExportLeft() {
        var record = fresh()
        record.failed("HTTP 503", resumable: false, at: Self.t0 + .seconds(1))
        #expect(record.status == .failed && record.attempts == 1 && record.lastError == "HTTP 503")
        record.intending(at: Self.t0 + .seconds(2))
        #expect(record.status == .submitted && record.providerJobID == nil && record.attempts == 1)
        record.submitted(job: "j1", at: Self.t0 + .seconds(3))
        #expect(record.attempts == 2 && record.providerJobID == "j1" && record.lastError == nil && record.files.isEmpty)
        #expect(record.updated == Self.t0 + .seconds(3))
    }

    @Test func completedRecordsTheFilesAndAResumableFailureStaysSubmitted() {
        var record = fresh()
        record.submitted(job: "j1", at: Self.t0)
        record.failed("job j1 still running after 24 h", resumable: true, at: Self.t0 + .hours(24))
        #expect(record.status == .submitted && record.providerJobID == "j1" && record.attempts == 1)
        record.adopted(job: "j2", at: Self.t0 + .hours(25))
        #expect(record.providerJobID == "j2" && record.lastError == nil)
        let file = StoredFile(path: "s/2025-02-01/a.csv", bytes: 10, sha256: Self.digest)
        record.completed(files: [file], at: Self.t0 + .hours(26))
        #expect(record.status == .complete && record.files == [file] && record.lastError == nil && record.attempts == 1)
    }
}
