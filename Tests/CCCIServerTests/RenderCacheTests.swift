import Foundation
import Synchronization
import Testing

@testable import CCCIServer

/// The dashboard's render cache: one render per generation however many ask at once.
@Suite struct RenderCacheTests {
    /// A render that counts itself and takes `pause`.
    final class Renders: Sendable {
        let count = Atomic(0)
        let pause: Duration

        init(pause: Duration = .milliseconds(100)) { self.pause = pause }

        func render(_ text: String) async throws -> String {
            count.add(1, ordering: .relaxed)
            try await Task.sleep(for: pause)
            return text
        }
    }

    @Test("fifty requests that miss together wait for one render; a new generation renders again")
    func oneRenderPerGeneration() async throws {
        let cache = RenderCache()
        let renders = Renders()
        let bodies = try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<50 {
                group.addTask {
                    let entry = try await cache.body("/", generation: 7) { try await renders.render("seven") }
                    return String(buffer: entry.body)
                }
            }
            return try await group.reduce(into: [String]()) { $0.append($1) }
        }
        #expect(bodies == Array(repeating: "seven", count: 50))
        #expect(renders.count.load(ordering: .relaxed) == 1)
        _ = try await cache.body("/", generation: 7) { try await renders.render("again") }
        #expect(renders.count.load(ordering: .relaxed) == 1, "a hit renders nothing")
        let next = try await cache.body("/", generation: 8) { try await renders.render("eight") }
        #expect(String(buffer: next.body) == "eight" && renders.count.load(ordering: .relaxed) == 2)
    }

    @Test("a page older than its maxAge is rendered again; a render that fails is not kept")
    func expiryAndFailure() async throws {
        struct Broken: Error {}
        let cache = RenderCache()
        let renders = Renders(pause: .zero)
        _ = try await cache.body("/", generation: 1, maxAge: .milliseconds(50)) { try await renders.render("a") }
        try await Task.sleep(for: .milliseconds(80))
        let later = try await cache.body("/", generation: 1, maxAge: .milliseconds(50)) {
            try await renders.render("b")
        }
        #expect(String(buffer: later.body) == "b" && renders.count.load(ordering: .relaxed) == 2)
        await #expect(throws: Broken.self) {
            _ = try await cache.body("/x", generation: 1) { throw Broken() }
        }
        let retried = try await cache.body("/x", generation: 1) { try await renders.render("c") }
        #expect(String(buffer: retried.body) == "c")
    }
}
