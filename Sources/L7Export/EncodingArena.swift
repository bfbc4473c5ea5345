import Glibc

/// A bump allocator for the C message tree of one OTLP request.
///
/// protobuf-c packs from plain C structs that point at each other; building
/// them in a few large blocks (instead of one malloc per span, attribute and
/// string) keeps encoding cheap, and `reset()` releases the whole tree at
/// once, so nothing can leak. The blocks are kept for the next request.
final class EncodingArena {
    private struct Block {
        var base: UnsafeMutableRawPointer
        var capacity: Int
    }

    private var blocks: [Block] = []
    private var current = 0
    private var offset = 0
    private let blockSize: Int
    /// Blocks kept across `reset()`; more would only pin memory a burst needed once.
    private let retainedBlocks: Int

    init(blockSize: Int = 64 * 1024, retainedBlocks: Int = 16) {
        self.blockSize = blockSize
        self.retainedBlocks = retainedBlocks
    }

    deinit {
        for block in blocks { block.base.deallocate() }
    }

    /// Forgets every allocation; the pointers handed out before are invalid.
    func reset() {
        while blocks.count > retainedBlocks { blocks.removeLast().base.deallocate() }
        current = 0
        offset = 0
    }

    /// Uninitialised room for `count` values of `T`.
    func allocate<T>(_ type: T.Type, count: Int = 1) -> UnsafeMutablePointer<T> {
        let raw = allocateRaw(byteCount: MemoryLayout<T>.stride * max(count, 1), alignment: MemoryLayout<T>.alignment)
        return raw.bindMemory(to: T.self, capacity: max(count, 1))
    }

    /// A NUL-terminated copy of `string`, as protobuf-c's `char *` fields want.
    func cString(_ string: String) -> UnsafeMutablePointer<CChar> {
        var string = string
        return string.withUTF8 { utf8 in
            let copy = allocate(CChar.self, count: utf8.count + 1)
            if let source = utf8.baseAddress { memcpy(copy, source, utf8.count) }
            copy[utf8.count] = 0
            return copy
        }
    }

    private func allocateRaw(byteCount: Int, alignment: Int) -> UnsafeMutableRawPointer {
        if current < blocks.count {
            let aligned = (offset + alignment - 1) & ~(alignment - 1)
            if aligned + byteCount <= blocks[current].capacity {
                offset = aligned + byteCount
                return blocks[current].base + aligned
            }
            // The next kept block, if it is big enough; else a new one in its place.
            current += 1
            offset = 0
            if current < blocks.count, byteCount <= blocks[current].capacity {
                offset = byteCount
                return blocks[current].base
            }
        }
        let capacity = max(blockSize, byteCount)
        let block = Block(base: .allocate(byteCount: capacity, alignment: 16), capacity: capacity)
        blocks.insert(block, at: min(current, blocks.count))
        current = min(current, blocks.count - 1)
        offset = byteCount
        return block.base
    }
}
