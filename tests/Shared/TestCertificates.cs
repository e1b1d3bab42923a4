using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Hounsfield.Testing;

/// <summary>
/// A throw-away PKI for TLS tests: a CA, a server certificate for localhost/127.0.0.1 and a client certificate, both
/// issued by the CA, written as PEM files to a temporary folder (deleted on dispose). RSA 2048, valid for a day. The
/// server certificate may also authenticate a client, as a DICOM node's certificate does when the node opens
/// associations too (C-MOVE sub-operations, stores to other nodes).
/// </summary>
public sealed class TestCertificates : IDisposable
{
    private TestCertificates(string directory, X509Certificate2 ca, X509Certificate2 server, X509Certificate2 client)
    {
        Directory = directory;
        Ca = ca;
        Server = server;
        Client = client;
    }

    public string Directory { get; }

    public X509Certificate2 Ca { get; }

    /// <summary>The server certificate with its private key.</summary>
    public X509Certificate2 Server { get; }

    /// <summary>The client certificate with its private key.</summary>
    public X509Certificate2 Client { get; }

    public string CaPath => Path.Combine(Directory, "ca.pem");

    public string ServerCertificatePath => Path.Combine(Directory, "server.pem");

    public string ServerKeyPath => Path.Combine(Directory, "server.key");

    public string ClientCertificatePath => Path.Combine(Directory, "client.pem");

    public string ClientKeyPath => Path.Combine(Directory, "client.key");

    public X509Certificate2Collection CaCollection => [Ca];

    /// <summary>Creates the CA and its two certificates; <paramref name="caName"/> tells two PKIs apart.</summary>
    public static TestCertificates Create(string caName = "Hounsfield Test CA")
    {
        var directory = Path.Combine(Path.GetTempPath(), "hounsfield-tls-" + Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(directory);
        var notBefore = DateTimeOffset.UtcNow.AddMinutes(-5);
        var notAfter = DateTimeOffset.UtcNow.AddDays(1);

        var caKey = RSA.Create(2048);
        var caRequest = new CertificateRequest($"CN={caName}", caKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        caRequest.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(caRequest.PublicKey, false));
        var ca = caRequest.CreateSelfSigned(notBefore, notAfter);

        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName("localhost");
        san.AddIpAddress(System.Net.IPAddress.Loopback);
        var serverAuthentication = new Oid("1.3.6.1.5.5.7.3.1", "Server Authentication");
        var clientAuthentication = new Oid("1.3.6.1.5.5.7.3.2", "Client Authentication");
        var server = Issue(ca, "CN=localhost", [serverAuthentication, clientAuthentication], san, 1);
        var client = Issue(ca, "CN=HOUNSFIELD-TEST-CLIENT", [clientAuthentication], null, 2);

        File.WriteAllText(Path.Combine(directory, "ca.pem"), ca.ExportCertificatePem());
        Write(server, "server");
        Write(client, "client");
        return new TestCertificates(directory, ca, server, client);

        X509Certificate2 Issue(X509Certificate2 issuer, string subject, OidCollection usages, SubjectAlternativeNameBuilder? names, byte serial)
        {
            var key = RSA.Create(2048);
            var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
            request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
            request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment, true));
            request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(usages, false));
            request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(issuer, true, false));
            if (names is not null)
            {
                request.CertificateExtensions.Add(names.Build());
            }

            using var issued = request.Create(issuer, notBefore, notAfter.AddMinutes(-1), [serial, 0x10, 0x20, 0x30]);
            return issued.CopyWithPrivateKey(key);
        }

        void Write(X509Certificate2 certificate, string name)
        {
            File.WriteAllText(Path.Combine(directory, name + ".pem"), certificate.ExportCertificatePem());
            File.WriteAllText(Path.Combine(directory, name + ".key"), certificate.GetRSAPrivateKey()!.ExportPkcs8PrivateKeyPem());
        }
    }

    public void Dispose()
    {
        Ca.Dispose();
        Server.Dispose();
        Client.Dispose();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
