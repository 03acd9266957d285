import Foundation
@testable import SluiceApply
import SluiceCore
import Testing

/// The record reader: CSV (RFC 4180), JSON documents and NDJSON into typed cells.
@Suite struct RecordReaderTests {
    /// Writes `text` to a file named `name` in a fresh folder and reads it whole.
    func read(_ name: String, _ text: String, batchSize: Int = 5_000) throws -> RecordBatch {
        let scratch = try Scratch()
        let url = scratch.url.appendingPathComponent(name)
        try Data(text.utf8).write(to: url)
        let reader = try #require(RecordReader(file: url, batchSize: batchSize))
        return try withExtendedLifetime(scratch) { try reader.readAll() }
    }

    func columns(_ name: String, _ text: String) throws -> RecordColumns {
        let scratch = try Scratch()
        let url = scratch.url.appendingPathComponent(name)
        try Data(text.utf8).write(to: url)
        let reader = try #require(RecordReader(file: url))
        return try withExtendedLifetime(scratch) { try reader.columns() }
    }

    @Test func csvQuotedCommasDoubledQuotesAndLineBreaksInQuotes() throws {
        let batch = try read("a.csv", "id,text,n\r\n1,\"a, b\",2\r\n2,\"say \"\"hi\"\"\",3\r\n3,\"two\nlines\",4\r\n")
        #expect(batch.columns == ["id", "text", "n"])
        #expect(batch.rows == [
            [.text("1"), .text("a, b"), .text("2")],
            [.text("2"), .text("say \"hi\""), .text("3")],
            [.text("3"), .text("two\nlines"), .text("4")],
        ])
    }

    @Test func csvEmptyUnquotedIsNullQuotedEmptyIsEmptyText() throws {
        let batch = try read("a.csv", "id,a,b\n1,,\"\"\n2,x,\n")
        #expect(batch.rows == [[.text("1"), .null, .text("")], [.text("2"), .text("x"), .null]])
    }

    @Test func csvUnicodeBOMBlankLinesShortRowsAndNoFinalNewline() throws {
        let batch = try read("a.csv", "\u{FEFF}id,name\n\n1,Zoë 🚀\n2\n3,\"日本, 語\"")
        #expect(batch.columns == ["id", "name"])
        #expect(batch.rows == [[.text("1"), .text("Zoë 🚀")], [.text("2")], [.text("3"), .text("日本, 語")]])
    }

    @Test func csvLoneCarriageReturnsEndRowsToo() throws {
        let batch = try read("a.csv", "id,v\r1,a\r2,b\r")
        #expect(batch.rows == [[.text("1"), .text("a")], [.text("2"), .text("b")]])
    }

    @Test func csvTooManyFieldsAndAnUnclosedQuoteAreErrors() throws {
        #expect(throws: RecordReadError.self) { try read("a.csv", "id,v\n1,2,3\n") }
        let error = #expect(throws: RecordReadError.self) { try read("a.csv", "id,v\n1,\"open\n") }
        #expect(error?.description.contains("not closed") == true)
    }

    @Test func csvHeaderOnlyAndEmptyFilesHaveNoRows() throws {
        #expect(try read("a.csv", "id,v\n").rows.isEmpty)
        #expect(try read("a.csv", "").rows.isEmpty)
        #expect(try columns("a.csv", "").names.isEmpty)
        #expect(try columns("a.csv", "id,v\n").names == ["id", "v"])
    }

    @Test func csvBatchesAcrossChunkBoundaries() throws {
        // Long quoted fields and many rows: crosses the reader's 1 MiB chunks.
        var text = "id,text\n"
        let long = String(repeating: "x,\"y\"\n", count: 100)
        for i in 0..<5_000 { text += "\(i),\"\(long.replacingOccurrences(of: "\"", with: "\"\""))\"\r\n" }
        let scratch = try Scratch()
        let url = scratch.url.appendingPathComponent("big.csv")
        try Data(text.utf8).write(to: url)
        var sizes: [Int] = []
        var last: [TableValue] = []
        try #require(RecordReader(file: url, batchSize: 1_000)).forEachBatch { batch in
            sizes.append(batch.rows.count)
            last = batch.rows.last ?? []
        }
        withExtendedLifetime(scratch) {}
        #expect(sizes == [1_000, 1_000, 1_000, 1_000, 1_000])
        #expect(last == [.text("4999"), .text(long)])
    }

    @Test func jsonRecordsDocumentWithNestedValuesAndTypes() throws {
        let text = """
            {"records": [
              {"id": "a", "n": 1, "x": 1.5, "ok": true, "none": null, "tags": ["p", "q"], "meta": {"k": {"d": 1}}},
              {"id": "b", "n": 2, "x": 2, "ok": false, "extra": "late"}
            ]}
            """
        let batch = try read("records-00001.json", text)
        #expect(batch.columns == ["id", "n", "x", "ok", "none", "tags", "meta", "extra"])
        #expect(batch.rows[0] == [.text("a"), .integer(1), .real(1.5), .boolean(true), .null, .json(#"["p","q"]"#), .json(#"{"k":{"d":1}}"#)])
        #expect(batch.rows[1] == [.text("b"), .integer(2), .integer(2), .boolean(false), .null, .null, .null, .text("late")])
        let columns = try self.columns("records-00001.json", text)
        #expect(columns.names == batch.columns)
        #expect(columns.types == [.text, .integer, .real, .boolean, nil, .json, .json, .text])
        #expect(columns.records == 2)
    }

    @Test func jsonTopLevelArrayAndEmptyDocuments() throws {
        let batch = try read("a.json", #"[{"id": 1}, {"id": 2, "v": "x"}]"#)
        #expect(batch.rows == [[.integer(1)], [.integer(2), .text("x")]])
        #expect(try read("a.json", #"{"records": []}"#).rows.isEmpty)
        #expect(try read("a.json", "").rows.isEmpty)
        #expect(throws: RecordReadError.self) { try read("a.json", "{\n  \"items\": [1]\n}\n") }
        // A single-line object that is not `{"records": [...]}` is NDJSON: one record.
        #expect(try read("a.json", #"{"items": [1]}"#).rows == [[.json("[1]")]])
    }

    @Test func ndjsonInJSONAndJSONLFiles() throws {
        let text = "{\"id\": \"u1\", \"n\": 1}\n\n{\"id\": \"u2\", \"n\": \"two\", \"props\": {\"a\": [1, 2]}}\n"
        for name in ["events.json", "events.jsonl", "events.ndjson"] {
            let batch = try read(name, text)
            #expect(batch.columns == ["id", "n", "props"], "\(name)")
            #expect(batch.rows == [[.text("u1"), .integer(1)], [.text("u2"), .text("two"), .json(#"{"a":[1,2]}"#)]], "\(name)")
            // A column whose values disagree in type is text.
            #expect(try columns(name, text).types == [.text, .text, .json])
        }
        // A one-line `{"records": [...]}` file is a document, not one NDJSON record.
        #expect(try read("r.json", #"{"records": [{"id": "a"}, {"id": "b"}]}"#).rows.count == 2)
        let error = #expect(throws: RecordReadError.self) { try read("e.ndjson", "{\"id\": 1}\n[1]\n") }
        #expect(error?.description.contains("line 2") == true)
    }

    @Test func integersAndRealsMergeToRealOtherMixesToText() {
        #expect(ColumnType.integer.merged(with: .real) == .real)
        #expect(ColumnType.integer.merged(with: .boolean) == .text)
        #expect(ColumnType.json.merged(with: .json) == .json)
    }

    @Test(arguments: [("_manifest.json", false), ("labels.json", false), ("a.zip", false), ("searches.csv", true),
                      ("records-00001.json", true), ("x.jsonl", true), (".hidden.csv", false)])
    func whichFilesAreData(_ name: String, _ isData: Bool) throws {
        let scratch = try Scratch()
        let url = scratch.url.appendingPathComponent(name)
        try Data("{}".utf8).write(to: url)
        #expect((RecordFormat.of(url) != nil) == isData)
        withExtendedLifetime(scratch) {}
    }
}
