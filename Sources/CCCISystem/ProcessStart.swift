import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A process' start time, which tells a live process from a later one that got its pid.
public enum ProcessStart {
    /// Field 22 of `/proc/<pid>/stat` (clock ticks since boot), `nil` when there is no such process.
    public static func time(of pid: pid_t) -> UInt64? {
        statFields(of: pid).flatMap { $0.count > 19 ? UInt64($0[19]) : nil }
    }

    /// The processes whose process group is `pgid`.
    public static func members(of pgid: pid_t) -> [pid_t] {
        processes().filter { pid in
            guard let fields = statFields(of: pid), fields.count > 2 else { return false }
            return Int32(fields[2]) == pgid
        }
    }

    /// Whether the process `pid` that started at `startTime` still runs (not exited, not a zombie,
    /// and not a later process that got the same pid).
    public static func isRunning(_ pid: pid_t, startTime: UInt64) -> Bool {
        guard let fields = statFields(of: pid), fields.count > 19, UInt64(fields[19]) == startTime else {
            return false
        }
        return fields[0] != "Z" && fields[0] != "X"
    }

    /// The processes (other than this one) whose environment holds the entry `entry`
    /// (`KEY=value`): children inherit it, so this finds even one started in the moment between
    /// its spawn and anyone recording its pid.
    public static func carrying(environment entry: String) -> [pid_t] {
        let marker = Array(entry.utf8)
        return processes().filter { pid in
            guard pid != getpid(), let data = FileManager.default.contents(atPath: "/proc/\(pid)/environ") else {
                return false
            }
            return data.split(separator: 0).contains { Array($0) == marker }
        }
    }

    /// Every pid in `/proc`.
    static func processes() -> [pid_t] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { Int32($0) }
    }

    /// The fields of `/proc/<pid>/stat` after "pid (comm)": state is the first (field 3).
    static func statFields(of pid: pid_t) -> [Substring]? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = text.lastIndex(of: ")")
        else { return nil }
        return text[text.index(after: close)...].split(separator: " ")
    }
}
