import Testing
@testable import EnvSpec

/// Canonical JSON is what spec hashes are taken over: its bytes must never change, whatever path
/// writes a string.
@Suite struct CanonicalStringTests {
    @Test func plainStringsAreWrittenAsTheyAre() {
        #expect(CanonicalJSON.encode(.string("busybox:1.36 é ✓")) == "\"busybox:1.36 é ✓\"")
    }

    @Test func quotesBackslashesAndControlCharactersAreEscaped() {
        #expect(CanonicalJSON.encode(.string("a\"b\\c\nd\re\tf\u{1}g\u{7F}")) == "\"a\\\"b\\\\c\\nd\\re\\tf\\u0001g\u{7F}\"")
    }

    @Test func theHashOfAKnownValueStaysTheSame() {
        let text = CanonicalJSON.encode(.obj([("image", .string("busybox")), ("note", .string("a\"b"))]))
        #expect(text == "{\"image\":\"busybox\",\"note\":\"a\\\"b\"}")
        // sha256sum of that text, computed outside devstack.
        #expect(CanonicalJSON.sha256(text) == "20c852528abddf67fe71a4d709c50bef91e43104da56864a287b25cd4d478d94")
    }
}
