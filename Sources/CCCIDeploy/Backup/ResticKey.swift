import Crypto
import CryptoExtras
import Foundation

/// A restic key file (restic's design document, "Keys, Encryption and MAC"): the repository's
/// master key, sealed with a key that scrypt derives from the password and the file's salt with
/// the file's own N, r and p.
///
/// `restic init` calibrates scrypt to take half a second, and every restic command pays it again
/// to open the repository — ~0.45 s of CPU per command on a lab node, most of a backup's cost.
/// Key stretching protects a password a person chose; the node's password is 40 random
/// characters in a root-only file, which no amount of guessing reaches, with or without
/// stretching. So the node adds a second key for the same master key, with ``quickParameters``,
/// and passes it to restic as `--key-hint`. restic's own key stays: nothing is removed from a
/// repository another restic may be opening.
struct ResticKey: Codable, Sendable {
    /// scrypt's parameters for the node's quick key: 4 MiB and ~10 ms instead of 32 MiB × 6.
    static let quickParameters = Parameters(n: 4096, r: 8, p: 1)

    struct Parameters: Hashable, Sendable {
        var n: Int
        var r: Int
        var p: Int
    }

    var created: String
    var username: String
    var hostname: String
    var kdf: String
    var n: Int
    var r: Int
    var p: Int
    var salt: Data
    var data: Data

    enum CodingKeys: String, CodingKey {
        case created, username, hostname, kdf
        case n = "N"
        case r, p, salt, data
    }

    var parameters: Parameters { Parameters(n: n, r: r, p: p) }

    /// Why a key file could not be read or opened.
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// The master key this file seals, as restic's JSON (`{"mac":{"k":…,"r":…},"encrypt":…}`).
    /// Throws when the password does not open it.
    func open(password: String) throws -> Data {
        guard kdf == "scrypt" else { throw Failure(description: "key derivation \(kdf), not scrypt") }
        let user = try UserKey(password: password, salt: salt, parameters: parameters)
        return try user.open(data)
    }

    /// A new key file sealing `master` under `password`, with `parameters` and a fresh salt.
    static func sealing(
        _ master: Data, password: String, parameters: Parameters = quickParameters, hostname: String
    ) throws -> ResticKey {
        var salt = [UInt8](repeating: 0, count: 64)
        var random = SystemRandomNumberGenerator()
        for index in salt.indices { salt[index] = random.next() }
        let user = try UserKey(password: password, salt: Data(salt), parameters: parameters)
        // RFC 3339 with its zone, as Go's time reads it (restic refuses a key file it cannot parse).
        let format = ISO8601DateFormatter()
        format.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let created = format.string(from: Date())
        return ResticKey(
            created: created, username: "root", hostname: hostname, kdf: "scrypt", n: parameters.n, r: parameters.r,
            p: parameters.p, salt: Data(salt), data: try user.seal(master))
    }

    /// The file's bytes and its name in `keys/` (the SHA-256 of the bytes, as restic names it).
    func encoded() throws -> (bytes: Data, name: String) {
        let bytes = try JSONEncoder().encode(self)
        return (bytes, SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined())
    }

    /// The key scrypt derives from a password: AES-256 for encryption, then Poly1305-AES's k and r.
    struct UserKey {
        let encryption: SymmetricKey
        let macK: SymmetricKey
        let macR: [UInt8]

        init(password: String, salt: Data, parameters: Parameters) throws {
            // restic reads the password file without its surrounding white space.
            let secret = Data(password.trimmingCharacters(in: .whitespacesAndNewlines).utf8)
            let derived = try KDF.Scrypt.deriveKey(
                from: secret, salt: salt, outputByteCount: 64, rounds: parameters.n, blockSize: parameters.r,
                parallelism: parameters.p
            ).withUnsafeBytes { Array($0) }
            encryption = SymmetricKey(data: derived[0..<32])
            macK = SymmetricKey(data: derived[32..<48])
            macR = Array(derived[48..<64])
        }

        /// `nonce ‖ AES-256-CTR(plaintext) ‖ Poly1305-AES(ciphertext)`, restic's sealed form.
        func seal(_ plaintext: Data) throws -> Data {
            var nonce = [UInt8](repeating: 0, count: 16)
            var random = SystemRandomNumberGenerator()
            repeat {
                for index in nonce.indices { nonce[index] = random.next() }
            } while nonce.allSatisfy { $0 == 0 }
            let ciphertext = try AES._CTR.encrypt(plaintext, using: encryption, nonce: .init(nonceBytes: nonce))
            return Data(nonce) + ciphertext + (try mac(Array(ciphertext), nonce: nonce))
        }

        func open(_ sealed: Data) throws -> Data {
            let bytes = Array(sealed)
            guard bytes.count >= 32 else { throw Failure(description: "the sealed master key is too short") }
            let nonce = Array(bytes[0..<16])
            let ciphertext = Array(bytes[16..<(bytes.count - 16)])
            let tag = try mac(ciphertext, nonce: nonce)
            // Compared in full (no early exit): the tag is an authenticator.
            guard zip(tag, bytes.suffix(16)).reduce(0, { $0 | ($1.0 ^ $1.1) }) == 0 else {
                throw Failure(description: "the password does not open this key")
            }
            return try AES._CTR.decrypt(ciphertext, using: encryption, nonce: .init(nonceBytes: nonce))
        }

