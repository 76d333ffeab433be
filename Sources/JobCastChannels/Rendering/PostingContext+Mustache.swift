import Mustache

/// Templates look fields up by name here instead of through `Mirror`, which was a fifth of a platform worker's
/// time per posting (Benchmarks/). The names are the properties' names; a nil property is a missing one.
extension PostingContext: MustacheParent {
    func child(named name: String) -> Any? {
        switch name {
        case "id": id
        case "title": title
        case "employer": employer
        case "industry": industry
        case "headcount": headcount
        case "salary": salary
        case "place": place
        case "requirements": requirements
        case "requirementsHTML": requirementsHTML
        case "benefits": benefits
        case "training": training
        case "trainingHTML": trainingHTML
        case "targetGroups": targetGroups
        case "sourceCounties": sourceCounties
        case "program": program
        case "validUntil": validUntil
        case "contactName": contactName
        case "phone": phone
        case "updated": updated ? true : nil
        default: nil
        }
    }
}
