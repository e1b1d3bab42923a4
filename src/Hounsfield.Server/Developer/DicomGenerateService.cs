// Secondary Capture Image IOD, PS3.3 A.8.1: Patient (C.7.1.1), General Study (C.7.2.1), General Series (C.7.3.1),
// General Equipment (C.7.5.1), SC Equipment (C.8.6.1), General Image (C.7.6.1), Image Pixel (C.7.6.3), SC Image (C.8.6.2)
// and SOP Common (C.12.1) modules; Part 10 file in Explicit VR Little Endian (PS3.10 §7, PS3.5 A.2).
using System.Diagnostics;
using System.Globalization;
using Hounsfield.Dicom;
using Hounsfield.Imaging.Codecs;
using Hounsfield.Imaging.Decoders;

namespace Hounsfield.Server.Developer;

/// <summary>A generated DICOM file, named for the Content-Disposition header (without ".dcm").</summary>
internal sealed record GeneratedDicom(byte[] Bytes, string FileName, string SopInstanceUid);

/// <summary>
/// Builds a Secondary Capture Image Storage instance from a PNG or JPEG and DICOM attributes given by keyword: every type 1
/// and type 2 attribute of the IOD's modules is present, new UIDs unless given, RGB images stay RGB (PLANAR CONFIGURATION 0)
/// and gray ones MONOCHROME2, at 8 bits or, for 16-bit PNGs and 12-bit JPEGs, 16 bits. Nothing is stored.
/// </summary>
internal sealed class DicomGenerateService(DicomServicesOptions options, ILogger<DicomGenerateService> logger, TimeProvider time)
{
    public const string FileNameField = "file_name";
    public const string ImageField = "image";

    /// <summary>Attributes the generator derives from the image or the IOD; a form cannot set them.</summary>
    private static readonly HashSet<string> Derived = new(StringComparer.Ordinal)
    {
        "SOPClassUID", "SpecificCharacterSet", "SamplesPerPixel", "PhotometricInterpretation", "PlanarConfiguration", "Rows",
        "Columns", "BitsAllocated", "BitsStored", "HighBit", "PixelRepresentation", "PixelData", "NumberOfFrames",
        "FloatPixelData", "DoubleFloatPixelData", "PixelDataProviderURL", "ExtendedOffsetTable", "ExtendedOffsetTableLengths",
    };

    /// <summary>Type 1 attributes of the IOD that a form may set, but not to an empty value.</summary>
    private static readonly HashSet<string> RequiredValues = new(StringComparer.Ordinal)
    {
        "SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID", "Modality", "ConversionType",
    };

    /// <summary>
    /// Generates the instance from the form's text fields (file_name and DICOM keywords) and its file parts (image).
    /// Throws <see cref="DicomServiceException"/> with an error per field.
    /// </summary>
    public GeneratedDicom Generate(IReadOnlyList<KeyValuePair<string, string>> fields, IReadOnlyList<UploadedFile> files)
    {
        var clock = Stopwatch.StartNew();
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        var values = ParseFields(fields, files, errors);
        var image = DecodeImage(fields, files, errors, out var isJpeg, out var imageBytes);
        if (errors.Count > 0)
        {
            throw DicomServiceException.Fields(errors);
        }

        var dataset = Build(image!, isJpeg, imageBytes, values);
        var sopInstanceUid = dataset.GetString(DicomTag.SOPInstanceUID)!;
        var bytes = new DicomFile(dataset, DicomTransferSyntax.ExplicitVRLittleEndian).ToBytes();
        var fileName = DownloadFileName.Sanitize(fields.LastOrDefault(f => f.Key == FileNameField).Value, sopInstanceUid);
        logger.LogInformation(
            "Generated a {Width}x{Height} {Photometric} Secondary Capture instance of {Bytes} bytes with {FieldCount} given attribute(s) in {ElapsedMilliseconds} ms",
            image!.Width, image.Height, dataset.GetString(DicomTag.PhotometricInterpretation), bytes.Length, values.Count, clock.ElapsedMilliseconds);
        return new GeneratedDicom(bytes, fileName, sopInstanceUid);
    }

    private static List<DicomFieldValue> ParseFields(IReadOnlyList<KeyValuePair<string, string>> fields, IReadOnlyList<UploadedFile> files, Dictionary<string, string[]> errors)
    {
        var values = new List<DicomFieldValue>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var file in files.Where(f => f.FieldName != ImageField))
        {
            errors[file.FieldName] = [file.FieldName == FileNameField ? "Give the file name as text, not as a file." : "Only the image may be a file; DICOM attributes are text fields."];
        }

