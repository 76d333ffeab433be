/// `{"id": "…", "action": "withdraw"}`: take a posting down from every channel.
public struct Withdrawal: Codable, Sendable, Hashable, Identifiable {
    public var id: String
    public var action: PostingAction = .withdraw

    public init(id: String) { self.id = id }
}
