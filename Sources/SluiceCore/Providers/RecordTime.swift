/// Where a provider's records carry the time its range filters on, for the providers whose request
/// reaches past the window's end so that no reading of the vendor's page can lose a record.
///
/// A vendor page that leaves its end open (is `to` inclusive or exclusive? compared at which precision?)
/// is answered by asking for a range that holds the window under every reading: `to` = e, where the
/// inclusive reading of the earlier rendering (`to` = e − 1 unit) lost the last unit under the exclusive
/// one. The records the overlap brings in, those whose own time is at or after e, belong to the next
/// window (whose request starts at e) and are removed before the window is committed. Records before
/// the window's start are never removed: under the field the vendor filters on there are none, and if
/// it filtered on another field they would be that field's records, which no other window holds.
///
/// A record at or after e + `reach` is more than the request's overlap can bring: the export covers
/// other times than asked (a range read in another time zone, a field other than `field`), and
/// removing it could lose what the next window's export does not hold either. Such a window fails.
public struct RecordTime: Sendable, Hashable {
    /// The CSV column or JSON member holding each record's time.
    public var field: String
    /// How far past the window's end, in milliseconds, the request can bring records: the precision of
    /// its `to` (OpenWeb's second, Coveo's millisecond, Userpilot's day).
    public var reach: Int64
    /// Whether a record before the window's start is refused too: for a provider whose records have no
    /// other time the range could be on (Userpilot), such a record means the range was read in another
    /// time zone, and the window's days cannot be told apart.
    public var refusesEarlier: Bool
    /// How the provider's CSV files escape quotes inside quoted fields.
    public var csvEscapes: CSVEscapes

    public enum CSVEscapes: Sendable, Hashable {
        /// RFC 4180 and Excel: `""` inside a quoted field.
        case doubledQuotes
        /// Coveo's `NO_NEWLINE`: `\"` and `\\` inside a field.
        case backslash
    }

    public init(field: String, reach: Int64, refusesEarlier: Bool = false, csvEscapes: CSVEscapes = .doubledQuotes) {
        self.field = field
        self.reach = reach
        self.refusesEarlier = refusesEarlier
        self.csvEscapes = csvEscapes
    }

    /// A record's time in milliseconds since the epoch, read from the field's text (`LooseTime`); `nil`
    /// when the text is not a time, which fails the window rather than guessing.
    public static func milliseconds(_ text: [UInt8]) -> Int64? { LooseTime.milliseconds(text) }
}
