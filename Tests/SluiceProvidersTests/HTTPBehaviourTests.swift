@testable import SluiceCore
import SluiceTestSupport
import Testing
@testable import SluiceProviders

@Suite struct RetryPolicyTests {
    struct FixedRandom: RandomNumberGenerator {
        var value: UInt64
        mutating func next() -> UInt64 { value }
    }

    @Test func fullJitterStaysUnderTheGrowingCeiling() {
        let policy = RetryPolicy(maxAttempts: 10, baseDelay: .seconds(1), maxDelay: .seconds(60))
        var rng = SystemRandomNumberGenerator()
        for attempt in 1...9 {
            let ceiling = min(Duration.seconds(60), .seconds(1) * (1 << (attempt - 1)))
            for _ in 0..<50 {
                let d = policy.delay(afterAttempt: attempt, retryAfter: nil, using: &rng)
                #expect(d != nil && d! >= .zero && d! <= ceiling)
            }
        }
    }

    @Test func retryAfterWinsButIsCapped() {
        let policy = RetryPolicy(maxAttempts: 3, baseDelay: .seconds(1), maxDelay: .seconds(60))
        var rng = FixedRandom(value: 0)
        #expect(policy.delay(afterAttempt: 1, retryAfter: .seconds(7), using: &rng) == .seconds(7))
        #expect(policy.delay(afterAttempt: 1, retryAfter: .seconds(7200), using: &rng) == .seconds(60))
    }

    @Test func stopsAfterTheLastAttempt() {
        let policy = RetryPolicy(maxAttempts: 3)
        var rng = SystemRandomNumberGenerator()
        #expect(policy.delay(afterAttempt: 2, retryAfter: nil, using: &rng) != nil)
        #expect(policy.delay(afterAttempt: 3, retryAfter: nil, using: &rng) == nil)
    }

    @Test(arguments: [(429, true), (500, true), (502, true), (503, true), (504, true), (408, true),
                      (400, false), (401, false), (403, false), (404, false), (409, false), (501, false)])
    func retryableStatuses(status: Int, retryable: Bool) {
        #expect(RetryPolicy.isRetryable(status: status) == retryable)
    }
}

@Suite struct RetryAfterTests {
    let now = Timestamp(rfc3339: "2015-10-21T07:27:00Z")!

    @Test(arguments: [
        ("120", Duration.seconds(120)),
        (" 0 ", Duration.zero),
        ("Wed, 21 Oct 2015 07:28:00 GMT", Duration.seconds(60)),
        ("Wednesday, 21-Oct-15 07:28:00 GMT", Duration.seconds(60)),
        ("Wed Oct 21 07:28:00 2015", Duration.seconds(60)),
        ("Wed, 21 Oct 2015 07:00:00 GMT", Duration.zero),
    ])
    func parsesBothForms(header: String, expected: Duration) {
        #expect(RetryAfter.parse(header, now: now) == expected)
    }

    @Test(arguments: ["", "soon", "-5", "1.5", "Wed, 32 Oct 2015 07:28:00 GMT"])
    func ignoresWhatItCannotRead(header: String) {
        #expect(RetryAfter.parse(header, now: now) == nil)
    }

    @Test func formatsIMFFixdate() {
        #expect(RetryAfter.imfFixdate(Timestamp(rfc3339: "2015-10-21T07:28:00Z")!) == "Wed, 21 Oct 2015 07:28:00 GMT")
        #expect(RetryAfter.imfFixdate(Timestamp(rfc3339: "1994-11-06T08:49:37Z")!) == "Sun, 06 Nov 1994 08:49:37 GMT")
    }
}

@Suite struct PollScheduleTests {
    @Test func growsWithTheTimeWaitedUpToTheCap() {
        let s = PollSchedule()
        // 1 s while the job is young, then a tenth of the time waited, never more than a minute.
        #expect([0, 5, 10, 30, 300, 600, 3600].map { s.delay(afterWaiting: .seconds($0)) }
                == [1, 1, 1, 3, 30, 60, 60].map { Duration.seconds($0) })
        #expect(PollSchedule.fixed(.seconds(10)).delay(afterWaiting: .seconds(500)) == .seconds(10))
    }
}

@Suite(.timeLimit(.minutes(1))) struct SlidingWindowLimiterTests {
    @Test func tenPerMinuteLetsTenThroughThenTheEleventhWaitsForTheFirstToAgeOut() async throws {
        let clock = ManualClock()
        let limiter = SlidingWindowLimiter(limit: 10, interval: .seconds(60), margin: .zero, clock: clock)
        for _ in 0..<10 { try await limiter.acquire() }
        let eleventh = Task { try await limiter.acquire(); return clock.now }
        await clock.waitForSleepers(1)
        clock.advance(by: .seconds(59))
        #expect(clock.sleeping == 1, "the 11th request must wait a whole minute after the first")
        clock.advance(by: .seconds(1))
        #expect(try await eleventh.value.offset == .seconds(60))
    }

    /// A token bucket of 10 refilled every 6 s lets 11 requests into the minute after a burst; the
    /// vendor counts a sliding minute, so no 60 s span may ever hold more than 10 grants.
    @Test func noSixtySecondSpanEverHoldsMoreThanTheLimit() async throws {
        let clock = ManualClock()
        let limiter = SlidingWindowLimiter(limit: 10, interval: .seconds(60), margin: .milliseconds(250), clock: clock)
        var grants: [Duration] = []
        var arrivals: [Duration] = []
        for k in 0..<40 {
            arrivals.append(clock.now.offset)
            grants.append(await limiter.reserve().offset)
            clock.advance(by: .seconds(Int64(k % 7))) // requests arrive unevenly, in bursts and gaps
        }
        for i in 10..<grants.count {
            #expect(grants[i] - grants[i - 10] >= .milliseconds(60_250), "grants \(i - 10) and \(i) are closer than a minute")
        }
        // And none waits longer than it must: each is granted on arrival or the moment the window has room.
        for i in grants.indices {
            let room = i >= 10 ? max(arrivals[i], grants[i - 10] + .milliseconds(60_250)) : arrivals[i]
            #expect(grants[i] == room, "grant \(i)")
        }
    }

    @Test func waitersAreServedInArrivalOrder() async throws {
        let clock = ManualClock()
        let limiter = SlidingWindowLimiter(limit: 1, interval: .seconds(10), margin: .zero, clock: clock)
        try await limiter.acquire()
        let second = Task { try await limiter.acquire(); return clock.now.offset }
        await clock.waitForSleepers(1)
        let third = Task { try await limiter.acquire(); return clock.now.offset }
        await clock.waitForSleepers(2)
        clock.advance(by: .seconds(10))
        #expect(try await second.value == .seconds(10))
        #expect(clock.sleeping == 1, "the third waits for the second to age out")
        clock.advance(by: .seconds(10))
        #expect(try await third.value == .seconds(20))
    }
}

@Suite struct URLRedactionTests {
    @Test(arguments: [
        ("http://127.0.0.1:9/f/a.zip?X-Expires=1&X-Signature=abc", "http://127.0.0.1:9/f/a.zip?…"),
        ("https://user:pw@s3.amazonaws.com/b/k?sig=1#frag", "https://s3.amazonaws.com/b/k?…"),
        ("https://api.enterpret.com/v2/export", "https://api.enterpret.com/v2/export"),
    ])
    func hidesQueryAndUserInfo(url: String, shown: String) {
        #expect(URLRedaction.redact(url) == shown)
    }
}
