using Microsoft.AspNetCore.ResponseCompression;
using Microsoft.Extensions.Options;

namespace Hounsfield.Server;

/// <summary>
/// Compresses JSON and XML answers as configured, except those whose length is known and below
/// <see cref="MinimumLength"/>: a STOW-RS result or a small search result gains a few hundred bytes at most, and costs a
/// compressor's set-up on the server and an inflate on the client for every request.
/// </summary>
internal sealed class LengthAwareCompressionProvider(IServiceProvider services, IOptions<ResponseCompressionOptions> options)
    : ResponseCompressionProvider(services, options)
{
    public const int MinimumLength = 1024;

    public override bool ShouldCompressResponse(HttpContext context) =>
        context.Response.ContentLength is not < MinimumLength && base.ShouldCompressResponse(context);
}
