import Crypto
import Foundation
import HTTPTypes
import Hummingbird

/// Who may talk to the dashboard: a request carries the access token (in the URL once, then in
/// a cookie), is addressed to a name of this listener (no DNS rebinding), and, when it changes
/// something, comes from a page of this listener (Origin) with the page's CSRF token.
struct AccessGuard<Context: RequestContext>: RouterMiddleware {
    let access: DashboardAccess

    static var cookieName: String { "devstack_token" }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let authority = request.head.authority, access.isOurHost(authority) else {
            return Self.refusal(.forbidden, "refused: the Host header names another site (a DNS rebinding attempt?)")
        }
        let fromQuery = request.uri.queryParameters.get("token")
        let fromCookie = request.cookies[Self.cookieName]?.value
        guard access.isToken(fromQuery ?? fromCookie) else {
            return Self.refusal(.unauthorized, "refused: open the URL devstack ui printed (it carries the access token)")
        }
        if request.method != .get && request.method != .head {
            guard let origin = request.headers[.origin], access.isOurOrigin(origin) else {
                return Self.refusal(.forbidden, "refused: a change must come from a page of this dashboard (Origin)")
            }
            guard access.isCSRF(request.headers[HTTPField.Name("X-CSRF-Token")!]) else {
                return Self.refusal(.forbidden, "refused: missing or wrong CSRF token")
            }
        }
        if fromQuery != nil && request.method == .get {
            // The token moves into a cookie, and out of the address bar and the history.
            var response = Response(status: .seeOther, headers: [.location: request.uri.path.isEmpty ? "/" : request.uri.path])
            response.headers[.setCookie] = "\(Self.cookieName)=\(access.token); Path=/; HttpOnly; SameSite=Strict"
            return Self.hardened(response)
        }
        return Self.hardened(try await next(request, context))
    }

    static func hardened(_ response: Response) -> Response {
        var response = response
        response.headers[.contentSecurityPolicy] = "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
        response.headers[HTTPField.Name("X-Frame-Options")!] = "DENY"
        response.headers[HTTPField.Name("X-Content-Type-Options")!] = "nosniff"
        response.headers[HTTPField.Name("Referrer-Policy")!] = "no-referrer"
        if response.headers[.cacheControl] == nil { response.headers[.cacheControl] = "no-store" }
        return response
    }

    static func refusal(_ status: HTTPResponse.Status, _ message: String) -> Response {
        hardened(Response(status: status, headers: [.contentType: "text/plain; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: message + "\n"))))
    }
}

/// The secrets of one dashboard run and the names it answers to.
public final class DashboardAccess: @unchecked Sendable {
    public let token: String
    public let csrf: String
    /// Host names this listener answers to (lower case, without port).
    let hosts: Set<String>
    private let lock = NSLock()
    private var port: Int?

    public init(token: String = DashboardAccess.randomToken(), csrf: String = DashboardAccess.randomToken(), extraHosts: [String] = []) {
        self.token = token
        self.csrf = csrf
        hosts = Set(["127.0.0.1", "localhost", "[::1]"] + extraHosts.map { $0.lowercased() })
    }

    public static func randomToken() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<24).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
    }

    func bound(port: Int) { lock.withLock { self.port = port } }
    public var boundPort: Int? { lock.withLock { port } }

    /// `host` or `host:port`, our name and our port.
    func isOurHost(_ authority: String) -> Bool {
        let lowered = authority.lowercased()
        var name = lowered, portText: String?
        if let colon = lowered.lastIndex(of: ":"), !lowered.hasSuffix("]") {
            name = String(lowered[..<colon])
            portText = String(lowered[lowered.index(after: colon)...])
        }
        guard hosts.contains(name) else { return false }
        guard let portText else { return true }
        guard let known = boundPort else { return true }
        return Int(portText) == known
    }

    func isOurOrigin(_ origin: String) -> Bool {
        guard origin.hasPrefix("http://") else { return false }
        return isOurHost(String(origin.dropFirst("http://".count)))
    }

    func isToken(_ candidate: String?) -> Bool { candidate.map { Self.same($0, token) } ?? false }
    func isCSRF(_ candidate: String?) -> Bool { candidate.map { Self.same($0, csrf) } ?? false }

    /// Compares without an early exit, so timing says nothing about how much matched.
    static func same(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        return zip(x, y).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }
}
