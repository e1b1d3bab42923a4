namespace Hounsfield.Server.DicomWeb;

/// <summary>
/// Cross-origin access for viewers served from another origin (configuration "Cors:Origins": a list of origins, or "*").
/// With origins configured, CORS answers preflights before authentication and responses carry
/// Cross-Origin-Resource-Policy: cross-origin, so a cross-origin-isolated viewer (COEP require-corp, as OHIF's MPR
/// needs) may load them; without, nothing is shared across origins (CORP same-origin).
/// </summary>
internal static class CrossOrigin
{
    private const string PolicyName = "viewers";

    public static void AddCrossOrigin(this WebApplicationBuilder builder)
    {
        var origins = builder.Configuration.GetSection("Cors:Origins").Get<string[]>() ?? [];
        builder.Services.AddCors(cors => cors.AddPolicy(PolicyName, policy =>
        {
            if (origins.Contains("*"))
            {
                policy.AllowAnyOrigin();
            }
            else
            {
                policy.WithOrigins(origins);
            }

            policy.WithMethods("GET", "POST", "PUT", "DELETE")
                .WithHeaders("Authorization", "Accept", "Content-Type", "Range", "If-None-Match", "If-Modified-Since")
                .WithExposedHeaders("ETag", "Warning", "Content-Range", "Content-Length", "Content-Type", "Content-Disposition")
                .SetPreflightMaxAge(TimeSpan.FromHours(1));
        }));
        builder.Services.AddSingleton(new CrossOriginSettings(origins.Length > 0));
    }

    public static void UseCrossOrigin(this WebApplication app)
    {
        var settings = app.Services.GetRequiredService<CrossOriginSettings>();
        var resourcePolicy = settings.Enabled ? "cross-origin" : "same-origin";
        app.Use((context, next) =>
        {
            context.Response.Headers["Cross-Origin-Resource-Policy"] = resourcePolicy;
            return next(context);
        });
        if (settings.Enabled)
        {
            app.UseCors(PolicyName);
        }
    }

    private sealed record CrossOriginSettings(bool Enabled);
}
