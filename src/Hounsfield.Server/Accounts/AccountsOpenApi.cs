using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace Hounsfield.Server.Accounts;

/// <summary>
/// The OpenAPI document's view of authentication: the Bearer and ApiKey schemes, required everywhere except on anonymous
/// endpoints; and documented paths keep their trailing slash (`/api/token/`), which the generator would drop.
/// </summary>
internal sealed class AccountsOpenApi : IOpenApiDocumentTransformer, IOpenApiOperationTransformer
{
    private const string Bearer = "Bearer";
    private const string ApiKey = "ApiKey";

    public Task TransformAsync(OpenApiDocument document, OpenApiDocumentTransformerContext context, CancellationToken cancellationToken)
    {
        document.Components ??= new OpenApiComponents();
        document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
        document.Components.SecuritySchemes[Bearer] = new OpenApiSecurityScheme
        {
            Type = SecuritySchemeType.Http,
            Scheme = "bearer",
            BearerFormat = "JWT",
            Description = "An access token from POST /api/token/: `Authorization: Bearer <access>`.",
        };
        document.Components.SecuritySchemes[ApiKey] = new OpenApiSecurityScheme
        {
            Type = SecuritySchemeType.ApiKey,
            In = ParameterLocation.Header,
            Name = "Authorization",
            Description = "An API key from POST /api-keys/: `Authorization: ApiKey <prefix>.<secret>`.",
        };
        document.Security =
        [
            new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(Bearer, document)] = [] },
            new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(ApiKey, document)] = [] },
        ];

        var slashed = context.ApplicationServices.GetRequiredService<EndpointDataSource>().Endpoints
            .OfType<RouteEndpoint>()
            .Select(e => "/" + e.RoutePattern.RawText?.TrimStart('/'))
            .Where(raw => raw.Length > 1 && raw.EndsWith('/'))
            .ToHashSet(StringComparer.Ordinal);
        foreach (var path in document.Paths.Keys.ToList())
        {
            if (slashed.Contains(path + "/"))
            {
                document.Paths[path + "/"] = document.Paths[path];
                document.Paths.Remove(path);
            }
        }

        return Task.CompletedTask;
    }

    public Task TransformAsync(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken cancellationToken)
    {
        if (context.Description.ActionDescriptor.EndpointMetadata.OfType<IAllowAnonymous>().Any())
        {
            operation.Security = [];
        }

        return Task.CompletedTask;
    }
}
