// DICOM TLS for the server's SCP, its SCU towards DICOM nodes reached over TLS, and the CLI's SCU (PS3.15 Annex B.1):
// certificates and trust anchors from files.
using System.ComponentModel.DataAnnotations;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Hounsfield.Network;

namespace Hounsfield.Server.Dimse;

/// <summary>
/// Section "Dimse:Tls": a second SCP listener that speaks DICOM TLS (off unless a certificate is configured), and how we
/// call the DICOM nodes marked TLS: their certificate must chain to <see cref="PeerCaPath"/>, and ours is presented.
/// </summary>
public sealed class DimseTlsOptions
{
    /// <summary>The server certificate: a PEM file (with <see cref="KeyPath"/>, or with the key in the same file) or a PKCS#12 (.pfx, .p12) file.</summary>
    public string? CertificatePath { get; set; }

    /// <summary>The PEM private key of the certificate, when it is not in <see cref="CertificatePath"/>.</summary>
    public string? KeyPath { get; set; }

    /// <summary>Password of a PKCS#12 file or of an encrypted PEM key. Never logged.</summary>
    public string? Password { get; set; }

    /// <summary>TCP port of the TLS listener; 0 turns it off. Default 2762, registered for DICOM over TLS. The plain port stays as configured.</summary>
    [Range(0, 65535)]
    public int Port { get; set; } = 2762;

    /// <summary>Require a client certificate issued by a CA of <see cref="ClientCaPath"/> (or the system trust store). Default false.</summary>
    public bool RequireClientCertificate { get; set; }

    /// <summary>PEM file of the CA certificates that client certificates must chain to. Default: the system trust store.</summary>
    public string? ClientCaPath { get; set; }

    /// <summary>
    /// PEM file of the CA certificates that the certificate of a DICOM node reached over TLS must chain to (and must name
    /// the node's host). Default: the system trust store.
    /// </summary>
    public string? PeerCaPath { get; set; }

    /// <summary>Seconds a connection, accepted or opened, has to complete the TLS handshake. Default 10.</summary>
    [Range(0.0, 3600.0, MinimumIsExclusive = true)]
    public double HandshakeTimeoutSeconds { get; set; } = 10;

    public bool Enabled => !string.IsNullOrWhiteSpace(CertificatePath) && Port != 0;
}

/// <summary>A DICOM TLS setting that cannot be used: one line naming the key and what is wrong.</summary>
internal sealed class DimseSettingsException(string message) : Exception(message);

/// <summary>
/// The TLS settings, checked and loaded once at start-up: the SCP's (null when its TLS listener is off) and those of
/// associations we open towards DICOM nodes marked TLS (our certificate as the client's, when one is configured).
/// </summary>
internal sealed record DimseTlsSettings(DicomTlsServerOptions? Server, int Port, DicomTlsClientOptions Client);

internal static class DimseTls
{
    /// <summary>Loads the certificate, client CAs and peer CAs of <paramref name="options"/>; a bad setting throws <see cref="DimseSettingsException"/>.</summary>
    public static DimseTlsSettings Load(DimseTlsOptions? options)
    {
        options ??= new DimseTlsOptions(); // its ranges are checked where the section is read (SettingsSections)
        var handshakeTimeout = TimeSpan.FromSeconds(options.HandshakeTimeoutSeconds);
        var (certificate, intermediates) = string.IsNullOrWhiteSpace(options.CertificatePath)
            ? (null, null)
            : LoadCertificate(options.CertificatePath, options.KeyPath, options.Password, "Dimse:Tls:CertificatePath");
        var client = new DicomTlsClientOptions
        {
            TrustedCertificateAuthorities = string.IsNullOrWhiteSpace(options.PeerCaPath) ? null : LoadAuthorities(options.PeerCaPath, "Dimse:Tls:PeerCaPath"),
            ClientCertificate = certificate,
            HandshakeTimeout = handshakeTimeout,
        };
        if (certificate is null || !options.Enabled)
        {
            return new DimseTlsSettings(null, 0, client);
        }

        var clientCas = string.IsNullOrWhiteSpace(options.ClientCaPath) ? null : LoadAuthorities(options.ClientCaPath, "Dimse:Tls:ClientCaPath");
        return new DimseTlsSettings(
            new DicomTlsServerOptions
            {
                Certificate = certificate,
                IntermediateCertificates = intermediates,
                RequireClientCertificate = options.RequireClientCertificate,
                TrustedClientCertificateAuthorities = clientCas,
                HandshakeTimeout = handshakeTimeout,
            },
            options.Port,
            client);
    }