        foreach (var (name, text) in fields)
        {
            if (name is FileNameField)
            {
                continue;
            }

            if (name is ImageField)
            {
                errors[ImageField] = ["The submitted data was not a file. Check the encoding type on the form."];
                continue;
            }

            if (!seen.Add(name))
            {
                errors[name] = ["Given more than once."];
                continue;
            }

            var entry = DicomFieldCatalog.Find(name);
            if (entry is null)
            {
                errors[name] = ["Unknown DICOM keyword; see /api/dicom-format/allowed-fields/."];
            }
            else if (Derived.Contains(name))
            {
                errors[name] = ["Set by the generator from the image and the Secondary Capture IOD; it cannot be given."];
            }
            else if (entry.Tag.Group is 0x0000 or 0x0002 || entry.Tag.Group >= 0xFFFA)
            {
                errors[name] = ["Command, file meta information and delimiter elements are written by the generator; they cannot be given."];
            }
            else if (text.Length == 0 && RequiredValues.Contains(name))
            {
                errors[name] = ["A type 1 attribute of the Secondary Capture IOD: it cannot be empty."];
            }
            else
            {
                try
                {
                    values.Add(DicomFieldValue.Parse(entry, text));
                }
                catch (FormatException ex)
                {
                    errors[name] = [ex.Message];
                }
            }
        }

