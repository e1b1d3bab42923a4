using System.Security.Claims;
using System.Text.Json;
using Hounsfield.Server.Accounts;
using Hounsfield.Server.Developer;
using Microsoft.AspNetCore.Http;

namespace Hounsfield.Server.Tests;

/// <summary>The monthly quota against a real SQLite file: exact at the limit, atomic under concurrency, shared by stores (nodes) on one file.</summary>
public sealed class AccountsQuotaTests : IDisposable
{
    private const string ReadPath = "/api/dicom/read/file/";
    private static readonly DateTimeOffset November = new(2026, 11, 22, 10, 0, 0, TimeSpan.Zero);

    private readonly DirectoryInfo folder = Directory.CreateTempSubdirectory("hounsfield-quota-");

    private string DatabasePath => Path.Combine(folder.FullName, "index.db");

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        folder.Delete(recursive: true);
    }

    [CorpusFact]
    public async Task Over_http_concurrent_calls_at_the_quota_edge_never_overshoot_and_a_refused_call_does_no_work()
    {
        const int quota = 20;
        await using var server = await ServerProcess.StartAsync(new ServerStart { Arguments = ["--Developer:MonthlyQuota", $"{quota}"] });
        try
        {
            using var developer = server.ClientWith("Bearer", await DeveloperServicesServerTests.DeveloperAccessTokenAsync(server.Anonymous));
            var dicom = File.ReadAllBytes(Corpus.Get("evrle_ct_small").Path);

            var responses = await Task.WhenAll(Enumerable.Range(0, 50).Select(async _ =>
            {
                using var form = new System.Net.Http.MultipartFormDataContent { { new System.Net.Http.ByteArrayContent(dicom), "file", "ct.dcm" } };
                using var response = await developer.PostAsync(ReadPath, form);
                return (int)response.StatusCode;
            }));
            Assert.Equal(quota, responses.Count(status => status == 200));
            Assert.Equal(50 - quota, responses.Count(status => status == 429));

            // Not DICOM: doing the work would answer 400; over quota the answer is 429, so the check came first.
            using var junk = new System.Net.Http.MultipartFormDataContent { { new System.Net.Http.ByteArrayContent("not a DICOM file"u8.ToArray()), "file", "junk.dcm" } };
            using var refused = await developer.PostAsync(ReadPath, junk);
            Assert.Equal(429, (int)refused.StatusCode);
            var body = JsonDocument.Parse(await refused.Content.ReadAsStringAsync()).RootElement;
            Assert.Equal($"Monthly API request for '{ReadPath}' limit exceeded.", body.GetProperty("error").GetString());
            Assert.Equal(quota, body.GetProperty("quota").GetInt32());
            Assert.True(body.GetProperty("requests_used").GetInt32() > quota);

            var summary = JsonDocument.Parse(await developer.GetStringAsync("/api/developer/profiles/activity-summary/")).RootElement;
            Assert.Equal(quota, summary.GetProperty("monthly_total").GetInt64());
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            await server.DeleteDataAsync();
        }
    }

    [Fact]
    public async Task A_thousand_calls_pass_and_the_1001st_is_refused_with_the_documented_counts()
    {
        var store = await NewStoreAsync();
        var developer = await NewDeveloperAsync(store, "a@example.com");

        for (var i = 1; i <= 1000; i++)
        {
            var decision = await store.TryConsumeAsync(developer, ReadPath, 1000, November, CancellationToken.None);
            Assert.True(decision.Allowed, $"call {i}");
            Assert.Equal(i, decision.RequestsUsed);
        }

        var refused = await store.TryConsumeAsync(developer, ReadPath, 1000, November, CancellationToken.None);
        var again = await store.TryConsumeAsync(developer, ReadPath, 1000, November.AddDays(1), CancellationToken.None);

        Assert.Equal(new QuotaDecision(false, 1000, 1001), refused);
        Assert.Equal(new QuotaDecision(false, 1000, 1002), again);
        Assert.Equal([new DailyActivity("2026-11-22", 1000)], await store.GetDailyActivityAsync(developer, 2026, 11, CancellationToken.None));
        Assert.True((await store.TryConsumeAsync(developer, "/api/dicom/generate/", 1000, November, CancellationToken.None)).Allowed);
        Assert.True((await store.TryConsumeAsync(developer, ReadPath, 1000, new DateTimeOffset(2026, 12, 1, 0, 0, 0, TimeSpan.Zero), CancellationToken.None)).Allowed);
    }

    [Fact]
    public async Task Fifty_concurrent_calls_at_the_edge_from_two_stores_on_one_file_never_overshoot()
    {
        var first = await NewStoreAsync();
        var second = new SqliteAccountStore(DatabasePath);
        var developer = await NewDeveloperAsync(first, "b@example.com");
        for (var i = 0; i < 980; i++)
        {
            Assert.True((await first.TryConsumeAsync(developer, ReadPath, 1000, November, CancellationToken.None)).Allowed);
        }

        // Fifty threads of their own, released at once, so that the calls truly overlap.
        using var start = new ManualResetEventSlim();
        var calls = Enumerable.Range(0, 50).Select(i => Task.Factory.StartNew(() =>
        {
            start.Wait();
            return (i % 2 == 0 ? first : second).TryConsumeAsync(developer, ReadPath, 1000, November, CancellationToken.None).GetAwaiter().GetResult();
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default)).ToArray();
        start.Set();
        var decisions = await Task.WhenAll(calls);

        Assert.Equal(20, decisions.Count(d => d.Allowed));
        Assert.Equal(Enumerable.Range(981, 50).Select(n => (long)n), decisions.Select(d => d.RequestsUsed).Order());
        Assert.All(decisions.Where(d => d.Allowed), d => Assert.True(d.RequestsUsed <= 1000));
        Assert.Equal(1000, (await second.GetDailyActivityAsync(developer, 2026, 11, CancellationToken.None)).Sum(d => d.Count));
    }

    [Fact]
    public async Task A_profile_quota_overrides_the_server_default()
    {
        var store = await NewStoreAsync();
        var developer = await NewDeveloperAsync(store, "c@example.com");
        await store.SetProfileQuotaAsync(developer, 3, CancellationToken.None);

        var decisions = new List<QuotaDecision>();
        for (var i = 0; i < 4; i++)
        {
            decisions.Add(await store.TryConsumeAsync(developer, ReadPath, 1000, November, CancellationToken.None));
        }

        Assert.Equal([true, true, true, false], decisions.Select(d => d.Allowed));
        Assert.Equal(new QuotaDecision(false, 3, 4), decisions[^1]);
    }

    [Fact]
    public async Task The_middleware_meters_any_endpoint_marked_metered_before_it_runs_and_answers_429_in_the_documented_shape()
    {
        var store = await NewStoreAsync();
        var developer = await NewDeveloperAsync(store, "d@example.com");
        var middlewareRuns = 0;
        var middleware = new QuotaMiddleware(_ => { middlewareRuns++; return Task.CompletedTask; },
            new QuotaMeter(store, new QuotaOptions { MonthlyQuota = 2 }, TimeProvider.System));

        var statuses = new List<int>();
        string body = string.Empty;
        for (var i = 0; i < 3; i++)
        {
            var context = Context(developer, isDeveloper: true, new MeteredEndpoint(ReadPath));
            await middleware.InvokeAsync(context);
            statuses.Add(context.Response.StatusCode);
            body = BodyOf(context);
        }

        var unmetered = Context(developer, isDeveloper: false);
        await middleware.InvokeAsync(unmetered);
        var meteredWithoutProfile = Context(developer, isDeveloper: false, new MeteredEndpoint(ReadPath));
        await middleware.InvokeAsync(meteredWithoutProfile);

        Assert.Equal([200, 200, 429], statuses);
        Assert.Equal(3, middlewareRuns); // two metered calls and the unmetered one; neither refusal reached the endpoint
        var error = JsonDocument.Parse(body).RootElement;
        Assert.Equal($"Monthly API request for '{ReadPath}' limit exceeded.", error.GetProperty("error").GetString());
        Assert.Equal(2, error.GetProperty("quota").GetInt32());
        Assert.Equal(3, error.GetProperty("requests_used").GetInt64());
        Assert.Equal(403, meteredWithoutProfile.Response.StatusCode);
    }

    private async Task<SqliteAccountStore> NewStoreAsync()
    {
        var store = new SqliteAccountStore(DatabasePath);
        await store.InitializeAsync(CancellationToken.None);
        return store;
    }

    private static async Task<long> NewDeveloperAsync(SqliteAccountStore store, string email)
    {
        var id = (await store.CreateUserAsync(new NewAccount(email, "Dev", "Eloper", "not-a-real-hash", "none"), November, CancellationToken.None))!.Value;
        await store.SaveProfileAsync(id, "testing", null, November, CancellationToken.None);
        return id;
    }

    private static DefaultHttpContext Context(long userId, bool isDeveloper, params object[] metadata)
    {
        var claims = new List<Claim> { new(ClaimTypes.NameIdentifier, userId.ToString(System.Globalization.CultureInfo.InvariantCulture)) };
        if (isDeveloper)
        {
            claims.Add(new Claim(AccountClaims.Developer, "true"));
        }

        var context = new DefaultHttpContext { User = new ClaimsPrincipal(new ClaimsIdentity(claims, "test")) };
        context.Response.Body = new MemoryStream();
        context.SetEndpoint(new Endpoint(_ => Task.CompletedTask, new EndpointMetadataCollection(metadata), "test endpoint"));
        return context;
    }

    private static string BodyOf(HttpContext context) => System.Text.Encoding.UTF8.GetString(((MemoryStream)context.Response.Body).ToArray());
}