    /// <summary>
    /// A certificate with its private key: PKCS#12 (.pfx/.p12, with <paramref name="password"/>), or PEM with the key in
    /// <paramref name="keyPath"/> or in the same file (encrypted when <paramref name="password"/> is set). Further
    /// certificates in a PEM file are the intermediate chain.
    /// </summary>
    public static (X509Certificate2 Certificate, X509Certificate2Collection? Intermediates) LoadCertificate(string path, string? keyPath, string? password, string setting)
    {
        RequireFile(path, setting);
        if (keyPath is not null)
        {
            RequireFile(keyPath, setting.Replace("CertificatePath", "KeyPath", StringComparison.Ordinal));
        }

        X509Certificate2 certificate;
        X509Certificate2Collection? intermediates = null;
        try
        {
            var extension = Path.GetExtension(path).ToLowerInvariant();
            if (keyPath is null && extension is ".pfx" or ".p12")
            {
                var bundle = X509CertificateLoader.LoadPkcs12CollectionFromFile(path, password);
                certificate = bundle.FirstOrDefault(c => c.HasPrivateKey) ?? throw new DimseSettingsException($"{setting}: '{path}' holds no certificate with a private key");
                intermediates = [.. bundle.Where(c => !ReferenceEquals(c, certificate))];
            }
            else
            {
                certificate = string.IsNullOrEmpty(password)
                    ? X509Certificate2.CreateFromPemFile(path, keyPath)
                    : X509Certificate2.CreateFromEncryptedPemFile(path, password, keyPath);
                var chain = new X509Certificate2Collection();
                chain.ImportFromPemFile(path);
                intermediates = chain.Count > 1 ? [.. chain.Skip(1)] : null;
            }
        }
        catch (CryptographicException ex)
        {
            throw new DimseSettingsException($"{setting}: cannot load a certificate with its private key from '{path}'{(keyPath is null ? string.Empty : $" and '{keyPath}'")}: {ex.Message}");
        }
        catch (ArgumentException ex)
        {
            throw new DimseSettingsException($"{setting}: cannot load a certificate with its private key from '{path}'{(keyPath is null ? string.Empty : $" and '{keyPath}'")}: {ex.Message}");
        }

        if (!certificate.HasPrivateKey)
        {
            throw new DimseSettingsException($"{setting}: the certificate in '{path}' has no private key");
        }

        if (certificate.NotAfter < DateTime.Now)
        {
            throw new DimseSettingsException($"{setting}: the certificate in '{path}' ({certificate.Subject}) expired on {certificate.NotAfter:u}");
        }

        return (certificate, intermediates is { Count: > 0 } ? intermediates : null);
    }

    /// <summary>The CA certificates of a PEM file (one or more).</summary>
    public static X509Certificate2Collection LoadAuthorities(string path, string setting)
    {
        RequireFile(path, setting);
        var authorities = new X509Certificate2Collection();
        try
        {
            authorities.ImportFromPemFile(path);
        }
        catch (CryptographicException ex)
        {
            throw new DimseSettingsException($"{setting}: cannot read CA certificates from '{path}': {ex.Message}");
        }

        if (authorities.Count == 0)
        {
            throw new DimseSettingsException($"{setting}: '{path}' holds no PEM certificate");
        }

        return authorities;
    }

    private static void RequireFile(string path, string setting)
    {
        if (!File.Exists(path))
        {
            throw new DimseSettingsException($"{setting}: no such file '{path}'");
        }
    }
}
