import L7Basics

/// What a head says about the body that follows it (RFC 9112 §6).
struct HTTP1Framing: Sendable, Equatable {
    enum ContentLength: Sendable, Equatable {
        case absent
        case length(Int)
        /// Not a number, or a list of differing values: fatal for the message.
        case invalid
    }

    var contentLength: ContentLength = .absent
    /// A Transfer-Encoding field was present.
    var hasTransferEncoding = false
    /// The final transfer coding is `chunked`.
    var isChunked = false
    /// The request asks to switch protocols (`Upgrade` field).
    var wantsUpgrade = false

    /// Folds in one Content-Length field value (`5` or a list `5, 5`).
    mutating func addContentLength(_ value: UnsafeRawBufferPointer) {
        if contentLength == .invalid { return }
        var start = 0
        var sawValue = false
        while start <= value.count {
            let end = value.index(of: ASCII.comma, from: start) ?? value.count
            let element = ASCIIWhitespace.trimmingOWS(value.slice(start..<end))
            if !element.isEmpty {
                guard let n = Self.decimal(element) else { contentLength = .invalid; return }
                if case .length(let previous) = contentLength, previous != n { contentLength = .invalid; return }
                contentLength = .length(n)
                sawValue = true
            }
            start = end + 1
        }
        if !sawValue { contentLength = .invalid }
    }

    /// Folds in one Transfer-Encoding field value; the last coding of the
    /// last field decides whether the body is chunked.
    mutating func addTransferEncoding(_ value: UnsafeRawBufferPointer) {
        hasTransferEncoding = true
        var last = value
        if let comma = Self.lastIndex(of: ASCII.comma, in: value) { last = value.slice((comma + 1)..<value.count) }
        if let semi = last.index(of: ASCII.semicolon, from: 0) { last = last.slice(0..<semi) }
        let coding = ASCIIWhitespace.trimmingOWS(last)
        if coding.isEmpty { return }  // a trailing empty list element changes nothing
        isChunked = coding.equalsCaseInsensitive("chunked")
    }

    /// A non-negative decimal of at most 18 digits (no overflow possible).
    static func decimal(_ bytes: UnsafeRawBufferPointer) -> Int? {
        guard !bytes.isEmpty, bytes.count <= 18 else { return nil }
        var n = 0
        for b in bytes {
            guard ASCII.isDigit(b) else { return nil }
            n = n * 10 + Int(b - 0x30)
        }
        return n
    }

    private static func lastIndex(of byte: UInt8, in bytes: UnsafeRawBufferPointer) -> Int? {
        var i = bytes.count - 1
        while i >= 0 { if bytes[i] == byte { return i }; i -= 1 }
        return nil
    }
}
