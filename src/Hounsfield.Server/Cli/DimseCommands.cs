using System.Globalization;
using Hounsfield.Dicom;
using Hounsfield.Dicom.Json;
using Hounsfield.Network;
using Hounsfield.Network.Association;
using Hounsfield.Server.Nodes;

namespace Hounsfield.Server.Cli;

/// <summary>
/// `hounsfield echo|store|find|move|get HOST PORT ...`: the DIMSE SCU operations against any peer, like DCMTK's
/// echoscu, storescu, findscu, movescu and getscu (PS3.7 §9.1, PS3.4 Annexes A, B, C).
/// </summary>
internal static class DimseCommands
{
    public const string UsageLines = """
          echo HOST PORT [--aet AE] [--aec AE]             C-ECHO a DICOM peer
          store HOST PORT PATH... [--aet AE] [--aec AE]    C-STORE files (directories recursively), one association
          find HOST PORT --level L [-k KEY[=VALUE]]... [--model patient|study] [--fuzzy] [--combined-datetime]
                 C-FIND, matches as DICOM JSON (--fuzzy: ask the peer to match person names fuzzily, e.g.
                 case-insensitively; --combined-datetime: a date range and its time range as one date-time range)
          move HOST PORT --dest AE --level L -k KEY=VALUE...  C-MOVE the matches to the AE title DEST
          get HOST PORT --level L -k KEY=VALUE... --output DIR   C-GET the matches into DIR
                 (levels: patient, study, series, image; every DIMSE command takes --timeout SECONDS)
                 (KEY: a keyword or gggg,eeee; SEQUENCE[0].KEY a key of the one item of a sequence key)
                 (DICOM TLS: --tls [--ca CA.pem] [--cert CERT.pem --key KEY.pem]; the peer's certificate must
                  chain to CA.pem, else to the system trust store, and name HOST)
        """;

    public static async Task<int> RunAsync(string command, string[] args)
    {
        var parsed = Arguments.Parse(command, args);
        using var cancel = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            cancel.Cancel();
        };

