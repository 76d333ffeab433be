/// `{"id": "…", "action": "withdraw"}`: take a posting down from every channel.
public struct Withdrawal: Codable, Sendable, Hashable, Identifiable {
    public var id: String
    public var action: PostingAction = .withdraw
    /// RFC 3339: the version of this withdrawal (``PostingVersion``); an older publish never undoes it.
    public var updatedAt: String?

    public init(id: String, updatedAt: String? = nil) {
        self.id = id
        self.updatedAt = updatedAt
    }
}
