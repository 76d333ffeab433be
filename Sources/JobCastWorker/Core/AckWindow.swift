/// The delivery tags a consumer holds, and which of them may be acknowledged.
///
/// Tags arrive in increasing order. Once a message's outcome is recorded it is settled; the contiguous settled
/// prefix is acknowledged with one `multiple` ack. A message that takes long (a slow request, a retry copy the
/// broker will not confirm) would hold every later one back and, with the prefetch full, stop the consumer;
/// so once `singleAckThreshold` settled messages wait behind a gap, they are acknowledged one by one.
struct AckWindow: Sendable {
    /// What to send: one `multiple` ack up to a tag, and single acks.
    struct Acks: Sendable, Equatable {
        var upTo: UInt64?
        var singles: [UInt64] = []
        var isEmpty: Bool { upTo == nil && singles.isEmpty }
    }

    let singleAckThreshold: Int
    private var outstanding: [UInt64] = []
    private var head = 0
    /// Settled, not yet acknowledged.
    private var settled = Set<UInt64>()
    /// Acknowledged one by one while an earlier tag was still open.
    private var ackedSingly = Set<UInt64>()

    init(singleAckThreshold: Int) { self.singleAckThreshold = max(1, singleAckThreshold) }

    /// Tags held and not yet acknowledged.
    var unacknowledged: Int { outstanding.count - head - ackedSingly.count }
    var isEmpty: Bool { head == outstanding.count }

    mutating func received(_ tags: [UInt64]) {
        outstanding.append(contentsOf: tags)
    }

    /// Marks `tags` settled and says which acks that allows.
    mutating func settle(_ tags: [UInt64]) -> Acks {
        settled.formUnion(tags)
        var acks = Acks()
        while head < outstanding.count {
            let tag = outstanding[head]
            if settled.remove(tag) != nil {
                acks.upTo = tag
            } else if ackedSingly.remove(tag) == nil {
                break
            }
            head += 1
        }
        if head > 4096, head * 2 > outstanding.count {
            outstanding.removeFirst(head)
            head = 0
        }
        if settled.count >= singleAckThreshold {
            acks.singles = settled.sorted()
            ackedSingly.formUnion(settled)
            settled.removeAll()
        }
        return acks
    }

    /// Every settled tag still waiting behind a gap, to acknowledge one by one (at the end of a session: a tag
    /// that will never settle — its copy could not be published — must not be covered by a `multiple` ack).
    mutating func remainingSingles() -> [UInt64] {
        let singles = settled.sorted()
        ackedSingly.formUnion(settled)
        settled.removeAll()
        return singles
    }
}
