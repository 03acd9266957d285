import Foundation
import HTTPTypes

/// `/_sandbox/…` on the API listener: ground truth, stats, reset, blobs, the clock and the fault plan.
/// These routes need no token and never fault.
extension SandboxCore {
    func blobURL(bytes: Int64) -> String {
        let path = "/blobs/\(bytes).bin"
        environment.store.put(path, StoredObject(contentType: "application/octet-stream", content: .blob(size: bytes)))
        return environment.store.signedURL(base: environment.storageBase, path: path, expires: environment.clock.now() + 7 * UTCTime.msPerDay)
    }

    func control(_ req: SandboxRequest) -> Reply {
        let route = req.components.dropFirst().first ?? ""
        func bad(_ message: String) -> Reply { .json(.badRequest, obj(("error", .string(message)))) }
        switch (req.method, route) {
        case (.get, "truth"):
            guard let name = req.query("provider") else { return bad("missing query parameter 'provider'") }
            guard let provider = SandboxProvider(rawValue: name) else { return bad(SandboxError.unknownProvider(name).description) }
            guard let startText = req.query("start"), let start = UTCTime.parse(startText), start.hasZone || start.precision == .day,
                  let endText = req.query("end"), let end = UTCTime.parse(endText), end.hasZone || end.precision == .day
            else { return bad("start and end must be RFC 3339 instants, e.g. 2025-01-01T00:00:00Z") }
            guard start.ms < end.ms else { return bad("start must be before end") }
            guard end.ms - start.ms <= 400 * UTCTime.msPerDay else { return bad("truth covers at most 400 days per request") }
            do {
                let records = try truth(provider: provider, start: start.ms, end: end.ms, objectID: req.query("objectID"))
                return .json(.ok, obj(("records", .array(records.map { r in
                    r.version.map { obj(("id", .string(r.id)), ("version", .int(Int64($0)))) } ?? obj(("id", .string(r.id)))
                }))))
            } catch {
                return bad("\(error)")
            }
        case (.get, "stats"):
            return .json(.ok, stats.json())
        case (.post, "reset"):
            reset()
            return .json(.ok, obj(("reset", .bool(true))))
        case (.get, "blob"), (.post, "blob"):
            guard let text = req.query("bytes"), let bytes = Int64(text), bytes >= 0, bytes <= 1 << 40 else {
                return bad("bytes must be an integer between 0 and 2^40")
            }
            let url = blobURL(bytes: bytes)
            return .json(.ok, obj(("url", .string(url)), ("bytes", .int(bytes))))
        case (.get, "clock"), (.post, "clock"):
            if let text = req.query("advance") {
                guard let seconds = Double(text), seconds >= 0 else { return bad("advance must be seconds ≥ 0") }
                environment.clock.advance(by: Int64(seconds * 1000))
            }
            let now = environment.clock.now()
            return .json(.ok, obj(("now", .string(UTCTime.millisZ(now))), ("speed", .double(environment.clock.speed))))
        case (.get, "faults"):
            return .json(.ok, obj(("faults", .string(faults.plan.description))))
        case (.post, "faults"), (.put, "faults"):
            do {
                let plan = try FaultPlan(parsing: String(decoding: req.body, as: UTF8.self))
                faults.set(plan)
                return .json(.ok, obj(("faults", .string(plan.description))))
            } catch {
                return bad("\(error)")
            }
        default:
            return .json(.notFound, obj(("error", .string("unknown sandbox route \(req.path); try truth, stats, reset, blob, clock or faults"))))
        }
    }
}
