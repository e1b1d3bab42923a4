using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using Hounsfield.Archive.Query;
using Hounsfield.Dicom;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Hounsfield.Archive.Index;

/// <summary>The embedded index: one SQLite file in WAL mode, writes serialised, reads concurrent.</summary>
public sealed class SqliteArchiveIndex : IArchiveIndex, IDisposable
{
    private const string Schema = """
        CREATE TABLE IF NOT EXISTS patients (
            pk INTEGER PRIMARY KEY,
            patient_id TEXT NOT NULL UNIQUE,
            patient_name TEXT,
            patient_name_fuzzy TEXT,
            patient_birth_date TEXT,
            patient_sex TEXT);
        CREATE TABLE IF NOT EXISTS studies (
            pk INTEGER PRIMARY KEY,
            patient_pk INTEGER NOT NULL REFERENCES patients(pk),
            study_uid TEXT NOT NULL UNIQUE,
            study_date TEXT,
            study_time TEXT,
            accession_number TEXT,
            study_id TEXT,
            study_description TEXT,
            referring_physician_name TEXT,
            referring_physician_name_fuzzy TEXT,
            timezone_offset TEXT,
            series_count INTEGER NOT NULL DEFAULT 0,
            instance_count INTEGER NOT NULL DEFAULT 0);
        CREATE TABLE IF NOT EXISTS series (
            pk INTEGER PRIMARY KEY,
            study_pk INTEGER NOT NULL REFERENCES studies(pk),
            series_uid TEXT NOT NULL UNIQUE,
            modality TEXT,
            series_number INTEGER,
            series_description TEXT,
            pps_start_date TEXT,
            pps_start_time TEXT,
            request_attributes TEXT,
            instance_count INTEGER NOT NULL DEFAULT 0);
        CREATE TABLE IF NOT EXISTS instances (
            pk INTEGER PRIMARY KEY,
            series_pk INTEGER NOT NULL REFERENCES series(pk),
            sop_uid TEXT NOT NULL UNIQUE,
            sop_class_uid TEXT NOT NULL,
            instance_number INTEGER,
            transfer_syntax_uid TEXT NOT NULL,
            blob_key TEXT NOT NULL,
            length INTEGER NOT NULL,
            number_of_frames INTEGER,
            rows INTEGER,
            columns INTEGER,
            bits_allocated INTEGER,
            metadata BLOB NOT NULL);
        CREATE TABLE IF NOT EXISTS freed_blobs (blob_key TEXT PRIMARY KEY) WITHOUT ROWID;
        CREATE INDEX IF NOT EXISTS studies_patient ON studies(patient_pk);
        CREATE INDEX IF NOT EXISTS studies_date ON studies(study_date);
        CREATE INDEX IF NOT EXISTS studies_accession ON studies(accession_number);
        CREATE INDEX IF NOT EXISTS patients_name ON patients(patient_name);
        CREATE INDEX IF NOT EXISTS series_study ON series(study_pk, series_number);
        CREATE INDEX IF NOT EXISTS series_modality ON series(modality);
        CREATE INDEX IF NOT EXISTS instances_series ON instances(series_pk, instance_number);
        CREATE INDEX IF NOT EXISTS instances_blob_key ON instances(blob_key);
        """;

    /// <summary>The columns of <see cref="Schema"/> added after the first release, which an older index lacks.</summary>
    private static readonly (string Table, string Column, string Type)[] AddedColumns =
    [
        ("instances", "bits_allocated", "INTEGER"),
        ("studies", "timezone_offset", "TEXT"),
        ("series", "pps_start_date", "TEXT"),
        ("series", "pps_start_time", "TEXT"),
        ("series", "request_attributes", "TEXT"),
    ];

    private readonly SqliteDatabase database;
    private readonly ILogger logger;
    private readonly SemaphoreSlim writeLock = new(1, 1);
    private readonly System.Collections.Concurrent.ConcurrentQueue<PendingInsert> pendingInserts = new();
    private readonly IndexWriter?[] writers = new IndexWriter?[2]; // [0] lazy commits, [1] durable ones

    /// <summary>
    /// The patient, study and series rows of the last instance inserted, so that the next instance of the same series skips
    /// their three upserts (six statements of the eleven an insert runs). Used under the write lock; forgotten whenever
    /// anything else writes, or an insert or a transaction fails, since those may remove or undo these rows.
    /// </summary>
    private ParentRows? lastParents;

    public SqliteArchiveIndex(string databasePath, ILogger<SqliteArchiveIndex>? logger = null)
    {
        database = new SqliteDatabase(databasePath);
        this.logger = logger ?? NullLogger<SqliteArchiveIndex>.Instance;
    }

    /// <summary>
    /// How much stored metadata one query reads for its results' stored values (ArchiveOptions.MaxStoredValueBytesPerQuery):
    /// once reached, the results end there, truncated as by the limit, so that a page of instances holding megabytes of text
    /// each (an RT structure set's contours) does not take that much memory times the limit. Always at least one result.
    /// </summary>
    public long MaxStoredValueBytesPerQuery { get; init; } = ArchiveOptions.DefaultMaxStoredValueBytesPerQuery;

    public async Task InitializeAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await ExecuteAsync(connection, "PRAGMA journal_mode=WAL;", cancellationToken);
        if (await LacksBlobKeyIndexAsync(connection, cancellationToken))
        {
            // The schema below builds it: a pass over every instance row, a few seconds per million instances.
            logger.LogInformation("Indexing the stored instances by blob key (once, after an upgrade); the server is ready when it is done.");
        }

