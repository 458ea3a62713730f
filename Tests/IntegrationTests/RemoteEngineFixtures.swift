import Foundation
import TestSupport

/// A background server a test starts and must stop: asked with SIGTERM, killed after 5 s.
/// Started with posix_spawn, not Foundation's `Process`: sshd closes the descriptors it
/// inherits, which `Process` takes for an exit, and its monitoring thread then blocks in
/// waitpid on sshd, so no other child's exit (every devstack the test runs) is noticed.
final class BackgroundServer {
    let pid: pid_t
    let log: String
    private var exited = false

    init(_ arguments: [String], log: String, environment: [String: String] = [:]) throws {
        self.log = log
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t(), all = sigset_t()
        sigemptyset(&none)
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        let variables = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let envp: [UnsafeMutablePointer<CChar>?] = variables.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, arguments[0], &actions, &attributes, argv, envp)
        guard result == 0 else { throw TestFailure("cannot start \(arguments[0]): \(String(cString: strerror(result)))") }
        self.pid = pid
    }

    var output: String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }

    var isRunning: Bool {
        guard !exited else { return false }
        var status: Int32 = 0
        if waitpid(pid, &status, WNOHANG) == pid { exited = true }
        return !exited
    }

    /// Waits until `ready()` holds, for up to `seconds`; false when the server died or it never did.
    func wait(seconds: Double, until ready: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if ready() { return true }
            if !isRunning { return false }
            Thread.sleep(forTimeInterval: 0.1)
        }
        return false
    }

    func stop() {
        guard isRunning else { return }
        kill(pid, SIGTERM)
        let deadline = Date().addingTimeInterval(5)
        while isRunning, Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        if isRunning { kill(pid, SIGKILL) }
        var status: Int32 = 0
        if !exited { waitpid(pid, &status, 0) }
        exited = true
    }
}

/// A free TCP port on 127.0.0.1 at the moment of asking.
func freeLoopbackPort() -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
    _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
    return Int(UInt16(bigEndian: addr.sin_port))
}

func shell(_ command: String, in dir: String) throws {
    let result = CLI.run("bash", ["-c", command], cwd: dir)
    guard result.code == 0 else { throw TestFailure("\(command): \(result.output)") }
}

/// Debian's OpenSSH server on a loopback port, with a host key and a client key made for the
/// test: the remote end of `DOCKER_HOST=ssh://…` is this machine's own dockerd.
final class TestSSHServer {
    let dir: String
    let port: Int
    let server: BackgroundServer
    let user: String

    /// An ssh configuration that knows the server's host key, and one that knows no key at all.
    var config: String { dir + "/ssh_config" }
    var strangerConfig: String { dir + "/ssh_config_stranger" }
    var dockerHost: String { "ssh://\(user)@127.0.0.1:\(port)" }

    init() throws {
        dir = CLI.temporaryDirectory("devstack-sshd")
        port = freeLoopbackPort()
        user = ProcessInfo.processInfo.environment["USER"] ?? String(cString: getpwuid(getuid()).pointee.pw_name)
        try shell("ssh-keygen -q -t ed25519 -N '' -f host_key && ssh-keygen -q -t ed25519 -N '' -f client_key && cp client_key.pub authorized_keys", in: dir)
        let hostKey = try String(contentsOfFile: dir + "/host_key.pub", encoding: .utf8).split(separator: " ").prefix(2).joined(separator: " ")
        CLI.write("[127.0.0.1]:\(port) \(hostKey)\n", to: dir + "/known_hosts")
        CLI.write("", to: dir + "/empty_known_hosts")
        CLI.write("""
            Port \(port)
            ListenAddress 127.0.0.1
            HostKey \(dir)/host_key
            AuthorizedKeysFile \(dir)/authorized_keys
            PermitRootLogin prohibit-password
            PasswordAuthentication no
            KbdInteractiveAuthentication no
            UsePAM no
            StrictModes no
            PidFile none
            """, to: dir + "/sshd_config")
        for (name, knownHosts) in [("ssh_config", "known_hosts"), ("ssh_config_stranger", "empty_known_hosts")] {
            CLI.write("Host *\n  IdentityFile \(dir)/client_key\n  IdentitiesOnly yes\n  UserKnownHostsFile \(dir)/\(knownHosts)\n  GlobalKnownHostsFile /dev/null\n",
                      to: dir + "/" + name)
        }
        // Privilege separation wants this folder; Debian creates it only when the service starts.
        try? FileManager.default.createDirectory(atPath: "/run/sshd", withIntermediateDirectories: true)
        server = try BackgroundServer(["/usr/sbin/sshd", "-D", "-e", "-f", dir + "/sshd_config"], log: dir + "/sshd.log")
        let up = server.wait(seconds: 10) { server.output.contains("Server listening") }
        guard up else { throw TestFailure("sshd did not start: \(server.output)") }
    }

