using System.Diagnostics;
using Hounsfield.Dicom;
using Hounsfield.Server.Developer;

namespace Hounsfield.Server.Tests;

/// <summary>/api/dicom-format/: the keyword list of the dictionary, its filters, and the Python type names by VR.</summary>
public sealed class DicomFormatTests
{
    private static readonly DicomServicesOptions Options = new();

    [Fact]
    public void AllowedFieldsAreEveryDictionaryKeywordSortedOrdinally()
    {
        var keywords = DicomFieldCatalog.Keywords;
        var expected = DicomDictionary.Entries.Select(e => e.Keyword).Where(k => k.Length > 0).ToHashSet(StringComparer.Ordinal);
        Assert.Equal(expected.Count, keywords.Count);
        Assert.True(expected.SetEquals(keywords));
        Assert.Equal(keywords.Order(StringComparer.Ordinal), keywords);
        Assert.Contains("PatientName", keywords);
        Assert.Contains("OffendingElement", keywords); // PS3.7 command elements are keywords too
        Assert.True(keywords.Count > 5000);
        Assert.Equal("2024d", DicomFieldCatalog.DicomVersion);
    }

    [Fact]
    public void FiltersCombineCaseSensitively()
    {
        Assert.Equal(["PatientBirthDate", "PatientBirthDateInAlternativeCalendar", "PatientBirthName", "PatientBirthTime"],
            Filter(startsWith: "PatientBirth", contains: "t"));
        Assert.Empty(Filter(startsWith: "patientbirth"));
        Assert.All(Filter(endsWith: "UID"), k => Assert.EndsWith("UID", k, StringComparison.Ordinal));
        Assert.Contains("StudyInstanceUID", Filter(endsWith: "UID"));
        Assert.Equal(["PatientName"], Filter(regex: "^Patient(Name)$"));
        Assert.Equal(Filter(contains: "Window"), Filter(regex: "Window"));
        Assert.Equal(["WindowCenter"], Filter(contains: "Window", regex: "Center$", startsWith: "W"));
        Assert.Equal(DicomFieldCatalog.Keywords, Filter(contains: string.Empty, regex: string.Empty));
    }

    [Theory]
    [InlineData("(")]
    [InlineData("[a-")]
    [InlineData("a{2,1}")]
    public void AnInvalidRegexIsAFieldError(string pattern)
    {
        var error = Assert.Throws<DicomServiceException>(() => Filter(regex: pattern));
        Assert.Equal(400, error.StatusCode);
        var message = Assert.Single(error.FieldErrors!["fields__regex"]);
        Assert.StartsWith("Invalid regex pattern: ", message, StringComparison.Ordinal);
    }

    [Fact]
    public void ACatastrophicRegexTimesOutWithinItsBudget()
    {
        // Nested quantifiers that never match: exponential backtracking on every long keyword.
        var clock = Stopwatch.StartNew();
        var error = Assert.Throws<DicomServiceException>(() => Filter(regex: @"^(\w+)+!$"));
        Assert.True(clock.ElapsedMilliseconds < 1000, $"took {clock.ElapsedMilliseconds} ms");
        Assert.Equal(400, error.StatusCode);
        Assert.Contains("timed out", Assert.Single(error.FieldErrors!["fields__regex"]), StringComparison.Ordinal);
    }

    [Fact]
    public void AnOverlongRegexIsRefused()
    {
        var error = Assert.Throws<DicomServiceException>(() => Filter(regex: new string('a', Options.MaxRegexLength + 1)));
        Assert.StartsWith("Invalid regex pattern: ", Assert.Single(error.FieldErrors!["fields__regex"]), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Rows", "<class 'int'>")]
    [InlineData("NumberOfFrames", "<class 'int'>")]
    [InlineData("InstanceNumber", "<class 'int'>")]
    [InlineData("ReferencedFrameNumber", "<class 'int'>")]
    [InlineData("SmallestImagePixelValue", "<class 'int'>")] // US or SS
    [InlineData("LUTData", "<class 'int'>")] // US or OW: the first VR decides
    [InlineData("PatientName", "<class 'str'>")]
    [InlineData("StudyDate", "<class 'str'>")]
    [InlineData("SOPInstanceUID", "<class 'str'>")]
    [InlineData("OffendingElement", "<class 'str'>")] // AT, given as "(gggg,eeee)"
    [InlineData("PixelSpacing", "<class 'float'>")]
    [InlineData("SliceThickness", "<class 'float'>")]
    [InlineData("RescaleSlope", "<class 'float'>")]
    [InlineData("FrameTimeVector", "<class 'float'>")]
    [InlineData("PixelData", "<class 'bytes'>")] // OB or OW
    [InlineData("RedPaletteColorLookupTableData", "<class 'bytes'>")]
    [InlineData("ReferencedImageSequence", "<class 'list'>")]
    public void RequiredFieldTypeFollowsTheVR(string keyword, string type)
    {
        Assert.Equal(type, DicomFieldCatalog.PythonType(DicomFieldCatalog.Find(keyword)!));
    }

    [Fact]
    public void ItemsAndDelimitersHaveNoType()
    {
        Assert.Null(DicomFieldCatalog.PythonType(DicomFieldCatalog.Find("Item")!));
        Assert.All(
            DicomFieldCatalog.Keywords.Where(k => k is not ("Item" or "ItemDelimitationItem" or "SequenceDelimitationItem")),
            k => Assert.NotNull(DicomFieldCatalog.PythonType(DicomFieldCatalog.Find(k)!)));
    }

    private static List<string> Filter(string? contains = null, string? startsWith = null, string? endsWith = null, string? regex = null) =>
        KeywordFilter.Create(contains, startsWith, endsWith, regex, Options).Apply(DicomFieldCatalog.Keywords);
}
