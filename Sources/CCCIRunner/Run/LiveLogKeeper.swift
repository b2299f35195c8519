import CCCIStore
import Foundation

/// While a run runs on a node whose store is shared, its log so far is kept in the store every
/// few seconds (as `run.log.live`), so that every node's dashboard follows it as this node's
/// does; the finished run's files replace it. The log is redacted as it is written (the
/// ``RunJournal``), so the copy holds no secret the local page would not show.
public enum LiveLogKeeper {
    /// The name the log so far is kept under.
    public static let name = "run.log.live"
    /// Past this size the copy stops being refreshed (the finished run's full log still is kept).
    static let limit = 4 << 20

    /// Starts keeping `journal`'s log of run `runID` in `store`, every `interval`, until cancelled;
    /// `nil` when the store keeps no run files (SQLite: the node's own directory is what pages read).
    public static func start(
        journal: RunJournal, runID: String, store: (any NodeStore)?, every interval: Duration = .seconds(3)
    ) -> Task<Void, Never>? {
        guard let store, store.keepsRunFiles else { return nil }
        let log = journal.runLog
        return Task {
            var kept = -1
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                guard !Task.isCancelled, let data = try? Data(contentsOf: log), data.count != kept,
                    data.count <= limit
                else { continue }
                if (try? await store.keep(files: [name: data], of: runID)) != nil { kept = data.count }
            }
        }
    }
}
