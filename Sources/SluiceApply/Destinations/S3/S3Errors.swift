import Foundation

/// S3's refusals, said so a person can act on them: which variable, bucket, region or permission to fix.
extension S3Client {
    /// The `DestinationError` of a refused request: S3's code read from the error body and turned into
    /// what to fix. Only `<Code>` and `<Message>` are read: the body of a signature error also echoes
    /// the string that was signed and the signature, which must not reach a log.
    func failure(_ answer: S3Answer, _ request: S3Request) -> DestinationError {
        let text = answer.text[...]
        let code = S3XML.value("Code", in: text)
        let message = S3XML.value("Message", in: text)
        let variables = settings.credentialsEnv
        // CompleteMultipartUpload can fail inside a 200, so the code counts as much as the status.
        let transient = answer.status >= 500 || ["InternalError", "ServiceUnavailable", "SlowDown"].contains(code)
        // A bucket in another region answers 301 (HEAD: without a body) and names its region in a header.
        if let region = answer.headers.first(name: "x-amz-bucket-region"), region != settings.region, answer.status < 500 {
            return DestinationError("bucket \(settings.bucket) is in region \(region), not \(settings.region): set \"region\" in the spec to \(region)")
        }
        switch code {
        case "SignatureDoesNotMatch":
            let secret = variables.map { "the secret in \($0.secretAccessKey)" } ?? "the secret access key"
            return DestinationError("S3 refused the request signature (SignatureDoesNotMatch): is \(secret) right?")
        case "InvalidAccessKeyId":
            let variable = variables.map { " in \($0.accessKeyId)" } ?? ""
            return DestinationError("S3 does not know the access key id \(settings.credentials.accessKeyId)\(variable) (InvalidAccessKeyId): is it right, and for this endpoint (\(endpointText))?")
        case "InvalidToken", "ExpiredToken", "TokenRefreshRequired":
            let variable = variables?.sessionToken.map { " in \($0)" } ?? ""
            return DestinationError("S3 refused the session token\(variable) (\(code ?? "")): temporary credentials must be current")
        case "NoSuchBucket":
            return DestinationError(noSuchBucket)
        case "AccessDenied":
            return DestinationError("S3 denied \(request.operation)\(location(request)) (AccessDenied): the key \(settings.credentials.accessKeyId) needs that permission on bucket \(settings.bucket)")
        case "RequestTimeTooSkewed":
            return DestinationError("S3 refused the request time (RequestTimeTooSkewed): this machine's clock is off")
        default:
            let detail = [code, message].compactMap { $0 }.joined(separator: ": ")
            return DestinationError("S3 answered HTTP \(answer.status) to \(request.operation)\(location(request))\(detail.isEmpty ? "" : " (\(detail))")",
                                    transient: transient)
        }
    }

    /// The message of a missing bucket, whether S3 said `NoSuchBucket` or a `HEAD` answered 404.
    var noSuchBucket: String { "bucket \(settings.bucket) does not exist at \(endpointText)" }

    /// ` of KEY in bucket B`, or ` on bucket B`.
    func location(_ request: S3Request) -> String {
        request.key.map { " of \($0) in bucket \(settings.bucket)" } ?? " on bucket \(settings.bucket)"
    }
}
