import CCCISystem
import Foundation
import Testing

/// The spawn thread forks `ccci run` for the server and the tests (the kernel ties a child's
/// parent-death signal to the forking thread; SafetyTests shows what happens on a thread that ends).
@Suite struct SpawnThreadTests {
    @Test("work given to the spawn thread, as a closure or as a task's executor preference, runs on that one thread")
    func runsOnItsThread() async throws {
        let performed = try await SpawnThread.shared.perform { SpawnThread.shared.isCurrent }
        #expect(performed == true)
        let preferred = await withTaskExecutorPreference(SpawnThread.shared) { SpawnThread.shared.isCurrent }
        #expect(preferred == true)
        let nested = await withTaskExecutorPreference(SpawnThread.shared) {
            try? await Task.sleep(for: .milliseconds(10))
            return await withTaskGroup(of: Bool.self) { group in
                group.addTask { SpawnThread.shared.isCurrent }
                return await group.next() ?? false
            }
        }
        #expect(nested == true, "a child task after a suspension stays on the thread")
        #expect(!SpawnThread.shared.isCurrent)
    }

    @Test("an error thrown on the spawn thread reaches the caller, and the thread goes on serving")
    func errorsReachTheCaller() async throws {
        struct Refused: Error {}
        await #expect(throws: Refused.self) {
            try await SpawnThread.shared.perform { () throws -> Int in throw Refused() }
        }
        #expect(try await SpawnThread.shared.perform { 42 } == 42)
    }
}
