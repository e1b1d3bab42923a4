// The TLS handshake of PS3.15 Annex B.1 on a connected socket, server and client side. What it returns is the stream
// the upper layer (PduChannel) reads and writes; nothing above it knows whether the connection is TLS.
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;

namespace Hounsfield.Network.Tls;

/// <summary>Server-side TLS state built once per server: the certificate context and the client-certificate policy.</summary>
internal sealed class DicomTlsServer
{
    private readonly DicomTlsServerOptions options;
    private readonly SslStreamCertificateContext certificateContext;

    public DicomTlsServer(DicomTlsServerOptions options)
    {
        options.Validate();
        this.options = options;
        certificateContext = SslStreamCertificateContext.Create(options.Certificate, options.IntermediateCertificates, offline: true);
    }

    public TimeSpan HandshakeTimeout => options.HandshakeTimeout;

    /// <summary>
    /// Runs the handshake within <see cref="DicomTlsServerOptions.HandshakeTimeout"/>. On failure <paramref name="log"/> hears
    /// why, then the socket is closed and null returned; <paramref name="stopping"/> cancels it.
    /// </summary>
    public async Task<SslStream?> AuthenticateAsync(Socket socket, string connection, Action<string>? log, CancellationToken stopping)
    {
        string? rejection = null;
        var ssl = new SslStream(new NetworkStream(socket, ownsSocket: true), leaveInnerStreamOpen: false);
        var authentication = new SslServerAuthenticationOptions
        {
            ServerCertificateContext = certificateContext,
            ClientCertificateRequired = options.RequireClientCertificate,
            EnabledSslProtocols = options.EnabledProtocols,
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
            CertificateChainPolicy = DicomTlsTrust.ChainPolicy(options.TrustedClientCertificateAuthorities),
            RemoteCertificateValidationCallback = (sender, certificate, chain, errors) =>
            {
                if (!options.RequireClientCertificate && certificate is null)
                {
                    return true;
                }

                if (options.ClientCertificateValidation is { } validate)
                {
                    return validate(sender, certificate, chain, errors) || Reject("the certificate validation callback refused the client certificate");
                }

                return errors == SslPolicyErrors.None || Reject(DicomTlsTrust.Describe("client", certificate, chain, errors));
            },
        };

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        timeout.CancelAfter(options.HandshakeTimeout);
        try
        {
            await ssl.AuthenticateAsServerAsync(authentication, timeout.Token).ConfigureAwait(false);
            return ssl;
        }
        catch (Exception ex) when (ex is AuthenticationException or IOException or OperationCanceledException or SocketException or ObjectDisposedException)
        {
            if (!stopping.IsCancellationRequested)
            {
                log?.Invoke(ex is OperationCanceledException
                    ? $"DICOM TLS connection {connection} closed: TLS handshake not completed within {options.HandshakeTimeout.TotalSeconds:0.###} s (HandshakeTimeout)"
                    : $"DICOM TLS connection {connection} closed: TLS handshake failed: {rejection ?? DicomTlsTrust.Message(ex)}");
            }

            await ssl.DisposeAsync().ConfigureAwait(false);
            return null;
        }

        bool Reject(string reason)
        {
            rejection = reason;
            return false;
        }
    }
}

internal static class DicomTlsClient
{
    /// <summary>Runs the client handshake within <see cref="DicomTlsClientOptions.HandshakeTimeout"/>; on failure the socket is closed.</summary>
    public static async Task<SslStream> AuthenticateAsync(Socket socket, DicomTlsClientOptions options, string host, int port, CancellationToken cancellationToken)
    {
        string? rejection = null;
        var ssl = new SslStream(new NetworkStream(socket, ownsSocket: true), leaveInnerStreamOpen: false);
        var authentication = new SslClientAuthenticationOptions
        {
            TargetHost = options.TargetHost ?? host,
            EnabledSslProtocols = options.EnabledProtocols,
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
            CertificateChainPolicy = DicomTlsTrust.ChainPolicy(options.TrustedCertificateAuthorities),
            ClientCertificateContext = options.ClientCertificate is { } client ? SslStreamCertificateContext.Create(client, null, offline: true) : null,
            RemoteCertificateValidationCallback = (sender, certificate, chain, errors) =>
            {
                if (options.ServerCertificateValidation is { } validate)
                {
                    return validate(sender, certificate, chain, errors) || Reject("the certificate validation callback refused the server certificate");
                }

                return errors == SslPolicyErrors.None || Reject(DicomTlsTrust.Describe("server", certificate, chain, errors));
            },
        };

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.HandshakeTimeout);
        try
        {
            await ssl.AuthenticateAsClientAsync(authentication, timeout.Token).ConfigureAwait(false);
            return ssl;
        }
        catch (Exception ex) when (ex is AuthenticationException or IOException or OperationCanceledException or SocketException or ObjectDisposedException)
        {
            await ssl.DisposeAsync().ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();
            if (ex is OperationCanceledException)
            {
                throw new DicomTlsException($"TLS handshake with {host}:{port} not completed within {options.HandshakeTimeout.TotalSeconds:0.###} s (HandshakeTimeout)", ex);
            }

            throw new DicomTlsException($"TLS handshake with {host}:{port} failed: {rejection ?? DicomTlsTrust.Message(ex)}", ex);
        }

        bool Reject(string reason)
        {
            rejection = reason;
            return false;
        }
    }
}

internal static class DicomTlsTrust
{
    /// <summary>A chain policy trusting exactly <paramref name="authorities"/>, or null for the system trust store.</summary>
    public static X509ChainPolicy? ChainPolicy(X509Certificate2Collection? authorities)
    {
        if (authorities is null)
        {
            return null;
        }

        var policy = new X509ChainPolicy
        {
            TrustMode = X509ChainTrustMode.CustomRootTrust,
            RevocationMode = X509RevocationMode.NoCheck,
        };
        policy.CustomTrustStore.AddRange(authorities);
        return policy;
    }

    public static string Describe(string role, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        var problems = new List<string>();
        if (errors.HasFlag(SslPolicyErrors.RemoteCertificateNotAvailable))
        {
            problems.Add($"the {role} presented no certificate");
        }

        if (errors.HasFlag(SslPolicyErrors.RemoteCertificateNameMismatch))
        {
            problems.Add($"the {role} certificate does not name the host connected to");
        }

        if (errors.HasFlag(SslPolicyErrors.RemoteCertificateChainErrors))
        {
            var status = chain?.ChainStatus.Select(s => s.Status.ToString()).Distinct() ?? [];
            problems.Add($"the {role} certificate is not trusted ({string.Join(", ", status)})");
        }

        var subject = certificate?.Subject is { Length: > 0 } name ? $" [{name}]" : string.Empty;
        return string.Join("; ", problems) + subject;
    }

    public static string Message(Exception ex)
    {
        var innermost = ex;
        while (innermost.InnerException is { } inner)
        {
            innermost = inner;
        }

        return ReferenceEquals(innermost, ex) ? ex.Message : $"{ex.Message} ({innermost.Message})";
    }
}