        var client = new DicomClient(parsed.Host, parsed.Port, parsed.CallingAE, parsed.CalledAE, parsed.Options) { Tls = TlsOptions(parsed), Transcoder = new Dimse.ImagingTranscoder(Dimse.DimseOptions.DefaultMaxDecompressedLength) };
        try
        {
            return command switch
            {
                "echo" => await EchoAsync(client, cancel.Token),
                "store" => await StoreAsync(client, parsed, cancel.Token),
                "find" => await FindAsync(client, parsed, cancel.Token),
                "move" => await MoveAsync(client, parsed, cancel.Token),
                _ => await GetAsync(client, parsed, cancel.Token),
            };
        }
        catch (DicomNetworkException ex)
        {
            return CommandLine.Fail($"{command}: {ex.Message}", 1);
        }
        catch (DicomStatusException ex)
        {
            return CommandLine.Fail($"{command}: {ex.Message}", 1);
        }
        catch (OperationCanceledException)
        {
            return CommandLine.Fail($"{command}: cancelled", 1);
        }
    }

    /// <summary>The TLS options of --tls/--ca/--cert/--key, loaded with the server's certificate loader; null without --tls.</summary>
    private static DicomTlsClientOptions? TlsOptions(Arguments parsed)
    {
        if (!parsed.Tls)
        {
            return null;
        }

        var authorities = parsed.CaPath is null ? null : Dimse.DimseTls.LoadAuthorities(parsed.CaPath, "--ca");
        var certificate = parsed.CertificatePath is null ? null : Dimse.DimseTls.LoadCertificate(parsed.CertificatePath, parsed.KeyPath, null, "--cert").Certificate;
        return new DicomTlsClientOptions
        {
            TrustedCertificateAuthorities = authorities,
            ClientCertificate = certificate,
            HandshakeTimeout = parsed.Options.ConnectTimeout,
        };
    }

    private static async Task<int> EchoAsync(DicomClient client, CancellationToken cancellationToken)
    {
        var status = await client.EchoAsync(cancellationToken);
        Console.Out.WriteLine($"C-ECHO {client.CalledAE}@{client.Host}:{client.Port}: {status}");
        return status.IsSuccess ? 0 : 1;
    }

    private static async Task<int> StoreAsync(DicomClient client, Arguments parsed, CancellationToken cancellationToken)
    {
        var files = new List<string>();
        foreach (var path in parsed.Paths)
        {
            if (Directory.Exists(path))
            {
                files.AddRange(Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal));
            }
            else if (File.Exists(path))
            {
                files.Add(path);
            }
            else
            {
                return CommandLine.Fail($"store: no such file or directory '{path}'", 2);
            }
        }

        if (files.Count == 0)
        {
            return CommandLine.Fail("store: no files to send", 2);
        }

        var results = await client.StoreAsync(files, cancellationToken);
        foreach (var failed in results.Where(r => !r.Succeeded))
        {
            Console.Error.WriteLine($"hounsfield: store: {failed.Source.Description}: {failed.Status} {failed.Error}");
        }

        var succeeded = results.Count(r => r.Succeeded);
        Console.Out.WriteLine($"C-STORE {client.CalledAE}@{client.Host}:{client.Port}: {succeeded} of {results.Count} instances stored");
        return succeeded == results.Count ? 0 : 1;
    }

    private static async Task<int> FindAsync(DicomClient client, Arguments parsed, CancellationToken cancellationToken)
    {
        var model = parsed.Model switch
        {
            "patient" => DicomUids.PatientRootQueryRetrieveInformationModelFind,
            "study" => DicomUids.StudyRootQueryRetrieveInformationModelFind,
            _ => null,
        };
        var matches = new List<DicomDataset>();
        var find = new DicomFindOptions { FuzzySemanticMatching = parsed.Fuzzy, CombinedDateTimeMatching = parsed.CombinedDateTime };
        await foreach (var match in client.FindAsync(parsed.Level!.Value, parsed.Query, model, cancellationToken, find))
        {
            matches.Add(match);
        }

        foreach (var caveat in FindCaveats.Of(find, client.CalledAE))
        {
            Console.Error.WriteLine($"warning: {caveat}");
        }

        using (var stdout = new BufferedStream(Console.OpenStandardOutput(), 1 << 16))
        {
            DicomJsonWriter.WriteArray(stdout, matches, new DicomJsonOptions { Indented = true });
            stdout.WriteByte((byte)'\n');
        }

        Console.Error.WriteLine($"C-FIND {client.CalledAE}@{client.Host}:{client.Port}: {matches.Count} matches");
        return 0;
    }

    private static async Task<int> MoveAsync(DicomClient client, Arguments parsed, CancellationToken cancellationToken)
    {
        var model = parsed.Model == "patient" ? DicomUids.PatientRootQueryRetrieveInformationModelMove : null;
        var result = await client.MoveAsync(parsed.Destination!, parsed.Level!.Value, parsed.Query, model, new Progress("C-MOVE"), cancellationToken);
        return Report("C-MOVE", client, result);
    }

    private static async Task<int> GetAsync(DicomClient client, Arguments parsed, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(parsed.Output!);
        var model = parsed.Model == "patient" ? DicomUids.PatientRootQueryRetrieveInformationModelGet : null;
        var result = await client.GetAsync(parsed.Level!.Value, parsed.Query, new FolderStore(parsed.Output!), model, progress: new Progress("C-GET"), cancellationToken: cancellationToken);
        return Report("C-GET", client, result);
    }

    private static int Report(string operation, DicomClient client, DicomRetrieveResult result)
    {
        Console.Out.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"{operation} {client.CalledAE}@{client.Host}:{client.Port}: {result.Status}, {result.Completed} completed, {result.Failed} failed, {result.Warning} warnings"));
        foreach (var uid in result.FailedSopInstanceUids)
        {
            Console.Error.WriteLine($"hounsfield: {operation.ToLowerInvariant()}: failed {uid}");
        }

        return result.Status.IsSuccess ? 0 : 1;
    }

    /// <summary>Writes each instance received by C-GET to DIR/SOPInstanceUID.dcm as received; partial files are removed.</summary>
    private sealed class FolderStore(string directory) : ICStoreProvider
    {
        public async ValueTask<DicomStatus> StoreAsync(DicomStoreRequest request, CancellationToken cancellationToken)
        {
            var name = string.Concat(request.SopInstanceUid.Select(c => char.IsAsciiLetterOrDigit(c) || c == '.' ? c : '_'));
            var path = Path.Combine(directory, name + ".dcm");
            var partial = path + ".part";
            try
            {
                await using (var file = new FileStream(partial, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true))
                {
                    await request.WritePart10Async(file, cancellationToken);
                }

                File.Move(partial, path, overwrite: true);
                return DicomStatus.Success;
            }
            catch
            {
                File.Delete(partial);
                throw;
            }
        }
    }

    private sealed class Progress(string operation) : IProgress<DicomRetrieveResult>
    {
        public void Report(DicomRetrieveResult value) =>
            Console.Error.WriteLine($"{operation}: {value.Completed} completed, {value.Failed} failed, {value.Remaining} remaining");
    }

    private sealed class Arguments
    {
        public string Host { get; private set; } = string.Empty;

        public int Port { get; private set; }

        public string CallingAE { get; private set; } = "HOUNSFIELD";

        public string CalledAE { get; private set; } = "ANY-SCP";

        public DicomAssociationOptions Options { get; private set; } = DicomAssociationOptions.Default;

        public List<string> Paths { get; } = [];

        public DicomDataset Query { get; } = new();

        public DicomQueryRetrieveLevel? Level { get; private set; }

        public string? Model { get; private set; }

        public string? Destination { get; private set; }

        public string? Output { get; private set; }

        public bool Tls { get; private set; }

        public bool Fuzzy { get; private set; }

        public bool CombinedDateTime { get; private set; }

        public string? CaPath { get; private set; }

        public string? CertificatePath { get; private set; }

        public string? KeyPath { get; private set; }

        public static Arguments Parse(string command, string[] args)
        {
            var parsed = new Arguments();
            var given = CommandArguments.Parse(args, $"usage:\n{UsageLines}",
                ["--aet", "--aec", "--timeout", "--level", "--model", "--dest", "--output|-o", "--ca", "--cert", "--key", "-k"], ["--tls", "--fuzzy", "--combined-datetime"]);
            try
            {
                parsed.CallingAE = given.Value("--aet") is { } aet ? DicomAssociationOptions.ValidateAETitle(aet, "--aet") : parsed.CallingAE;
                parsed.CalledAE = given.Value("--aec") is { } aec ? DicomAssociationOptions.ValidateAETitle(aec, "--aec") : parsed.CalledAE;
                if (given.Value("--timeout") is { } timeout)
                {
                    if (!double.TryParse(timeout, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var timeoutSeconds) || timeoutSeconds is <= 0 or > 86_400)
                    {
                        throw new ArgumentException($"--timeout needs a number of seconds above 0 and at most 86400, not '{timeout}'");
                    }

                    var seconds = TimeSpan.FromSeconds(timeoutSeconds);
                    parsed.Options = parsed.Options with { DimseTimeout = seconds, ArtimTimeout = seconds, ConnectTimeout = seconds };
                }

                if (given.Value("--level") is { } level)
                {
                    parsed.Level = DicomQueryRetrieveLevels.Parse(level) ?? throw new ArgumentException($"unknown level '{level}'");
                }

                parsed.Model = given.Value("--model") is { } model
                    ? model is "patient" or "study" ? model : throw new ArgumentException($"--model is patient or study, not '{model}'")
                    : null;
                parsed.Destination = given.Value("--dest") is { } destination ? DicomAssociationOptions.ValidateAETitle(destination, "--dest") : null;
                parsed.Output = given.Value("--output");
                parsed.Tls = given.Has("--tls");
                parsed.Fuzzy = given.Has("--fuzzy");
                parsed.CombinedDateTime = given.Has("--combined-datetime");
                parsed.CaPath = given.Value("--ca");
                parsed.CertificatePath = given.Value("--cert");
                parsed.KeyPath = given.Value("--key");
                foreach (var key in given.Values("-k"))
                {
                    AddKey(parsed.Query, key);
                }

                var positional = given.Operands;
                if (positional.Count < 2)
                {
                    throw new ArgumentException("HOST and PORT are required");
                }

                if (!int.TryParse(positional[1], NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
                {
                    throw new ArgumentException($"PORT is a number from 1 to 65535, not '{positional[1]}'");
                }

                parsed.Host = positional[0];
                parsed.Port = port;
                parsed.Paths.AddRange(positional.Skip(2));
                if (command == "store" ? parsed.Paths.Count == 0 : parsed.Paths.Count > 0)
                {
                    throw new ArgumentException(command == "store" ? "no PATH to send" : $"unexpected argument '{parsed.Paths[0]}'");
                }

                if (command is "find" or "move" or "get" && parsed.Level is null)
                {
                    throw new ArgumentException("--level is required");
                }

                if (command == "move" && parsed.Destination is null)
                {
                    throw new ArgumentException("--dest is required");
                }

                if (!parsed.Tls && (parsed.CaPath ?? parsed.CertificatePath) is not null)
                {
                    throw new ArgumentException("--ca and --cert need --tls");
                }

                if (parsed.KeyPath is not null && parsed.CertificatePath is null)
                {
                    throw new ArgumentException("--key needs --cert");
                }

                if (command == "get" && parsed.Output is null)
                {
                    throw new ArgumentException("--output is required");
                }
            }
            catch (Exception ex) when (ex is ArgumentException or FormatException or OverflowException or DicomFormatException)
            {
                throw given.UsageError(ex.Message);
            }

            return parsed;
        }

        /// <summary>
        /// KEY=VALUE or KEY (an empty return key); KEY is a keyword or gggg,eeee, or SEQUENCE[0].KEY (as DCMTK's findscu
        /// writes it; [0] may be left out) for a key of the one item of a sequence key (PS3.4 C.2.2.2.6).
        /// </summary>
        private static void AddKey(DicomDataset query, string text)
        {
            var equals = text.IndexOf('=', StringComparison.Ordinal);
            var path = equals < 0 ? text : text[..equals];
            var value = equals < 0 ? string.Empty : text[(equals + 1)..];
            var dot = path.IndexOf('.', StringComparison.Ordinal);
            if (dot < 0)
            {
                var tag = KeyTag(path, path);
                if (DicomDictionary.GetDefaultVR(tag) != DicomVR.SQ)
                {
                    query.DeclareUtf8IfNeeded(value);
                    query.AddOrUpdate(tag, value);
                }
                else if (value.Length == 0)
                {
                    query.Add(new DicomSequence(tag)); // the sequence is returned; SEQUENCE[0].KEY keys ask for items
                }
                else
                {
                    throw new ArgumentException($"key '{path}' is a sequence: give keys of its item as {path}[0].KEY[=VALUE]");
                }

                return;
            }

            var sequenceName = path[..dot];
            if (sequenceName.EndsWith("[0]", StringComparison.Ordinal))
            {
                sequenceName = sequenceName[..^3];
            }

            var sequenceTag = KeyTag(sequenceName, path);
            var itemTag = KeyTag(path[(dot + 1)..], path);
            if (DicomDictionary.GetDefaultVR(sequenceTag) != DicomVR.SQ || DicomDictionary.GetDefaultVR(itemTag) == DicomVR.SQ)
            {
                throw new ArgumentException($"key '{path}': a key inside a sequence is SEQUENCE[0].KEY, one level deep (the query's one item)");
            }

            if (query.Find(sequenceTag) is not DicomSequence { Items: [var item] })
            {
                item = new DicomDataset();
                query.Add(new DicomSequence(sequenceTag, item));
            }

            item.DeclareUtf8IfNeeded(value);
            item.AddOrUpdate(itemTag, value);
        }

        private static DicomTag KeyTag(string name, string key) =>
            DicomTag.TryParse(name, out var tag) ? tag : throw new ArgumentException($"unknown key '{key}'");
    }
}
