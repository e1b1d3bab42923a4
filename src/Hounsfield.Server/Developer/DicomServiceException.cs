namespace Hounsfield.Server.Developer;

/// <summary>
/// A request the developer services refuse, with the documented error body: per field (<c>{"fields": ["Invalid fields: X"]}</c>)
/// or, for the request as a whole, <c>{"detail": "..."}</c>.
/// </summary>
internal sealed class DicomServiceException : Exception
{
    private DicomServiceException(int statusCode, string message, IReadOnlyDictionary<string, string[]>? fieldErrors)
        : base(message)
    {
        StatusCode = statusCode;
        FieldErrors = fieldErrors;
    }

    public int StatusCode { get; }

    /// <summary>Messages by field name, or null for an error of the whole request (see <see cref="Exception.Message"/>).</summary>
    public IReadOnlyDictionary<string, string[]>? FieldErrors { get; }

    public static DicomServiceException Field(string field, string message, int statusCode = StatusCodes.Status400BadRequest) =>
        new(statusCode, message, new Dictionary<string, string[]> { [field] = [message] });

    public static DicomServiceException Fields(IReadOnlyDictionary<string, string[]> errors) =>
        new(StatusCodes.Status400BadRequest, string.Join("; ", errors.Select(e => $"{e.Key}: {string.Join(' ', e.Value)}")), errors);

    public static DicomServiceException Request(string detail, int statusCode = StatusCodes.Status400BadRequest) => new(statusCode, detail, null);

    /// <summary>The response body: the field errors, or <c>{"detail": message}</c>.</summary>
    public IResult ToResult() => FieldErrors is not null
        ? Results.Json(FieldErrors, statusCode: StatusCode)
        : Results.Json(new { detail = Message }, statusCode: StatusCode);
}
