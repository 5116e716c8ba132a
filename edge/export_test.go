package edge

// FailureReason exposes failureReason to the contract test.
var FailureReason = failureReason
