import PostgresNIO
@testable import SluiceApply
@testable import SluiceCore
import Testing

/// The parser of PostgreSQL's packed `plan_cell`s, without a server: what a row's 46 bytes say, the
/// fingerprint pairs numbered by first use, cells out of order put in order, and bad cells named.
@Suite struct PlanningColumnsTests {
    /// One cell as `PostgresSchema.planCell` builds it (big-endian).
    static func cell(start: Int64, end: Int64, updated: Int64, data: Int64, destination: Int64, files: Int32, status: Int16) -> [UInt8] {
        func bytes<T: FixedWidthInteger>(_ v: T) -> [UInt8] { withUnsafeBytes(of: v.bigEndian) { Array($0) } }
        return bytes(start) + bytes(end) + bytes(updated) + bytes(data) + bytes(destination) + bytes(files) + bytes(status)
    }

    static func columns(_ cells: [[UInt8]]) throws(StateStoreError) -> PlanningColumns {
        try PlanningColumns(spec: "ow", provider: "openweb", packed: ByteBuffer(bytes: cells.flatMap { $0 }), location: "db")
    }

    @Test func eachCellBecomesOneWindowAndPairsAreNumberedByFirstUse() throws {
        let c = try Self.columns([
            Self.cell(start: 0, end: 10, updated: 100, data: 7, destination: 8, files: 1, status: 2),
            Self.cell(start: 10, end: 20, updated: 101, data: 7, destination: 8, files: 0, status: 1),
            Self.cell(start: 20, end: 30, updated: 102, data: -5, destination: 8, files: 3, status: 3),
            Self.cell(start: 30, end: 40, updated: 103, data: 7, destination: 8, files: 2, status: 2),
        ])
        #expect(c.starts == [0, 10, 20, 30] && c.ends == [10, 20, 30, 40] && c.updated == [100, 101, 102, 103])
        #expect(c.statuses == [.complete, .submitted, .failed, .complete])
        #expect(c.fileCounts == [1, 0, 3, 2])
        #expect(c.fingerprintIndices == [0, 0, 1, 0])
        #expect(c.pairs.map(\.hashes) == [.init(data: 7, destination: 8), .init(data: -5, destination: 8)])
        #expect(c.pairs.map(\.example) == [0, 20])
    }

    @Test func cellsOutOfStartOrderArePutInOrderWithTheirColumns() throws {
        let c = try Self.columns([
            Self.cell(start: 20, end: 30, updated: 3, data: 1, destination: 1, files: 2, status: 3),
            Self.cell(start: 0, end: 10, updated: 1, data: 2, destination: 2, files: 0, status: 2),
            Self.cell(start: 10, end: 20, updated: 2, data: 1, destination: 1, files: 1, status: 1),
        ])
        #expect(c.starts == [0, 10, 20] && c.ends == [10, 20, 30] && c.updated == [1, 2, 3])
        #expect(c.statuses == [.complete, .submitted, .failed] && c.fileCounts == [0, 1, 2])
        // Pairs keep their numbers; each window keeps its own.
        #expect(c.fingerprintIndices == [1, 0, 0] && c.pairs.map(\.hashes.data) == [1, 2])
    }

    @Test func noCellsIsAnEmptySpec() throws {
        let c = try PlanningColumns(spec: "ow", provider: "openweb", packed: nil, location: "db")
        #expect(c.starts.isEmpty && c.pairs.isEmpty)
    }

    @Test(arguments: [
        (Self.cell(start: 86_400_000, end: 1, updated: 1, data: 1, destination: 1, files: -1, status: 2), "files that are not an array"),
        (Self.cell(start: 86_400_000, end: 1, updated: 1, data: 1, destination: 1, files: 0, status: 9), "a plan_cell status sluice does not know"),
    ])
    func aBadCellNamesItsWindow(_ bad: [UInt8], _ expected: String) {
        do {
            _ = try Self.columns([Self.cell(start: 0, end: 1, updated: 1, data: 1, destination: 1, files: 0, status: 2), bad])
            Issue.record("read a bad cell")
        } catch {
            #expect(error.kind == .corrupt)
            #expect(error.message.contains("the sluice_windows row of ow starting at 1970-01-02T00:00:00Z") && error.message.contains(expected), "\(error.message)")
        }
    }

    @Test func aColumnThatIsNotWholeCellsIsRefused() {
        do {
            _ = try PlanningColumns(spec: "ow", provider: "openweb", packed: ByteBuffer(bytes: [UInt8](repeating: 0, count: 47)), location: "db")
            Issue.record("read 47 bytes as cells")
        } catch {
            #expect(error.kind == .corrupt && error.message.contains("not 46 bytes a row"))
        }
    }
}
