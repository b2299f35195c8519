import Foundation
import Testing

@testable import CCCIDeploy

/// The node's quick restic key: the authenticator restic's sealed data carries, and the key file's
/// sealing. That restic itself opens the repository with the quick key is the integration test's.
@Suite struct ResticKeyTests {
    private func bytes(_ hex: String) -> [UInt8] {
        let digits = hex.filter(\.isHexDigit)
        return stride(from: 0, to: digits.count, by: 2).map {
            let start = digits.index(digits.startIndex, offsetBy: $0)
            return UInt8(digits[start..<digits.index(start, offsetBy: 2)], radix: 16)!
        }
    }

    @Test("Poly1305 gives RFC 8439's tags: §2.5.2, a message of whole blocks, and h reduced past p")
    func poly1305() {
        let key = bytes(
            "85:d6:be:78:57:55:6d:33:7f:44:52:fe:42:d5:06:a8:01:03:80:8a:fb:0d:b2:fd:4a:bf:f6:af:41:49:f5:1b")
        #expect(
            Poly1305.tag(Array("Cryptographic Forum Research Group".utf8), key: key)
                == bytes("a8:06:1d:c1:30:51:36:c6:c2:2b:8b:af:0c:01:27:a9"))
        // Appendix A.3, vector 1: a zero key and two zero blocks.
        #expect(
            Poly1305.tag([UInt8](repeating: 0, count: 64), key: [UInt8](repeating: 0, count: 32))
                == [UInt8](repeating: 0, count: 16))
        // Appendix A.3, vector 6: h lands above p and must be reduced (r = 2, s = 0, m = 2^128 - 1 twice).
        var six = [UInt8](repeating: 0, count: 32)
        six[0] = 2
        #expect(
            Poly1305.tag([UInt8](repeating: 0xff, count: 16), key: six) == bytes("03000000000000000000000000000000"))
        // Appendix A.3, vector 7: carries through every limb.
        var seven = [UInt8](repeating: 0, count: 32)
        seven[0] = 1
        let message = bytes(
            "ffffffffffffffffffffffffffffffff f0ffffffffffffffffffffffffffffff 11000000000000000000000000000000")
        #expect(Poly1305.tag(message, key: seven) == bytes("05000000000000000000000000000000"))
    }

    @Test("a key file seals the master key: the password opens it, another password or a changed byte does not")
    func sealing() throws {
        let master = Data(#"{"mac":{"k":"a2V5","r":"cg=="},"encrypt":"ZW5j"}"#.utf8)
        let password = "node-password-0123456789abcdefghijklmno"
        let key = try ResticKey.sealing(master, password: password, hostname: "node")
        #expect(key.parameters == ResticKey.quickParameters && key.kdf == "scrypt" && key.salt.count == 64)
        #expect(try key.open(password: password) == master)
        #expect(try key.open(password: password + "\n") == master, "restic trims the password file")
        #expect(throws: ResticKey.Failure.self) { try key.open(password: "another password") }
        var tampered = key
        tampered.data[20] ^= 1
        #expect(throws: ResticKey.Failure.self) { try tampered.open(password: password) }

        // The file restic reads: its field names, and its name the SHA-256 of its bytes.
        let (file, name) = try key.encoded()
        let fields = try #require(try JSONSerialization.jsonObject(with: file) as? [String: Any])
        #expect(Set(fields.keys) == ["created", "username", "hostname", "kdf", "N", "r", "p", "salt", "data"])
        #expect(name.count == 64 && name.allSatisfy(\.isHexDigit))
        // restic refuses every command when a key file's time is not RFC 3339 with a zone.
        let created = try #require(fields["created"] as? String)
        #expect(created.wholeMatch(of: /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)/) != nil, "\(created)")
        #expect(try JSONDecoder().decode(ResticKey.self, from: file).open(password: password) == master)
    }
}
