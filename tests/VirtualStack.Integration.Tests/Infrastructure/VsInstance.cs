using System.Globalization;
using System.Text.Json;

namespace VirtualStack.Integration.Tests.Infrastructure;

/// <summary>
/// One <c>vs run</c> daemon in the edge namespace of a topology, driven the way a user drives it.
/// </summary>
/// <remarks>
/// The contract with the host (design.md section 5 plus what these tests need):
/// <list type="bullet">
/// <item><c>vs run --config FILE [--Key:Path=value ...]</c> prints exactly one stdout line starting with
/// <c>vs: ready</c> once the TUN, its addresses, routes and rules and the pipeline are up;</item>
/// <item>on SIGTERM or SIGINT it removes everything it made and exits 0;</item>
/// <item>bad configuration: exit 2 before touching the system, with a message naming the key;</item>
/// <item><c>vs status --json --socket PATH</c> answers with a JSON document that holds a <c>drops</c> object of
/// counters keyed by DropReason name.</item>
/// </list>
/// </remarks>
internal sealed class VsInstance : IAsyncDisposable
{
    public const string ReadyPrefix = "vs: ready";

    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(45);
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(15);
    private static int _counter;

    private readonly string _directory;

    private VsInstance(NetnsTopology topology, VsConfig config, string directory, NsProcess process)
    {
        Topology = topology;
        Config = config;
        _directory = directory;
        Process = process;
    }

    public NetnsTopology Topology { get; }

    public VsConfig Config { get; }

    public NsProcess Process { get; }

    public string ConfigPath => Path.Combine(_directory, "vs.json");

    public string ManagementSocket => Config.ManagementSocket;

    /// <summary>The readiness line vs printed.</summary>
    public string ReadyLine { get; private set; } = "";

    /// <summary>
    /// Writes <paramref name="config"/> to a private temporary file, runs <c>vs run --config FILE</c> (plus
    /// <paramref name="extraArgs"/>) in the edge namespace and waits for <c>vs: ready</c>. Fails with vs's exit
    /// code and output when it exits first.
    /// </summary>
    public static async Task<VsInstance> StartAsync(NetnsTopology topology, VsConfig config, params string[] extraArgs)
    {
        var directory = Path.Combine(Path.GetTempPath(), string.Create(CultureInfo.InvariantCulture,
            $"vs-integ-{topology.Id}-{Interlocked.Increment(ref _counter)}"));
        Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        config.ManagementSocket = Path.Combine(directory, "vs.sock");
        var configPath = Path.Combine(directory, "vs.json");
        await File.WriteAllTextAsync(configPath, config.ToJson().ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        topology.Log?.Invoke($"vs config {configPath}:\n{await File.ReadAllTextAsync(configPath)}");

        var process = topology.Track(NsProcess.Start(
            topology.Edge, VsExecutable.Path, ["run", "--config", configPath, .. extraArgs], topology.Log, VsExecutable.Environment()));
        var instance = new VsInstance(topology, config, directory, process);
        try
        {
            instance.ReadyLine = await process.WaitForLineAsync(
                l => l.StartsWith(ReadyPrefix, StringComparison.Ordinal), ReadyTimeout, $"'{ReadyPrefix}'", "out");
            return instance;
        }
        catch
        {
            await instance.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Stops vs with <paramref name="signal"/> (SIGTERM by default) and checks it exits 0 within 15 s, having
    /// printed exactly one readiness line. Kills it by pid when it does not exit.
    /// </summary>
    public async Task StopAsync(int signal = LibC.SigTerm)
    {
        if (Process.HasExited)
        {
            throw new InvalidOperationException($"vs exited with {Process.ExitCode} before it was stopped.\n{Process.Output()}");
        }

        Process.Signal(signal);
        int code;
        try
        {
            code = await Process.WaitForExitAsync(StopTimeout);
        }
        catch (TimeoutException)
        {
            Process.KillNow();
            throw new TimeoutException($"vs did not exit within {StopTimeout.TotalSeconds} s of signal {signal}; killed.\n{Process.Output()}");
        }

        if (code != 0)
        {
            throw new InvalidOperationException($"vs exited with {code} after signal {signal}, expected 0.\n{Process.Output()}");
        }

        var ready = Process.StdOut.Count(l => l.StartsWith(ReadyPrefix, StringComparison.Ordinal));
        if (ready != 1)
        {
            throw new InvalidOperationException($"vs printed {ready} '{ReadyPrefix}' lines, expected exactly one.\n{Process.Output()}");
        }
    }

    /// <summary>Runs <c>vs status --json --socket PATH</c> and parses its answer.</summary>
    public async Task<JsonDocument> StatusAsync()
    {
        var r = await RunCommandAsync(null, "status", "--json", "--socket", ManagementSocket);
        if (!r.Ok)
        {
            throw new InvalidOperationException($"vs status: {r}\n{Process.Output()}");
        }

        try
        {
            return JsonDocument.Parse(r.StdOut);
        }
        catch (JsonException e)
        {
            throw new InvalidOperationException($"vs status --json printed no JSON ({e.Message}):\n{r.StdOut}", e);
        }
    }

    /// <summary>Runs a short <c>vs</c> command to completion, in <paramref name="ns"/> or the test's namespace.</summary>
    public static Task<CmdResult> RunCommandAsync(string? ns, params string[] args) =>
        ns is null
            ? Cmd.RunAsync(VsExecutable.Path, args, TimeSpan.FromSeconds(60), environment: VsExecutable.Environment())
            : Cmd.RunAsync("ip", ["netns", "exec", ns, VsExecutable.Path, .. args], TimeSpan.FromSeconds(60),
                environment: VsExecutable.Environment());

    public async ValueTask DisposeAsync()
    {
        if (!Process.HasExited)
        {
            try
            {
                Process.Signal(LibC.SigTerm);
                await Process.WaitForExitAsync(StopTimeout);
            }
            catch (Exception e) when (e is TimeoutException or InvalidOperationException)
            {
                // Stop failures are reported by StopAsync; here only make sure it is gone.
            }
        }

        await Process.DisposeAsync();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
            // A socket file vs still holds: the temp directory is unique, leaving it is harmless.
        }
    }
}
