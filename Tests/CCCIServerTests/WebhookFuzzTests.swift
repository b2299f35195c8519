import CCCIServer
import CCCITestSupport
import Foundation
import HummingbirdTesting
import Testing

/// 10,000 random and mutated deliveries through the real router and store: bad JSON, wrong
/// types, huge fields, bad signatures. Every one must get a 2xx/4xx answer — no crash, no 5xx —
/// and none may queue a job (the base payloads come from a commenter without write access, a
/// repository that is not enrolled, or a push with nothing to supersede). Deterministic: the
/// seed is fixed, and a failing case prints its payload.
@Suite(.timeLimit(.minutes(10)))
struct WebhookFuzzTests {
    @Test("10,000 random and mutated payloads: zero crashes, zero 5xx, zero jobs queued")
    func fuzz() async throws {
        try await InProcessServer.with { server async throws in
            var random = SplitMix64(seed: 0xC0FFEE)
            let stranger = try WebhookFixture.comment("!testme", repository: "recipes/not-enrolled")
            let push = try WebhookFixture.synchronized(head: String(repeating: "9", count: 40))
            let allowed: Set<Int> = [200, 202, 204, 400, 401, 413]
            var counts: [Int: Int] = [:]
            for index in 0..<10_000 {
                // Each comment new (a comment id acted on before stops at once, before the rules).
                let comment = try WebhookFixture.comment(
                    "!testme --stages install", author: "mallory", commentID: 10_000 + index)
                let (body, event, signature) = Self.delivery(
                    index, random: &random, bases: [comment, stranger, push], secret: server.harness.secret)
                let response = try await server.post(body, event: event, signature: signature)
                let status = Int(response.status.code)
                counts[status, default: 0] += 1
                guard allowed.contains(status) else {
                    Issue.record(
                        "case \(index): \(status) for \(event): \(String(decoding: body.prefix(300), as: UTF8.self))")
                    return
                }
            }
            #expect(try await server.jobs().isEmpty, "no payload queued a job")
            #expect(counts[202] == nil)
            // The mix reached every layer: signature, JSON, the bridge's rules.
            #expect((counts[401] ?? 0) > 1000 && (counts[400] ?? 0) > 1000 && (counts[204] ?? 0) > 1000)
            #expect((counts[200] ?? 0) > 100, "some mutated comments still reached the permission check")
        }
    }

    /// Case `index`: its body, event header and signature (`.none`: signed correctly).
    static func delivery(
        _ index: Int, random: inout SplitMix64, bases: [[UInt8]], secret: String
    ) -> ([UInt8], String, String??) {
        let events = ["issue_comment", "issue_comment", "pull_request", "push", "", "ISSUE_COMMENT", "issues"]
        switch index % 10 {
        case 0, 1, 2:
            // Random bytes, or random JSON-ish text.
            let length = Int(random.next() % 3000)
            let body: [UInt8] =
                random.next() % 2 == 0
                ? (0..<length).map { _ in UInt8(truncatingIfNeeded: random.next()) }
                : Array(Self.jsonish(&random, depth: 0).utf8)
            return (body, events[Int(random.next() % UInt64(events.count))], .none)
        case 3, 4, 5:
            // A valid payload, bytes mutated.
            let base = bases[Int(random.next() % 2)]
            return (Self.mutate(base, &random), "issue_comment", .none)
        case 6:
            return (Self.mutate(bases[2], &random), "pull_request", .none)
        case 7:
            // Fields of the wrong type, huge values, deep nesting.
            let base = bases[Int(random.next() % 3)]
            return (Self.retype(base, &random), random.next() % 3 == 0 ? "pull_request" : "issue_comment", .none)
        default:
            // Bad signatures on valid payloads.
            let base = bases[Int(random.next() % 3)]
            let good = WebhookFixture.sign(base, secret: secret)
            let bad: String? =
                switch random.next() % 5 {
                case 0: nil
                case 1: String(good.dropLast())
                case 2: WebhookFixture.sign(base, secret: secret + "x")
                case 3: String((0..<64).map { _ in "0123456789abcdef".randomElement(using: &random)! })
                default: String(repeating: "z", count: Int(random.next() % 5000))
                }
            return (base, "issue_comment", .some(bad))
        }
    }

    static func mutate(_ base: [UInt8], _ random: inout SplitMix64) -> [UInt8] {
        var bytes = base
        for _ in 0..<(1 + Int(random.next() % 8)) where !bytes.isEmpty {
            let at = Int(random.next() % UInt64(bytes.count))
            switch random.next() % 4 {
            case 0: bytes[at] = UInt8(truncatingIfNeeded: random.next())
            case 1: bytes.remove(at: at)
            case 2: bytes.insert(contentsOf: Array("\"{}[],:0-e".utf8).shuffled(using: &random).prefix(3), at: at)
            default: bytes.removeSubrange(at..<min(bytes.count, at + Int(random.next() % 64)))
            }
        }
        return bytes
    }

    /// The payload with one field (at any depth) replaced by a value of another type or size.
    static func retype(_ base: [UInt8], _ random: inout SplitMix64) -> [UInt8] {
        guard var object = try? JSONSerialization.jsonObject(with: Data(base)) as? [String: Any] else { return base }
        let replacements: [Any] = [
            NSNull(), 1e300, -1, Int64.max, "", String(repeating: "x", count: 900_000), [1, 2, 3], ["a": ["b": 1]],
            true, "!testme " + String(repeating: "--stages ", count: 1000), Double.leastNonzeroMagnitude,
        ]
        var keys = Array(object.keys)
        guard !keys.isEmpty else { return base }
        let key = keys.remove(at: Int(random.next() % UInt64(keys.count)))
        if var nested = object[key] as? [String: Any], !nested.isEmpty, random.next() % 2 == 0 {
            let inner = Array(nested.keys)[Int(random.next() % UInt64(nested.count))]
            nested[inner] = replacements[Int(random.next() % UInt64(replacements.count))]
            object[key] = nested
        } else {
            object[key] = replacements[Int(random.next() % UInt64(replacements.count))]
        }
        return (try? Array(JSONSerialization.data(withJSONObject: object))) ?? base
    }

    static func jsonish(_ random: inout SplitMix64, depth: Int) -> String {
        switch random.next() % (depth > 6 ? 3 : 6) {
        case 0: return "\(Int64(bitPattern: random.next()))"
        case 1: return "\"\(String(repeating: "é\\u0000\\\"", count: Int(random.next() % 4)))\""
        case 2: return ["null", "true", "1e999", "-0", "\"!testme\""][Int(random.next() % 5)]
        case 3:
            return "["
                + (0..<Int(random.next() % 4)).map { _ in jsonish(&random, depth: depth + 1) }.joined(separator: ",")
                + "]"
        default:
            let keys = ["action", "issue", "comment", "repository", "number", "body", "pull_request", "head", "sha"]
            return "{"
                + (0..<Int(random.next() % 5)).map { _ in
                    "\"\(keys[Int(random.next() % UInt64(keys.count))])\":\(jsonish(&random, depth: depth + 1))"
                }.joined(separator: ",") + "}"
        }
    }
}
