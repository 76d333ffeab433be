// The store speaks the domain's names (DeliveryChannel, QueueNames); re-export them to its users.
@_exported import JobCastCore