        await ExecuteAsync(connection, Schema, cancellationToken);

        // Columns added after the first release: an index created before them gains them (empty for earlier instances).
        foreach (var (table, column, type) in AddedColumns)
        {
            var existing = await FirstColumnAsync(connection, $"SELECT name FROM pragma_table_info('{table}')", cancellationToken);
            if (!existing.Contains(column))
            {
                await ExecuteAsync(connection, $"ALTER TABLE {table} ADD COLUMN {column} {type};", cancellationToken);
            }
        }
    }

    public async Task<StoredInstance?> FindInstanceAsync(string sopInstanceUid, CancellationToken cancellationToken)
    {
        return await database.LookupAsync(InstanceBySopUid, reader => reader.Read() ? ReadStoredInstance(reader) : null, cancellationToken, ("$uid", sopInstanceUid));
    }

    /// <summary>
    /// Indexes an instance. Instances that arrive while a commit is being flushed are indexed together by the next one (each
    /// in its own savepoint, so one failure fails only its instance): concurrent ingests share the flush of the index.
    /// </summary>
    public Task AddInstanceAsync(InstanceRecord record, bool durable, CancellationToken cancellationToken) =>
        AddInstancesAsync([record], durable, cancellationToken);

    public async Task AddInstancesAsync(IReadOnlyCollection<InstanceRecord> records, bool durable, CancellationToken cancellationToken)
    {
        var inserts = records.Select(record => new PendingInsert(record, durable)).ToList();
        foreach (var insert in inserts)
        {
            pendingInserts.Enqueue(insert);
        }

        await writeLock.WaitAsync(CancellationToken.None);
        try
        {
            // Whoever holds the lock commits everything queued so far; these instances may already be in an earlier commit.
            if (inserts.Exists(insert => !insert.Done.Task.IsCompleted))
            {
                await CommitPendingInsertsAsync();
            }
        }
        finally
        {
            writeLock.Release();
        }

        await Task.WhenAll(inserts.Select(insert => insert.Done.Task));
    }

    private async Task CommitPendingInsertsAsync()
    {
        var batch = new List<PendingInsert>();
        while (pendingInserts.TryDequeue(out var next))
        {
            batch.Add(next);
        }

        var replacing = await CommitInsertsAsync(batch, durable: batch.Exists(insert => insert.Durable));
        if (replacing.Count > 0)
        {
            await CommitInsertsAsync(replacing, durable: true);
        }
    }

    /// <summary>
    /// Commits the inserts, each in its own savepoint, and completes them; returns those that turned out to replace a row in a
    /// lazy commit, for a durable one (their callers did not expect a stored copy: a race with another process).
    /// </summary>
    private async Task<List<PendingInsert>> CommitInsertsAsync(List<PendingInsert> batch, bool durable)
    {
        var replacing = new List<PendingInsert>();
        try
        {
            await InWriterTransactionAsync(durable, async (writer, cancellationToken) =>
            {
                foreach (var insert in batch)
                {
                    writer.Transaction.Save("instance");
                    try
                    {
                        await InsertAsync(writer, insert.Record, cancellationToken);
                        writer.Transaction.Release("instance");
                    }
                    catch (Exception ex) when (ex is SqliteException or DurableCommitRequiredException)
                    {
                        lastParents = null;
                        writer.Transaction.Rollback("instance");
                        writer.Transaction.Release("instance");
                        if (ex is DurableCommitRequiredException)
                        {
                            replacing.Add(insert);
                        }
                        else
                        {
                            insert.Failure = ex;
                        }
                    }
                }
            }, CancellationToken.None);
        }
        catch (Exception ex)
        {
            foreach (var insert in batch)
            {
                insert.Done.TrySetException(ex);
            }

            return [];
        }

        foreach (var insert in batch.Except(replacing))
        {
            if (insert.Failure is { } failure)
            {
                insert.Done.TrySetException(failure);
            }
            else
            {
                insert.Done.TrySetResult();
            }
        }

        return replacing;
    }

    private async Task InsertAsync(IndexWriter writer, InstanceRecord record, CancellationToken cancellationToken)
    {
        // A replaced row's delete may have removed its series, study and patient rows.
        var parents = await DeleteInstanceRowAsync(writer, record.SopInstanceUid, cancellationToken) is null ? lastParents : null;
        lastParents = null;
        var samePatient = parents is not null && parents.Patient == (record.PatientId, record.PatientName, record.PatientBirthDate, record.PatientSex);
        var sameStudy = samePatient && parents!.StudyUid == record.StudyInstanceUid;
        var sameSeries = sameStudy && parents!.SeriesUid == record.SeriesInstanceUid;

        // Each upsert writes only when something changed (an update rewrites the row and its index entries even when equal,
        // pages the commit then flushes): most instances belong to a patient, study and series already stored as they are.
        var patientPk = samePatient ? parents!.PatientPk : await writer.UpsertAsync("""
            INSERT INTO patients (patient_id, patient_name, patient_name_fuzzy, patient_birth_date, patient_sex)
            VALUES ($id, $name, $fuzzy, $birth, $sex)
            ON CONFLICT(patient_id) DO UPDATE SET patient_name = excluded.patient_name, patient_name_fuzzy = excluded.patient_name_fuzzy,
                patient_birth_date = excluded.patient_birth_date, patient_sex = excluded.patient_sex
            WHERE patient_name IS DISTINCT FROM excluded.patient_name OR patient_birth_date IS DISTINCT FROM excluded.patient_birth_date
                OR patient_sex IS DISTINCT FROM excluded.patient_sex
            RETURNING pk
            """, "SELECT pk FROM patients WHERE patient_id = $id", cancellationToken,
            ("$id", record.PatientId), ("$name", record.PatientName), ("$fuzzy", FuzzyName(record.PatientName)),
            ("$birth", record.PatientBirthDate), ("$sex", record.PatientSex));
        // A study or series named under another patient or study than the one holding it moves there (below, what it left).
        var studyLeftBy = sameStudy ? null : await writer.OptionalScalarAsync("SELECT patient_pk FROM studies WHERE study_uid = $uid", cancellationToken,
            ("$uid", record.StudyInstanceUid));
        var studyPk = sameStudy ? parents!.StudyPk : await writer.UpsertAsync("""
            INSERT INTO studies (patient_pk, study_uid, study_date, study_time, accession_number, study_id, study_description, referring_physician_name, referring_physician_name_fuzzy, timezone_offset)
            VALUES ($patient, $uid, $date, $time, $accession, $id, $description, $referring, $fuzzy, $timezone)
            ON CONFLICT(study_uid) DO UPDATE SET patient_pk = excluded.patient_pk WHERE patient_pk <> excluded.patient_pk
            RETURNING pk
            """, "SELECT pk FROM studies WHERE study_uid = $uid", cancellationToken,
            ("$patient", patientPk), ("$uid", record.StudyInstanceUid), ("$date", record.StudyDate), ("$time", record.StudyTime),
            ("$accession", record.AccessionNumber), ("$id", record.StudyId), ("$description", record.StudyDescription),
            ("$referring", record.ReferringPhysicianName), ("$fuzzy", FuzzyName(record.ReferringPhysicianName)), ("$timezone", record.TimezoneOffsetFromUtc));
        var seriesLeftBy = sameSeries ? null : await writer.OptionalScalarAsync("SELECT study_pk FROM series WHERE series_uid = $uid", cancellationToken,
            ("$uid", record.SeriesInstanceUid));
        var seriesPk = sameSeries ? parents!.SeriesPk : await writer.UpsertAsync("""
            INSERT INTO series (study_pk, series_uid, modality, series_number, series_description, pps_start_date, pps_start_time, request_attributes)
            VALUES ($study, $uid, $modality, $number, $description, $pps_date, $pps_time, $request_attributes)
            ON CONFLICT(series_uid) DO UPDATE SET study_pk = excluded.study_pk WHERE study_pk <> excluded.study_pk
            RETURNING pk
            """, "SELECT pk FROM series WHERE series_uid = $uid", cancellationToken,
            ("$study", studyPk), ("$uid", record.SeriesInstanceUid), ("$modality", record.Modality),
            ("$number", record.SeriesNumber), ("$description", record.SeriesDescription),
            ("$pps_date", record.PerformedProcedureStepStartDate), ("$pps_time", record.PerformedProcedureStepStartTime),
            ("$request_attributes", record.RequestAttributes));
        await writer.ScalarAsync("""
            INSERT INTO instances (series_pk, sop_uid, sop_class_uid, instance_number, transfer_syntax_uid, blob_key, length, number_of_frames, rows, columns, bits_allocated, metadata)
            VALUES ($series, $uid, $class, $number, $syntax, $key, $length, $frames, $rows, $columns, $bits, $metadata)
            RETURNING pk
            """, cancellationToken,
            ("$series", seriesPk), ("$uid", record.SopInstanceUid), ("$class", record.SopClassUid), ("$number", record.InstanceNumber),
            ("$syntax", record.TransferSyntaxUid), ("$key", record.BlobKey), ("$length", record.Length), ("$frames", record.NumberOfFrames),
            ("$rows", record.Rows), ("$columns", record.Columns), ("$bits", record.BitsAllocated), ("$metadata", record.Metadata));
        // Counts move by one instance; the study's totals come from its few series rows, not from its instances.
        await writer.ExecuteAsync("""
            UPDATE series SET instance_count = instance_count + 1 WHERE pk = $series;
            UPDATE studies SET series_count = (SELECT count(*) FROM series WHERE study_pk = $study),
                instance_count = (SELECT coalesce(sum(instance_count), 0) FROM series WHERE study_pk = $study) WHERE pk = $study;
            """, cancellationToken, ("$series", seriesPk), ("$study", studyPk));
        if (seriesLeftBy is { } leftStudy && leftStudy != studyPk)
        {
            var leftPatient = await writer.ScalarAsync("SELECT patient_pk FROM studies WHERE pk = $pk", cancellationToken, ("$pk", leftStudy));
            await RecountStudyAsync(writer, leftStudy, cancellationToken);
            await DeleteEmptyParentsAsync(writer, leftStudy, leftPatient, cancellationToken);
        }

        if (studyLeftBy is { } formerPatient && formerPatient != patientPk)
        {
            await DeleteEmptyParentsAsync(writer, study: null, formerPatient, cancellationToken);
        }

        lastParents = new ParentRows((record.PatientId, record.PatientName, record.PatientBirthDate, record.PatientSex), patientPk,
            record.StudyInstanceUid, studyPk, record.SeriesInstanceUid, seriesPk);
    }

    /// <summary>The rows an instance's patient, study and series attributes upserted into, by their keys.</summary>
    private sealed record ParentRows(
        (string PatientId, string? Name, string? BirthDate, string? Sex) Patient, long PatientPk, string StudyUid, long StudyPk, string SeriesUid, long SeriesPk);

    /// <summary>An instance waiting for the next index commit.</summary>
    private sealed class PendingInsert(InstanceRecord record, bool durable)
    {
        public InstanceRecord Record { get; } = record;

        public bool Durable { get; } = durable;

        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Exception? Failure { get; set; }
    }

    public async Task<QueryResult> QueryAsync(QidoQuery query, CancellationToken cancellationToken)
    {
        var attributes = SelectedAttributes(query);
        var storedFields = StoredFields(query);
        var sql = new StringBuilder("SELECT ");
        sql.AppendJoin(", ", attributes.Select(a => a.Column));
        if (storedFields is not { Count: 0 })
        {
            sql.Append(", ").Append(query.Level switch
            {
                QueryLevel.Study => "(SELECT x.metadata FROM series y JOIN instances x ON x.series_pk = y.pk WHERE y.study_pk = st.pk ORDER BY y.series_number, y.pk, x.instance_number, x.pk LIMIT 1)",
                QueryLevel.Series => "(SELECT x.metadata FROM instances x WHERE x.series_pk = se.pk ORDER BY x.instance_number, x.pk LIMIT 1)",
                _ => "i.metadata",
            });
        }

        sql.Append(query.Level switch
        {
            QueryLevel.Study => " FROM studies st JOIN patients p ON p.pk = st.patient_pk",
            QueryLevel.Series => " FROM series se JOIN studies st ON st.pk = se.study_pk JOIN patients p ON p.pk = st.patient_pk",
            _ => " FROM instances i JOIN series se ON se.pk = i.series_pk JOIN studies st ON st.pk = se.study_pk JOIN patients p ON p.pk = st.patient_pk",
        });

        await using var connection = await OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        var conditions = MatchConditions(query, command);
        if (conditions.Count > 0)
        {
            sql.Append(" WHERE ").AppendJoin(" AND ", conditions);
        }

        sql.Append(query.Level switch
        {
            QueryLevel.Study => " ORDER BY st.study_date DESC, st.pk",
            QueryLevel.Series => " ORDER BY st.pk, se.series_number, se.pk",
            _ => " ORDER BY se.pk, i.instance_number, i.pk",
        });
        sql.Append(" LIMIT $limit OFFSET $offset");
        command.Parameters.AddWithValue("$limit", query.Limit + 1);
        command.Parameters.AddWithValue("$offset", query.Offset);
        command.CommandText = sql.ToString();

        var results = new List<DicomDataset>();
        var storedValueBytes = 0L;
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            if (results.Count == query.Limit || storedValueBytes >= MaxStoredValueBytesPerQuery)
            {
                return new QueryResult(results, Truncated: true);
            }

            var dataset = new DicomDataset();
            for (var i = 0; i < attributes.Count; i++)
            {
                AddValue(dataset, attributes[i], reader.IsDBNull(i) ? null : reader.GetValue(i));
            }

            if (storedFields is not { Count: 0 } && !reader.IsDBNull(attributes.Count))
            {
                var metadata = (byte[])reader.GetValue(attributes.Count);
                storedValueBytes += metadata.Length;
                AddStoredValues(dataset, metadata, storedFields);
            }

            results.Add(dataset);
        }

        return new QueryResult(results, Truncated: false);
    }

    public async Task<IReadOnlyList<StoredInstance>> ListInstancesAsync(string studyInstanceUid, string? seriesInstanceUid, string? sopInstanceUid, CancellationToken cancellationToken)
    {
        var (sql, parameters) = Scoped(InstanceSelect, studyInstanceUid, seriesInstanceUid, sopInstanceUid);
        return await database.LookupAsync(sql, reader =>
        {
            var instances = new List<StoredInstance>();
            while (reader.Read())
            {
                instances.Add(ReadStoredInstance(reader));
            }

            return instances;
        }, cancellationToken, parameters);
    }

    public async IAsyncEnumerable<byte[]> ReadMetadataAsync(string studyInstanceUid, string? seriesInstanceUid, string? sopInstanceUid, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var (sql, parameters) = Scoped("SELECT i.metadata FROM instances i JOIN series se ON se.pk = i.series_pk JOIN studies st ON st.pk = se.study_pk", studyInstanceUid, seriesInstanceUid, sopInstanceUid);
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = SqliteDatabase.Command(connection, null, sql, parameters);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            yield return (byte[])reader.GetValue(0);
        }
    }

    public async Task<IReadOnlyList<string>> DeleteInstancesAsync(IReadOnlyCollection<string> sopInstanceUids, CancellationToken cancellationToken)
    {
        var keys = new List<string>();
        await WriteAsync(async (writer, cancellationToken) =>
        {
            foreach (var sopInstanceUid in sopInstanceUids)
            {
                if (await DeleteInstanceRowAsync(writer, sopInstanceUid, cancellationToken) is { } key)
                {
                    keys.Add(key);
                }
            }
        }, cancellationToken);
        return keys;
    }

    public Task<IReadOnlySet<string>> BlobKeysAsync(string prefix, CancellationToken cancellationToken) => prefix.Length == 0
        ? ReadKeysAsync("SELECT blob_key FROM instances", cancellationToken)
        // The keys are ASCII and compared bytewise: those with the prefix sort from the prefix up to its successor.
        : ReadKeysAsync("SELECT blob_key FROM instances WHERE blob_key >= $from AND blob_key < $to", cancellationToken,
            ("$from", prefix), ("$to", prefix[..^1] + (char)(prefix[^1] + 1)));

    public Task<IReadOnlySet<string>> FreedBlobKeysAsync(CancellationToken cancellationToken) =>
        ReadKeysAsync("SELECT blob_key FROM freed_blobs", cancellationToken);

    public Task ForgetFreedBlobsAsync(IReadOnlyCollection<string> keys, CancellationToken cancellationToken) =>
        keys.Count == 0 ? Task.CompletedTask : WriteAsync(async (writer, cancellationToken) =>
        {
            foreach (var key in keys)
            {
                await writer.ExecuteAsync("DELETE FROM freed_blobs WHERE blob_key = $key", cancellationToken, ("$key", key));
            }
        }, cancellationToken);

    private async Task<IReadOnlySet<string>> ReadKeysAsync(string sql, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return await FirstColumnAsync(connection, sql, cancellationToken, parameters);
    }

    public void Dispose()
    {
        foreach (var writer in writers)
        {
            writer?.Dispose();
        }

        writeLock.Dispose();
        database.Dispose();
    }

    /// <summary>Upper case without accents, for fuzzy person-name matching.</summary>
    internal static string? FuzzyName(string? name)
    {
        if (string.IsNullOrEmpty(name))
        {
            return null;
        }

        var decomposed = name.Normalize(NormalizationForm.FormD);
        var builder = new StringBuilder(decomposed.Length);
        foreach (var c in decomposed)
        {
            if (CharUnicodeInfo.GetUnicodeCategory(c) != UnicodeCategory.NonSpacingMark)
            {
                builder.Append(char.ToUpperInvariant(c));
            }
        }

        return builder.ToString().Normalize(NormalizationForm.FormC);
    }

    private const string InstanceSelect = """
        SELECT st.study_uid, se.series_uid, i.sop_uid, i.sop_class_uid, i.transfer_syntax_uid, i.blob_key, i.length
        FROM instances i JOIN series se ON se.pk = i.series_pk JOIN studies st ON st.pk = se.study_pk
        """;

    private const string InstanceBySopUid = $"{InstanceSelect} WHERE i.sop_uid = $uid";

    private static StoredInstance ReadStoredInstance(SqliteDataReader reader) =>
        new(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetString(4), reader.GetString(5), reader.GetInt64(6));

    /// <summary><paramref name="select"/> narrowed to a study, a series of it or an instance of that, in series and instance order.</summary>
    private static (string Sql, (string Name, object? Value)[] Parameters) Scoped(string select, string studyInstanceUid, string? seriesInstanceUid, string? sopInstanceUid)
    {
        var sql = new StringBuilder(select).Append(" WHERE st.study_uid = $study");
        var parameters = new List<(string Name, object? Value)> { ("$study", studyInstanceUid) };
        if (seriesInstanceUid is not null)
        {
            sql.Append(" AND se.series_uid = $series");
            parameters.Add(("$series", seriesInstanceUid));
        }

        if (sopInstanceUid is not null)
        {
            sql.Append(" AND i.sop_uid = $instance");
            parameters.Add(("$instance", sopInstanceUid));
        }

        return (sql.Append(" ORDER BY se.series_number, se.pk, i.instance_number, i.pk").ToString(), [.. parameters]);
    }

    /// <summary>
    /// The WHERE conditions of <paramref name="query"/>, with their parameters added to <paramref name="command"/>: the URL's
    /// scope, then each match key. Keys of a level below the query's match when one series (and one of its instances) of the
    /// result matches them all (relational matching).
    /// </summary>
    private static List<string> MatchConditions(QidoQuery query, SqliteCommand command)
    {
        var conditions = new List<string>();
        if (query.StudyInstanceUid is { } study)
        {
            conditions.Add("st.study_uid = $scope_study");
            command.Parameters.AddWithValue("$scope_study", study);
        }

        if (query.SeriesInstanceUid is { } series)
        {
            conditions.Add("se.series_uid = $scope_series");
            command.Parameters.AddWithValue("$scope_series", series);
        }

        var seriesConditions = new List<string>();
        var instanceConditions = new List<string>();
        List<string> ConditionsOf(QueryLevel level) => level <= query.Level ? conditions : level == QueryLevel.Series ? seriesConditions : instanceConditions;
        var combined = new HashSet<DicomTag>();
        foreach (var (dateTag, timeTag) in query.CombinedDateTimeMatching ? QueryAttributes.DateTimePairs : [])
        {
            var dateValue = query.Matches.FirstOrDefault(m => m.Tag == dateTag).Value;
            var timeValue = query.Matches.FirstOrDefault(m => m.Tag == timeTag).Value;
            if (dateValue is { } range && range.Contains('-') && timeValue is { Length: > 0 })
            {
                var (date, time) = (QueryAttributes.Find(dateTag)!, QueryAttributes.Find(timeTag)!);
                ConditionsOf(date.Level).Add(MatchCondition.BuildCombinedDateTime(date, range, time, timeValue, command));
                combined.UnionWith([dateTag, timeTag]);
            }
        }

        foreach (var (tag, value) in query.Matches)
        {
            if (value.Length == 0 || combined.Contains(tag))
            {
                continue;
            }

            var attribute = QueryAttributes.Find(tag) ?? throw new QueryException($"{tag} is not a matching key of this server.");
            ConditionsOf(attribute.Level).Add(MatchCondition.Build(attribute, value, query.FuzzyMatching, command));
        }

        foreach (var (sequenceTag, itemKeys) in query.SequenceMatches)
        {
            var sequence = QueryAttributes.Find(sequenceTag) is { ItemKeys: not null } found
                ? found
                : throw new QueryException($"{sequenceTag} is not a sequence this server matches in.");
            if (MatchCondition.BuildSequence(sequence, itemKeys, command) is { } condition)
            {
                ConditionsOf(sequence.Level).Add(condition);
            }
        }

        if (instanceConditions.Count > 0)
        {
            conditions.Add(query.Level == QueryLevel.Study
                ? $"EXISTS (SELECT 1 FROM series se JOIN instances i ON i.series_pk = se.pk WHERE se.study_pk = st.pk AND {string.Join(" AND ", seriesConditions.Concat(instanceConditions))})"
                : $"EXISTS (SELECT 1 FROM instances i WHERE i.series_pk = se.pk AND {string.Join(" AND ", instanceConditions)})");
        }
        else if (seriesConditions.Count > 0)
        {
            conditions.Add($"EXISTS (SELECT 1 FROM series se WHERE se.study_pk = st.pk AND {string.Join(" AND ", seriesConditions)})");
        }

        return conditions;
    }

    private static List<QueryAttribute> SelectedAttributes(QidoQuery query)
    {
        if (query.IncludeAll)
        {
            return [.. QueryAttributes.All.Where(a => a.Level <= query.Level)];
        }

        var selected = QueryAttributes.Defaults(query.Level).ToList();

        foreach (var tag in query.IncludeFields.Concat(query.Matches.Select(m => m.Tag)).Concat(query.SequenceMatches.Select(m => m.Sequence)))
        {
            if (QueryAttributes.Find(tag) is { } attribute && attribute.Level <= query.Level && !selected.Contains(attribute))
            {
                selected.Add(attribute);
            }
        }

        return selected;
    }

    /// <summary>
    /// The included attributes the index has no column for, returned from the stored metadata of an instance; null for
    /// every attribute an instance holds (includefield=all at instance level: at study and series level "all" means the
    /// index's attributes, since another instance's attributes are not the study's or the series').
    /// </summary>
    private static List<DicomTag>? StoredFields(QidoQuery query) => query.IncludeAll && query.Level == QueryLevel.Instance
        ? null
        : [.. query.IncludeFields.Where(tag => QueryAttributes.Find(tag) is null && tag != DicomTag.SpecificCharacterSet).Order()];

    /// <summary>
    /// Adds the attributes of <paramref name="tags"/> (null: every one the result lacks) that the instance's stored DICOM
    /// JSON holds (the first instance of the series or study the result is, by series and instance number), in UTF-8;
    /// binary values (bulk data or inline) are left to WADO-RS.
    /// </summary>
    private static void AddStoredValues(DicomDataset dataset, byte[] metadata, IReadOnlyList<DicomTag>? tags)
    {
        var bulkData = new HashSet<DicomTag>();
        var stored = Hounsfield.Dicom.Json.DicomJsonReader.Read(metadata, new Hounsfield.Dicom.Json.DicomJsonReadOptions
        {
            UnresolvedBulkData = reference => bulkData.Add(reference.Path.Parents.Count > 0 ? reference.Path.Parents[0].Tag : reference.Path.Tag),
        });
        var picked = new DicomDataset();
        if (stored.Find(DicomTag.SpecificCharacterSet) is { } characterSet)
        {
            picked.Add(characterSet);
        }

        var candidates = tags is null
            ? [.. stored.Where(element => element.Tag != DicomTag.SpecificCharacterSet && !element.Tag.IsGroupLength && !dataset.Contains(element.Tag))]
            : tags.Select(stored.Find).OfType<DicomElement>().ToList();
        foreach (var element in candidates)
        {
            if (!bulkData.Contains(element.Tag) && !element.VR.HasBinaryValue())
            {
                picked.Add(element);
            }
        }

        if (picked.TryReencode(["ISO_IR 192"]) is not { } utf8)
        {
            return; // the instance declares a character set we cannot read: its text stays unreturned
        }

        foreach (var element in utf8.Where(element => element.Tag != DicomTag.SpecificCharacterSet))
        {
            dataset.Add(element);
            if (!dataset.Contains(DicomTag.SpecificCharacterSet) && HasTextBeyondAscii(element))
            {
                dataset.AddOrUpdate(DicomTag.SpecificCharacterSet, DicomVR.CS, "ISO_IR 192");
            }
        }

        static bool HasTextBeyondAscii(DicomElement element) => element switch
        {
            DicomSequence sequence => sequence.Items.Any(item => item.Any(HasTextBeyondAscii)),
            DicomValueElement value => value.VR.UsesSpecificCharacterSet() && !System.Text.Ascii.IsValid(value.Span),
            _ => false,
        };
    }

    private static void AddValue(DicomDataset dataset, QueryAttribute attribute, object? value)
    {
        switch (value)
        {
            case null when attribute.VR == DicomVR.SQ:
                dataset.Add(new DicomSequence(attribute.Tag));
                break;
            case string json when attribute.VR == DicomVR.SQ:
                // Stored as DICOM JSON of a data set holding the sequence alone (InstanceRecord.RequestAttributes).
                dataset.DeclareUtf8IfNeeded(json);
                dataset.Add(Hounsfield.Dicom.Json.DicomJsonReader.Read(json).Find(attribute.Tag) ?? new DicomSequence(attribute.Tag));
                break;
            case null:
                dataset.Add(new DicomValueElement(attribute.Tag, attribute.VR, ReadOnlyMemory<byte>.Empty));
                break;
            case long number when attribute.VR == DicomVR.US:
                dataset.AddOrUpdate(attribute.Tag, DicomVR.US, (ushort)number);
                break;
            case long number:
                dataset.AddOrUpdate(attribute.Tag, attribute.VR, number.ToString(CultureInfo.InvariantCulture));
                break;
            case string text:
                dataset.DeclareUtf8IfNeeded(text);
                dataset.AddOrUpdate(attribute.Tag, attribute.VR, text);
                break;
        }
    }

    /// <summary>
    /// Removes an instance's row (a delete, or an overwrite) and records its blob key as freed, in a commit that reaches the
    /// disk: the blob's removal may not, and start-up must not recover a freed blob into the index. Returns that key, or
    /// null when no row has this SOP Instance UID.
    /// </summary>
    private static async Task<string?> DeleteInstanceRowAsync(IndexWriter writer, string sopInstanceUid, CancellationToken cancellationToken)
    {
        var find = writer.Command(
            "SELECT i.series_pk, se.study_pk, st.patient_pk, i.blob_key FROM instances i JOIN series se ON se.pk = i.series_pk JOIN studies st ON st.pk = se.study_pk WHERE i.sop_uid = $uid",
            ("$uid", sopInstanceUid));
        long seriesPk, studyPk, patientPk;
        string blobKey;
        await using (var reader = await find.ExecuteReaderAsync(cancellationToken))
        {
            if (!await reader.ReadAsync(cancellationToken))
            {
                return null;
            }

            (seriesPk, studyPk, patientPk, blobKey) = (reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetString(3));
        }

        if (!writer.Durable)
        {
            throw new DurableCommitRequiredException();
        }

        await writer.ExecuteAsync("INSERT INTO freed_blobs (blob_key) VALUES ($key) ON CONFLICT DO NOTHING", cancellationToken, ("$key", blobKey));
        await writer.ExecuteAsync("DELETE FROM instances WHERE sop_uid = $uid", cancellationToken, ("$uid", sopInstanceUid));
        await writer.ExecuteAsync("DELETE FROM series WHERE pk = $pk AND NOT EXISTS (SELECT 1 FROM instances WHERE series_pk = $pk)", cancellationToken, ("$pk", seriesPk));
        await DeleteEmptyParentsAsync(writer, studyPk, patientPk, cancellationToken);
        await writer.ExecuteAsync("UPDATE series SET instance_count = (SELECT count(*) FROM instances WHERE series_pk = $series) WHERE pk = $series", cancellationToken,
            ("$series", seriesPk));
        await RecountStudyAsync(writer, studyPk, cancellationToken);
        return blobKey;
    }

    /// <summary>Removes the study (when given) once it holds no series, then the patient once it holds no study.</summary>
    private static async Task DeleteEmptyParentsAsync(IndexWriter writer, long? study, long patient, CancellationToken cancellationToken)
    {
        if (study is { } studyPk)
        {
            await writer.ExecuteAsync("DELETE FROM studies WHERE pk = $pk AND NOT EXISTS (SELECT 1 FROM series WHERE study_pk = $pk)", cancellationToken, ("$pk", studyPk));
        }

        await writer.ExecuteAsync("DELETE FROM patients WHERE pk = $pk AND NOT EXISTS (SELECT 1 FROM studies WHERE patient_pk = $pk)", cancellationToken, ("$pk", patient));
    }

    private static Task RecountStudyAsync(IndexWriter writer, long studyPk, CancellationToken cancellationToken) =>
        writer.ExecuteAsync("""
            UPDATE studies SET series_count = (SELECT count(*) FROM series WHERE study_pk = $study),
                instance_count = (SELECT count(*) FROM instances i JOIN series se ON se.pk = i.series_pk WHERE se.study_pk = $study) WHERE pk = $study
            """, cancellationToken, ("$study", studyPk));

    private Task<SqliteConnection> OpenAsync(CancellationToken cancellationToken) => database.OpenAsync(cancellationToken);

    /// <summary>Whether the index holds instances but not yet the index on their blob keys (an index.db of an earlier version).</summary>
    private static async Task<bool> LacksBlobKeyIndexAsync(SqliteConnection connection, CancellationToken cancellationToken)
    {
        var names = await FirstColumnAsync(connection, "SELECT name FROM sqlite_master WHERE name IN ('instances', 'instances_blob_key')", cancellationToken);
        if (!names.Contains("instances") || names.Contains("instances_blob_key"))
        {
            return false;
        }

        await using var command = SqliteDatabase.Command(connection, null, "SELECT EXISTS (SELECT 1 FROM instances)");
        return (long)(await command.ExecuteScalarAsync(cancellationToken))! == 1;
    }

    /// <summary>The distinct text values of the first column of the rows of <paramref name="sql"/>.</summary>
    private static async Task<HashSet<string>> FirstColumnAsync(SqliteConnection connection, string sql, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        await using var command = SqliteDatabase.Command(connection, null, sql, parameters);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var values = new HashSet<string>(StringComparer.Ordinal);
        while (await reader.ReadAsync(cancellationToken))
        {
            values.Add(reader.GetString(0));
        }

        return values;
    }

    private static async Task ExecuteAsync(SqliteConnection connection, string sql, CancellationToken cancellationToken)
    {
        await using var command = SqliteDatabase.Command(connection, null, sql);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>Runs <paramref name="work"/> under the write lock in one durable transaction of the writer connection.</summary>
    private async Task WriteAsync(Func<IndexWriter, CancellationToken, Task> work, CancellationToken cancellationToken)
    {
        await writeLock.WaitAsync(cancellationToken);
        try
        {
            lastParents = null;
            await InWriterTransactionAsync(durable: true, work, cancellationToken);
        }
        finally
        {
            writeLock.Release();
        }
    }

    /// <summary>
    /// Runs <paramref name="work"/> in one transaction of a writer connection (the caller holds the write lock): the durable
    /// one, whose commits are on disk when they return, or the lazy one. Only these connections write; each is kept open
    /// with its statements prepared once (an ingest runs the same few statements every time). A failed transaction is
    /// rolled back and its connection reopened for the next.
    /// </summary>
    private async Task InWriterTransactionAsync(bool durable, Func<IndexWriter, CancellationToken, Task> work, CancellationToken cancellationToken)
    {
        var slot = durable ? 1 : 0;
        var writer = writers[slot] ??= await IndexWriter.OpenAsync(database, durable, cancellationToken);
        try
        {
            await writer.BeginAsync(cancellationToken);
            await work(writer, cancellationToken);
            await writer.CommitAsync(cancellationToken);
        }
        catch
        {
            lastParents = null;
            writer.Dispose();
            writers[slot] = null;
            throw;
        }
    }

    /// <summary>A row would be replaced (its blob freed) in a commit a power loss could undo.</summary>
    private sealed class DurableCommitRequiredException : Exception;

    /// <summary>The writer connection and its prepared statements, one per SQL text.</summary>
    private sealed class IndexWriter(PreparedStatements statements) : IDisposable
    {
        private SqliteTransaction? transaction;

        /// <summary>The transaction begun by <see cref="BeginAsync"/>.</summary>
        public SqliteTransaction Transaction => transaction ?? throw new InvalidOperationException("No transaction is open.");

        /// <summary>
        /// Whether commits are on disk when they return (synchronous=FULL: the WAL is flushed at each commit). A lazy writer
        /// (NORMAL) only adds instances whose blobs can rebuild their rows (<see cref="IArchiveIndex.AddInstanceAsync"/>):
        /// its commits stay in the WAL until a durable commit or a checkpoint flushes them with everything before (a WAL is
        /// never reordered).
        /// </summary>
        public bool Durable { get; private init; }

        public static async Task<IndexWriter> OpenAsync(SqliteDatabase database, bool durable, CancellationToken cancellationToken)
        {
            var connection = await database.OpenAsync(cancellationToken);
            try
            {
                // Set on every open: the connection may come from the pool with the other setting.
                await SqliteArchiveIndex.ExecuteAsync(connection, durable ? "PRAGMA synchronous=FULL;" : "PRAGMA synchronous=NORMAL;", cancellationToken);
                return new IndexWriter(new PreparedStatements(connection)) { Durable = durable };
            }
            catch
            {
                await connection.DisposeAsync();
                throw;
            }
        }

        public async Task BeginAsync(CancellationToken cancellationToken) =>
            transaction = (SqliteTransaction)await statements.Connection.BeginTransactionAsync(cancellationToken);

        public async Task CommitAsync(CancellationToken cancellationToken)
        {
            await transaction!.CommitAsync(cancellationToken);
            transaction.Dispose();
            transaction = null;
        }

        /// <summary>The prepared statement of <paramref name="sql"/> in the current transaction, with these parameter values (null: SQL NULL).</summary>
        public SqliteCommand Command(string sql, params (string Name, object? Value)[] parameters) =>
            statements.Prepare(sql, transaction, parameters);

        public Task<int> ExecuteAsync(string sql, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters) =>
            Command(sql, parameters).ExecuteNonQueryAsync(cancellationToken);

        public async Task<long> ScalarAsync(string sql, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters) =>
            (long)(await Command(sql, parameters).ExecuteScalarAsync(cancellationToken))!;

        /// <summary>The integer of the first row's first column, or null when there is no row.</summary>
        public async Task<long?> OptionalScalarAsync(string sql, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters) =>
            await Command(sql, parameters).ExecuteScalarAsync(cancellationToken) as long?;

        /// <summary>
        /// The key <paramref name="upsert"/> returns, or, when its update's condition left the row as it was (no row
        /// returned), the key <paramref name="select"/> finds; both take the same parameters.
        /// </summary>
        public async Task<long> UpsertAsync(string upsert, string select, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters) =>
            await Command(upsert, parameters).ExecuteScalarAsync(cancellationToken) is long key
                ? key
                : (long)(await Command(select, parameters).ExecuteScalarAsync(cancellationToken))!;

        public void Dispose()
        {
            transaction?.Dispose();
            statements.Dispose();
        }
    }
}
