import Foundation
import Logging
import PostgresNIO
import Synchronization

/// The store's generation as this process last saw it, kept fresh by the database: every change
/// to the runs or the canonicals, from any node, notifies its new generation on
/// ``PostgresStore/generationChannel`` (migration `v3-generation-notify`). While the watch listens,
/// ``PostgresStore/generation()`` answers from memory — the dashboard's cached pages then cost no
/// round trip — and otherwise (not yet listening, the connection lost) it reads the database.
///
/// A write through this store forgets the value until the next read, so this process reads its
/// own writes at once; another node's change arrives with its notification, milliseconds after
/// its commit. Values only move forward: a read that raced a notification never goes back.
final class GenerationWatch: Sendable {
    private struct State {
        var listening = false
        /// Moves when listening begins and when this process writes: a read counts only when it
        /// began while listening and after this process' last write (a change before the
        /// `LISTEN` was in place was never notified; a read begun before a write may miss it).
        var epoch = 0
        var value: Int64?
        var task: Task<Void, Never>?
        var closed = false
    }

    private let state = Mutex(State())

    /// The generation to trust without a read, when there is one.
    var known: Int64? { state.withLock { $0.listening ? $0.value : nil } }

    /// The epoch a read about to begin belongs to (`nil`: not listening).
    var epoch: Int? { state.withLock { $0.listening ? $0.epoch : nil } }

    /// What a notification, or a read begun in `epoch`, saw (kept only while that epoch lasts).
    func saw(_ value: Int64, during epoch: Int?) {
        state.withLock { state in
            guard state.listening, let epoch, epoch == state.epoch else { return }
            state.value = max(state.value ?? value, value)
        }
    }

    /// A write through this store committed: the next ``known`` comes from a read begun now.
    func forget() {
        state.withLock { state in
            state.value = nil
            state.epoch += 1
        }
    }

    /// Starts listening (once): `listen` runs until its connection ends, calling `ready` once its
    /// `LISTEN` is in place; it is started again after a pause.
    func start(logger: Logger, _ listen: @escaping @Sendable (_ ready: @Sendable () -> Void) async throws -> Void) {
        state.withLock { state in
            guard state.task == nil, !state.closed else { return }
            state.task = Task { [self] in
                while !Task.isCancelled {
                    do {
                        try await listen {
                            self.state.withLock { state in
                                state.listening = true
                                state.epoch += 1
                            }
                        }
                    } catch {
                        logger.warning(
                            "listening for store changes failed; the dashboard reads the generation until it listens again",
                            metadata: ["error.message": "\(error)"])
                    }
                    self.state.withLock { state in
                        state.listening = false
                        state.value = nil
                    }
                    try? await Task.sleep(for: .seconds(5))
                }
            }
        }
    }

    func stop() {
        state.withLock { state in
            state.closed = true
            state.listening = false
            state.value = nil
            state.task?.cancel()
        }
    }
}

extension PostgresStore {
    /// The channel every change of the generation is notified on, the new value its payload.
    static let generationChannel = "ccci_generation"

    public func generation() async throws -> Int64 {
        if let known = generations.known { return known }
        let client = self.client
        generations.start(logger: logger) { [generations] ready in
            try await client.withConnection { connection in
                let notifications = try await connection.listen(Self.generationChannel)
                ready()
                for try await notification in notifications {
                    if let value = Int64(notification.payload) { generations.saw(value, during: generations.epoch) }
                }
            }
        }
        let epoch = generations.epoch
        let value = try await session("read") { session in
            try session.value("SELECT value FROM generation WHERE id = 1", as: Int64.self) ?? 0
        }
        generations.saw(value, during: epoch)
        return value
    }
}
