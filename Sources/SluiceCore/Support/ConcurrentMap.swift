import Dispatch

extension Array where Element: Sendable {
    /// `map` spread over the machine's cores, for a pure transform of elements that do not depend on
    /// one another; the results keep the input order. Small inputs are mapped in place: below
    /// `serialBelow` elements a thread hop costs more than it saves.
    func concurrentMap<T: Sendable>(serialBelow: Int = 64, _ transform: @Sendable (Element) -> T) -> [T] {
        guard count >= serialBelow else { return map(transform) }
        // Enough chunks for every core of a large machine, and for uneven chunks to even out.
        let size = (count + 63) / 64
        let chunks = (count + size - 1) / size
        return [T](unsafeUninitializedCapacity: count) { buffer, initialized in
            let slots = Slots(base: buffer.baseAddress!)
            DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
                for i in (chunk * size)..<Swift.min(count, (chunk + 1) * size) {
                    (slots.base + i).initialize(to: transform(self[i]))
                }
            }
            initialized = count
        }
    }
}

/// The result buffer, shared by the chunks: each writes its own disjoint range, and the buffer is read
/// only after `concurrentPerform` has returned.
private struct Slots<T>: @unchecked Sendable {
    let base: UnsafeMutablePointer<T>
}
