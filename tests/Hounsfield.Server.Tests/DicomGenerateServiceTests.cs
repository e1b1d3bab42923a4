using Hounsfield.Dicom;
using Hounsfield.Imaging.Decoders;
using Hounsfield.Imaging.Encoders;
using Hounsfield.Imaging.Frames;
using Hounsfield.Server.Developer;
using Microsoft.Extensions.Logging.Abstractions;

namespace Hounsfield.Server.Tests;

/// <summary>
/// /api/dicom/generate/ in process: Secondary Capture instances from PNGs and JPEGs decode back to the picture's pixels,
/// pass dciodvfy (dicom3tools) without errors and are read by dcmdump; form fields are checked against their VR.
/// </summary>
public sealed class DicomGenerateServiceTests
{
    [Theory]
    [InlineData(1, 8)]
    [InlineData(3, 8)]
    [InlineData(1, 16)]
    public void APngBecomesAValidSecondaryCaptureWithItsExactPixels(int channels, int depth)
    {
        var (width, height) = (33, 21); // odd: 8-bit gray pixel data needs its pad byte
        var samples = Gradient(width, height, channels, depth);
        using var png = new MemoryStream();
        PngEncoder.Encode(png, width, height, (channels, depth) switch { (1, 8) => PngPixelFormat.Gray8, (3, 8) => PngPixelFormat.Rgb8, _ => PngPixelFormat.Gray16 }, samples);

        var generated = Generate([("file_name", "scan"), ("PatientName", "Doe^Jane"), ("PatientID", "P-1")], png.ToArray());

        var file = DicomFile.Read(generated.Bytes);
        var dataset = file.Dataset;
        Assert.Equal(DicomTransferSyntax.ExplicitVRLittleEndian, file.TransferSyntax);
        Assert.Equal(DicomUids.SecondaryCaptureImageStorage, dataset.GetString(DicomTag.SOPClassUID));
        Assert.Equal(DicomUids.SecondaryCaptureImageStorage, file.Meta.GetString(DicomTag.MediaStorageSOPClassUID));
        Assert.Equal(generated.SopInstanceUid, file.Meta.GetString(DicomTag.MediaStorageSOPInstanceUID));
        Assert.Equal(channels == 3 ? "RGB" : "MONOCHROME2", dataset.GetString(DicomTag.PhotometricInterpretation));
        Assert.Equal(channels, dataset.GetValue<int>(DicomTag.SamplesPerPixel));
        Assert.Equal(channels == 3 ? 0 : null, dataset.GetValueOrDefault<int>(DicomTag.PlanarConfiguration));
        Assert.Equal((height, width), (dataset.GetValue<int>(DicomTag.Rows), dataset.GetValue<int>(DicomTag.Columns)));
        Assert.Equal((depth, depth, depth - 1), (dataset.GetValue<int>(DicomTag.BitsAllocated), dataset.GetValue<int>(DicomTag.BitsStored), dataset.GetValue<int>(DicomTag.HighBit)));
        Assert.Equal("WSD", dataset.GetString(DicomTag.ConversionType));
        Assert.Equal("Doe^Jane", dataset.GetString(DicomTag.PatientName));
        Assert.Equal("scan", generated.FileName);
        Assert.Equal(samples, PixelDataReader.Create(file)!.ReadFrame(0).Data);
        AssertValid(generated.Bytes);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void AJpegBecomesAValidSecondaryCaptureWithTheDecodedPixels(int channels)
    {
        var jpeg = Cjpeg(channels);

        var generated = Generate([("StudyDescription", "from a camera")], jpeg);

        var file = DicomFile.Read(generated.Bytes);
        var decoded = JpegFileDecoder.Decode(jpeg);
        Assert.Equal(decoded.Samples, PixelDataReader.Create(file)!.ReadFrame(0).Data);
        Assert.Equal(channels == 3 ? "RGB" : "MONOCHROME2", file.Dataset.GetString(DicomTag.PhotometricInterpretation));
        Assert.Equal("01", file.Dataset.GetString(DicomTag.LossyImageCompression));
        Assert.Equal("ISO_10918_1", file.Dataset.GetString(DicomTag.LossyImageCompressionMethod));
        Assert.Equal(generated.SopInstanceUid, generated.FileName); // no file_name: the SOP Instance UID names the file
        AssertValid(generated.Bytes);
    }

    [Fact]
    public void GivenAttributesAreWrittenWithTheirVRAndUnicodeDeclaresUtf8()
    {
        var png = PngEncoder.Encode(new Hounsfield.Imaging.Rendering.RenderedImage(4, 2, 1, new byte[8]));
        const string studyUid = "1.2.826.0.1.3680043.2.1125.1.42";

        var generated = Generate(
            [
                ("PatientName", "Müller^Jürgen"), ("PatientBirthDate", "19800131"), ("PatientSex", "M"), ("StudyInstanceUID", studyUid),
                ("PixelSpacing", "0.5\\0.25"), ("SeriesNumber", "7"), ("Modality", "XC"), ("WindowCenter", "127.5"), ("WindowWidth", "255"),
                ("FrameTime", "40"), ("FrameIncrementPointer", "(0018,1063)"), ("StudyTime", "142503.25"), ("ImageComments", "line one\r\nline two"),
            ],
            png);

        var dataset = DicomFile.Read(generated.Bytes).Dataset;
        Assert.Equal("ISO_IR 192", dataset.GetString(DicomTag.SpecificCharacterSet));
        Assert.Equal("Müller^Jürgen", dataset.GetString(DicomTag.PatientName));
        Assert.Equal(new DateOnly(1980, 1, 31), dataset.GetDate(DicomTag.PatientBirthDate));
        Assert.Equal(studyUid, dataset.GetString(DicomTag.StudyInstanceUID));
        Assert.Equal([0.5, 0.25], dataset.GetValues<double>(DicomTag.PixelSpacing));
        Assert.Equal(DicomVR.DS, dataset.Find(DicomTag.PixelSpacing)!.VR);
        Assert.Equal("XC", dataset.GetString(DicomTag.Modality));
        Assert.Equal(DicomTag.FrameTime, dataset.GetTags((DicomValueElement)dataset.Find(DicomTag.FrameIncrementPointer)!)[0]);
        Assert.Equal("line one\r\nline two", dataset.GetString(DicomTag.ImageComments));
        Assert.NotEqual(studyUid, dataset.GetString(DicomTag.SeriesInstanceUID));
        AssertValid(generated.Bytes);
    }

    [Fact]
    public void InvalidFieldsAreReportedTogetherPerField()
    {
        var png = PngEncoder.Encode(new Hounsfield.Imaging.Rendering.RenderedImage(2, 2, 1, new byte[4]));
        var error = Assert.Throws<DicomServiceException>(() => Generate(
            [
                ("PatientBirthDate", "1980-01-31"), ("Rows", "512"), ("NotAKeyword", "x"), ("PixelSpacing", "0.5"),
                ("SmallestImagePixelValue", "70000"), ("StudyInstanceUID", "1.2.03"), ("PatientSex", "male"), ("PatientID", "A\u0001B"),
                ("ReferencedImageSequence", ""), ("TransferSyntaxUID", "1.2.840.10008.1.2"), ("PatientName", "a"), ("PatientName", "b"),
                ("StudyTime", "25"), ("PatientAge", "45"), ("InstanceNumber", "1.5"), ("Modality", new string('A', 17)), ("SeriesInstanceUID", string.Empty),
            ],
            png));

        Assert.Equal(400, error.StatusCode);
        var fields = error.FieldErrors!;
        string[] expected =
        [
            "InstanceNumber", "Modality", "NotAKeyword", "PatientAge", "PatientBirthDate", "PatientID", "PatientName", "PatientSex", "PixelSpacing",
            "ReferencedImageSequence", "Rows", "SeriesInstanceUID", "SmallestImagePixelValue", "StudyInstanceUID", "StudyTime", "TransferSyntaxUID",
        ];
        Assert.Equal(expected, fields.Keys.Order(StringComparer.Ordinal));
        Assert.Contains("YYYYMMDD", fields["PatientBirthDate"][0], StringComparison.Ordinal);
        Assert.Contains("VM", fields["PixelSpacing"][0], StringComparison.Ordinal);
        Assert.Contains("65535", fields["SmallestImagePixelValue"][0], StringComparison.Ordinal);
        Assert.Contains("cannot be given", fields["Rows"][0], StringComparison.Ordinal);
        Assert.Contains("Unknown DICOM keyword", fields["NotAKeyword"][0], StringComparison.Ordinal);
        Assert.Contains("16", fields["Modality"][0], StringComparison.Ordinal);
    }

    [Fact]
    public void TheImageIsRequiredAndMustBeAPngOrJpegWithinTheLimits()
    {
        Assert.Equal(["No file was submitted."], Assert.Throws<DicomServiceException>(() => Generate([("PatientName", "x")], null)).FieldErrors!["image"]);
        Assert.Equal(["Upload a PNG or JPEG image; the file is neither."], Assert.Throws<DicomServiceException>(() => Generate([], "GIF89a......"u8.ToArray())).FieldErrors!["image"]);
        Assert.Equal(["The submitted data was not a file. Check the encoding type on the form."], Assert.Throws<DicomServiceException>(() => Generate([("image", "abc")], null)).FieldErrors!["image"]);

        var large = PngEncoder.Encode(new Hounsfield.Imaging.Rendering.RenderedImage(300, 200, 1, new byte[60000]));
        var options = new DicomServicesOptions { MaxImagePixels = 50_000 };
        var error = Assert.Throws<DicomServiceException>(() => Generate([], large, options));
        Assert.Contains("300x200", error.FieldErrors!["image"][0], StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("report", "report")]
    [InlineData("report.dcm", "report")]
    [InlineData("../../etc/passwd", "passwd")]
    [InlineData("..\\..\\boot.ini", "boot.ini")]
    [InlineData("a\"b\r\nSet-Cookie: x=1", "a_b__Set-Cookie_ x_1")]
    [InlineData("rapport d'été (2).png", "rapport d__t_ (2).png")]
    [InlineData("...", "fallback")]
    [InlineData("", "fallback")]
    [InlineData(null, "fallback")]
    public void FileNamesAreSafeForContentDisposition(string? requested, string expected)
    {
        Assert.Equal(expected, DownloadFileName.Sanitize(requested, "fallback"));
    }

    [Fact]
    public void LongFileNamesAreCut()
    {
        Assert.Equal(100, DownloadFileName.Sanitize(new string('x', 500), "f").Length);
    }

    internal static GeneratedDicom Generate(IEnumerable<(string Name, string Value)> fields, byte[]? image, DicomServicesOptions? options = null)
    {
        var service = new DicomGenerateService(options ?? new DicomServicesOptions(), NullLogger<DicomGenerateService>.Instance, TimeProvider.System);
        List<UploadedFile> files = image is null ? [] : [new UploadedFile("image", "picture", image)];
        return service.Generate([.. fields.Select(f => new KeyValuePair<string, string>(f.Name, f.Value))], files);
    }

    /// <summary>dciodvfy reports no errors (warnings are allowed) and dcmdump reads the file.</summary>
    internal static void AssertValid(byte[] dicom)
    {
        var path = Path.Combine(Path.GetTempPath(), $"hounsfield-generated-{Guid.NewGuid():N}.dcm");
        File.WriteAllBytes(path, dicom);
        try
        {
            var (_, verification) = DimseTests.Run("dciodvfy", path);
            var errors = verification.Split('\n').Where(l => l.StartsWith("Error", StringComparison.Ordinal)).ToList();
            Assert.True(errors.Count == 0, $"dciodvfy:\n{verification}");
            Assert.Contains("SCImage", verification, StringComparison.Ordinal); // it recognised the IOD it checked
            var (exitCode, dump) = DimseTests.Run("dcmdump", path);
            Assert.True(exitCode == 0, dump);
            Assert.Contains("(7fe0,0010)", dump, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static byte[] Cjpeg(int channels)
    {
        var (width, height) = (47, 29);
        var pixels = Gradient(width, height, channels, 8);
        var directory = Directory.CreateTempSubdirectory("hounsfield-cjpeg-");
        try
        {
            var input = Path.Combine(directory.FullName, "in.pnm");
            var output = Path.Combine(directory.FullName, "out.jpg");
            File.WriteAllBytes(input, Pnm.Write(width, height, channels, pixels));
            var (exitCode, messages) = DimseTests.Run("cjpeg", "-quality", "90", "-outfile", output, input);
            Assert.True(exitCode == 0, messages);
            return File.ReadAllBytes(output);
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    /// <summary>Row-major samples (16-bit little-endian) that differ from pixel to pixel and channel to channel.</summary>
    private static byte[] Gradient(int width, int height, int channels, int depth)
    {
        var bytesPerSample = depth / 8;
        var samples = new byte[width * height * channels * bytesPerSample];
        for (var i = 0; i < width * height * channels; i++)
        {
            var value = (i * 2654435761u) >> (depth == 8 ? 24 : 16);
            samples[i * bytesPerSample] = (byte)value;
            if (bytesPerSample == 2)
            {
                samples[(i * 2) + 1] = (byte)(value >> 8);
            }
        }

        return samples;
    }
}
