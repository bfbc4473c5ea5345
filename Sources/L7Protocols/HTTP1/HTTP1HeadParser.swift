#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import L7Basics

/// Parses one complete message head — start line, fields, and the empty
/// line that ends them — in a single pass. A request's fields are copied into
/// the head's byte buffer; only the start line becomes Strings. A response's
/// fields are read for framing and not kept: no span reports them, and
/// keeping them cost two allocations per response.
enum HTTP1HeadParser {
    enum Result {
        case request(HTTPRequestHead, HTTP1Framing)
        case response(HTTPResponseHead, HTTP1Framing)
        case malformed
    }

    /// `block` runs from the first byte of the start line to the LF of the
    /// empty line; `lineKind` is what `HTTP1StartLine.classify` found the
    /// start line to be (the caller has checked it; it is not checked again).
    static func parse(_ block: UnsafeRawBufferPointer, lineKind: HTTP1StartLine.Kind) -> Result {
        parse(block, lineKind: lineKind, findingEnd: false)?.result ?? .malformed
    }

    /// The common case in one pass: `bytes` begin with a start line and go
    /// on past the head (a body, the next message). Returns the head and
    /// its length, or nil when `bytes` hold no whole head, or one that is
    /// malformed or folds a line: the caller's careful path then decides.
    static func parsePrefix(_ bytes: UnsafeRawBufferPointer, lineKind: HTTP1StartLine.Kind) -> (result: Result, length: Int)? {
        parse(bytes, lineKind: lineKind, findingEnd: true)
    }

    /// `findingEnd`: the end of the head is found here (nil when there is
    /// none), and a request's bytes are copied once it is known.
    private static func parse(_ block: UnsafeRawBufferPointer, lineKind: HTTP1StartLine.Kind,
                              findingEnd: Bool) -> (result: Result, length: Int)? {
        let failed: (result: Result, length: Int)? = findingEnd ? nil : (.malformed, 0)
        guard let firstLF = block.index(of: ASCII.lf, from: 0) else { return failed }
        let startLine = block.slice(0..<firstLF).droppingCR()

        let keepsFields = lineKind == .request
        var headers = keepsFields && !findingEnd ? HTTPHeaders(copying: block, expectedFields: 12) : HTTPHeaders()
        if keepsFields && findingEnd { headers.reserveCapacity(fields: 12, bytes: 0) }
        var ended = false
        var sawField = false
        var framing = HTTP1Framing()
        // Fields are found by index on the bytes (no slices per line): this
        // loop runs for every field of every message.
        let p = block.baseAddress!.assumingMemoryBound(to: UInt8.self)
        let n = block.count
        var position = firstLF + 1
        while position < n {
            guard let hit = memchr(p + position, Int32(ASCII.lf), n - position) else { return failed }
            let lf = p.distance(to: hit.assumingMemoryBound(to: UInt8.self))
            let start = position
            var end = lf
            if end > start && p[end - 1] == ASCII.cr { end -= 1 }
            position = lf + 1
            if end == start {
                ended = true
                break
            }
            if p[start] == ASCII.space || p[start] == ASCII.tab {
                // obs-fold: a continuation of the previous value, joined with one space.
                guard sawField, !findingEnd else { return failed }
                let more = ASCIIWhitespace.trimmingOWS(p, start..<end)
                if keepsFields && !more.isEmpty {
                    headers.appendToLastValue(separator: ASCII.space, UnsafeRawBufferPointer(start: p + more.lowerBound, count: more.count))
                }
                continue
            }
            // The name: token characters up to the first colon.
            var colon = start
            while colon < end && p[colon] != ASCII.colon {
                guard ASCII.isTokenChar(p[colon]) else { return failed }
                colon += 1
            }
            guard colon < end, colon > start else { return failed }
            let value = ASCIIWhitespace.trimmingOWS(p, (colon + 1)..<end)
            let nameCount = colon - start
            if nameCount == 14 || nameCount == 17 || nameCount == 7 {
                noteFraming(name: UnsafeRawBufferPointer(start: p + start, count: nameCount),
                            value: UnsafeRawBufferPointer(start: p + value.lowerBound, count: value.count), into: &framing)
            }
            sawField = true
            if keepsFields { headers.appendField(name: start..<colon, value: value, in: block) }
        }

        if findingEnd {
            guard ended else { return nil }
            if keepsFields { headers.copyBlock(block.slice(0..<position)) }
        }
        switch lineKind {
        case .request:
            // METHOD SP target SP HTTP/1.x — checked by classify.
            let sp1 = startLine.index(of: ASCII.space, from: 0)!
            let n = startLine.count
            let head = HTTPRequestHead(method: CommonText.method(startLine.slice(0..<sp1)),
                                       target: startLine.slice((sp1 + 1)..<(n - 9)).string,
                                       version: CommonText.version(startLine.slice((n - 3)..<n)),
                                       headers: headers)
            return (.request(head, framing), position)
        case .response:
            let status = Int(startLine[9] - 0x30) * 100 + Int(startLine[10] - 0x30) * 10 + Int(startLine[11] - 0x30)
            let reason = startLine.count > 13 ? CommonText.reason(startLine.slice(13..<startLine.count)) : ""
            let head = HTTPResponseHead(status: status, reason: reason, version: CommonText.version(startLine.slice(5..<8)),
                                        headers: headers)
            return (.response(head, framing), position)
        }
    }

    private static func noteFraming(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer,
                                    into framing: inout HTTP1Framing) {
        switch name.count {
        case 14 where name.equalsCaseInsensitive("content-length"):
            framing.addContentLength(value)
        case 17 where name.equalsCaseInsensitive("transfer-encoding"):
            framing.addTransferEncoding(value)
        case 7 where name.equalsCaseInsensitive("upgrade"):
            framing.wantsUpgrade = true
        default:
            break
        }
    }
}
