using System.Text.Json;
using Microsoft.AspNetCore.Http.Features;

namespace Hounsfield.Server.Accounts;

/// <summary>
/// The flat fields of a small JSON object or form body (the account endpoints accept both, like the API they keep),
/// with per-field validation errors in the documented shape `{"field": ["message"]}`.
/// </summary>
internal sealed class RequestFields
{
    private readonly Dictionary<string, string?> values;
    private readonly HashSet<string> notText;

    private RequestFields(Dictionary<string, string?> values, HashSet<string> notText)
    {
        this.values = values;
        this.notText = notText;
    }

    public Dictionary<string, string[]> Errors { get; } = new(StringComparer.Ordinal);

    public bool HasErrors => Errors.Count > 0;

    /// <summary>Reads the body, or returns the 400/413 to answer instead.</summary>
    public static async Task<(RequestFields? Fields, IResult? Problem)> ReadAsync(HttpRequest request, int maxLength, CancellationToken cancellationToken)
    {
        if (request.ContentLength > maxLength)
        {
            return (null, TooLarge(maxLength));
        }

        var sizeFeature = request.HttpContext.Features.Get<IHttpMaxRequestBodySizeFeature>();
        if (sizeFeature is { IsReadOnly: false })
        {
            sizeFeature.MaxRequestBodySize = maxLength;
        }

        var values = new Dictionary<string, string?>(StringComparer.Ordinal);
        var notText = new HashSet<string>(StringComparer.Ordinal);
        try
        {
            if (request.HasFormContentType)
            {
                var form = await new FormFeature(request, new FormOptions
                {
                    ValueCountLimit = 64,
                    KeyLengthLimit = 256,
                    ValueLengthLimit = maxLength,
                    MultipartBodyLengthLimit = maxLength,
                    BufferBodyLengthLimit = maxLength,
                }).ReadFormAsync(cancellationToken);
                foreach (var (key, value) in form)
                {
                    values[key] = value.Count > 0 ? value[^1] : null;
                }
            }
            else if (request.ContentLength is null or > 0)
            {
                using var buffer = new MemoryStream();
                await request.Body.CopyToAsync(buffer, cancellationToken);
                if (buffer.Length > 0)
                {
                    using var document = JsonDocument.Parse(buffer.ToArray(), new JsonDocumentOptions { MaxDepth = 8 });
                    if (document.RootElement.ValueKind != JsonValueKind.Object)
                    {
                        return (null, Detail(StatusCodes.Status400BadRequest, "The body must be a JSON object or a form."));
                    }

                    foreach (var property in document.RootElement.EnumerateObject())
                    {
                        switch (property.Value.ValueKind)
                        {
                            case JsonValueKind.String:
                                values[property.Name] = property.Value.GetString();
                                break;
                            case JsonValueKind.Null:
                                values[property.Name] = null;
                                break;
                            case JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False:
                                values[property.Name] = property.Value.GetRawText();
                                break;
                            default:
                                notText.Add(property.Name);
                                break;
                        }
                    }
                }
            }
        }
        catch (JsonException ex)
        {
            return (null, Detail(StatusCodes.Status400BadRequest, $"JSON parse error - {ex.Message}"));
        }
        catch (InvalidDataException ex)
        {
            return (null, Detail(StatusCodes.Status400BadRequest, $"Malformed form: {ex.Message}"));
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return (null, TooLarge(maxLength));
        }

        return (new RequestFields(values, notText), null);
    }

    /// <summary>The trimmed text of a field; records "required", "blank", "too long" or "not text" errors as asked.</summary>
    public string? Text(string name, bool required, int maxLength, bool allowBlank = false)
    {
        if (notText.Contains(name))
        {
            AddError(name, "Not a valid string.");
            return null;
        }

        if (!values.TryGetValue(name, out var value))
        {
            if (required)
            {
                AddError(name, "This field is required.");
            }

            return null;
        }

        if (value is null)
        {
            if (required)
            {
                AddError(name, "This field may not be null.");
            }

            return null;
        }

        value = value.Trim();
        if (value.Length == 0)
        {
            if (required || !allowBlank)
            {
                AddError(name, "This field may not be blank.");
            }

            return allowBlank ? null : value;
        }

        if (value.Length > maxLength)
        {
            AddError(name, $"Ensure this field has no more than {maxLength} characters.");
        }

        return value;
    }

    /// <summary>A password: required, never trimmed, bounded.</summary>
    public string? Password(string name, int minLength, int maxLength)
    {
        if (notText.Contains(name))
        {
            AddError(name, "Not a valid string.");
            return null;
        }

        if (!values.TryGetValue(name, out var value) || value is null)
        {
            AddError(name, "This field is required.");
            return null;
        }

        if (value.Length == 0)
        {
            AddError(name, "This field may not be blank.");
        }
        else if (value.Length < minLength)
        {
            AddError(name, $"Ensure this field has at least {minLength} characters.");
        }
        else if (value.Length > maxLength)
        {
            AddError(name, $"Ensure this field has no more than {maxLength} characters.");
        }

        return value;
    }

    public void AddError(string name, string message) =>
        Errors[name] = Errors.TryGetValue(name, out var existing) ? [.. existing, message] : [message];

    public IResult ValidationProblem() => Results.Json(Errors, statusCode: StatusCodes.Status400BadRequest);

    public static IResult Detail(int status, string detail) => Results.Json(new { detail }, statusCode: status);

    private static IResult TooLarge(int maxLength) => Detail(StatusCodes.Status413PayloadTooLarge, $"The request body is larger than {maxLength} bytes.");
}
