import Testing
@testable import SluiceCore

@Suite struct PathTemplateTests {
    let start = Timestamp(year: 2025, month: 3, day: 9, hour: 14)!
    let end = Timestamp(year: 2025, month: 3, day: 9, hour: 15)!

    @Test func expandsEveryVariable() throws {
        let t = try PathTemplate("exports/{provider}/{name}/{start:yyyy-MM-dd/HH}_{end:HHmm}")
        #expect(t.expand(name: "ow", provider: "openweb", start: start, end: end)
            == "exports/openweb/ow/2025-03-09/14_1500")
    }

    @Test(arguments: [
        ("/abs/{name}", "path template \"/abs/{name}\" is absolute; write it relative to the destination root, e.g. \"abs/{name}\""),
        ("a/../{name}", "path template \"a/../{name}\" contains '..', which could leave the destination root"),
        ("{start:..}/x", "{start:..} shows no date or time; use e.g. {start:yyyy-MM-dd}"),
        ("{name}/{start:dd}", "path template \"{name}/{start:dd}\" leaves out yyyy (year), MM (month), so windows far apart would share a path; show every coarser unit, e.g. {start:yyyy-MM-dd}"),
        ("{nmae}/x", "unknown variable {nmae} in path template \"{nmae}/x\"; use {name}, {provider}, {start:FMT} or {end:FMT}"),
        ("{start}", "{start} needs a date format, e.g. {start:yyyy-MM-dd}"),
        ("{name", "unclosed '{' in path template \"{name\""),
        ("{start:yyyy MM}", "{start:yyyy MM}: ' ' is not allowed in a date format; use yyyy MM dd HH mm ss SSS and the separators - _ . / T"),
        ("a\\b/{name}", "path template \"a\\b/{name}\" contains '\\'; separate folders with '/'"),
        ("a//{name}", "path template \"a//{name}\" has an empty or '.' folder name"),
    ])
    func refusesTemplatesThatCouldEscapeOrCollide(text: String, message: String) {
        #expect(throws: PathTemplate.ParseError(message: message)) { try PathTemplate(text) }
    }

    @Test func resolutionIsTheFinestUnitShown() throws {
        #expect(try PathTemplate("{start:yyyy-MM-dd}").resolution == .day)
        #expect(try PathTemplate("{start:yyyy-MM}/{end:yyyy-MM-dd/HH}").resolution == .hour)
        #expect(try PathTemplate("{name}").resolution == nil)
    }
}
