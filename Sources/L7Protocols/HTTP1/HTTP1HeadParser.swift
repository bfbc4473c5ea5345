/// Parses one complete message head — start line, fields, and the empty
/// line that ends them — in a single pass. Fields are copied into the head's
/// byte buffer; only the start line becomes Strings.
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
        guard let firstLF = block.index(of: ASCII.lf, from: 0) else { return .malformed }
        let startLine = block.slice(0..<firstLF).droppingCR()

        var headers = HTTPHeaders(copying: block, expectedFields: 12)
        var framing = HTTP1Framing()
        var position = firstLF + 1
        while position < block.count {
            guard let lf = block.index(of: ASCII.lf, from: position) else { return .malformed }
            let line = block.slice(position..<lf).droppingCR()
            position = lf + 1
            if line.isEmpty { break }
            if line[0] == ASCII.space || line[0] == ASCII.tab {
                // obs-fold: a continuation of the previous value, joined with one space.
                guard !headers.isEmpty else { return .malformed }
                let more = line.trimmingOWS()
                if !more.isEmpty { headers.appendToLastValue(separator: ASCII.space, more) }
                continue
            }
            guard let colon = line.index(of: ASCII.colon, from: 0), colon > 0 else { return .malformed }
            let name = line.slice(0..<colon)
            for b in name where !ASCII.isTokenChar(b) { return .malformed }
            let value = line.slice((colon + 1)..<line.count).trimmingOWS()
            noteFraming(name: name, value: value, into: &framing)
            headers.appendField(name: block.range(of: name), value: block.range(of: value))
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
            return .request(head, framing)
        case .response:
            let status = Int(startLine[9] - 0x30) * 100 + Int(startLine[10] - 0x30) * 10 + Int(startLine[11] - 0x30)
            let reason = startLine.count > 13 ? CommonText.reason(startLine.slice(13..<startLine.count)) : ""
            let head = HTTPResponseHead(status: status, reason: reason, version: CommonText.version(startLine.slice(5..<8)),
                                        headers: headers)
            return .response(head, framing)
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
