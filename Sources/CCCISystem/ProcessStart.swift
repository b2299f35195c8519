import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A process' start time, which tells a live process from a later one that got its pid.
public enum ProcessStart {
    /// Field 22 of `/proc/<pid>/stat` (clock ticks since boot), `nil` when there is no such process.
    public static func time(of pid: pid_t) -> UInt64? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = text.lastIndex(of: ")")
        else { return nil }
        // After "pid (comm)": state is field 3, so start time (field 22) is the 20th here.
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 19 else { return nil }
        return UInt64(fields[19])
    }

    /// The processes whose process group is `pgid`.
    public static func members(of pgid: pid_t) -> [pid_t] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { Int32($0) }.filter { pid in
            guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                let close = text.lastIndex(of: ")")
            else { return false }
            let fields = text[text.index(after: close)...].split(separator: " ")
            return fields.count > 2 && Int32(fields[2]) == pgid
        }
    }

    /// Whether the process `pid` that started at `startTime` still runs (not exited, not a zombie,
    /// and not a later process that got the same pid).
    public static func isRunning(_ pid: pid_t, startTime: UInt64) -> Bool {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = text.lastIndex(of: ")")
        else { return false }
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 19, UInt64(fields[19]) == startTime else { return false }
        return fields[0] != "Z" && fields[0] != "X"
    }
}
