import SluiceCore
import Testing

/// Provider text shown to people: control characters escaped, no line a CI runner would obey (issue 14, row 10).
@Suite struct PrintableTextTests {
    @Test(arguments: [
        ("a\nb", #"a\nb"#), ("a\r\nb", #"a\r\nb"#), ("tab\tx", #"tab\tx"#), ("\u{1B}]0;title\u{07}", #"\x1b]0;title\x07"#),
        ("csi\u{9B}31m", #"csi\x9b31m"#), ("del\u{7F}", #"del\x7f"#), ("rlo\u{202E}txt", #"rlo\u{202e}txt"#),
        ("ls\u{2028}x", #"ls\u{2028}x"#), ("plain é ✓", "plain é ✓"),
    ])
    func controlCharactersAreShownEscaped(_ raw: String, _ shown: String) {
        #expect(PrintableText.escaped(raw) == shown)
    }

    @Test func noLineBeginsAWorkflowCommand() {
        let text = "ok\n::error::x\n  ::add-mask::y\nfine :: here\n"
        #expect(PrintableText.workflowSafe(text) == "ok\n: :error::x\n  : :add-mask::y\nfine :: here\n")
    }

    @Test func planReasonsShowJobIDsAndErrorsEscaped() {
        let failed = ActionReason.failed(attempts: 2, lastError: "denied\n::error::forged\u{1B}[2J").message
        #expect(failed == #"failed after 2 attempts: denied\n::error::forged\x1b[2J"#)
        let submitted = ActionReason.submittedNotFinished(jobID: "j\r1").message
        #expect(!submitted.unicodeScalars.contains { $0.value < 0x20 })
    }
}