    func stop() {
        server.stop()
        try? FileManager.default.removeItem(atPath: dir)
    }
}

/// A second dockerd on a loopback TCP port that speaks only mutual TLS, with a CA, a server and
/// a client certificate made for the test (openssl), sharing this machine's containerd under a
/// namespace of its own. Holds the busybox test image.
///
/// It shares this machine's network namespace, so its default network sits on a bridge
/// interface made for it: started with `--bridge none`, dockerd deletes `docker0` (libnetwork
/// removes the default bridge interface it is told not to use), and every later container on
/// the main engine's default network failed with "could not find bridge docker0".
final class TestTLSEngine {
    let dir: String
    let port: Int
    let server: BackgroundServer
    let bridge: String

    /// DOCKER_CERT_PATH folders: the right CA, and a CA that did not sign the engine's certificate.
    var certs: String { dir + "/client" }
    var strangerCerts: String { dir + "/stranger" }
    var dockerHost: String { "tcp://127.0.0.1:\(port)" }
    var environment: [String: String] { ["DOCKER_HOST": dockerHost, "DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": certs] }

    init() throws {
        dir = CLI.temporaryDirectory("devstack-tls-engine")
        port = freeLoopbackPort()
        bridge = "dstls" + String(UUID().uuidString.prefix(8).lowercased())
        try shell("""
            set -e
            mkdir -p client stranger
            openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj '/CN=devstack engine CA' 2>/dev/null
            openssl req -x509 -newkey rsa:2048 -nodes -keyout stranger/ca.key -out stranger/ca.pem -days 2 -subj '/CN=someone else' 2>/dev/null
            printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\nextendedKeyUsage=serverAuth\\n' > server.cnf
            printf 'extendedKeyUsage=clientAuth\\n' > client.cnf
            openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj '/CN=localhost' 2>/dev/null
            openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 -extfile server.cnf 2>/dev/null
            openssl req -newkey rsa:2048 -nodes -keyout client/key.pem -out client.csr -subj '/CN=client' 2>/dev/null
            openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out client/cert.pem -days 2 -extfile client.cnf 2>/dev/null
            cp ca.pem client/ca.pem
            cp client/cert.pem client/key.pem stranger/
            ip link add \(bridge) type bridge
            """, in: dir)
        let containerd = "/var/run/docker/containerd/containerd.sock"
        var arguments = ["/usr/sbin/dockerd", "--host", "tcp://127.0.0.1:\(port)", "--tlsverify", "--tlscacert", dir + "/ca.pem",
                         "--tlscert", dir + "/server.pem", "--tlskey", dir + "/server.key", "--data-root", dir + "/data",
                         "--exec-root", dir + "/exec", "--pidfile", dir + "/dockerd.pid", "--bridge", bridge, "--iptables=false",
                         "--default-address-pool", "base=10.231.0.0/16,size=24"]
        if FileManager.default.fileExists(atPath: containerd) {
            arguments += ["--containerd", containerd, "--containerd-namespace", "devstack-tls", "--containerd-plugins-namespace", "devstack-tls-plugins"]
        }
        do {
            server = try BackgroundServer(arguments, log: dir + "/dockerd.log")
        } catch {
            CLI.run("ip", ["link", "delete", bridge])
            throw error
        }
        let up = server.wait(seconds: 60) { server.output.contains("API listen on") }
        guard up else { stop(); throw TestFailure("the TLS dockerd did not start: \(server.output.suffix(2000))") }
        let docker = "docker -H \(dockerHost) --tlsverify --tlscacert \(certs)/ca.pem --tlscert \(certs)/cert.pem --tlskey \(certs)/key.pem"
        try shell("docker save devstack/busybox:1.36 | \(docker) load -q", in: dir)
    }

    func stop() {
        server.stop()
        CLI.run("ip", ["link", "delete", bridge])
        try? FileManager.default.removeItem(atPath: dir)
        // The engine's namespaces in the shared containerd are empty once it stopped cleanly.
        for namespace in ["devstack-tls", "devstack-tls-plugins"] {
            CLI.run("ctr", ["-a", "/var/run/docker/containerd/containerd.sock", "namespaces", "rm", namespace])
        }
    }
}