        return values;
    }

    private DecodedImage? DecodeImage(IReadOnlyList<KeyValuePair<string, string>> fields, IReadOnlyList<UploadedFile> files, Dictionary<string, string[]> errors, out bool isJpeg, out long imageBytes)
    {
        isJpeg = false;
        imageBytes = 0;
        var images = files.Where(f => f.FieldName == ImageField).ToList();
        if (images.Count == 0)
        {
            if (!fields.Any(f => f.Key == ImageField))
            {
                errors[ImageField] = ["No file was submitted."];
            }

            return null;
        }

        if (images.Count > 1)
        {
            errors[ImageField] = ["Submit one image."];
            return null;
        }

        var content = images[0].Content;
        imageBytes = content.Length;
        if (content.IsEmpty)
        {
            errors[ImageField] = ["The submitted file is empty."];
            return null;
        }

        var limits = new ImageDecodeLimits { MaxWidth = options.MaxImageDimension, MaxHeight = options.MaxImageDimension, MaxPixels = options.MaxImagePixels };
        try
        {
            if (PngDecoder.IsPng(content.Span))
            {
                return PngDecoder.Decode(content, limits);
            }

            if (JpegFileDecoder.IsJpeg(content.Span))
            {
                isJpeg = true;
                return JpegFileDecoder.Decode(content, limits);
            }

            errors[ImageField] = ["Upload a PNG or JPEG image; the file is neither."];
        }
        catch (ImageCodecException ex)
        {
            errors[ImageField] = [$"The image cannot be decoded: {ex.Message}"];
        }

        return null;
    }

    private DicomDataset Build(DecodedImage image, bool isJpeg, long imageBytes, List<DicomFieldValue> values)
    {
        var now = time.GetLocalNow();
        var date = now.ToString("yyyyMMdd", CultureInfo.InvariantCulture);
        var clock = now.ToString("HHmmss", CultureInfo.InvariantCulture);
        var dataset = new DicomDataset();
        if (values.Any(v => v.NeedsUnicode))
        {
            dataset.AddOrUpdate(DicomTag.SpecificCharacterSet, DicomVR.CS, "ISO_IR 192");
        }

        // SOP Common, General Image, SC Image
        dataset.AddOrUpdate(DicomTag.ImageType, DicomVR.CS, "DERIVED", "SECONDARY");
        dataset.AddOrUpdate(DicomTag.InstanceCreationDate, DicomVR.DA, date);
        dataset.AddOrUpdate(DicomTag.InstanceCreationTime, DicomVR.TM, clock);
        dataset.AddOrUpdate(DicomTag.SOPClassUID, DicomVR.UI, DicomUids.SecondaryCaptureImageStorage);
        dataset.AddOrUpdate(DicomTag.SOPInstanceUID, DicomVR.UI, DicomUidGenerator.FromUuid());
        dataset.AddOrUpdate(DicomTag.StudyDate, DicomVR.DA, date);
        dataset.AddOrUpdate(DicomTag.ContentDate, DicomVR.DA, date);
        dataset.AddOrUpdate(DicomTag.StudyTime, DicomVR.TM, clock);
        dataset.AddOrUpdate(DicomTag.ContentTime, DicomVR.TM, clock);
        dataset.AddOrUpdate(DicomTag.AccessionNumber, DicomVR.SH);
        dataset.AddOrUpdate(DicomTag.Modality, DicomVR.CS, "OT");
        dataset.AddOrUpdate(DicomTag.ConversionType, DicomVR.CS, "WSD");
        dataset.AddOrUpdate(DicomTag.Manufacturer, DicomVR.LO);
        dataset.AddOrUpdate(DicomTag.ReferringPhysicianName, DicomVR.PN);
        dataset.AddOrUpdate(DicomTag.SecondaryCaptureDeviceManufacturer, DicomVR.LO, "Hounsfield");

        // Patient, General Study, General Series
        dataset.AddOrUpdate(DicomTag.PatientName, DicomVR.PN);
        dataset.AddOrUpdate(DicomTag.PatientID, DicomVR.LO);
        dataset.AddOrUpdate(DicomTag.PatientBirthDate, DicomVR.DA);
        dataset.AddOrUpdate(DicomTag.PatientSex, DicomVR.CS);
        dataset.AddOrUpdate(DicomTag.StudyInstanceUID, DicomVR.UI, DicomUidGenerator.FromUuid());
        dataset.AddOrUpdate(DicomTag.SeriesInstanceUID, DicomVR.UI, DicomUidGenerator.FromUuid());
        dataset.AddOrUpdate(DicomTag.StudyID, DicomVR.SH);
        dataset.AddOrUpdate(DicomTag.SeriesNumber, DicomVR.IS);
        dataset.AddOrUpdate(DicomTag.Laterality, DicomVR.CS);
        dataset.AddOrUpdate(DicomTag.InstanceNumber, DicomVR.IS, "1");
        dataset.AddOrUpdate(DicomTag.PatientOrientation, DicomVR.CS);
        dataset.AddOrUpdate(DicomTag.DateOfSecondaryCapture, DicomVR.DA, date);
        dataset.AddOrUpdate(DicomTag.TimeOfSecondaryCapture, DicomVR.TM, clock);

        // Image Pixel
        var color = image.Channels == 3;
        dataset.AddOrUpdate(DicomTag.SamplesPerPixel, DicomVR.US, (ushort)image.Channels);
        dataset.AddOrUpdate(DicomTag.PhotometricInterpretation, DicomVR.CS, color ? "RGB" : "MONOCHROME2");
        if (color)
        {
            dataset.AddOrUpdate(DicomTag.PlanarConfiguration, DicomVR.US, (ushort)0);
        }

        dataset.AddOrUpdate(DicomTag.Rows, DicomVR.US, (ushort)image.Height);
        dataset.AddOrUpdate(DicomTag.Columns, DicomVR.US, (ushort)image.Width);
        dataset.AddOrUpdate(DicomTag.BitsAllocated, DicomVR.US, (ushort)image.BitDepth);
        dataset.AddOrUpdate(DicomTag.BitsStored, DicomVR.US, (ushort)image.SignificantBits);
        dataset.AddOrUpdate(DicomTag.HighBit, DicomVR.US, (ushort)(image.SignificantBits - 1));
        dataset.AddOrUpdate(DicomTag.PixelRepresentation, DicomVR.US, (ushort)0);
        if (isJpeg)
        {
            var ratio = (double)image.Samples.Length / Math.Max(1, imageBytes);
            dataset.AddOrUpdate(DicomTag.LossyImageCompression, DicomVR.CS, "01");
            dataset.AddOrUpdate(DicomTag.LossyImageCompressionRatio, DicomVR.DS, ratio.ToString("0.###", CultureInfo.InvariantCulture));
            dataset.AddOrUpdate(DicomTag.LossyImageCompressionMethod, DicomVR.CS, "ISO_10918_1");
        }
        else
        {
            dataset.AddOrUpdate(DicomTag.LossyImageCompression, DicomVR.CS, "00");
        }

        var pixels = image.Samples;
        if ((pixels.Length & 1) == 1)
        {
            Array.Resize(ref pixels, pixels.Length + 1); // PS3.5 §7.1.1: even length, padded with a zero byte
        }

        dataset.Add(new DicomValueElement(DicomTag.PixelData, image.BitDepth > 8 ? DicomVR.OW : DicomVR.OB, pixels));

        foreach (var value in values)
        {
            value.ApplyTo(dataset);
        }

        return dataset;
    }
}
