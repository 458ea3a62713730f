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
        let verdict = access.verdict(method: request.method, authority: request.head.authority, path: request.uri.path,
                                     queryToken: request.uri.queryParameters.get("token").map { String($0) },
                                     cookieToken: request.cookies[Self.cookieName]?.value, origin: request.headers[.origin],
                                     csrf: request.headers[HTTPField.Name("X-CSRF-Token")!])
        switch verdict {
        case .allow: return Self.hardened(try await next(request, context))
        case let .refuse(status, message): return Self.refusal(status, message)
        case let .storeCookie(redirect):
            // The token moves into a cookie, and out of the address bar and the history.
            var response = Response(status: .seeOther, headers: [.location: redirect])
            response.headers[HTTPField.Name.setCookie] = "\(Self.cookieName)=\(access.token); Path=/; HttpOnly; SameSite=Strict"
            return Self.hardened(response)
        }
    }

    static func hardened(_ response: Response) -> Response {
        var response = response
        response.headers[.contentSecurityPolicy] = "default-src 'self'; style-src '\(Assets.cssHash)'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
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

    public enum Verdict: Sendable, Equatable {
        case allow
        /// The token came in the URL: set the cookie and send the browser to `redirect`.
        case storeCookie(redirect: String)
        case refuse(HTTPResponse.Status, String)
    }

    /// Who may do what, decided from the request's parts alone.
    public func verdict(method: HTTPRequest.Method, authority: String?, path: String, queryToken: String?, cookieToken: String?,
                        origin: String?, csrf: String?) -> Verdict {
        guard let authority, isOurHost(authority) else {
            return .refuse(.forbidden, "refused: the Host header names another site (a DNS rebinding attempt?)")
        }
        guard isToken(queryToken ?? cookieToken) else {
            return .refuse(.unauthorized, "refused: open the URL devstack ui printed (it carries the access token)")
        }
        if method != .get && method != .head {
            guard let origin, isOurOrigin(origin) else { return .refuse(.forbidden, "refused: a change must come from a page of this dashboard (Origin)") }
            guard isCSRF(csrf) else { return .refuse(.forbidden, "refused: missing or wrong CSRF token") }
            return .allow
        }
        if queryToken != nil { return .storeCookie(redirect: path.isEmpty ? "/" : path) }
        return .allow
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
