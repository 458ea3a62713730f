import Foundation
import EnvSpec

/// Who holds a lease, as "pid N on HOST", and whether that process is gone: a devstack killed
/// mid-apply must not block the next one until its lease expires.
public enum LeaseHolder {
    public static func id() -> String { "pid \(getpid()) on \(ProcessInfo.processInfo.hostName)" }

    /// True only when the holder ran on this host and no process has its pid any more. When in
    /// doubt (another host, a reused pid) the lease is respected.
    @Sendable public static func isGone(_ lease: Lease) -> Bool {
        let parts = lease.holderID.split(separator: " ")
        guard parts.count == 4, parts[0] == "pid", parts[2] == "on", let pid = pid_t(parts[1]),
              String(parts[3]) == ProcessInfo.processInfo.hostName, pid != getpid() else { return false }
        return kill(pid, 0) == -1 && errno == ESRCH
    }
}
