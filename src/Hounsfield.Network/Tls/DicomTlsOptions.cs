// DICOM over TLS: PS3.15 Annex B.1, the Basic TLS Secure Transport Connection Profile (and B.9, BCP 195): TLS 1.2 or
// later, the server authenticated by its certificate, the client optionally authenticated by one. The upper layer is
// unchanged (PS3.8 §9.1.1): PDUs travel over the TLS stream exactly as over TCP.
using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;

namespace Hounsfield.Network;

/// <summary>TLS of a <see cref="DicomServer"/>: every accepted connection is a TLS server before any PDU is read.</summary>
public sealed class DicomTlsServerOptions
{
    /// <summary>The server certificate; it must carry its private key.</summary>
    public required X509Certificate2 Certificate { get; init; }

    /// <summary>Intermediate CA certificates sent with <see cref="Certificate"/> so that clients can build the chain. Default none.</summary>
    public X509Certificate2Collection? IntermediateCertificates { get; init; }

    /// <summary>When true, a client must present a certificate that validates, else the handshake fails. Default false.</summary>
    public bool RequireClientCertificate { get; init; }

    /// <summary>
    /// CAs a client certificate must chain to (instead of the system trust store). Used when
    /// <see cref="ClientCertificateValidation"/> is null. Default null: the system trust store.
    /// </summary>
    public X509Certificate2Collection? TrustedClientCertificateAuthorities { get; init; }

    /// <summary>Decides whether a client certificate is accepted; replaces the chain check. Default null.</summary>
    public RemoteCertificateValidationCallback? ClientCertificateValidation { get; init; }

    /// <summary>Time a connection has to complete the TLS handshake before it is closed. Default 10 s.</summary>
    public TimeSpan HandshakeTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>TLS versions accepted. Default TLS 1.2 and 1.3 (PS3.15 B.1 requires at least 1.2).</summary>
    public SslProtocols EnabledProtocols { get; init; } = SslProtocols.Tls12 | SslProtocols.Tls13;

    internal void Validate()
    {
        ArgumentNullException.ThrowIfNull(Certificate);
        if (!Certificate.HasPrivateKey)
        {
            throw new ArgumentException($"The TLS server certificate {Certificate.Subject} has no private key.", nameof(Certificate));
        }

        if (HandshakeTimeout <= TimeSpan.Zero || HandshakeTimeout == Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(nameof(HandshakeTimeout), HandshakeTimeout, "The TLS handshake timeout must be finite and positive.");
        }

        if ((EnabledProtocols & ~(SslProtocols.Tls12 | SslProtocols.Tls13)) != 0 || EnabledProtocols == SslProtocols.None)
        {
            throw new ArgumentOutOfRangeException(nameof(EnabledProtocols), EnabledProtocols, "DICOM TLS allows TLS 1.2 and TLS 1.3 only.");
        }
    }
}

/// <summary>TLS of a <see cref="DicomClient"/>: the connection is a TLS client before the A-ASSOCIATE-RQ is sent.</summary>
public sealed class DicomTlsClientOptions
{
    /// <summary>The name the server certificate must carry. Default null: the host the client connects to.</summary>
    public string? TargetHost { get; init; }

    /// <summary>
    /// CAs the server certificate must chain to (instead of the system trust store). Used when
    /// <see cref="ServerCertificateValidation"/> is null. Default null: the system trust store.
    /// </summary>
    public X509Certificate2Collection? TrustedCertificateAuthorities { get; init; }

    /// <summary>Decides whether the server certificate is accepted; replaces the chain and name checks. Default null.</summary>
    public RemoteCertificateValidationCallback? ServerCertificateValidation { get; init; }

    /// <summary>The certificate (with its private key) presented when the server asks for one. Default none.</summary>
    public X509Certificate2? ClientCertificate { get; init; }

    /// <summary>Time allowed for the TLS handshake. Default 15 s.</summary>
    public TimeSpan HandshakeTimeout { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>TLS versions offered. Default TLS 1.2 and 1.3.</summary>
    public SslProtocols EnabledProtocols { get; init; } = SslProtocols.Tls12 | SslProtocols.Tls13;

    internal void Validate()
    {
        if (ClientCertificate is { HasPrivateKey: false })
        {
            throw new ArgumentException($"The TLS client certificate {ClientCertificate.Subject} has no private key.", nameof(ClientCertificate));
        }

        if (HandshakeTimeout <= TimeSpan.Zero || HandshakeTimeout == Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(nameof(HandshakeTimeout), HandshakeTimeout, "The TLS handshake timeout must be finite and positive.");
        }

        if ((EnabledProtocols & ~(SslProtocols.Tls12 | SslProtocols.Tls13)) != 0 || EnabledProtocols == SslProtocols.None)
        {
            throw new ArgumentOutOfRangeException(nameof(EnabledProtocols), EnabledProtocols, "DICOM TLS allows TLS 1.2 and TLS 1.3 only.");
        }
    }
}

/// <summary>The TLS handshake failed: the peer's certificate was not accepted, or the peer does not speak TLS.</summary>
public sealed class DicomTlsException : DicomNetworkException
{
    public DicomTlsException(string message, Exception? innerException = null)
        : base(message, innerException)
    {
    }
}
