import EnvSpec
import Foundation

extension RevisionMeta {
    /// This user on this host: who records a revision made here.
    public static func local(message: String = "", source: RevisionSource, provenance: String? = nil, projectDirectory: String? = nil) -> RevisionMeta {
        let env = ProcessInfo.processInfo.environment
        let login = getpwuid(getuid()).flatMap { $0.pointee.pw_name.map { String(cString: $0) } }
        return RevisionMeta(author: env["USER"] ?? env["LOGNAME"] ?? login ?? "unknown", host: ProcessInfo.processInfo.hostName,
                            message: message, source: source, provenance: provenance, projectDirectory: projectDirectory)
    }
}
