import Foundation
import SluiceCore

/// Reads the records of a published window folder the way a user's loader would, independently of
/// sluice's own code: CSV columns, JSON `{"records": [...]}`, newline-delimited JSON.
public enum WindowRecords {
    public struct Unreadable: Error, CustomStringConvertible {
        public var description: String
    }

    /// The id of every record in the folder's data files, as `id`, or `id#version` where the files carry
    /// a version (Enterpret v2), in file order.
    public static func ids(in folder: URL, provider: ProviderID) throws -> [String] {
        var ids: [String] = []
        let tableKeys = ["searches.csv": "searchId", "clicks.csv": "clickId", "custom_events.csv": "customEventId",
                         "keywords.csv": "keywordId", "groups.csv": "groupId"]
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
        for name in names where !name.hasPrefix("_") && name != "labels.json" {
            let data = try Data(contentsOf: folder.appendingPathComponent(name))
            if name.hasSuffix(".csv") {
                let rows = CSV.parse(String(decoding: data, as: UTF8.self))
                guard let header = rows.first else { continue }
                let candidates = [tableKeys[name]].compactMap { $0 } + ["id", "record_id"]
                guard let column = candidates.compactMap({ header.firstIndex(of: $0) }).first else {
                    throw Unreadable(description: "\(name): no id column in \(header)")
                }
                let version = header.firstIndex(of: "version")
                for row in rows.dropFirst() where row.count == header.count {
                    ids.append(row[column] + (version.map { "#" + row[$0] } ?? ""))
                }
            } else if name.hasSuffix(".json") {
                if provider == .userpilot {
                    for line in String(decoding: data, as: UTF8.self).split(separator: "\n") where !line.isEmpty {
                        guard let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                              let id = object["id"] as? String
                        else { throw Unreadable(description: "\(name): a line without an id") }
                        ids.append(id)
                    }
                } else {
                    guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any],
                          let records = object["records"] as? [[String: Any]]
                    else { throw Unreadable(description: "\(name): not {\"records\": [...]}") }
                    ids += records.compactMap { $0["id"] as? String }
                }
            }
        }
        return ids
    }
}

/// A small RFC 4180 reader: quoted fields with commas, doubled quotes and line breaks; rows end at
/// `\n`, `\r\n` or a lone `\r`.
public enum CSV {
    public static func parse(_ text: String) -> [[String]] {
        var rows: [[String]] = []
        var row: [String] = []
        var field = ""
        var quoted = false
        var chars = Array(text.unicodeScalars)[...]
        while let c = chars.popFirst() {
            if quoted {
                if c == "\"" {
                    if chars.first == "\"" {
                        field.unicodeScalars.append("\"")
                        chars.removeFirst()
                    } else {
                        quoted = false
                    }
                } else {
                    field.unicodeScalars.append(c)
                }
            } else if c == "\"" {
                quoted = true
            } else if c == "," {
                row.append(field)
                field = ""
            } else if c == "\r" || c == "\n" {
                if c == "\r", chars.first == "\n" { chars.removeFirst() }
                row.append(field)
                field = ""
                rows.append(row)
                row = []
            } else {
                field.unicodeScalars.append(c)
            }
        }
        if !field.isEmpty || !row.isEmpty {
            row.append(field)
            rows.append(row)
        }
        return rows
    }
}
