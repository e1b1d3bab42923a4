using Hounsfield.Dicom;
using Hounsfield.Dicom.Json;

namespace Hounsfield.Server.Cli;

/// <summary>`hounsfield json FILE` and `hounsfield xml FILE`: the data set (no file meta) with binary values inline.</summary>
internal static class ExportCommand
{
    public static int RunJson(string[] args, Stream stdout)
    {
        var file = DicomFile.Open(CommandArguments.Parse(args, "usage: hounsfield json FILE", []).SingleOperand("FILE"));
        using var buffered = new BufferedStream(stdout, 1 << 16);
        DicomJsonWriter.Write(buffered, file.Dataset, new DicomJsonOptions { Indented = true });
        buffered.WriteByte((byte)'\n');
        return 0;
    }

    public static int RunXml(string[] args, Stream stdout)
    {
        var file = DicomFile.Open(CommandArguments.Parse(args, "usage: hounsfield xml FILE", []).SingleOperand("FILE"));
        using var buffered = new BufferedStream(stdout, 1 << 16);
        Hounsfield.Dicom.Xml.DicomXmlWriter.Write(buffered, file.Dataset);
        buffered.WriteByte((byte)'\n');
        return 0;
    }
}