        /// Poly1305 keyed with r and `AES-128_k(nonce)`.
        private func mac(_ message: [UInt8], nonce: [UInt8]) throws -> [UInt8] {
            var s = nonce
            try AES.permute(&s, key: macK)
            return Poly1305.tag(message, key: macR + s)
        }
    }
}

/// Poly1305 (RFC 8439 §2.5) over 26-bit limbs: the one-time authenticator restic's sealed data
/// carries, which swift-crypto does not expose on its own.
enum Poly1305 {
    /// The 16-byte tag of `message` under the 32-byte one-time key `r ‖ s`.
    static func tag(_ message: [UInt8], key: [UInt8]) -> [UInt8] {
        precondition(key.count == 32, "a Poly1305 key is 32 bytes")
        func word(_ bytes: [UInt8], _ at: Int) -> UInt64 {
            UInt64(bytes[at]) | UInt64(bytes[at + 1]) << 8 | UInt64(bytes[at + 2]) << 16 | UInt64(bytes[at + 3]) << 24
        }
        let mask: UInt64 = 0x3ff_ffff
        // r, clamped as the RFC says, in five 26-bit limbs.
        let r0 = word(key, 0) & 0x3ff_ffff
        let r1 = (word(key, 3) >> 2) & 0x3ff_ff03
        let r2 = (word(key, 6) >> 4) & 0x3ff_c0ff
        let r3 = (word(key, 9) >> 6) & 0x3f0_3fff
        let r4 = (word(key, 12) >> 8) & 0x00f_ffff
        let (s1, s2, s3, s4) = (r1 * 5, r2 * 5, r3 * 5, r4 * 5)
        var (h0, h1, h2, h3, h4): (UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0)

        var offset = 0
        while offset < message.count {
            // Each block gets a 1 byte after its end: a full block's is bit 128.
            var block = [UInt8](repeating: 0, count: 17)
            let count = min(16, message.count - offset)
            block.replaceSubrange(0..<count, with: message[offset..<(offset + count)])
            block[count] = 1
            offset += count
            h0 += word(block, 0) & mask
            h1 += (word(block, 3) >> 2) & mask
            h2 += (word(block, 6) >> 4) & mask
            h3 += (word(block, 9) >> 6) & mask
            h4 += (word(block, 12) >> 8) | UInt64(block[16]) << 24
            // h *= r (mod 2^130 - 5)
            let d0 = h0 * r0 + h1 * s4 + h2 * s3 + h3 * s2 + h4 * s1
            var d1 = h0 * r1 + h1 * r0 + h2 * s4 + h3 * s3 + h4 * s2
            var d2 = h0 * r2 + h1 * r1 + h2 * r0 + h3 * s4 + h4 * s3
            var d3 = h0 * r3 + h1 * r2 + h2 * r1 + h3 * r0 + h4 * s4
            var d4 = h0 * r4 + h1 * r3 + h2 * r2 + h3 * r1 + h4 * r0
            h0 = d0 & mask
            d1 += d0 >> 26
            h1 = d1 & mask
            d2 += d1 >> 26
            h2 = d2 & mask
            d3 += d2 >> 26
            h3 = d3 & mask
            d4 += d3 >> 26
            h4 = d4 & mask
            h0 += (d4 >> 26) * 5
            h1 += h0 >> 26
            h0 &= mask
        }

        // Carry fully, then reduce: h - p when h ≥ p = 2^130 - 5.
        var carry = h1 >> 26
        h1 &= mask
        h2 += carry
        carry = h2 >> 26
        h2 &= mask
        h3 += carry
        carry = h3 >> 26
        h3 &= mask
        h4 += carry
        carry = h4 >> 26
        h4 &= mask
        h0 += carry * 5
        carry = h0 >> 26
        h0 &= mask
        h1 += carry
        var g0 = h0 + 5
        carry = g0 >> 26
        g0 &= mask
        var g1 = h1 + carry
        carry = g1 >> 26
        g1 &= mask
        var g2 = h2 + carry
        carry = g2 >> 26
        g2 &= mask
        var g3 = h3 + carry
        carry = g3 >> 26
        g3 &= mask
        let g4 = h4 &+ carry &- (1 << 26)
        // g4 underflowed (top bit set) exactly when h < p: keep h then.
        let keepH = (g4 >> 63) == 1
        if !keepH { (h0, h1, h2, h3, h4) = (g0, g1, g2, g3, g4 & mask) }

        // h mod 2^128, plus s.
        let words: [UInt64] = [
            (h0 | h1 << 26) & 0xffff_ffff, (h1 >> 6 | h2 << 20) & 0xffff_ffff,
            (h2 >> 12 | h3 << 14) & 0xffff_ffff, (h3 >> 18 | h4 << 8) & 0xffff_ffff,
        ]
        var tag = [UInt8]()
        var sum: UInt64 = 0
        for (index, value) in words.enumerated() {
            sum = value + word(key, 16 + 4 * index) + (sum >> 32)
            for shift in stride(from: 0, to: 32, by: 8) { tag.append(UInt8((sum >> UInt64(shift)) & 0xff)) }
        }
        return tag
    }
}
