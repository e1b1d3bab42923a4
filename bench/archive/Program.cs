// Index rows written as the ingest writes them: one lazy commit per instance (C-STORE, one-instance STOW-RS) and 50 per
// commit (a 50-instance STOW-RS request), into a fresh SQLite index of the archive. Series of 300 instances, CT-sized
// metadata. Prints wall and CPU microseconds per row, the median of the rounds.
//   hounsfield-bench-archive [ROWS] [ROUNDS]
using System.Diagnostics;
using Hounsfield.Archive.Index;

var rows = args.Length > 0 ? int.Parse(args[0]) : 3000;
var rounds = args.Length > 1 ? int.Parse(args[1]) : 5;
var metadata = new byte[2900];
new Random(1).NextBytes(metadata);

foreach (var batch in new[] { 1, 50 })
{
    var results = new List<(double Wall, double Cpu)>();
    for (var round = 0; round < rounds; round++)
    {
        results.Add(await MeasureAsync(batch));
    }

    var wall = results.Select(r => r.Wall).Order().ElementAt(rounds / 2);
    var cpu = results.Select(r => r.Cpu).Order().ElementAt(rounds / 2);
    Console.WriteLine($"rows per commit {batch,2}: {wall,6:F1} us/row wall, {cpu,6:F1} us/row CPU (median of {rounds} rounds of {rows} rows)");
}

async Task<(double Wall, double Cpu)> MeasureAsync(int batch)
{
    var folder = Directory.CreateTempSubdirectory("hounsfield-bench-archive-");
    try
    {
        using var index = new SqliteArchiveIndex(Path.Combine(folder.FullName, "index.db"));
        await index.InitializeAsync(CancellationToken.None);
        await AddAsync(index, 0, 600, batch); // warm: statements prepared, tables not empty
        var process = Process.GetCurrentProcess();
        var cpu = process.TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        await AddAsync(index, 600, rows, batch);
        clock.Stop();
        process.Refresh();
        return (clock.Elapsed.TotalMicroseconds / rows, (process.TotalProcessorTime - cpu).TotalMicroseconds / rows);
    }
    finally
    {
        folder.Delete(recursive: true);
    }
}

async Task AddAsync(SqliteArchiveIndex index, int first, int count, int batch)
{
    for (var i = first; i < first + count; i += batch)
    {
        await index.AddInstancesAsync([.. Enumerable.Range(i, Math.Min(batch, first + count - i)).Select(Record)], durable: false, CancellationToken.None);
    }
}

InstanceRecord Record(int i) => new()
{
    PatientId = $"P{i / 300}",
    PatientName = "DOE^JOHN",
    PatientBirthDate = "19700101",
    PatientSex = "M",
    StudyInstanceUid = $"1.2.826.0.1.3680043.10.{i / 300}",
    StudyDate = "20200101",
    SeriesInstanceUid = $"1.2.826.0.1.3680043.10.{i / 300}.1",
    Modality = "CT",
    SopInstanceUid = $"1.2.826.0.1.3680043.10.{i / 300}.1.{i}",
    SopClassUid = "1.2.840.10008.5.1.4.1.1.2",
    TransferSyntaxUid = "1.2.840.10008.1.2.1",
    BlobKey = $"s/00000001/{i:x}/20560",
    Length = 132_436,
    Metadata = metadata,
};
